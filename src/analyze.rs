//! One capture from bytes to verdicts: walk the packets, decode, feed the flow table,
//! build server profiles from every connection, then diagnose each handshake attempt.
//! This is the library's entry point; the CLI only chooses inputs and outputs.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

use crate::capture::{CaptureBytes, CaptureError, Damage, Packet, PacketReader, Source, Timestamp};
use crate::decode::{Decoder, Skip};
use crate::diagnose::{self, Code, Profiles, Settings, Verdict};
use crate::flow::{key_of, At, Connection, FlowTable};
use crate::report::pcap::OwnedPacket;
use crate::tls::cert::CertFacts;
use crate::tls::conversation::{AlertFacts, Event, Malformed, Seen};
use crate::tls::hello::{ClientHelloFacts, ServerHelloFacts};
use crate::tls::suites::{suite_name, version_name};
use crate::tls::TlsFacts;

/// Counters for the summary line.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    pub packets: u64,
    pub bytes: u64,
    pub tcp_segments: u64,
    pub connections: u64,
    /// Packets whose headers did not parse.
    pub malformed_packets: u64,
    /// Packets of link types this tool does not decode, by link type name.
    pub unsupported_link_types: BTreeMap<String, u64>,
    /// Connections closed early because the flow table was full (`--max-flows`).
    pub evicted_connections: u64,
}

/// Everything found in one capture.
#[derive(Debug)]
pub struct CaptureReport {
    pub name: String,
    pub stats: Stats,
    /// The capture stopped making sense here; what came before was analyzed.
    pub damage: Option<Damage>,
    pub handshakes: Vec<Handshake>,
    pub end: Timestamp,
    /// With `Settings::keep_failing_packets`: the packets of every failing handshake,
    /// in capture order.
    pub failing_packets: Vec<OwnedPacket>,
}

/// One handshake attempt with its verdict: the JSON object of DESIGN.md.
#[derive(Clone, Debug, Serialize)]
pub struct Handshake {
    pub capture: String,
    #[serde(serialize_with = "ser_ts")]
    pub ts: Timestamp,
    pub client: String,
    pub server: String,
    pub sni: Option<String>,
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub established: bool,
    pub verdict: Verdict,
    /// Frame number of the connection's first packet.
    pub frame: u64,
    /// Frame number of the connection's last packet.
    pub last_frame: u64,
    pub alpn: Option<String>,
    pub client_hello: Option<ClientHelloJson>,
    pub server_hello: Option<ServerHelloFacts>,
    pub hello_retry_request: bool,
    pub certificates: Arc<Vec<CertFacts>>,
    pub alerts: Vec<AlertFacts>,
    pub tcp: crate::flow::TcpFacts,
    /// Bytes that did not parse, and directions that could not be followed.
    pub malformed: Vec<Seen<Malformed>>,
    /// The messages of the handshake in order (the ladder diagram).
    pub messages: Vec<Event>,
}

/// The ClientHello with suite names spelled out.
#[derive(Clone, Debug, Serialize)]
pub struct ClientHelloJson {
    pub frame: u64,
    pub cipher_suite_names: Vec<Cow<'static, str>>,
    #[serde(flatten)]
    pub facts: ClientHelloFacts,
}

fn ser_ts<S: serde::Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((ts.as_secs_f64() * 1e6).round() / 1e6)
}

/// Formats an endpoint as DESIGN.md says: `ip:port`, IPv6 in brackets.
pub fn endpoint(addr: std::net::SocketAddr) -> String {
    addr.to_string()
}

/// Reads and analyzes one capture source. Connections are diagnosed with `profiles`
/// merged with what this capture itself shows.
pub fn analyze_source(source: &Source, settings: &Settings) -> Result<CaptureReport, CaptureError> {
    let bytes = CaptureBytes::load(source)?;
    analyze_bytes(&bytes, &source.display_name(), settings)
}

