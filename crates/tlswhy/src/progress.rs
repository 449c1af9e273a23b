//! Progress of a long analysis: counters the pass bumps once per chunk, for a meter
//! (the command line draws one on a terminal) to read.

use std::sync::atomic::{AtomicU64, Ordering};

/// What the pass has done so far (all inputs together).
#[derive(Debug, Default)]
pub struct Progress {
    /// Capture bytes walked (decompressed bytes for gzip).
    pub bytes: AtomicU64,
    pub packets: AtomicU64,
    pub connections: AtomicU64,
}

impl Progress {
    /// Counts one chunk.
    pub fn add(&self, bytes: u64, packets: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.packets.fetch_add(packets, Ordering::Relaxed);
    }

    pub fn add_connections(&self, n: u64) {
        if n > 0 {
            self.connections.fetch_add(n, Ordering::Relaxed);
        }
    }
}
