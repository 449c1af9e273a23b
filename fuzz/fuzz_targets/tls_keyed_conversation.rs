//! The TLS layer with keys: records opened with the secrets of an NSS key log (TLS 1.3
//! and TLS 1.2 record protection, the decrypted handshake messages and alerts).
//!
//! Input: `[len: u16 big-endian][an NSS key log of len bytes]`, then chunks as in
//! `tls_conversation` (`[ctrl: u8][len: u16 big-endian][len bytes]`, bit 0 of `ctrl` the
//! direction, 0xfe/0xff a lost direction). The seeds are the connections of the keyed
//! captures (`captures/keys_*.pcap`) with their key logs.
//!
//! The code is `targets::tls_keyed_conversation` in `fuzz/targets.rs`.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::tls_keyed_conversation(data));