/// Analyzes capture bytes already in memory, on `Settings::threads` workers.
pub fn analyze_bytes(
    bytes: &[u8],
    name: &str,
    settings: &Settings,
) -> Result<CaptureReport, CaptureError> {
    let mut reader = PacketReader::new(bytes, name)?;
    let threads = settings.threads.max(1);
    if threads == 1 || bytes.len() < settings.parallel_min_bytes {
        let mut engine = Engine::new(settings);
        for packet in reader.by_ref() {
            engine.push(&packet);
        }
        let damage = reader.damage().cloned();
        let capture_end = reader.capture_end();
        let settings = engine.settings;
        return Ok(build_report(
            name,
            vec![engine.into_shard()],
            damage,
            settings,
            capture_end,
        ));
    }
    let shards = std::thread::scope(|scope| {
        let mut senders = Vec::with_capacity(threads);
        let mut workers = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Packet<'_>>>(8);
            senders.push(tx);
            workers.push(scope.spawn(move || {
                let mut engine = Engine::new(settings);
                for batch in rx {
                    for packet in &batch {
                        engine.push(packet);
                    }
                }
                engine.into_shard()
            }));
        }
        let mut batches: Vec<Vec<Packet<'_>>> =
            (0..threads).map(|_| Vec::with_capacity(BATCH)).collect();
        for packet in reader.by_ref() {
            let shard = (shard_hash(&packet) % threads as u64) as usize;
            batches[shard].push(packet);
            if batches[shard].len() == BATCH {
                let full = std::mem::replace(&mut batches[shard], Vec::with_capacity(BATCH));
                // A worker only stops early by panicking, which the join reports.
                let _ = senders[shard].send(full);
            }
        }
        for (tx, batch) in senders.into_iter().zip(batches) {
            let _ = tx.send(batch);
        }
        workers
            .into_iter()
            .map(|w| w.join().expect("a worker panicked"))
            .collect::<Vec<_>>()
    });
    let damage = reader.damage().cloned();
    Ok(build_report(
        name,
        shards,
        damage,
        settings,
        reader.capture_end(),
    ))
}

/// Packets handed to a worker at a time.
const BATCH: usize = 512;

/// Which worker a packet goes to: a direction-free hash of its two IP addresses, so a
/// connection's packets — IP fragments included — stay on one worker, in capture order.
fn shard_hash(packet: &Packet<'_>) -> u64 {
    let Ok(ip) = crate::decode::ip_payload_of(packet.link_type, packet.data) else {
        return 0;
    };
    let word = |b: &[u8]| b.iter().fold(0u64, |h, &x| h.rotate_left(8) ^ x as u64);
    let (a, b) = match ip.first().map(|v| v >> 4) {
        Some(4) if ip.len() >= 20 => (word(&ip[12..16]), word(&ip[16..20])),
        Some(6) if ip.len() >= 40 => (word(&ip[8..24]), word(&ip[24..40])),
        _ => return 0,
    };
    let (lo, hi) = (a.min(b), a.max(b));
    (lo.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ hi).wrapping_mul(0xff51_afd7_ed55_8ccd) >> 17
}

/// What one worker's engine leaves once its packets are done.
pub struct Shard {
    stats: Stats,
    end: Timestamp,
    evicted: u64,
    connections: Vec<Connection>,
    log: Option<PacketLog>,
}

/// Merges the workers' shards: statistics, connections in start order, server
/// profiles over all of them; then diagnoses every connection (in parallel).
fn build_report(
    name: &str,
    shards: Vec<Shard>,
    damage: Option<Damage>,
    settings: &Settings,
    capture_end: Option<Timestamp>,
) -> CaptureReport {
    let mut stats = Stats::default();
    let mut end = capture_end.unwrap_or_default();
    let mut logs = Vec::with_capacity(shards.len());
    let mut connections: Vec<(usize, Connection)> = Vec::new();
    for (i, shard) in shards.into_iter().enumerate() {
        let s = shard.stats;
        stats.packets += s.packets;
        stats.bytes += s.bytes;
        stats.tcp_segments += s.tcp_segments;
        stats.malformed_packets += s.malformed_packets;
        for (k, v) in s.unsupported_link_types {
            *stats.unsupported_link_types.entry(k).or_default() += v;
        }
        stats.evicted_connections += shard.evicted;
        end = end.max(shard.end);
        connections.extend(shard.connections.into_iter().map(|c| (i, c)));
        logs.push(shard.log);
    }
    connections.sort_by_key(|(_, c)| c.first.frame);
    stats.connections = connections.len() as u64;
    let profiles = Profiles::build(connections.iter().map(|(_, c)| c));
    let verdicts: Vec<Option<Verdict>> = connections
        .par_iter()
        .map(|(_, conn)| diagnose::diagnose(conn, &profiles, settings, end))
        .collect();
    drop(profiles);
    let mut failing_packets = Vec::new();
    let mut handshakes = Vec::new();
    // Each connection is consumed as its record is made: the two never all coexist.
    for ((shard, mut conn), verdict) in connections.into_iter().zip(verdicts) {
        let Some(v) = verdict else { continue };
        if let (Some(log), true) = (&mut logs[shard], v.code != Code::Ok) {
            failing_packets.extend(log.take(&conn));
        }
        let facts = std::mem::take(&mut conn.tls.facts);
        handshakes.push(into_record(name, &conn, facts, v));
    }
    failing_packets.sort_by_key(|p| p.frame);
    CaptureReport {
        name: name.to_string(),
        stats,
        damage,
        handshakes,
        end,
        failing_packets,
    }
}

