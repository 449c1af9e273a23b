//! The TLS layer alone: record framing, handshake reassembly, hellos, certificates,
//! alerts, STARTTLS scanning.
//!
//! Input: chunks `[ctrl: u8][len: u16 big-endian][len bytes]` (a length past the end
//! takes what is left). Bit 0 of `ctrl` is the direction (0: client → server). A `ctrl`
//! of 0xfe or 0xff, instead of bytes, declares that direction lost (as the flow layer
//! does for a missing segment) and carries no length. At the end the conversation is
//! settled and its facts serialized to JSON.
//!
//! The code is `targets::tls_conversation` in `fuzz/targets.rs`; tests/mutation.rs replays the
//! inputs kept in tests/data/fuzz-regressions/ through it.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::tls_conversation(data));
