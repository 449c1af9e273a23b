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
        },
    }));
    let v = verdict(&c);
    assert_eq!(v.code, Code::PlaintextToTlsPort);
    assert!(matches!(v.fix, Fix::ClientUseTls { port: 443 }));
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
        },
    }));
    let v = verdict(&c);
    assert_eq!(v.code, Code::TlsToPlaintextPort);
    assert_eq!(kinds(&v), ["client_hello", "other"]);
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
            first_line: "\0".into(),
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

#[test]
fn negotiation_client_certificate_asked_for_and_missing() {
    let mut c = connected();
    with_client_hello(&mut c, hello(Some("a.example"), &[0xc02f]));
    server_hello(&mut c, 5, 4, 0x0303, 0xc02f);
    c.tls_mut().facts.certificate_request = Some(at(5, 4));
    c.tls_mut().facts.client_certificate = Some(Box::new(Seen {
        at: at(6, 5),
        value: CertCount {
            chain_length: 0,
            subject: None,
            issuer: None,
        },
    }));
    alert(&mut c, 7, 6, Dir::ToClient, AD::HANDSHAKE_FAILURE);
    assert_eq!(verdict(&c).code, Code::ClientCertRequired);
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

/// TLS 1.3 without a host name: the client sent its Finished and hung up at once, and
/// the names this server shows such clients do not cover its address — a rejection,
/// unless the same client later resumes with a pre-shared key the server accepts.
#[test]
fn outcome_a_later_psk_resumption_proves_a_tls13_handshake() {
    let mut other = connected();
    with_client_hello(&mut other, hello(None, &[0xc02f]));
    server_hello(&mut other, 5, 4, 0x0303, 0xc02f);
    server_certificate(&mut other, 5, 4, leaf(&["a.example"]));
    let mut probe = connected();
    with_client_hello(&mut probe, hello(None, &[0x1301]));
    server_hello(&mut probe, 5, 4, 0x0304, 0x1301);
    encrypted(&mut probe, Dir::ToClient, 5, 4, 2000);
    encrypted(&mut probe, Dir::ToServer, 6, 5, 53);
    fin(&mut probe, Dir::ToServer, 7, 5);
    let alone = verdict_at(&probe, &Profiles::build([&other]), 100);
    assert_ne!(alone.code, Code::Ok, "{alone:?}");
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

// ---- capture ----

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
