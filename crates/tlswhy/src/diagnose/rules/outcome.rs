//! The outcome when no plaintext alert decides: read from what the server answered,
//! the Finished messages (TLS ≤ 1.2), encrypted alerts, and — in TLS 1.3, where
//! everything after the ServerHello is encrypted — the flights: which side sent records
//! when, and how long they were.

use super::{ClientCertificateBySize, Ctx};
use crate::diagnose::detail::Detail;
use crate::diagnose::verdict::{Finding, Fix, Unfinished};
use crate::diagnose::Verdict;
use crate::flow::{At, Dir};
use crate::tls::alert::AlertDescription as AD;
use crate::tls::facts::Seen;
use crate::tls::hello::ClientHelloFacts;

/// Every connection with a ClientHello that no earlier rule decided.
pub(super) fn without_plaintext_alert(cx: &Ctx<'_>) -> Option<Verdict> {
    let ch = cx.client_hello()?;
    let f = cx.facts;
    let t = &cx.conn.tcp;
    if !cx.server_said_anything_tls() {
        return Some(super::tcp::no_server_answer(cx, ch));
    }
    // The client hung up before the server's first answer: it gave up (or was
    // cancelled) before the server said anything, and what came after answered nobody.
    if cx
        .client_left()
        .is_some_and(|left| !cx.server_answered_before(left))
    {
        return Some(super::tcp::no_server_answer(cx, ch));
    }
    // Bytes the peers read past — the handshake completed after them — were damaged in
    // the capture, not on the wire.
    if let Some(m) = f
        .malformed
        .first()
        .filter(|_| !super::handshake_completed(f))
    {
        let mut ev = vec![
            cx.client_hello_detail(ch),
            Detail::Malformed {
                at: m.at,
                from: m.value.from,
                what: m.value.what.clone(),
            },
        ];
        ev.extend(cx.closes());
        return Some(Verdict::new(
            Finding::UnparsableBytes {
                sender: m.value.from,
            },
            ev,
            Fix::FixImplementationOrMiddlebox {
                sender: m.value.from,
            },
        ));
    }
    // TLS 1.3 opened with keys reads like TLS 1.2: the Finished messages and the
    // alerts are known, not inferred from record sizes.
    if cx.negotiated_tls13() && !f.decrypted.iter().all(|&d| d) {
        return Some(tls13_outcome(cx, ch));
    }
    if f.sslv2 {
        let data_both_ways =
            t.payload_bytes.iter().all(|&b| b > 0) && t.rst.iter().all(Option::is_none);
        if data_both_ways {
            return Some(ok(cx, ch));
        }
    }
    let enc_alert = |d: Dir| f.alerts.iter().find(|a| a.is_opaque() && a.from == d);
    if let Some(v) = client_alert_after_its_finished(cx, ch, enc_alert(Dir::ToServer)) {
        return Some(v);
    }
    if f.finished.iter().all(Option::is_some) {
        if let Some(v) = server_refused_client_finished(cx, ch, enc_alert(Dir::ToClient)) {
            return Some(v);
        }
        // Protected records from the client after its Finished — data, or heartbeats
        // (RFC 6520) — show it went on with the connection.
        let client_went_on =
            f.encrypted[0].count > 0 || f.heartbeats[0] > 0 || f.renegotiation[0] > 0;
        // A client that hung up before the server's Finished came did not see the
        // handshake complete: it left mid-handshake, whatever the server sent after —
        // unless it hung up at once after its own Finished, having accepted what it
        // had seen: a connection opened ahead and no longer needed (Chromium).
        let (left_first, left_after_its_finished) = match (cx.client_left(), f.finished) {
            (Some(left), [Some(client_finished), Some(server_finished)])
                if left < server_finished =>
            {
                let at_once = cx.reacts_to(client_finished, left);
                (!at_once, at_once)
            }
            _ => (false, false),
        };
        if !client_went_on && left_first {
            if let Some(v) = super::tcp::closed_mid_handshake(cx, ch) {
                return Some(v);
            }
        }
        if !client_went_on && !left_after_its_finished {
            if let Some(v) = closed_after_handshake(cx, ch, enc_alert(Dir::ToServer)) {
                return Some(v);
            }
        }
        return Some(ok(cx, ch));
    }
    // Not complete, no plaintext alert.
    if let Some(a) = enc_alert(Dir::ToClient).or(enc_alert(Dir::ToServer)) {
        let ev = vec![cx.client_hello_detail(ch), cx.alert_detail(a)];
        return Some(super::alert::generic_fatal(cx, ev, a));
    }
    Some(
        super::tcp::closed_mid_handshake(cx, ch)
            .unwrap_or_else(|| super::capture::incomplete(cx, ch, Unfinished::BeforeCompletion)),
    )
}

