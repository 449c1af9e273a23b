//! The streaming pass over one capture on several workers: each takes the packets of
//! its share of the flows from every chunk, in order; their records are put back in the
//! order connections started; at the end the shards' server profiles are merged and the
//! connections that waited for them are diagnosed.

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::engine::{Engine, Held, Shard};
use super::output::Output;
use crate::capture::{Damage, Packet, Timestamp};
use crate::chunks::PacketSource;
use crate::diagnose::{self, Profiles};
use crate::fanout::Fanout;
use crate::pipeline::Settings;
use crate::record::{CaptureReport, Finished, Stats};

/// The pass on `threads` workers, each taking its share of every chunk in order; then
/// the capture's end. `on_own_pool`: called on a rayon pool of exactly `threads` threads
/// that nothing else uses, whose threads run the workers; otherwise they are threads of
/// their own.
pub(super) fn parallel_pass(
    source: PacketSource<'_>,
    threads: usize,
    name: &str,
    settings: &Settings,
    sink: &mut (dyn FnMut(Finished) + Send),
    on_own_pool: bool,
) -> CaptureReport {
    let order = std::sync::Mutex::new(InOrder::new(threads));
    // Records leave `order` in order and reach the sink under a lock of its own, taken
    // before `order` is let go: a worker hands its records on (a JSON line copied, a
    // write into the output) while the other workers put theirs in order.
    let sink = std::sync::Mutex::new(sink);
    let secrets = source.secrets();
    let fanout = Fanout::new(source, threads, shard_of, settings.progress.as_deref());
    let work = |shard: usize, mut chunks: crate::fanout::Worker<'_, '_, '_>| -> Shard {
        // The flow table limit holds for the capture: each worker gets its share.
        let mut engine = Engine::new(settings);
        engine.use_capture_secrets(secrets.clone());
        engine.table.share_limit(threads);
        let mut watermark = 0;
        let mut released = Vec::new();
        while let Some(chunk) = chunks.next_chunk() {
            for packet in chunk.packets_of(shard) {
                engine.push(&packet);
            }
            drop(chunk);
            engine.pump(name);
            let now = engine.watermark();
            if engine.has_ready() || now != watermark {
                watermark = now;
                let ready = engine.drain_ready();
                let mut in_order = order.lock().unwrap_or_else(|e| e.into_inner());
                in_order.offer(shard, ready, now, |f| released.push(f));
                if !released.is_empty() {
                    let mut sink = sink.lock().unwrap_or_else(|e| e.into_inner());
                    drop(in_order);
                    for f in released.drain(..) {
                        (*sink)(*f);
                    }
                }
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
    let sink = sink.into_inner().unwrap_or_else(|e| e.into_inner());
    let source = fanout.into_source();
    if let Some(log) = source.secrets() {
        log.set_growing(false);
    }
    finish_capture(
        name,
        shards,
        order,
        sink,
        source.damage(),
        settings,
        source.capture_end(),
    )
}

/// Diagnoses connections once the capture is read, in start order, a chunk at a time
/// (in parallel within a chunk), handing each record to `out` with its connection's
/// first frame and whether its verdict cites server profiles. A chunk is handed on
/// while the next one is diagnosed: on the 200k-connection benchmark file, whose 12k
/// failures citing profiles wait for the end, this phase took 52 ms instead of 80 with
/// JSON Lines written to a file, 24 ms instead of 40 with the text report (2 threads).
fn diagnose_in_chunks(
    mut connections: Vec<Held>,
    name: &str,
    profiles: &Profiles,
    settings: &Settings,
    end: Timestamp,
    mut out: impl FnMut(u64, bool, Finished) + Send,
) {
    connections.sort_unstable_by_key(|(conn, _)| std::cmp::Reverse(conn.first.frame));
    // The chunk's verdicts first, then its records: each step's code stays in the
    // instruction cache (see `Engine::pump`).
    let diagnose_chunk = |chunk: Vec<Held>| -> Vec<(u64, bool, Finished)> {
        let diagnosed: Vec<_> = chunk
            .into_par_iter()
            .rev()
            .filter_map(|(conn, packets)| {
                let verdict = diagnose::diagnose(&conn, profiles, &settings.diagnosis, end)?;
                Some((conn, packets, verdict))
            })
            .collect();
        diagnosed
            .into_par_iter()
            .filter_map(|(mut conn, packets, verdict)| {
                let cites_profiles = verdict.reads.profile;
                let output = Output { name, settings };
                let finished = output.record(&mut conn, verdict, packets)?;
                Some((conn.first.frame, cites_profiles, finished))
            })
            .collect()
    };
    let next_chunk = |connections: &mut Vec<Held>| {
        connections.split_off(connections.len().saturating_sub(FINAL_CHUNK))
    };
    // Each chunk's records are handed on while the next chunk is diagnosed: writing
    // them out is one thread's work, which would otherwise leave the others idle.
    let mut diagnosed = Vec::new();
    loop {
        let chunk = next_chunk(&mut connections);
        let mut hand_on = |diagnosed: Vec<(u64, bool, Finished)>| {
            for (frame, cites_profiles, finished) in diagnosed {
                out(frame, cites_profiles, finished);
            }
        };
        if chunk.is_empty() {
            hand_on(diagnosed);
            return;
        }
        diagnosed = rayon::join(|| hand_on(diagnosed), || diagnose_chunk(chunk)).1;
    }
}

/// Connections diagnosed at a time once the capture is read: their records (~1 KB each
/// in JSON, ~4.5 KB with `--detail full`) are in memory until the chunk is handed on,
/// two chunks' worth while one is handed on and the next diagnosed, on top of the held
/// connections. 4096 added ~20 MB to the peak of a 200k-connection capture; 512 is as
/// fast.
const FINAL_CHUNK: usize = 512;

/// Packets between two looks for finished connections on one thread.
pub(super) const PUMP_EVERY: u64 = 256;

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
pub(super) struct InOrder {
    /// Boxed: a record is some 200 bytes, and a B-tree shifts its neighbours in the
    /// node at every insertion and removal (which took 3% of the analysis by value).
    pending: BTreeMap<u64, Box<Finished>>,
    watermarks: Vec<u64>,
}

impl InOrder {
    pub(super) fn new(workers: usize) -> InOrder {
        InOrder {
            pending: BTreeMap::new(),
            watermarks: vec![0; workers],
        }
    }

    /// Takes a worker's finished records and its new watermark; hands to `release`, in
    /// order, the records that no worker's unfinished connection comes before.
    pub(super) fn offer(
        &mut self,
        worker: usize,
        ready: impl IntoIterator<Item = (u64, Finished)>,
        watermark: u64,
        release: impl FnMut(Box<Finished>),
    ) {
        self.pending
            .extend(ready.into_iter().map(|(frame, f)| (frame, Box::new(f))));
        self.watermarks[worker] = watermark;
        let low = self.watermarks.iter().copied().min().unwrap_or(u64::MAX);
        self.release_before(low, release);
    }

    /// Hands to `release`, in order, the records of connections that started before
    /// `frame`.
    fn release_before(&mut self, frame: u64, mut release: impl FnMut(Box<Finished>)) {
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() >= frame {
                break;
            }
            release(entry.remove());
        }
    }
}

/// Merges the workers' shards: statistics, server profiles; diagnoses the connections
/// that waited for the whole capture (in parallel) and hands every record left to the
/// sink in order.
pub(super) fn finish_capture(
    name: &str,
    shards: Vec<Shard>,
    mut order: InOrder,
    sink: &mut (dyn FnMut(Finished) + Send),
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
        stats.quic_attempts += s.quic_attempts;
        stats.dtls_client_hellos += s.dtls_client_hellos;
        for (k, v) in s.unsupported_link_types {
            *stats.unsupported_link_types.entry(k).or_default() += v;
        }
        for (k, v) in s.undecoded_encapsulations {
            *stats.undecoded_encapsulations.entry(k).or_default() += v;
        }
        stats.evicted_connections += shard.evicted;
        end = end.max(shard.end);
        profiles.merge(shard.profiles);
        remaining.extend(shard.remaining);
        held.extend(shard.held_for_profiles);
        order.offer(i % workers, shard.ready, 0, |f| sink(*f));
    }
    // Profiles drawn from more files than this one, when given, include this one's.
    let cited = settings.server_profiles.as_deref().unwrap_or(&profiles);
    // Everything in order now waits only for these connections: diagnose them in start
    // order, a chunk at a time, each record going out after the waiting ones that
    // started before it. Those that cite server profiles go last, with the ones held
    // for the profiles: in start order too, merged a chunk at a time.
    let mut last = Vec::new();
    diagnose_in_chunks(remaining, name, cited, settings, end, |frame, cites, f| {
        if cites {
            last.push((frame, f));
        } else {
            order.release_before(frame, |f| sink(*f));
            sink(f);
        }
    });
    order.release_before(u64::MAX, |f| sink(*f));
    let mut last = last.into_iter().peekable();
    diagnose_in_chunks(held, name, cited, settings, end, |frame, _, f| {
        while let Some((_, earlier)) = last.next_if(|(e, _)| *e < frame) {
            sink(earlier);
        }
        sink(f);
    });
    for (_, f) in last {
        sink(f);
    }
    CaptureReport {
        name: name.to_string(),
        stats,
        damage,
        handshakes: Vec::new(),
        counts: BTreeMap::new(),
        warning_counts: BTreeMap::new(),
        end,
        failing_packets: Vec::new(),
        groups: Default::default(),
        servers: Default::default(),
        keys: Default::default(),
        timeline: Default::default(),
        server_profiles: profiles.summaries(crate::report::servers::MAX_SERVERS),
        profiles: settings.keep_profiles.then_some(profiles),
    }
}
