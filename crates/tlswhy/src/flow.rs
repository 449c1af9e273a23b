//! The flow table and TCP: which side is the client, SYN/SYN-ACK/FIN/RST and who sent
//! them, and per-direction reassembly that hands the layer above its bytes in order.
//! That layer (the TLS conversation) is known here only as an [`Application`]: the flow
//! layer knows nothing of TLS, and `crate::connection` composes the two.
//!
//! Reassembly keeps at most [`Limits::max_pending_segments`] out-of-order segments (and
//! [`Limits::max_pending_bytes`]) per direction. A hole that the other side's ACK proves was
//! delivered, or that outlives those caps or the connection, is a *lost segment*: the
//! stream skips it and the TLS layer stops trusting that direction, so the verdict becomes
//! `incomplete_capture` rather than a guess.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr, SocketAddrV4};

use serde::Serialize;

use crate::capture::Timestamp;
pub use crate::decode::{key_of, FlowKey};
use crate::decode::{TcpSegment, Tunnel};
use crate::limits::Limits;

mod reassembly;

use reassembly::{Piece, Reassembler};

/// Where something was seen: frame number and capture time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct At {
    pub frame: u64,
    #[serde(serialize_with = "ser_ts")]
    pub ts: Timestamp,
}

/// Seconds without an answer after which a client that closes gave up waiting for one
/// (TCP: `no_response_timeout`; QUIC: `udp_blocked`), rather than aborting. The TCP
/// rules and QUIC's outcome share it.
pub const CLIENT_GAVE_UP_WAITING_SECS: f64 = 1.0;

/// A peer's reaction arrives within two round trips (`rtt` seconds each) and a quarter
/// second of what it reacts to; later, it came after an idle pause. The one definition
/// the TCP rules and QUIC's outcome share.
pub fn within_reaction_time(what: Timestamp, later: Timestamp, rtt: f64) -> bool {
    later.secs_since(what) <= 2.0 * rtt + 0.25
}

fn ser_ts<S: serde::Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(ts.as_secs_f64_micros())
}

/// Direction of a segment relative to the TCP client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    ToServer,
    ToClient,
}

impl Serialize for Dir {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.sender())
    }
}

impl Dir {
    pub fn index(self) -> usize {
        match self {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        }
    }

    pub fn opposite(self) -> Dir {
        match self {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        }
    }

    /// Who sends in this direction: `client` or `server`.
    pub fn sender(self) -> &'static str {
        match self {
            Dir::ToServer => "client",
            Dir::ToClient => "server",
        }
    }
}

/// How long a closed connection stays in the table after its last packet (capture time).
const LINGER_NS: i64 = 2_000_000_000;

/// What TCP showed about a connection. Arrays are indexed by [`Dir::index`]
/// (0: sent by the client, 1: sent by the server).
#[derive(Clone, Debug, Default, Serialize)]
pub struct TcpFacts {
    /// The client's first SYN.
    pub syn: Option<At>,
    pub syn_count: u32,
    pub syn_ack: Option<At>,
    pub fin: [Option<At>; 2],
    pub rst: [Option<At>; 2],
    pub packets: [u64; 2],
    pub payload_bytes: [u64; 2],
    /// First payload byte per direction.
    pub first_payload: [Option<At>; 2],
    /// The first segment of each direction that the capture lost (skipped hole).
    pub lost_segment: [Option<At>; 2],
    /// Client and server were told apart by ports, not by a SYN.
    pub roles_guessed: bool,
    /// Overlapping retransmissions that carried different bytes, per direction.
    pub conflicting_overlaps: [u32; 2],
}

impl TcpFacts {
    /// Side `d`'s reset, when it closed with one: no FIN before it. A segment that
    /// carries both flags is a reset (a receiver checks RST first and aborts); a reset
    /// after the side's FIN is its kernel answering the peer's later bytes.
    pub fn reset_first(&self, d: usize) -> Option<At> {
        self.rst[d].filter(|rst| self.fin[d].is_none_or(|fin| *rst <= fin))
    }
}

/// What reads a connection's reassembled bytes, in order, per direction: the layer
/// above TCP. Made when the first payload byte arrives.
pub trait Application: Default {
    /// What every reader of one table is made with besides the limits (for TLS: where
    /// keys come from). Cloned into each connection.
    type Setup: Clone + Default + std::fmt::Debug;
    /// A reader bounded by `limits`.
    fn with_limits(limits: &Limits, setup: &Self::Setup) -> Self;
    /// The next bytes of `dir`'s stream, seen at `at`.
    fn on_bytes(&mut self, dir: Dir, data: &[u8], at: At);
    /// `dir`'s stream cannot be followed past this point.
    fn lose(&mut self, dir: Dir, at: At, reason: String);
    /// The connection ended: nothing more will come.
    fn settle(&mut self);
    /// [`Application::settle`] was called, or the outcome is known.
    fn is_settled(&self) -> bool;
    /// These first bytes open a conversation (a client speaks first): they tell the
    /// client from the server when the SYN was not captured.
    fn opens_conversation(bytes: &[u8]) -> bool;
    /// Copies what is kept to exact-size allocations (the connection waits for its
    /// verdict).
    fn trim(&mut self);
}

