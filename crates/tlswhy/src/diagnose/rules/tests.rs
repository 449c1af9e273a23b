//! Each family of rules, tested from small fact structs: a connection is built from the
//! facts a rule reads (TCP events, hellos, alerts, records), no capture needed. The
//! captures under `captures/` test the same rules end to end.

use std::sync::Arc;

use crate::capture::Timestamp;
use crate::connection::Connection;
use crate::diagnose::verdict::{Finding, Fix, ServerReaction, Unfinished};
use crate::diagnose::{diagnose, Code, Detail, Profiles, Settings, Verdict};
use crate::flow::{At, Dir};
use crate::tls::alert::{AlertDescription as AD, AlertLevel};
use crate::tls::cert::CertFacts;
use crate::tls::facts::{AlertFacts, CertChain, CertCount, PlaintextFacts, Seen};
use crate::tls::hello::{ClientHelloFacts, ServerHelloFacts};
use crate::tls::plaintext::PlaintextKind;
use crate::tls::wire::{CipherSuite, ProtocolVersion};

const CLIENT: &str = "10.0.0.1:50000";
const SERVER: &str = "10.0.0.2:443";

/// Frame `frame`, `ms` milliseconds into the capture.
fn at(frame: u64, ms: i64) -> At {
    At {
        frame,
        ts: Timestamp(1_700_000_000_000_000_000 + ms * 1_000_000),
    }
}

/// A connection that completed its TCP handshake (frames 1–3, 0–2 ms).
fn connected() -> Connection {
    let mut c = Connection::for_test(CLIENT.parse().unwrap(), SERVER.parse().unwrap(), at(1, 0));
    c.tcp.syn = Some(at(1, 0));
    c.tcp.syn_count = 1;
    c.tcp.syn_ack = Some(at(2, 1));
    c.tcp.packets = [2, 1];
    c.last = at(3, 2);
    c
}

fn hello(sni: Option<&str>, suites: &[u16]) -> ClientHelloFacts {
    ClientHelloFacts {
        legacy_version: ProtocolVersion::TLS1_2,
        cipher_suites: suites.iter().copied().map(CipherSuite).collect(),
        server_name: sni.map(str::to_string),
        ..Default::default()
    }
}

/// The client's ClientHello at frame 4, 3 ms in.
fn with_client_hello(c: &mut Connection, ch: ClientHelloFacts) {
    c.tcp.payload_bytes[0] += 300;
    c.tls_mut().facts.client_hello = Some(Seen {
        at: at(4, 3),
        value: ch,
    });
    c.last = at(4, 3);
}

fn server_hello(c: &mut Connection, frame: u64, ms: i64, version: u16, suite: u16) {
    c.tcp.payload_bytes[1] += 100;
    c.tls_mut().facts.server_hello = Some(Seen {
        at: at(frame, ms),
        value: ServerHelloFacts {
            legacy_version: ProtocolVersion::TLS1_2,
            version: ProtocolVersion(version),
            cipher_suite: CipherSuite(suite),
            ..Default::default()
        },
    });
    c.last = c.last.max(at(frame, ms));
}

fn alert(c: &mut Connection, frame: u64, ms: i64, from: Dir, description: AD) {
    c.tls_mut().facts.alerts.push(AlertFacts {
        at: at(frame, ms),
        from,
        level: Some(AlertLevel::FATAL),
        description: Some(description),
        encrypted: false,
        decrypted: false,
        record_length: 0,
    });
    c.last = c.last.max(at(frame, ms));
}

fn fin(c: &mut Connection, from: Dir, frame: u64, ms: i64) {
    c.tcp.fin[from.index()] = Some(at(frame, ms));
    c.last = c.last.max(at(frame, ms));
}

fn encrypted(c: &mut Connection, from: Dir, frame: u64, ms: i64, len: u32) {
    let records = &mut c.tls_mut().facts.encrypted[from.index()];
    records.first.push((at(frame, ms), len));
    records.count += 1;
    records.bytes += u64::from(len);
    c.tcp.payload_bytes[from.index()] += u64::from(len) + 5;
    c.last = c.last.max(at(frame, ms));
}

fn leaf(names: &[&str]) -> CertFacts {
    CertFacts {
        subject: format!("CN={}", names[0]),
        issuer: "CN=Some CA".into(),
        common_name: Some(names[0].to_string()),
        dns_names: names.iter().map(|n| n.to_string()).collect(),
        not_before: 1_600_000_000,
        not_after: 1_900_000_000,
        ..Default::default()
    }
}

fn server_certificate(c: &mut Connection, frame: u64, ms: i64, leaf: CertFacts) {
    c.tls_mut().facts.server_certificates = Some(Seen {
        at: at(frame, ms),
        value: CertChain {
            certificates: Arc::new(vec![leaf]),
            chain_length: 1,
        },
    });
}

/// Diagnoses `c` alone (no profiles), the capture ending `end_ms` in.
fn verdict_at(c: &Connection, profiles: &Profiles, end_ms: i64) -> Verdict {
    diagnose(c, profiles, &Settings::default(), at(u64::MAX, end_ms).ts).expect("a TLS attempt")
}

fn verdict(c: &Connection) -> Verdict {
    verdict_at(
        c,
        &Profiles::default(),
        c.last.ts.secs_since(at(0, 0).ts) as i64 * 1000 + 10,
    )
}

fn kinds(v: &Verdict) -> Vec<&'static str> {
    v.details
        .iter()
        .map(|d| match d {
            Detail::ClientHello { .. } => "client_hello",
            Detail::Alert { .. } => "alert",
            Detail::Close { .. } => "close",
            Detail::Silence { .. } => "silence",
            Detail::ServerHello { .. } => "server_hello",
            Detail::ServerCertificate { .. } => "server_certificate",
            Detail::SuitesOffered { .. } => "suites_offered",
            Detail::ProfileSuitesPicked { .. } => "profile_suites_picked",
            Detail::ProfileSharedSuites { .. } => "profile_shared_suites",
            Detail::EncryptedAlert { .. } => "encrypted_alert",
            _ => "other",
        })
        .collect()
}

// ---- tcp ----

#[test]
fn tcp_syn_answered_by_reset_is_refused() {
    let mut c = Connection::for_test(CLIENT.parse().unwrap(), SERVER.parse().unwrap(), at(1, 0));
    c.tcp.syn = Some(at(1, 0));
    c.tcp.syn_count = 1;
    c.tcp.rst[1] = Some(at(2, 1));
    c.last = at(2, 1);
    let v = verdict(&c);
    assert_eq!(v.code, Code::ConnectionRefused);
    assert!(matches!(v.fix, Fix::ListenOnPort { port: 443 }));
}

#[test]
fn tcp_retransmitted_syn_without_answer_is_a_timeout() {
    let mut c = Connection::for_test(CLIENT.parse().unwrap(), SERVER.parse().unwrap(), at(1, 0));
    c.tcp.syn = Some(at(1, 0));
    c.tcp.syn_count = 3;
    c.last = at(3, 3000);
    let v = verdict_at(&c, &Profiles::default(), 3010);
    assert_eq!(v.code, Code::ConnectionTimeout);
    assert!(matches!(
        v.details[1],
        Detail::Silence {
            until_capture_end: true,
            ..
        }
    ));
}

