//! The QUIC attempts of a capture: UDP datagrams (untunnelled, unfragmented) grouped
//! by their two endpoints, each group followed by a [`QuicAttempt`]. An attempt starts
//! with a datagram that opens with a long-header Initial (or a long header of a version
//! the client wants negotiated), so other UDP traffic is never taken for QUIC. A
//! datagram from a client address the attempt has not used, addressed to the server's
//! connection ID, belongs to it too (NAT rebinding, migration: RFC 9000 §9). ICMP port
//! unreachable answers are matched to the attempt whose datagram they quote; a TCP
//! connection from the client to the same server and port opened after an unanswered
//! attempt is its fallback, and so is one opened just before the attempt started
//! ([`RACE_SECS`]: a browser races TCP beside QUIC), once the server answered its SYN
//! (a SYN refused or unanswered got the client no further over TCP than over UDP).
//!
//! An attempt is over once its outcome cannot change: a CONNECTION_CLOSE was read, a
//! stateless reset carried the server's token, or the client sent 1-RTT packets and the
//! server answered it in 1-RTT (the handshake completed and the server kept the
//! connection) — it takes no datagram after that, so its record does not depend on
//! when it is collected; otherwise when its endpoints went quiet for the idle timeout,
//! or at the end of the capture. Memory is bounded by the number of attempts open at once
//! ([`MAX_ATTEMPTS`]), the paths of each ([`MAX_PATHS`]) and each attempt's own bounds.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};

use etherparse::{Icmpv4Type, Icmpv6Type, IpNumber, IpSlice};

use super::attempt::{QuicAttempt, QuicOutcome, ResetProof};
use super::ids::ConnectionId;
use super::packet::{packets, LongType, QuicPacket};
use crate::capture::{Packet, Timestamp};
use crate::decode::Tunnel;
use crate::flow::{key_of, At, Dir, FlowKey};
use crate::keys::KeySources;

/// QUIC attempts followed at once, at most; datagrams that would start more are not
/// followed (counted in [`QuicTable::not_followed`]).
pub const MAX_ATTEMPTS: usize = 65_536;

/// The smallest datagram that carries a client's first Initial (RFC 9000 §14.1).
const MIN_CLIENT_INITIAL: usize = 1200;
/// Client addresses an attempt is followed on besides its first, at most.
pub const MAX_PATHS: usize = 8;

/// Another client address of an attempt (NAT rebinding, migration).
#[derive(Clone, Copy, Debug)]
pub struct QuicPath {
    pub client: SocketAddr,
    /// Its first datagram.
    pub at: At,
}

/// One attempt and its endpoints.
#[derive(Debug)]
pub struct QuicFlow {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub attempt: QuicAttempt,
    /// The client's TCP SYN to the same server and port that the server answered
    /// (SYN-ACK): after its first Initial, within [`RACE_SECS`] before it, or that of a
    /// connection it stayed on (set by the engine, which reads the TCP connections,
    /// when the attempt ends unanswered).
    pub tcp_fallback: Option<At>,
    /// The client's TCP SYNs to the same server and port waiting for the server's
    /// SYN-ACK (each from the client's address, any port), the last
    /// [`MAX_PENDING_SYNS`]: the first answered becomes `tcp_fallback`.
    pending_syns: Vec<(SocketAddr, At)>,
    /// The first of the client's TCP SYNs to the same server and port that waited for
    /// an answer, and how many did (from distinct ports): when no fallback came, the
    /// ones refused or dropped.
    pub tcp_unanswered: Option<(At, u32)>,
    /// The client's other addresses, in the order they appeared.
    pub paths: Vec<QuicPath>,
    /// The server connection ID it is indexed by.
    indexed_cid: Option<ConnectionId>,
}

impl QuicFlow {
    /// The key its packets are kept under (`--write`).
    pub fn key(&self) -> FlowKey {
        key_of(self.client, self.server, Tunnel::NONE)
    }

    /// The attempt cannot end differently any more.
    fn decided(&self) -> bool {
        let a = &self.attempt;
        a.close.is_some()
            || a.reset().is_some_and(|r| r.proof == ResetProof::Token)
            || (a.first_client_short.is_some() && a.server_short_answer.is_some())
    }

    /// Never answered: its verdict waits for a fallback to TCP.
    fn unanswered(&self) -> bool {
        self.attempt.outcome() == QuicOutcome::UdpBlocked
    }

    /// Over before it went quiet: decided, and not waiting for a fallback.
    fn done_early(&self) -> bool {
        self.decided() && (!self.unanswered() || self.tcp_fallback.is_some())
    }