/// One TCP connection and what it carried; `A` reads its bytes.
#[derive(Debug)]
pub struct Connection<A: Application> {
    /// Order in which connections started in the capture.
    pub id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// The tenant of the tunnels its packets came through ([`Tunnel::NONE`] when
    /// untunnelled): two tenants may reuse the same addresses.
    pub tunnel: Tunnel,
    pub first: At,
    pub last: At,
    pub tcp: TcpFacts,
    /// The layer above, made when the first payload byte arrives (most connections of
    /// a SYN flood or a port scan never need one).
    app: Option<Box<A>>,
    limits: Limits,
    setup: A::Setup,
    reassembly: [Reassembler; 2],
    /// The acknowledgement number of each side's last ACK (of the other's stream);
    /// the server's is known once its SYN-ACK was seen.
    last_ack: [u32; 2],
    client_isn: Option<u32>,
    /// Nothing was handed to the TLS layer yet (roles may still be swapped).
    untouched: bool,
    /// Streaming: its verdict has been handed out.
    pub reported: bool,
    /// What few connections have, kept out of line so that every connection carries a
    /// pointer only ([`Rare`]).
    pub rare: Option<Box<Rare>>,
}

/// The facts of a connection that few connections have.
#[derive(Debug, Default)]
pub struct Rare {
    /// Closed early because a limit was reached (which one).
    pub evicted: Option<String>,
    /// A QUIC attempt of the same client to the same server and port went unanswered
    /// before this connection: where it started (the client fell back to TCP).
    pub fallback_from_quic: Option<At>,
    /// Sequence number of a side's first FIN or reset when it was not the next byte
    /// expected of that side when it came (bytes lost, or still to come reordered).
    pub close_seq: [Option<u32>; 2],
}

impl<A: Application> Connection<A> {
    /// Why the connection was closed early, when a limit did.
    pub fn evicted(&self) -> Option<&str> {
        self.rare.as_ref().and_then(|r| r.evicted.as_deref())
    }

    /// Where the unanswered QUIC attempt this connection fell back from started.
    pub fn fallback_from_quic(&self) -> Option<At> {
        self.rare.as_ref().and_then(|r| r.fallback_from_quic)
    }

