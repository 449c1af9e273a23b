//! The per-packet path shared by files and live capture: decode, the flow table, and
//! finished connections turned into records as soon as their verdict is final.

use std::collections::HashMap;
use std::sync::Arc;

use super::output::Output;
use crate::capture::OwnedPacket;
use crate::capture::{Packet, Timestamp};
use crate::connection::{Connection, FlowTable};
use crate::decode::{Decoder, Skip, Tunnel};
use crate::diagnose::{self, Code, Profiles, Verdict};
use crate::flow::{key_of, At, FlowKey};
use crate::keys::{KeyLog, KeySources};
use crate::pipeline::Settings;
use crate::quic::attempt::QuicOutcome;
use crate::quic::table::{QuicFlow, QuicTable};
use crate::record::{Finished, Stats};
use crate::tls::ConversationSetup;

/// A finished connection waiting for its verdict, with the packets kept of it.
pub(super) type Held = (Box<Connection>, Vec<OwnedPacket>);

/// What one worker's engine leaves once its packets are done.
pub struct Shard {
    pub(super) stats: Stats,
    pub(super) end: Timestamp,
    pub(super) evicted: u64,
    pub(super) profiles: Profiles,
    /// Records made but not yet handed on.
    pub(super) ready: Vec<(u64, Finished)>,
    /// Connections whose verdict needs the end of the capture, with their kept packets.
    pub(super) remaining: Vec<Held>,
    /// Connections whose verdict cites the server profiles of the whole capture.
    pub(super) held_for_profiles: Vec<Held>,
}

/// Live TCP connections read, in all, to find where the clients of unanswered QUIC
/// attempts stayed (a few milliseconds' work).
const TCP_BESIDE_BUDGET: usize = 1 << 22;

/// The per-packet path shared by files and live capture: decode, then the flow table.
pub struct Engine<'s> {
    decoder: Decoder,
    pub(super) table: FlowTable,
    /// QUIC connection attempts.
    quic: QuicTable,
    pub stats: Stats,
    /// Time of the latest packet.
    pub end: Timestamp,
    settings: &'s Settings,
    /// Copies of packets per connection, for `--write` (only when asked for).
    log: Option<PacketLog>,
    /// Offline streaming: what every finished connection showed about its server.
    profiles: Profiles,
    /// Records ready to hand on, by the first frame of their connection.
    ready: Vec<(u64, Finished)>,
    /// Finished connections whose verdict reads how long the capture went on after
    /// them, until it is known (the flow idle timeout passed, or the capture ended).
    held_for_end: Vec<Held>,
    /// Finished connections whose verdict cites other connections: diagnosed once the
    /// whole capture is seen.
    held_for_profiles: Vec<Held>,
    /// Connections just finished (reused between sweeps).
    expired: Vec<Connection>,
    /// Their verdicts, made before any of their records (reused between sweeps).
    verdicts: Vec<Option<Verdict>>,
    /// Live connections [`Engine::tcp_beside`] may still read.
    tcp_beside_budget: usize,
    /// Connections already added to `Settings::progress`.
    connections_counted: u64,
}

/// Packets kept per connection until its verdict is known, within fixed caps.
#[derive(Default)]
struct PacketLog {
    flows: HashMap<FlowKey, Vec<OwnedPacket>>,
    bytes: usize,
    /// Packets not kept because a cap was reached.
    dropped: u64,
}

/// Packets kept for one connection (`--write`): enough for any handshake.
const LOG_PACKETS_PER_CONNECTION: usize = 256;
/// Bytes kept for all connections together (`--write`).
const LOG_BYTES_TOTAL: usize = 256 * 1024 * 1024;

impl PacketLog {
    fn add(&mut self, key: FlowKey, packet: &Packet<'_>) {
        let kept = self.flows.entry(key).or_default();
        if kept.len() >= LOG_PACKETS_PER_CONNECTION
            || self.bytes + packet.data.len() > LOG_BYTES_TOTAL
        {
            self.dropped += 1;
            return;
        }
        self.bytes += packet.data.len();
        kept.push(OwnedPacket {
            frame: packet.frame,
            ts: packet.ts,
            link_type: packet.link_type,
            data: packet.data.to_vec(),
            orig_len: packet.orig_len,
        });
    }

    /// Takes the packets of `conn` (its frame range); later packets of the same
    /// addresses (a new connection on a reused 5-tuple) stay.
    fn take(&mut self, conn: &Connection) -> Vec<OwnedPacket> {
        self.take_frames(conn.key(), conn.first.frame, conn.last.frame)
    }