#[test]
fn tcp_server_reset_or_fin_after_the_client_hello() {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0x1301]));
    c.tcp.rst[1] = Some(at(5, 4));
    assert_eq!(verdict(&c).code, Code::ServerResetAfterClientHello);

    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0x1301]));
    fin(&mut c, Dir::ToClient, 5, 4);
    assert_eq!(verdict(&c).code, Code::ServerClosedAfterClientHello);

    // A FIN, then a reset (the kernel answering the client's later bytes): a close.
    c.tcp.rst[1] = Some(at(6, 5));
    assert_eq!(verdict(&c).code, Code::ServerClosedAfterClientHello);

    // One segment with both flags is a reset, in the verdict and in its evidence.
    c.tcp.rst[1] = Some(at(5, 4));
    let v = verdict(&c);
    assert_eq!(v.code, Code::ServerResetAfterClientHello);
    assert!(
        v.details.iter().any(|d| matches!(
            d,
            Detail::Close { at, from: Dir::ToClient, how: crate::diagnose::detail::CloseKind::Rst }
                if at.frame == 5
        )),
        "{:?}",
        v.details
    );
}

#[test]
fn tcp_silence_after_the_client_hello() {
    // The capture goes on 5 s: no answer is a timeout.
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0x1301]));
    let v = verdict_at(&c, &Profiles::default(), 5000);
    assert_eq!(v.code, Code::NoResponseTimeout);
    // The client closes after 100 ms: it gave up first.
    fin(&mut c, Dir::ToServer, 5, 103);
    let v = verdict(&c);
    assert_eq!(v.code, Code::ClientAborted);
    assert!(matches!(v.finding, Finding::ClientGaveUp { waited } if (waited - 0.1).abs() < 1e-6));
    // The capture ends 100 ms after it: it cannot tell.
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0x1301]));
    let v = verdict_at(&c, &Profiles::default(), 103);
    assert!(matches!(
        v.finding,
        Finding::Unfinished {
            why: Unfinished::BeforeServerAnswer { .. }
        }
    ));
}

// ---- peer ----

#[test]
fn peer_plain_text_to_a_tls_port() {
    let mut c = connected();
    c.tcp.payload_bytes[0] = 40;
    c.tls_mut().facts.plaintext[0] = Some(Box::new(Seen {
        at: at(4, 3),
        value: PlaintextFacts {
            kind: PlaintextKind::HttpRequest,
            first_line: "GET / HTTP/1.1".into(),
            text: true,
            record_inside_segment: false,
            after_client_hello: None,
        },
    }));
    let v = verdict(&c);
    assert_eq!(v.code, Code::PlaintextToTlsPort);
    assert!(matches!(v.fix, Fix::ClientUseTls { port: 443 }));
}

/// A ServerHello proves a ClientHello the capture does not hold: the client's first
/// bytes before it were a proxy's preamble (SOCKS4 here), not bytes the server refused —
/// on any port, not only TLS ports.
#[test]
fn peer_a_server_hello_without_the_client_hello_is_an_incomplete_capture() {
    let mut c = Connection::for_test(
        "10.0.0.1:50606".parse().unwrap(),
        "10.0.0.2:9901".parse().unwrap(),
        at(1, 0),
    );
    c.tcp.syn = Some(at(1, 0));
    c.tcp.syn_ack = Some(at(2, 80));
    c.tcp.payload_bytes = [239, 3000];
    c.tcp.lost_segment[0] = Some(at(7, 1038));
    c.tls_mut().facts.plaintext[0] = Some(Box::new(Seen {
        at: at(4, 319),
        value: PlaintextFacts {
            kind: PlaintextKind::Unknown,
            first_line: "04 01 01 bb".into(),
            text: false,
            record_inside_segment: false,
            after_client_hello: None,
        },
    }));
    let lone = |c: &Connection| {
        diagnose(
            c,
            &Profiles::default(),
            &Settings::default(),
            at(u64::MAX, 5000).ts,
        )
    };
    assert!(lone(&c).is_none(), "not an attempt without a hello");
    server_hello(&mut c, 16, 1866, 0x0303, 0xc027);
    let v = lone(&c).expect("a ServerHello makes it an attempt");
    assert_eq!(v.code, Code::IncompleteCapture, "{v:?}");
}

#[test]
fn peer_a_banner_in_answer_to_a_client_hello() {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0x1301]));
    c.tls_mut().facts.plaintext[1] = Some(Box::new(Seen {
        at: at(5, 4),
        value: PlaintextFacts {
            kind: PlaintextKind::SshBanner,
            first_line: "SSH-2.0-OpenSSH_9.2".into(),
            text: true,
            record_inside_segment: false,
            after_client_hello: None,
        },
    }));
    let v = verdict(&c);
    assert_eq!(v.code, Code::TlsToPlaintextPort);
    assert_eq!(kinds(&v), ["client_hello", "other"]);
}

/// STARTTLS: the client spoke the protocol in plain text before its ClientHello, so
/// the server's text before the hello (banner, "234") was that conversation; its TLS
/// alert after the hello decides. Plain text after the hello (a refused upgrade the
/// client went on past) is the server's answer.
#[test]
fn peer_text_before_a_starttls_hello_is_not_the_answer() {
    let text = |ms: i64, line: &str, after: Option<At>| {
        Some(Box::new(Seen {
            at: at(3, ms),
            value: PlaintextFacts {
                kind: PlaintextKind::ServiceBanner,
                first_line: line.into(),
                text: true,
                record_inside_segment: false,
                after_client_hello: after,
            },
        }))
    };
    let mut c = connected();
    c.tls_mut().facts.plaintext[1] = text(2, "220 (vsFTPd 3.0.3)", None);
    c.tls_mut().facts.plaintext[0] = text(2, "AUTH TLS", None);
    with_client_hello(&mut c, hello(Some("a.example"), &[0xc02b]));
    alert(&mut c, 5, 4, Dir::ToClient, AD::HANDSHAKE_FAILURE);
    assert_eq!(verdict(&c).code, Code::NoSharedCipher);
    c.tls_mut().facts.plaintext[1] = text(2, "220 (vsFTPd 3.0.3)", Some(at(5, 4)));
    assert_eq!(verdict(&c).code, Code::TlsToPlaintextPort);
}

#[test]
fn peer_a_capture_that_starts_mid_stream() {
    let mut c = Connection::for_test(CLIENT.parse().unwrap(), SERVER.parse().unwrap(), at(1, 0));
    c.tcp.payload_bytes = [500, 500];
    c.tcp.packets = [1, 1];
    c.last = at(2, 1);
    assert!(matches!(
        verdict(&c).finding,
        Finding::CaptureStartsMidConnection
    ));
}

/// A keep-alive byte (or any bytes) from a client seen only from the middle of its
/// connection says nothing about what the client speaks.
#[test]
fn peer_a_keep_alive_byte_mid_stream_is_not_plain_text_to_a_tls_port() {
    let mut c = Connection::for_test(CLIENT.parse().unwrap(), SERVER.parse().unwrap(), at(1, 0));
    c.tcp.payload_bytes = [1, 0];
    c.tcp.packets = [1, 1];
    c.tls_mut().facts.plaintext[0] = Some(Box::new(Seen {
        at: at(1, 0),
        value: PlaintextFacts {
            kind: PlaintextKind::Unknown,
            first_line: "00".into(),
            text: false,
            record_inside_segment: false,
            after_client_hello: None,
        },
    }));
    c.last = at(2, 1);
    let v = verdict(&c);
    assert_eq!(v.code, Code::IncompleteCapture);
    assert!(matches!(v.finding, Finding::CaptureStartsMidConnection));
}

/// SSH through a port multiplexer on 443: both sides speak SSH, no TLS attempt.
#[test]
fn peer_another_protocol_answered_in_kind_is_not_an_attempt() {
    let mut c = connected();
    c.tcp.payload_bytes = [1500, 1500];
    for (d, line) in ["SSH-2.0-OpenSSH_9.2p1", "SSH-2.0-OpenSSH_9.2p1 Debian"]
        .into_iter()
        .enumerate()
    {
        c.tls_mut().facts.plaintext[d] = Some(Box::new(Seen {
            at: at(4 + d as u64, 3),
            value: PlaintextFacts {
                kind: PlaintextKind::SshBanner,
                first_line: line.into(),
                text: true,
                record_inside_segment: false,
                after_client_hello: None,
            },
        }));
    }
    c.last = at(9, 50);
    let end = at(u64::MAX, 100).ts;
    assert!(diagnose(&c, &Profiles::default(), &Settings::default(), end).is_none());
}