    /// The rare facts, made on first use.
    pub fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }
    fn new(
        id: u64,
        client: SocketAddr,
        server: SocketAddr,
        at: At,
        roles_guessed: bool,
        limits: &Limits,
        setup: &A::Setup,
    ) -> Connection<A> {
        Connection {
            id,
            client,
            server,
            tunnel: Tunnel::NONE,
            first: at,
            last: at,
            tcp: TcpFacts {
                roles_guessed,
                ..Default::default()
            },
            app: None,
            limits: *limits,
            setup: setup.clone(),
            reassembly: [Reassembler::new(limits), Reassembler::new(limits)],
            last_ack: [0; 2],
            client_isn: None,
            untouched: true,
            reported: false,
            rare: None,
        }
    }

    /// A connection made from facts alone, for tests of the layers above.
    #[cfg(test)]
    pub(crate) fn for_test(client: SocketAddr, server: SocketAddr, at: At) -> Connection<A> {
        Connection::new(
            0,
            client,
            server,
            at,
            false,
            &Limits::default(),
            &A::Setup::default(),
        )
    }

    /// For tests of the layers above: 1,000 client bytes read, the server's last ACK
    /// `short` of their end.
    #[cfg(test)]
    pub(crate) fn server_acknowledged_short_of_the_end(&mut self, short: u32) {
        let r = &mut self.reassembly[0];
        r.start_at(1001);
        r.push(1001, &[0; 1000], &mut |_| {});
        self.last_ack[1] = 2001 - short;
    }

    /// The layer above, if any byte arrived.
    pub fn app(&self) -> Option<&A> {
        self.app.as_deref()
    }

    /// The layer above, made on first use.
    pub fn app_mut(&mut self) -> &mut A {
        application(&mut self.app, &self.limits, &self.setup)
    }

    /// A finished connection (see [`Connection::finish`], which already freed its
    /// reading buffers) whose verdict waits for more of the capture (its server's
    /// profile, or how long the capture goes on): trims what it keeps to size and moves
    /// it to the heap, so the many that may wait to the end of the capture cost what
    /// their facts need and no more.
    pub fn into_held(mut self) -> Box<Connection<A>> {
        debug_assert!(
            self.reassembly.iter().all(|r| !r.has_pending())
                && self.app.as_ref().is_none_or(|a| a.is_settled()),
            "held before it was finished"
        );
        if let Some(app) = &mut self.app {
            app.trim();
        }
        Box::new(self)
    }

    /// True when both sides closed, or either reset.
    pub fn is_closed(&self) -> bool {
        self.tcp.rst.iter().any(Option::is_some) || self.tcp.fin.iter().all(Option::is_some)
    }

    fn swap_roles(&mut self) {
        std::mem::swap(&mut self.client, &mut self.server);
        self.reassembly.swap(0, 1);
        let t = &mut self.tcp;
        t.fin.swap(0, 1);
        t.rst.swap(0, 1);
        t.packets.swap(0, 1);
        t.payload_bytes.swap(0, 1);
        t.first_payload.swap(0, 1);
        self.last_ack.swap(0, 1);
    }

    fn on_segment(&mut self, seg: &TcpSegment<'_>, at: At) {
        self.last = at;
        let mut dir = if seg.src == self.client {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        // Without a SYN the roles are a guess from ports; a ClientHello settles it.
        if self.tcp.roles_guessed
            && self.untouched
            && dir == Dir::ToClient
            && A::opens_conversation(&seg.payload)
        {
            self.swap_roles();
            dir = Dir::ToServer;
        }
        let d = dir.index();
        self.tcp.packets[d] += 1;
        let flags = seg.flags;
        if flags.syn && !flags.ack && dir == Dir::ToServer {
            self.tcp.syn_count += 1;
            self.tcp.syn.get_or_insert(at);
            self.client_isn.get_or_insert(seg.seq);
            self.reassembly[0].start_at(seg.seq.wrapping_add(1));
        }
        if flags.syn && flags.ack && dir == Dir::ToClient {
            self.tcp.syn_ack.get_or_insert(at);
            self.reassembly[1].start_at(seg.seq.wrapping_add(1));
        }
        // Before the server sends data, the client's ACK says where that data starts
        // (a server that answered a retransmitted SYN with a new ISN, TCP Fast Open) —
        // unless it lies a window's worth past the SYN-ACK's start: then it acknowledges
        // server bytes the capture lost (below).
        if flags.ack
            && !flags.syn
            && dir == Dir::ToServer
            && self.tcp.syn_ack.is_some()
            && self.reassembly[1].may_restart()
        {
            let r = &self.reassembly[1];
            let ahead = r.ahead_of(seg.ack);
            if !ahead.is_some_and(|a| a > 0 && a < r.caps.1 as i64) {
                self.reassembly[1].restart_at(seg.ack);
            }
        }
        if flags.rst {
            if !flags.syn {
                // Before this segment's bytes (if any) are read.
                let end = seg.seq.wrapping_add(seg.payload.len() as u32);
                self.note_close(d, seg.seq, end);
            }
            self.tcp.rst[d].get_or_insert(at);
        }
        if !seg.payload.is_empty() {
            self.tcp.payload_bytes[d] += seg.payload.len() as u64;
            self.tcp.first_payload[d].get_or_insert(at);
            let data_seq = if flags.syn {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            // A segment the capture cut (its snap length) is read as far as it was kept:
            // the start says what the stream was (a ClientHello's, a whole ServerHello).
            self.deliver(dir, data_seq, &seg.payload, at);
        }
        if seg.cut_bytes > 0 {
            // What follows in this direction cannot be read in order.
            self.lose_cut_segment(dir, seg, at);
        }
        // An ACK for bytes the capture never showed proves they were sent and lost
        // here: a hole before buffered segments is skipped, and bytes at the end of
        // the stream that never appear are a loss too (a FIN takes one number) — a
        // side's first bytes included, when its one SYN or its SYN-ACK said where they
        // start.
        if flags.ack {
            self.last_ack[d] = seg.ack;
            let other = dir.opposite();
            let r = &self.reassembly[other.index()];
            if let Some(ahead) = r.ahead_of(seg.ack) {
                let fin_allowance = i64::from(self.tcp.fin[other.index()].is_some());
                if r.has_pending() && ahead > 0 {
                    self.skip_hole(other, at);
                } else if self.stream_start_known(other)
                    && ahead > fin_allowance
                    && ahead < r.caps.1 as i64
                {
                    self.tcp.lost_segment[other.index()].get_or_insert(at);
                    self.app_mut().lose(
                        other,
                        at,
                        format!("{ahead} byte(s) acknowledged but missing from the capture"),
                    );
                }
            }
        }
        if flags.fin {
            if !flags.syn {
                let end = seg.seq.wrapping_add(seg.payload.len() as u32);
                self.note_close(d, end, end);
            }
            self.tcp.fin[d].get_or_insert(at);
        }
    }

    /// Side `d`'s first FIN or reset, numbered `close` (after its bytes), when the next
    /// byte expected of that side is not `expected`: kept, to tell at the end whether
    /// the bytes before it ever reached the capture ([`Rare::close_seq`]).
    #[inline(never)]
    fn note_close(&mut self, d: usize, expected: u32, close: u32) {
        let first_close = self.tcp.fin[d].is_none() && self.tcp.rst[d].is_none();
        if first_close
            && self.reassembly[d]
                .next_seq
                .is_some_and(|next| next != expected)
        {
            self.rare_mut().close_seq[d] = Some(close);
        }
    }

    /// The capture's snap length cut this segment: its direction is lost from here.
    #[cold]
    fn lose_cut_segment(&mut self, dir: Dir, seg: &TcpSegment<'_>, at: At) {
        self.tcp.lost_segment[dir.index()].get_or_insert(at);
        self.app_mut().lose(
            dir,
            at,
            format!(
                "the capture's snap length cut this segment ({} of {} payload bytes kept)",
                seg.payload.len(),
                seg.payload.len() as u64 + u64::from(seg.cut_bytes)
            ),
        );
    }

    fn deliver(&mut self, dir: Dir, seq: u32, payload: &[u8], at: At) {
        self.untouched = false;
        let app = application(&mut self.app, &self.limits, &self.setup);
        let lost = &mut self.tcp.lost_segment[dir.index()];
        self.reassembly[dir.index()].push(seq, payload, &mut |piece| match piece {
            Piece::Data(bytes) => app.on_bytes(dir, bytes, at),
            Piece::Hole => {
                lost.get_or_insert(at);
                app.lose(dir, at, "segment missing from the capture".into());
            }
        });
    }

    fn skip_hole(&mut self, dir: Dir, at: At) {
        let app = application(&mut self.app, &self.limits, &self.setup);
        let lost = &mut self.tcp.lost_segment[dir.index()];
        self.reassembly[dir.index()].skip_hole(&mut |piece| match piece {
            Piece::Data(bytes) => app.on_bytes(dir, bytes, at),
            Piece::Hole => {
                lost.get_or_insert(at);
                app.lose(dir, at, "segment missing from the capture".into());
            }
        });
    }

    /// A side's FIN or reset numbered past the last byte of it the capture showed: the
    /// bytes between were sent and never captured (an alert before a reset, which is
    /// never resent). Checked at the end, so that bytes reordered after the close
    /// still count.
    fn lose_bytes_before_close(&mut self, dir: Dir) {
        let d = dir.index();
        let r = &self.reassembly[d];
        let Some(ahead) = self
            .rare
            .as_ref()
            .and_then(|rare| rare.close_seq[d])
            .and_then(|seq| r.ahead_of(seq))
        else {
            return;
        };
        let Some(close) = self.tcp.reset_first(d).or(self.tcp.fin[d]) else {
            return;
        };
        if self.stream_start_known(dir) && ahead > 0 && ahead < r.caps.1 as i64 {
            self.tcp.lost_segment[d].get_or_insert(close);
            self.app_mut().lose(
                dir,
                close,
                format!("{ahead} byte(s) before this close missing from the capture"),
            );
        }
    }

    /// The bytes at the end of the client's stream that the server's last ACK did not
    /// cover: they never reached the server (0 when it acknowledged them all, or when
    /// no SYN-ACK showed its acknowledgements).
    pub fn client_bytes_unacknowledged(&self) -> u32 {
        let r = &self.reassembly[0];
        self.tcp
            .syn_ack
            .and_then(|_| r.ahead_of(self.last_ack[1]))
            .filter(|&ahead| ahead < 0 && -ahead < r.caps.1 as i64)
            .map_or(0, |ahead| (-ahead) as u32)
    }

    /// Whether the first number of `dir`'s stream is known: bytes of it were read, or
    /// the one SYN (the client's) or the SYN-ACK (the server's) said where it starts.
    fn stream_start_known(&self, dir: Dir) -> bool {
        self.reassembly[dir.index()].delivered()
            || match dir {
                Dir::ToServer => self.tcp.syn_count == 1,
                Dir::ToClient => self.tcp.syn_ack.is_some(),
            }
    }

    /// The direction-free key of this connection.
    pub fn key(&self) -> FlowKey {
        key_of(self.client, self.server, self.tunnel)
    }

    /// End of the connection or of the capture: holes still open are lost segments.
    pub fn finish(&mut self) {
        let at = self.last;
        for dir in [Dir::ToServer, Dir::ToClient] {
            self.tcp.conflicting_overlaps[dir.index()] = self.reassembly[dir.index()].conflicts;
        }
        for dir in [Dir::ToServer, Dir::ToClient] {
            while self.reassembly[dir.index()].has_pending() {
                self.skip_hole(dir, at);
            }
            self.lose_bytes_before_close(dir);
        }
        for r in &mut self.reassembly {
            r.pending = BTreeMap::new();
            r.pending_bytes = 0;
        }
        if let Some(app) = &mut self.app {
            app.settle();
        }
    }
}

/// A connection's layer above, made on first use (a free function, so that callers can
/// borrow other fields of the connection beside it).
fn application<'a, A: Application>(
    slot: &'a mut Option<Box<A>>,
    limits: &Limits,
    setup: &A::Setup,
) -> &'a mut A {
    slot.get_or_insert_with(|| Box::new(A::with_limits(limits, setup)))
}

