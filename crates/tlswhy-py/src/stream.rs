//! An analysis running on threads of its own, its records handed on as Arrow record
//! batches through a bounded channel: memory holds a few batches, whatever the size of
//! the captures. Python reads them through the Arrow C stream interface.

use std::ffi::CStr;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::{ArrowError, SchemaRef};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule};
use rayon::prelude::*;

use crate::options::{options, Options};
use tlswhy::capture::Source;
use tlswhy::diagnose::Profiles;
use tlswhy::pipeline;
use tlswhy::record::{CaptureReport, Finished};
use tlswhy_arrow::RecordBatcher;

/// Batches waiting for the reader, at most.
const BATCHES_QUEUED: usize = 2;

const STREAM_NAME: &CStr = c"arrow_array_stream";
const SCHEMA_NAME: &CStr = c"arrow_schema";

/// One capture to analyze.
enum Input {
    /// A file, and the name its records give it (the path as given, else).
    File {
        path: PathBuf,
        name: Option<String>,
    },
    Bytes {
        name: String,
        bytes: Vec<u8>,
    },
}

impl Input {
    fn of(source: &Bound<'_, PyAny>, name: Option<&str>) -> PyResult<Input> {
        if let Ok(bytes) = source.cast::<PyBytes>() {
            return Ok(Input::Bytes {
                name: name.unwrap_or("<bytes>").to_string(),
                bytes: bytes.as_bytes().to_vec(),
            });
        }
        if let Ok(path) = source.extract::<PathBuf>() {
            return Ok(Input::File {
                path,
                name: name.map(str::to_string),
            });
        }
        Err(PyTypeError::new_err(
            "a capture is a path (str or os.PathLike) or bytes",
        ))
    }

    fn name(&self) -> String {
        match self {
            Input::File { path, name } => name
                .clone()
                .unwrap_or_else(|| Source::File(path.clone()).display_name()),
            Input::Bytes { name, .. } => name.clone(),
        }
    }

    /// Analyzes the capture, handing each record to `sink`.
    fn analyze(
        &self,
        settings: &pipeline::Settings,
        sink: &mut (dyn FnMut(Finished) + Send),
    ) -> Result<CaptureReport, String> {
        let result = match self {
            Input::File { path, name: None } => {
                pipeline::analyze_source_into(&Source::File(path.clone()), settings, sink)
            }
            Input::File {
                path,
                name: Some(name),
            } => tlswhy::chunks::StreamReader::open(&Source::File(path.clone())).map(|packets| {
                let size = std::fs::metadata(path).map_or(usize::MAX, |m| m.len() as usize);
                pipeline::analyze_packets(packets, size, name, settings, sink)
            }),
            Input::Bytes { name, bytes } => {
                pipeline::analyze_bytes_into(bytes, name, settings, sink)
            }
        };
        result.map_err(|e| {
            // A capture's error names it already, but for some.
            let (name, message) = (self.name(), e.to_string());
            if message.starts_with(&name) {
                message
            } else {
                format!("{name}: {message}")
            }
        })
    }
}

/// One capture analyzed among several: its JSON lines, the records they are, the
/// records held for profiles, and its report.
type FileDone = (Vec<u8>, u64, u64, Result<CaptureReport, String>);

/// What an analysis found besides its records, known once they are all out.
#[derive(Default)]
struct Outcome {
    done: bool,
    records: u64,
    /// Records left out because their verdict cites server profiles (`cites_profiles=False`).
    held: u64,
    profiles: Option<Profiles>,
    damage: Vec<String>,
    errors: Vec<String>,
}

/// Which records go out.
fn wanted(f: &Finished, cites_profiles: Option<bool>) -> bool {
    cites_profiles.is_none_or(|c| f.cites_profiles == c)
}

