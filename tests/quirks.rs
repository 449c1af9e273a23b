//! Real captures as third-party captures often arrive: started in the middle of a
//! handshake, with a handshake length corrupted inside intact records, with every
//! packet twice. Each case is a capture from `captures/` edited the way such captures
//! come to be (frames left out, a length field overwritten, frames repeated), and each
//! checks what tlswhy must still get right.

use tlswhy::diagnose::Code;
use tlswhy::pipeline::{analyze_bytes, Settings};
use tlswhy::record::{CaptureReport, Handshake};

mod common;

/// The frames of a classic pcap file: the 24-byte file header and each frame's bytes
/// (its 16-byte record header included).
fn pcap_frames(bytes: &[u8]) -> (&[u8], Vec<&[u8]>) {
    assert_eq!(
        &bytes[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "a little-endian pcap"
    );
    let mut frames = Vec::new();
    let mut rest = &bytes[24..];
    while rest.len() >= 16 {
        let caplen = u32::from_le_bytes(rest[8..12].try_into().unwrap()) as usize;
        let (frame, after) = rest.split_at(16 + caplen);
        frames.push(frame);
        rest = after;
    }
    (&bytes[..24], frames)
}

fn pcap_of(header: &[u8], frames: &[&[u8]]) -> Vec<u8> {
    let mut out = header.to_vec();
    for f in frames {
        out.extend_from_slice(f);
    }
    out
}

fn capture(name: &str) -> Vec<u8> {
    std::fs::read(common::captures().join(name)).expect("capture in captures/")
}

fn analyze(bytes: &[u8]) -> CaptureReport {
    let mut settings = Settings::default();
    // The captures' servers listen on ports of their own; a connection caught after its
    // ClientHello is a TLS attempt by its port.
    settings.diagnosis.tls_ports.extend([4433, 4434, 4443]);
    analyze_bytes(bytes, "edited.pcap", &settings).expect("capture reads")
}

fn only(report: &CaptureReport) -> &Handshake {
    assert_eq!(report.handshakes.len(), 1, "one handshake attempt");
    &report.handshakes[0]
}

fn saw(h: &Handshake, what: &str) -> bool {
    h.messages.iter().any(|e| e.what == what)
}

/// Where the server's Certificate message starts in `bytes`: type 11, a 24-bit length,
/// and a certificate list exactly 3 bytes shorter.
fn certificate_message(bytes: &[u8]) -> usize {
    (0..bytes.len() - 7)
        .find(|&i| {
            let len = u32::from_be_bytes([0, bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
            let list = u32::from_be_bytes([0, bytes[i + 4], bytes[i + 5], bytes[i + 6]]);
            bytes[i] == 11 && len > 100 && list + 3 == len
        })
        .expect("a Certificate message")
}

#[test]
fn the_original_capture_completes() {
    let h_bytes = capture("ok_tls12.pcap");
    let report = analyze(&h_bytes);
    let h = only(&report);
    assert_eq!(h.verdict.code, Code::Ok);
    assert!(h.malformed.is_empty());
}

/// A Certificate whose length claims more than the limit: the message is skipped, the
/// record layer followed on, and the handshake seen to complete.
#[test]
fn an_oversized_handshake_length_does_not_lose_the_record_layer() {
    let mut bytes = capture("ok_tls12.pcap");
    let at = certificate_message(&bytes);
    bytes[at + 1..at + 4].copy_from_slice(&[0xff, 0xff, 0xff]);
    let report = analyze(&bytes);
    let h = only(&report);
    assert_eq!(h.verdict.code, Code::Ok, "{:?}", h.verdict);
    assert!(h.established);
    assert!(saw(h, "Finished (encrypted)"), "{:?}", h.messages);
}

/// A Certificate length a little too long, within the limit: the message swallows the
/// next ones until the ChangeCipherSpec record ends it; that is reported as malformed,
/// and the handshake still completes.
#[test]
fn a_wrong_handshake_length_ends_at_the_next_record_type() {
    let mut bytes = capture("ok_tls12.pcap");
    let at = certificate_message(&bytes);
    let len = u32::from_be_bytes([0, bytes[at + 1], bytes[at + 2], bytes[at + 3]]) + 3000;
    bytes[at + 1..at + 4].copy_from_slice(&len.to_be_bytes()[1..]);
    let report = analyze(&bytes);
    let h = only(&report);
    assert!(h.established, "{:?}", h.verdict);
    assert_eq!(h.verdict.code, Code::Ok, "{:?}", h.verdict);
    assert!(
        h.malformed
            .iter()
            .any(|m| m.value.what.contains("cut short") && m.value.what.contains("type 20")),
        "{:?}",
        h.malformed
    );
}

/// A capture that starts after the hellos (frames 8 on: the client's
/// ClientKeyExchange, ChangeCipherSpec and Finished, then the server's): the encrypted
/// Finished after each ChangeCipherSpec is not read as a plaintext handshake message.
#[test]
fn encrypted_finished_after_change_cipher_spec_without_a_server_hello() {
    let bytes = capture("ok_tls12.pcap");
    let (header, frames) = pcap_frames(&bytes);
    let report = analyze(&pcap_of(header, &frames[7..]));
    let h = only(&report);
    assert!(h.malformed.is_empty(), "{:?}", h.malformed);
    let finished = h
        .messages
        .iter()
        .filter(|e| e.what == "Finished (encrypted)")
        .count();
    assert_eq!(finished, 2, "{:?}", h.messages);
}

/// Every packet twice (a capture taken on two interfaces, or a mirror port that copies
/// both ways): the same verdicts, and no attempt counted twice.
#[test]
fn duplicated_packets_change_nothing() {
    for name in ["ok_tls12.pcap", "ok_tls13.pcap", "cert_unknown_ca.pcap"] {
        let bytes = capture(name);
        let (header, frames) = pcap_frames(&bytes);
        let doubled: Vec<&[u8]> = frames.iter().flat_map(|f| [*f, *f]).collect();
        let once = analyze(&bytes);
        let twice = analyze(&pcap_of(header, &doubled));
        let codes = |r: &CaptureReport| -> Vec<Code> {
            r.handshakes.iter().map(|h| h.verdict.code).collect()
        };
        assert_eq!(codes(&twice), codes(&once), "{name}");
        assert!(
            twice.handshakes.iter().all(|h| h.malformed.is_empty()),
            "{name}"
        );
    }
}

/// A probe that completes TLS 1.2 with a self-signed leaf and drops the socket at once
/// is, alone, the trust rule's `cert_self_signed`. The capture's next connection from
/// the same client resumes that session (by ticket on port 4490, by session id on
/// 4491), which proves the client accepted it: `ok`. Cut the capture before each
/// resumption and the probe is a failure again.
#[test]
fn a_later_resumption_proves_the_earlier_handshake() {
    let bytes = capture("resumption_proves_acceptance.pcap");
    let whole = analyze(&bytes);
    assert_eq!(whole.handshakes.len(), 4);
    assert!(whole.handshakes.iter().all(|h| h.verdict.code == Code::Ok));
    let resumed: Vec<&Handshake> = whole
        .handshakes
        .iter()
        .filter(|h| h.certificates.is_empty())
        .collect();
    assert_eq!(resumed.len(), 2, "two abbreviated handshakes");

    let (header, frames) = pcap_frames(&bytes);
    for port in [4490u16, 4491] {
        let mut on_port: Vec<&Handshake> = whole
            .handshakes
            .iter()
            .filter(|h| h.server.port() == port)
            .collect();
        on_port.sort_by_key(|h| h.frame);
        let [probe, resumption] = on_port[..] else {
            panic!("two connections to port {port}");
        };
        assert!(resumption.certificates.is_empty());
        // Everything before the resumption's first frame.
        let cut = pcap_of(header, &frames[..(resumption.frame - 1) as usize]);
        let alone = analyze(&cut);
        let h = alone
            .handshakes
            .iter()
            .find(|h| h.client == probe.client)
            .unwrap();
        assert_eq!(h.verdict.code, Code::CertSelfSigned, "port {port}");
    }
}