/// The per-packet path shared by files and live capture: decode, then the flow table.
pub struct Engine<'s> {
    decoder: Decoder,
    table: FlowTable,
    pub stats: Stats,
    /// Time of the latest packet.
    pub end: Timestamp,
    settings: &'s Settings,
    /// Copies of packets per connection, for `--write` (only when asked for).
    log: Option<PacketLog>,
}

/// Packets kept per connection until its verdict is known, within fixed caps.
#[derive(Default)]
struct PacketLog {
    flows: HashMap<(SocketAddr, SocketAddr), Vec<OwnedPacket>>,
    bytes: usize,
    /// Packets not kept because a cap was reached.
    dropped: u64,
}

/// Packets kept for one connection (`--write`): enough for any handshake.
const LOG_PACKETS_PER_CONNECTION: usize = 256;
/// Bytes kept for all connections together (`--write`).
const LOG_BYTES_TOTAL: usize = 256 * 1024 * 1024;

impl PacketLog {
    fn add(&mut self, key: (SocketAddr, SocketAddr), packet: &Packet<'_>) {
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

    /// Takes the packets of `conn` (its frame range), forgetting the rest of the flow.
    fn take(&mut self, conn: &Connection) -> Vec<OwnedPacket> {
        let Some(mut kept) = self.flows.remove(&conn.key()) else {
            return Vec::new();
        };
        self.bytes -= kept.iter().map(|p| p.data.len()).sum::<usize>();
        kept.retain(|p| p.frame >= conn.first.frame && p.frame <= conn.last.frame);
        kept
    }
}

impl<'s> Engine<'s> {
    pub fn new(settings: &'s Settings) -> Engine<'s> {
        Engine {
            decoder: Decoder::new(),
            table: FlowTable::new(settings.tls_ports.clone(), settings.limits),
            stats: Stats::default(),
            end: Timestamp(0),
            settings,
            log: settings.keep_failing_packets.then(PacketLog::default),
        }
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
                    log.add(key_of(seg.src, seg.dst), packet);
                }
                self.table.on_segment(
                    &seg,
                    At {
                        frame: packet.frame,
                        ts: packet.ts,
                    },
                );
            }
            Err(Skip::Malformed) => self.stats.malformed_packets += 1,
            Err(Skip::UnsupportedLinkType(lt)) => {
                *self
                    .stats
                    .unsupported_link_types
                    .entry(lt.name())
                    .or_default() += 1;
            }
            Err(Skip::NotTcp | Skip::FragmentHeld) => {}
        }
    }

    /// Streaming: diagnoses the connections whose outcome is known at `now` (decided,
    /// closed, or idle past the timeout; every open one when `flush`) and appends their
    /// handshake records to `out`, each with its packets when it failed and packets are
    /// kept. Server profiles grow as connections are reported.
    pub fn drain(
        &mut self,
        name: &str,
        now: Timestamp,
        flush: bool,
        profiles: &mut Profiles,
        out: &mut Vec<(Handshake, Vec<OwnedPacket>)>,
    ) {
        let settings = self.settings;
        let idle_ns = (settings.response_timeout * 1e9) as i64;
        let profiles = std::cell::RefCell::new(profiles);
        let log = &mut self.log;
        self.table.drain(
            now,
            idle_ns,
            |conn| flush || is_decided(conn, &profiles.borrow(), settings, now),
            |conn| {
                let mut profiles = profiles.borrow_mut();
                let kept = log.as_mut().map(|l| l.take(conn)).unwrap_or_default();
                if let Some(v) = diagnose::diagnose(conn, &profiles, settings, now) {
                    let kept = if v.code == Code::Ok { Vec::new() } else { kept };
                    out.push((handshake_record(name, conn, v), kept));
                }
                profiles.add(conn);
            },
        );
        self.stats.connections = self.table.started();
    }

    /// Packets `--write` could not keep because a cap was reached.
    pub fn packets_not_kept(&self) -> u64 {
        self.log.as_ref().map_or(0, |l| l.dropped)
    }

    /// End of input: diagnoses every connection with the profiles of the whole capture.
    pub fn finish(self, name: &str, damage: Option<Damage>) -> CaptureReport {
        let settings = self.settings;
        build_report(name, vec![self.into_shard()], damage, settings, None)
    }

    /// Closes every connection; what is left to merge with other workers' shards.
    pub fn into_shard(self) -> Shard {
        let evicted = self.table.evicted;
        Shard {
            stats: self.stats,
            end: self.end,
            evicted,
            connections: self.table.finish(),
            log: self.log,
        }
    }
}

