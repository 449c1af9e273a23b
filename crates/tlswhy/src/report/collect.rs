//! The report side's sink: counts every record of a capture and keeps those a report
//! needs ([`Keep`]), with the packets of the failing ones.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::capture::OwnedPacket;
use crate::diagnose::Code;
use crate::record::{CaptureReport, ExampleBudget, Finished, Handshake};

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
