//! Per-direction TCP reassembly: segments in sequence order, out-of-order ones kept up
//! to the limits, overlaps compared, holes declared lost when the limits are reached or
//! the peer acknowledges past them.

use std::collections::BTreeMap;

use crate::limits::Limits;

/// Per-direction reassembly state.
#[derive(Debug, Default)]
pub(super) struct Reassembler {
    /// (segments, bytes) kept out of order before a hole is declared lost.
    pub(super) caps: (usize, usize),
    /// Sequence number of the next byte expected; `None` before the first segment.
    pub(super) next_seq: Option<u32>,
    pub(super) pending: BTreeMap<u64, Vec<u8>>,
    pub(super) pending_bytes: usize,
    /// Offset of `next_seq` from the stream start, to order pending segments.
    pub(super) next_off: u64,
    /// Overlapping segments that carried different bytes.
    pub(super) conflicts: u32,
}

pub(super) enum Piece<'a> {
    Data(&'a [u8]),
    Hole,
}

impl Reassembler {
    pub(super) fn new(limits: &Limits) -> Reassembler {
        Reassembler {
            caps: (limits.max_pending_segments, limits.max_pending_bytes),
            ..Default::default()
        }
    }

    pub(super) fn start_at(&mut self, seq: u32) {
        if self.next_seq.is_none() {
            self.next_seq = Some(seq);
        }
    }

    /// The stream has not carried data yet: its start may still move.
    pub(super) fn may_restart(&self) -> bool {
        self.next_off == 0 && self.pending.is_empty()
    }

    /// Moves the start of a stream that has not carried data yet.
    pub(super) fn restart_at(&mut self, seq: u32) {
        if self.may_restart() {
            self.next_seq = Some(seq);
        }
    }

    pub(super) fn offset_of(&self, seq: u32) -> Option<i64> {
        let next = self.next_seq?;
        Some(self.next_off as i64 + seq.wrapping_sub(next) as i32 as i64)
    }

    /// How far `seq` lies past the next byte expected (negative: before it).
    pub(super) fn ahead_of(&self, seq: u32) -> Option<i64> {
        self.offset_of(seq).map(|off| off - self.next_off as i64)
    }

    /// Adds a segment; hands every in-order piece to `sink`.
    pub(super) fn push(&mut self, seq: u32, data: &[u8], sink: &mut dyn FnMut(Piece<'_>)) {
        if data.is_empty() {
            return;
        }
        self.start_at(seq);
        let Some(off) = self.offset_of(seq) else {
            return;
        };
        let end = off + data.len() as i64;
        let next = self.next_off as i64;
        if end <= next {
            return; // retransmission of delivered bytes
        }
        if off <= next {
            let fresh = &data[(next - off) as usize..];
            self.advance(fresh.len());
            sink(Piece::Data(fresh));
            self.drain(sink);
            return;
        }
        // A hole before this segment.
        let off = off as u64;
        if self.overlaps_differently(off, data) {
            self.conflicts += 1;
        }
        let keep = match self.pending.get(&off) {
            Some(existing) => existing.len() < data.len(),
            None => true,
        };
        if keep {
            if let Some(old) = self.pending.insert(off, data.to_vec()) {
                self.pending_bytes -= old.len();
            }
            self.pending_bytes += data.len();
        }
        if self.pending.len() > self.caps.0 || self.pending_bytes > self.caps.1 {
            self.skip_hole(sink);
        }
    }

    /// Does `data` at `off` disagree with bytes already buffered for the same range?
    /// (Retransmissions must repeat the same bytes; different ones make the capture
    /// ambiguous, as in an evasion attempt. The first copy is kept.)
    pub(super) fn overlaps_differently(&self, off: u64, data: &[u8]) -> bool {
        let end = off + data.len() as u64;
        // At most `caps.0` entries: a scan is cheap.
        self.pending.range(..end).any(|(&o, b)| {
            let from = off.max(o);
            let to = end.min(o + b.len() as u64);
            from < to
                && data[(from - off) as usize..(to - off) as usize]
                    != b[(from - o) as usize..(to - o) as usize]
        })
    }

    pub(super) fn advance(&mut self, n: usize) {
        self.next_off += n as u64;
        if let Some(s) = self.next_seq.as_mut() {
            *s = s.wrapping_add(n as u32);
        }
    }

    pub(super) fn drain(&mut self, sink: &mut dyn FnMut(Piece<'_>)) {
        while let Some((&off, _)) = self.pending.first_key_value() {
            if off > self.next_off {
                break;
            }
            let (_, bytes) = self.pending.pop_first().expect("checked above");
            self.pending_bytes -= bytes.len();
            let skip = (self.next_off - off) as usize;
            if skip < bytes.len() {
                let fresh = &bytes[skip..];
                self.advance(fresh.len());
                sink(Piece::Data(fresh));
            }
        }
    }

    /// Declares the first hole lost and delivers what follows it.
    pub(super) fn skip_hole(&mut self, sink: &mut dyn FnMut(Piece<'_>)) {
        let Some((&off, _)) = self.pending.first_key_value() else {
            return;
        };
        let gap = off.saturating_sub(self.next_off);
        sink(Piece::Hole);
        self.advance(gap as usize);
        self.drain(sink);
    }

    /// Some payload was handed on (so `next_seq` is a real data position).
    pub(super) fn delivered(&self) -> bool {
        self.next_off > 0
    }

    pub(super) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }
}
