//! TCP-level failures: a SYN refused or never answered, a server that resets or closes
//! instead of answering the ClientHello, a side that hangs up mid-handshake without an
//! alert, and silence until a timeout.

use super::Ctx;
use crate::diagnose::detail::Detail;
use crate::diagnose::verdict::{Finding, Fix, Unfinished};
use crate::diagnose::Verdict;
use crate::flow::Dir;
use crate::tls::facts::Seen;
use crate::tls::hello::ClientHelloFacts;

/// The SYN was refused, never answered, or the capture ends right after it.
pub(super) fn handshake_never_started(cx: &Ctx<'_>) -> Option<Verdict> {
    let t = &cx.conn.tcp;
    let syn = t.syn?;
    if t.syn_ack.is_some() || t.payload_bytes.iter().any(|&b| b > 0) {
        return None;
    }
    if let Some(rst) = t.rst[1] {
        return Some(Verdict::new(
            Finding::Refused,
            vec![
                Detail::Syn { at: syn, count: 1 },
                Detail::SynRefused { at: rst },
            ],
            Fix::ListenOnPort {
                port: cx.server().port(),
            },
        ));
    }
    let waited = cx.capture_end().secs_since(syn.ts);
    if t.syn_count >= 2 || waited >= cx.settings.response_timeout {
        return Some(Verdict::new(
            Finding::SynUnanswered,
            vec![
                Detail::Syn {
                    at: syn,
                    count: t.syn_count,
                },
                Detail::Silence {
                    from: Dir::ToServer,
                    secs: waited,
                    until_capture_end: true,
                },
            ],
            Fix::MakeReachable,
        ));
    }
    Some(Verdict::new(
        Finding::CaptureEndsAfterSyn,
        vec![
            Detail::Syn { at: syn, count: 1 },
            Detail::CaptureEndsAfter { secs: waited },
        ],
        Fix::CaptureLongerAfterSyn,
    ))
}

/// No TLS answer from the server: it reset or closed first, stayed silent for the
/// timeout, or the client gave up first.
pub(super) fn no_server_answer(cx: &Ctx<'_>, ch: &Seen<ClientHelloFacts>) -> Verdict {
    let t = &cx.conn.tcp;
    let mut ev = vec![cx.client_hello_detail(ch)];
    // A server close that answers the client's own close is not the server's doing.
    let client_closed = cx.client_left();
    let first_mover =
        |server: Option<crate::flow::At>| server.filter(|s| client_closed.is_none_or(|c| *s < c));
    // The server's first reaction decides: a FIN, then an RST (the kernel's answer to
    // the client's later bytes), is a close.
    let server_rst = t.reset_first(1);
    // A server that routes by name closes at once (a FIN) on a hello that names no
    // host. A reset is left to the rule below: SChannel servers reset on any failed
    // handshake, and middleboxes inject them.
    let server_fin = first_mover(t.fin[1]).filter(|_| server_rst.is_none());
    if server_fin.is_some_and(|close| cx.reacts_to(ch.at, close)) {
        let mut named = ev.clone();
        named.extend(cx.close_detail(Dir::ToClient));
        if let Some(v) = super::sni::closed_for_want_of_a_host_name(cx, ch, named) {
            return v;
        }
    }
    // Acknowledgements that stopped short of the hello's end: it never reached the
    // server whole (whatever it did then, it did to part of a hello).
    let unacknowledged = cx.conn.client_bytes_unacknowledged();
    let hello_never_whole =
        (unacknowledged > 0).then_some(Detail::HelloNotAcknowledged { unacknowledged });
    if let Some(rst) = first_mover(server_rst) {
        ev.push(Detail::Close {
            at: rst,
            from: Dir::ToClient,
            how: crate::diagnose::detail::CloseKind::Rst,
        });
        ev.extend(hello_never_whole);
        return Verdict::new(
            Finding::ServerResetAfterHello,
            ev,
            Fix::CheckServerAndFilters {
                server_name: ch.value.server_name.clone(),
            },
        );
    }
    if let Some(fin) = first_mover(t.fin[1]) {
        ev.push(Detail::Close {
            at: fin,
            from: Dir::ToClient,
            how: crate::diagnose::detail::CloseKind::Fin,
        });
        ev.extend(hello_never_whole);
        return Verdict::new(Finding::ServerClosedAfterHello, ev, Fix::ReadServerErrorLog);
    }
    let waited_until = client_closed.map_or_else(|| cx.capture_end(), |c| c.ts);
    let waited = waited_until.secs_since(ch.at.ts);
    // A client that hangs up after a second or more of silence gave up waiting; the end
    // of the capture must outlast the timeout.
    let timed_out = match client_closed {
        Some(_) => waited >= crate::flow::CLIENT_GAVE_UP_WAITING_SECS,
        None => waited >= cx.settings.response_timeout,
    };
    if timed_out {
        ev.push(Detail::Silence {
            from: Dir::ToServer,
            secs: waited,
            until_capture_end: client_closed.is_none(),
        });
        // The server waited for bytes the path did not deliver, not for nothing.
        let fix = if hello_never_whole.is_some() {
            Fix::CheckPathForLargeHello
        } else {
            Fix::CheckHungServer
        };
        ev.extend(hello_never_whole);
        ev.extend(cx.close_detail(Dir::ToServer));
        return Verdict::new(Finding::NoResponse, ev, fix);
    }
    if let Some(close) = cx.close_detail(Dir::ToServer) {
        ev.push(close);
        return Verdict::new(
            Finding::ClientGaveUp { waited },
            ev,
            Fix::CheckClientTimeout,
        );
    }
    super::capture::incomplete(cx, ch, Unfinished::BeforeServerAnswer { secs: waited })
}