// ---- sni ----

#[test]
fn sni_unrecognized_name_from_the_server() {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("b.example"), &[0xc02f]));
    alert(&mut c, 5, 4, Dir::ToClient, AD::UNRECOGNIZED_NAME);
    let v = verdict(&c);
    assert_eq!(v.code, Code::SniUnrecognized);
    assert!(matches!(
        &v.finding,
        Finding::SniUnrecognized { name, reaction: ServerReaction::UnrecognizedName } if name == "b.example"
    ));
    assert!(matches!(&v.fix, Fix::ServeName { name } if name == "b.example"));
}

#[test]
fn sni_ip_literal_refused() {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("10.0.0.2"), &[0xc02f]));
    alert(&mut c, 5, 4, Dir::ToClient, AD::HANDSHAKE_FAILURE);
    let v = verdict(&c);
    assert_eq!(v.code, Code::SniIpLiteral);
    // Addressed directly: the fix names this connection's port.
    assert!(matches!(
        v.fix,
        Fix::ConnectByNameNotAddress {
            port: Some(443),
            ..
        }
    ));
}

// ---- negotiation ----

#[test]
fn negotiation_handshake_failure_after_the_hello_is_no_shared_cipher() {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0xc02f, 0xc030, 0x00ff]));
    alert(&mut c, 5, 4, Dir::ToClient, AD::HANDSHAKE_FAILURE);
    let v = verdict(&c);
    assert_eq!(v.code, Code::NoSharedCipher);
    assert!(matches!(
        &v.finding,
        Finding::NoSharedCipher {
            offered: 2,
            server_picks: None,
            ..
        }
    ));
    assert_eq!(
        kinds(&v),
        ["client_hello", "alert", "suites_offered", "other"]
    );
}

/// Erlang/OTP refuses a hello with no suite it has with insufficient_security, not
/// handshake_failure: the same verdict, and the finding keeps the alert the words cite.
#[test]
fn negotiation_insufficient_security_after_the_hello_is_no_shared_cipher() {
    for desc in [AD::HANDSHAKE_FAILURE, AD::INSUFFICIENT_SECURITY] {
        let mut c = connected();
        with_client_hello(&mut c, hello(Some("a.example"), &[0x002f]));
        alert(&mut c, 5, 4, Dir::ToClient, desc);
        let v = verdict(&c);
        assert_eq!(v.code, Code::NoSharedCipher);
        assert!(
            matches!(&v.finding, Finding::NoSharedCipher { alert, .. } if *alert == desc),
            "{:?}",
            v.finding
        );
    }
}

#[test]
fn negotiation_what_the_offer_shows_before_the_suites() {
    use crate::tls::wire::NamedGroup;
    let refused = |ch: ClientHelloFacts| {
        let mut c = connected();
        with_client_hello(&mut c, ch);
        alert(&mut c, 5, 4, Dir::ToClient, AD::HANDSHAKE_FAILURE);
        verdict(&c)
    };
    // TLS 1.3 with the common suites, and only groups no server is sure to take.
    let mut ch = hello(Some("a.example"), &[0x1301, 0x1302, 0x1303]);
    ch.supported_versions = vec![ProtocolVersion::TLS1_3, ProtocolVersion::TLS1_2];
    ch.supported_groups = vec![NamedGroup(0x0a0a), NamedGroup(0x0019)];
    let v = refused(ch.clone());
    assert_eq!(v.code, Code::NoSharedCipher);
    assert!(
        matches!(&v.finding, Finding::NoSharedGroup { groups } if groups == &[NamedGroup(0x0019)]),
        "{:?}",
        v.finding
    );
    assert!(
        matches!(&v.fix, Fix::EnableCommonGroup { client_offers } if client_offers == &[NamedGroup(0x0019)])
    );
    // An obsolete group is never suggested to the server.
    ch.supported_groups = vec![NamedGroup(0x0001)];
    assert!(
        matches!(&refused(ch.clone()).fix, Fix::EnableCommonGroup { client_offers } if client_offers.is_empty())
    );
    // With x25519 among them, and TLS 1.3 only: the version.
    ch.supported_groups = vec![NamedGroup(0x001d)];
    ch.supported_versions = vec![ProtocolVersion::TLS1_3];
    let v = refused(ch.clone());
    assert_eq!(v.code, Code::ProtocolVersionMismatch);
    assert!(matches!(
        v.finding,
        Finding::Tls13OnlyRefusedWithHandshakeFailure
    ));
    // TLS 1.2 at most, ECDHE AES-GCM for both key types and a common group: the suites
    // still (an old server may take RSA key exchange only).
    let mut ch = hello(Some("a.example"), &[0xc02b, 0xc02f, 0xc02c, 0xc030]);
    ch.supported_groups = vec![NamedGroup(0x001d), NamedGroup(0x0017)];
    assert!(matches!(
        refused(ch.clone()).finding,
        Finding::NoSharedCipher { .. }
    ));
    // The same without a name: the name comes first (CloudFront refuses so) ...
    ch.server_name = None;
    assert_eq!(refused(ch).code, Code::SniMissing);
    // ... but not for an offer for one key type only.
    let mut ch = hello(None, &[0xc02b, 0xc02c]);
    ch.supported_groups = vec![NamedGroup(0x001d)];
    assert!(matches!(
        refused(ch).finding,
        Finding::NoSharedCipher { .. }
    ));
}

#[test]
fn negotiation_the_server_profile_decides() {
    // Another client got TLS_RSA_WITH_AES_128_CBC_SHA256 from this server.
    let mut other = connected();
    with_client_hello(&mut other, hello(Some("a.example"), &[0x003c]));
    server_hello(&mut other, 5, 4, 0x0303, 0x003c);
    let profiles = Profiles::build([&other]);

    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0xc02f]));
    alert(&mut c, 5, 4, Dir::ToClient, AD::HANDSHAKE_FAILURE);
    let v = verdict_at(&c, &profiles, 100);
    assert_eq!(v.code, Code::NoSharedCipher);
    assert!(kinds(&v).contains(&"profile_suites_picked"));
    let Fix::EnableCommonSuite { server_picks, .. } = &v.fix else {
        panic!("{:?}", v.fix)
    };
    assert_eq!(server_picks.len(), 1);

    // A client that offers the suite the server picks fails for another reason.
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0xc02f, 0x003c]));
    alert(&mut c, 5, 4, Dir::ToClient, AD::HANDSHAKE_FAILURE);
    let v = verdict_at(&c, &profiles, 100);
    assert_eq!(v.code, Code::FatalAlert);
    assert!(matches!(v.finding, Finding::FailureDespiteSharedSuites));
    assert!(kinds(&v).contains(&"profile_shared_suites"));
}

/// The client answers a CertificateRequest with an empty Certificate at `at`.
fn empty_client_certificate(c: &mut Connection, at: At) {
    c.tls_mut().facts.client_certificate = Some(Box::new(Seen {
        at,
        value: CertCount {
            chain_length: 0,
            subject: None,
            issuer: None,
        },
    }));
}

/// A TLS 1.2 handshake whose server asked for a client certificate (frame 5, 4 ms).
fn certificate_requested() -> Connection {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0xc02f]));
    server_hello(&mut c, 5, 4, 0x0303, 0xc02f);
    c.tls_mut().facts.certificate_request = Some(at(5, 4));
    c
}

#[test]
fn negotiation_client_certificate_asked_for_and_missing() {
    let mut c = certificate_requested();
    empty_client_certificate(&mut c, at(6, 5));
    alert(&mut c, 7, 6, Dir::ToClient, AD::HANDSHAKE_FAILURE);
    assert_eq!(verdict(&c).code, Code::ClientCertRequired);
}