/// TLS ≤ 1.2 without keys: the client's encrypted alert at once after its own Finished
/// (the server's Finished before it or not), no data from the client, which named an
/// application protocol (ALPN) and then closed: it refused the server once its
/// Finished was out — NSS (Firefox) checks the certificate beside the handshake and
/// alerts then, curl checks a name after it. A close_notify is as long, but a client
/// that came to speak a protocol and leaves at once without a word of it did not leave
/// in peace. How specific the verdict is, the certificate and the other connections
/// decide; a leaf another connection took, or that this client polls, is left to the
/// rules after.
fn client_alert_after_its_finished(
    cx: &Ctx<'_>,
    ch: &Seen<ClientHelloFacts>,
    alert: Option<&crate::tls::facts::AlertFacts>,
) -> Option<Verdict> {
    let f = cx.facts;
    let a = alert?;
    let client_finished = f.finished[0]?;
    let last_step = match f.finished[1] {
        Some(server_finished) if server_finished < a.at && server_finished > client_finished => {
            server_finished
        }
        _ => client_finished,
    };
    let at_once = a.at >= client_finished && cx.reacts_to(last_step, a.at);
    if !at_once
        || f.encrypted[0].count > 0
        || ch.value.alpn.is_empty()
        || !cx.closed(Dir::ToServer)
        || cx.resumed_later()
    {
        return None;
    }
    let leaf = cx.leaf()?;
    if cx.leaf_vouched_for(leaf) {
        return None;
    }
    let mut ev = vec![cx.client_hello_detail(ch)];
    if let Some(at) = f.finished[1].filter(|at| *at < a.at) {
        ev.push(Detail::ServerFinished { at });
    }
    ev.push(client_alert_before_any_data(a.at, a.record_length));
    if leaf.parse_error.is_none()
        && !leaf.self_signed
        && !super::cert::certificate_visibly_wrong(cx, ch, true)
    {
        ev.push(Detail::NoClientAcceptedLeaf);
        return Some(super::cert::untrusted_leaf(cx, ev));
    }
    Some(super::cert::certificate_rejection(cx, ch, ev, None))
}

/// The client's encrypted alert at `at`, a record of `record_length` bytes (0: not known),
/// no data sent before it (its description unknown without keys).
fn client_alert_before_any_data(at: At, record_length: u16) -> Detail {
    Detail::EncryptedAlert {
        at,
        from: Dir::ToServer,
        record_length: u32::from(record_length),
        instead_of_finished: false,
        no_data_sent: true,
    }
}

/// TLS ≤ 1.2, both Finished seen, no data either way: the server answered the
/// client's Finished with an encrypted alert at once and closed, before the client
/// said anything more. A server that accepted the handshake does not do that: it
/// refused the client's Finished (bad_record_mac, decrypt_error — the MAC or the keys).
fn server_refused_client_finished(
    cx: &Ctx<'_>,
    ch: &Seen<ClientHelloFacts>,
    server_alert: Option<&crate::tls::facts::AlertFacts>,
) -> Option<Verdict> {
    let f = cx.facts;
    let alert = server_alert?;
    let client_finished = f.finished[0]?;
    // A renegotiation the client started after the handshake is what such an alert
    // refuses (nginx refuses client-initiated ones by design): not the handshake.
    let no_data = f.encrypted.iter().all(|e| e.count == 0) && f.renegotiation[0] == 0;
    let client_alert_first = f
        .alerts
        .iter()
        .any(|a| a.from == Dir::ToServer && a.at < alert.at);
    if !no_data
        || client_alert_first
        || alert.at < client_finished
        || !cx.reacts_to(client_finished, alert.at)
        || !cx.closed(Dir::ToClient)
        || cx.after_peer_closed(alert)
    {
        return None;
    }
    let ev = vec![
        cx.client_hello_detail(ch),
        Detail::ClientFinished {
            at: client_finished,
        },
        cx.alert_detail(alert),
    ];
    Some(super::alert::generic_fatal(cx, ev, alert))
}

