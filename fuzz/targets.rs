//! What each fuzz target runs on one input, in one place: the targets in
//! `fuzz_targets/` call these, and `tests/mutation.rs` replays the inputs kept in
//! `tests/data/fuzz-regressions/` through the same functions, so a regression input
//! meets exactly the code (and the assertions) that found it.
#![allow(dead_code)] // each fuzz target uses one of these

use tlswhy::capture::{LinkType, Packet, PacketReader, Timestamp};
use tlswhy::chunks::StreamReader;
use tlswhy::connection::FlowTable;
use tlswhy::decode::Decoder;
use tlswhy::diagnose::{self, Profiles};
use tlswhy::flow::{At, Dir};
use tlswhy::keys::{KeyLog, KeySources};
use tlswhy::pipeline::Settings;
use tlswhy::pipeline::{analyze_bytes, analyze_packets};
use tlswhy::record::CaptureReport;
use tlswhy::report::collect::{Collector, Keep};
use tlswhy::report::text::{self, Options, Style};
use tlswhy::tls::Conversation;

/// Runs the target called `name` on `data`.
pub fn run(name: &str, data: &[u8]) {
    match name {
        "capture_reader" => capture_reader(data),
        "capture_stream" => capture_stream(data),
        "packets_to_flows" => packets_to_flows(data),
        "tls_conversation" => tls_conversation(data),
        "tls_keyed_conversation" => tls_keyed_conversation(data),
        "quic_attempt" => quic_attempt(data),
        "quic_keyed_attempt" => quic_keyed_attempt(data),
        _ => analyze(data),
    }
}

/// pcap / pcapng framing: `PacketReader::new`, every packet, then `damage()`.
pub fn capture_reader(data: &[u8]) {
    let Ok(mut reader) = PacketReader::new(data, "fuzz") else {
        return;
    };
    let mut frames = 0u64;
    for packet in reader.by_ref() {
        frames += 1;
        // Frame numbers count packets from 1, as Wireshark does.
        assert_eq!(packet.frame, frames);
        // Packets are borrowed from the input, so never longer than it.
        assert!(packet.data.len() <= data.len());
        std::hint::black_box(packet.ts.to_string());
        std::hint::black_box(packet.link_type.name());
    }
    if let Some(damage) = reader.damage() {
        assert!(damage.offset as usize <= data.len(), "{damage}");
        std::hint::black_box(damage.to_string());
    }
    assert!(reader.offset() <= data.len());
    std::hint::black_box(reader.link_types());
}

/// Two bytes choosing the chunk size (64 and up), then a capture: read as a stream in
/// chunks, it must give what reading it whole gives.
pub fn capture_stream(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let chunk = 64 + u16::from_le_bytes([data[0], data[1]]) as usize;
    let capture = &data[2..];
    let whole = analyze_bytes(capture, "fuzz", &Settings::default()).ok();
    assert_stream_matches("fuzz", capture, chunk, whole.as_ref());
}

/// Reads `capture` (named `name`) as a stream in chunks of `chunk` bytes and checks it
/// gives the same records (as JSON), packet count and damage as `whole`, the report of
/// reading it whole under the same name (`None` when the whole did not open as a
/// capture: then the stream must not either).
pub fn assert_stream_matches(
    name: &str,
    capture: &[u8],
    chunk: usize,
    whole: Option<&CaptureReport>,
) {
    if capture.starts_with(&[0x1f, 0x8b]) {
        // A stream is inflated when gzipped; bytes in memory are taken as they are.
        return;
    }
    let stream = StreamReader::from_reader(
        Box::new(std::io::Cursor::new(capture.to_vec())),
        name,
        chunk,
    );
    let (whole, stream) = match (whole, stream) {
        (Some(w), Ok(s)) => (w, s),
        (None, Err(_)) => return,
        (w, s) => panic!(
            "whole reading {} but stream reading {}",
            if w.is_some() { "works" } else { "fails" },
            if s.is_ok() { "works" } else { "fails" }
        ),
    };
    let settings = Settings::default();
    let mut kept = Collector::new(Keep::All);
    let report = analyze_packets(stream, usize::MAX, name, &settings, &mut |f| kept.add(f));
    let facts = |r: &CaptureReport| {
        (
            serde_json::to_string(&r.handshakes).expect("records serialize"),
            r.stats.packets,
            r.damage.as_ref().map(|d| d.to_string()),
        )
    };
    assert!(
        facts(whole) == facts(&kept.into_report(report)),
        "read in chunks of {chunk} bytes, the capture gives other records or damage"
    );
}