/// A server alert in the CertificateRequest's own flight, or before the client's
/// Certificate, does not answer that Certificate (gnutls-serv's internal_error in the
/// request's segment, the client's empty Certificate 13 s later over a lossy path).
#[test]
fn negotiation_an_alert_before_the_client_could_answer_is_not_about_its_certificate() {
    let mut c = certificate_requested();
    alert(&mut c, 5, 4, Dir::ToClient, AD::INTERNAL_ERROR);
    empty_client_certificate(&mut c, at(9, 13_000));
    let v = verdict(&c);
    assert_eq!(v.code, Code::FatalAlert, "{v:?}");
}

// ---- version ----

#[test]
fn version_refused_by_the_server() {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0xc02f]));
    alert(&mut c, 5, 4, Dir::ToClient, AD::PROTOCOL_VERSION);
    let v = verdict(&c);
    assert_eq!(v.code, Code::ProtocolVersionMismatch);
    assert!(matches!(v.finding, Finding::NoCommonVersion { .. }));
}

// ---- cert ----

#[test]
fn cert_the_client_names_its_complaint() {
    for (alert_sent, code) in [
        (AD::UNKNOWN_CA, Code::CertUnknownCa),
        (AD::CERTIFICATE_EXPIRED, Code::CertExpired),
    ] {
        let mut c = connected();
        with_client_hello(&mut c, hello(Some("a.example"), &[0xc02f]));
        server_hello(&mut c, 5, 4, 0x0303, 0xc02f);
        server_certificate(&mut c, 5, 4, leaf(&["a.example"]));
        alert(&mut c, 6, 5, Dir::ToServer, alert_sent);
        let v = verdict(&c);
        assert_eq!(v.code, code, "{alert_sent}");
        assert!(kinds(&v).contains(&"server_certificate"));
    }
}

/// The dates decide between an expired leaf (renew it), one not valid yet (a clock
/// behind, or issued for the future) and a client's certificate_expired about a leaf
/// whose dates are fine when seen (an intermediate, the client's clock): the summary
/// never calls a valid leaf expired.
#[test]
fn cert_expired_not_yet_valid_or_only_reported() {
    let rejected = |l: CertFacts, sent: AD| {
        let mut c = connected();
        with_client_hello(&mut c, hello(Some("a.example"), &[0xc02f]));
        server_hello(&mut c, 5, 4, 0x0303, 0xc02f);
        server_certificate(&mut c, 5, 4, l);
        alert(&mut c, 6, 5, Dir::ToServer, sent);
        verdict(&c)
    };
    let now = at(5, 4).ts.as_unix_secs();
    let mut future = leaf(&["a.example"]);
    future.not_before = now + 86_400;
    let v = rejected(future, AD::BAD_CERTIFICATE);
    assert_eq!(v.code, Code::CertExpired);
    assert!(matches!(
        v.finding,
        Finding::CertOutsideValidity {
            not_yet_valid: true,
            ..
        }
    ));
    assert!(matches!(v.fix, Fix::CheckClockNotYetValid), "{:?}", v.fix);
    let mut past = leaf(&["a.example"]);
    past.not_after = now - 86_400;
    let v = rejected(past, AD::CERTIFICATE_EXPIRED);
    assert!(matches!(
        v.finding,
        Finding::CertOutsideValidity {
            not_yet_valid: false,
            ..
        }
    ));
    assert!(matches!(v.fix, Fix::RenewCertificate), "{:?}", v.fix);
    let v = rejected(leaf(&["a.example"]), AD::CERTIFICATE_EXPIRED);
    assert_eq!(v.code, Code::CertExpired);
    assert!(
        matches!(v.finding, Finding::CertReportedExpired),
        "{:?}",
        v.finding
    );
}

#[test]
fn cert_a_name_the_leaf_does_not_cover() {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("b.example"), &[0xc02f]));
    server_hello(&mut c, 5, 4, 0x0303, 0xc02f);
    server_certificate(&mut c, 5, 4, leaf(&["a.example"]));
    alert(&mut c, 6, 5, Dir::ToServer, AD::BAD_CERTIFICATE);
    let v = verdict(&c);
    assert_eq!(v.code, Code::CertNameMismatch);
    assert!(matches!(&v.fix, Fix::CoverName { name } if name == "b.example"));
}

// ---- outcome (TLS 1.3 flights, TLS 1.2 Finished) ----

/// A TLS 1.3 handshake up to the server's flight.
fn tls13_up_to_server_flight() -> Connection {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0x1301]));
    server_hello(&mut c, 5, 4, 0x0304, 0x1301);
    encrypted(&mut c, Dir::ToClient, 5, 4, 2000);
    c
}

/// 0-RTT: the client's records before the ServerHello are early data (a short request
/// is as short as an alert); after them EndOfEarlyData (21 bytes), then the Finished. A
/// resumption's Finished completes the handshake even when the capture ends there.
#[test]
fn outcome_tls13_early_data_is_not_the_flight() {
    let mut c = connected();
    let mut ch = hello(Some("a.example"), &[0x1301]);
    ch.early_data = true;
    with_client_hello(&mut c, ch);
    encrypted(&mut c, Dir::ToServer, 4, 3, 35);
    server_hello(&mut c, 5, 4, 0x0304, 0x1301);
    let sh = c.tls_mut().facts.server_hello.as_mut().unwrap();
    sh.value
        .extensions
        .push(crate::tls::hello::ext::PRE_SHARED_KEY);
    encrypted(&mut c, Dir::ToClient, 5, 4, 27);
    encrypted(&mut c, Dir::ToClient, 5, 4, 53);
    encrypted(&mut c, Dir::ToServer, 6, 5, 21);
    encrypted(&mut c, Dir::ToServer, 6, 5, 53);
    let v = verdict_at(&c, &Profiles::default(), 100);
    assert_eq!(v.code, Code::Ok, "{v:?}");
    assert!(crate::diagnose::rules::handshake_completed(&c.tls().facts));
}

#[test]
fn outcome_tls13_finished_then_data_is_ok() {
    let mut c = tls13_up_to_server_flight();
    encrypted(&mut c, Dir::ToServer, 6, 5, 53);
    encrypted(&mut c, Dir::ToServer, 6, 5, 100);
    encrypted(&mut c, Dir::ToClient, 7, 6, 300);
    let v = verdict(&c);
    assert_eq!(v.code, Code::Ok);
    assert!(matches!(v.fix, Fix::Nothing));
}

#[test]
fn outcome_tls13_an_alert_instead_of_the_finished() {
    let mut c = tls13_up_to_server_flight();
    encrypted(&mut c, Dir::ToServer, 6, 5, 19);
    fin(&mut c, Dir::ToServer, 7, 5);
    let v = verdict(&c);
    assert_eq!(v.code, Code::CertRejected);
    assert!(v.details.iter().any(|d| matches!(
        d,
        Detail::EncryptedAlert {
            record_length: 19,
            instead_of_finished: true,
            ..
        }
    )));
}

#[test]
fn outcome_tls13_the_server_refuses_an_empty_client_certificate() {
    let mut c = tls13_up_to_server_flight();
    encrypted(&mut c, Dir::ToServer, 6, 5, 25);
    encrypted(&mut c, Dir::ToServer, 6, 5, 53);
    encrypted(&mut c, Dir::ToClient, 7, 6, 19);
    fin(&mut c, Dir::ToClient, 8, 6);
    assert_eq!(verdict(&c).code, Code::ClientCertRequired);
}

#[test]
fn outcome_tls12_both_finished_is_ok() {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0xc02f]));
    server_hello(&mut c, 5, 4, 0x0303, 0xc02f);
    c.tls_mut().facts.finished = [Some(at(6, 5)), Some(at(7, 6))];
    assert_eq!(verdict(&c).code, Code::Ok);
}

