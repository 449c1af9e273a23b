//! Reading a capture as a stream in chunks must give exactly what reading it whole
//! gives: the same records, packet count and damage. The first two bytes choose the
//! chunk size (64 bytes and up); the rest is the capture.
//!
//! The code is `targets::capture_stream` in `fuzz/targets.rs`; tests/mutation.rs replays the
//! inputs kept in tests/data/fuzz-regressions/ through it.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::capture_stream(data));
