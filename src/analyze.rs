//! One capture from bytes to verdicts: walk the packets, decode, feed the flow table,
//! build server profiles from every connection, then diagnose each handshake attempt.
//! This is the library's entry point; the CLI only chooses inputs and outputs.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

use crate::capture::{CaptureBytes, CaptureError, Damage, Packet, Source, Timestamp};
use crate::chunks::{PacketSource, StreamReader};
use crate::connection::{Connection, FlowTable};
use crate::decode::{Decoder, Skip};
use crate::diagnose::{self, Code, Profiles, Settings, Verdict};
use crate::fanout::Fanout;
use crate::flow::{key_of, At};
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
    /// The records kept (all of them from [`analyze_bytes`]; a [`Collector`] may keep
    /// fewer), in the order the analysis produced them.
    pub handshakes: Vec<Handshake>,
    /// Every handshake attempt by verdict code, kept or not.
    pub counts: BTreeMap<Code, u64>,
    pub end: Timestamp,
    /// With `Settings::keep_failing_packets`: the packets of every failing handshake,
    /// in capture order.
    pub failing_packets: Vec<OwnedPacket>,
}

/// One handshake attempt with its verdict: the JSON object of DESIGN.md (serialized by
/// `report::json`, which words the verdict).
#[derive(Clone, Debug)]
pub struct Handshake {
    pub capture: String,
    pub ts: Timestamp,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub sni: Option<String>,
    pub version: Option<Cow<'static, str>>,
    pub cipher: Option<Cow<'static, str>>,
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

impl Handshake {
    /// What the verdict's words need: the server and the connection's start.
    pub fn wording_context(&self) -> crate::report::wording::Context {
        crate::report::wording::Context {
            server: self.server,
            start: self.ts,
        }
    }

    /// The verdict's summary, worded (`report::wording`).
    pub fn summary(&self) -> String {
        crate::report::wording::summary(&self.verdict, &self.wording_context())
    }

    /// The verdict's evidence, worded.
    pub fn evidence(&self) -> Vec<String> {
        crate::report::wording::evidence(&self.verdict, &self.wording_context())
    }

    /// The verdict's fix, worded.
    pub fn fix(&self) -> String {
        crate::report::wording::fix(&self.verdict, &self.wording_context())
    }
}

/// One handshake record as the pass produces it, with the packets of its connection
/// when it failed and `Settings::keep_failing_packets` is on.
#[derive(Debug)]
pub struct Finished {
    /// The verdict's code.
    pub code: Code,
    /// The record; `None` for a successful handshake when `Settings::ok_records` is off,
    /// for a failure the report will not show (`Settings::examples`), and for every one
    /// with `Settings::json_only`.
    /// Boxed: records wait in order, and a small `Finished` is cheap to move.
    pub handshake: Option<Box<Handshake>>,
    pub packets: Vec<OwnedPacket>,
    /// With `Settings::render_json`: the record's JSON line (newline included), made on
    /// the worker that diagnosed it, so serializing runs in parallel too.
    pub json_line: Option<Vec<u8>>,
}

/// Reads and analyzes one capture source, collecting every handshake record.
pub fn analyze_source(source: &Source, settings: &Settings) -> Result<CaptureReport, CaptureError> {
    let mut kept = Collector::new(Keep::All);
    let report = analyze_source_into(source, settings, &mut |f| kept.add(f))?;
    Ok(kept.into_report(report))
}

/// Reads and analyzes one capture source, handing each record to `sink` as soon as it is
/// known (see [`analyze_packets`]). A file is read in 1 MiB chunks — or memory-mapped
/// with `Settings::memory_map` — standard input and gzip always in chunks.
pub fn analyze_source_into(
    source: &Source,
    settings: &Settings,
    sink: &mut (dyn FnMut(Finished) + Send),
) -> Result<CaptureReport, CaptureError> {
    let name = source.display_name();
    if settings.memory_map && matches!(source, Source::File(_)) {
        let bytes = CaptureBytes::load(source)?;
        let size = bytes.len();
        let packets = PacketSource::memory(&bytes, &name)?;
        return Ok(analyze_packets(packets, size, &name, settings, sink));
    }
    let size = match source {
        Source::File(path) => std::fs::metadata(path).map_or(usize::MAX, |m| m.len() as usize),
        Source::Stdin => usize::MAX,
    };
    let packets = StreamReader::open(source)?;
    Ok(analyze_packets(packets, size, &name, settings, sink))
}

/// Analyzes capture bytes already in memory, collecting every handshake record (and the
/// packets of the failing ones) in the report.
pub fn analyze_bytes(
    bytes: &[u8],
    name: &str,
    settings: &Settings,
) -> Result<CaptureReport, CaptureError> {
    let mut kept = Collector::new(Keep::All);
    let report = analyze_bytes_into(bytes, name, settings, &mut |f| kept.add(f))?;
    Ok(kept.into_report(report))
}

/// [`analyze_packets`] over capture bytes already in memory.
pub fn analyze_bytes_into(
    bytes: &[u8],
    name: &str,
    settings: &Settings,
    sink: &mut (dyn FnMut(Finished) + Send),
) -> Result<CaptureReport, CaptureError> {
    let packets = PacketSource::memory(bytes, name)?;
    Ok(analyze_packets(packets, bytes.len(), name, settings, sink))
}
/// Which records a [`Collector`] keeps once it has counted them.
#[derive(Clone, Copy, Debug)]
pub enum Keep {
    /// Every record.
    All,
    /// The failures, at most `per_code` of each code, and — with `ok` — as many
    /// successes: enough for a report a person reads, in memory that does not grow with
    /// the capture.
    Examples { per_code: usize, ok: bool },
}

/// Counts the records of one capture and keeps those a report needs, with the packets
/// of the failing ones.
pub struct Collector {
    keep: Keep,
    handshakes: Vec<Handshake>,
    counts: BTreeMap<Code, u64>,
    packets: Vec<OwnedPacket>,
    budget: Option<Arc<ExampleBudget>>,
}

impl Collector {
    pub fn new(keep: Keep) -> Collector {
        let budget = match keep {
            Keep::All => None,
            Keep::Examples { .. } => Some(Arc::new(ExampleBudget::default())),
        };
        Collector {
            keep,
            handshakes: Vec::new(),
            counts: BTreeMap::new(),
            packets: Vec::new(),
            budget,
        }
    }