/// The handshake completed. No details: the record's facts are the evidence.
fn ok(cx: &Ctx<'_>, ch: &Seen<ClientHelloFacts>) -> Verdict {
    let f = cx.facts;
    let sh = f.server_hello.as_ref();
    Verdict::new(
        Finding::Completed {
            version: sh.map(|s| s.value.version),
            cipher_suite: sh.map(|s| s.value.cipher_suite),
            client_hello: ch.at,
            server_hello: sh.map(|s| s.at),
            client_records: f.encrypted[0].count,
            server_records: f.encrypted[1].count,
        },
        Vec::new(),
        Fix::Nothing,
    )
}

fn server_hello_detail(sh: &Seen<crate::tls::hello::ServerHelloFacts>) -> Detail {
    Detail::ServerHello {
        at: sh.at,
        version: sh.value.version,
        cipher_suite: sh.value.cipher_suite,
    }
}

/// TLS ≤ 1.2, completed (both Finished), and the client sent no data. A probe or health
/// check does that, so it is `ok` — unless the packets show why the client would have
/// rejected the server: the leaf does not cover the name asked for (or, without a
/// name, the address connected to) or is outside its validity period. Trust is not
/// objective: an untrusted leaf makes it a failure only when the client hung up
/// abruptly (a FIN, no alert) at once, no other client accepted that leaf and this
/// client does not poll the server (health checks leave with a bare reset, or repeat
/// at a steady interval).
///
/// A later connection that resumes this session proves the client accepted it: then
/// `ok` whatever the certificate showed.
fn closed_after_handshake(
    cx: &Ctx<'_>,
    ch: &Seen<ClientHelloFacts>,
    client_alert: Option<&crate::tls::facts::AlertFacts>,
) -> Option<Verdict> {
    rejection_after_handshake(cx, ch, client_alert).filter(|_| !cx.resumed_later())
}

fn rejection_after_handshake(
    cx: &Ctx<'_>,
    ch: &Seen<ClientHelloFacts>,
    client_alert: Option<&crate::tls::facts::AlertFacts>,
) -> Option<Verdict> {
    let f = cx.facts;
    let server_finished = f.finished[1]?;
    // With keys the client's goodbye is readable: a close_notify is a graceful close
    // (a probe, a health check) — yet curl, for one, checks the name after the
    // handshake and says goodbye the same way, so the objective facts still decide.
    let said_goodbye = f
        .alerts
        .iter()
        .any(|a| a.decrypted && a.from == Dir::ToServer && a.description == Some(AD::CLOSE_NOTIFY));
    let mut ev = vec![
        cx.client_hello_detail(ch),
        Detail::ServerFinished {
            at: server_finished,
        },
    ];
    match client_alert {
        Some(a) => ev.push(client_alert_before_any_data(a.at, a.record_length)),
        None => {
            // Neither an alert nor a close from the client: nothing to judge.
            if !cx.closed(Dir::ToServer) {
                return None;
            }
        }
    }
    let left_at = client_alert.map(|a| a.at).or_else(|| cx.client_left());
    let immediate = left_at.is_some_and(|at| cx.reacts_to(server_finished, at));
    // A name-less client is judged by the address only when it came to speak an
    // application protocol it named (ALPN: curl, browsers) and said goodbye at once
    // instead: `openssl s_client </dev/null` and `gnutls-cli` probes name none and
    // close with a close_notify just the same.
    let came_to_speak = !ch.value.alpn.is_empty();
    if super::cert::certificate_visibly_wrong(
        cx,
        ch,
        immediate && client_alert.is_some() && came_to_speak,
    ) {
        // Unless this client, asking for the same name, took this (expired) leaf on an
        // earlier connection (data after the handshake): its policy accepts it, and a
        // silent close now is a connection opened ahead and not used. (Other connections are read only here, where the leaf is wrong: a
        // verdict that reads them waits for the end of the capture.)
        let (client, asked) = (cx.conn.client.ip(), ch.value.server_name.as_deref());
        let accepted_before = cx.leaf().is_some_and(|leaf| {
            cx.profile()
                .is_some_and(|p| p.accepted_earlier_by(leaf, asked, client, cx.conn.first.ts))
        });
        if client_alert.is_none() && accepted_before {
            return None;
        }
        if client_alert.is_none() {
            ev.push(Detail::SilentAfterCertificate);
        }
        return Some(super::cert::certificate_rejection(cx, ch, ev, None));
    }
    if client_alert.is_some() || said_goodbye || !immediate {
        return None;
    }
    // A bare reset, no FIN before it, with nothing sent either way after the
    // handshake: the client aborted the connection on purpose (SO_LINGER 0), as health
    // checkers do (HAProxy's check-ssl) to leave no TIME_WAIT. A client that checks
    // the certificate after the handshake (Node) closes its socket: a FIN.
    let t = &cx.conn.tcp;
    let aborted = t.reset_first(0).is_some();
    if aborted && f.encrypted[1].count == 0 {
        return None;
    }
    // An abrupt close at once: a rejection of trust, unless another client accepted
    // this leaf, or this client polls the server.
    let leaf = cx.leaf()?;
    if leaf.parse_error.is_some() || cx.leaf_vouched_for(leaf) {
        return None;
    }
    ev.push(Detail::SilentAfterCertificate);
    ev.push(Detail::NoClientAcceptedLeaf);
    Some(super::cert::untrusted_leaf(cx, ev))
}

