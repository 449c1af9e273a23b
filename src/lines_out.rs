//! Where one input's JSON Lines go as the records are made: standard output, written by
//! a thread of its own when a core is left for it, else by the worker that hands the
//! lines on, through a buffer.
//!
//! A writing thread lets the analysis go on while a write blocks (a file whose dirty
//! pages the kernel is flushing, a slow pipe reader), and on a spare core it also takes
//! the kernel's copy of the output off the workers. When every core already runs a
//! worker it only takes turns with them: on two cores with two workers, JSON Lines of
//! the handshake-heavy benchmark into a file took 2.5% less time (5% less CPU time)
//! written by the workers, and with one worker the thread's way was 2% faster.

use std::io::{self, BufWriter, Write};

use tlswhy::report::background::BackgroundWriter;

/// Bytes the workers gather before they write. Each write costs the file system more
/// than its copy (the inode's times, a journal handle), and it is made under the
/// output's lock, which another worker with records to hand on waits for. Measured into
/// a file on ext4 (when the write was made under the lock that keeps the records in
/// order), two workers on two cores, 100 alternating pairs of runs: 2 MiB took 0.976×
/// the time of 512 KiB, 64 KiB 1.05× its time, 8 MiB 1.04× the time of 2 MiB.
const WRITE_BYTES: usize = 2 * 1024 * 1024;

/// An output for JSON Lines.
pub enum LinesOut<W: Write + Send + 'static> {
    /// Each line moves to a writing thread (no copy).
    Thread(BackgroundWriter<W>),
    /// Lines are copied into a buffer written by whoever fills it.
    Buffered(BufWriter<W>),
}

impl<W: Write + Send + 'static> LinesOut<W> {
    /// `out` for the lines of an analysis on `workers` threads, on this machine.
    pub fn new(out: W, workers: usize) -> LinesOut<W> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        LinesOut::for_cores(out, workers, cores)
    }

    /// `out` for the lines of an analysis on `workers` threads and `cores` cores.
    fn for_cores(out: W, workers: usize, cores: usize) -> LinesOut<W> {
        if workers < cores {
            LinesOut::Thread(BackgroundWriter::new(out))
        } else {
            LinesOut::Buffered(BufWriter::with_capacity(WRITE_BYTES, out))
        }
    }

    /// Writes `line` after the lines before it; it is left empty when it moved.
    pub fn push(&mut self, line: &mut Vec<u8>) -> io::Result<()> {
        match self {
            LinesOut::Thread(out) => out.push(std::mem::take(line)),
            LinesOut::Buffered(out) => out.write_all(line),
        }
    }

    /// Writes out everything pushed.
    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            LinesOut::Thread(out) => out.flush(),
            LinesOut::Buffered(out) => out.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer into shared memory.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// With a core to spare or without, the same bytes in the same order, several
    /// buffers' worth of them.
    #[test]
    fn both_ways_write_the_same_lines() {
        let mut outputs = Vec::new();
        for (workers, cores) in [(1, 2), (2, 2), (4, 1)] {
            let sink = Shared::default();
            let mut out = LinesOut::for_cores(sink.clone(), workers, cores);
            assert_eq!(matches!(out, LinesOut::Thread(_)), workers < cores);
            for i in 0..100_000 {
                let mut line =
                    format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 97)).into_bytes();
                out.push(&mut line).unwrap();
            }
            out.flush().unwrap();
            let written = std::mem::take(&mut *sink.0.lock().unwrap());
            assert!(written.len() > 2 * WRITE_BYTES);
            outputs.push(written);
        }
        let want: Vec<u8> = (0..100_000)
            .flat_map(|i| {
                format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 97)).into_bytes()
            })
            .collect();
        for written in outputs {
            assert!(written == want, "lines lost or out of order");
        }
    }
}