    /// What the analysis may skip because this collector will not keep it (see
    /// [`Settings::examples`]); `None` when it keeps every record.
    pub fn budget(&self) -> Option<Arc<ExampleBudget>> {
        self.budget.clone()
    }

    pub fn add(&mut self, f: Finished) {
        let code = f.code;
        let n = self.counts.entry(code).or_default();
        *n += 1;
        let keep = match self.keep {
            Keep::All => true,
            Keep::Examples { per_code, ok } => {
                if let Some(budget) = &self.budget {
                    if *n >= per_code as u64 && !budget.is_spent(code) {
                        budget.spend(code);
                    }
                }
                (ok || code != Code::Ok) && *n <= per_code as u64
            }
        };
        self.packets.extend(f.packets);
        if let (true, Some(h)) = (keep, f.handshake) {
            self.handshakes.push(*h);
        }
    }

    /// The report of the capture with what was kept.
    pub fn into_report(mut self, mut report: CaptureReport) -> CaptureReport {
        self.packets.sort_by_key(|p| p.frame);
        report.handshakes = self.handshakes;
        report.counts = self.counts;
        report.failing_packets = self.packets;
        report
    }
}

/// Which codes have shown their share of examples in a [`Collector`]: the records of
/// those codes that are still to come will only be counted. Records reach the collector
/// in their final order, so a code spent now stays spent for every later record.
#[derive(Debug, Default)]
pub struct ExampleBudget {
    spent: [AtomicBool; Code::ALL.len()],
}

impl ExampleBudget {
    fn spend(&self, code: Code) {
        self.spent[code as usize].store(true, Ordering::Relaxed);
    }

