//! Output written by a thread of its own, so that the analysis does not stop when a
//! write blocks (a file whose dirty pages the kernel is flushing, a slow pipe reader).
//!
//! Bytes are gathered in blocks; full blocks go to the writing thread through a bounded
//! queue (at most `BLOCKS_QUEUED` waiting, so memory stays bounded) and come back
//! empty for reuse. The first write error stops the thread and is returned by the next
//! `write` or by `flush`.

use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Bytes per block handed to the writing thread.
const BLOCK: usize = 512 * 1024;
/// Full blocks waiting to be written, at most.
const BLOCKS_QUEUED: usize = 8;

/// A writer whose writes are done by another thread; [`Write::flush`] waits for them
/// and writes directly from then on.
pub struct BackgroundWriter<W: Write + Send + 'static> {
    state: State<W>,
}

enum State<W: Write + Send + 'static> {
    Running {
        block: Vec<u8>,
        full: SyncSender<Vec<u8>>,
        emptied: Receiver<Vec<u8>>,
        thread: JoinHandle<io::Result<W>>,
    },
    Direct(W),
    /// After an error, or while switching.
    Failed,
}

impl<W: Write + Send + 'static> BackgroundWriter<W> {
    pub fn new(mut out: W) -> BackgroundWriter<W> {
        let (full, blocks) = mpsc::sync_channel::<Vec<u8>>(BLOCKS_QUEUED);
        let (give_back, emptied) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            for mut block in blocks {
                out.write_all(&block)?;
                block.clear();
                // The other side may be gone already; the block is then freed.
                let _ = give_back.send(block);
            }
            out.flush()?;
            Ok(out)
        });
        BackgroundWriter {
            state: State::Running {
                block: Vec::with_capacity(BLOCK),
                full,
                emptied,
                thread,
            },
        }
    }

    /// Hands the current block to the thread; on a closed queue, the thread's error.
    fn send_block(&mut self) -> io::Result<()> {
        let State::Running {
            block,
            full,
            emptied,
            ..
        } = &mut self.state
        else {
            return Ok(());
        };
        let next = emptied
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BLOCK));
        let ready = std::mem::replace(block, next);
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
                block,
                full,
                thread,
                ..
            } => {
                let _ = full.send(block);
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
            State::Failed => Err(io::Error::other("output failed before")),
        }
    }
}

impl<W: Write + Send + 'static> Write for BackgroundWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.state {
            State::Running { block, .. } => {
                // A block that cannot take `buf` goes first: grown, it would be copied
                // into fresh memory (and all of it zeroed by the kernel first).
                if !block.is_empty() && block.len() + buf.len() > block.capacity() {
                    self.send_block()?;
                }
                let State::Running { block, .. } = &mut self.state else {
                    return self.write(buf);
                };
                block.extend_from_slice(buf);
                if block.len() >= BLOCK {
                    self.send_block()?;
                }
                Ok(buf.len())
            }
            State::Direct(out) => out.write(buf),
            State::Failed => Err(io::Error::other("output failed before")),
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

    /// A writer into shared memory that can be told to fail after some bytes.
    #[derive(Clone)]
    struct Shared {
        bytes: Arc<Mutex<Vec<u8>>>,
        fail_after: usize,
    }

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut bytes = self.bytes.lock().unwrap();
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
        let sink = Shared {
            bytes: Arc::default(),
            fail_after: usize::MAX,
        };
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

    #[test]
    fn a_write_error_reaches_the_writer() {
        let sink = Shared {
            bytes: Arc::default(),
            fail_after: 3 * BLOCK,
        };
        let mut out = BackgroundWriter::new(sink);
        let line = [b'x'; 1000];
        let mut failed = None;
        for _ in 0..100_000 {
            if let Err(e) = out.write_all(&line) {
                failed = Some(e);
                break;
            }
        }
        let e = failed.or_else(|| out.flush().err()).expect("an error");
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }
}
