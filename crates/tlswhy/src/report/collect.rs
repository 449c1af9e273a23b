//! The report side's sink: counts every record of a capture — by code, by group of
//! alike failures and by server — and keeps those a report needs ([`Keep`]), with the
//! packets of the failing ones.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

use super::group::Groups;
use super::servers::ServerTable;
use super::timeline::Timeline;
use crate::capture::OwnedPacket;
use crate::diagnose::{Code, Warning};
use crate::record::{CaptureReport, ExampleBudget, Finished, Handshake};

/// Which records a [`Collector`] keeps once it has counted them.
#[derive(Clone, Copy, Debug)]
pub enum Keep {
    /// Every record.
    All,
    /// The first failure of each group (same code, server and SNI: see
    /// [`super::group`]) for the first `per_code` groups of each code, and — with `ok` —
    /// `per_code` successes: enough for a report a person reads, in memory that does not
    /// grow with the capture.
    Examples { per_code: usize, ok: bool },
}

/// Counts the records of one capture and keeps those a report needs, with the packets
/// of the failing ones.
pub struct Collector {
    keep: Keep,
    handshakes: Vec<Handshake>,
    counts: BTreeMap<Code, u64>,
    warning_counts: BTreeMap<Warning, u64>,
    keys: crate::record::KeyCounts,
    packets: Vec<OwnedPacket>,
    groups: Groups,
    servers: ServerTable,
    timeline: Timeline,
    /// Groups of each code with an example kept.
    examples: [usize; Code::ALL.len()],
    budget: Option<Arc<ExampleBudget>>,
    /// Recent handshake ids (for examples): a record whose ClientHello was seen moments
    /// ago on a connection to another server is another leg of the same handshake.
    recent: RecentHandshakes,
}

/// Handshakes seen last, by id, with where their kept record is: a relay's two legs
/// start moments apart, so a small direct-mapped table (a newer id takes an older one's
/// slot) finds them in fixed memory and constant time.
struct RecentHandshakes {
    /// Id, the index of the kept record, the server of the first leg.
    slots: Box<[(u64, Option<usize>, SocketAddr)]>,
}

/// The server of an empty slot.
const UNSPECIFIED: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));

/// Slots of [`RecentHandshakes`] (a power of two).
const RECENT_HANDSHAKES: usize = 4096;

impl Default for RecentHandshakes {
    fn default() -> Self {
        RecentHandshakes {
            // Id 0 marks an empty slot; a real id of 0 is only never matched.
            slots: vec![(0, None, UNSPECIFIED); RECENT_HANDSHAKES].into_boxed_slice(),
        }
    }
}

impl RecentHandshakes {
    fn slot(id: u64) -> usize {
        (id ^ (id >> 32)) as usize & (RECENT_HANDSHAKES - 1)
    }

    /// The kept record of `id` when it was seen going to another server than
    /// `server`: a relay's next leg. The same ClientHello sent again to the same server
    /// is a new attempt (scanners such as sslscan and testssl reuse their random).
    fn leg_of(&self, id: u64, server: SocketAddr) -> Option<Option<usize>> {
        let (seen, kept, first_server) = self.slots[Self::slot(id)];
        (seen == id && id != 0 && first_server != server).then_some(kept)
    }

