//! One QUIC attempt with a key log: Handshake packets opened, the server's
//! EncryptedExtensions and Certificate read, then its outcome and verdict.
//!
//! The code is `targets::quic_keyed_attempt` in `fuzz/targets.rs`; tests/mutation.rs
//! replays the inputs kept in tests/data/fuzz-regressions/ through it.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::quic_keyed_attempt(data));