    /// True when a record of `code` made from now on would not be kept.
    pub fn is_spent(&self, code: Code) -> bool {
        self.spent[code as usize].load(Ordering::Relaxed)
    }
}

impl CaptureReport {
    /// Handshake attempts, kept or not.
    pub fn attempts(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Failed handshake attempts, kept or not.
    pub fn failed(&self) -> u64 {
        self.attempts() - self.counts.get(&Code::Ok).copied().unwrap_or(0)
    }
}

/// Analyzes the packets of one capture in one streaming pass on `Settings::threads`
/// workers (one when the capture is smaller than `Settings::parallel_min_bytes`; `size`
/// is its size in bytes, `usize::MAX` when unknown).
///
/// Records reach `sink` as connections end (closed, or idle for the flow idle timeout in
/// capture time), so memory follows the connections open at once, not the size of the
/// capture. Order: by the connection's first frame — except the verdicts that cite
/// other connections (server profiles), which can only be made once the whole capture
/// has been seen: those follow at the end, in the same order among themselves. The
/// order and the records are the same whatever the number of workers. The returned
/// report has the statistics; its `handshakes` stay empty.
pub fn analyze_packets(
    mut source: PacketSource<'_>,
    size: usize,
    name: &str,
    settings: &Settings,
    sink: &mut (dyn FnMut(Finished) + Send),
) -> CaptureReport {
    let threads = settings.threads.max(1);
    if threads == 1 || size < settings.parallel_min_bytes {
        let mut engine = Engine::new(settings);
        let mut order = InOrder::new(1, sink);
        while let Some(chunk) = source.next_chunk() {
            for at in &chunk.packets {
                engine.push(&at.packet(&chunk.bytes));
                // By frame, not by position in the chunk: the same points however the
                // capture is read.
                if at.frame % PUMP_EVERY == 0 {
                    engine.pump(name);
                    order.offer(0, engine.take_ready(), engine.watermark());
                }
            }
            if let Some(p) = &settings.progress {
                p.add(chunk.span, chunk.packets.len() as u64);
            }
            source.recycle(chunk);
        }
        return finish_capture(
            name,
            vec![engine.into_shard(name)],
            order,
            source.damage(),
            settings,
            source.capture_end(),
        );
    }
    // The workers run on a pool of their own, which also diagnoses what waited for the
    // end of the capture: the threads that made the held connections are still there
    // to work on them (when worker threads exited first, their teardown took a core
    // for the first milliseconds of that last step, and it ran at half speed).
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("tlswhy-worker-{i}"))
        .build()
    {
        Ok(pool) => pool.install(|| parallel_pass(source, threads, name, settings, sink, true)),
        Err(_) => parallel_pass(source, threads, name, settings, sink, false),
    }
}

/// The pass on `threads` workers, each taking its share of every chunk in order; then
/// the capture's end. `on_own_pool`: called on a rayon pool of exactly `threads` threads
/// that nothing else uses, whose threads run the workers; otherwise they are threads of
/// their own.
fn parallel_pass(
    source: PacketSource<'_>,
    threads: usize,
    name: &str,
    settings: &Settings,
    sink: &mut (dyn FnMut(Finished) + Send),
    on_own_pool: bool,
) -> CaptureReport {
    let order = std::sync::Mutex::new(InOrder::new(threads, sink));
    let fanout = Fanout::new(source, threads, shard_of, settings.progress.as_deref());
    let work = |shard: usize, mut chunks: crate::fanout::Worker<'_, '_, '_>| -> Shard {
        // The flow table limit holds for the capture: each worker gets its share.
        let mut engine = Engine::new(settings);
        engine.table.share_limit(threads);
        let mut watermark = 0;
        while let Some(chunk) = chunks.next_chunk() {
            for packet in chunk.packets_of(shard) {
                engine.push(&packet);
            }
            drop(chunk);
            engine.pump(name);
            let ready = engine.take_ready();
            let now = engine.watermark();
            if !ready.is_empty() || now != watermark {
                watermark = now;
                order
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .offer(shard, ready, now);
            }
        }
        engine.into_shard(name)
    };
    let shards: Vec<Shard> = if on_own_pool {
        // One job per worker on as many threads: every worker runs at once (they wait
        // for each other), and nothing else is queued on this pool.
        let mut done: Vec<Option<Shard>> = (0..threads).map(|_| None).collect();
        rayon::scope(|scope| {
            for (shard, slot) in done.iter_mut().enumerate() {
                let chunks = fanout.worker(shard);
                let work = &work;
                scope.spawn(move |_| *slot = Some(work(shard, chunks)));
            }
        });
        // A worker that panicked has made the scope panic already.
        done.into_iter().flatten().collect()
    } else {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|shard| {
                    let chunks = fanout.worker(shard);
                    let work = &work;
                    scope.spawn(move || work(shard, chunks))
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("a worker panicked"))
                .collect()
        })
    };
    let order = order.into_inner().unwrap_or_else(|e| e.into_inner());
    let source = fanout.into_source();
    finish_capture(
        name,
        shards,
        order,
        source.damage(),
        settings,
        source.capture_end(),
    )
}