/// A TLS 1.2 connection without a host name whose server showed a certificate for
/// a.example only.
fn other_without_host_name() -> Connection {
    let mut other = connected();
    with_client_hello(&mut other, hello(None, &[0xc02f]));
    server_hello(&mut other, 5, 4, 0x0303, 0xc02f);
    server_certificate(&mut other, 5, 4, leaf(&["a.example"]));
    other
}

/// A TLS 1.3 client without a host name, offering HTTP (ALPN, as curl does), that sent
/// its Finished (frame 6).
fn tls13_without_host_name_finished() -> Connection {
    let mut probe = connected();
    let mut ch = hello(None, &[0x1301]);
    ch.alpn = vec!["h2".into(), "http/1.1".into()];
    with_client_hello(&mut probe, ch);
    server_hello(&mut probe, 5, 4, 0x0304, 0x1301);
    encrypted(&mut probe, Dir::ToClient, 5, 4, 2000);
    encrypted(&mut probe, Dir::ToServer, 6, 5, 53);
    probe
}

/// TLS 1.3 without a host name: the client sent its Finished and, at once, an alert,
/// and the names this server shows such clients do not cover its address — a
/// rejection, unless the same client later resumes with a pre-shared key the server
/// accepts.
#[test]
fn outcome_a_later_psk_resumption_proves_a_tls13_handshake() {
    let other = other_without_host_name();
    let mut probe = tls13_without_host_name_finished();
    encrypted(&mut probe, Dir::ToServer, 7, 5, 19);
    fin(&mut probe, Dir::ToServer, 8, 5);
    let alone = verdict_at(&probe, &Profiles::build([&other]), 100);
    assert_eq!(alone.code, Code::SniMissing, "{alone:?}");
    // A client that named no application protocol says goodbye so as a probe
    // (`openssl s_client </dev/null`, gnutls-cli).
    let mut quiet = tls13_without_host_name_finished();
    encrypted(&mut quiet, Dir::ToServer, 7, 5, 19);
    fin(&mut quiet, Dir::ToServer, 8, 5);
    let ch = quiet.tls_mut().facts.client_hello.as_mut().unwrap();
    ch.value.alpn.clear();
    assert_eq!(
        verdict_at(&quiet, &Profiles::build([&other]), 100).code,
        Code::Ok
    );
    let mut resumed = connected();
    with_client_hello(&mut resumed, hello(None, &[0x1301]));
    server_hello(&mut resumed, 9, 50, 0x0304, 0x1301);
    let sh = resumed.tls_mut().facts.server_hello.as_mut().unwrap();
    sh.value
        .extensions
        .push(crate::tls::hello::ext::PRE_SHARED_KEY);
    let profiles = Profiles::build([&other, &resumed]);
    assert_eq!(verdict_at(&probe, &profiles, 100).code, Code::Ok);
}

/// Without a name and without an alert, a client that hangs up after its Finished
/// gives no sign it checked the address it connected to (scanners, RDP, peer-to-peer
/// clients connect by address): the same probe as above, but closing with a bare FIN.
#[test]
fn outcome_no_name_and_no_alert_is_not_a_name_failure() {
    let other = other_without_host_name();
    let mut probe = tls13_without_host_name_finished();
    fin(&mut probe, Dir::ToServer, 7, 5);
    let v = verdict_at(&probe, &Profiles::build([&other]), 100);
    assert_eq!(v.code, Code::Ok, "{v:?}");
    // TLS 1.2: both Finished, then a FIN at once; the leaf does not cover the address,
    // but no name was asked for and nothing was said.
    let mut c = other_without_host_name();
    c.tls_mut().facts.finished = [Some(at(6, 5)), Some(at(7, 6))];
    fin(&mut c, Dir::ToServer, 8, 6);
    let v = verdict_at(&c, &Profiles::build([&other]), 100);
    assert_ne!(v.code, Code::SniMissing, "{v:?}");
    // With an encrypted alert at once instead, from a client that came to speak HTTP,
    // the address was checked (curl does) ...
    c.tls_mut()
        .facts
        .alerts
        .push(AlertFacts::new(at(8, 6), Dir::ToServer, None, true));
    c.tcp.fin[0] = Some(at(9, 6));
    assert_eq!(
        verdict_at(&c, &Profiles::build([&other]), 100).code,
        Code::Ok,
        "no ALPN: a probe's close_notify"
    );
    let ch = c.tls_mut().facts.client_hello.as_mut().unwrap();
    ch.value.alpn = vec!["http/1.1".into()];
    assert_eq!(
        verdict_at(&c, &Profiles::build([&other]), 100).code,
        Code::SniMissing
    );
}

/// Heartbeat records from the client after its Finished are traffic: the client went
/// on with the connection (Heartbleed scanners, keep-alives).
#[test]
fn outcome_heartbeats_after_the_handshake_are_traffic() {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("b.example"), &[0xc02f]));
    server_hello(&mut c, 5, 4, 0x0303, 0xc02f);
    server_certificate(&mut c, 5, 4, leaf(&["a.example"]));
    c.tls_mut().facts.finished = [Some(at(6, 5)), Some(at(7, 6))];
    fin(&mut c, Dir::ToServer, 9, 7);
    assert_eq!(verdict(&c).code, Code::CertNameMismatch);
    c.tls_mut().facts.heartbeats = [1, 1];
    assert_eq!(verdict(&c).code, Code::Ok);
}

/// A client that sent its Finished but hung up before the server's came did not see
/// the handshake complete.
#[test]
fn outcome_a_client_that_leaves_before_the_server_finished_aborted() {
    let mut c = connected();
    with_client_hello(&mut c, hello(None, &[0xc02f]));
    server_hello(&mut c, 5, 4, 0x0303, 0xc02f);
    c.tls_mut().facts.finished = [Some(at(6, 5)), Some(at(8, 400))];
    fin(&mut c, Dir::ToServer, 7, 399);
    let v = verdict(&c);
    assert_eq!(v.code, Code::ClientAborted, "{v:?}");
}

/// The client hung up before the server's first answer: it gave up before the server
/// said anything, and the first close (its FIN, not the reset after it) is cited.
#[test]
fn tcp_a_client_that_leaves_before_the_server_answers_gave_up() {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0x1301]));
    fin(&mut c, Dir::ToServer, 5, 23);
    server_hello(&mut c, 6, 40, 0x0304, 0x1301);
    encrypted(&mut c, Dir::ToClient, 6, 40, 2000);
    c.tcp.rst[0] = Some(at(7, 41));
    let v = verdict(&c);
    assert!(matches!(v.finding, Finding::ClientGaveUp { .. }), "{v:?}");
    assert!(v.details.iter().any(|d| matches!(
        d,
        Detail::Close { at, from: Dir::ToServer, how: crate::diagnose::detail::CloseKind::Fin } if at.frame == 5
    )));
}

/// A warning unrecognized_name, the default certificate for another name, and the
/// client leaving: the server does not serve the name.
#[test]
fn cert_a_warned_unrecognized_name_is_the_name_not_served() {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("www.b.example"), &[0xc02f]));
    let warning = AlertFacts::new(at(5, 4), Dir::ToClient, Some([1, 112]), false);
    c.tls_mut().facts.alerts.push(warning);
    server_hello(&mut c, 5, 4, 0x0303, 0xc02f);
    server_certificate(&mut c, 5, 4, leaf(&["shop.b.example"]));
    c.tls_mut().facts.finished = [Some(at(6, 5)), Some(at(7, 6))];
    fin(&mut c, Dir::ToServer, 8, 6);
    let v = verdict(&c);
    assert_eq!(v.code, Code::SniUnrecognized, "{v:?}");
    assert!(kinds(&v).contains(&"alert"), "{:?}", kinds(&v));
}

