//! The conversation fed bytes directly: record and message framing, alerts, plain text,
//! SSL 2.0.

use super::*;
use crate::capture::Timestamp;
use crate::tls::alert::AlertDescription;
use crate::tls::wire::CipherSuite;

fn at(frame: u64) -> At {
    At {
        frame,
        ts: Timestamp(frame as i64 * 1_000_000),
    }
}

/// A ClientHello body: TLS 1.2, two suites, server_name and ALPN extensions.
fn client_hello_message() -> Vec<u8> {
    client_hello_named(b"emby.example.com")
}

/// [`client_hello_message`] asking for `name`.
fn client_hello_named(name: &[u8]) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[7u8; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x04, 0xc0, 0x2f, 0x13, 0x01]); // suites
    body.extend_from_slice(&[0x01, 0x00]); // compression
    let mut sni = vec![0x00, 0x00];
    let list_len = name.len() + 3;
    sni.extend_from_slice(&((list_len + 2) as u16).to_be_bytes());
    sni.extend_from_slice(&(list_len as u16).to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
    let alpn = [0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, b'h', b'2'];
    let mut exts = sni;
    exts.extend_from_slice(&alpn);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut msg = vec![1, 0, 0, 0];
    msg[1..4].copy_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    msg.extend_from_slice(&body);
    msg
}

fn record(content_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type, 3, 1];
    r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    r.extend_from_slice(payload);
    r
}

fn check_hello(conv: &Conversation) {
    let ch = conv
        .facts
        .client_hello
        .as_ref()
        .expect("ClientHello parsed");
    assert_eq!(ch.value.server_name.as_deref(), Some("emby.example.com"));
    assert_eq!(ch.value.alpn, vec!["h2".to_string()]);
    assert_eq!(ch.value.cipher_suites, [0xc02f, 0x1301].map(CipherSuite));
}

#[test]
fn record_split_across_segments_byte_by_byte() {
    let bytes = record(22, &client_hello_message());
    let mut conv = Conversation::new();
    for (i, b) in bytes.iter().enumerate() {
        conv.on_bytes(Dir::ToServer, std::slice::from_ref(b), at(i as u64));
    }
    check_hello(&conv);
    assert_eq!(
        conv.facts.client_hello.as_ref().unwrap().at.frame,
        bytes.len() as u64 - 1
    );
}

#[test]
fn one_message_across_several_records() {
    let msg = client_hello_message();
    let (a, b) = msg.split_at(20);
    let mut bytes = record(22, a);
    bytes.extend_from_slice(&record(22, b));
    let mut conv = Conversation::new();
    conv.on_bytes(Dir::ToServer, &bytes, at(1));
    check_hello(&conv);
}

#[test]
fn several_messages_in_one_record_and_alerts() {
    // ServerHelloDone twice in one record, then a fatal alert.
    let mut conv = Conversation::new();
    conv.on_bytes(Dir::ToServer, &record(22, &client_hello_message()), at(1));
    let mut bytes = record(22, &[14, 0, 0, 0, 14, 0, 0, 0]);
    bytes.extend_from_slice(&record(21, &[2, 40]));
    conv.on_bytes(Dir::ToClient, &bytes, at(2));
    let done = conv
        .facts
        .events
        .iter()
        .filter(|e| e.what == "ServerHelloDone")
        .count();
    assert_eq!(done, 2);
    let alert = &conv.facts.alerts[0];
    assert_eq!(alert.description, Some(AlertDescription::HANDSHAKE_FAILURE));
    assert!(alert.is_fatal() && !alert.encrypted && alert.from == Dir::ToClient);
    // The outcome is decided, but the peer's answering alert is still read.
    assert!(!conv.settled);
    conv.on_bytes(Dir::ToServer, &record(21, &[2, 70]), at(3));
    assert_eq!(conv.facts.alerts.len(), 2);
    assert_eq!(conv.facts.alerts[1].from, Dir::ToServer);
    assert!(conv.settled, "both sides have spoken");
    // Nothing more from the alert's sender is parsed.
    conv.on_bytes(Dir::ToClient, &record(21, &[2, 10]), at(4));
    assert_eq!(conv.facts.alerts.len(), 2);
}

/// The ladder lines of the hellos the facts keep (the first, and the one after a
/// HelloRetryRequest) are spelled from them only when shown, a third's at once; each
/// reads as its own hello's line, in the facts and in the ladder taken out of them.
#[test]
fn client_hello_lines_are_spelled_from_their_hellos() {
    let names = ["first.example", "second.example", "third.example"];
    let mut conv = Conversation::new();
    for (frame, name) in (1..).zip(names) {
        let hello = record(22, &client_hello_named(name.as_bytes()));
        conv.on_bytes(Dir::ToServer, &hello, at(frame));
    }
    let want: Vec<String> = names
        .iter()
        .map(|name| format!("ClientHello (TLS 1.2, SNI {name}, 2 suites, ALPN h2)"))
        .collect();
    let facts = &conv.facts;
    assert_eq!(facts.events[0].what, Label::ClientHello { second: false });
    assert_eq!(facts.events[1].what, Label::ClientHello { second: true });
    assert!(matches!(facts.events[2].what, Label::Text(_)));
    let spelled: Vec<String> = facts
        .events
        .iter()
        .map(|e| facts.spelled(&e.what).to_string())
        .collect();
    assert_eq!(spelled, want);
    let ladder: Vec<String> = conv
        .facts
        .take_ladder()
        .iter()
        .map(|e| e.what.to_string())
        .collect();
    assert_eq!(ladder, want);
}