/// Diagnoses connections once the capture is read, in start order, a chunk at a time
/// (in parallel within a chunk), handing each record to `out` with its connection's
/// first frame and whether its verdict cites server profiles.
fn diagnose_in_chunks(
    mut connections: Vec<Held>,
    name: &str,
    profiles: &Profiles,
    settings: &Settings,
    end: Timestamp,
    mut out: impl FnMut(u64, bool, Finished),
) {
    connections.sort_unstable_by_key(|(conn, _)| std::cmp::Reverse(conn.first.frame));
    while !connections.is_empty() {
        let chunk = connections.split_off(connections.len().saturating_sub(FINAL_CHUNK));
        let diagnosed: Vec<(u64, bool, Finished)> = chunk
            .into_par_iter()
            .rev()
            .filter_map(|(mut conn, packets)| {
                let (verdict, reads) = diagnose::diagnose_traced(&conn, profiles, settings, end);
                let output = Output { name, settings };
                let finished = output.record(&mut conn, verdict?, packets)?;
                Some((conn.first.frame, reads.profile, finished))
            })
            .collect();
        for (frame, cites_profiles, finished) in diagnosed {
            out(frame, cites_profiles, finished);
        }
    }
}

/// A finished connection waiting for its verdict, with the packets kept of it.
type Held = (Box<Connection>, Vec<OwnedPacket>);

/// Connections diagnosed at a time once the capture is read: their records (~4.5 KB
/// each in JSON) are all in memory until the chunk is handed on, on top of the held
/// connections. 4096 added ~20 MB to the peak of a 200k-connection capture; 512 is as
/// fast.
const FINAL_CHUNK: usize = 512;

/// Packets between two looks for finished connections on one thread.
const PUMP_EVERY: u64 = 256;

/// Which worker a packet goes to (modulo the number of workers): a direction-free hash
/// of its two IP addresses, so a connection's packets — IP fragments included — stay on
/// one worker, in capture order.
fn shard_of(packet: &Packet<'_>) -> usize {
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
    ((lo.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ hi).wrapping_mul(0xff51_afd7_ed55_8ccd) >> 17)
        as usize
}

/// Puts the workers' records back in the order their connections started: a record
/// goes out once no worker holds a connection that started before it (each worker's
/// *watermark* is the first frame of its oldest unfinished connection).
struct InOrder<'s> {
    pending: BTreeMap<u64, Finished>,
    watermarks: Vec<u64>,
    sink: &'s mut (dyn FnMut(Finished) + Send),
}

impl<'s> InOrder<'s> {
    fn new(workers: usize, sink: &'s mut (dyn FnMut(Finished) + Send)) -> InOrder<'s> {
        InOrder {
            pending: BTreeMap::new(),
            watermarks: vec![0; workers],
            sink,
        }
    }

    fn offer(&mut self, worker: usize, ready: Vec<(u64, Finished)>, watermark: u64) {
        self.pending.extend(ready);
        self.watermarks[worker] = watermark;
        let low = self.watermarks.iter().copied().min().unwrap_or(u64::MAX);
        self.release_before(low);
    }

    /// Hands on the records of connections that started before `frame`.
    fn release_before(&mut self, frame: u64) {
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() >= frame {
                break;
            }
            (self.sink)(entry.remove());
        }
    }
}

/// What one worker's engine leaves once its packets are done.
pub struct Shard {
    stats: Stats,
    end: Timestamp,
    evicted: u64,
    profiles: Profiles,
    /// Records made but not yet handed on.
    ready: Vec<(u64, Finished)>,
    /// Connections whose verdict needs the end of the capture, with their kept packets.
    remaining: Vec<Held>,
    /// Connections whose verdict cites the server profiles of the whole capture.
    held_for_profiles: Vec<Held>,
}