/// TLS 1.3: the outcome from the flights.
fn tls13_outcome(cx: &Ctx<'_>, ch: &Seen<ClientHelloFacts>) -> Verdict {
    let f = cx.facts;
    let s = &f.encrypted[1];
    // The client's records after the ServerHello (before it: 0-RTT early data).
    let c_first = super::client_records_after_hello(f);
    let sh = f.server_hello.as_ref().expect("TLS 1.3 was negotiated");
    let mut ev = vec![cx.client_hello_detail(ch), server_hello_detail(sh)];
    let Some(&(flight_at, first_len)) = c_first.first() else {
        // The server's only record, right after its ServerHello, is an alert, and it
        // closed: it refused what it could only judge once the key exchange was done
        // (typically ALPN).
        if let [(alert_at, len)] = s.first.as_slice() {
            if s.count == 1 && cx.is_alert_record(*len) && cx.closed(Dir::ToClient) {
                ev.push(server_alert_record(*alert_at, *len));
                ev.extend(cx.closes());
                return server_alert_after_server_hello(cx, ch, ev);
            }
        }
        // An alert-sized record of the server's at once after its flight, before the
        // client answered (its Finished can only be longer), then a close: the server
        // ended the handshake (a second ClientHello, say, is a client's violation it
        // refuses).
        if let [.., (flight_end, _), (alert_at, len)] = s.first.as_slice() {
            let last = s.first.len() as u64 == s.count;
            let closed = super::earliest(cx.client_left(), cx.server_left());
            if last
                && cx.is_alert_record(*len)
                && cx.reacts_to(*flight_end, *alert_at)
                && closed.is_some_and(|c| c >= *alert_at)
            {
                ev.push(server_alert_record(*alert_at, *len));
                ev.extend(cx.closes());
                return Verdict::new(
                    Finding::ServerAlertAfterItsFlight,
                    ev,
                    Fix::ReadServerLogDrop,
                );
            }
        }
        if let Some(v) = client_hung_up_on_server_flight(cx, ch, &ev) {
            return v;
        }
        // The client never answered the server's flight.
        if s.count > 0 {
            if let Some(close) = cx.close_detail(Dir::ToServer) {
                ev.push(close);
                return Verdict::new(
                    Finding::ClientAbortedAfterServerFlight,
                    ev,
                    Fix::ReadClientLog,
                );
            }
        }
        return super::tcp::closed_mid_handshake(cx, ch)
            .unwrap_or_else(|| super::capture::incomplete(cx, ch, Unfinished::BeforeClientFlight));
    };
    let Some(finished_at) = super::client_finished(f) else {
        // The client answered the server's flight with an alert instead of its Finished.
        ev.push(Detail::EncryptedAlert {
            at: flight_at,
            from: Dir::ToServer,
            record_length: first_len,
            instead_of_finished: true,
            no_data_sent: false,
        });
        return super::cert::certificate_rejection(cx, ch, ev, None);
    };
    // The client's flight: its records up to the server's next record.
    let server_next = s
        .first
        .iter()
        .find(|(at, _)| *at > flight_at)
        .map(|(at, _)| *at);
    let in_flight = |at: &At| server_next.is_none_or(|n| *at < n);
    // (Made only for the verdicts that cite it.)
    let client_flight = || -> Vec<u32> {
        c_first
            .iter()
            .filter(|(at, _)| in_flight(at))
            .map(|(_, len)| *len)
            .collect()
    };
    // (Records are kept in the order their stream carried them: the later ones are a
    // tail of the list.)
    let records_after = |t: At| {
        let from = s.first.iter().position(|(at, _)| *at > t);
        &s.first[from.unwrap_or(s.first.len())..]
    };
    let server_after = records_after(finished_at);
    // A record of the client's after its Finished — in the same segment too: data, or
    // an alert (by size). The Finished is its first record, or its second after an
    // empty Certificate (`client_finished`).
    let finished_index = usize::from(
        c_first
            .first()
            .is_some_and(|(_, len)| cx.is_alert_record(*len)),
    );
    let client_after = |alert: bool| {
        c_first
            .iter()
            .skip(finished_index + 1)
            .find(|(at, len)| *at >= finished_at && cx.is_alert_record(*len) == alert)
            .copied()
    };
    let (client_alert, client_data) = (client_after(true), client_after(false));
    // The server answered the client's flight with an alert (or alerts, one per record
    // the client sent on) and nothing longer, and the connection closed — the client
    // having said goodbye only after it (a server's close_notify answering the client's
    // is no rejection). It may
    // come before the client's Finished, in answer to an empty Certificate sent on its
    // own; a client sends its request at once after its Finished, so data from the
    // client after the alert does not make the handshake complete.
    let server_after_flight = records_after(flight_at);
    // What the client's flight says of a client certificate, by size. Not after 0-RTT:
    // that flight opens with EndOfEarlyData, which padding could make pass for an empty
    // Certificate (and a resumption asks for no certificate).
    let certificate = || {
        if ch.value.early_data {
            ClientCertificateBySize::Unknown
        } else {
            super::client_certificate_by_size(c_first, cx.suite())
        }
    };
    if let Some(&(alert_at, len)) = server_after_flight.first() {
        let client_left_first = client_alert.is_some_and(|(a, _)| a < alert_at)
            || cx.conn.tcp.fin[0].is_some_and(|f| f < alert_at);
        let only_alerts = server_after_flight
            .iter()
            .all(|(_, len)| cx.is_alert_record(*len));
        // A refusal answers what the client just sent; an alert-sized record long after
        // it is a close_notify (an idle timeout: Go's server sends its tickets before
        // the client's Finished, so nothing else comes between).
        let answered = c_first
            .iter()
            .rev()
            .find(|(at, _)| *at < alert_at)
            .map(|(at, _)| *at)
            .is_some_and(|sent| cx.reacts_to(sent, alert_at));
        // The server closed; or the client did after records of exactly an alert's size
        // (a server's small data — HTTP/2's SETTINGS — is as short as a padded alert).
        let closed_after = cx.closed(Dir::ToClient)
            || cx.client_left().is_some()
                && server_after_flight
                    .iter()
                    .all(|(_, len)| *len == super::tls13_bare_alert_len(cx.suite()));
        if only_alerts && answered && closed_after && !client_left_first {
            return server_rejected_client_flight(
                cx,
                ev,
                &client_flight(),
                certificate(),
                flight_at,
                Some((alert_at, len)),
            );
        }
    }
    // The server closed at once after a client flight that carried a certificate (by
    // size), without a ticket, data or alert: it checked the certificate after the
    // handshake and dropped the connection (Node's rejectUnauthorized). A server that
    // accepted would have sent its tickets or answered the request.
    if server_after_flight.is_empty() {
        let last_flight_record = c_first
            .iter()
            .rev()
            .find(|(at, _)| *at <= finished_at)
            .map(|(at, _)| *at)
            .unwrap_or(finished_at);
        let server_closed_first = cx.server_left().is_some_and(|closed| {
            cx.client_left().is_none_or(|c| closed < c) && cx.reacts_to(last_flight_record, closed)
        });
        let certificate = certificate();
        if server_closed_first && certificate != ClientCertificateBySize::Unknown {
            return server_rejected_client_flight(
                cx,
                ev,
                &client_flight(),
                certificate,
                flight_at,
                None,
            );
        }
    }
    // The client sent its Finished: it had accepted the server's certificate (TLS 1.3
    // clients verify it before). Whatever follows — data, tickets, a close_notify, a
    // bare FIN or RST (probes, health checks) — the handshake completed.
    if client_data.is_none() && (client_alert.is_some() || cx.closed(Dir::ToServer)) {
        if let Some(v) =
            tls13_closed_without_host_name(cx, ch, ev.clone(), finished_at, client_alert)
        {
            return v;
        }
    }
    // A resumption (the server took the client's pre-shared key) has no certificate to
    // refuse: the client's Finished after the server's completes it, even when the
    // capture ends there (its request may have gone ahead as 0-RTT data).
    if !server_after.is_empty()
        || client_data.is_some()
        || client_alert.is_some()
        || cx.closed(Dir::ToServer)
        || sh.value.accepted_psk()
    {
        return ok(cx, ch);
    }
    super::tcp::closed_mid_handshake(cx, ch)
        .unwrap_or_else(|| super::capture::incomplete(cx, ch, Unfinished::AfterClientFlight))
}

