//! Output: the human report (failures grouped by cause, with evidence, fix and a ladder
//! diagram of each failing handshake) and JSON Lines (one object per handshake attempt).

pub mod background;
pub mod collect;
pub(crate) mod endpoint;
pub mod group;
pub mod html;
pub mod json;
pub mod pcap;
pub mod servers;
pub mod summary;
pub mod text;
pub mod timeline;
pub mod wording;

use std::collections::BTreeMap;

use crate::diagnose::Code;
use crate::record::CaptureReport;

/// Counts by code, most common first (ties in catalog order).
pub(crate) fn most_common_first(counts: BTreeMap<Code, u64>) -> Vec<(Code, u64)> {
    let mut v: Vec<(Code, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

/// `code n, code n` for the codes other than ok, in the order given.
pub fn failure_counts(counts: &[(Code, u64)]) -> String {
    counts
        .iter()
        .filter(|(c, _)| *c != Code::Ok)
        .map(|(c, n)| format!("{c} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `code n, code n` for codes other than ok, most common first.
pub fn count_codes(codes: impl IntoIterator<Item = Code>) -> String {
    let mut counts: BTreeMap<Code, u64> = BTreeMap::new();
    for c in codes {
        *counts.entry(c).or_default() += 1;
    }
    failure_counts(&most_common_first(counts))
}

/// Every handshake attempt of `reports` by code (kept records or not), most common
/// first (ties in catalog order).
pub fn total_counts(reports: &[CaptureReport]) -> Vec<(Code, u64)> {
    most_common_first(summed(reports.iter().map(|r| &r.counts)))
}

/// Counts of several captures added up, by key (codes, warnings).
pub fn summed<'a, K: Ord + Copy + 'a>(
    maps: impl IntoIterator<Item = &'a BTreeMap<K, u64>>,
) -> BTreeMap<K, u64> {
    let mut total = BTreeMap::new();
    for map in maps {
        for (&key, &n) in map {
            *total.entry(key).or_default() += n;
        }
    }
    total
}