/// Binary of no known protocol: answered in kind it is another protocol (no attempt);
/// with no answer and no refusal, not an attempt either; refused by the server, the
/// client's bytes do not parse (`malformed_handshake`), not plain text.
#[test]
fn peer_binary_from_the_client_is_not_plain_text() {
    let binary = |c: &mut Connection, d: usize, frame: u64| {
        c.tls_mut().facts.plaintext[d] = Some(Box::new(Seen {
            at: at(frame, 3),
            value: PlaintextFacts {
                kind: PlaintextKind::Unknown,
                first_line: "25 00 45 14".into(),
                text: false,
                record_inside_segment: false,
                after_client_hello: None,
            },
        }));
    };
    let end = at(u64::MAX, 100).ts;
    let mut c = connected();
    c.tcp.payload_bytes = [69, 16];
    binary(&mut c, 0, 4);
    binary(&mut c, 1, 5);
    assert!(diagnose(&c, &Profiles::default(), &Settings::default(), end).is_none());
    let mut c = connected();
    c.tcp.payload_bytes = [69, 0];
    binary(&mut c, 0, 4);
    assert!(diagnose(&c, &Profiles::default(), &Settings::default(), end).is_none());
    fin(&mut c, Dir::ToClient, 5, 4);
    let v = verdict(&c);
    assert_eq!(v.code, Code::MalformedHandshake, "{v:?}");
    assert!(matches!(v.finding, Finding::BinaryFromClient));
}

/// A TCP connect closed by the client without a byte either way (a port probe, a TCP
/// health check, a SYN scan's reset) is no TLS attempt; a server that closes first, or
/// sends anything, makes it one.
#[test]
fn peer_a_port_probe_is_not_an_attempt() {
    let end = at(u64::MAX, 100).ts;
    let mut c = connected();
    c.tcp.rst[0] = Some(at(4, 3));
    assert!(diagnose(&c, &Profiles::default(), &Settings::default(), end).is_none());
    let mut c = connected();
    fin(&mut c, Dir::ToClient, 4, 3);
    fin(&mut c, Dir::ToServer, 5, 4);
    assert!(matches!(
        verdict(&c).finding,
        Finding::ServerLeftBeforeHello
    ));
    // Left silent until the server's idle timeout closed it: no attempt either.
    let mut c = connected();
    fin(&mut c, Dir::ToClient, 4, 21_000);
    fin(&mut c, Dir::ToServer, 5, 21_001);
    assert!(diagnose(&c, &Profiles::default(), &Settings::default(), end).is_none());
    // A SYN answered by a bare ACK (a challenge ACK), reset by the client to retry.
    let mut c = Connection::for_test(CLIENT.parse().unwrap(), SERVER.parse().unwrap(), at(1, 0));
    c.tcp.syn = Some(at(1, 0));
    c.tcp.syn_count = 1;
    c.tcp.packets = [2, 1];
    c.tcp.rst[0] = Some(at(3, 1));
    c.last = at(3, 1);
    assert!(diagnose(&c, &Profiles::default(), &Settings::default(), end).is_none());
    // Unanswered, it is still a timeout.
    c.tcp.packets = [2, 0];
    assert_eq!(
        verdict_at(&c, &Profiles::default(), 100_000).code,
        Code::ConnectionTimeout
    );
}

/// close_notify closes, whatever its level byte (scanners send it "fatal"): mid-handshake
/// the client left, it did not report a failure.
#[test]
fn alert_a_fatal_close_notify_mid_handshake_is_the_client_leaving() {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0xc02f]));
    server_hello(&mut c, 5, 4, 0x0303, 0xc02f);
    alert(&mut c, 6, 300, Dir::ToServer, AD::CLOSE_NOTIFY);
    fin(&mut c, Dir::ToServer, 7, 300);
    let v = verdict(&c);
    assert_eq!(v.code, Code::ClientAborted, "{v:?}");
}

/// TLS 1.2, both Finished, then the client's renegotiation hello answered by the
/// server's alert: the handshake completed; the renegotiation was refused.
#[test]
fn outcome_a_refused_renegotiation_is_not_a_failed_handshake() {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0xc02f]));
    server_hello(&mut c, 5, 4, 0x0303, 0xc02f);
    c.tls_mut().facts.finished = [Some(at(6, 5)), Some(at(7, 6))];
    let refused = AlertFacts::new(at(9, 8), Dir::ToClient, None, true);
    c.tls_mut().facts.alerts.push(refused);
    fin(&mut c, Dir::ToClient, 10, 8);
    fin(&mut c, Dir::ToServer, 11, 9);
    assert_eq!(verdict(&c).code, Code::FatalAlert);
    c.tls_mut().facts.renegotiation = [1, 0];
    assert_eq!(verdict(&c).code, Code::Ok);
}

/// TLS 1.3 without keys: the server's flight, then at once an alert-sized record of its
/// own before the client answered, then the client's reset: the server ended it.
#[test]
fn outcome_tls13_a_server_alert_after_its_flight() {
    let mut c = tls13_up_to_server_flight();
    encrypted(&mut c, Dir::ToClient, 6, 5, 19);
    c.tcp.rst[0] = Some(at(7, 6));
    let v = verdict(&c);
    assert!(
        matches!(v.finding, Finding::ServerAlertAfterItsFlight),
        "{v:?}"
    );
    assert_eq!(v.code, Code::FatalAlert);
}

/// A fix names only suites worth enabling: registered, secure, forward-secret and not for
/// DSA certificates, when the offer has any (scanners offer every value there is).
#[test]
fn negotiation_the_fix_suggests_only_suites_worth_enabling() {
    let mut c = connected();
    let offer = [0x001d, 0xfeff, 0x00a2, 0x009c, 0xc02f];
    with_client_hello(&mut c, hello(Some("a.example"), &offer));
    alert(&mut c, 5, 4, Dir::ToClient, AD::HANDSHAKE_FAILURE);
    let v = verdict(&c);
    assert_eq!(v.code, Code::NoSharedCipher);
    let Fix::EnableCommonSuite { client_offers, .. } = &v.fix else {
        panic!("{:?}", v.fix);
    };
    assert_eq!(client_offers, &[CipherSuite(0xc02f)]);
}

/// An SSL 3.0 hello refused with handshake_failure by a server seen picking only TLS
/// 1.2 for others: the version, not the suites (nor the missing name).
#[test]
fn negotiation_a_hello_below_every_version_the_server_picks() {
    let mut other = connected();
    with_client_hello(&mut other, hello(None, &[0xc02f]));
    server_hello(&mut other, 5, 4, 0x0303, 0xc02f);
    let mut c = connected();
    let mut old = hello(None, &[0xc02f, 0x002f]);
    old.legacy_version = ProtocolVersion(0x0300);
    with_client_hello(&mut c, old);
    alert(&mut c, 5, 4, Dir::ToClient, AD::HANDSHAKE_FAILURE);
    let v = verdict_at(&c, &Profiles::build([&other]), 100);
    assert_eq!(v.code, Code::ProtocolVersionMismatch, "{v:?}");
}

/// An IP literal as the name, refused by the server, is the name's fault only when the
/// server's certificate does not cover that address (scanners connect by address to
/// servers whose certificates name it, and are refused for other reasons).
#[test]
fn sni_an_ip_literal_the_certificate_covers_is_not_the_cause() {
    let mut other = connected();
    with_client_hello(&mut other, hello(Some("10.0.0.2"), &[0xc02f]));
    server_hello(&mut other, 5, 4, 0x0303, 0xc02f);
    let mut covering = leaf(&["a.example"]);
    covering.ip_addresses.push("10.0.0.2".parse().unwrap());
    server_certificate(&mut other, 5, 4, covering);
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("10.0.0.2"), &[0xc02f]));
    alert(&mut c, 5, 4, Dir::ToClient, AD::INTERNAL_ERROR);
    assert_eq!(verdict(&c).code, Code::SniIpLiteral);
    let v = verdict_at(&c, &Profiles::build([&other]), 100);
    assert_eq!(v.code, Code::FatalAlert, "{v:?}");
}

