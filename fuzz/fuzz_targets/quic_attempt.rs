//! One QUIC connection attempt, datagram by datagram (Initials opened, CRYPTO
//! reassembled, CONNECTION_CLOSE read), then its outcome.
//!
//! The code is `targets::quic_attempt` in `fuzz/targets.rs`; tests/mutation.rs replays
//! the inputs kept in tests/data/fuzz-regressions/ through it.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::quic_attempt(data));