/// The bytes of a TLS 1.3 server flight that carries a certificate, at least: the
/// smallest real chains (one EC leaf) and its CertificateVerify come to a few hundred.
const FLIGHT_WITH_CERTIFICATE: u64 = 300;

/// TLS 1.3: the client hung up (a FIN, no alert, nothing encrypted) at once after the
/// server's whole flight, without its Finished. What a client judges there is
/// the certificate — Node checks it itself and drops the socket — so the certificate was
/// rejected (`cert_rejected` when it is encrypted; with keys, the certificate rules
/// decide, trust among them). Not after a resumption (no certificate in the flight),
/// nor a close long after the flight (a timeout), nor one before the flight could have
/// ended with a Finished.
fn client_hung_up_on_server_flight(
    cx: &Ctx<'_>,
    ch: &Seen<ClientHelloFacts>,
    ev: &[Detail],
) -> Option<Verdict> {
    let f = cx.facts;
    if f.server_hello.as_ref()?.value.accepted_psk() {
        return None;
    }
    // A FIN: the client read the flight and closed. A reset right after it is a client
    // that left unread what followed the ServerHello (scanners read only that one).
    let closed = cx.conn.tcp.fin[0].filter(|_| cx.conn.tcp.reset_first(0).is_none())?;
    if cx.server_left().is_some_and(|s| s <= closed) {
        return None;
    }
    // (Kept in stream order: those before the close are a head of the list.)
    let records = &f.encrypted[1].first;
    let flight = &records[..records
        .iter()
        .position(|(at, _)| *at >= closed)
        .unwrap_or(records.len())];
    let last_at = match f.finished[1].filter(|at| *at < closed) {
        // Opened with keys: the server's Finished after its certificate.
        Some(finished) => {
            f.server_certificates.as_ref()?;
            flight.last().map_or(finished, |(at, _)| finished.max(*at))
        }
        None => {
            let &(last_at, last_len) = flight.last()?;
            let bytes: u64 = flight.iter().map(|(_, len)| u64::from(*len)).sum();
            if cx.is_alert_record(last_len) || bytes < FLIGHT_WITH_CERTIFICATE {
                return None;
            }
            last_at
        }
    };
    if !cx.reacts_to(last_at, closed) {
        return None;
    }
    let mut ev = ev.to_vec();
    let visibly_wrong = super::cert::certificate_visibly_wrong(cx, ch, false);
    // Opened with keys, the flight asked for the client's certificate.
    if !visibly_wrong && cx.left_when_asked_for_its_certificate(closed) {
        ev.extend(cx.close_detail(Dir::ToServer));
        return Some(super::negotiation::client_cert_required(cx, ev));
    }
    ev.push(Detail::SilentAfterCertificate);
    if cx.leaf().is_some() && !visibly_wrong {
        // Opened with keys, a leaf objectively fine for the name: trust failed.
        return Some(super::cert::untrusted_leaf(cx, ev));
    }
    Some(super::cert::certificate_rejection(cx, ch, ev, None))
}

