//! Running a case: on a thread of its own under `catch_unwind`, with a hang guard and a
//! count of the heap it holds; and the failures and figures of one test.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Once};
use std::time::{Duration, Instant};

use tlswhy::pipeline::analyze_bytes;
use tlswhy::pipeline::Settings;

use crate::cases::Cases;
use crate::fuzz_targets;
use crate::say;

/// A case still running after this long is a hang.
pub(crate) const CASE_LIMIT: Duration = Duration::from_secs(2);
/// After this many hangs a test stops (each one leaves a thread spinning).
pub(crate) const MAX_HANGS: usize = 3;
/// Failing cases listed in a test's failure message.
pub(crate) const LISTED_FAILURES: usize = 40;

thread_local! {
    static IN_CASE: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

pub(crate) fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".to_string()
    }
}

/// A panic inside a case is recorded (message and location) instead of printed.
pub(crate) fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_CASE.with(Cell::get) {
                let at = info
                    .location()
                    .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                let text = format!("'{}'{at}", payload_text(info.payload()));
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
            } else {
                previous(info);
            }
        }));
    });
}

pub(crate) enum Failure {
    Panic(String),
    Hang,
}

/// Runs `work` on its own thread under `catch_unwind`; gives up after [`CASE_LIMIT`].
pub(crate) fn guarded<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<(T, Duration), Failure> {
    install_panic_hook();
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("mutation-case".into())
        .spawn(move || {
            IN_CASE.with(|c| c.set(true));
            let start = Instant::now();
            let result = std::panic::catch_unwind(AssertUnwindSafe(work));
            let took = start.elapsed();
            let result = result.map_err(|payload| {
                LAST_PANIC
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_else(|| payload_text(&*payload))
            });
            let _ = tx.send((result, took));
        })
        .expect("spawn a case thread");
    match rx.recv_timeout(CASE_LIMIT) {
        Ok((Ok(value), took)) => Ok((value, took)),
        Ok((Err(panic), _)) => Err(Failure::Panic(panic)),
        Err(_) => Err(Failure::Hang),
    }
}

/// What one analysis gave: per handshake (client, server, first frame) its verdict code
/// and the frame of its connection's last packet.
pub(crate) type Key = (String, String, u64);

pub(crate) struct Outcome {
    pub(crate) verdicts: HashMap<Key, (String, u64)>,
    /// Most heap bytes held at once during the analysis.
    pub(crate) peak_heap: u64,
}

pub(crate) fn analyze_case(bytes: Vec<u8>) -> Result<(Option<Outcome>, Duration), Failure> {
    guarded(move || {
        let mut report = None;
        let used = allocation_counter::measure(|| {
            report = analyze_bytes(&bytes, "mutated", &Settings::default()).ok();
        });
        // Read as a stream in small chunks, the same input must give the same records
        // and the same damage (the command line reads files and pipes this way).
        fuzz_targets::assert_stream_matches("mutated", &bytes, 509, report.as_ref());
        let report = report?;
        // A verdict that rests on other connections of the server (its profile) may
        // change with connections after the damage: only the others are compared.
        let verdicts = report
            .handshakes
            .iter()
            .filter(|h| !h.verdict.reads.profile)
            .map(|h| {
                let key = (h.client.to_string(), h.server.to_string(), h.frame);
                (key, (h.verdict.code.as_str().to_string(), h.last_frame))
            })
            .collect();
        Some(Outcome {
            verdicts,
            peak_heap: used.bytes_max,
        })
    })
}

/// Failures and figures of one test.
#[derive(Default)]
pub(crate) struct Run {
    pub(crate) cases: usize,
    /// Verdicts of truncated captures compared with the unmutated capture's.
    pub(crate) compared: usize,
    pub(crate) failures: Vec<String>,
    pub(crate) hangs: usize,
    pub(crate) slowest: (Duration, String),
    /// The most heap one case held at once, and which case.
    pub(crate) most_heap: (u64, String),
}

/// Heap a mutated capture may make the analysis hold: a fixed allowance for the tables
/// and one certificate chain, plus a few times the capture (records, buffered
/// segments). Inflated length fields must not make it allocate what they claim.
pub(crate) fn heap_bound(capture_len: usize) -> u64 {
    8 * 1024 * 1024 + 8 * capture_len as u64
}