/// The connections of one capture. Live connections are keyed by their direction-free
/// address pair; a connection that ends (or whose 5-tuple is reused) moves to `done`.
#[derive(Default)]
pub struct FlowTable<A: Application> {
    /// Keyed with a per-process random seed (foldhash): fast, and a crafted capture
    /// cannot aim at collisions.
    live: HashMap<TableKey, Connection<A>, foldhash::fast::RandomState>,
    done: Vec<Connection<A>>,
    next_id: u64,
    /// Ports whose connections count as TLS attempts even without a ClientHello.
    tls_ports: Vec<u16>,
    limits: Limits,
    setup: A::Setup,
    /// Connections closed early because the table was full.
    pub evicted: u64,
    /// First frames of the connections not yet handed out by [`FlowTable::expire`].
    open: BTreeSet<u64>,
    /// Capture time of the last sweep for connections that are over.
    last_sweep: Timestamp,
    /// Live connections this table holds before evicting (its share of `max_flows`).
    capacity: usize,
}

/// A live connection's key in the table: its [`FlowKey`], hashed as a few words. The
/// standard library hashes a `SocketAddr` field by field (its variant, the address
/// bytes, the port and, for IPv6, the flow label and scope id, each a step of the
/// hasher), and the lookup of every packet's connection spent half its time there.
#[derive(Clone, Copy, PartialEq, Eq)]
struct TableKey(FlowKey);