/// An expired leaf this client took before for the same name (it sent data): a later
/// connection of its closed at once without data is one opened ahead and not used, not
/// a rejection. Another client's acceptance says nothing of this one's policy.
#[test]
fn outcome_a_leaf_this_client_accepted_before_is_not_rejected_now() {
    let mut expired = leaf(&["b.example"]);
    expired.not_after = 1_650_000_000;
    let completed = |client: &str, start_ms: i64| {
        let start = at(1, start_ms);
        let mut c = Connection::for_test(client.parse().unwrap(), SERVER.parse().unwrap(), start);
        c.tcp.syn = Some(start);
        c.tcp.syn_ack = Some(at(2, start_ms + 1));
        c.tcp.packets = [2, 1];
        with_client_hello(&mut c, hello(Some("b.example"), &[0xc02f]));
        server_hello(&mut c, 5, start_ms + 4, 0x0303, 0xc02f);
        server_certificate(&mut c, 5, start_ms + 4, expired.clone());
        c.tls_mut().facts.finished = [Some(at(6, start_ms + 5)), Some(at(7, start_ms + 6))];
        c
    };
    let mut earlier = completed(CLIENT, 0);
    encrypted(&mut earlier, Dir::ToServer, 8, 7, 300);
    let mut later = completed(CLIENT, 5_000);
    fin(&mut later, Dir::ToServer, 8, 5_007);
    let alone = verdict_at(&later, &Profiles::default(), 10_000);
    assert_eq!(alone.code, Code::CertExpired, "{alone:?}");
    let v = verdict_at(&later, &Profiles::build([&earlier, &later]), 10_000);
    assert_eq!(v.code, Code::Ok, "{v:?}");
    let mut other = completed("10.0.0.9:50000", 0);
    encrypted(&mut other, Dir::ToServer, 8, 7, 300);
    let v = verdict_at(&later, &Profiles::build([&other, &later]), 10_000);
    assert_eq!(v.code, Code::CertExpired, "{v:?}");
}

// ---- capture ----

/// Bytes of the client's missing from the capture after its Finished (a request whose
/// segment was dropped, noticed when the server's Finished acknowledges it) do not hide
/// a handshake both Finished messages show complete.
#[test]
fn capture_a_hole_after_the_clients_finished_leaves_the_handshake_complete() {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0xc02f]));
    server_hello(&mut c, 5, 4, 0x0303, 0xc02f);
    c.tls_mut().facts.finished = [Some(at(6, 5)), Some(at(7, 6))];
    encrypted(&mut c, Dir::ToClient, 7, 6, 64);
    c.tls_mut().facts.lost[0] = Some(Box::new(Seen {
        at: at(7, 6),
        value: crate::tls::facts::Reason {
            reason: "777 byte(s) acknowledged but missing from the capture".into(),
            followed_on: false,
            in_client_hello: false,
        },
    }));
    assert_eq!(verdict(&c).code, Code::Ok);
    // Lost before the client's Finished, the outcome cannot be read.
    c.tls_mut().facts.finished = [None, None];
    assert_eq!(verdict(&c).code, Code::IncompleteCapture);
}

#[test]
fn capture_only_the_clients_side() {
    let mut c = Connection::for_test(CLIENT.parse().unwrap(), SERVER.parse().unwrap(), at(1, 0));
    c.tcp.syn = Some(at(1, 0));
    c.tcp.packets = [5, 0];
    c.tcp.payload_bytes = [800, 0];
    with_client_hello(&mut c, hello(Some("a.example"), &[0xc02f]));
    c.tls_mut().facts.change_cipher_spec[0] = Some(at(6, 5));
    let v = verdict(&c);
    assert!(matches!(v.finding, Finding::OnlyClientSide));
    assert!(matches!(v.fix, Fix::CaptureBothDirections));
}

#[test]
fn every_finding_belongs_to_its_code() {
    let mut c = connected();
    with_client_hello(&mut c, hello(None, &[0xc02f]));
    alert(&mut c, 5, 4, Dir::ToClient, AD::UNRECOGNIZED_NAME);
    let v = verdict(&c);
    assert_eq!(v.code, v.finding.code());
    assert_eq!(v.code, Code::SniMissing);
}

/// Virtual hosts: a TLS 1.3 client that asked for b.example rejects the (encrypted)
/// certificate with bad_certificate. The a.example certificate other clients got
/// belongs to another virtual host and is not cited as this name's; a client that asked
/// for a.example is judged by it.
#[test]
fn cert_names_of_another_virtual_host_are_not_this_names() {
    let mut other = connected();
    with_client_hello(&mut other, hello(Some("a.example"), &[0xc02f]));
    server_hello(&mut other, 5, 4, 0x0303, 0xc02f);
    server_certificate(&mut other, 5, 4, leaf(&["a.example"]));
    let profiles = Profiles::build([&other]);
    let rejected = |sni: &str| {
        let mut c = connected();
        with_client_hello(&mut c, hello(Some(sni), &[0x1301]));
        server_hello(&mut c, 5, 4, 0x0304, 0x1301);
        encrypted(&mut c, Dir::ToClient, 5, 4, 2000);
        alert(&mut c, 6, 5, Dir::ToServer, AD::BAD_CERTIFICATE);
        verdict_at(&c, &profiles, 100)
    };
    let v = rejected("b.example");
    assert_eq!(v.code, Code::CertRejected, "{v:?}");
    let v = rejected("a.example.org");
    assert_ne!(v.code, Code::CertNameMismatch, "{v:?}");
    // The same name as the other client's: judged by that certificate, which covers it.
    assert_ne!(rejected("a.example").code, Code::CertNameMismatch);
}

/// internal_error before the ServerHello, to a hello without a name or with a name the
/// server is not seen serving, is a server that picks its certificate by name and has
/// none for it (Go's GetCertificate: Caddy). Once other connections show the server
/// answering such a hello, the alert is not about the name.
#[test]
fn sni_internal_error_before_the_server_hello_is_a_name_without_a_certificate() {
    let mut nameless = connected();
    with_client_hello(&mut nameless, hello(None, &[0xc02f]));
    alert(&mut nameless, 5, 4, Dir::ToClient, AD::INTERNAL_ERROR);
    assert_eq!(verdict(&nameless).code, Code::SniMissing);
    let mut named = connected();
    with_client_hello(&mut named, hello(Some("b.example"), &[0xc02f]));
    alert(&mut named, 5, 4, Dir::ToClient, AD::INTERNAL_ERROR);
    assert_eq!(verdict(&named).code, Code::SniUnrecognized);

    let answered = |name: Option<&str>| {
        let mut other = connected();
        with_client_hello(&mut other, hello(name, &[0xc02f]));
        server_hello(&mut other, 5, 4, 0x0303, 0xc02f);
        server_certificate(&mut other, 5, 4, leaf(&["a.example"]));
        other
    };
    let v = verdict_at(&nameless, &Profiles::build([&answered(None)]), 100);
    assert_eq!(v.code, Code::FatalAlert, "{v:?}");
    let v = verdict_at(
        &named,
        &Profiles::build([&answered(Some("b.example"))]),
        100,
    );
    assert_eq!(v.code, Code::FatalAlert, "{v:?}");
    // Serving another name says nothing of this one.
    let v = verdict_at(
        &named,
        &Profiles::build([&answered(Some("a.example"))]),
        100,
    );
    assert_eq!(v.code, Code::SniUnrecognized, "{v:?}");
    // A hello of TLS 1.1 at most: OpenSSL refuses the version with internal_error too.
    let mut old = connected();
    let mut tls11 = hello(Some("b.example"), &[0xc013]);
    tls11.legacy_version = ProtocolVersion(0x0302);
    with_client_hello(&mut old, tls11);
    alert(&mut old, 5, 4, Dir::ToClient, AD::INTERNAL_ERROR);
    assert_eq!(verdict(&old).code, Code::FatalAlert);
}

