//! The chunks of one capture, handed to every worker of a parallel pass in capture order.
//!
//! There is no reader thread: the worker that is running low on chunks reads the next
//! one itself (read, walk the records, assign each packet to its worker), while the
//! others go on with theirs. Each chunk comes with, for every worker, the positions of
//! the packets that are its share, so a worker touches only its own packets' bytes.
//! Reading is thereby shared by the workers as their load allows, and no packet list is
//! copied into per-worker batches. Workers run at most a few chunks apart (`AHEAD`), which
//! bounds the memory held.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::capture::Packet;
use crate::chunks::{Chunk, PacketSource};
use crate::progress::Progress;

/// Chunks read beyond the slowest worker's position, at most.
const AHEAD: u64 = 4;
/// A worker reads the next chunk once it has this many or fewer left to take: reading
/// before running dry keeps the others from waiting for the read (on a bulk-heavy
/// capture with two workers, waits for reads took 5% of their time with 1, 2% with 2,
/// and the pass was ~10% faster).
const READ_AT: u64 = 2;

/// A chunk and each worker's share of its packets.
pub struct SharedChunk<'a> {
    pub chunk: Chunk<'a>,
    /// For each worker, the positions in `chunk.packets` of the packets it analyzes.
    pub shares: Vec<Vec<u32>>,
}

impl<'a> SharedChunk<'a> {
    /// The packets of `worker`'s share, in capture order.
    pub fn packets_of(&self, worker: usize) -> impl Iterator<Item = Packet<'_>> {
        self.shares[worker]
            .iter()
            .map(|&i| self.chunk.packets[i as usize].packet(&self.chunk.bytes))
    }
}

/// Chunks every worker took, some perhaps still being worked on.
type Retired<'a> = Vec<Arc<SharedChunk<'a>>>;

/// One capture's chunks for `workers` workers.
pub struct Fanout<'a, 'p> {
    state: Mutex<State<'a>>,
    /// Taken by the worker that reads; the state says who does.
    source: Mutex<Reading<'a>>,
    changed: Condvar,
    assign: fn(&Packet<'_>) -> usize,
    workers: usize,
    progress: Option<&'p Progress>,
}

/// The source and the lists to reuse for its next chunks.
struct Reading<'a> {
    source: PacketSource<'a>,
    /// Per-worker position lists of chunks everyone is done with.
    spare_shares: Vec<Vec<Vec<u32>>>,
}

struct State<'a> {
    /// Chunks read and not yet taken by every worker: `queued[0]` has number `first`.
    queued: VecDeque<Arc<SharedChunk<'a>>>,
    first: u64,
    /// For each worker, the number of the next chunk it takes; `u64::MAX` once it left.
    next: Vec<u64>,
    /// Chunks every worker took, to recycle once the last one lets go of them.
    retired: Retired<'a>,
    reading: bool,
    ended: bool,
}

impl State<'_> {
    /// Number of the next chunk to be read.
    fn read_so_far(&self) -> u64 {
        self.first + self.queued.len() as u64
    }

    fn slowest(&self) -> u64 {
        self.next.iter().copied().min().unwrap_or(u64::MAX)
    }

    /// Moves the chunks every worker has taken to `retired`.
    fn retire(&mut self) {
        let slowest = self.slowest();
        while self.first < slowest {
            match self.queued.pop_front() {
                Some(chunk) => self.retired.push(chunk),
                None => break,
            }
            self.first += 1;
        }
    }
}

impl<'a, 'p> Fanout<'a, 'p> {
    /// Shares `source` among `workers` workers; `assign` says which worker a packet goes
    /// to (taken modulo `workers`).
    pub fn new(
        mut source: PacketSource<'a>,
        workers: usize,
        assign: fn(&Packet<'_>) -> usize,
        progress: Option<&'p Progress>,
    ) -> Fanout<'a, 'p> {
        // In use at once: the chunks queued, one per worker being worked on, the one
        // being read, and one whose last user is letting go of it.
        source.keep_buffers(AHEAD as usize + workers + 2);
        Fanout {
            state: Mutex::new(State {
                queued: VecDeque::new(),
                first: 0,
                next: vec![0; workers.max(1)],
                retired: Vec::new(),
                reading: false,
                ended: false,
            }),
            source: Mutex::new(Reading {
                source,
                spare_shares: Vec::new(),
            }),
            changed: Condvar::new(),
            assign,
            workers: workers.max(1),
            progress,
        }
    }

    /// A worker's handle: it takes the chunks in order, and leaves when dropped (also
    /// when its worker panics, so the others do not wait for it).
    pub fn worker(&self, worker: usize) -> Worker<'_, 'a, 'p> {
        Worker {
            fanout: self,
            worker,
            reading: false,
        }
    }