    /// Waits, as the attempt under `key`, for the server's answer to a SYN from
    /// `client` at `syn` (the last [`MAX_PENDING_SYNS`]; a SYN sent again from the same
    /// port keeps the first one's time), and indexes the wait in `awaited`.
    fn await_syn_ack(
        &mut self,
        awaited: &mut AwaitedSyns,
        key: FlowKey,
        client: SocketAddr,
        syn: At,
    ) {
        if !self.pending_syns.iter().any(|(c, _)| *c == client) {
            let (first, count) = self.tcp_unanswered.get_or_insert((syn, 0));
            *first = (*first).min(syn);
            *count += 1;
            if self.pending_syns.len() >= MAX_PENDING_SYNS {
                let (dropped, _) = self.pending_syns.remove(0);
                stop_awaiting(awaited, dropped, self.server, key);
            }
            self.pending_syns.push((client, syn));
        }
        awaited.insert((client, self.server), key);
    }

    /// Silent for `idle_ns` at `now`.
    fn quiet_at(&self, now: Timestamp, idle_ns: i64) -> bool {
        self.attempt
            .last
            .is_some_and(|last| now.0.saturating_sub(last.ts.0) >= idle_ns)
    }

    /// The direction of a datagram from `src`: the client's from its first address or
    /// a later one.
    fn dir_of(&self, src: SocketAddr) -> Dir {
        if src == self.client || self.paths.iter().any(|p| p.client == src) {
            Dir::ToServer
        } else {
            Dir::ToClient
        }
    }
}

/// Seconds before an attempt's first Initial within which a TCP SYN from its client to
/// the same server and port is its fallback: a browser that races TCP beside QUIC
/// (Chromium for a server whose Alt-Svc it knows) may send the SYN a few milliseconds
/// first. Longer before, the SYN belongs to an earlier exchange (the page whose Alt-Svc
/// header made the client try QUIC).
pub const RACE_SECS: f64 = 0.1;
/// A TCP SYN at `syn` and a QUIC attempt started at `start` race each other: the SYN
/// is within [`RACE_SECS`] of the attempt's first Initial, before or after it.
pub fn raced(syn: At, start: Timestamp) -> bool {
    (syn.ts.0 - start.0).abs() <= (RACE_SECS * 1e9) as i64
}

/// How the TCP connection taken as an unanswered attempt's fallback (its SYN at `syn`)
/// stands to the attempt, started at `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpFallback {
    /// Opened within [`RACE_SECS`] of the attempt, before or after it: a browser racing
    /// the two.
    Raced,
    /// Opened earlier, and went on after the attempt started: the client stayed on it.
    StayedOn,
    /// Opened after the attempt: the client fell back to TCP.
    FellBack,
}

impl TcpFallback {
    pub fn of(syn: At, start: Timestamp) -> TcpFallback {
        if raced(syn, start) {
            TcpFallback::Raced
        } else if syn.ts < start {
            TcpFallback::StayedOn
        } else {
            TcpFallback::FellBack
        }
    }
}

/// The TCP connections (client, server) whose SYN-ACK an open attempt waits for → that
/// attempt ([`QuicTable::syn_acks_awaited`]).
type AwaitedSyns = HashMap<(SocketAddr, SocketAddr), FlowKey, foldhash::fast::RandomState>;

/// The attempt under `key` no longer waits for the SYN-ACK of `client`'s connection to
/// `server` (another attempt's wait for it stays).
fn stop_awaiting(awaited: &mut AwaitedSyns, client: SocketAddr, server: SocketAddr, key: FlowKey) {
    if awaited.get(&(client, server)) == Some(&key) {
        awaited.remove(&(client, server));
    }
}

/// TCP SYNs remembered: a racing SYN is one of the last this many the worker saw.
const RECENT_SYNS: usize = 256;
/// An attempt's TCP SYNs waiting for an answer ([`QuicFlow::pending_syns`]), at most: a
/// client whose connections are refused tries a few ports, not hundreds.
const MAX_PENDING_SYNS: usize = 4;

