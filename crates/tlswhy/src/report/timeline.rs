//! Handshake attempts and failures over capture time, in a fixed number of buckets: the
//! HTML report's timeline. The buckets start one second wide from the first attempt and
//! double in width (neighbours merged) whenever an attempt falls past the last, so the
//! memory is fixed whatever the capture's length, and the counts stay exact.

use crate::capture::Timestamp;

/// Buckets of a timeline.
pub const BUCKETS: usize = 48;

/// One second in the capture's clock.
const SECOND_NS: i64 = 1_000_000_000;

/// Attempts and failures per bucket of capture time.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    /// Where the first bucket starts (the first attempt's time, whole seconds).
    start: Option<i64>,
    /// The width of a bucket, in nanoseconds.
    width: i64,
    attempts: Vec<u64>,
    failures: Vec<u64>,
}

/// One bucket as shown: where it starts and ends, and its counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub from: Timestamp,
    pub to: Timestamp,
    pub attempts: u64,
    pub failures: u64,
}

impl Timeline {
    /// Counts an attempt that started at `ts` (`failed`: its verdict is not `ok`).
    pub fn add(&mut self, ts: Timestamp, failed: bool) {
        let mut start = *self.start.get_or_insert_with(|| {
            self.width = SECOND_NS;
            self.attempts = vec![0; BUCKETS];
            self.failures = vec![0; BUCKETS];
            ts.0 - ts.0.rem_euclid(SECOND_NS)
        });
        // Earlier than the first bucket: buckets are added in front (wider ones when
        // they would not fit).
        while ts.0 < start {
            let shift = (start - ts.0 + self.width - 1) / self.width;
            let used = self
                .attempts
                .iter()
                .rposition(|&n| n > 0)
                .map_or(0, |i| i + 1) as i64;
            if used + shift <= BUCKETS as i64 {
                let shift = shift as usize;
                for counts in [&mut self.attempts, &mut self.failures] {
                    counts.rotate_right(shift);
                }
                start -= shift as i64 * self.width;
                self.start = Some(start);
            } else {
                self.widen();
            }
        }
        let offset = ts.0 - start;
        while offset / self.width >= BUCKETS as i64 {
            self.widen();
        }
        let i = (offset / self.width) as usize;
        self.attempts[i] += 1;
        self.failures[i] += u64::from(failed);
    }

    /// Adds `other`'s counts, each bucket's at its start (the totals stay exact; a
    /// bucket may move within the width of the wider of the two).
    pub fn merge(&mut self, other: &Timeline) {
        for b in other.buckets() {
            if b.attempts == 0 {
                continue;
            }
            self.add(b.from, false);
            let i = self.index(b.from);
            self.attempts[i] += b.attempts - 1;
            self.failures[i] += b.failures;
        }
    }

    /// The bucket of `ts` (after [`Timeline::add`] made room for it).
    fn index(&self, ts: Timestamp) -> usize {
        let start = self.start.unwrap_or(ts.0);
        (ts.0.saturating_sub(start).max(0) / self.width) as usize
    }

    /// Doubles the buckets' width: each new bucket holds two old ones.
    fn widen(&mut self) {
        for counts in [&mut self.attempts, &mut self.failures] {
            for i in 0..BUCKETS {
                counts[i] = if 2 * i < BUCKETS {
                    counts[2 * i] + counts.get(2 * i + 1).copied().unwrap_or(0)
                } else {
                    0
                };
            }
        }
        self.width = self.width.saturating_mul(2);
    }

    /// The buckets from the first to the last with an attempt (empty without any).
    pub fn buckets(&self) -> Vec<Bucket> {
        let Some(start) = self.start else {
            return Vec::new();
        };
        let used = self
            .attempts
            .iter()
            .rposition(|&n| n > 0)
            .map_or(0, |i| i + 1);
        (0..used)
            .map(|i| Bucket {
                from: Timestamp(start + i as i64 * self.width),
                to: Timestamp(start + (i as i64 + 1) * self.width),
                attempts: self.attempts[i],
                failures: self.failures[i],
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_widen_and_keep_every_count() {
        let mut t = Timeline::default();
        assert!(t.buckets().is_empty());
        let base = 1_700_000_000 * SECOND_NS + 250_000_000;
        t.add(Timestamp(base), false);
        t.add(Timestamp(base + 2 * SECOND_NS), true);
        let b = t.buckets();
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].from, Timestamp(1_700_000_000 * SECOND_NS));
        assert_eq!((b[2].attempts, b[2].failures), (1, 1));
        // 200 s later: buckets of 8 s (48 × 4 s is too short).
        t.add(Timestamp(base + 200 * SECOND_NS), true);
        let b = t.buckets();
        assert_eq!(b[0].to.0 - b[0].from.0, 8 * SECOND_NS);
        assert_eq!(b.iter().map(|b| b.attempts).sum::<u64>(), 3);
        assert_eq!(b.iter().map(|b| b.failures).sum::<u64>(), 2);
        assert_eq!((b[0].attempts, b[0].failures), (2, 1));
        assert_eq!(b.last().unwrap().failures, 1);
        assert!(b.len() <= BUCKETS);
        // Before the start: a bucket in front.
        t.add(Timestamp(base - 5 * SECOND_NS), false);
        let b = t.buckets();
        assert_eq!(b[0].attempts, 1);
        assert_eq!(b[0].to.0 - b[0].from.0, 8 * SECOND_NS);
        assert_eq!((b[1].attempts, b[1].failures), (2, 1));

        // Merged into another capture's timeline an hour later: every count kept.
        let mut other = Timeline::default();
        other.add(Timestamp(base + 3600 * SECOND_NS), true);
        other.merge(&t);
        let b = other.buckets();
        assert_eq!(b.iter().map(|b| b.attempts).sum::<u64>(), 5);
        assert_eq!(b.iter().map(|b| b.failures).sum::<u64>(), 3);
        assert!(b[0].from.0 <= base && b.last().unwrap().to.0 > base + 3600 * SECOND_NS);
    }
}