    /// The source, once every worker is done (for its damage and end time).
    pub fn into_source(self) -> PacketSource<'a> {
        let reading = self.source.into_inner().unwrap_or_else(|e| e.into_inner());
        reading.source
    }

    fn lock_state(&self) -> MutexGuard<'_, State<'a>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the next chunk and divides it among the workers; `None` at the end.
    /// Also recycles the `retired` chunks nobody holds any more, and returns the others.
    fn read(&self, retired: Retired<'a>) -> (Option<SharedChunk<'a>>, Retired<'a>) {
        let mut reading = self.source.lock().unwrap_or_else(|e| e.into_inner());
        let reading = &mut *reading;
        let mut still_held = Vec::new();
        for chunk in retired {
            match Arc::try_unwrap(chunk) {
                Ok(done) => {
                    reading.source.recycle(done.chunk);
                    reading.spare_shares.push(done.shares);
                }
                Err(held) => still_held.push(held),
            }
        }
        let Some(chunk) = reading.source.next_chunk() else {
            return (None, still_held);
        };
        if let Some(p) = self.progress {
            p.add(chunk.span, chunk.packets.len() as u64);
        }
        let workers = self.workers;
        let mut shares = reading
            .spare_shares
            .pop()
            .unwrap_or_else(|| vec![Vec::new(); workers]);
        for share in &mut shares {
            share.clear();
        }
        for (i, at) in chunk.packets.iter().enumerate() {
            let worker = (self.assign)(&at.packet(&chunk.bytes)) % workers;
            shares[worker].push(i as u32);
        }
        (Some(SharedChunk { chunk, shares }), still_held)
    }
}

/// One worker's place in a [`Fanout`].
pub struct Worker<'f, 'a, 'p> {
    fanout: &'f Fanout<'a, 'p>,
    worker: usize,
    /// Whether this worker is reading a chunk (to end the pass if it panics doing so).
    reading: bool,
}

impl<'a> Worker<'_, 'a, '_> {
    /// The next chunk, in capture order; `None` when the capture is done. Blocks while
    /// another worker reads or the others are too far behind.
    pub fn next_chunk(&mut self) -> Option<Arc<SharedChunk<'a>>> {
        let fanout = self.fanout;
        let mut state = fanout.lock_state();
        loop {
            let mine = state.next[self.worker];
            let read = state.read_so_far();
            // Read when running low: the others keep working meanwhile.
            let may_read = !state.reading
                && !state.ended
                && read - mine <= READ_AT
                && read.saturating_sub(state.slowest()) < AHEAD;
            if may_read {
                state.reading = true;
                self.reading = true;
                let retired = std::mem::take(&mut state.retired);
                drop(state);
                let (chunk, still_held) = fanout.read(retired);
                state = fanout.lock_state();
                state.retired.extend(still_held);
                state.reading = false;
                self.reading = false;
                match chunk {
                    Some(chunk) => state.queued.push_back(Arc::new(chunk)),
                    None => state.ended = true,
                }
                fanout.changed.notify_all();
                continue;
            }
            if mine < read {
                let chunk = Arc::clone(&state.queued[(mine - state.first) as usize]);
                state.next[self.worker] = mine + 1;
                state.retire();
                // The slowest moving on may let a waiting worker read.
                fanout.changed.notify_all();
                return Some(chunk);
            }
            if state.ended {
                return None;
            }
            state = fanout
                .changed
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for Worker<'_, '_, '_> {
    fn drop(&mut self) {
        let mut state = self.fanout.lock_state();
        state.next[self.worker] = u64::MAX;
        if self.reading {
            // Panicked while reading: nobody else will.
            state.reading = false;
            state.ended = true;
        }
        state.retire();
        self.fanout.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Source;
    use crate::chunks::StreamReader;

    fn source(chunk_bytes: usize) -> PacketSource<'static> {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../captures/ok_tls13.pcap");
        StreamReader::open_with(&Source::File(path), chunk_bytes).unwrap()
    }

    fn by_frame(packet: &Packet<'_>) -> usize {
        packet.frame as usize
    }

    /// Frames each worker was given, in the order it was given them.
    fn frames_per_worker(workers: usize, slow: Option<usize>) -> Vec<Vec<u64>> {
        let fanout = Fanout::new(source(150), workers, by_frame, None);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let mut chunks = fanout.worker(w);
                    scope.spawn(move || {
                        let mut frames = Vec::new();
                        while let Some(chunk) = chunks.next_chunk() {
                            frames.extend(chunk.packets_of(w).map(|p| p.frame));
                            if slow == Some(w) {
                                std::thread::sleep(std::time::Duration::from_millis(2));
                            }
                        }
                        frames
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    #[test]
    fn every_packet_reaches_its_worker_once_in_capture_order() {
        let alone = frames_per_worker(1, None).remove(0);
        assert!(alone.len() > 10, "only {} packets", alone.len());
        assert!(alone.windows(2).all(|w| w[0] < w[1]));
        for (workers, slow) in [(2, None), (3, Some(0)), (5, Some(4))] {
            let got = frames_per_worker(workers, slow);
            for (w, frames) in got.iter().enumerate() {
                assert!(
                    frames.windows(2).all(|f| f[0] < f[1]),
                    "worker {w} out of order"
                );
                assert!(frames.iter().all(|&f| f as usize % workers == w));
            }
            let mut all: Vec<u64> = got.concat();
            all.sort_unstable();
            assert_eq!(all, alone, "{workers} workers");
        }
    }

    #[test]
    fn a_worker_that_panics_does_not_stop_the_others() {
        let fanout = Fanout::new(source(150), 2, by_frame, None);
        let (survivor, panicked) = std::thread::scope(|scope| {
            let mut first = fanout.worker(0);
            let mut second = fanout.worker(1);
            let dies = scope.spawn(move || {
                let _ = first.next_chunk();
                panic!("worker 0 gives up");
            });
            let lives = scope.spawn(move || {
                let mut packets = 0;
                while let Some(chunk) = second.next_chunk() {
                    packets += chunk.packets_of(1).count();
                }
                packets
            });
            (lives.join().unwrap(), dies.join().is_err())
        });
        assert!(panicked);
        assert_eq!(survivor, frames_per_worker(2, None)[1].len());
    }
}