/// The attempts open at once.
#[derive(Debug, Default)]
pub struct QuicTable {
    /// Boxed: an attempt is over a kilobyte, and the map moves its entries as it grows.
    flows: HashMap<FlowKey, Box<QuicFlow>, foldhash::fast::RandomState>,
    /// The endpoints of an attempt's later paths → the key of the attempt.
    paths: HashMap<FlowKey, FlowKey, foldhash::fast::RandomState>,
    /// The server's connection ID of each attempt that has one → the attempt's key.
    server_cids: HashMap<ConnectionId, FlowKey, foldhash::fast::RandomState>,
    /// The lengths of those IDs (bit n: length n), to read a short header's.
    server_cid_lengths: u32,
    /// Attempts that became decided, or got their fallback, since the last
    /// [`QuicTable::take_finished`]: the ones that may be over before they are quiet.
    candidates: Vec<FlowKey>,
    /// Capture time before which no open attempt can have been quiet for the idle
    /// timeout (the earliest last datagram plus the timeout, at the last look).
    quiet_from: i64,
    /// The first frames of the attempts not yet taken (open or over).
    first_frames: BTreeSet<u64>,
    /// Attempts that a datagram found over (decided, or quiet for the idle timeout),
    /// waiting for [`QuicTable::take_finished`]: that datagram, and the ones after it,
    /// are then handled as if the attempt had been taken already. Boxed as in `flows`:
    /// they move on (sorted, handed to the engine) as pointers, not 4 KB copies.
    #[allow(clippy::vec_box)]
    over: Vec<Box<QuicFlow>>,
    /// Capture time an attempt may stay silent; a datagram after a longer silence is
    /// not its (`None`: no limit). The same rule as [`QuicTable::take_finished`]'s, at
    /// arrival, so that an attempt's record does not depend on when it is collected.
    idle_ns: Option<i64>,
    /// The last [`RECENT_SYNS`] TCP SYNs, a ring: a client's address, the server it
    /// connects to and when; an attempt that starts within [`RACE_SECS`] of one from its
    /// client to its server takes it as its fallback once it is answered.
    recent_syns: Vec<(SocketAddr, SocketAddr, At)>,
    /// The TCP connections (client, server) whose SYN-ACK an open attempt waits for
    /// ([`QuicFlow::pending_syns`]) → that attempt.
    syn_acks_awaited: AwaitedSyns,
    /// Attempts started since [`QuicTable::answer_raced`] with racing SYNs pending,
    /// whose SYN-ACK may have come before the attempt did.
    raced_pending: Vec<FlowKey>,
    /// Where the next SYN goes in `recent_syns` once it is full.
    next_syn: usize,
    /// Attempts started.
    pub started: u64,
    /// Datagrams that would have started an attempt beyond [`MAX_ATTEMPTS`].
    pub not_followed: u64,
    /// DTLS ClientHellos seen (UDP datagrams that open with a DTLS handshake record
    /// carrying a ClientHello): DTLS is counted, not analyzed.
    pub dtls_client_hellos: u64,
    /// Where Handshake packets' secrets come from (`None`: no key log).
    keys: Option<KeySources>,
}

/// What a packet that is not TCP carries, as far as QUIC goes.
enum Carried<'a> {
    Datagram {
        src: SocketAddr,
        dst: SocketAddr,
        payload: &'a [u8],
    },
    /// ICMP port unreachable quoting a datagram from `client` to `server`.
    PortUnreachable {
        client: SocketAddr,
        server: SocketAddr,
    },
}

impl QuicTable {
    /// A table whose attempts end after `idle_ns` of silence in capture time.
    pub fn with_idle_timeout(idle_ns: i64) -> QuicTable {
        QuicTable {
            idle_ns: Some(idle_ns),
            ..QuicTable::default()
        }
    }

    /// Attempts not yet taken (open, or over and waiting to be taken).
    pub fn len(&self) -> usize {
        self.flows.len() + self.over.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty() && self.over.is_empty()
    }

    /// The key logs that open Handshake packets, for the attempts from now on.
    pub fn set_keys(&mut self, keys: KeySources) {
        self.keys = (!keys.is_empty()).then_some(keys);
    }

    /// Takes a packet that is not TCP: a datagram of an attempt (or one that starts an
    /// attempt), or an ICMP answer to one; returns the key of the attempt that took it.
    /// Anything else is left alone.
    pub fn on_packet(&mut self, packet: &Packet<'_>) -> Option<FlowKey> {
        let ip = crate::decode::ip_payload_of(packet.link_type, packet.data).ok()?;
        let at = At {
            frame: packet.frame,
            ts: packet.ts,
        };
        match carried(ip)? {
            Carried::Datagram { src, dst, payload } => self.on_datagram(src, dst, payload, at),
            Carried::PortUnreachable { client, server } => {
                let mut key = key_of(client, server, Tunnel::NONE);
                if !self.paths.is_empty() {
                    key = self.paths.get(&key).copied().unwrap_or(key);
                }
                if self.over_at(key, at.ts) {
                    self.retire(key);
                }
                let flow = self.flows.get_mut(&key)?;
                if flow.dir_of(client) != Dir::ToServer || flow.decided() {
                    return None;
                }
                flow.attempt.on_port_unreachable(at);
                Some(key)
            }
        }
    }

