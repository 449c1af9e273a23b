//! One capture from bytes to records: walk the packets, decode, feed the flow table,
//! build server profiles from every connection, diagnose each handshake attempt and
//! hand its record on, in the order connections started. This is the library's entry
//! point; the CLI only chooses inputs and outputs.

mod engine;
mod output;
mod parallel;

pub use engine::Engine;
pub use engine::Shard;

/// How a capture is analyzed: the diagnosis's settings, and how the pass runs and which
/// records it makes.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Ports, timeouts and limits of the diagnosis (and of the flow table).
    pub diagnosis: diagnose::Settings,
    /// Keep copies of the packets of failing handshakes (`--write`).
    pub keep_failing_packets: bool,
    /// Worker threads for one capture (1: all on the calling thread).
    pub threads: usize,
    /// Captures smaller than this are analyzed on one thread.
    pub parallel_min_bytes: usize,
    /// Memory-map capture files instead of reading them in chunks.
    pub memory_map: bool,
    /// Render each record's JSON line where it is made (`Finished::json_line`).
    pub render_json: bool,
    /// How much each JSON line carries (`--detail`).
    pub detail: DetailLevel,
    /// With `render_json`: nothing reads the records but as JSON lines (no summary,
    /// JUnit or examples), so `Finished` carries the line only and the record is freed
    /// where it was made.
    pub json_only: bool,
    /// Make the records of successful handshakes (off when the output only counts them).
    pub ok_records: bool,
    /// Key logs (`--keylog`): connections whose client random they hold are opened.
    pub keys: Option<Arc<crate::keys::KeyLog>>,
    /// Counters the pass bumps as it goes (a progress meter reads them).
    pub progress: Option<Arc<crate::progress::Progress>>,
    /// The report shows only some failures of each code (and nothing else reads the
    /// records): a failure whose code has shown its share is only counted, its record
    /// never made (not with `render_json`). One per capture, shared with the report's
    /// collector.
    pub examples: Option<Arc<ExampleBudget>>,
    /// Server profiles drawn from more than this capture (rolling captures of one
    /// network: a server's other connections may sit in another file). The verdicts
    /// that cite profiles read these instead of the capture's own, which they must
    /// include (`Profiles::merge` of every file's `CaptureReport::profiles`).
    pub server_profiles: Option<Arc<diagnose::Profiles>>,
    /// Return the capture's profiles whole in `CaptureReport::profiles`.
    pub keep_profiles: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            diagnosis: diagnose::Settings::default(),
            keep_failing_packets: false,
            threads: 1,
            memory_map: false,
            render_json: false,
            detail: DetailLevel::Compact,
            json_only: false,
            ok_records: true,
            keys: None,
            progress: None,
            examples: None,
            parallel_min_bytes: 4 * 1024 * 1024,
            server_profiles: None,
            keep_profiles: false,
        }
    }
}

use std::sync::Arc;

use crate::capture::{CaptureBytes, CaptureError, Source};
use crate::chunks::{PacketSource, StreamReader};
use crate::diagnose;
use crate::record::{CaptureReport, DetailLevel, ExampleBudget, Finished};
use parallel::{finish_capture, parallel_pass, InOrder, PUMP_EVERY};

/// Reads and analyzes one capture source, collecting every handshake record.
pub fn analyze_source(source: &Source, settings: &Settings) -> Result<CaptureReport, CaptureError> {
    let mut records = Vec::new();
    let mut report = analyze_source_into(source, settings, &mut |f| records.push(f))?;
    report.keep_all(records);
    Ok(report)
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
    let mut records = Vec::new();
    let mut report = analyze_bytes_into(bytes, name, settings, &mut |f| records.push(f))?;
    report.keep_all(records);
    Ok(report)
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
        engine.use_capture_secrets(source.secrets());
        let mut order = InOrder::new(1);
        while let Some(chunk) = source.next_chunk() {
            for at in &chunk.packets {
                engine.push(&at.packet(&chunk.bytes));
                // By frame, not by position in the chunk: the same points however the
                // capture is read.
                if at.frame % PUMP_EVERY == 0 {
                    engine.pump(name);
                    let watermark = engine.watermark();
                    order.offer(0, engine.drain_ready(), watermark, |f| sink(*f));
                }
            }
            if let Some(p) = &settings.progress {
                p.add(chunk.span, chunk.packets.len() as u64);
            }
            source.recycle(chunk);
        }
        // The capture is read: no secret will come any more.
        if let Some(log) = source.secrets() {
            log.set_growing(false);
        }
        return finish_capture(
            name,
            vec![engine.into_shard(name)],
            order,
            sink,
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
