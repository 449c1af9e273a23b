//! The limits that keep memory and work bounded on any input, hostile or broken. Each
//! is a setting (CLI flags `--max-…`), and reaching one never drops a connection
//! silently: the connection affected is reported, as `incomplete_capture` unless its
//! outcome was already decided, with the limit named in the evidence.

use std::time::Duration;

/// Bounds on what one run keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections tracked at once. Past it, the least recently active quarter of the
    /// table is closed and reported (`incomplete_capture`, "flow table limit").
    pub max_flows: usize,
    /// Out-of-order segments buffered per direction while a hole waits to be filled;
    /// past it (or past `max_pending_bytes`) the hole is declared lost.
    pub max_pending_segments: usize,
    pub max_pending_bytes: usize,
    /// Largest handshake message reassembled (a certificate chain is one message).
    pub max_handshake_message: usize,
    /// Certificates of a chain that are parsed and kept.
    pub max_chain: usize,
    /// TLS records examined per direction before the outcome must be known.
    pub max_records: u64,
    /// A connection silent this long (in capture time) is over: it is diagnosed and
    /// freed, and a later packet with its addresses starts a new connection. Also the
    /// most silence a timeout verdict can cite.
    pub flow_idle_timeout: Duration,
}

impl Limits {
    /// [`Limits::flow_idle_timeout`] in nanoseconds of capture time.
    pub fn flow_idle_ns(&self) -> i64 {
        self.flow_idle_timeout.as_nanos().min(i64::MAX as u128) as i64
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_flows: 100_000,
            max_pending_segments: 64,
            max_pending_bytes: 512 * 1024,
            max_handshake_message: 1024 * 1024,
            max_chain: 10,
            max_records: 10_000,
            flow_idle_timeout: Duration::from_secs(300),
        }
    }
}