#[test]
fn plain_text_is_recognised_and_starttls_followed() {
    let mut conv = Conversation::new();
    conv.on_bytes(Dir::ToClient, b"220 mail.example.com ESMTP\r\n", at(1));
    conv.on_bytes(Dir::ToServer, b"STARTTLS\r\n", at(2));
    conv.on_bytes(Dir::ToServer, &record(22, &client_hello_message()), at(3));
    check_hello(&conv);
    let banner = conv.facts.plaintext[1].as_ref().unwrap();
    assert_eq!(
        banner.value.kind,
        crate::tls::plaintext::PlaintextKind::ServiceBanner
    );
}

#[test]
fn garbage_after_tls_is_malformed_not_a_panic() {
    let mut conv = Conversation::new();
    let mut bytes = record(22, &client_hello_message());
    bytes.extend_from_slice(&[0x99; 40]);
    conv.on_bytes(Dir::ToServer, &bytes, at(1));
    check_hello(&conv);
    assert_eq!(conv.facts.malformed.len(), 1);
    conv.on_bytes(Dir::ToServer, &[0x16; 10], at(2)); // ignored from now on
    assert_eq!(conv.facts.malformed.len(), 1);
}

/// An SSL 2.0 message with a 2-byte record header.
fn sslv2_message(body: &[u8]) -> Vec<u8> {
    let mut m = (0x8000 | body.len() as u16).to_be_bytes().to_vec();
    m.extend_from_slice(body);
    m
}

#[test]
fn sslv2_cipher_is_the_one_the_client_master_key_chooses() {
    let mut hello = vec![1, 0x00, 0x02, 0, 6, 0, 0, 0, 16];
    hello.extend_from_slice(&[0x01, 0x00, 0x80, 0x07, 0x00, 0xc0]);
    hello.extend_from_slice(&[9; 16]);
    // SERVER-HELLO: no session hit, X.509 certificate type, SSL 2.0, a 4-byte
    // "certificate", two cipher kinds, a 16-byte connection id.
    let mut server = vec![4, 0, 1, 0x00, 0x02, 0, 4, 0, 6, 0, 16];
    server.extend_from_slice(&[0x30, 0x02, 0x05, 0x00]);
    server.extend_from_slice(&[0x01, 0x00, 0x80, 0x07, 0x00, 0xc0]);
    server.extend_from_slice(&[5; 16]);
    let mut master_key = vec![2, 0x07, 0x00, 0xc0, 0, 0, 0, 8, 0, 0];
    master_key.extend_from_slice(&[1; 8]);

    let mut conv = Conversation::new();
    conv.on_bytes(Dir::ToServer, &sslv2_message(&hello), at(1));
    conv.on_bytes(Dir::ToClient, &sslv2_message(&server), at(2));
    assert!(conv.facts.sslv2);
    assert_eq!(
        conv.facts.sslv2_cipher, None,
        "two kinds offered: not chosen yet"
    );
    assert!(!conv.settled);
    conv.on_bytes(Dir::ToServer, &sslv2_message(&master_key), at(3));
    assert_eq!(conv.facts.sslv2_cipher, Some(0x07_00c0));
    assert!(conv.settled);
    assert!(conv.facts.malformed.is_empty());
    assert_eq!(
        crate::tls::suites::sslv2_cipher_name(0x07_00c0),
        "SSL_CK_DES_192_EDE3_CBC_WITH_MD5"
    );
}

/// Every connection gets a conversation on the heap: it must stay a small allocation
/// for the allocator (1 KiB in mimalloc, whose larger sizes take a slower path; crossing
/// it cost the handshake-heavy benchmark 0.8% of its instructions once).
#[test]
fn a_conversation_is_a_small_allocation() {
    let size = std::mem::size_of::<Conversation>();
    assert!(size <= 1024, "Conversation is {size} bytes");
}

/// A conversation set up for fingerprints takes each ClientHello's JA4 key as it parses
/// it, the key [`fingerprint::ja4_key`] gives for the parsed hello; one that is not takes
/// none.
#[test]
fn the_ja4_key_is_taken_when_set_up_for_it() {
    let hello = record(22, &client_hello_message());
    let parsed = |fingerprints: bool| {
        let setup = ConversationSetup {
            fingerprints,
            ..Default::default()
        };
        let mut conv = Conversation::with_setup(&Limits::default(), &setup);
        conv.on_bytes(Dir::ToServer, &hello, at(1));
        conv.facts.client_hello.expect("ClientHello parsed").value
    };
    let keyed = parsed(true);
    let want = crate::tls::fingerprint::ja4_key(&keyed, false);
    assert!(want != 0);
    assert_eq!(keyed.ja4_key, want);
    assert_eq!(parsed(false).ja4_key, 0);
}
