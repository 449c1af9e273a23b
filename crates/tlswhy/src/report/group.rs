//! Repeated failures as one entry: the failures of a capture with the same verdict code,
//! server and SNI form a [`Group`], counted with the time of its first and last
//! connection and the first frames of a few of them. The text report shows a group once,
//! with the record of its first connection as the example.
//!
//! Memory is bounded whatever the capture holds: at most [`MAX_GROUPS`] groups are
//! tracked per capture (a few hundred bytes each); failures that would open another one
//! are only counted, by code ([`Groups::untracked`]), and the report says so.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use crate::capture::Timestamp;
use crate::diagnose::Code;
use crate::record::{CaptureReport, Finished, Handshake};

/// Groups tracked per capture.
pub const MAX_GROUPS: usize = 4096;

/// First frames kept per group besides the first connection's.
pub const FRAMES_KEPT: usize = 6;

/// What makes failures alike: the verdict code, the server and the name asked for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupKey {
    pub code: Code,
    pub server: SocketAddr,
    pub sni: Option<String>,
}

/// The failures of one [`GroupKey`] in a capture.
#[derive(Clone, Debug)]
pub struct Group {
    /// Failures in the group.
    pub count: u64,
    /// Start of the first connection.
    pub first: Timestamp,
    /// Start of the last connection.
    pub last: Timestamp,
    /// First frame of the first connection.
    pub frame: u64,
    /// First frames of the next connections, up to [`FRAMES_KEPT`].
    pub more_frames: Vec<u64>,
    /// The first connection's record, as an index into
    /// [`crate::record::CaptureReport::handshakes`], when it was kept.
    pub example: Option<usize>,
}

/// The groups of one capture.
#[derive(Clone, Debug, Default)]
pub struct Groups {
    groups: HashMap<GroupKey, Group, foldhash::fast::RandomState>,
    untracked: BTreeMap<Code, u64>,
}

impl Groups {
    /// Counts a failure in its group (successes are not grouped). Returns the group's
    /// key when this failure opened it.
    pub fn add(&mut self, f: &mut Finished) -> Option<GroupKey> {
        if f.code == Code::Ok {
            return None;
        }
        let key = GroupKey {
            code: f.code,
            server: f.server,
            sni: f.take_sni(),
        };
        if let Some(g) = self.groups.get_mut(&key) {
            g.count += 1;
            g.first = g.first.min(f.ts);
            g.last = g.last.max(f.ts);
            if g.more_frames.len() < FRAMES_KEPT {
                g.more_frames.push(f.frame);
            }
            return None;
        }
        if self.groups.len() >= MAX_GROUPS {
            *self.untracked.entry(f.code).or_default() += 1;
            return None;
        }
        let group = Group {
            count: 1,
            first: f.ts,
            last: f.ts,
            frame: f.frame,
            more_frames: Vec::new(),
            example: None,
        };
        self.groups.insert(key.clone(), group);
        Some(key)
    }

    /// Records that the group's first failure was kept at `index` of the capture's
    /// handshakes.
    pub fn set_example(&mut self, key: &GroupKey, index: usize) {
        if let Some(g) = self.groups.get_mut(key) {
            g.example = Some(index);
        }
    }

    /// Every group, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&GroupKey, &Group)> {
        self.groups.iter()
    }

    /// Failures of `code` that are in no group: they came after [`MAX_GROUPS`] groups.
    pub fn untracked(&self, code: Code) -> u64 {
        self.untracked.get(&code).copied().unwrap_or(0)
    }
}

/// A group as a report shows it: with its capture and the record of its example.
pub struct Shown<'a> {
    pub report: &'a CaptureReport,
    pub key: &'a GroupKey,
    pub group: &'a Group,
}

impl<'a> Shown<'a> {
    /// The record of the group's first failure, when it was kept.
    pub fn example(&self) -> Option<&'a Handshake> {
        self.group
            .example
            .and_then(|i| self.report.handshakes.get(i))
    }
}

/// The groups of `code` in `reports`, largest first; ties in capture order, then by
/// first connection.
pub fn largest_first(reports: &[CaptureReport], code: Code) -> Vec<Shown<'_>> {
    let mut shown: Vec<(usize, Shown<'_>)> = reports
        .iter()
        .enumerate()
        .flat_map(|(i, report)| {
            report
                .groups
                .iter()
                .filter(move |(key, _)| key.code == code)
                .map(move |(key, group)| (i, Shown { report, key, group }))
        })
        .collect();
    shown.sort_by_key(|(i, s)| (std::cmp::Reverse(s.group.count), *i, s.group.frame));
    shown.into_iter().map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: Code, server: &str, sni: Option<&str>, frame: u64) -> Finished {
        Finished {
            code,
            warnings: Vec::new(),
            handshake_id: None,
            handshake: None,
            packets: Vec::new(),
            json_line: None,
            server: server.parse().unwrap(),
            ts: Timestamp(frame as i64 * 1_000_000_000),
            frame,
            server_name: sni.map(str::to_string),
            decryption: Default::default(),
            cites_profiles: false,
        }
    }

    #[test]
    fn alike_failures_share_a_group_with_their_range_and_frames() {
        let mut groups = Groups::default();
        let a = "192.0.2.1:443";
        let opened = groups.add(&mut failure(Code::NoSharedCipher, a, Some("x.test"), 5));
        assert!(opened.is_some());
        for frame in [9, 3, 20, 21, 22, 23, 24, 25] {
            let again = groups.add(&mut failure(Code::NoSharedCipher, a, Some("x.test"), frame));
            assert!(again.is_none());
        }
        // Another name, another code, another server, a success: not the same group.
        assert!(groups
            .add(&mut failure(Code::NoSharedCipher, a, None, 30))
            .is_some());
        assert!(groups
            .add(&mut failure(Code::CertUnknownCa, a, Some("x.test"), 31))
            .is_some());
        let b = "192.0.2.2:443";
        assert!(groups
            .add(&mut failure(Code::NoSharedCipher, b, Some("x.test"), 32))
            .is_some());
        assert!(groups
            .add(&mut failure(Code::Ok, a, Some("x.test"), 33))
            .is_none());
        assert_eq!(groups.iter().count(), 4);
        let g = groups.groups.get(&opened.unwrap()).unwrap();
        assert_eq!(g.count, 9);
        assert_eq!(
            (g.first, g.last),
            (Timestamp(3_000_000_000), Timestamp(25_000_000_000))
        );
        assert_eq!(g.frame, 5);
        assert_eq!(g.more_frames, [9, 3, 20, 21, 22, 23]);
    }

    #[test]
    fn groups_beyond_the_cap_are_counted_by_code() {
        let mut groups = Groups::default();
        for i in 0..MAX_GROUPS as u64 + 10 {
            let name = format!("n{i}.test");
            groups.add(&mut failure(
                Code::SniUnrecognized,
                "192.0.2.1:443",
                Some(&name),
                i,
            ));
        }
        // A failure of a group already tracked is still counted in it.
        let g = groups.add(&mut failure(
            Code::SniUnrecognized,
            "192.0.2.1:443",
            Some("n0.test"),
            1,
        ));
        assert!(g.is_none());
        assert_eq!(groups.iter().count(), MAX_GROUPS);
        assert_eq!(groups.untracked(Code::SniUnrecognized), 10);
        assert_eq!(groups.untracked(Code::NoSharedCipher), 0);
        let total: u64 = groups.iter().map(|(_, g)| g.count).sum();
        assert_eq!(total + 10, MAX_GROUPS as u64 + 11);
    }
}