    fn on_datagram(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        at: At,
    ) -> Option<FlowKey> {
        if is_dtls_client_hello(payload) {
            // Never a QUIC packet: content type 22 has the fixed bit clear.
            self.dtls_client_hellos += 1;
            return None;
        }
        let mut key = key_of(src, dst, Tunnel::NONE);
        if !self.paths.is_empty() {
            key = self.paths.get(&key).copied().unwrap_or(key);
        }
        // An attempt over by now takes nothing more: whether or not it was taken
        // already, this datagram is handled as if it had been (it may start an attempt
        // of its own), so records do not depend on when attempts are collected.
        if self.over_at(key, at.ts) {
            self.retire(key);
            key = key_of(src, dst, Tunnel::NONE);
        }
        if let Some(flow) = self.flows.get_mut(&key) {
            // Decided and waiting for a fallback to TCP: nothing more is its.
            if flow.decided() {
                return None;
            }
            let dir = flow.dir_of(src);
            flow.attempt
                .on_datagram_with_keys(dir, at, payload, self.keys.as_ref());
            if flow.decided() {
                self.candidates.push(key);
            }
            if flow.indexed_cid.is_none() {
                if let Some(cid) = flow.attempt.server_cid.filter(|c| !c.is_empty()) {
                    flow.indexed_cid = Some(cid);
                    // Two attempts with one ID (a collision, or a replay): the first
                    // keeps it.
                    self.server_cids.entry(cid).or_insert(key);
                    self.server_cid_lengths |= 1 << cid.as_bytes().len();
                }
            }
            return Some(key);
        }
        if !starts_attempt(payload) {
            return self.on_new_path(src, dst, payload, at);
        }
        if self.flows.len() >= MAX_ATTEMPTS {
            self.not_followed += 1;
            return None;
        }
        let mut flow = QuicFlow {
            client: src,
            server: dst,
            attempt: QuicAttempt::default(),
            tcp_fallback: None,
            pending_syns: Vec::new(),
            tcp_unanswered: None,
            paths: Vec::new(),
            indexed_cid: None,
        };
        flow.attempt
            .on_datagram_with_keys(Dir::ToServer, at, payload, self.keys.as_ref());
        // A client starts with its ClientHello. An Initial of a known version that
        // carried none of it — one that did not open with the keys its own
        // Destination Connection ID gives (a server's, a client's later one addressed
        // to the server's ID), or that held only ACKs — is what follows an attempt
        // already over (a close's stragglers), not a new one.
        if flow.attempt.initial_keys_known() && flow.attempt.client_hello_datagrams == 0 {
            return None;
        }
        self.started += 1;
        // A browser racing TCP beside QUIC may send its SYN first: it waits for its
        // answer, which the engine may have seen already (`answer_raced`).
        for &(tcp_client, server, syn) in &self.recent_syns {
            if tcp_client.ip() == src.ip() && server == dst && syn.ts <= at.ts && raced(syn, at.ts)
            {
                flow.await_syn_ack(&mut self.syn_acks_awaited, key, tcp_client, syn);
            }
        }
        if !flow.pending_syns.is_empty() {
            self.raced_pending.push(key);
        }
        if flow.decided() {
            self.candidates.push(key);
        }
        self.first_frames.insert(at.frame);
        self.flows.insert(key, Box::new(flow));
        Some(key)
    }

    /// A datagram between endpoints no attempt has: a client's from a new address
    /// (NAT rebinding, migration) when it is addressed to the server's connection ID of
    /// an attempt to the same server.
    fn on_new_path(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        at: At,
    ) -> Option<FlowKey> {
        let key = self.by_server_cid(payload)?;
        if self.over_at(key, at.ts) {
            self.retire(key);
            return None;
        }
        let flow = self.flows.get_mut(&key)?;
        if flow.server != dst || flow.paths.len() >= MAX_PATHS || flow.decided() {
            return None;
        }
        flow.paths.push(QuicPath { client: src, at });
        flow.attempt.migrated = true;
        flow.attempt
            .on_datagram_with_keys(Dir::ToServer, at, payload, self.keys.as_ref());
        if flow.decided() {
            self.candidates.push(key);
        }
        self.paths.insert(key_of(src, dst, Tunnel::NONE), key);
        Some(key)
    }

    /// The attempt whose server connection ID a datagram's first packet is addressed
    /// to (a long header names its length; a short header's is one of those indexed).
    fn by_server_cid(&self, payload: &[u8]) -> Option<FlowKey> {
        if self.server_cids.is_empty() {
            return None;
        }
        let first = *payload.first()?;
        if first & 0x80 != 0 {
            let len = usize::from(*payload.get(5)?);
            let cid = ConnectionId::new(payload.get(6..6 + len)?)?;
            return self.server_cids.get(&cid).copied();
        }
        let mut lengths = self.server_cid_lengths;
        while lengths != 0 {
            let len = lengths.trailing_zeros() as usize;
            lengths &= lengths - 1;
            let Some(id) = payload.get(1..1 + len) else {
                break;
            };
            if let Some(key) = ConnectionId::new(id).and_then(|c| self.server_cids.get(&c)) {
                return Some(*key);
            }
        }
        None
    }

