//! Helpers shared by the integration tests: paths, running the binary, loading JSON.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tlswhy::capture::Source;
use tlswhy::pipeline;
use tlswhy::pipeline::Settings;
use tlswhy::record::CaptureReport;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `captures/` in the repository.
pub fn captures() -> PathBuf {
    root().join("captures")
}

/// Where the third-party corpus is looked for: `TLSWHY_CORPUS`, else `../shared/corpus`
/// beside the checkout.
pub fn corpus() -> PathBuf {
    match std::env::var_os("TLSWHY_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => root().join("../shared/corpus"),
    }
}

/// True when `TLSWHY_REQUIRE_CORPUS` is set (to anything but empty or `0`): CI, which
/// always has the corpus, must fail rather than skip without it.
pub fn corpus_required() -> bool {
    std::env::var_os("TLSWHY_REQUIRE_CORPUS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The third-party corpus folder, or `None` when it is absent: then `what` (the test, or
/// the part of it that reads the corpus) is skipped with one line on standard error
/// saying where the corpus was looked for and how to get it — unless
/// [`corpus_required`], which makes the absence a failure. A folder that is there is
/// returned as it is: a broken corpus fails the tests that read it.
pub fn corpus_if_present(what: &str) -> Option<PathBuf> {
    let dir = corpus();
    if dir.is_dir() {
        return Some(dir);
    }
    let whence = if std::env::var_os("TLSWHY_CORPUS").is_some() {
        "the path TLSWHY_CORPUS gives"
    } else {
        "../shared/corpus beside the checkout, TLSWHY_CORPUS being unset"
    };
    let line = format!(
        "no third-party corpus at {} ({whence}); to run it, put the project's shared/corpus \
         folder (captures from the Zeek, Suricata and nDPI test suites) at ../shared/corpus \
         beside the checkout or set TLSWHY_CORPUS=DIR",
        dir.display()
    );
    assert!(
        !corpus_required(),
        "{what}: {line} (TLSWHY_REQUIRE_CORPUS is set: the corpus may not be skipped)"
    );
    // Straight to the process's standard error: `cargo test` shows it even for a passing
    // test (its capture only takes `print!`/`eprint!`).
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {what}: {line}");
    None
}

/// A capture made by the reference benchmark generator (`../shared/bench/gen_bench_pcap.py`
/// beside the checkout) with `args`, written to `dir`; `None` when the generator or
/// `python3` is absent: then `what` (the test, or the part of it that needs the
/// generator) is skipped with a `SKIPPED` line on standard error — unless
/// [`corpus_required`], which makes the absence a failure.
pub fn reference_capture(what: &str, dir: &Path, args: &[&str]) -> Option<PathBuf> {
    let generator = root().join("../shared/bench/gen_bench_pcap.py");
    let python = Command::new("python3").arg("--version").output();
    if !generator.is_file() || python.is_err() {
        assert!(
            !corpus_required(),
            "{what}: {} and python3 are required when TLSWHY_REQUIRE_CORPUS is set",
            generator.display()
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {what}: no {} or no python3",
            generator.display()
        );
        return None;
    }
    let pcap = dir.join("gen.pcap");
    let status = Command::new("python3")
        .arg(&generator)
        .args(args)
        .arg("--out")
        .arg(&pcap)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{what}: the generator failed");
    Some(pcap)
}

/// Analyzes one file with default settings.
pub fn analyze(path: &Path) -> CaptureReport {
    pipeline::analyze_source(&Source::File(path.to_path_buf()), &Settings::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs the binary with `args`, optionally feeding `stdin`.
pub fn tlswhy(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tlswhy"));
    cmd.args(args).current_dir(root());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run tlswhy");
    if let Some(input) = stdin {
        use std::io::Write;
        // A program that exits early (bad usage) closes its stdin: not a test failure.
        if let Err(e) = child.stdin.take().unwrap().write_all(input) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
    }
    child.wait_with_output().expect("wait for tlswhy")
}

/// Parses JSON Lines output.
pub fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect()
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs the benchmark generator (`examples/gen_capture`, built with the tests' profile)
/// with `args`, writing the capture to `out` and its truth file to `truth`.
#[allow(dead_code)] // not every test binary generates captures
pub fn gen_capture(args: &[&str], out: &Path, truth: &Path) {
    let mut cargo = std::process::Command::new(env!("CARGO"));
    cargo.current_dir(root()).args(["run", "--quiet"]);
    if !cfg!(debug_assertions) {
        cargo.arg("--release");
    }
    let status = cargo
        .args(["--example", "gen_capture", "--"])
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("--truth")
        .arg(truth)
        .status()
        .expect("run examples/gen_capture");
    assert!(status.success(), "gen_capture {args:?}");
}

/// Splits a little-endian Ethernet pcap in two: the TCP connections alternate between
/// the files in the order they first appear, so each file holds some of a server's
/// connections.
pub fn split_capture(capture: &Path, a: &Path, b: &Path) {
    let bytes = std::fs::read(capture).unwrap();
    assert_eq!(
        &bytes[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "a little-endian pcap"
    );
    let mut out = [bytes[..24].to_vec(), bytes[..24].to_vec()];
    let mut side_of: std::collections::BTreeMap<(u16, u16), usize> = Default::default();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let record = &bytes[at..at + 16 + caplen];
        at += 16 + caplen;
        let ports = etherparse::SlicedPacket::from_ethernet(&record[16..])
            .ok()
            .and_then(|p| match p.transport {
                Some(etherparse::TransportSlice::Tcp(t)) => {
                    Some((t.source_port(), t.destination_port()))
                }
                _ => None,
            });
        let side = match ports {
            Some((s, d)) => {
                let key = (s.min(d), s.max(d));
                let next = side_of.len() % 2;
                *side_of.entry(key).or_insert(next)
            }
            None => 0,
        };
        out[side].extend_from_slice(record);
    }
    assert!(
        side_of.len() >= 2,
        "{}: a capture of several connections",
        capture.display()
    );
    std::fs::write(a, &out[0]).unwrap();
    std::fs::write(b, &out[1]).unwrap();
}