/// TLS 1.3: the server's encrypted record of `len` bytes at `at`, an alert by its size.
fn server_alert_record(at: At, len: u32) -> Detail {
    Detail::EncryptedAlert {
        at,
        from: Dir::ToClient,
        record_length: len,
        instead_of_finished: false,
        no_data_sent: false,
    }
}

/// TLS 1.3, the client sent its Finished and left without data. Its certificate check
/// may come after its Finished (curl), and the certificate is encrypted — but a client
/// that asked for no host name (none, or an IP address) can only have checked the
/// address it connected to, and the names this server shows such clients elsewhere in
/// the capture (over TLS 1.2) may not cover it: then the name is the cause.
fn tls13_closed_without_host_name(
    cx: &Ctx<'_>,
    ch: &Seen<ClientHelloFacts>,
    mut ev: Vec<Detail>,
    finished_at: At,
    client_alert: Option<(At, u32)>,
) -> Option<Verdict> {
    let c = &ch.value;
    // No name at all: only an alert from a client that named an application protocol
    // says it checked the address (see `rejection_after_handshake`); an IP literal as
    // the name was checked whatever the close.
    let address = match c.server_name_ip() {
        Some(ip) => ip,
        None if c.server_name.is_none() && client_alert.is_some() && !c.alpn.is_empty() => {
            cx.server().ip()
        }
        None => return None,
    };
    let left_at = client_alert
        .map(|(at, _)| at)
        .or_else(|| cx.client_left())?;
    if !cx.reacts_to(finished_at, left_at) {
        return None;
    }
    let names = &cx.profile()?.names_without_host_name;
    if names.is_empty() {
        return None;
    }
    let address = address.to_string();
    if names
        .iter()
        .any(|n| crate::tls::cert::dns_name_matches(n, &address) || *n == address)
    {
        return None;
    }
    if cx.resumed_later() {
        return None;
    }
    ev.push(Detail::ClientFinished { at: finished_at });
    if let Some((at, record_length)) = client_alert {
        ev.push(Detail::EncryptedAlert {
            at,
            from: Dir::ToServer,
            record_length,
            instead_of_finished: false,
            no_data_sent: true,
        });
    }
    Some(super::cert::certificate_rejection(cx, ch, ev, None))
}