    /// A TCP SYN (without ACK) from `client` to `server`: kept for an attempt that starts
    /// within [`RACE_SECS`] after it, and awaited by the open attempts from that client's
    /// address to the same server and port without a fallback, whose fallback it is
    /// once answered ([`QuicTable::on_tcp_syn_ack`]); returns where the earliest of them
    /// started.
    pub fn on_tcp_syn(&mut self, client: SocketAddr, server: SocketAddr, at: At) -> Option<At> {
        // A ring: the oldest is overwritten (no look at times here: one store per SYN).
        if self.recent_syns.len() < RECENT_SYNS {
            self.recent_syns.push((client, server, at));
        } else {
            self.recent_syns[self.next_syn] = (client, server, at);
        }
        self.next_syn = (self.next_syn + 1) % RECENT_SYNS;
        if self.flows.is_empty() {
            return None;
        }
        let mut earliest: Option<At> = None;
        for (key, flow) in self.flows.iter_mut() {
            if flow.tcp_fallback.is_none()
                && flow.server == server
                && flow.client.ip() == client.ip()
            {
                flow.await_syn_ack(&mut self.syn_acks_awaited, *key, client, at);
                if let Some(first) = flow.attempt.first {
                    earliest = Some(earliest.map_or(first, |e| e.min(first)));
                }
            }
        }
        earliest
    }

    /// A TCP SYN-ACK from `server` to `client`: the fallback of the attempt that waits
    /// for it, if any.
    #[inline]
    pub fn on_tcp_syn_ack(&mut self, server: SocketAddr, client: SocketAddr) {
        if self.syn_acks_awaited.is_empty() {
            return;
        }
        if let Some(key) = self.syn_acks_awaited.remove(&(client, server)) {
            self.answered(key, client);
        }
    }

    /// The attempts started with racing SYNs since the last call: each SYN whose
    /// connection `syn_answered` (client, server) says the server answered already is
    /// their fallback; the others wait for their SYN-ACK.
    pub fn answer_raced(&mut self, syn_answered: impl Fn(SocketAddr, SocketAddr) -> bool) {
        if self.raced_pending.is_empty() {
            return;
        }
        for key in std::mem::take(&mut self.raced_pending) {
            let Some(flow) = self.flows.get(&key) else {
                continue;
            };
            let server = flow.server;
            let answered = flow
                .pending_syns
                .iter()
                .find(|(client, _)| syn_answered(*client, server))
                .map(|&(client, _)| client);
            if let Some(client) = answered {
                self.answered(key, client);
            }
        }
    }

    /// The SYN from `client` that the attempt under `key` waited for was answered: its
    /// fallback; it waits for no other.
    fn answered(&mut self, key: FlowKey, client: SocketAddr) {
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        let Some(&(_, syn)) = flow.pending_syns.iter().find(|(c, _)| *c == client) else {
            return;
        };
        if flow.tcp_fallback.is_none() {
            flow.tcp_fallback = Some(syn);
            self.candidates.push(key);
        }
        for (other, _) in std::mem::take(&mut flow.pending_syns) {
            stop_awaiting(&mut self.syn_acks_awaited, other, flow.server, key);
        }
    }

    /// The attempts that are over at `now` (decided; quiet for `idle_ns` — an
    /// unanswered one after its fallback or the timeout; every one when `flush`), in
    /// the order they started.
    ///
    /// Only the attempts that became decided since the last call are looked at, and the
    /// quiet ones only once one can be quiet: not every open attempt at every call.
    pub fn take_finished(
        &mut self,
        now: Timestamp,
        idle_ns: i64,
        flush: bool,
    ) -> Vec<Box<QuicFlow>> {
        let mut keys: Vec<FlowKey> = Vec::new();
        if flush {
            keys.extend(self.flows.keys());
        } else {
            let candidates = std::mem::take(&mut self.candidates);
            keys.extend(
                candidates
                    .into_iter()
                    .filter(|k| self.flows.get(k).is_some_and(|f| f.done_early())),
            );
            keys.sort_unstable();
            keys.dedup();
            if now.0 >= self.quiet_from {
                // Every attempt not quiet now has its last datagram after `now - idle`;
                // one started later too: none is quiet before the earliest of them.
                let mut quiet_from = now.0.saturating_add(idle_ns);
                for (key, flow) in &self.flows {
                    if flow.quiet_at(now, idle_ns) {
                        keys.push(*key);
                    } else if let Some(last) = flow.attempt.last {
                        quiet_from = quiet_from.min(last.ts.0.saturating_add(idle_ns));
                    }
                }
                self.quiet_from = quiet_from;
                keys.sort_unstable();
                keys.dedup();
            }
        }
        for key in keys {
            self.retire(key);
        }
        let mut done = std::mem::take(&mut self.over);
        for flow in &mut done {
            flow.attempt.watched_until = Some(now);
        }

        for flow in &done {
            if let Some(first) = flow.attempt.first {
                self.first_frames.remove(&first.frame);
            }
        }
        done.sort_by_key(|f| f.attempt.first.map_or(0, |at| at.frame));
        done
    }