    fn insert(&mut self, id: u64, kept: Option<usize>, server: SocketAddr) {
        self.slots[Self::slot(id)] = (id, kept, server);
    }
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
            warning_counts: BTreeMap::new(),
            keys: Default::default(),
            packets: Vec::new(),
            groups: Groups::default(),
            servers: ServerTable::default(),
            timeline: Timeline::default(),
            examples: [0; Code::ALL.len()],
            budget,
            recent: RecentHandshakes::default(),
        }
    }

    /// What the analysis may skip because this collector will not keep it (see
    /// [`crate::pipeline::Settings::examples`]); `None` when it keeps every record.
    pub fn budget(&self) -> Option<Arc<ExampleBudget>> {
        self.budget.clone()
    }

    pub fn add(&mut self, mut f: Finished) {
        // The report shows a relayed handshake once, with its path, and counts it once.
        if let (Keep::Examples { .. }, Some(id)) = (self.keep, f.handshake_id) {
            if let Some(first) = self.recent.leg_of(id, f.server) {
                self.packets.extend(f.packets);
                if let (Some(i), Some(h)) = (first, f.handshake) {
                    self.handshakes[i].legs.push((h.client, h.server));
                }
                return;
            }
        }
        let code = f.code;
        let n = f.tally(&mut self.counts, &mut self.warning_counts, &mut self.keys);
        // A record that comes as its JSON line alone (`Settings::json_only`: nothing
        // reads the records but as JSON lines) needs no groups or server rows.
        let json_only = f.json_line.is_some() && f.handshake.is_none();
        let opened = if json_only {
            None
        } else {
            self.servers.add(f.server, code, f.sni());
            self.timeline.add(f.ts, code != Code::Ok);
            self.groups.add(&mut f)
        };
        let keep = match self.keep {
            Keep::All => true,
            Keep::Examples { per_code, ok } if code == Code::Ok => {
                if n >= per_code as u64 {
                    self.spend(code);
                }
                ok && n <= per_code as u64
            }
            // A failure is kept as the example of the group it opened, for the first
            // `per_code` groups of its code.
            Keep::Examples { per_code, .. } => {
                let examples = &mut self.examples[code as usize];
                let keep = opened.is_some() && *examples < per_code;
                if keep {
                    *examples += 1;
                    if *examples >= per_code {
                        self.spend(code);
                    }
                }
                keep
            }
        };
        self.packets.extend(f.packets);
        let mut kept = None;
        if let (true, Some(h)) = (keep, f.handshake) {
            kept = Some(self.handshakes.len());
            if let Some(key) = &opened {
                self.groups.set_example(key, self.handshakes.len());
            }
            self.handshakes.push(*h);
        }
        if let (Keep::Examples { .. }, Some(id)) = (self.keep, f.handshake_id) {
            self.recent.insert(id, kept, f.server);
        }
    }

    /// The report of what was counted and kept so far, named `name` (live capture
    /// renders it while it goes on); without packets.
    pub fn snapshot(&self, name: &str, stats: crate::record::Stats) -> CaptureReport {
        CaptureReport {
            name: name.to_string(),
            stats,
            damage: None,
            handshakes: self.handshakes.clone(),
            counts: self.counts.clone(),
            warning_counts: self.warning_counts.clone(),
            end: Default::default(),
            failing_packets: Vec::new(),
            groups: self.groups.clone(),
            servers: self.servers.clone(),
            keys: self.keys,
            timeline: self.timeline.clone(),
            server_profiles: Default::default(),
            profiles: None,
        }
    }

    /// Records of `code` made from now on will only be counted.
    fn spend(&self, code: Code) {
        if let Some(budget) = &self.budget {
            if !budget.is_spent(code) {
                budget.spend(code);
            }
        }
    }

    /// The report of the capture with what was kept.
    pub fn into_report(mut self, mut report: CaptureReport) -> CaptureReport {
        self.packets.sort_by_key(|p| p.frame);
        report.handshakes = self.handshakes;
        report.counts = self.counts;
        report.warning_counts = self.warning_counts;
        report.keys = self.keys;
        report.failing_packets = self.packets;
        report.groups = self.groups;
        report.servers = self.servers;
        report.timeline = self.timeline;
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A counted failure of handshake `id` to `server`.
    fn attempt(id: u64, server: &str) -> Finished {
        Finished {
            code: Code::NoSharedCipher,
            warnings: Vec::new(),
            handshake_id: Some(id),
            handshake: None,
            packets: Vec::new(),
            json_line: None,
            server: server.parse().unwrap(),
            ts: Default::default(),
            frame: 0,
            server_name: None,
            decryption: Default::default(),
            cites_profiles: false,
        }
    }

    /// The same ClientHello on a connection to another server is a relay's next leg,
    /// counted once; sent again to the same server (scanners reuse their random), it
    /// is another attempt.
    #[test]
    fn only_a_leg_to_another_server_is_the_same_handshake() {
        let mut c = Collector::new(Keep::Examples {
            per_code: 10,
            ok: false,
        });
        c.add(attempt(7, "10.0.0.2:8080"));
        c.add(attempt(7, "10.0.0.3:443"));
        assert_eq!(c.counts[&Code::NoSharedCipher], 1, "a relay's two legs");
        c.add(attempt(9, "10.0.0.2:443"));
        c.add(attempt(9, "10.0.0.2:443"));
        assert_eq!(c.counts[&Code::NoSharedCipher], 3, "a repeat to one server");
    }
}
