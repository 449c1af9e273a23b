//! The rules: from what a connection showed (TCP events, hellos, certificates, alerts,
//! encrypted records) and what the capture shows about its server, to one verdict.
//!
//! The code names the root cause — the earliest link in the causal chain the packets
//! support — following the precedence of the catalog: TCP-level failures, non-TLS
//! peers, SNI problems, certificate problems, version, negotiation (cipher, ALPN, client
//! certificate), then the generic codes. Every rule that fires cites the packets.

pub mod detail;
mod named;
pub mod profile;
pub mod quic;
mod rules;
pub mod verdict;
pub mod warning;

pub use detail::Detail;
pub use profile::{Profiles, ServerProfile};
pub use rules::{handshake_completed, is_encrypted_alert_len, negotiated_tls13};
pub use verdict::{Code, Finding, Fix, Proof, Side, Verdict};
pub use warning::{warnings_of, Warning};

use crate::capture::Timestamp;
use crate::connection::Connection;
use crate::flow::Dir;
use crate::tls::facts::AlertFacts;

/// Ports whose connections count as TLS attempts even when no ClientHello is seen.
pub const WELL_KNOWN_TLS_PORTS: &[u16] = &[
    443, 465, 563, 636, 853, 989, 990, 991, 992, 993, 994, 995, 4433, 5061, 5223, 6443, 6697, 8443,
    8883, 9443, 10443,
];

/// Settings that shape the diagnosis.
#[derive(Clone, Debug)]
pub struct Settings {
    /// TLS ports: the well-known ones plus any given with `--port`.
    pub tls_ports: Vec<u16>,
    /// Silence after a ClientHello (or a SYN) longer than this is a timeout, in seconds.
    pub response_timeout: f64,
    /// Bounds on memory and work (the flow idle timeout bounds the silence a capture
    /// can show).
    pub limits: crate::limits::Limits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tls_ports: WELL_KNOWN_TLS_PORTS.to_vec(),
            response_timeout: 3.0,
            limits: crate::limits::Limits::default(),
        }
    }
}

/// What a verdict was drawn from beyond the connection's own packets. A verdict that
/// read neither is final the moment the connection ends; the streaming engine holds the
/// others back until what they read is known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    /// The server's profile (what other connections of the capture show), or the
    /// client's other connections (an unanswered QUIC attempt: whether it fell back to
    /// TCP).
    pub profile: bool,
    /// How long the capture went on after the connection (the timeout codes).
    pub end: bool,
}

/// The end of the capture as a connection's diagnosis sees it: a connection idle for
/// the flow idle timeout is over, so the capture cannot show more than that much
/// silence after it. The same for whole-capture and streaming analysis.
pub fn horizon(conn: &Connection, settings: &Settings, capture_end: Timestamp) -> Timestamp {
    let idle = settings.limits.flow_idle_ns();
    Timestamp(capture_end.0.min(conn.last.ts.0.saturating_add(idle)))
}

/// Diagnoses one connection, or `None` when it is not a TLS attempt. The verdict says
/// what beyond the connection it read ([`Verdict::reads`]).
pub fn diagnose(
    conn: &Connection,
    profiles: &Profiles,
    settings: &Settings,
    capture_end: Timestamp,
) -> Option<Verdict> {
    let capture_end = horizon(conn, settings, capture_end);
    let cx = rules::Ctx {
        conn,
        facts: &conn.tls().facts,
        server_profile: profiles.get(conn.server, conn.tunnel),
        settings,
        end: capture_end,
        reads: Default::default(),
    };
    // A ClientHello (whole, or its start cut by the snap length) or a ServerHello on any
    // port, or a connection to a TLS port that started (SYN) or carried data: bare ACKs
    // and FINs of a connection seen from its middle are not one.
    let t = &conn.tcp;
    let is_attempt = cx.facts.client_hello.is_some()
        || cx.facts.server_hello.is_some()
        || cx.facts.client_hello_cut()
        || settings.tls_ports.contains(&conn.server.port())
            && (t.syn.is_some() || t.syn_ack.is_some() || t.payload_bytes.iter().any(|&b| b > 0));
    if !is_attempt || rules::another_protocol(&cx) || rules::port_probe(&cx) {
        return None;
    }
    let mut verdict = cx.verdict();
    if let Some(limit) = conn.evicted() {
        // Closed early by a limit: only an outcome already decided stands.
        let decided = cx.facts.alerts.iter().any(AlertFacts::is_fatal)
            || matches!(verdict.code, Code::Ok | Code::ConnectionRefused);
        if decided {
            verdict.details.push(Detail::Limit {
                limit: limit.to_string(),
                decided: true,
            });
        } else {
            // Only the first piece of evidence is kept (it cites a packet), so nothing
            // beyond the connection was read.
            let first = verdict.details.into_iter().next();
            verdict = Verdict::new(
                Finding::LimitReached,
                first
                    .into_iter()
                    .chain([Detail::Limit {
                        limit: limit.to_string(),
                        decided: false,
                    }])
                    .collect(),
                Fix::RaiseLimit,
            );
            cx.reads.set(Reads::default());
        }
    }
    for dir in [Dir::ToServer, Dir::ToClient] {
        let count = conn.tcp.conflicting_overlaps[dir.index()];
        if count > 0 {
            verdict
                .details
                .push(Detail::ConflictingOverlaps { from: dir, count });
        }
    }
    detail::order(&mut verdict.details);
    verdict.reads = cx.reads.get();
    if cx.facts.decryption == crate::tls::facts::Decryption::Opened {
        verdict.proof = Proof::Decrypted;
    }
    Some(verdict)
}
