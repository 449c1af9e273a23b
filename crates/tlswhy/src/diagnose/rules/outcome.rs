//! The outcome when no plaintext alert decides: read from what the server answered,
//! the Finished messages (TLS ≤ 1.2), encrypted alerts, and — in TLS 1.3, where
//! everything after the ServerHello is encrypted — the flights: which side sent records
//! when, and how long they were.

use super::{is_encrypted_alert_len, Ctx};
use crate::diagnose::detail::Detail;
use crate::diagnose::verdict::{Finding, Fix, Unfinished};
use crate::diagnose::Verdict;
use crate::flow::{At, Dir};
use crate::tls::facts::Seen;
use crate::tls::hello::ClientHelloFacts;
use crate::tls::wire::{CipherSuite, ProtocolVersion};

/// An empty Certificate message is 8 bytes: 25 bytes as a TLS 1.3 record under a
/// 16-byte tag.
const EMPTY_CERTIFICATE_RECORD: u32 = 25;

/// Every connection with a ClientHello that no earlier rule decided.
pub(super) fn without_plaintext_alert(cx: &Ctx<'_>) -> Option<Verdict> {
    let ch = cx.client_hello()?;
    let f = cx.facts;
    let t = &cx.conn.tcp;
    if !cx.server_said_anything_tls() {
        return Some(super::tcp::no_server_answer(cx, ch));
    }
    if let Some(m) = f.malformed.first() {
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
    if cx.negotiated_tls13() {
        return Some(tls13_outcome(cx, ch));
    }
    if f.sslv2 {
        let data_both_ways =
            t.payload_bytes.iter().all(|&b| b > 0) && t.rst.iter().all(Option::is_none);
        if data_both_ways {
            return Some(ok(cx, ch));
        }
    }
    let enc_alert = |d: Dir| f.alerts.iter().find(|a| a.encrypted && a.from == d);
    if f.finished.iter().all(Option::is_some) {
        // Completed, then the client sent an alert and closed without any data: a
        // certificate rejected after the handshake (curl's name check).
        if f.encrypted[0].count == 0 {
            let server_finished = f.finished[1].unwrap_or_default();
            if let Some(a) =
                enc_alert(Dir::ToServer).filter(|a| cx.reacts_to(server_finished, a.at))
            {
                let ev = vec![
                    cx.client_hello_detail(ch),
                    Detail::ServerFinished {
                        at: f.finished[1].unwrap_or(a.at),
                    },
                    Detail::EncryptedAlert {
                        at: a.at,
                        from: Dir::ToServer,
                        record_length: 0,
                        instead_of_finished: false,
                        no_data_sent: true,
                    },
                ];
                return Some(super::cert::certificate_rejection(cx, ch, ev, None));
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

/// The handshake completed. No details: the record's facts are the evidence.
fn ok(cx: &Ctx<'_>, ch: &Seen<ClientHelloFacts>) -> Verdict {
    let f = cx.facts;
    let sh = f.server_hello.as_ref();
    Verdict::new(
        Finding::Completed {
            version: sh.map(|s| ProtocolVersion(s.value.version)),
            cipher_suite: sh.map(|s| CipherSuite(s.value.cipher_suite)),
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
        version: ProtocolVersion(sh.value.version),
        cipher_suite: CipherSuite(sh.value.cipher_suite),
    }
}

/// TLS 1.3: the outcome from the flights.
fn tls13_outcome(cx: &Ctx<'_>, ch: &Seen<ClientHelloFacts>) -> Verdict {
    let f = cx.facts;
    let [c, s] = &f.encrypted;
    let sh = f.server_hello.as_ref().expect("TLS 1.3 was negotiated");
    let mut ev = vec![cx.client_hello_detail(ch), server_hello_detail(sh)];
    let Some(&(flight_at, first_len)) = c.first.first() else {
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
    if is_encrypted_alert_len(first_len) {
        // The client answered the server's flight with an alert instead of Finished.
        ev.push(Detail::EncryptedAlert {
            at: flight_at,
            from: Dir::ToServer,
            record_length: first_len,
            instead_of_finished: true,
            no_data_sent: false,
        });
        return super::cert::certificate_rejection(cx, ch, ev, None);
    }
    // The client's flight: its records up to the server's next record.
    let server_next = s
        .first
        .iter()
        .find(|(at, _)| *at > flight_at)
        .map(|(at, _)| *at);
    let in_flight = |at: &At| server_next.is_none_or(|n| *at < n);
    let client_flight: Vec<u32> = c
        .first
        .iter()
        .filter(|(at, _)| in_flight(at))
        .map(|(_, len)| *len)
        .collect();
    let server_after: Vec<&(At, u32)> = s.first.iter().filter(|(at, _)| *at > flight_at).collect();
    // Records a flight needs: Finished, plus an empty Certificate when the server
    // asked for one. More than that is application data.
    let client_records = c
        .first
        .iter()
        .filter(|(_, len)| !is_encrypted_alert_len(*len))
        .count();
    let flight_records = if first_len == EMPTY_CERTIFICATE_RECORD {
        2
    } else {
        1
    };
    let client_sent_data = client_records > flight_records;

    // The server answered the client's flight with an alert and closed.
    if let [(alert_at, len)] = server_after.as_slice() {
        if is_encrypted_alert_len(*len) && cx.closed(Dir::ToClient) {
            return server_rejected_client_flight(
                cx,
                ev,
                &client_flight,
                flight_at,
                *alert_at,
                *len,
            );
        }
    }
    if !client_sent_data {
        // Completed, then an immediate alert from the client and a close, no data.
        if let Some(&(a_at, a_len)) = c
            .first
            .iter()
            .skip(1)
            .find(|(_, len)| is_encrypted_alert_len(*len))
        {
            let closed = cx.closed(Dir::ToServer) || cx.closed(Dir::ToClient);
            if closed && cx.reacts_to(flight_at, a_at) {
                ev.push(Detail::ClientFinished { at: flight_at });
                ev.push(Detail::EncryptedAlert {
                    at: a_at,
                    from: Dir::ToServer,
                    record_length: a_len,
                    instead_of_finished: false,
                    no_data_sent: true,
                });
                return super::cert::certificate_rejection(cx, ch, ev, None);
            }
        }
    }
    // Completed: the server went on after the client's flight (tickets, a response)
    // and the client sent data — or closed politely after an idle pause.
    let polite_close = c
        .first
        .iter()
        .skip(1)
        .any(|(_, len)| is_encrypted_alert_len(*len));
    if !server_after.is_empty() && (client_sent_data || polite_close) {
        return ok(cx, ch);
    }
    if client_sent_data && server_after.is_empty() {
        return super::capture::incomplete(cx, ch, Unfinished::NoAnswerToClientData);
    }
    super::tcp::closed_mid_handshake(cx, ch)
        .unwrap_or_else(|| super::capture::incomplete(cx, ch, Unfinished::AfterClientFlight))
}

/// TLS 1.3, the server's encrypted alert right after the client's flight: the client
/// certificate (or its absence) is the usual cause.
fn server_rejected_client_flight(
    cx: &Ctx<'_>,
    mut ev: Vec<Detail>,
    client_flight: &[u32],
    flight_at: At,
    alert_at: At,
    alert_len: u32,
) -> Verdict {
    ev.push(Detail::ClientFlight {
        at: flight_at,
        record_lengths: client_flight.to_vec(),
    });
    ev.push(Detail::EncryptedAlert {
        at: alert_at,
        from: Dir::ToClient,
        record_length: alert_len,
        instead_of_finished: false,
        no_data_sent: false,
    });
    ev.extend(cx.closes());
    let empty_certificate =
        client_flight.len() >= 2 && client_flight[0] == EMPTY_CERTIFICATE_RECORD;
    let certificate_sent = client_flight.len() >= 3 && client_flight[0] > 100;
    if empty_certificate {
        ev.push(Detail::EmptyCertificateBySize);
        return Verdict::new(
            Finding::ClientCertEmptyEncrypted,
            ev,
            Fix::ConfigureClientCertificateTls13,
        );
    }
    if certificate_sent {
        ev.push(Detail::CertificateBySize);
        return Verdict::new(
            Finding::ClientCertRejectedEncrypted,
            ev,
            Fix::UseTrustedClientCertificateTls13,
        );
    }
    Verdict::new(
        Finding::ServerAlertAfterClientFlight,
        ev,
        Fix::ReadServerLogTls13,
    )
}