    /// Whether the attempt under `key` is over at `now`: decided (and not waiting for a
    /// fallback), or quiet for the idle timeout.
    fn over_at(&self, key: FlowKey, now: Timestamp) -> bool {
        self.flows.get(&key).is_some_and(|flow| {
            flow.done_early() || self.idle_ns.is_some_and(|idle| flow.quiet_at(now, idle))
        })
    }

    /// Moves the attempt under `key` to [`QuicTable::over`]: its endpoints, other
    /// paths and connection ID no longer lead to it.
    fn retire(&mut self, key: FlowKey) {
        let Some(flow) = self.flows.remove(&key) else {
            return;
        };
        for (client, _) in &flow.pending_syns {
            stop_awaiting(&mut self.syn_acks_awaited, *client, flow.server, key);
        }
        for path in &flow.paths {
            self.paths
                .remove(&key_of(path.client, flow.server, Tunnel::NONE));
        }
        if let Some(cid) = flow.indexed_cid {
            if self.server_cids.get(&cid) == Some(&key) {
                self.server_cids.remove(&cid);
            }
        }
        self.over.push(flow);
    }

    /// First frame of the oldest open attempt (`u64::MAX` when none).
    pub fn oldest_open(&self) -> u64 {
        self.first_frames.first().copied().unwrap_or(u64::MAX)
    }
}

/// A datagram that begins with a client's Initial (versions 1 and 2, and the long
/// header of any other version in a datagram of a client's first Initial's size: a
/// client asking for Version Negotiation).
fn starts_attempt(payload: &[u8]) -> bool {
    let (found, _) = packets(payload);
    match found.first() {
        Some(QuicPacket::Long(long)) => match long.kind {
            LongType::Initial => {
                crate::quic::initial::initial_keys(long.version, long.dcid).is_some()
                    || payload.len() >= MIN_CLIENT_INITIAL
            }
            _ => false,
        },
        _ => false,
    }
}

