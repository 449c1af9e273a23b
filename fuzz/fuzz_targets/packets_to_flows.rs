//! Decode → flow table → TLS → diagnosis, without the capture file format.
//!
//! Input: one selector byte, then packets, each framed by a 2-byte big-endian length
//! (a length past the end takes what is left). `selector % 5` picks the link type
//! (Ethernet, raw IP, Linux SLL, Linux SLL2, BSD NULL); bit 7 makes packets 10 s apart
//! instead of 1 ms (so fragment and response timeouts come into play).
//!
//! The code is `targets::packets_to_flows` in `fuzz/targets.rs`; tests/mutation.rs replays the
//! inputs kept in tests/data/fuzz-regressions/ through it.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::packets_to_flows(data));
