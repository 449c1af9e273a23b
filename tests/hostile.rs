//! Adversarial inputs against the documented limits (synthetic packets, built here):
//! a SYN flood from distinct ports, endless out-of-order segments that never fill a
//! hole, a ClientHello with thousands of suites and extensions, a certificate of
//! malformed DER, a pcapng with a bogus block length, overlapping retransmissions with
//! different bytes, terminal escapes in a server name, a reused 5-tuple. Each must
//! finish quickly, keep the work bounded by the limits, and report every connection —
//! nothing dropped, nothing raw reaching a terminal.

mod common;

use std::time::{Duration, Instant};

use tlswhy::diagnose::Code;
use tlswhy::limits::Limits;
use tlswhy::pipeline::analyze_bytes;
use tlswhy::pipeline::Settings;
use tlswhy::record::CaptureReport;
use tlswhy::report::wording::Worded;

/// A little-endian microsecond pcap of Ethernet frames.
struct PcapBuilder {
    bytes: Vec<u8>,
    usec: u64,
}

impl PcapBuilder {
    fn new() -> PcapBuilder {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&262_144u32.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes());
        PcapBuilder {
            bytes,
            usec: 1_700_000_000_000_000,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        src: ([u8; 4], u16),
        dst: ([u8; 4], u16),
        seq: u32,
        ack: Option<u32>,
        syn: bool,
        fin: bool,
        payload: &[u8],
    ) {
        let mut b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src.0, dst.0, 64)
            .tcp(src.1, dst.1, seq, 65535);
        if let Some(a) = ack {
            b = b.ack(a);
        }
        if syn {
            b = b.syn();
        }
        if fin {
            b = b.fin();
        }
        let mut frame = Vec::new();
        b.write(&mut frame, payload).unwrap();
        self.frame(&frame);
    }

    /// Appends one frame, 100 µs after the previous one.
    fn frame(&mut self, frame: &[u8]) {
        self.usec += 100;
        let len = (frame.len() as u32).to_le_bytes();
        self.bytes
            .extend_from_slice(&((self.usec / 1_000_000) as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&((self.usec % 1_000_000) as u32).to_le_bytes());
        self.bytes.extend_from_slice(&len);
        self.bytes.extend_from_slice(&len);
        self.bytes.extend_from_slice(frame);
    }

    /// A reset from `src`.
    fn rst(&mut self, src: ([u8; 4], u16), dst: ([u8; 4], u16), seq: u32) {
        let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src.0, dst.0, 64)
            .tcp(src.1, dst.1, seq, 0)
            .rst();
        let mut frame = Vec::new();
        b.write(&mut frame, &[]).unwrap();
        self.frame(&frame);
    }

    /// Lets `usec` microseconds pass.
    fn pause(&mut self, usec: u64) {
        self.usec += usec;
    }

    /// SYN, SYN-ACK, ACK between client and server.
    fn handshake(&mut self, c: ([u8; 4], u16), s: ([u8; 4], u16)) {
        self.tcp(c, s, 999, None, true, false, &[]);
        self.tcp(s, c, 4999, Some(1000), true, false, &[]);
        self.tcp(c, s, 1000, Some(5000), false, false, &[]);
    }
}

fn record(content_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type, 3, 3];
    r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    r.extend_from_slice(payload);
    r
}

fn handshake_message(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

/// A ClientHello with `suites` cipher suites and `extensions` extra extensions.
fn client_hello(suites: usize, extensions: usize) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[9; 32]);
    body.push(0);
    body.extend_from_slice(&((suites * 2) as u16).to_be_bytes());
    for i in 0..suites {
        body.extend_from_slice(&((0x0100 + i) as u16).to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]);
    let mut exts = Vec::new();
    for i in 0..extensions {
        exts.extend_from_slice(&((0x4000 + i) as u16).to_be_bytes());
        exts.extend_from_slice(&1u16.to_be_bytes());
        exts.push(0);
    }
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    handshake_message(1, &body)
}

