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
    // A ServerHello answers a ClientHello the capture does not hold (lost, or behind a
    // proxy's preamble): the client's first bytes were that preamble, not its refusal.
    let hello_answered = f.server_hello.is_some();
    if let Some(plain) = f.plaintext[0]
        .as_ref()
        .filter(|_| from_start && !hello_answered)
    {
        if !plain.value.text {
            // Binary of no known protocol (refused, or `another_protocol` would have
            // left the connection out): not plain text, but not TLS either.
            let mut ev = vec![plaintext_detail(
                plain,
                Dir::ToServer,
                PlaintextRole::InsteadOfClientHello,
            )];
            ev.extend(server_refusal(cx));
            return Some(Verdict::new(
                Finding::BinaryFromClient,
                ev,
                Fix::FixClientRecords,
            ));
        }
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
    if let Some(m) = f
        .malformed
        .iter()
        .find(|m| m.value.from == Dir::ToServer && !hello_answered)
    {
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
        // The stream's own account names the cause (a snap length that cut the hello,
        // bytes acknowledged but never captured) when it has one.
        let evidence = match &f.lost[0] {
            Some(why) => Detail::StreamLost {
                at: why.at,
                from: Dir::ToServer,
                reason: why.value.reason.clone(),
            },
            None => Detail::SegmentMissing {
                at: lost,
                from: Dir::ToServer,
            },
        };
        return Some(Verdict::new(
            Finding::ClientFirstFlightLost,
            vec![evidence],
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
    // A server that greets in text (a banner) is not a TLS server; binary bytes, or
    // anything sent after the client had already left, say nothing of the kind.
    let client_left_first = |at| cx.client_left().is_some_and(|left| left < at);
    if let Some(plain) = f.plaintext[1]
        .as_ref()
        .filter(|p| p.value.text && !client_left_first(p.at))
    {
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
    // Connected, sent nothing: whoever closed first.
    let server_first = cx
        .server_left()
        .is_some_and(|s| cx.client_left().is_none_or(|c| s < c));
    if let Some(close) = cx.close_detail(Dir::ToServer).filter(|_| !server_first) {
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
    // A STARTTLS-style upgrade (the client spoke the protocol in plain text before its
    // ClientHello): the server's plain text before the hello was that conversation,
    // not its answer to TLS; only plain text after the hello is (a refused upgrade the
    // client went on past). Its alert or its close otherwise decide.
    let upgrade = cx.facts.plaintext[0].as_ref().is_some_and(|p| p.at < ch.at);
    if upgrade && plain.value.after_client_hello.is_none() {
        return None;
    }
    let mut ev = vec![
        cx.client_hello_detail(ch),
        plaintext_detail(plain, Dir::ToClient, PlaintextRole::ServerSpoke),
    ];
    ev.extend(cx.closes());
    if !plain.value.text {
        // Binary that is not a TLS record (a damaged alert, say) is no sign of another
        // protocol on the port: the server's bytes do not parse.
        return Some(Verdict::new(
            Finding::UnparsableBytes {
                sender: Dir::ToClient,
            },
            ev,
            Fix::FixImplementationOrMiddlebox {
                sender: Dir::ToClient,
            },
        ));
    }
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

/// The server's reaction to bytes that were not a ClientHello: its alerts and its close.
fn server_refusal(cx: &Ctx<'_>) -> Vec<Detail> {
    let mut ev: Vec<Detail> = cx
        .facts
        .alerts
        .iter()
        .filter(|a| a.from == Dir::ToClient)
        .map(|a| cx.alert_detail(a))
        .collect();
    ev.extend(cx.closes());
    ev
}

/// Neither side ever spoke TLS and the server answered in kind (SSH through a port
/// multiplexer on 443, a plain HTTP server on a TLS port, two peers of a binary
/// protocol of their own): not a handshake attempt. Nor is a client's binary of no
/// known protocol that no TLS server refused — no alert, no close from the server.
pub(crate) fn another_protocol(cx: &Ctx<'_>) -> bool {
    let f = cx.facts;
    if tls_in_another_framing(f) {
        return true;
    }
    if f.client_hello.is_some() || f.server_hello.is_some() {
        return false;
    }
    match (&f.plaintext[0], &f.plaintext[1]) {
        (Some(client), Some(server)) => crate::tls::plaintext::answered_in_kind(
            &client.value.kind,
            &server.value.kind,
            &server.value.first_line,
        ),
        (Some(client), None) => {
            let t = &cx.conn.tcp;
            (t.syn.is_some() || t.syn_ack.is_some())
                && !client.value.text
                && !f.alerts.iter().any(|a| a.from == Dir::ToClient)
                && t.fin[1].is_none()
                && t.rst[1].is_none()
        }
        _ => false,
    }
}

/// TLS carried in another protocol's own packets (OpenVPN over TCP wraps each record of
/// its control channel): the client's first bytes are binary of that protocol, its
/// first TLS record sits inside a segment after that protocol's header, and the
/// records then break where its next header comes. Not a TLS connection of its own:
/// its bytes between the records are no fault of a TLS stack.
fn tls_in_another_framing(f: &crate::tls::TlsFacts) -> bool {
    f.plaintext[0]
        .as_ref()
        .is_some_and(|p| !p.value.text && p.value.record_inside_segment)
        && !f.malformed.is_empty()
}

/// A TCP connection the client opened and closed without a byte either way, before the
/// server closed: a port probe or a TCP health check (`nc -z`, a load balancer's TCP
/// check, a SYN scan's reset after the SYN-ACK), not a TLS attempt; nor is one left
/// silent until the server's idle timeout. Bytes the server sends after the client's
/// close answer the close. A server that closes at once, or says anything before the
/// client leaves, makes it one.
///
/// Nor is a SYN the server answered with a bare ACK — a server still holding an old
/// connection on that port answers so (RFC 5961's challenge ACK) — that the client
/// resets to clear it: its retried SYN is the attempt.
pub(crate) fn port_probe(cx: &Ctx<'_>) -> bool {
    let t = &cx.conn.tcp;
    // What the server sends after the client's close answers the close (OpenSSL's
    // decode_error for the unexpected EOF, a close_notify), not a connection.
    let server_spoke_first =
        t.first_payload[1].is_some_and(|said| cx.client_left().is_none_or(|left| said < left));
    if cx.facts.client_hello.is_some() || t.payload_bytes[0] != 0 || server_spoke_first {
        return false;
    }
    if t.syn_ack.is_none() {
        return t.syn.is_some() && t.packets[1] > 0 && t.rst[1].is_none() && t.rst[0].is_some();
    }
    match (cx.client_left(), cx.server_left()) {
        (Some(client), server) if server.is_none_or(|s| client <= s) => true,
        // The server closed first: a connection left silent until its idle timeout
        // (a client that opened it ahead and never used it); a server that closes at
        // once refused it.
        (_, Some(server)) => t
            .syn_ack
            .is_some_and(|accepted| !cx.reacts_to(accepted, server)),
        _ => false,
    }
}
