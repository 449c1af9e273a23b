//! The whole pipeline on one capture, then both outputs: every handshake as JSON
//! (must never fail, must parse back) and the text report.
//!
//! The code is `targets::analyze` in `fuzz/targets.rs`; tests/mutation.rs replays the
//! inputs kept in tests/data/fuzz-regressions/ through it.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::analyze(data));
