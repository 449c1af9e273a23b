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

use std::io::{self, BufWriter, Stdout, Write};

use tlswhy::report::background::BackgroundWriter;

/// Bytes the workers gather before they write: few system calls, and each takes the
/// ordering lock for little longer than a copy into the page cache.
const WRITE_BYTES: usize = 512 * 1024;

/// Standard output for JSON Lines.
pub enum LinesOut {
    /// Each line moves to a writing thread (no copy).
    Thread(BackgroundWriter<Stdout>),
    /// Lines are copied into a buffer written by whoever fills it.
    Buffered(BufWriter<Stdout>),
}

impl LinesOut {
    /// Standard output for the lines of an analysis on `workers` threads.
    pub fn new(workers: usize) -> LinesOut {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if workers < cores {
            LinesOut::Thread(BackgroundWriter::new(io::stdout()))
        } else {
            LinesOut::Buffered(BufWriter::with_capacity(WRITE_BYTES, io::stdout()))
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