// ---- browsers (TLS 1.2) ----

/// A TLS 1.2 handshake to `a.example` with ALPN offered: the server's flight with
/// `leaf` (frame 5, 4 ms), the client's Finished (frame 6, 5 ms).
fn client_finished_with_alpn(leaf: CertFacts) -> Connection {
    let mut c = connected();
    let mut ch = hello(Some("a.example"), &[0xc02f]);
    ch.alpn = vec!["h2".into(), "http/1.1".into()];
    with_client_hello(&mut c, ch);
    server_hello(&mut c, 5, 4, 0x0303, 0xc02f);
    server_certificate(&mut c, 5, 4, leaf);
    c.tls_mut().facts.finished[0] = Some(at(6, 5));
    c
}

/// An alert in a protected record: its description unknown without keys.
fn encrypted_alert(c: &mut Connection, frame: u64, ms: i64, from: Dir) {
    c.tls_mut().facts.alerts.push(AlertFacts {
        at: at(frame, ms),
        from,
        level: None,
        description: None,
        encrypted: true,
        decrypted: false,
        record_length: 26,
    });
    c.last = c.last.max(at(frame, ms));
}

/// NSS (Firefox) checks the certificate beside the handshake: its alert, encrypted,
/// comes at once after its Finished, before or after the server's, and it closes
/// without a word of the protocol it named. The certificate decides how specific the
/// verdict is; a client that named no protocol (a probe's close_notify) is left alone.
#[test]
fn outcome_an_encrypted_alert_after_the_clients_finished_rejects_the_server() {
    for server_finished_first in [false, true] {
        let mut c = client_finished_with_alpn(leaf(&["other.example"]));
        let (alert_at, server_at) = if server_finished_first {
            (8, 7)
        } else {
            (7, 8)
        };
        c.tls_mut().facts.finished[1] = Some(at(server_at, 6));
        encrypted_alert(&mut c, alert_at, 6, Dir::ToServer);
        fin(&mut c, Dir::ToServer, 9, 7);
        let v = verdict(&c);
        assert_eq!(v.code, Code::CertNameMismatch, "{v:?}");
    }
    let mut c = client_finished_with_alpn(leaf(&["a.example"]));
    c.tls_mut().facts.finished[1] = Some(at(7, 6));
    encrypted_alert(&mut c, 8, 6, Dir::ToServer);
    fin(&mut c, Dir::ToServer, 9, 7);
    let v = verdict(&c);
    assert_eq!(v.code, Code::CertUnknownCa, "{v:?}");
    assert!(v
        .details
        .iter()
        .any(|d| matches!(d, Detail::NoClientAcceptedLeaf)));
    // No protocol named: a goodbye, not a refusal.
    c.tls_mut()
        .facts
        .client_hello
        .as_mut()
        .unwrap()
        .value
        .alpn
        .clear();
    assert_eq!(verdict(&c).code, Code::Ok);
}

/// A connection opened ahead and not needed (Chromium): the client's Finished, then at
/// once its FIN, before the server's Finished. It accepted what it saw: `ok`, not a
/// client that gave up mid-handshake. A client that leaves long after its Finished
/// still did.
#[test]
fn outcome_a_close_at_once_after_the_clients_finished_is_ok() {
    let mut c = client_finished_with_alpn(leaf(&["a.example"]));
    fin(&mut c, Dir::ToServer, 7, 5);
    c.tls_mut().facts.finished[1] = Some(at(8, 6));
    let v = verdict(&c);
    assert_eq!(v.code, Code::Ok, "{v:?}");
    let mut c = client_finished_with_alpn(leaf(&["a.example"]));
    fin(&mut c, Dir::ToServer, 7, 5_000);
    c.tls_mut().facts.finished[1] = Some(at(8, 6_000));
    assert_eq!(verdict(&c).code, Code::ClientAborted);
}

/// A browser asked for its certificate drops the connection to ask its user and
/// comes back without one: no Certificate, no alert, a FIN after the request.
#[test]
fn tcp_a_client_leaving_when_asked_for_its_certificate_has_none() {
    let mut c = certificate_requested();
    server_certificate(&mut c, 5, 4, leaf(&["a.example"]));
    fin(&mut c, Dir::ToServer, 6, 5);
    let v = verdict(&c);
    assert_eq!(v.code, Code::ClientCertRequired, "{v:?}");
    assert!(v
        .details
        .iter()
        .any(|d| matches!(d, Detail::NoClientCertificate)));
}

// ---- remedies a browser's refusals must not get wrong ----

/// A server without a suite in common takes no TLS 1.3, and cipher lists do not
/// enable TLS 1.3 suites: the suites suggested are the client's TLS 1.2 ones.
#[test]
fn negotiation_the_suites_suggested_are_not_tls13_ones() {
    let mut c = connected();
    let mut ch = hello(Some("a.example"), &[0x1301, 0x1302, 0xc02b, 0xc02f]);
    ch.supported_versions = vec![ProtocolVersion(0x0304), ProtocolVersion::TLS1_2];
    with_client_hello(&mut c, ch);
    alert(&mut c, 5, 4, Dir::ToClient, AD::HANDSHAKE_FAILURE);
    let v = verdict(&c);
    assert_eq!(v.code, Code::NoSharedCipher);
    let Fix::EnableCommonSuite { client_offers, .. } = &v.fix else {
        panic!("{:?}", v.fix);
    };
    assert_eq!(client_offers, &[CipherSuite(0xc02b), CipherSuite(0xc02f)]);
}

/// A client offering TLS 1.3 and 1.2 refused with protocol_version: only the server
/// can move (it speaks older versions only); a client offering one of them could add
/// the other.
#[test]
fn version_a_current_client_refused_is_the_servers_to_fix() {
    use crate::diagnose::verdict::Side;
    for (versions, side) in [
        (vec![0x0304, 0x0303], Side::Server),
        (vec![0x0304], Side::Either),
        (vec![0x0303], Side::Either),
    ] {
        let mut c = connected();
        let mut ch = hello(Some("a.example"), &[0xc02f]);
        ch.supported_versions = versions.into_iter().map(ProtocolVersion).collect();
        with_client_hello(&mut c, ch);
        alert(&mut c, 5, 4, Dir::ToClient, AD::PROTOCOL_VERSION);
        let v = verdict(&c);
        assert_eq!(v.code, Code::ProtocolVersionMismatch);
        assert_eq!(v.fix.side(), side, "{:?}", v.fix);
    }
}

/// Silence after a ClientHello whose end the server never acknowledged (the path
/// dropped the hello's second segment): still no answer, but the path is to check,
/// not the server.
#[test]
fn tcp_silence_after_a_hello_never_whole_at_the_server_is_the_paths() {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0x1301]));
    let v = verdict_at(&c, &Profiles::default(), 5000);
    assert!(matches!(v.fix, Fix::CheckHungServer), "{:?}", v.fix);
    c.server_acknowledged_short_of_the_end(501);
    let v = verdict_at(&c, &Profiles::default(), 5000);
    assert_eq!(v.code, Code::NoResponseTimeout);
    assert!(matches!(v.fix, Fix::CheckPathForLargeHello), "{:?}", v.fix);
    assert!(v.details.iter().any(|d| matches!(
        d,
        Detail::HelloNotAcknowledged {
            unacknowledged: 501
        }
    )));
}
