//! The TLS layer alone: record framing, handshake reassembly, hellos, certificates,
//! alerts, STARTTLS scanning.
//!
//! Input: chunks `[ctrl: u8][len: u16 big-endian][len bytes]` (a length past the end
//! takes what is left). Bit 0 of `ctrl` is the direction (0: client → server). A `ctrl`
//! of 0xfe or 0xff, instead of bytes, declares that direction lost (as the flow layer
//! does for a missing segment) and carries no length. At the end the conversation is
//! settled and its facts serialized to JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlswhy::capture::Timestamp;
use tlswhy::flow::{At, Dir};
use tlswhy::tls::Conversation;

fuzz_target!(|data: &[u8]| {
    let mut conv = Conversation::new();
    let mut rest = data;
    let mut frame = 0u64;
    while let Some((&ctrl, after)) = rest.split_first() {
        rest = after;
        frame += 1;
        let at = At {
            frame,
            ts: Timestamp(frame as i64 * 1_000_000),
        };
        let dir = if ctrl & 1 == 0 {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        if ctrl >= 0xfe {
            conv.lose(dir, at, "fuzz: segment missing".into());
            continue;
        }
        if rest.len() < 2 {
            conv.on_bytes(dir, rest, at);
            break;
        }
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        rest = &rest[2..];
        let (chunk, after) = rest.split_at(len.min(rest.len()));
        rest = after;
        std::hint::black_box(Conversation::starts_with_client_hello(chunk));
        conv.on_bytes(dir, chunk, at);
    }
    std::hint::black_box(conv.is_tls13());
    conv.settle();
    serde_json::to_string(&conv.facts).expect("TLS facts serialize to JSON");
});