/// Runs the analysis of `inputs`, sending batches of `rows` records on `out`.
fn run(
    inputs: Vec<Input>,
    opts: Options,
    rows: usize,
    out: SyncSender<Result<RecordBatch, ArrowError>>,
    outcome: Arc<Mutex<Outcome>>,
) {
    let mut batcher = match RecordBatcher::new(rows) {
        Ok(b) => b,
        Err(e) => {
            let _ = out.send(Err(ArrowError::ExternalError(Box::new(e))));
            return;
        }
    };
    let mut found = Outcome::default();
    let mut failed: Option<ArrowError> = None;
    let mut take_lines = |lines: &[u8], failed: &mut Option<ArrowError>| {
        if failed.is_some() {
            return;
        }
        let mut batches = Vec::new();
        match batcher.push_lines(lines, &mut batches) {
            Ok(()) => batches.into_iter().for_each(|b| {
                let _ = out.send(Ok(b));
            }),
            Err(e) => *failed = Some(ArrowError::ExternalError(Box::new(e))),
        }
    };
    let note = |found: &mut Outcome, report: Result<CaptureReport, String>| match report {
        Ok(mut r) => {
            if let Some(d) = &r.damage {
                found.damage.push(format!(
                    "{}: capture damaged {d}; analyzed up to there",
                    r.name
                ));
            }
            if let Some(p) = r.profiles.take() {
                found
                    .profiles
                    .get_or_insert_with(Profiles::default)
                    .merge(p);
            }
        }
        Err(e) => found.errors.push(e),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .thread_name(|i| format!("tlswhy-py-{i}"))
        .build();
    let mut work = || {
        if inputs.len() == 1 {
            // One capture: split between the workers by flow, records as they come.
            let settings = pipeline::Settings {
                threads: opts.threads,
                ..opts.settings.clone()
            };
            let mut lines = Vec::new();
            let (mut records, mut held) = (0, 0);
            let report = inputs[0].analyze(&settings, &mut |f| {
                if !wanted(&f, opts.cites_profiles) {
                    held += u64::from(f.cites_profiles);
                    return;
                }
                records += 1;
                if let Some(line) = &f.json_line {
                    lines.extend_from_slice(line);
                }
                if lines.len() >= 1 << 20 {
                    take_lines(&lines, &mut failed);
                    lines.clear();
                }
            });
            take_lines(&lines, &mut failed);
            found.records += records;
            found.held += held;
            note(&mut found, report);
            return;
        }
        // Several: side by side, `threads` at a time, records in input order.
        for group in inputs.chunks(opts.threads) {
            let done: Vec<FileDone> = group
                .par_iter()
                .map(|input| {
                    let settings = pipeline::Settings {
                        threads: 1,
                        ..opts.settings.clone()
                    };
                    let mut lines = Vec::new();
                    let (mut records, mut held) = (0, 0);
                    let report = input.analyze(&settings, &mut |f| {
                        if !wanted(&f, opts.cites_profiles) {
                            held += u64::from(f.cites_profiles);
                            return;
                        }
                        records += 1;
                        if let Some(line) = &f.json_line {
                            lines.extend_from_slice(line);
                        }
                    });
                    (lines, records, held, report)
                })
                .collect();
            for (lines, records, held, report) in done {
                take_lines(&lines, &mut failed);
                found.records += records;
                found.held += held;
                note(&mut found, report);
            }
        }
    };
    match &pool {
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
    // A capture that could not be read at all ends the stream with an error (after
    // the records of the others): pyarrow raises it.
    if failed.is_none() && !found.errors.is_empty() {
        failed = Some(ArrowError::IoError(
            found.errors.join("; "),
            std::io::Error::other("unreadable capture"),
        ));
    }
    match (failed, batcher.flush()) {
        (Some(e), _) => {
            let _ = out.send(Err(e));
        }
        (None, Ok(Some(batch))) => {
            let _ = out.send(Ok(batch));
        }
        (None, Ok(None)) => {}
        (None, Err(e)) => {
            let _ = out.send(Err(ArrowError::ExternalError(Box::new(e))));
        }
    }
    found.done = true;
    // The outcome is in place before the reader sees the end of the stream.
    *outcome.lock().unwrap_or_else(|e| e.into_inner()) = found;
    drop(out);
}

/// The receiving end, as Arrow's C stream exports it.
struct ChannelReader {
    schema: SchemaRef,
    batches: Receiver<Result<RecordBatch, ArrowError>>,
}

impl Iterator for ChannelReader {
    type Item = Result<RecordBatch, ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.batches.recv().ok()
    }
}

impl RecordBatchReader for ChannelReader {
    fn schema(&self) -> SchemaRef {
        SchemaRef::clone(&self.schema)
    }
}

/// An analysis of one or more captures (paths or bytes) under way. Its records are read
/// once, as an Arrow stream (`pyarrow.RecordBatchReader.from_stream(analysis)`); what it
/// found besides them (`profiles`, `held`, `damage`, `errors`) is known when the stream
/// has ended.
#[pyclass(module = "tlswhy._native")]
pub struct Analysis {
    batches: Mutex<Option<Receiver<Result<RecordBatch, ArrowError>>>>,
    outcome: Arc<Mutex<Outcome>>,
}

impl Analysis {
    fn outcome(&self) -> std::sync::MutexGuard<'_, Outcome> {
        self.outcome.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl Analysis {
    #[new]
    #[pyo3(signature = (sources, *, name=None, threads=None, detail="compact", timeout=3.0,
        flow_idle_timeout=None, max_flows=None, max_handshake_bytes=None, max_pending_bytes=None,
        max_chain=None, max_records=None, ports=Vec::new(), keylog=Vec::new(),
        server_profiles=None, keep_profiles=false, cites_profiles=None, batch_rows=8192))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        sources: Vec<Bound<'_, PyAny>>,
        name: Option<&str>,
        threads: Option<usize>,
        detail: &str,
        timeout: f64,
        flow_idle_timeout: Option<f64>,
        max_flows: Option<usize>,
        max_handshake_bytes: Option<usize>,
        max_pending_bytes: Option<usize>,
        max_chain: Option<usize>,
        max_records: Option<u64>,
        ports: Vec<u16>,
        keylog: Vec<String>,
        server_profiles: Option<Vec<u8>>,
        keep_profiles: bool,
        cites_profiles: Option<bool>,
        batch_rows: usize,
    ) -> PyResult<Analysis> {
        let inputs = sources
            .iter()
            .map(|s| Input::of(s, name))
            .collect::<PyResult<Vec<Input>>>()?;
        let opts = options(
            threads,
            detail,
            timeout,
            flow_idle_timeout,
            max_flows,
            max_handshake_bytes,
            max_pending_bytes,
            max_chain,
            max_records,
            ports,
            keylog,
            server_profiles,
            keep_profiles,
            cites_profiles,
        )?;
        let (tx, rx) = mpsc::sync_channel(BATCHES_QUEUED);
        let outcome = Arc::new(Mutex::new(Outcome::default()));
        let theirs = Arc::clone(&outcome);
        std::thread::Builder::new()
            .name("tlswhy-py-analysis".into())
            .spawn(move || run(inputs, opts, batch_rows.max(1), tx, theirs))
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start the analysis: {e}")))?;
        Ok(Analysis {
            batches: Mutex::new(Some(rx)),
            outcome,
        })
    }

    /// The records as an Arrow C stream (PyCapsule "arrow_array_stream"); once.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        // The records have one schema; a consumer asking for another casts itself.
        let _ = requested_schema;
        let batches = self
            .batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("the records of an analysis are read once"))?;
        let reader = ChannelReader {
            schema: tlswhy_arrow::schema::record_schema(),
            batches,
        };
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, STREAM_NAME)
    }

    /// Every record has been read.
    #[getter]
    fn done(&self) -> bool {
        self.outcome().done
    }

    /// Records handed on.
    #[getter]
    fn records(&self) -> u64 {
        self.outcome().records
    }

    /// Records left out because their verdict cites server profiles
    /// (`cites_profiles=False`): the capture is to be analyzed again with the merged
    /// profiles (`server_profiles=`, `cites_profiles=True`).
    #[getter]
    fn held(&self) -> u64 {
        self.outcome().held
    }

    /// With `keep_profiles=True`, once done: the server profiles of the captures (bytes
    /// for `merge_profiles` and `server_profiles=`).
    #[getter]
    fn profiles<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        let outcome = self.outcome();
        outcome
            .profiles
            .as_ref()
            .map(|p| PyBytes::new(py, &p.to_bytes()))
    }

    /// Captures damaged (truncated, corrupt): analyzed up to the damage.
    #[getter]
    fn damage(&self) -> Vec<String> {
        self.outcome().damage.clone()
    }

    /// Captures that could not be read at all (the stream ended with their error).
    #[getter]
    fn errors(&self) -> Vec<String> {
        self.outcome().errors.clone()
    }
}