/// A ClientHello with one suite and the given server_name bytes.
fn client_hello_with_sni(name: &[u8]) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[9; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 2, 0xc0, 0x2f, 1, 0]);
    let mut sni = vec![0, 0];
    sni.extend_from_slice(&((name.len() + 5) as u16).to_be_bytes());
    sni.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
    body.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    body.extend_from_slice(&sni);
    handshake_message(1, &body)
}

/// Handshake bytes as TLS records of at most 16 KiB.
fn records(handshake: &[u8]) -> Vec<u8> {
    handshake
        .chunks(16_384)
        .flat_map(|c| record(22, c))
        .collect()
}

/// Analyzes an adversarial capture. With `TLSWHY_KEEP_ADVERSARIAL=DIR` the capture is
/// also written to `DIR/<test name>.pcap`, to measure the command line on it (peak
/// memory, time).
fn analyze(bytes: &[u8], limits: Limits) -> (CaptureReport, Duration) {
    if let Some(dir) = std::env::var_os("TLSWHY_KEEP_ADVERSARIAL") {
        let name = std::thread::current()
            .name()
            .unwrap_or("adversarial")
            .replace("::", "-");
        std::fs::write(
            std::path::Path::new(&dir).join(format!("{name}.pcap")),
            bytes,
        )
        .expect("writable TLSWHY_KEEP_ADVERSARIAL folder");
    }
    let settings = Settings {
        diagnosis: tlswhy::diagnose::Settings {
            limits,
            ..Default::default()
        },
        ..Settings::default()
    };
    let started = Instant::now();
    let report = analyze_bytes(bytes, "adversarial", &settings).expect("a capture");
    (report, started.elapsed())
}

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];

#[test]
fn syn_flood_is_bounded_by_the_flow_limit_and_fully_reported() {
    let mut p = PcapBuilder::new();
    let n = 60_000u32;
    for i in 0..n {
        let src = (
            [10, 1, (i >> 16) as u8, (i >> 8) as u8],
            1024 + (i % 60_000) as u16,
        );
        p.tcp(src, (SERVER, 443), i, None, true, false, &[]);
    }
    let limits = Limits {
        max_flows: 1_000,
        ..Limits::default()
    };
    let (report, took) = analyze(&p.bytes, limits);
    assert!(took < Duration::from_secs(60), "{took:?}");
    assert_eq!(
        report.handshakes.len(),
        n as usize,
        "every SYN is a reported attempt"
    );
    assert!(
        report.stats.evicted_connections >= (n as u64 - 1_000),
        "{}",
        report.stats.evicted_connections
    );
    let limited = report
        .handshakes
        .iter()
        .filter(|h| {
            h.verdict.code == Code::IncompleteCapture
                && Worded::of(h)
                    .evidence
                    .iter()
                    .any(|e| e.contains("flow table limit of 1000"))
        })
        .count();
    assert_eq!(
        limited as u64, report.stats.evicted_connections,
        "each eviction names the limit"
    );
}

#[test]
fn endless_out_of_order_segments_never_grow_the_buffer() {
    let mut p = PcapBuilder::new();
    let c = (CLIENT, 40_000);
    let s = (SERVER, 443);
    p.handshake(c, s);
    let hello = records(&client_hello(10, 2));
    // The first 10 bytes never arrive; 20 000 segments beyond the hole do.
    for i in 0..20_000u32 {
        p.tcp(
            c,
            s,
            1000 + 10 + i * 100,
            Some(5000),
            false,
            false,
            &[0x17; 100],
        );
    }
    let _ = hello;
    let (report, took) = analyze(&p.bytes, Limits::default());
    assert!(took < Duration::from_secs(30), "{took:?}");
    let h = &report.handshakes[0];
    assert_eq!(
        h.verdict.code,
        Code::IncompleteCapture,
        "{}",
        Worded::of(h).summary
    );
    assert!(h.tcp.lost_segment[0].is_some(), "the hole is declared lost");
}

