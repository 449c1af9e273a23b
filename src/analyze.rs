//! One capture from bytes to verdicts: walk the packets, decode, feed the flow table,
//! build server profiles from every connection, then diagnose each handshake attempt.
//! This is the library's entry point; the CLI only chooses inputs and outputs.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// Connections kept for cross-capture profiles.
    pub connections: Vec<Connection>,
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
    pub cipher_suite_names: Vec<String>,
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

/// Analyzes capture bytes already in memory.
pub fn analyze_bytes(
    bytes: &[u8],
    name: &str,
    settings: &Settings,
) -> Result<CaptureReport, CaptureError> {
    let mut reader = PacketReader::new(bytes, name)?;
    let mut engine = Engine::new(settings);
    for packet in reader.by_ref() {
        engine.push(&packet);
    }
    let damage = reader.damage().cloned();
    Ok(engine.finish(name, damage))
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
    pub fn finish(mut self, name: &str, damage: Option<Damage>) -> CaptureReport {
        let mut stats = self.stats;
        let end = self.end;
        stats.evicted_connections = self.table.evicted;
        let connections = self.table.finish();
        stats.connections = connections.len() as u64;
        let profiles = Profiles::build(&connections);
        let mut failing_packets = Vec::new();
        let mut handshakes = Vec::new();
        for conn in &connections {
            let Some(v) = diagnose::diagnose(conn, &profiles, self.settings, end) else {
                continue;
            };
            if let (Some(log), true) = (&mut self.log, v.code != Code::Ok) {
                failing_packets.extend(log.take(conn));
            }
            handshakes.push(handshake_record(name, conn, v));
        }
        failing_packets.sort_by_key(|p| p.frame);
        CaptureReport {
            name: name.to_string(),
            stats,
            damage,
            handshakes,
            connections,
            end,
            failing_packets,
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

fn handshake_record(name: &str, conn: &Connection, verdict: Verdict) -> Handshake {
    let f = &conn.tls.facts;
    let sh = f.server_hello.as_ref().map(|s| &s.value);
    let established = match sh {
        Some(sh) if crate::tls::suites::version_rank(sh.version) >= 20 => f.encrypted[0]
            .first
            .first()
            .is_some_and(|(_, len)| *len != 19 && *len != 11),
        Some(_) => f.finished.iter().all(Option::is_some),
        None => false,
    } && !matches!(verdict.code, Code::IncompleteCapture);
    Handshake {
        capture: name.to_string(),
        ts: conn.first.ts,
        client: endpoint(conn.client),
        server: endpoint(conn.server),
        sni: f
            .client_hello
            .as_ref()
            .and_then(|c| c.value.server_name.clone()),
        version: sh.map(|s| version_name(s.version)),
        cipher: sh.map(|s| suite_name(s.cipher_suite)),
        established,
        verdict,
        frame: conn.first.frame,
        last_frame: conn.last.frame,
        alpn: sh.and_then(|s| s.alpn.clone()),
        client_hello: f.client_hello.as_ref().map(|c| ClientHelloJson {
            frame: c.at.frame,
            cipher_suite_names: c
                .value
                .cipher_suites
                .iter()
                .map(|&s| suite_name(s))
                .collect(),
            facts: c.value.clone(),
        }),
        server_hello: sh.cloned(),
        hello_retry_request: f.hello_retry_request.is_some(),
        certificates: f
            .server_certificates
            .as_ref()
            .map(|c| c.value.certificates.clone())
            .unwrap_or_default(),
        alerts: f.alerts.clone(),
        tcp: conn.tcp.clone(),
        malformed: f.malformed.clone(),
        messages: f.events.clone(),
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