/// Streaming: is this connection's verdict final already? Failures are final as soon
/// as they are diagnosed (an alert, a reset); success waits until data has flowed
/// both ways, or half a second of quiet, so a client's late rejection is not missed.
fn is_decided(conn: &Connection, profiles: &Profiles, settings: &Settings, now: Timestamp) -> bool {
    let Some(v) = diagnose::diagnose(conn, profiles, settings, now) else {
        return false;
    };
    match v.code {
        Code::IncompleteCapture => false,
        // Retransmitted SYNs keep the connection busy; the timeout runs from the first.
        Code::ConnectionTimeout => conn
            .tcp
            .syn
            .is_some_and(|syn| now.secs_since(syn.ts) >= settings.response_timeout),
        // Only diagnosed once the silence lasted the timeout.
        Code::NoResponseTimeout => true,
        Code::Ok => conn.tls.settled || now.secs_since(conn.last.ts) >= 0.5,
        _ => true,
    }
}

/// Diagnoses every connection that is a TLS attempt.
pub fn diagnose_all(
    name: &str,
    connections: &[Connection],
    profiles: &Profiles,
    settings: &Settings,
    end: Timestamp,
) -> Vec<Handshake> {
    connections
        .iter()
        .filter_map(|conn| {
            let verdict = diagnose::diagnose(conn, profiles, settings, end)?;
            Some(handshake_record(name, conn, verdict))
        })
        .collect()
}

/// The record of a connection still in use (live capture): its facts are copied.
fn handshake_record(name: &str, conn: &Connection, verdict: Verdict) -> Handshake {
    into_record(name, conn, conn.tls.facts.clone(), verdict)
}

/// The record of one handshake attempt, taking its TLS facts.
fn into_record(name: &str, conn: &Connection, f: TlsFacts, verdict: Verdict) -> Handshake {
    let sh = f.server_hello.as_ref().map(|s| &s.value);
    let established = match sh {
        Some(sh) if crate::tls::suites::version_rank(sh.version) >= 20 => f.encrypted[0]
            .first
            .first()
            .is_some_and(|(_, len)| *len != 19 && *len != 11),
        Some(_) => f.finished.iter().all(Option::is_some),
        None => false,
    } && !matches!(verdict.code, Code::IncompleteCapture);
    let version = sh.map(|s| version_name(s.version));
    let cipher = sh.map(|s| suite_name(s.cipher_suite).into_owned());
    let alpn = sh.and_then(|s| s.alpn.clone());
    let TlsFacts {
        client_hello,
        server_hello,
        hello_retry_request,
        server_certificates,
        alerts,
        malformed,
        events,
        ..
    } = f;
    Handshake {
        capture: name.to_string(),
        ts: conn.first.ts,
        client: endpoint(conn.client),
        server: endpoint(conn.server),
        sni: client_hello
            .as_ref()
            .and_then(|c| c.value.server_name.clone()),
        version,
        cipher,
        established,
        verdict,
        frame: conn.first.frame,
        last_frame: conn.last.frame,
        alpn,
        client_hello: client_hello.map(|c| ClientHelloJson {
            frame: c.at.frame,
            cipher_suite_names: c
                .value
                .cipher_suites
                .iter()
                .map(|&s| suite_name(s))
                .collect(),
            facts: c.value,
        }),
        server_hello: server_hello.map(|s| s.value),
        hello_retry_request: hello_retry_request.is_some(),
        certificates: server_certificates
            .map(|c| c.value.certificates)
            .unwrap_or_default(),
        alerts,
        tcp: conn.tcp.clone(),
        malformed,
        messages: events,
    }
}

/// Expands command-line paths: files as given, folders recursed for capture files
/// (`.pcap`, `.pcapng`, `.cap`, `.dmp`, optionally `.gz`), sorted by path.
pub fn expand_inputs(paths: &[PathBuf]) -> Vec<Result<Source, String>> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            out.push(Ok(Source::Stdin));
        } else if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found, &mut out);
            found.sort();
            out.extend(found.into_iter().map(|p| Ok(Source::File(p))));
        } else if path.exists() {
            out.push(Ok(Source::File(path.clone())));
        } else {
            out.push(Err(format!(
                "{}: no such file or directory",
                path.display()
            )));
        }
    }
    out
}

/// True for names that hold captures.
pub fn is_capture_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".pcap", ".pcapng", ".cap", ".dmp", ".ntar"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>, errors: &mut Vec<Result<Source, String>>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(Err(format!("{}: {e}", dir.display())));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, found, errors),
            Ok(_) if is_capture_name(&path) => found.push(path),
            _ => {}
        }
    }
}