/// Merges the workers' shards: statistics, server profiles; diagnoses the connections
/// that waited for the whole capture (in parallel) and hands every record left to the
/// sink in order.
fn finish_capture(
    name: &str,
    shards: Vec<Shard>,
    mut order: InOrder<'_>,
    damage: Option<Damage>,
    settings: &Settings,
    capture_end: Option<Timestamp>,
) -> CaptureReport {
    let mut stats = Stats::default();
    let mut end = capture_end.unwrap_or_default();
    let mut profiles = Profiles::default();
    let mut remaining = Vec::new();
    let mut held = Vec::new();
    let workers = order.watermarks.len();
    for (i, shard) in shards.into_iter().enumerate() {
        let s = shard.stats;
        stats.packets += s.packets;
        stats.bytes += s.bytes;
        stats.tcp_segments += s.tcp_segments;
        stats.malformed_packets += s.malformed_packets;
        stats.connections += s.connections;
        for (k, v) in s.unsupported_link_types {
            *stats.unsupported_link_types.entry(k).or_default() += v;
        }
        stats.evicted_connections += shard.evicted;
        end = end.max(shard.end);
        profiles.merge(shard.profiles);
        remaining.extend(shard.remaining);
        held.extend(shard.held_for_profiles);
        order.offer(i % workers, shard.ready, 0);
    }
    // Everything in order now waits only for these connections: diagnose them in start
    // order, a chunk at a time, each record going out after the waiting ones that
    // started before it. Those that cite server profiles go last, with the ones held
    // for the profiles: in start order too, merged a chunk at a time.
    let mut last = Vec::new();
    diagnose_in_chunks(
        remaining,
        name,
        &profiles,
        settings,
        end,
        |frame, cites, f| {
            if cites {
                last.push((frame, f));
            } else {
                order.release_before(frame);
                (order.sink)(f);
            }
        },
    );
    order.release_before(u64::MAX);
    let mut last = last.into_iter().peekable();
    diagnose_in_chunks(held, name, &profiles, settings, end, |frame, _, f| {
        while let Some((_, earlier)) = last.next_if(|(e, _)| *e < frame) {
            (order.sink)(earlier);
        }
        (order.sink)(f);
    });
    for (_, f) in last {
        (order.sink)(f);
    }
    CaptureReport {
        name: name.to_string(),
        stats,
        damage,
        handshakes: Vec::new(),
        counts: BTreeMap::new(),
        end,
        failing_packets: Vec::new(),
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
    /// Connections already added to `Settings::progress`.
    connections_counted: u64,
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

    /// Takes the packets of `conn` (its frame range); later packets of the same
    /// addresses (a new connection on a reused 5-tuple) stay.
    fn take(&mut self, conn: &Connection) -> Vec<OwnedPacket> {
        let key = conn.key();
        let Some(kept) = self.flows.get_mut(&key) else {
            return Vec::new();
        };
        let later = kept.partition_point(|p| p.frame <= conn.last.frame);
        let rest = kept.split_off(later);
        let mut taken = std::mem::replace(kept, rest);
        if kept.is_empty() {
            self.flows.remove(&key);
        }
        self.bytes -= taken.iter().map(|p| p.data.len()).sum::<usize>();
        taken.retain(|p| p.frame >= conn.first.frame);
        taken
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
            profiles: Profiles::default(),
            ready: Vec::new(),
            held_for_end: Vec::new(),
            held_for_profiles: Vec::new(),
            expired: Vec::new(),
            connections_counted: 0,
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

    /// Offline streaming: diagnoses the connections that are over (closed, or idle for
    /// the flow idle timeout, in capture time) and frees them. Their records wait in
    /// [`Engine::take_ready`]; verdicts that need more than the connection are held.
    pub fn pump(&mut self, name: &str) {
        let now = self.end;
        let mut expired = std::mem::take(&mut self.expired);
        self.table.expire(now, &mut expired);
        for conn in expired.drain(..) {
            self.profiles.add(&conn);
            let packets = self.log.as_mut().map(|l| l.take(&conn)).unwrap_or_default();
            self.settle(name, conn, packets);
        }
        self.expired = expired;
        if let Some(p) = &self.settings.progress {
            p.add_connections(self.table.started() - self.connections_counted);
            self.connections_counted = self.table.started();
        }
        // The counterpart of `settle`'s hold: some horizon has been passed.
        if self
            .held_for_end
            .iter()
            .any(|(c, _)| diagnose::horizon(c, self.settings, now) < now)
        {
            for (conn, packets) in std::mem::take(&mut self.held_for_end) {
                self.settle(name, *conn, packets);
            }
        }
    }

    /// Makes the record of a finished connection, unless its verdict reads what only
    /// the rest of the capture can tell.
    fn settle(&mut self, name: &str, mut conn: Connection, packets: Vec<OwnedPacket>) {
        let none = Profiles::default();
        // The text, when left out, is only made for a verdict that goes out now (a held
        // connection is diagnosed again later).
        let (verdict, reads) = diagnose::diagnose_traced(&conn, &none, self.settings, self.end);
        if reads.profile {
            self.held_for_profiles.push((conn.into_held(), packets));
            return;
        }
        if reads.end && diagnose::horizon(&conn, self.settings, self.end) == self.end {
            // The horizon is not reached yet: the capture may go on longer.
            self.held_for_end.push((conn.into_held(), packets));
            return;
        }
        let output = Output {
            name,
            settings: self.settings,
        };
        if let Some(finished) = verdict.and_then(|v| output.record(&mut conn, v, packets)) {
            self.ready.push((conn.first.frame, finished));
        }
    }

    /// Connections held in memory: tracked by the flow table, or finished and waiting
    /// for the end of the capture.
    pub fn tracked(&self) -> usize {
        self.table.len() + self.held_for_end.len() + self.held_for_profiles.len()
    }

    /// The records made since the last call, with the first frame of each connection.
    pub fn take_ready(&mut self) -> Vec<(u64, Finished)> {
        std::mem::take(&mut self.ready)
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
    }

    /// Closes every connection; what is left to merge with other workers' shards.
    pub fn into_shard(mut self, name: &str) -> Shard {
        self.pump(name);
        let mut remaining = std::mem::take(&mut self.held_for_end);
        self.stats.connections = self.table.started();
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
        Code::Ok => conn.tls().settled || now.secs_since(conn.last.ts) >= 0.5,
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

/// What the record of a connection is made with.
struct Output<'a> {
    name: &'a str,
    settings: &'a Settings,
}

impl Output<'_> {
    /// The record of a finished connection, from a verdict of [`diagnose_for_output`],
    /// with its packets when it failed. Only counted: a success when their records are
    /// not made, and a failure the report will not show (see [`Settings::examples`]).
    /// Otherwise a failure gets its text (diagnosed again in full when it was left out).
    fn record(
        &self,
        conn: &mut Connection,
        verdict: Verdict,
        packets: Vec<OwnedPacket>,
    ) -> Option<Finished> {
        let settings = self.settings;
        let code = verdict.code;
        let counted_only = if code == Code::Ok {
            !settings.ok_records
        } else {
            // JSON Lines list every record, whatever a collector keeps.
            !settings.render_json && settings.examples.as_ref().is_some_and(|b| b.is_spent(code))
        };
        let packets = if code == Code::Ok {
            Vec::new()
        } else {
            packets
        };
        if counted_only {
            return Some(Finished {
                code,
                handshake: None,
                packets,
                json_line: None,
            });
        }
        let facts = conn.take_tls_facts();
        let handshake = into_record(self.name, conn, facts, verdict);
        let json_line = settings.render_json.then(|| json_line(&handshake));
        let keep_record = !(settings.render_json && settings.json_only);
        Some(Finished {
            code,
            handshake: keep_record.then(|| Box::new(handshake)),
            packets,
            json_line,
        })
    }
}

/// The record's JSON line, newline included, in an allocation of its exact size (lines
/// may wait for earlier connections' records; a grown buffer would be half empty).
fn json_line(handshake: &Handshake) -> Vec<u8> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        // Serializing plain data into memory does not fail.
        let _ = serde_json::to_writer(&mut *scratch, handshake);
        scratch.push(b'\n');
        scratch.as_slice().to_vec()
    })
}

/// The record of a connection still in use (live capture): its facts are copied.
fn handshake_record(name: &str, conn: &Connection, verdict: Verdict) -> Handshake {
    into_record(name, conn, conn.tls().facts.clone(), verdict)
}

/// The record of one handshake attempt, taking its TLS facts.
fn into_record(name: &str, conn: &Connection, f: TlsFacts, verdict: Verdict) -> Handshake {
    let sh = f.server_hello.as_ref().map(|s| &s.value);
    let established =
        diagnose::handshake_completed(&f) && !matches!(verdict.code, Code::IncompleteCapture);
    let version = sh.map(|s| version_name(s.version));
    let cipher = sh.map(|s| suite_name(s.cipher_suite));
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
        client: conn.client,
        server: conn.server,
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

/// True for gzip-compressed names (`.gz`).
pub fn is_gzip_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
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
