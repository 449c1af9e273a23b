//! Output written by a thread of its own, so that the analysis does not stop when a
//! write blocks (a file whose dirty pages the kernel is flushing, a slow pipe reader).
//!
//! Buffers are handed over whole ([`BackgroundWriter::push`]: a JSON line moves, it is
//! not copied) and gathered in batches; full batches go to the writing thread through a
//! bounded queue (at most `BATCHES_QUEUED` waiting, so memory stays bounded), which
//! writes each with gathering writes (`writev`), frees its buffers and gives the batch
//! back empty for reuse. The first write error stops the thread and is returned by the
//! next `push` or `write`, or by `flush`.

use std::io::{self, IoSlice, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Bytes per batch handed to the writing thread, about.
const BATCH_BYTES: usize = 512 * 1024;
/// Buffers per batch at most: what one gathering write takes on Linux (`IOV_MAX`).
const BATCH_BUFFERS: usize = 1024;
/// Full batches waiting to be written, at most.
const BATCHES_QUEUED: usize = 8;
/// The room of a buffer that [`Write::write`] starts, for the small writes after it.
const COPY_BUFFER: usize = 16 * 1024;

/// Buffers to be written one after the other.
#[derive(Default)]
struct Batch {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
    /// The last buffer was started by [`Write::write`]: later writes may go on in it.
    last_copied: bool,
}

impl Batch {
    fn is_full(&self) -> bool {
        self.bytes >= BATCH_BYTES || self.buffers.len() >= BATCH_BUFFERS
    }

    /// Takes `buffer` as the next to write (an empty one is dropped: gathering writes
    /// then never start with nothing to write).
    fn push(&mut self, buffer: Vec<u8>) {
        if buffer.is_empty() {
            return;
        }
        self.bytes += buffer.len();
        self.buffers.push(buffer);
        self.last_copied = false;
    }

    /// Copies `bytes` in: at the end of the last buffer when a write started it and it
    /// has room, else into a buffer of its own.
    fn copy(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        match self.buffers.last_mut() {
            Some(last) if self.last_copied && last.capacity() - last.len() >= bytes.len() => {
                last.extend_from_slice(bytes);
                self.bytes += bytes.len();
            }
            _ => {
                let mut buffer = Vec::with_capacity(bytes.len().max(COPY_BUFFER));
                buffer.extend_from_slice(bytes);
                self.push(buffer);
                self.last_copied = true;
            }
        }
    }

    /// Writes every buffer in order, with as few gathering writes as `out` allows.
    fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> = self.buffers.iter().map(|b| IoSlice::new(b)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match out.write_vectored(rest) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Empty, keeping the room for buffers (theirs is freed).
    fn clear(&mut self) {
        self.buffers.clear();
        self.bytes = 0;
        self.last_copied = false;
    }
}

/// A writer whose writes are done by another thread; [`Write::flush`] waits for them
/// and writes directly from then on.
pub struct BackgroundWriter<W: Write + Send + 'static> {
    state: State<W>,
}

enum State<W: Write + Send + 'static> {
    Running {
        batch: Batch,
        full: SyncSender<Batch>,
        emptied: Receiver<Batch>,
        thread: JoinHandle<io::Result<W>>,
    },
    Direct(W),
    /// After an error, or while switching.
    Failed,
}

impl<W: Write + Send + 'static> BackgroundWriter<W> {
    pub fn new(mut out: W) -> BackgroundWriter<W> {
        let (full, batches) = mpsc::sync_channel::<Batch>(BATCHES_QUEUED);
        let (give_back, emptied) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            for mut batch in batches {
                batch.write_to(&mut out)?;
                batch.clear();
                // The other side may be gone already; the batch is then freed.
                let _ = give_back.send(batch);
            }
            out.flush()?;
            Ok(out)
        });
        BackgroundWriter {
            state: State::Running {
                batch: Batch::default(),
                full,
                emptied,
                thread,
            },
        }
    }

    /// Writes `buffer` after what was written before, moving it to the writing thread
    /// (no copy); it is freed there once written.
    pub fn push(&mut self, buffer: Vec<u8>) -> io::Result<()> {
        match &mut self.state {
            State::Running { batch, .. } => {
                batch.push(buffer);
                if batch.is_full() {
                    self.send_batch()?;
                }
                Ok(())
            }
            State::Direct(out) => out.write_all(&buffer),
            State::Failed => Err(failed_before()),
        }
    }

    /// Hands the current batch to the thread; on a closed queue, the thread's error.
    fn send_batch(&mut self) -> io::Result<()> {
        let State::Running {
            batch,
            full,
            emptied,
            ..
        } = &mut self.state
        else {
            return Ok(());
        };
        let next = emptied.try_recv().unwrap_or_default();
        let ready = std::mem::replace(batch, next);
        if full.send(ready).is_err() {
            // The thread stopped: it failed.
            return self.stop();
        }
        Ok(())
    }

    /// Sends what is left, waits for the thread and writes directly from then on.
    fn stop(&mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Running {
                batch,
                full,
                thread,
                ..
            } => {
                let _ = full.send(batch);
                drop(full);
                let out = thread
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("the output thread panicked")))?;
                self.state = State::Direct(out);
                Ok(())
            }
            direct @ State::Direct(_) => {
                self.state = direct;
                Ok(())
            }
            State::Failed => Err(failed_before()),
        }
    }
}