/// Decode → flow table → TLS → diagnosis, without the capture file format: one selector
/// byte, then packets framed by 2-byte big-endian lengths (a length past the end takes
/// what is left). `selector % 5` picks the link type (Ethernet, raw IP, Linux SLL, Linux
/// SLL2, BSD NULL); bit 7 puts packets 10 s apart instead of 1 ms.
pub fn packets_to_flows(data: &[u8]) {
    const LINK_TYPES: [LinkType; 5] = [
        LinkType::ETHERNET,
        LinkType::RAW,
        LinkType::LINUX_SLL,
        LinkType::LINUX_SLL2,
        LinkType::NULL,
    ];
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let link_type = LINK_TYPES[selector as usize % LINK_TYPES.len()];
    let step_ns: i64 = if selector & 0x80 != 0 {
        10_000_000_000
    } else {
        1_000_000
    };
    let settings = diagnose::Settings::default();
    let mut decoder = Decoder::new();
    let mut table = FlowTable::new(settings.tls_ports.clone(), settings.limits);
    let mut frame = 0u64;
    let mut ts = Timestamp(1_700_000_000_000_000_000);
    while rest.len() >= 2 {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        rest = &rest[2..];
        let (bytes, after) = rest.split_at(len.min(rest.len()));
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
    for conn in &connections {
        if let Some(verdict) = diagnose::diagnose(conn, &profiles, &settings, ts) {
            std::hint::black_box(verdict.code);
        }
    }
}

/// The TLS layer alone: chunks `[ctrl: u8][len: u16 BE][len bytes]` (a length past the
/// end takes what is left). Bit 0 of `ctrl` is the direction (0: client → server); a
/// `ctrl` of 0xfe or 0xff declares that direction lost (as the flow layer does for a
/// missing segment) and carries no length. At the end the conversation is settled and
/// its facts serialized to JSON.
pub fn tls_conversation(data: &[u8]) {
    feed_conversation(Conversation::new(), data);
}

/// The TLS layer with keys: `[len: u16 BE][an NSS key log of len bytes]`, then chunks as
/// in [`tls_conversation`]. The conversation opens its records with the key log's
/// secrets (the seeds are real keyed connections with their own key log lines).
pub fn tls_keyed_conversation(data: &[u8]) {
    let Some((keys, chunks)) = with_key_log(data) else {
        return;
    };
    let conv = Conversation::with_keys(&tlswhy::limits::Limits::default(), &keys);
    feed_conversation(conv, chunks);
}

/// `[len: u16 BE][an NSS key log of len bytes]` and what follows: the key log as the
/// key sources of a run, and the rest.
fn with_key_log(data: &[u8]) -> Option<(KeySources, &[u8])> {
    let len = data
        .get(..2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)?;
    let lines = data.get(2..2 + len)?;
    let log = KeyLog::new();
    log.add_lines(lines);
    let keys = KeySources {
        given: Some(std::sync::Arc::new(log)),
        embedded: None,
    };
    Some((keys, &data[2 + len..]))
}

/// The chunks `[ctrl: u8][len: u16 BE][len bytes]` of `data` with the frame number
/// and time they stand for (one a millisecond from frame 1); a `ctrl` for which `bare`
/// holds carries no length and no bytes; a length past the end, or cut, takes what is
/// left.
fn chunks(data: &[u8], bare: impl Fn(u8) -> bool) -> impl Iterator<Item = (u8, At, &[u8])> {
    let mut rest = data;
    let mut frame = 0u64;
    std::iter::from_fn(move || {
        let (&ctrl, after) = rest.split_first()?;
        rest = after;
        frame += 1;
        let at = At {
            frame,
            ts: Timestamp(frame as i64 * 1_000_000),
        };
        if bare(ctrl) {
            return Some((ctrl, at, &[][..]));
        }
        let len = match rest {
            [a, b, after @ ..] => {
                rest = after;
                u16::from_be_bytes([*a, *b]) as usize
            }
            _ => rest.len(),
        };
        let (chunk, after) = rest.split_at(len.min(rest.len()));
        rest = after;
        Some((ctrl, at, chunk))
    })
}

/// Bit 0 of a chunk's `ctrl`: 0 from the client, 1 from the server.
fn direction(ctrl: u8) -> Dir {
    if ctrl & 1 == 0 {
        Dir::ToServer
    } else {
        Dir::ToClient
    }
}

/// One QUIC attempt: chunks `[ctrl: u8][len: u16 BE][a UDP datagram]` (a length past
/// the end takes what is left). Bit 0 of `ctrl` is the direction (0: client → server);
/// a `ctrl` of 0xff is an ICMP port unreachable and carries no length. At the end the
/// attempt's outcome is decided, and what it read stays within its bounds.
pub fn quic_attempt(data: &[u8]) {
    feed_attempt(data, None);
}

/// One QUIC attempt with keys: `[len: u16 BE][an NSS key log of len bytes]`, then
/// chunks as in [`quic_attempt`]. Handshake packets open with the key log's secrets
/// (the seeds are the recorded QUIC captures with their own key logs).
pub fn quic_keyed_attempt(data: &[u8]) {
    if let Some((keys, chunks)) = with_key_log(data) {
        feed_attempt(chunks, Some(&keys));
    }
}

/// Feeds datagram chunks to an attempt, then decides its outcome and checks what it
/// read stays within its bounds.
fn feed_attempt(data: &[u8], keys: Option<&KeySources>) {
    let mut attempt = tlswhy::quic::attempt::QuicAttempt::default();
    for (ctrl, at, datagram) in chunks(data, |ctrl| ctrl == 0xff) {
        if ctrl == 0xff {
            attempt.on_port_unreachable(at);
        } else {
            attempt.on_datagram_with_keys(direction(ctrl), at, datagram, keys);
        }
    }
    let code = attempt.outcome().code();
    assert!(!code.is_empty());
    if let Some(close) = &attempt.close {
        assert!(close.reason.len() <= 256, "a reason kept past its bound");
    }
    // The verdict states the outcome's code; only a certificate rejection may be
    // narrowed by what keys show.
    let outcome = attempt.outcome();
    let verdict = tlswhy::diagnose::quic::verdict(&attempt, 443, None, None);
    if outcome != tlswhy::quic::attempt::QuicOutcome::CertRejected {
        assert_eq!(verdict.code.as_str(), code);
    }
    std::hint::black_box(format!("{attempt:?}"));
}

/// Feeds `[ctrl][len: u16 BE][bytes]` chunks to `conv`, then settles it and serializes
/// its facts.
fn feed_conversation(mut conv: Conversation, data: &[u8]) {
    for (ctrl, at, chunk) in chunks(data, |ctrl| ctrl >= 0xfe) {
        let dir = direction(ctrl);
        if ctrl >= 0xfe {
            conv.lose(dir, at, "fuzz: segment missing".into());
            continue;
        }
        std::hint::black_box(Conversation::starts_with_client_hello(chunk));
        conv.on_bytes(dir, chunk, at);
    }
    std::hint::black_box(conv.is_tls13());
    conv.settle();
    serde_json::to_string(&conv.facts).expect("TLS facts serialize to JSON");
}

/// The whole pipeline on one capture, then both outputs: every handshake as JSON (must
/// never fail, must parse back) and the text report.
pub fn analyze(data: &[u8]) {
    let Ok(report) = analyze_bytes(data, "fuzz", &Settings::default()) else {
        return;
    };
    for h in &report.handshakes {
        let line = serde_json::to_string(h).expect("handshake serializes to JSON");
        let back: serde_json::Value = serde_json::from_str(&line).expect("JSON parses back");
        assert!(back.is_object());
    }
    let reports = [report];
    let style = Style { color: false };
    let mut out = Vec::new();
    text::write_report(
        &mut out,
        &reports,
        Options {
            show_ok: true,
            style,
        },
    )
    .expect("text report");
    text::write_summary(&mut out, &reports, style).expect("summary");
}