    /// Takes the packets kept under `key` from frame `first` to `last`.
    fn take_frames(&mut self, key: FlowKey, first: u64, last: u64) -> Vec<OwnedPacket> {
        let Some(kept) = self.flows.get_mut(&key) else {
            return Vec::new();
        };
        let later = kept.partition_point(|p| p.frame <= last);
        let rest = kept.split_off(later);
        let mut taken = std::mem::replace(kept, rest);
        if kept.is_empty() {
            self.flows.remove(&key);
        }
        self.bytes -= taken.iter().map(|p| p.data.len()).sum::<usize>();
        taken.retain(|p| p.frame >= first);
        taken
    }
}

/// What a finished connection's record waits for ([`Engine::waits`]).
enum Wait {
    /// The server profiles of the whole capture.
    Profiles,
    /// The end of the capture, which may come later than its verdict's horizon.
    End,
}

impl<'s> Engine<'s> {
    pub fn new(settings: &'s Settings) -> Engine<'s> {
        let mut engine = Engine {
            decoder: Decoder::new(),
            table: FlowTable::new(
                settings.diagnosis.tls_ports.clone(),
                settings.diagnosis.limits,
            ),
            quic: QuicTable::with_idle_timeout(settings.diagnosis.limits.flow_idle_ns()),
            stats: Stats::default(),
            end: Timestamp(0),
            settings,
            log: settings.keep_failing_packets.then(PacketLog::default),
            profiles: Profiles::default(),
            ready: Vec::new(),
            held_for_end: Vec::new(),
            held_for_profiles: Vec::new(),
            expired: Vec::new(),
            verdicts: Vec::new(),
            tcp_beside_budget: TCP_BESIDE_BUDGET,
            connections_counted: 0,
        };
        engine.use_capture_secrets(None);
        engine
    }

    /// The capture's own secrets (pcapng Decryption Secrets Blocks), beside the key
    /// logs of the settings, for the connections made from now on.
    pub fn use_capture_secrets(&mut self, secrets: Option<Arc<KeyLog>>) {
        let sources = KeySources {
            given: self.settings.keys.clone(),
            embedded: secrets,
        };
        self.quic.set_keys(sources.clone());
        self.table.set_setup(ConversationSetup {
            keys: sources,
            // The JSON records carry the JA4.
            fingerprints: self.settings.render_json,
        });
    }

    /// Takes one packet.
    pub fn push(&mut self, packet: &Packet<'_>) {
        self.stats.packets += 1;
        self.stats.bytes += packet.data.len() as u64;
        self.end = self.end.max(packet.ts);
        match self.decoder.decode(packet) {
            Ok(seg) => {
                self.stats.tcp_segments += 1;
                if let Some(log) = &mut self.log {
                    log.add(key_of(seg.src, seg.dst, seg.tunnel), packet);
                }
                let at = At {
                    frame: packet.frame,
                    ts: packet.ts,
                };
                // A client that gave up on QUIC connects over TCP to the same server (a
                // browser racing the two may connect just before: the table keeps it).
                let fallback = if seg.flags.syn && !seg.flags.ack {
                    self.quic.on_tcp_syn(seg.src, seg.dst, at)
                } else {
                    if seg.flags.syn {
                        // A fallback counts once the server answered it.
                        self.quic.on_tcp_syn_ack(seg.src, seg.dst);
                    }
                    None
                };
                self.table.on_segment(&seg, at);
                if let Some(quic) = fallback {
                    let key = key_of(seg.src, seg.dst, seg.tunnel);
                    if let Some(conn) = self.table.get_mut(&key) {
                        conn.rare_mut().fallback_from_quic = Some(quic);
                    }
                }
            }
            Err(Skip::Malformed) => self.stats.malformed_packets += 1,
            Err(Skip::UnsupportedLinkType(lt)) => {
                *self
                    .stats
                    .unsupported_link_types
                    .entry(lt.name())
                    .or_default() += 1;
            }
            Err(Skip::Undecoded(what)) => {
                *self
                    .stats
                    .undecoded_encapsulations
                    .entry(what.name())
                    .or_default() += 1;
            }
            Err(Skip::NotTcp) => {
                if let (Some(key), Some(log)) = (self.quic.on_packet(packet), &mut self.log) {
                    log.add(key, packet);
                }
                // A racing SYN's answer may have come before the attempt did.
                let table = &self.table;
                self.quic.answer_raced(|client, server| {
                    table.syn_answered(&key_of(client, server, Tunnel::NONE))
                });
            }
            Err(Skip::FragmentHeld) => {}
        }
    }

    /// The records of the QUIC attempts over at `now` (every one when `flush`).
    fn finish_quic(&mut self, name: &str, now: Timestamp, flush: bool) -> Vec<(u64, Finished)> {
        // Quiet for as long as a TCP connection is before it counts as over.
        let idle_ns = self.settings.diagnosis.limits.flow_idle_ns();
        let output = Output {
            name,
            settings: self.settings,
        };
        let finished = self.quic.take_finished(now, idle_ns, flush);
        let mut records = Vec::with_capacity(finished.len());
        for mut flow in finished {
            self.tcp_beside(&mut flow);
            let frame = flow.attempt.first.map_or(0, |at| at.frame);
            let last = flow.attempt.last.map_or(frame, |at| at.frame);
            let packets = match self.log.as_mut() {
                Some(log) => log.take_frames(flow.key(), frame, last),
                None => Vec::new(),
            };
            // Datagrams of another protocol shaped like an Initial of a version nobody
            // deployed, that nothing showed to be QUIC, were no attempt.
            if !flow.attempt.shows_quic() {
                self.quic.started -= 1;
                continue;
            }
            records.push((frame, output.quic_record(flow, packets)));
        }
        records
    }

    /// An unanswered attempt with no fallback seen: a TCP connection its client had
    /// open to the same server and port before it and that went on after it started is
    /// where the client stayed (Firefox learns a server's Alt-Svc over HTTP/2, tries
    /// HTTP/3 beside it and, unanswered, never closes the attempt nor opens another TCP
    /// connection). Each look reads every live connection; the looks of a capture read
    /// [`TCP_BESIDE_BUDGET`] of them at most, so crafted captures of many unanswered
    /// attempts cost no more than that.
    fn tcp_beside(&mut self, flow: &mut QuicFlow) {
        if flow.tcp_fallback.is_some()
            || self.tcp_beside_budget == 0
            || flow.attempt.outcome() != QuicOutcome::UdpBlocked
        {
            return;
        }
        let Some(first) = flow.attempt.first else {
            return;
        };
        self.tcp_beside_budget = self.tcp_beside_budget.saturating_sub(self.table.len());
        flow.tcp_fallback = self
            .table
            .in_use_since(flow.client.ip(), flow.server, first.ts);
    }

    /// Streaming: diagnoses the connections whose outcome is known at `now` (decided,
    /// closed, or idle past the timeout; every open one when `flush`) and appends their
    /// records to `out`, made as a file's are (see `Output::record`): each with its
    /// packets when it failed and packets are kept. Server profiles grow as connections
    /// are reported.
    pub fn drain(
        &mut self,
        name: &str,
        now: Timestamp,
        flush: bool,
        profiles: &mut Profiles,
        out: &mut Vec<Finished>,
    ) {
        let settings = self.settings;
        let idle_ns = (settings.diagnosis.response_timeout * 1e9) as i64;
        let profiles = std::cell::RefCell::new(profiles);
        let log = &mut self.log;
        let output = Output { name, settings };
        self.table.drain(
            now,
            idle_ns,
            |conn| flush || is_decided(conn, &profiles.borrow(), settings, now),
            |conn| {
                let mut profiles = profiles.borrow_mut();
                let kept = log.as_mut().map(|l| l.take(conn)).unwrap_or_default();
                let verdict = diagnose::diagnose(conn, &profiles, &settings.diagnosis, now);
                // The profile learns from the connection before its record takes the facts.
                profiles.add(conn);
                if let Some(finished) = verdict.and_then(|v| output.record(conn, v, kept)) {
                    out.push(finished);
                }
            },
        );
        if !self.quic.is_empty() {
            out.extend(
                self.finish_quic(name, now, flush)
                    .into_iter()
                    .map(|(_, f)| f),
            );
        }
        self.stats.connections = self.table.started();
        self.stats.quic_attempts = self.quic.started;
        self.stats.dtls_client_hellos = self.quic.dtls_client_hellos;
    }

    /// Packets `--write` could not keep because a cap was reached.
    pub fn packets_not_kept(&self) -> u64 {
        self.log.as_ref().map_or(0, |l| l.dropped)
    }

    /// Offline streaming: diagnoses the connections that are over (closed, or idle for
    /// the flow idle timeout, in capture time) and frees them. Their records wait in
    /// [`Engine::take_ready`]; verdicts that need more than the connection are held.
    pub fn pump(&mut self, name: &str) {
        let now = self.end;
        let mut expired = std::mem::take(&mut self.expired);
        self.table.expire(now, &mut expired);
        // One step at a time over all of them (profiles, verdicts, records), not all
        // the steps for one connection after the other: each step's code then stays in
        // the instruction cache. Step after step per connection, the record's code (the
        // JSON line above all) pushed the diagnosis out of it: with JSON Lines the
        // analysis missed the instruction cache 2.3 times as often as with the text
        // report, 1.7 times as often since (benches/instructions.sh, CACHE=1).
        for conn in &expired {
            self.profiles.add(conn);
        }
        let mut verdicts = std::mem::take(&mut self.verdicts);
        verdicts.extend(expired.iter().map(|conn| self.verdict(conn)));
        if self.settings.ok_records {
            self.record_apart(name, &mut expired, &mut verdicts);
        } else {
            for (conn, verdict) in expired.drain(..).zip(verdicts.drain(..)) {
                let packets = self.packets_of(&conn);
                self.settle_diagnosed(name, conn, verdict, packets);
            }
        }
        self.verdicts = verdicts;
        self.expired = expired;
        if !self.quic.is_empty() {
            let done = self.finish_quic(name, now, false);
            self.ready.extend(done);
        }
        if let Some(p) = &self.settings.progress {
            p.add_connections(self.table.started() - self.connections_counted);
            self.connections_counted = self.table.started();
        }
        // The counterpart of `settle`'s hold: some horizon has been passed.
        if self
            .held_for_end
            .iter()
            .any(|(c, _)| diagnose::horizon(c, &self.settings.diagnosis, now) < now)
        {
            for (conn, packets) in std::mem::take(&mut self.held_for_end) {
                self.settle(name, *conn, packets);
            }
        }
    }

    /// The records of `expired` connections with their `verdicts`, when every
    /// connection gets one (a JSON line, say): made in a step of their own, and the
    /// connections freed in the next, as the two steps' code did not fit in the
    /// instruction cache together. Those that wait are moved out first, from the back,
    /// so that the connections and their verdicts stay side by side. (Out of line: the
    /// text report's sweep, which only counts successes, keeps one step.)
    #[inline(never)]
    fn record_apart(
        &mut self,
        name: &str,
        expired: &mut Vec<Connection>,
        verdicts: &mut Vec<Option<Verdict>>,
    ) {
        for i in (0..expired.len()).rev() {
            if let Some(wait) = self.waits(&expired[i], verdicts[i].as_ref()) {
                let conn = expired.swap_remove(i);
                verdicts.swap_remove(i);
                let packets = self.packets_of(&conn);
                self.hold(wait, conn, packets);
            }
        }
        for (conn, verdict) in expired.iter_mut().zip(verdicts.drain(..)) {
            let packets = self.packets_of(conn);
            self.record(name, conn, verdict, packets);
        }
        expired.clear();
    }

    /// Makes the record of a finished connection, unless its verdict reads what only
    /// the rest of the capture can tell.
    fn settle(&mut self, name: &str, conn: Connection, packets: Vec<OwnedPacket>) {
        let verdict = self.verdict(&conn);
        self.settle_diagnosed(name, conn, verdict, packets);
    }

    /// A finished connection's verdict without server profiles, at the current end of
    /// the capture.
    fn verdict(&self, conn: &Connection) -> Option<Verdict> {
        diagnose::diagnose(
            conn,
            &Profiles::default(),
            &self.settings.diagnosis,
            self.end,
        )
    }

    /// [`Engine::settle`] with the connection's verdict made ([`Engine::verdict`]).
    fn settle_diagnosed(
        &mut self,
        name: &str,
        mut conn: Connection,
        verdict: Option<Verdict>,
        packets: Vec<OwnedPacket>,
    ) {
        match self.waits(&conn, verdict.as_ref()) {
            Some(wait) => self.hold(wait, conn, packets),
            None => self.record(name, &mut conn, verdict, packets),
        }
    }

    /// Keeps a finished connection until what its record `wait`s for is known; it is
    /// diagnosed again then.
    fn hold(&mut self, wait: Wait, conn: Connection, packets: Vec<OwnedPacket>) {
        let held = (conn.into_held(), packets);
        match wait {
            Wait::Profiles => self.held_for_profiles.push(held),
            Wait::End => self.held_for_end.push(held),
        }
    }

    /// What a finished connection's record waits for, if anything: the server
    /// profiles its verdict read, or the end of a capture that may go on longer than
    /// the horizon its verdict read.
    fn waits(&self, conn: &Connection, verdict: Option<&Verdict>) -> Option<Wait> {
        let reads = verdict.map(|v| v.reads).unwrap_or_default();
        if reads.profile {
            Some(Wait::Profiles)
        } else if reads.end
            && diagnose::horizon(conn, &self.settings.diagnosis, self.end) == self.end
        {
            Some(Wait::End)
        } else {
            None
        }
    }

    /// The packets kept of a finished connection (`--write`), taken from the log.
    fn packets_of(&mut self, conn: &Connection) -> Vec<OwnedPacket> {
        self.log.as_mut().map(|l| l.take(conn)).unwrap_or_default()
    }

    /// Makes the record of a finished connection that waits for nothing.
    fn record(
        &mut self,
        name: &str,
        conn: &mut Connection,
        verdict: Option<Verdict>,
        packets: Vec<OwnedPacket>,
    ) {
        let output = Output {
            name,
            settings: self.settings,
        };
        if let Some(finished) = verdict.and_then(|v| output.record(conn, v, packets)) {
            self.ready.push((conn.first.frame, finished));
        }
    }

    /// Connections held in memory: tracked by the flow table, or finished and waiting
    /// for the end of the capture.
    pub fn tracked(&self) -> usize {
        self.table.len() + self.quic.len() + self.held_for_end.len() + self.held_for_profiles.len()
    }

    /// The records made since the last call, with the first frame of each connection.
    pub fn take_ready(&mut self) -> Vec<(u64, Finished)> {
        std::mem::take(&mut self.ready)
    }

    /// Whether records were made since they were last taken.
    pub(super) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The records made since the last call, moved out of a list that keeps its room
    /// for the next ones: a fresh list per call grew by doubling into memory the
    /// kernel had to zero first, a JSON run's every record passing through it.
    pub(super) fn drain_ready(&mut self) -> std::vec::Drain<'_, (u64, Finished)> {
        self.ready.drain(..)
    }

