//! Decode → flow table → TLS → diagnosis, without the capture file format.
//!
//! Input: one selector byte, then packets, each framed by a 2-byte big-endian length
//! (a length past the end takes what is left). `selector % 5` picks the link type
//! (Ethernet, raw IP, Linux SLL, Linux SLL2, BSD NULL); bit 7 makes packets 10 s apart
//! instead of 1 ms (so fragment and response timeouts come into play).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlswhy::analyze::diagnose_all;
use tlswhy::capture::{LinkType, Packet, Timestamp};
use tlswhy::decode::Decoder;
use tlswhy::diagnose::{Profiles, Settings};
use tlswhy::flow::{At, FlowTable};

const LINK_TYPES: [LinkType; 5] = [
    LinkType::ETHERNET,
    LinkType::RAW,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::NULL,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let link_type = LINK_TYPES[selector as usize % LINK_TYPES.len()];
    let step_ns: i64 = if selector & 0x80 != 0 {
        10_000_000_000
    } else {
        1_000_000
    };
    let settings = Settings::default();
    let mut decoder = Decoder::new();
    let mut table = FlowTable::new(settings.tls_ports.clone(), settings.limits);
    let mut frame = 0u64;
    let mut ts = Timestamp(1_700_000_000_000_000_000);
    while rest.len() >= 2 {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        rest = &rest[2..];
        let take = len.min(rest.len());
        let (bytes, after) = rest.split_at(take);
        rest = after;
        frame += 1;
        ts = Timestamp(ts.0 + step_ns);
        let packet = Packet {
            frame,
            ts,
            link_type,
            data: bytes,
            orig_len: len as u32,
        };
        if let Ok(segment) = decoder.decode(&packet) {
            table.on_segment(&segment, At { frame, ts });
        }
    }
    let connections = table.finish();
    let profiles = Profiles::build(&connections);
    for h in diagnose_all("fuzz", &connections, &profiles, &settings, ts) {
        std::hint::black_box(h.verdict.code);
    }
});