#[test]
fn client_hello_with_thousands_of_suites_and_extensions() {
    let mut p = PcapBuilder::new();
    let c = (CLIENT, 40_001);
    let s = (SERVER, 443);
    p.handshake(c, s);
    let hello = records(&client_hello(20_000, 5_000));
    let mut seq = 1000;
    for chunk in hello.chunks(1400) {
        p.tcp(c, s, seq, Some(5000), false, false, chunk);
        seq += chunk.len() as u32;
    }
    p.tcp(s, c, 5000, Some(seq), false, false, &record(21, &[2, 40]));
    let (report, took) = analyze(&p.bytes, Limits::default());
    assert!(took < Duration::from_secs(30), "{took:?}");
    let h = &report.handshakes[0];
    let ch = h.client_hello.as_ref().expect("the ClientHello parses");
    assert_eq!(ch.facts.cipher_suites.len(), 20_000);
    assert_eq!(ch.facts.extensions.len(), 5_000);
    assert_eq!(h.verdict.code, Code::NoSharedCipher);
    // The evidence stays readable: the suite list is abbreviated.
    assert!(Worded::of(h).evidence.iter().all(|e| e.len() < 2_000));
}

#[test]
fn oversized_handshake_message_hits_the_limit_and_says_so() {
    let mut p = PcapBuilder::new();
    let c = (CLIENT, 40_002);
    let s = (SERVER, 443);
    p.handshake(c, s);
    let hello = records(&client_hello(4, 0));
    p.tcp(c, s, 1000, Some(5000), false, false, &hello);
    // A server "Certificate" message announcing 16 MiB, then its first records.
    let mut cert_header = vec![11];
    cert_header.extend_from_slice(&[0xff, 0xff, 0xff]);
    let mut flight = record(22, &cert_header);
    flight.extend(record(22, &[0u8; 16_000]));
    p.tcp(
        s,
        c,
        5000,
        Some(1000 + hello.len() as u32),
        false,
        false,
        &flight,
    );
    let (report, _) = analyze(
        &p.bytes,
        Limits {
            max_handshake_message: 64 * 1024,
            ..Limits::default()
        },
    );
    let h = &report.handshakes[0];
    assert_eq!(
        h.verdict.code,
        Code::IncompleteCapture,
        "{}",
        Worded::of(h).summary
    );
    assert!(
        Worded::of(h)
            .evidence
            .iter()
            .any(|e| e.contains("over the 65536-byte limit")),
        "{:?}",
        Worded::of(h).evidence
    );
}

#[test]
fn malformed_certificate_der_is_a_fact_not_a_crash() {
    let mut p = PcapBuilder::new();
    let c = (CLIENT, 40_003);
    let s = (SERVER, 443);
    p.handshake(c, s);
    let hello = records(&client_hello(4, 0));
    p.tcp(c, s, 1000, Some(5000), false, false, &hello);
    // ServerHello (TLS 1.2, suite 0x0100), then a Certificate whose DER is garbage.
    let mut sh = vec![3, 3];
    sh.extend_from_slice(&[7; 32]);
    sh.push(0);
    sh.extend_from_slice(&[0x01, 0x00, 0]);
    let garbage = [0x30, 0x82, 0x7f, 0xff, 0x02, 0x01];
    let mut chain = Vec::new();
    chain.extend_from_slice(&(garbage.len() as u32).to_be_bytes()[1..]);
    chain.extend_from_slice(&garbage);
    let mut cert_body = (chain.len() as u32).to_be_bytes()[1..].to_vec();
    cert_body.extend_from_slice(&chain);
    let mut flight = handshake_message(2, &sh);
    flight.extend(handshake_message(11, &cert_body));
    p.tcp(
        s,
        c,
        5000,
        Some(1000 + hello.len() as u32),
        false,
        false,
        &records(&flight),
    );
    let alert = record(21, &[2, 42]);
    p.tcp(
        c,
        s,
        1000 + hello.len() as u32,
        Some(5000),
        false,
        false,
        &alert,
    );
    let (report, _) = analyze(&p.bytes, Limits::default());
    let h = &report.handshakes[0];
    assert_eq!(h.certificates.len(), 1);
    assert!(h.certificates[0].parse_error.is_some());
    // The ClientHello has no server_name, which comes first in the catalog's order.
    assert_eq!(
        h.verdict.code,
        Code::SniMissing,
        "{}",
        Worded::of(h).summary
    );
    assert!(Worded::of(h)
        .evidence
        .iter()
        .any(|e| e.contains("bad_certificate (42)")));
}