impl Run {
    /// Runs every case of one file; `check_verdicts` compares truncations with the
    /// unmutated capture.
    pub(crate) fn file(
        &mut self,
        label: &str,
        original: &[u8],
        cases: Cases,
        check_verdicts: bool,
    ) {
        let started = Instant::now();
        let baseline = match analyze_case(original.to_vec()) {
            Ok((outcome, _)) => outcome,
            Err(Failure::Panic(p)) => {
                self.failures
                    .push(format!("{label}: unmutated: panicked: {p}"));
                None
            }
            Err(Failure::Hang) => {
                self.failures.push(format!(
                    "{label}: unmutated: still running after {CASE_LIMIT:?}"
                ));
                self.hangs += 1;
                None
            }
        };
        let count = cases.list.len();
        for case in cases.list {
            if self.hangs >= MAX_HANGS {
                self.failures
                    .push(format!("{label}: stopped after {MAX_HANGS} hangs"));
                break;
            }
            self.cases += 1;
            let keep_before = case.keep_before;
            match analyze_case(case.bytes) {
                Err(Failure::Panic(p)) => self
                    .failures
                    .push(format!("{label}: {}: panicked: {p}", case.what)),
                Err(Failure::Hang) => {
                    self.hangs += 1;
                    self.failures.push(format!(
                        "{label}: {}: still running after {CASE_LIMIT:?}",
                        case.what
                    ));
                }
                Ok((outcome, took)) => {
                    if took > self.slowest.0 {
                        self.slowest = (took, format!("{label}: {}", case.what));
                    }
                    if let Some(o) = &outcome {
                        let bound = heap_bound(original.len());
                        if o.peak_heap > bound {
                            self.failures.push(format!(
                                "{label}: {}: held {} heap bytes at once, more than {bound}",
                                case.what, o.peak_heap
                            ));
                        }
                        if o.peak_heap > self.most_heap.0 {
                            self.most_heap = (o.peak_heap, format!("{label}: {}", case.what));
                        }
                    }
                    let (Some(base), Some(keep_before), true) =
                        (&baseline, keep_before, check_verdicts)
                    else {
                        continue;
                    };
                    let mutated = outcome.as_ref().map(|o| &o.verdicts);
                    for (key, (code, last)) in &base.verdicts {
                        if *last >= keep_before {
                            continue;
                        }
                        self.compared += 1;
                        let now = mutated.and_then(|m| m.get(key)).map(|(c, _)| c.as_str());
                        if now != Some(code.as_str()) {
                            self.failures.push(format!(
                                "{label}: {}: connection {} -> {} (frames {}..={last}, before \
                                 damaged frame {keep_before}) was {code}, now {}",
                                case.what,
                                key.0,
                                key.1,
                                key.2,
                                now.unwrap_or("not reported")
                            ));
                        }
                    }
                }
            }
        }
        let kinds: Vec<String> = cases
            .kinds
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        say(&format!(
            "mutation: {label}: {count} cases ({}) in {:.2} s",
            kinds.join(", "),
            started.elapsed().as_secs_f64()
        ));
    }

    pub(crate) fn finish(self, test: &str) {
        say(&format!(
            "mutation: {test}: {} cases, {} verdicts compared, slowest {:.0} ms ({}), most heap {} KiB ({})",
            self.cases,
            self.compared,
            self.slowest.0.as_secs_f64() * 1e3,
            self.slowest.1,
            self.most_heap.0 / 1024,
            self.most_heap.1
        ));
        if self.failures.is_empty() {
            return;
        }
        // Distinct panic locations first: many cases usually share one bug.
        let mut distinct: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &self.failures {
            if let Some(i) = f.find("panicked: ") {
                *distinct.entry(&f[i + 10..]).or_default() += 1;
            }
        }
        let mut msg = format!("{test}: {} failing case(s)\n", self.failures.len());
        for (panic, n) in &distinct {
            msg.push_str(&format!("  {n} case(s) panicked: {panic}\n"));
        }
        for f in self.failures.iter().take(LISTED_FAILURES) {
            msg.push_str(&format!("  - {f}\n"));
        }
        if self.failures.len() > LISTED_FAILURES {
            msg.push_str(&format!(
                "  … {} more\n",
                self.failures.len() - LISTED_FAILURES
            ));
        }
        panic!("{msg}");
    }
}