/// A side closed in the middle of the handshake without an alert; `None` while
/// neither did.
pub(super) fn closed_mid_handshake(cx: &Ctx<'_>, ch: &Seen<ClientHelloFacts>) -> Option<Verdict> {
    let t = &cx.conn.tcp;
    let mut ev = vec![cx.client_hello_detail(ch)];
    if let Some(sh) = &cx.facts.server_hello {
        ev.push(Detail::ServerHello {
            at: sh.at,
            version: sh.value.version,
            cipher_suite: sh.value.cipher_suite,
        });
    }
    match (cx.client_left(), cx.server_left()) {
        (Some(c), s) if s.is_none_or(|s| c <= s) => {
            if super::version::server_picked_refused_version(cx, ch) {
                // A modern client that hangs up on an old version it still lists.
                ev.extend(cx.close_detail(Dir::ToServer));
                return Some(super::version::version_mismatch(cx, ch, ev, Dir::ToServer));
            }
            // (A client that sent its Finished had accepted the certificate.)
            if cx.facts.finished[0].is_none()
                && super::cert::certificate_visibly_wrong(cx, ch, false)
            {
                // A client that hangs up on a certificate it cannot accept.
                ev.push(Detail::SilentAfterCertificate);
                return Some(super::cert::certificate_rejection(cx, ch, ev, None));
            }
            // Asked for its certificate, the client left without sending one.
            if cx.left_when_asked_for_its_certificate(c) && cx.facts.finished[0].is_none() {
                ev.extend(cx.close_detail(Dir::ToServer));
                return Some(super::negotiation::client_cert_required(cx, ev));
            }
            ev.extend(cx.close_detail(Dir::ToServer));
            Some(Verdict::new(
                Finding::ClientAbortedMidHandshake,
                ev,
                Fix::ReadClientLogAbort,
            ))
        }
        (_, Some(_)) => {
            if cx.facts.certificate_request.is_some() {
                // The server hung up after asking for a client certificate.
                ev.extend(cx.close_detail(Dir::ToClient));
                return Some(super::negotiation::client_certificate_refused(cx, ev, None));
            }
            let reset = t.rst[1].is_some();
            ev.extend(cx.close_detail(Dir::ToClient));
            Some(Verdict::new(
                Finding::ServerDroppedMidHandshake { reset },
                ev,
                Fix::ReadServerLogDrop,
            ))
        }
        _ => None,
    }
}