    /// First frame of the oldest connection whose record is still to come in order
    /// (`u64::MAX` when none).
    pub fn watermark(&self) -> u64 {
        self.held_for_end
            .iter()
            .map(|(c, _)| c.first.frame)
            .min()
            .unwrap_or(u64::MAX)
            .min(self.table.oldest_open())
            .min(self.quic.oldest_open())
    }

    /// Closes every connection; what is left to merge with other workers' shards.
    pub fn into_shard(mut self, name: &str) -> Shard {
        self.pump(name);
        let quic = self.finish_quic(name, self.end, true);
        self.ready.extend(quic);
        let mut remaining = std::mem::take(&mut self.held_for_end);
        self.stats.connections = self.table.started();
        self.stats.quic_attempts = self.quic.started;
        self.stats.dtls_client_hellos = self.quic.dtls_client_hellos;
        let evicted = self.table.evicted;
        let mut log = self.log;
        for conn in self.table.finish() {
            self.profiles.add(&conn);
            let packets = log.as_mut().map(|l| l.take(&conn)).unwrap_or_default();
            remaining.push((Box::new(conn), packets));
        }
        Shard {
            stats: self.stats,
            end: self.end,
            evicted,
            profiles: self.profiles,
            ready: self.ready,
            remaining,
            held_for_profiles: self.held_for_profiles,
        }
    }
}

/// Streaming: is this connection's verdict final already? Failures are final as soon
/// as they are diagnosed (an alert, a reset); success waits until data has flowed
/// both ways, or half a second of quiet, so a client's late rejection is not missed.
fn is_decided(conn: &Connection, profiles: &Profiles, settings: &Settings, now: Timestamp) -> bool {
    let Some(v) = diagnose::diagnose(conn, profiles, &settings.diagnosis, now) else {
        return false;
    };
    match v.code {
        Code::IncompleteCapture => false,
        // Retransmitted SYNs keep the connection busy; the timeout runs from the first.
        Code::ConnectionTimeout => conn
            .tcp
            .syn
            .is_some_and(|syn| now.secs_since(syn.ts) >= settings.diagnosis.response_timeout),
        // Only diagnosed once the silence lasted the timeout.
        Code::NoResponseTimeout => true,
        Code::Ok => conn.tls().settled || now.secs_since(conn.last.ts) >= 0.5,
        _ => true,
    }
}