fn failed_before() -> io::Error {
    io::Error::other("output failed before")
}

impl<W: Write + Send + 'static> Write for BackgroundWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.state {
            State::Running { batch, .. } => {
                batch.copy(buf);
                if batch.is_full() {
                    self.send_batch()?;
                }
                Ok(buf.len())
            }
            State::Direct(out) => out.write(buf),
            State::Failed => Err(failed_before()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stop()?;
        match &mut self.state {
            State::Direct(out) => out.flush(),
            _ => Ok(()),
        }
    }
}

impl<W: Write + Send + 'static> Drop for BackgroundWriter<W> {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer into shared memory that takes at most `per_write` bytes a call (of the
    /// first buffer only, as `Write`'s own `write_vectored` does) and can be told to
    /// fail after some bytes.
    #[derive(Clone)]
    struct Shared {
        bytes: Arc<Mutex<Vec<u8>>>,
        per_write: usize,
        fail_after: usize,
    }

    impl Shared {
        fn new() -> Shared {
            Shared {
                bytes: Arc::default(),
                per_write: usize::MAX,
                fail_after: usize::MAX,
            }
        }
    }

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut bytes = self.bytes.lock().unwrap();
            let buf = &buf[..buf.len().min(self.per_write)];
            if bytes.len() + buf.len() > self.fail_after {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "reader gone"));
            }
            bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn everything_written_arrives_in_order() {
        let sink = Shared::new();
        let mut out = BackgroundWriter::new(sink.clone());
        let mut want = Vec::new();
        for i in 0..200_000u32 {
            let line = format!("{{\"n\":{i}}}\n");
            out.write_all(line.as_bytes()).unwrap();
            want.extend_from_slice(line.as_bytes());
        }
        out.flush().unwrap();
        assert_eq!(*sink.bytes.lock().unwrap(), want);
        // Direct from now on.
        out.write_all(b"end\n").unwrap();
        out.flush().unwrap();
        assert!(sink.bytes.lock().unwrap().ends_with(b"}\nend\n"));
    }

    /// Buffers pushed and bytes written, mixed, large and small, arrive in order
    /// through a writer that takes a few bytes at a time.
    #[test]
    fn pushed_and_written_bytes_arrive_in_order_through_short_writes() {
        let sink = Shared {
            per_write: 7,
            ..Shared::new()
        };
        let mut out = BackgroundWriter::new(sink.clone());
        let mut want = Vec::new();
        for i in 0..5_000usize {
            let line = format!("{i:>0width$}\n", width = i % 700 + 1).into_bytes();
            want.extend_from_slice(&line);
            if i % 3 == 0 {
                out.write_all(&line).unwrap();
            } else {
                out.push(line).unwrap();
            }
        }
        out.push(Vec::new()).unwrap();
        out.flush().unwrap();
        assert_eq!(*sink.bytes.lock().unwrap(), want);
        out.push(b"end\n".to_vec()).unwrap();
        assert!(sink.bytes.lock().unwrap().ends_with(b"\nend\n"));
    }

    #[test]
    fn a_write_error_reaches_the_writer() {
        for pushed in [false, true] {
            let sink = Shared {
                fail_after: 3 * BATCH_BYTES,
                ..Shared::new()
            };
            let mut out = BackgroundWriter::new(sink);
            let line = [b'x'; 1000];
            let mut failed = None;
            for _ in 0..100_000 {
                let written = if pushed {
                    out.push(line.to_vec())
                } else {
                    out.write_all(&line)
                };
                if let Err(e) = written {
                    failed = Some(e);
                    break;
                }
            }
            let e = failed.or_else(|| out.flush().err()).expect("an error");
            assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        }
    }
}