/// The records' Arrow schema, exported through `__arrow_c_schema__`.
#[pyclass(module = "tlswhy._native")]
pub struct ArrowSchema;

#[pymethods]
impl ArrowSchema {
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let schema = tlswhy_arrow::schema::record_schema();
        let ffi = FFI_ArrowSchema::try_from(schema.as_ref())
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        PyCapsule::new_with_value(py, ffi, SCHEMA_NAME)
    }
}

/// The records of `sources` as JSON Lines (bytes), for dicts; the same options as
/// `Analysis`. Unreadable captures raise.
#[pyfunction]
#[pyo3(signature = (sources, *, name=None, threads=None, detail="compact", timeout=3.0,
    flow_idle_timeout=None, max_flows=None, max_handshake_bytes=None, max_pending_bytes=None,
    max_chain=None, max_records=None, ports=Vec::new(), keylog=Vec::new(),
    server_profiles=None, cites_profiles=None))]
#[allow(clippy::too_many_arguments)]
pub fn analyze_json<'py>(
    py: Python<'py>,
    sources: Vec<Bound<'py, PyAny>>,
    name: Option<&str>,
    threads: Option<usize>,
    detail: &str,
    timeout: f64,
    flow_idle_timeout: Option<f64>,
    max_flows: Option<usize>,
    max_handshake_bytes: Option<usize>,
    max_pending_bytes: Option<usize>,
    max_chain: Option<usize>,
    max_records: Option<u64>,
    ports: Vec<u16>,
    keylog: Vec<String>,
    server_profiles: Option<Vec<u8>>,
    cites_profiles: Option<bool>,
) -> PyResult<Bound<'py, PyBytes>> {
    let inputs = sources
        .iter()
        .map(|s| Input::of(s, name))
        .collect::<PyResult<Vec<Input>>>()?;
    let opts = options(
        threads,
        detail,
        timeout,
        flow_idle_timeout,
        max_flows,
        max_handshake_bytes,
        max_pending_bytes,
        max_chain,
        max_records,
        ports,
        keylog,
        server_profiles,
        false,
        cites_profiles,
    )?;
    let lines = py.detach(move || {
        let run = || -> Result<Vec<u8>, String> {
            let settings = pipeline::Settings {
                threads: if inputs.len() == 1 { opts.threads } else { 1 },
                ..opts.settings.clone()
            };
            let files: Vec<Result<Vec<u8>, String>> = inputs
                .par_iter()
                .map(|input| {
                    let mut lines = Vec::new();
                    input.analyze(&settings, &mut |f| {
                        if let (true, Some(line)) = (wanted(&f, opts.cites_profiles), &f.json_line)
                        {
                            lines.extend_from_slice(line);
                        }
                    })?;
                    Ok(lines)
                })
                .collect();
            let mut all = Vec::new();
            for file in files {
                all.extend(file?);
            }
            Ok(all)
        };
        match rayon::ThreadPoolBuilder::new()
            .num_threads(opts.threads)
            .build()
        {
            Ok(pool) => pool.install(run),
            Err(_) => run(),
        }
    });
    let lines = lines.map_err(PyRuntimeError::new_err)?;
    Ok(PyBytes::new(py, &lines))
}