#[test]
fn pcapng_with_a_bogus_block_length_is_damage_with_an_offset() {
    let source = common::root().join("tests/data/formats/no_shared_cipher.pcapng");
    let mut bytes = std::fs::read(source).unwrap();
    // The third block (after the section and interface headers): claim 3 GB.
    let shb_len = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let idb_len = u32::from_le_bytes(bytes[shb_len + 4..shb_len + 8].try_into().unwrap()) as usize;
    let third = shb_len + idb_len;
    bytes[third + 4..third + 8].copy_from_slice(&3_000_000_000u32.to_le_bytes());
    let (report, took) = analyze(&bytes, Limits::default());
    assert!(took < Duration::from_secs(5));
    let damage = report.damage.expect("damage reported");
    assert_eq!(damage.offset, third as u64);
    assert!(damage.what.contains("3000000000"), "{}", damage.what);
}

#[test]
fn escape_sequences_in_a_server_name_never_reach_the_terminal() {
    let mut p = PcapBuilder::new();
    let c = (CLIENT, 40_004);
    let s = (SERVER, 443);
    p.handshake(c, s);
    let evil = b"\x1b]0;owned\x07\x1b[2J\x9b31mevil.example\xff";
    let hello = records(&client_hello_with_sni(evil));
    p.tcp(c, s, 1000, Some(5000), false, false, &hello);
    p.tcp(
        s,
        c,
        5000,
        Some(1000 + hello.len() as u32),
        false,
        false,
        &record(21, &[2, 112]),
    );
    for args in [
        &["analyze", "--color", "always", "-"][..],
        &["analyze", "--format", "json", "-"][..],
    ] {
        let out = common::tlswhy(args, Some(&p.bytes));
        let text = String::from_utf8(out.stdout).expect("UTF-8 output");
        assert!(
            !text.contains("\x07") && !text.contains("]0;owned\x1b"),
            "raw control bytes leaked: {text:?}"
        );
        // Colour codes are ours; none may come from the packet.
        assert!(!text.contains("\x1b[2J"), "{text:?}");
        if args.contains(&"json") {
            let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
            assert_eq!(v["verdict"]["code"], "sni_unrecognized");
            assert!(v["sni"].as_str().unwrap().contains("evil.example"));
        } else {
            assert!(text.contains("\\x1b]0;owned"), "escaped form shown: {text}");
        }
    }
}

#[test]
fn overlapping_retransmissions_with_different_bytes_are_reported() {
    let mut p = PcapBuilder::new();
    let c = (CLIENT, 40_005);
    let s = (SERVER, 443);
    p.handshake(c, s);
    let hello = records(&client_hello_with_sni(b"emby.example.com"));
    let (head, tail) = hello.split_at(20);
    // The tail arrives first, then again with different bytes, then the head.
    p.tcp(c, s, 1020, Some(5000), false, false, tail);
    let mut forged = tail.to_vec();
    forged[10] ^= 0xff;
    p.tcp(c, s, 1020, Some(5000), false, false, &forged);
    p.tcp(c, s, 1000, Some(5000), false, false, head);
    p.tcp(
        s,
        c,
        5000,
        Some(1000 + hello.len() as u32),
        false,
        false,
        &record(21, &[2, 40]),
    );
    let (report, _) = analyze(&p.bytes, Limits::default());
    let h = &report.handshakes[0];
    assert_eq!(h.tcp.conflicting_overlaps[0], 1);
    assert!(
        Worded::of(h)
            .evidence
            .iter()
            .any(|e| e.contains("ambiguous capture")),
        "{:?}",
        Worded::of(h).evidence
    );
    assert_eq!(
        h.sni.as_deref(),
        Some("emby.example.com"),
        "the first copy is used"
    );
}