impl Hash for TableKey {
    // Inlined into every lookup: out of line, the call and the hasher's state passed
    // through memory cost the handshake-heavy benchmark 1.6% of its instructions.
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        /// An IPv4 endpoint in 48 bits: address, then port.
        fn v4(a: SocketAddrV4) -> u64 {
            u64::from(a.ip().to_bits()) << 16 | u64::from(a.port())
        }
        match self.0 {
            // Nearly every key: both endpoints in one word.
            (SocketAddr::V4(a), SocketAddr::V4(b)) => {
                state.write_u128(u128::from(v4(a)) << 64 | u128::from(v4(b)))
            }
            (a, b) => {
                for endpoint in [a, b] {
                    match endpoint {
                        SocketAddr::V4(a) => state.write_u64(v4(a)),
                        SocketAddr::V6(a) => {
                            // A tenant's key holds its network in the flow label and
                            // scope id (`decode::key_of`).
                            state.write_u128(a.ip().to_bits());
                            state
                                .write_u64(u64::from(a.flowinfo()) << 32 | u64::from(a.scope_id()));
                            state.write_u16(a.port());
                        }
                    }
                }
            }
        }
    }
}

/// How often (capture time) [`FlowTable::expire`] sweeps the table.
const SWEEP_NS: i64 = 1_000_000_000;

impl<A: Application> FlowTable<A> {
    pub fn new(tls_ports: Vec<u16>, limits: Limits) -> FlowTable<A> {
        FlowTable {
            tls_ports,
            capacity: limits.max_flows,
            limits,
            ..Default::default()
        }
    }

    /// What the readers of connections made from now on are made with
    /// ([`Application::Setup`]).
    pub fn set_setup(&mut self, setup: A::Setup) {
        self.setup = setup;
    }

    /// The table is full: the least recently active quarter of the live connections
    /// is closed, marked as evicted and moved to `done` to be reported.
    fn evict(&mut self) {
        let mut by_activity: Vec<(At, FlowKey)> =
            self.live.iter().map(|(k, c)| (c.last, k.0)).collect();
        by_activity.sort_unstable();
        let n = (self.live.len() / 4).max(1);
        let reason = format!(
            "flow table limit of {} live connections reached: closed early (--max-flows)",
            self.limits.max_flows
        );
        for (_, key) in by_activity.into_iter().take(n) {
            if let Some(mut conn) = self.live.remove(&TableKey(key)) {
                conn.finish();
                conn.rare_mut().evicted = Some(reason.clone());
                self.evicted += 1;
                self.done.push(conn);
            }
        }
    }

    /// The live connection of `key`.
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Connection<A>> {
        self.live.get_mut(&TableKey(*key))
    }

    /// Whether the server of the connection under `key`, live or finished and not yet
    /// handed out, answered its SYN (SYN-ACK); `false` when there is none.
    pub fn syn_answered(&self, key: &FlowKey) -> bool {
        match self.live.get(&TableKey(*key)) {
            Some(conn) => conn.tcp.syn_ack.is_some(),
            None => self.done.iter().any(|conn| {
                key_of(conn.client, conn.server, conn.tunnel) == *key && conn.tcp.syn_ack.is_some()
            }),
        }
    }

    /// The first packet of a live connection from `client` (any port) to `server` that
    /// started before `since` and carried a packet after it: a client's TCP connection
    /// that went on beside its QUIC attempt. Looks at every live connection (see
    /// `Engine::finish_quic`, which calls it rarely and within a budget).
    pub fn in_use_since(&self, client: IpAddr, server: SocketAddr, since: Timestamp) -> Option<At> {
        self.live
            .values()
            .filter(|c| {
                c.client.ip() == client
                    && c.server == server
                    && c.first.ts < since
                    && c.last.ts > since
            })
            .map(|c| c.first)
            .min()
    }

