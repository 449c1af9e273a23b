//! pcap / pcapng framing: `PacketReader::new`, every packet, then `damage()`.
//!
//! The code is `targets::capture_reader` in `fuzz/targets.rs`; tests/mutation.rs replays the
//! inputs kept in tests/data/fuzz-regressions/ through it.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::capture_reader(data));
