//! A progress line on standard error (bytes done, MB/s, connections, ETA), redrawn
//! while the pass runs from the library's [`Progress`] counters. For people at a
//! terminal: the command line starts it only there.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tlswhy::progress::Progress;

/// How often the line is redrawn, and how long a run must last before it appears.
const TICK: Duration = Duration::from_millis(250);
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// A progress line on standard error, redrawn until [`Meter::finish`].
pub struct Meter {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Meter {
    /// Starts drawing `progress`; `total` is the input size in bytes when known.
    pub fn start(progress: Arc<Progress>, total: Option<u64>) -> Meter {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || draw_until(&progress, total, &stop))
        };
        Meter {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops and erases the line.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn draw_until(progress: &Progress, total: Option<u64>, stop: &AtomicBool) {
    let started = Instant::now();
    let mut drawn = false;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(TICK);
        let elapsed = started.elapsed();
        if elapsed < SHOW_AFTER || stop.load(Ordering::Relaxed) {
            continue;
        }
        let line = status_line(progress, total, elapsed);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        drawn = true;
    }
    if drawn {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

/// `412 MB of 1024 MB (40%), 830 MB/s, 81 204 connections, ETA 1 s`.
pub fn status_line(progress: &Progress, total: Option<u64>, elapsed: Duration) -> String {
    let bytes = progress.bytes.load(Ordering::Relaxed);
    let connections = progress.connections.load(Ordering::Relaxed);
    let secs = elapsed.as_secs_f64().max(1e-3);
    let rate = bytes as f64 / secs;
    let mb = |b: f64| b / 1e6;
    let mut line = match total {
        Some(t) if t > 0 => format!(
            "{:.0} MB of {:.0} MB ({:.0}%)",
            mb(bytes as f64),
            mb(t as f64),
            100.0 * bytes as f64 / t as f64
        ),
        _ => format!("{:.0} MB", mb(bytes as f64)),
    };
    line.push_str(&format!(
        ", {:.0} MB/s, {connections} connections",
        mb(rate)
    ));
    if let Some(t) = total.filter(|&t| t > bytes && rate > 0.0) {
        line.push_str(&format!(", ETA {:.0} s", (t - bytes) as f64 / rate));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_bytes_rate_connections_and_eta() {
        let p = Progress::default();
        p.add(500_000_000, 1000);
        p.add_connections(42);
        let line = status_line(&p, Some(1_000_000_000), Duration::from_secs(2));
        assert_eq!(
            line,
            "500 MB of 1000 MB (50%), 250 MB/s, 42 connections, ETA 2 s"
        );
        let line = status_line(&p, None, Duration::from_secs(1));
        assert_eq!(line, "500 MB, 500 MB/s, 42 connections");
    }
}