/// A UDP datagram, or an ICMP port unreachable and the datagram it quotes, in an IP
/// packet (not fragmented).
fn carried(ip: &[u8]) -> Option<Carried<'_>> {
    let net = IpSlice::from_slice(ip).ok()?;
    let (src, dst) = match &net {
        IpSlice::Ipv4(v4) => (
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
        ),
        IpSlice::Ipv6(v6) => (
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
        ),
    };
    let payload = net.payload();
    if payload.fragmented {
        return None;
    }
    match payload.ip_number {
        IpNumber::UDP => {
            let udp = etherparse::UdpSlice::from_slice(payload.payload).ok()?;
            Some(Carried::Datagram {
                src: SocketAddr::new(src, udp.source_port()),
                dst: SocketAddr::new(dst, udp.destination_port()),
                payload: udp.payload(),
            })
        }
        IpNumber::ICMP => {
            let icmp = etherparse::Icmpv4Slice::from_slice(payload.payload).ok()?;
            match icmp.icmp_type() {
                Icmpv4Type::DestinationUnreachable(
                    etherparse::icmpv4::DestUnreachableHeader::Port,
                ) => quoted_datagram(icmp.payload()),
                _ => None,
            }
        }
        IpNumber::IPV6_ICMP => {
            let icmp = etherparse::Icmpv6Slice::from_slice(payload.payload).ok()?;
            match icmp.icmp_type() {
                Icmpv6Type::DestinationUnreachable(
                    etherparse::icmpv6::DestUnreachableCode::Port,
                ) => quoted_datagram(icmp.payload()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The endpoints of the UDP datagram an ICMP error quotes (its IP header and the first
/// eight bytes of what it carried).
fn quoted_datagram(quoted: &[u8]) -> Option<Carried<'_>> {
    let (net, _) = etherparse::LaxIpSlice::from_slice(quoted).ok()?;
    let (src, dst) = match &net {
        etherparse::LaxIpSlice::Ipv4(v4) => (
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
        ),
        etherparse::LaxIpSlice::Ipv6(v6) => (
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
        ),
    };
    let payload = net.payload();
    if payload.ip_number != IpNumber::UDP {
        return None;
    }
    let ports = payload.payload.get(..4)?;
    Some(Carried::PortUnreachable {
        client: SocketAddr::new(src, u16::from_be_bytes([ports[0], ports[1]])),
        server: SocketAddr::new(dst, u16::from_be_bytes([ports[2], ports[3]])),
    })
}

/// A datagram that opens with a DTLS 1.0/1.2/1.3-plaintext handshake record (content
/// type 22, version 0xfeff, 0xfefd or 0xfefc, epoch 0) whose message is a ClientHello
/// (RFC 6347 §4.1: a 13-byte record header, then the handshake header's type).
fn is_dtls_client_hello(payload: &[u8]) -> bool {
    payload.len() > 25
        && payload[0] == 22
        && payload[1] == 0xfe
        && matches!(payload[2], 0xff | 0xfd | 0xfc)
        && payload[3..5] == [0, 0]
        && payload[13] == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quic::initial::{initial_keys, seal_initial};

    /// A version 1 Initial addressed to `dcid`, sealed with the keys `dcid` gives (the
    /// client's, or with `server` the server's), carrying `frames`, padded.
    fn initial(dcid: &[u8], scid: &[u8], server: bool, frames: &[u8]) -> Vec<u8> {
        let keys = initial_keys(1, dcid).expect("version 1");
        let mut header = vec![0xc0, 0, 0, 0, 1, dcid.len() as u8];
        header.extend_from_slice(dcid);
        header.push(scid.len() as u8);
        header.extend_from_slice(scid);
        header.push(0); // no token
        let mut plaintext = frames.to_vec();
        plaintext.resize(1150, 0); // PADDING
        let keys = if server { &keys.server } else { &keys.client };
        seal_initial(keys, &header, 0, &plaintext)
    }

    /// A CRYPTO frame at offset 0 with the first four bytes of a ClientHello.
    const HELLO_START: [u8; 7] = [0x06, 0x00, 0x04, 0x01, 0x00, 0x01, 0x00];

    /// The test attempt's client and server.
    fn endpoints() -> (SocketAddr, SocketAddr) {
        (
            "10.0.0.1:50000".parse().unwrap(),
            "10.0.0.2:443".parse().unwrap(),
        )
    }

    /// Only a datagram carrying ClientHello bytes starts an attempt: not one holding only
    /// an ACK or a PING (a client's straggler after its close), nor a server's Initial
    /// (its Destination Connection ID is the client's, and its keys the server's).
    #[test]
    fn an_attempt_starts_with_client_hello_bytes() {
        let (client, server) = endpoints();
        let at = At::default();
        let dcid = [7u8; 8];
        let mut table = QuicTable::default();
        assert!(table
            .on_datagram(client, server, &initial(&dcid, &[], false, &[0x01]), at)
            .is_none());
        assert!(table
            .on_datagram(
                server,
                client,
                &initial(&[], &[9; 8], true, &HELLO_START),
                at
            )
            .is_none());
        assert_eq!(table.started, 0);
        assert!(table
            .on_datagram(
                client,
                server,
                &initial(&dcid, &[], false, &HELLO_START),
                at
            )
            .is_some());
        assert_eq!(table.started, 1);
    }

    /// At `ms` milliseconds into the capture.
    fn at_ms(frame: u64, ms: i64) -> At {
        At {
            frame,
            ts: Timestamp(1_000_000_000_000 + ms * 1_000_000),
        }
    }

    /// An unanswered attempt: a ClientHello spread over two Initials is one flight, not
    /// a probe; the client resending its first bytes is one. Closing sooner than a
    /// second without probing is the client giving up on QUIC, not on an answer.
    #[test]
    fn probes_and_early_closes_of_an_unanswered_attempt() {
        let (client, server) = endpoints();
        let dcid = [7u8; 8];
        // The ClientHello's first four bytes, then four more at offset 4.
        let first = initial(&dcid, &[], false, &HELLO_START);
        let second = initial(
            &dcid,
            &[],
            false,
            &[0x06, 0x04, 0x04, 0x03, 0x03, 0xaa, 0xbb],
        );
        let ping = initial(&dcid, &[], false, &[0x01]);
        // CONNECTION_CLOSE (transport), NO_ERROR, no frame type, no reason.
        let close = initial(&dcid, &[], false, &[0x1c, 0x00, 0x00, 0x00]);
        let outcome = |datagrams: &[(&[u8], i64)]| {
            let mut table = QuicTable::default();
            let mut key = None;
            for (i, (d, ms)) in datagrams.iter().enumerate() {
                key = key.or(table.on_datagram(client, server, d, at_ms(i as u64 + 1, *ms)));
            }
            let flow = &table.flows[&key.expect("an attempt")];
            (flow.attempt.client_probes, flow.attempt.outcome())
        };
        use QuicOutcome::*;
        // Each case: the datagrams (and when, in ms), then the probes and the outcome.
        type Datagrams<'a> = &'a [(&'a [u8], i64)];
        let cases: [(Datagrams, (u32, QuicOutcome)); 5] = [
            (&[(&first, 0), (&second, 1)], (0, Incomplete)),
            (
                &[(&first, 0), (&second, 1), (&close, 60)],
                (0, ClientCancelled),
            ),
            (&[(&first, 0), (&second, 1), (&first, 300)], (1, UdpBlocked)),
            (&[(&first, 0), (&ping, 300), (&close, 400)], (1, UdpBlocked)),
            (
                &[(&first, 0), (&second, 1), (&close, 1500)],
                (0, UdpBlocked),
            ),
        ];
        for (datagrams, want) in cases {
            assert_eq!(
                outcome(datagrams),
                want,
                "{:?}",
                datagrams.iter().map(|(_, ms)| ms).collect::<Vec<_>>()
            );
        }
    }

    /// A TCP SYN from the attempt's client to its server just before the attempt (a
    /// browser racing the two) is its fallback once answered, as is one after it; one
    /// from long before, or to another server, is not, nor is one never answered.
    #[test]
    fn a_syn_just_before_the_attempt_is_its_fallback_once_answered() {
        let (client, server) = endpoints();
        let tcp_client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let other: SocketAddr = "10.0.0.3:443".parse().unwrap();
        let hello = initial(&[7; 8], &[], false, &HELLO_START);
        // SYNs from successive client ports at these times (ms), the answered ones
        // already answered when the attempt starts at 1000 ms.
        let fallback = |syns: &[(SocketAddr, i64, bool)]| {
            let mut table = QuicTable::default();
            let port = |i: usize| SocketAddr::new(tcp_client.ip(), 40000 + i as u16);
            for (i, (to, ms, _)) in syns.iter().enumerate() {
                assert_eq!(
                    table.on_tcp_syn(port(i), *to, at_ms(i as u64 + 1, *ms)),
                    None
                );
            }
            let key = table.on_datagram(client, server, &hello, at_ms(100, 1000));
            table.answer_raced(|c, s| {
                syns.iter()
                    .enumerate()
                    .any(|(i, (to, _, answered))| *answered && port(i) == c && *to == s)
            });
            table.flows[&key.expect("an attempt")].tcp_fallback
        };
        assert_eq!(fallback(&[(server, 994, true)]), Some(at_ms(1, 994)));
        assert_eq!(
            fallback(&[(server, 500, true), (server, 950, true)]),
            Some(at_ms(2, 950))
        );
        assert_eq!(fallback(&[(server, 950, false)]), None);
        assert_eq!(
            fallback(&[(server, 950, true), (server, 960, false)]),
            Some(at_ms(1, 950))
        );
        assert_eq!(fallback(&[(server, 500, true)]), None);
        assert_eq!(fallback(&[(other, 999, true)]), None);

        // After the attempt started: awaited, the fallback once the server answers it; a
        // SYN refused (never answered) is none, another connection answered is.
        let mut table = QuicTable::default();
        let key = table
            .on_datagram(client, server, &hello, at_ms(1, 0))
            .unwrap();
        let (refused, answered) = (tcp_client, SocketAddr::new(tcp_client.ip(), 40001));
        assert_eq!(
            table.on_tcp_syn(refused, server, at_ms(2, 3000)),
            Some(at_ms(1, 0))
        );
        assert_eq!(table.flows[&key].tcp_fallback, None);
        // An answer to another client's connection, or from another server, is not its.
        table.on_tcp_syn_ack(server, "10.0.0.9:40000".parse().unwrap());
        table.on_tcp_syn_ack(other, refused);
        assert_eq!(table.flows[&key].tcp_fallback, None);
        assert_eq!(
            table.on_tcp_syn(answered, server, at_ms(3, 3200)),
            Some(at_ms(1, 0))
        );
        table.on_tcp_syn_ack(server, answered);
        assert_eq!(table.flows[&key].tcp_fallback, Some(at_ms(3, 3200)));
        assert!(table.syn_acks_awaited.is_empty());
        // Waited for, the attempt is over once the answer came (a client's close).
        assert!(table.candidates.contains(&key));
    }

    /// An attempt waits for a bounded number of SYNs, and forgets them when it ends.
    #[test]
    fn awaited_syns_are_bounded_and_forgotten() {
        let (client, server) = endpoints();
        let hello = initial(&[7; 8], &[], false, &HELLO_START);
        let mut table = QuicTable::default();
        let key = table
            .on_datagram(client, server, &hello, at_ms(1, 0))
            .unwrap();
        for i in 0..100u16 {
            let from = SocketAddr::new(client.ip(), 30000 + i);
            table.on_tcp_syn(from, server, at_ms(2 + u64::from(i), 100 + i64::from(i)));
        }
        assert_eq!(table.flows[&key].pending_syns.len(), MAX_PENDING_SYNS);
        assert_eq!(table.syn_acks_awaited.len(), MAX_PENDING_SYNS);
        // The oldest ones are no longer waited for; the newest are.
        table.on_tcp_syn_ack(server, SocketAddr::new(client.ip(), 30000));
        assert_eq!(table.flows[&key].tcp_fallback, None);
        let flows = table.take_finished(at_ms(200, 100_000).ts, 1, true);
        assert_eq!(flows.len(), 1);
        assert!(table.syn_acks_awaited.is_empty());
    }
}
