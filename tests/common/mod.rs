//! Helpers shared by the integration tests: paths, running the binary, loading JSON.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tlswhy::analyze::{self, CaptureReport};
use tlswhy::capture::Source;
use tlswhy::diagnose::Settings;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `captures/` in the repository.
pub fn captures() -> PathBuf {
    root().join("captures")
}

/// The third-party corpus: `TLSWHY_CORPUS`, else `../shared/corpus` beside the checkout.
pub fn corpus() -> PathBuf {
    match std::env::var_os("TLSWHY_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => root().join("../shared/corpus"),
    }
}

/// Analyzes one file with default settings.
pub fn analyze(path: &Path) -> CaptureReport {
    analyze::analyze_source(&Source::File(path.to_path_buf()), &Settings::default())
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