#[test]
fn reused_five_tuple_after_a_close_is_a_new_connection() {
    let mut p = PcapBuilder::new();
    let c = (CLIENT, 40_006);
    let s = (SERVER, 443);
    for isn in [999u32, 777_777] {
        p.tcp(c, s, isn, None, true, false, &[]);
        p.tcp(s, c, 4999, Some(isn + 1), false, false, &[]);
        // RST-ACK: refused, twice, on the same ports.
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
            .ipv4(s.0, c.0, 64)
            .tcp(s.1, c.1, 0, 0)
            .rst()
            .ack(isn + 1)
            .write(&mut frame, &[])
            .unwrap();
        p.frame(&frame);
    }
    let (report, _) = analyze(&p.bytes, Limits::default());
    assert_eq!(
        report.handshakes.len(),
        2,
        "{:?}",
        report
            .handshakes
            .iter()
            .map(|h| h.verdict.code)
            .collect::<Vec<_>>()
    );
}

#[test]
fn strict_turns_damage_into_exit_status_2() {
    let bytes = std::fs::read(common::captures().join("relay_ip_sni.pcap")).unwrap();
    let cut = &bytes[..bytes.len() - 5];
    assert_eq!(
        common::tlswhy(&["analyze", "-"], Some(cut)).status.code(),
        Some(0)
    );
    assert_eq!(
        common::tlswhy(&["analyze", "--strict", "-"], Some(cut))
            .status
            .code(),
        Some(2)
    );
}

/// The streaming pass frees connections as they end: over a capture of 20 000 short
/// connections (a ClientHello, then the server resets), the engine never holds more than
/// those of the last few seconds of capture time, the records come out while the
/// capture is still being read, and they are the records of the whole-capture API.
#[test]
fn memory_follows_open_connections_not_the_capture() {
    use tlswhy::capture::PacketReader;
    use tlswhy::pipeline::Engine;

    let mut p = PcapBuilder::new();
    let n = 20_000u32;
    let hello = records(&client_hello_with_sni(b"example.com"));
    for i in 0..n {
        let c = (
            [10, 9, (i >> 8) as u8, i as u8],
            20_000 + (i % 40_000) as u16,
        );
        p.handshake(c, (SERVER, 443));
        p.tcp(c, (SERVER, 443), 1000, Some(5000), false, false, &hello);
        p.rst((SERVER, 443), c, 5000);
        p.pause(1_000);
    }
    let settings = Settings::default();
    let mut engine = Engine::new(&settings);
    let mut reader = PacketReader::new(&p.bytes, "stream").unwrap();
    let (mut most_tracked, mut made, mut made_by_half) = (0, 0, 0);
    let total_packets = n as usize * 5;
    for (i, packet) in reader.by_ref().enumerate() {
        engine.push(&packet);
        if i % 256 == 0 {
            engine.pump("stream");
            made += engine.take_ready().len();
            most_tracked = most_tracked.max(engine.tracked());
        }
        if i == total_packets / 2 {
            made_by_half = made;
        }
    }
    // A closed connection lingers 2 s and the table is swept once a second of capture
    // time: at 1.5 ms per connection, up to 3 s / 1.5 ms = 2 000 at once, of 20 000.
    assert!(
        most_tracked <= 2_100,
        "held {most_tracked} connections at once"
    );
    assert!(
        made_by_half >= (n / 2 - 2_100) as usize,
        "only {made_by_half} records made by half of the capture"
    );
    let whole = analyze_bytes(&p.bytes, "stream", &settings).unwrap();
    assert_eq!(whole.handshakes.len(), n as usize);
    assert!(whole
        .handshakes
        .iter()
        .all(|h| h.verdict.code == Code::ServerResetAfterClientHello));
}