/// TLS 1.3: the server's only encrypted record, right after its ServerHello, was an
/// alert. A server evaluates ALPN after choosing its key share and some (Go, rustls)
/// refuse it there, encrypted: the usual cause when the client offered ALPN.
fn server_alert_after_server_hello(
    cx: &Ctx<'_>,
    ch: &Seen<ClientHelloFacts>,
    mut ev: Vec<Detail>,
) -> Verdict {
    if ch.value.alpn.is_empty() {
        return Verdict::new(
            Finding::ServerAlertAfterServerHello,
            ev,
            Fix::ReadServerLogTls13,
        );
    }
    ev.push(Detail::AlpnOffered {
        protocols: ch.value.alpn.clone(),
    });
    Verdict::new(
        Finding::AlpnRefusedEncrypted {
            offered: ch.value.alpn.clone(),
        },
        ev,
        super::negotiation::common_alpn_fix(cx, &ch.value),
    )
}

/// TLS 1.3, the server's encrypted alert right after the client's flight (or its close
/// without one, `alert` `None`): the client certificate (or its absence), told by the
/// flight's sizes (`certificate`), is the usual cause.
fn server_rejected_client_flight(
    cx: &Ctx<'_>,
    mut ev: Vec<Detail>,
    client_flight: &[u32],
    certificate: ClientCertificateBySize,
    flight_at: At,
    alert: Option<(At, u32)>,
) -> Verdict {
    ev.push(Detail::ClientFlight {
        at: flight_at,
        record_lengths: client_flight.to_vec(),
    });
    if let Some((alert_at, alert_len)) = alert {
        ev.push(Detail::EncryptedAlert {
            at: alert_at,
            from: Dir::ToClient,
            record_length: alert_len,
            instead_of_finished: false,
            no_data_sent: false,
        });
    }
    ev.extend(cx.closes());
    match certificate {
        ClientCertificateBySize::Empty => {
            ev.push(Detail::EmptyCertificateBySize);
            Verdict::new(
                Finding::ClientCertEmptyEncrypted,
                ev,
                Fix::ConfigureClientCertificateTls13,
            )
        }
        ClientCertificateBySize::Sent => {
            ev.push(Detail::CertificateBySize);
            Verdict::new(
                Finding::ClientCertRejectedEncrypted,
                ev,
                Fix::UseTrustedClientCertificateTls13,
            )
        }
        ClientCertificateBySize::Unknown => Verdict::new(
            Finding::ServerAlertAfterClientFlight,
            ev,
            Fix::ReadServerLogTls13,
        ),
    }
}