    /// Connections currently tracked (not yet handed out by [`FlowTable::drain`]).
    pub fn len(&self) -> usize {
        self.live.len() + self.done.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Connections seen since the start.
    pub fn started(&self) -> u64 {
        self.next_id
    }

    /// Routes one segment to its connection, opening one when needed.
    pub fn on_segment(&mut self, seg: &TcpSegment<'_>, at: At) {
        let key = TableKey(key_of(seg.src, seg.dst, seg.tunnel));
        let is_new_syn = seg.flags.syn && !seg.flags.ack;
        let idle_ns = self.limits.flow_idle_ns();
        if let Some(conn) = self.live.get_mut(&key) {
            let reused = is_new_syn
                && (conn.is_closed() || conn.tcp.payload_bytes.iter().sum::<u64>() > 0)
                && conn.client_isn != Some(seg.seq);
            // The same rule as `expire`, so that when the table is swept does not
            // change which packets belong to which connection.
            let over = FlowTable::is_over(idle_ns, conn, at.ts);
            if !reused && !over {
                conn.on_segment(seg, at);
                return;
            }
            let mut old = self.live.remove(&key).expect("present");
            old.finish();
            self.done.push(old);
        }
        let (client, server, guessed) = if seg.flags.syn && !seg.flags.ack {
            (seg.src, seg.dst, false)
        } else if seg.flags.syn && seg.flags.ack {
            (seg.dst, seg.src, false)
        } else {
            let (c, s) = self.guess_roles(seg.src, seg.dst);
            (c, s, true)
        };
        if self.live.len() >= self.capacity.max(1) {
            self.evict();
        }
        let mut conn = Connection::new(
            self.next_id,
            client,
            server,
            at,
            guessed,
            &self.limits,
            &self.setup,
        );
        conn.tunnel = seg.tunnel;
        self.next_id += 1;
        self.open.insert(at.frame);
        conn.on_segment(seg, at);
        self.live.insert(key, conn);
    }

    fn guess_roles(&self, src: SocketAddr, dst: SocketAddr) -> (SocketAddr, SocketAddr) {
        let tls = |p: u16| self.tls_ports.contains(&p);
        match (tls(src.port()), tls(dst.port())) {
            (false, true) => (src, dst),
            (true, false) => (dst, src),
            _ if src.port() < dst.port() && src.port() < 1024 => (dst, src),
            _ => (src, dst),
        }
    }

    /// This table is one of `shares` that split a capture: it tracks its share of
    /// the live connections allowed.
    pub fn share_limit(&mut self, shares: usize) {
        self.capacity = self.limits.max_flows.div_ceil(shares.max(1));
    }

    /// Is this connection over at `now` (capture time)? Closed and quiet for
    /// [`LINGER_NS`], or silent for the flow idle timeout.
    fn is_over(idle_ns: i64, conn: &Connection<A>, now: Timestamp) -> bool {
        let quiet = now.0.saturating_sub(conn.last.ts.0);
        quiet >= idle_ns || conn.is_closed() && quiet >= LINGER_NS
    }

    /// Offline streaming: moves every connection that is over at `now` (see
    /// `FlowTable::is_over`), or was closed by a reused 5-tuple or a limit, to `out`,
    /// finished. Scans the table at most once per second of capture time.
    pub fn expire(&mut self, now: Timestamp, out: &mut Vec<Connection<A>>) {
        for conn in self.done.drain(..) {
            self.open.remove(&conn.first.frame);
            out.push(conn);
        }
        if now.0.saturating_sub(self.last_sweep.0) >= SWEEP_NS {
            self.last_sweep = now;
            let idle_ns = self.limits.flow_idle_ns();
            let over: Vec<TableKey> = self
                .live
                .iter()
                .filter(|(_, c)| FlowTable::is_over(idle_ns, c, now))
                .map(|(k, _)| *k)
                .collect();
            // Straight to `out`: a connection is some hundreds of bytes, moved by value.
            for key in over {
                let mut conn = self.live.remove(&key).expect("present");
                conn.finish();
                self.open.remove(&conn.first.frame);
                out.push(conn);
            }
        }
    }

    /// Frame of the earliest-starting connection not yet handed out by
    /// [`FlowTable::expire`] (`u64::MAX` when there is none).
    pub fn oldest_open(&self) -> u64 {
        self.open.first().copied().unwrap_or(u64::MAX)
    }

    /// Streaming use: hands every connection that `decided` says is resolved to
    /// `report` (once), finishes connections idle for `idle` or closed, and frees them
    /// once reported. `decided` sees connections not yet reported.
    pub fn drain(
        &mut self,
        now: Timestamp,
        idle_ns: i64,
        mut decided: impl FnMut(&Connection<A>) -> bool,
        mut report: impl FnMut(&mut Connection<A>),
    ) {
        let open = &mut self.open;
        for mut conn in self.done.drain(..) {
            open.remove(&conn.first.frame);
            if !conn.reported {
                report(&mut conn);
                conn.reported = true;
            }
        }
        self.live.retain(|_, conn| {
            let idle = now.0.saturating_sub(conn.last.ts.0) >= idle_ns;
            if idle || conn.is_closed() {
                conn.finish();
            }
            if !conn.reported && (idle || conn.is_closed() || decided(conn)) {
                report(conn);
                conn.reported = true;
                // Nothing more will be said about it: keep only TCP state.
                conn.finish();
            }
            // A closed connection lingers a moment to absorb the last ACKs.
            let keep = !(conn.reported && FlowTable::is_over(idle_ns, conn, now));
            if !keep {
                open.remove(&conn.first.frame);
            }
            keep
        });
    }

    /// Closes every connection and returns them in start order.
    pub fn finish(mut self) -> Vec<Connection<A>> {
        let mut all = std::mem::take(&mut self.done);
        all.extend(self.live.into_values());
        for conn in &mut all {
            conn.finish();
        }
        all.sort_by_key(|c| c.id);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{TcpFlags, TcpSegment};

    /// A reassembler with the default caps.
    fn reassembler() -> Reassembler {
        Reassembler::new(&Limits::default())
    }

    fn collect(r: &mut Reassembler, seq: u32, data: &[u8], out: &mut Vec<u8>, holes: &mut u32) {
        r.push(seq, data, &mut |p| match p {
            Piece::Data(b) => out.extend_from_slice(b),
            Piece::Hole => *holes += 1,
        });
    }

    #[test]
    fn reorders_trims_retransmissions_and_wraps() {
        let mut r = reassembler();
        let mut out = Vec::new();
        let mut holes = 0;
        let base = u32::MAX - 3; // wraps inside the stream
        r.start_at(base);
        collect(&mut r, base.wrapping_add(6), b"ghi", &mut out, &mut holes);
        collect(&mut r, base.wrapping_add(3), b"def", &mut out, &mut holes);
        assert!(out.is_empty());
        collect(&mut r, base, b"abc", &mut out, &mut holes);
        collect(
            &mut r,
            base.wrapping_add(1),
            b"bcdefg",
            &mut out,
            &mut holes,
        ); // overlap
        collect(&mut r, base.wrapping_add(8), b"ijk", &mut out, &mut holes);
        assert_eq!(out, b"abcdefghijk");
        assert_eq!(holes, 0);
    }

    #[test]
    fn overlapping_segments_with_different_bytes_are_counted() {
        let mut r = reassembler();
        let mut out = Vec::new();
        let mut holes = 0;
        r.start_at(100);
        collect(&mut r, 110, b"abcdef", &mut out, &mut holes);
        collect(&mut r, 112, b"cdef", &mut out, &mut holes); // same bytes
        assert_eq!(r.conflicts, 0);
        collect(&mut r, 113, b"XY", &mut out, &mut holes); // different bytes
        assert_eq!(r.conflicts, 1);
        collect(&mut r, 100, b"0123456789", &mut out, &mut holes);
        assert_eq!(out, b"0123456789abcdef", "the first copy is used");
    }

    #[test]
    fn a_hole_beyond_the_cap_is_declared_lost() {
        let mut r = reassembler();
        let mut out = Vec::new();
        let mut holes = 0;
        r.start_at(0);
        for i in 0..=64u32 {
            collect(&mut r, 10 + i, b"x", &mut out, &mut holes);
        }
        assert_eq!(holes, 1);
        assert_eq!(out.len(), 64 + 1);
        assert!(!r.has_pending());
    }

    /// Table keys are told apart exactly as flow keys are: IPv4, IPv6, an IPv4 address
    /// and its IPv4-mapped IPv6 form, the same addresses in two tenants' networks; the
    /// endpoints in either order are one key.
    /// What a connection handed up, per direction: its bytes, and whether a loss was
    /// declared.
    #[derive(Default)]
    struct Stream {
        bytes: [Vec<u8>; 2],
        lost: [bool; 2],
    }

    impl Application for Stream {
        type Setup = ();
        fn with_limits(_: &Limits, _: &()) -> Stream {
            Stream::default()
        }
        fn on_bytes(&mut self, dir: Dir, data: &[u8], _: At) {
            self.bytes[dir.index()].extend_from_slice(data);
        }
        fn lose(&mut self, dir: Dir, _: At, _: String) {
            self.lost[dir.index()] = true;
        }
        fn settle(&mut self) {}
        fn is_settled(&self) -> bool {
            false
        }
        fn opens_conversation(_: &[u8]) -> bool {
            false
        }
        fn trim(&mut self) {}
    }

    /// The flags of a segment.
    fn flags(syn: bool, ack: bool, fin: bool, rst: bool) -> TcpFlags {
        TcpFlags { syn, ack, fin, rst }
    }

    /// Frame `frame`, `frame` milliseconds in.
    fn at(frame: u64) -> At {
        At {
            frame,
            ts: crate::capture::Timestamp(frame as i64 * 1_000_000),
        }
    }

    /// A segment of the test connection (client 10.0.0.1:40000, server 10.0.0.2:443)
    /// sent in direction `dir`, carrying `payload`.
    fn segment(
        dir: Dir,
        seq: u32,
        ack: u32,
        payload: &[u8],
        flags: TcpFlags,
    ) -> TcpSegment<'static> {
        let (client, server) = (
            "10.0.0.1:40000".parse().unwrap(),
            "10.0.0.2:443".parse().unwrap(),
        );
        let (src, dst) = match dir {
            Dir::ToServer => (client, server),
            Dir::ToClient => (server, client),
        };
        TcpSegment {
            src,
            dst,
            tunnel: Tunnel::NONE,
            seq,
            ack,
            flags,
            payload: std::borrow::Cow::Owned(payload.to_vec()),
            cut_bytes: 0,
        }
    }

    /// The test connection: the client's SYN (ISN 1000) and the server's SYN-ACK (ISN
    /// 5000), then `segments` (frames 3, 4, …), then the end.
    fn after_handshake(segments: &[TcpSegment<'static>]) -> Connection<Stream> {
        let handshake = [
            segment(
                Dir::ToServer,
                1000,
                0,
                b"",
                flags(true, false, false, false),
            ),
            segment(
                Dir::ToClient,
                5000,
                1001,
                b"",
                flags(true, true, false, false),
            ),
        ];
        let first = &handshake[0];
        let mut c = Connection::<Stream>::new(
            0,
            first.src,
            first.dst,
            at(1),
            false,
            &Limits::default(),
            &(),
        );
        for (i, s) in handshake.iter().chain(segments).enumerate() {
            c.on_segment(s, at(1 + i as u64));
        }
        c.finish();
        c
    }

    /// A live connection the client opened before a moment and used after it is found
    /// by the client's address and the server; one that had gone quiet by then, one
    /// opened after it, or one to another server is not.
    #[test]
    fn a_connection_in_use_since_a_moment_is_found() {
        let mut table = FlowTable::<Stream>::new(vec![443], Limits::default());
        let syn = segment(
            Dir::ToServer,
            1000,
            0,
            b"",
            flags(true, false, false, false),
        );
        let ack = segment(
            Dir::ToServer,
            1001,
            5001,
            b"",
            flags(false, true, false, false),
        );
        table.on_segment(&syn, at(10));
        table.on_segment(&ack, at(50));
        let (client, server): (IpAddr, SocketAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2:443".parse().unwrap());
        let since = |frame: u64| at(frame).ts;
        assert_eq!(table.in_use_since(client, server, since(30)), Some(at(10)));
        assert_eq!(
            table.in_use_since(client, server, since(60)),
            None,
            "quiet since"
        );
        assert_eq!(
            table.in_use_since(client, server, since(5)),
            None,
            "opened after"
        );
        let other: SocketAddr = "10.0.0.3:443".parse().unwrap();
        assert_eq!(table.in_use_since(client, other, since(30)), None);
    }

    /// A client (ISN 1000) and server (ISN 5000) connection after its handshake, the
    /// client's 10 bytes delivered, then `segments` (client seq offset, payload, flags)
    /// from the client, then the end.
    fn client_closes(segments: &[(u32, &[u8], TcpFlags)]) -> Connection<Stream> {
        let mut all = vec![segment(
            Dir::ToServer,
            1001,
            5001,
            b"0123456789",
            flags(false, true, false, false),
        )];
        all.extend(segments.iter().map(|(off, payload, flags)| {
            segment(Dir::ToServer, 1011 + off, 5001, payload, *flags)
        }));
        after_handshake(&all)
    }

    /// A reset numbered past bytes never captured proves them lost (an alert dropped on
    /// the way is never resent); the same bytes arriving after the reset (reordered)
    /// fill the gap, and a reset right after a FIN (which takes one number) is none.
    #[test]
    fn a_close_numbered_past_the_last_byte_seen_marks_a_loss() {
        let rst = flags(false, true, false, true);
        let fin = flags(false, true, true, false);
        let ack = flags(false, true, false, false);
        let c = client_closes(&[(7, b"", rst)]);
        assert!(c.tcp.lost_segment[0].is_some());
        assert!(c.app().unwrap().lost[0]);
        let c = client_closes(&[(7, b"", rst), (0, b"ALERT!!", ack)]);
        assert!(c.tcp.lost_segment[0].is_none());
        assert_eq!(c.app().unwrap().bytes[0], b"0123456789ALERT!!");
        let c = client_closes(&[(0, b"", fin), (1, b"", rst)]);
        assert!(c.tcp.lost_segment[0].is_none());
        let c = client_closes(&[(0, b"", rst)]);
        assert!(c.tcp.lost_segment[0].is_none());
    }

    /// The server's first FIN or reset numbered past its SYN-ACK's start, no byte of
    /// it captured: the bytes between (its whole flight) were sent and lost here. A
    /// close at the start is none.
    #[test]
    fn a_server_close_past_its_syn_ack_start_marks_a_loss() {
        for (close, seq, lost) in [
            (flags(false, true, true, false), 5301, true),
            (flags(false, true, false, true), 5301, true),
            (flags(false, true, true, false), 5001, false),
            (flags(false, true, false, true), 5001, false),
        ] {
            let c = after_handshake(&[
                segment(
                    Dir::ToServer,
                    1001,
                    5001,
                    b"0123456789",
                    flags(false, true, false, false),
                ),
                segment(Dir::ToClient, seq, 1011, b"", close),
            ]);
            assert_eq!(c.tcp.lost_segment[1].is_some(), lost, "{close:?} at {seq}");
            assert_eq!(c.app().unwrap().lost[1], lost);
        }
    }

    /// The server's last ACK covers only the first segment of the client's bytes: the
    /// rest never reached it. One covering them all (or a FIN) leaves nothing.
    #[test]
    fn bytes_the_peer_never_acknowledged_are_counted() {
        let ack = flags(false, true, false, false);
        for (server_ack, unacknowledged) in [(1101, 50), (1151, 0), (1001, 150)] {
            let c = after_handshake(&[
                segment(Dir::ToServer, 1001, 5001, &[0x16; 100], ack),
                segment(Dir::ToServer, 1101, 5001, &[0x16; 50], ack),
                segment(Dir::ToClient, 5001, server_ack, b"", ack),
            ]);
            assert_eq!(
                c.client_bytes_unacknowledged(),
                unacknowledged,
                "ACK {server_ack}"
            );
        }
    }

    #[test]
    fn table_keys_are_as_distinct_as_flow_keys() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        let (a, b) = (addr("10.0.0.1:40000"), addr("10.0.0.2:443"));
        let (c, d) = (addr("[2001:db8::1]:40000"), addr("[2001:db8::2]:443"));
        let (e, f) = (
            addr("[::ffff:10.0.0.1]:40000"),
            addr("[::ffff:10.0.0.2]:443"),
        );
        let flows = [
            (a, b, Tunnel::NONE),
            (c, d, Tunnel::NONE),
            (e, f, Tunnel::NONE),
            (a, d, Tunnel::NONE),
            (a, b, Tunnel(7)),
            (a, b, Tunnel(8)),
            (c, d, Tunnel(1 << 40)),
            (addr("10.0.0.1:40001"), b, Tunnel::NONE),
        ];
        let mut table: HashMap<TableKey, usize, foldhash::fast::RandomState> = HashMap::default();
        for (i, &(x, y, tunnel)) in flows.iter().enumerate() {
            let key = TableKey(key_of(x, y, tunnel));
            assert_eq!(table.insert(key, i), None, "{:?} taken", key.0);
        }
        for (i, &(x, y, tunnel)) in flows.iter().enumerate() {
            assert_eq!(table.get(&TableKey(key_of(x, y, tunnel))), Some(&i));
            assert_eq!(table.get(&TableKey(key_of(y, x, tunnel))), Some(&i));
        }
    }
}
