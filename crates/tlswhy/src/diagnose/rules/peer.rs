//! Peers that do not speak TLS, and connections without a ClientHello: plain text to a
//! TLS port, TLS to a plain-text port, a capture that starts mid-stream, a client that
//! connects and leaves.

use super::Ctx;
use crate::diagnose::detail::{Detail, PlaintextRole};
use crate::diagnose::verdict::{Finding, Fix};
use crate::diagnose::Verdict;
use crate::flow::Dir;
use crate::tls::facts::{PlaintextFacts, Seen};

/// Plain text as evidence: who sent it, what it is to the handshake, its first line.
fn plaintext_detail(plain: &Seen<PlaintextFacts>, from: Dir, role: PlaintextRole) -> Detail {
    Detail::Plaintext {
        at: plain.at,
        from,
        role,
        protocol: plain.value.kind.clone(),
        first_line: plain.value.first_line.clone(),
    }
}

/// Every connection without a ClientHello is decided here.
pub(super) fn without_client_hello(cx: &Ctx<'_>) -> Option<Verdict> {
    if cx.client_hello().is_some() {
        return None;
    }
    let t = &cx.conn.tcp;
    let f = cx.facts;
    // Only the first bytes of a connection seen from its start say what the client
    // speaks (a keep-alive byte or the middle of a stream say nothing).
    let from_start = t.syn.is_some() || t.syn_ack.is_some();
    if let Some(plain) = f.plaintext[0].as_ref().filter(|_| from_start) {
        let mut ev = vec![plaintext_detail(
            plain,
            Dir::ToServer,
            PlaintextRole::InsteadOfClientHello,
        )];
        if let Some(resp) = &f.plaintext[1] {
            ev.push(plaintext_detail(
                resp,
                Dir::ToClient,
                PlaintextRole::ServerAnswer,
            ));
        }
        ev.extend(
            f.alerts
                .iter()
                .filter(|a| a.from == Dir::ToClient)
                .map(|a| cx.alert_detail(a)),
        );
        ev.extend(cx.closes());
        return Some(Verdict::new(
            Finding::PlaintextFromClient {
                protocol: plain.value.kind.clone(),
            },
            ev,
            Fix::ClientUseTls {
                port: cx.server().port(),
            },
        ));
    }
    if t.syn.is_none() && t.payload_bytes.iter().any(|&b| b > 0) {
        return Some(Verdict::new(
            Finding::CaptureStartsMidConnection,
            vec![Detail::MidStream { at: cx.conn.first }],
            Fix::CaptureFromStart,
        ));
    }
    if let Some(m) = f.malformed.iter().find(|m| m.value.from == Dir::ToServer) {
        return Some(Verdict::new(
            Finding::ClientHelloUnparsable,
            vec![Detail::Malformed {
                at: m.at,
                from: Dir::ToServer,
                what: m.value.what.clone(),
            }],
            Fix::FixClientRecords,
        ));
    }
    if let Some(lost) = t.lost_segment[0] {
        return Some(Verdict::new(
            Finding::ClientFirstFlightLost,
            vec![Detail::SegmentMissing {
                at: lost,
                from: Dir::ToServer,
            }],
            Fix::CaptureWithoutLossNearEndpoints,
        ));
    }
    if t.payload_bytes[0] > 0 {
        return Some(Verdict::new(
            Finding::ClientHelloCut,
            vec![Detail::ClientBytes {
                at: t.first_payload[0].unwrap_or(cx.conn.first),
                bytes: t.payload_bytes[0],
            }],
            Fix::CaptureLongerOrLargerSnap,
        ));
    }
    if let Some(plain) = &f.plaintext[1] {
        let mut ev = vec![plaintext_detail(
            plain,
            Dir::ToClient,
            PlaintextRole::ServerSpoke,
        )];
        ev.extend(cx.closes());
        return Some(Verdict::new(
            Finding::ServerGreetedInPlaintext {
                protocol: plain.value.kind.clone(),
            },
            ev,
            Fix::ClientUseTlsPortOrStarttls,
        ));
    }
    // Connected, sent nothing.
    if let Some(close) = cx.close_detail(Dir::ToServer) {
        return Some(Verdict::new(
            Finding::ClientLeftBeforeHello,
            vec![close],
            Fix::ClientExplainEarlyClose,
        ));
    }
    if let Some(close) = cx.close_detail(Dir::ToClient) {
        return Some(Verdict::new(
            Finding::ServerLeftBeforeHello,
            vec![close],
            Fix::ServerExplainRefusal,
        ));
    }
    Some(Verdict::new(
        Finding::NoClientHello,
        vec![Detail::NoTlsData { at: cx.conn.first }],
        Fix::CaptureLongerForHandshake,
    ))
}

/// The client sent a ClientHello and the server answered in plain text (and never with
/// a ServerHello: plain text before one is a STARTTLS preamble).
pub(super) fn non_tls_server(cx: &Ctx<'_>) -> Option<Verdict> {
    let ch = cx.client_hello()?;
    let plain = cx.facts.plaintext[1].as_ref()?;
    if cx.facts.server_hello.is_some() {
        return None;
    }
    let mut ev = vec![
        cx.client_hello_detail(ch),
        plaintext_detail(plain, Dir::ToClient, PlaintextRole::ServerSpoke),
    ];
    ev.extend(cx.closes());
    Some(Verdict::new(
        Finding::ServerAnsweredInPlaintext {
            protocol: plain.value.kind.clone(),
        },
        ev,
        Fix::UseTlsPortOrEnableTls {
            port: cx.server().port(),
        },
    ))
}

/// Neither side ever spoke TLS and the server answered in kind (SSH through a port
/// multiplexer on 443, a plain HTTP server on a TLS port): not a handshake attempt.
pub(crate) fn another_protocol(cx: &Ctx<'_>) -> bool {
    let f = cx.facts;
    match (&f.plaintext[0], &f.plaintext[1]) {
        (Some(client), Some(server)) => {
            f.client_hello.is_none()
                && f.server_hello.is_none()
                && crate::tls::plaintext::answered_in_kind(
                    &client.value.kind,
                    &server.value.kind,
                    &server.value.first_line,
                )
        }
        _ => false,
    }
}
