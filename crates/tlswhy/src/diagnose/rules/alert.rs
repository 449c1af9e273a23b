//! Plaintext alerts: which alert decides, and routing it to the family that names its
//! cause (client certificates, SNI, version, ALPN, cipher suites, the server's
//! certificate), else the generic codes (`malformed_handshake`, `fatal_alert`).

use super::Ctx;
use crate::diagnose::detail::Detail;
use crate::diagnose::verdict::{Finding, Fix, ServerReaction};
use crate::diagnose::Verdict;
use crate::flow::{At, Dir};
use crate::tls::alert::{AlertDescription as AD, AlertLevel};
use crate::tls::facts::{AlertFacts, Seen};
use crate::tls::hello::ClientHelloFacts;

/// The alert that decides the verdict: the first fatal one, or a warning
/// unrecognized_name before the handshake completed (servers send it before failing),
/// or a plaintext alert of unknown level before then — never one sent after the peer
/// had closed.
pub(super) fn decisive_alert<'a>(cx: &Ctx<'a>) -> Option<&'a AlertFacts> {
    let completed = cx.handshake_completed_before(At {
        frame: u64::MAX,
        ts: crate::capture::Timestamp(i64::MAX),
    });
    cx.facts
        .alerts
        .iter()
        .filter(|a| !cx.after_peer_closed(a))
        .find(|a| {
            // close_notify and user_canceled close, whatever their level byte says
            // (scanners send them "fatal"): a side that leaves, not a failure.
            a.is_fatal()
                && !a
                    .description
                    .is_some_and(|d| d == AD::CLOSE_NOTIFY || d == AD::USER_CANCELED)
                || (!completed
                    && a.level == Some(AlertLevel::WARNING)
                    && a.description == Some(AD::UNRECOGNIZED_NAME))
        })
        .or_else(|| {
            cx.facts.alerts.iter().find(|a| {
                !completed
                    && !cx.after_peer_closed(a)
                    && !a.is_opaque()
                    && a.level != Some(AlertLevel::WARNING)
                    && a.description
                        .is_some_and(|d| d != AD::CLOSE_NOTIFY && d != AD::USER_CANCELED)
            })
        })
}

/// The verdict of the decisive alert, if there is one.
pub(super) fn decisive_alert_verdict(cx: &Ctx<'_>) -> Option<Verdict> {
    let ch = cx.client_hello()?;
    let alert = decisive_alert(cx)?;
    let desc = alert.description.unwrap_or(AD(0));
    Some(match alert.from {
        Dir::ToClient => server_alert(cx, ch, alert, desc),
        Dir::ToServer => client_alert(cx, ch, alert, desc),
    })
}

fn server_alert(
    cx: &Ctx<'_>,
    ch: &Seen<ClientHelloFacts>,
    alert: &AlertFacts,
    desc: AD,
) -> Verdict {
    let f = cx.facts;
    let before_server_hello = f.server_hello.as_ref().is_none_or(|sh| sh.at > alert.at);
    let base = vec![cx.client_hello_detail(ch), cx.alert_detail(alert)];
    let c = &ch.value;
    // Client certificate problems come after the server's CertificateRequest: any
    // alert then answers the client's Certificate (GnuTLS answers an empty one with
    // decode_error) — once the client could answer: an alert in the request's own
    // flight, or before the client's Certificate, is about something else.
    let answers_client = f.certificate_request.is_some_and(|req| req < alert.at)
        && f.client_certificate
            .as_ref()
            .is_none_or(|cc| cc.at < alert.at);
    if answers_client && !before_server_hello {
        return super::negotiation::client_certificate_refused(cx, base, Some(desc));
    }
    if desc == AD::CERTIFICATE_REQUIRED {
        return super::negotiation::client_cert_required(cx, base);
    }
    match desc {
        AD::UNRECOGNIZED_NAME => {
            super::sni::sni_failure(cx, ch, base, ServerReaction::UnrecognizedName)
        }
        AD::PROTOCOL_VERSION => super::version::version_mismatch(cx, ch, base, Dir::ToClient),
        AD::NO_APPLICATION_PROTOCOL => Verdict::new(
            Finding::AlpnRefusedByServer {
                offered: c.alpn.clone(),
            },
            base,
            super::negotiation::common_alpn_fix(cx, c),
        ),
        AD::DECODE_ERROR | AD::ILLEGAL_PARAMETER
            if before_server_hello || f.malformed.iter().any(|m| m.value.from == Dir::ToServer) =>
        {
            malformed(cx, Dir::ToServer, base, desc)
        }
        AD::HANDSHAKE_FAILURE | AD::INSUFFICIENT_SECURITY if before_server_hello => {
            super::negotiation::handshake_failure_after_hello(cx, ch, base, desc)
        }
        AD::INTERNAL_ERROR
            if before_server_hello && super::sni::no_certificate_for_the_name(cx, c) =>
        {
            super::sni::sni_failure(cx, ch, base, ServerReaction::FailedWith(desc))
        }
        _ if before_server_hello
            && c.server_name_ip()
                .is_some_and(|ip| !super::sni::ip_literal_covered(cx, ip)) =>
        {
            super::sni::sni_failure(cx, ch, base, ServerReaction::FailedWith(desc))
        }
        _ => generic_fatal(cx, base, alert),
    }
}

fn client_alert(
    cx: &Ctx<'_>,
    ch: &Seen<ClientHelloFacts>,
    alert: &AlertFacts,
    desc: AD,
) -> Verdict {
    let base = vec![cx.client_hello_detail(ch), cx.alert_detail(alert)];
    let certificate_before = cx
        .facts
        .server_certificates
        .as_ref()
        .is_some_and(|c| c.at < alert.at);
    if super::version::server_picked_refused_version(cx, ch) {
        // Modern clients refuse old versions their hello still lists, with whatever
        // alert their library sends (curl: internal_error).
        return super::version::version_mismatch(cx, ch, base, Dir::ToServer);
    }
    match desc {
        AD::PROTOCOL_VERSION => super::version::version_mismatch(cx, ch, base, Dir::ToServer),
        AD::DECODE_ERROR | AD::ILLEGAL_PARAMETER => malformed(cx, Dir::ToClient, base, desc),
        AD::NO_APPLICATION_PROTOCOL => {
            Verdict::new(Finding::AlpnRefusedByClient, base, Fix::ConfigureCommonAlpn)
        }
        d if d.is_certificate_complaint() || certificate_before && d != AD::HANDSHAKE_FAILURE => {
            super::cert::certificate_rejection(cx, ch, base, Some(d))
        }
        AD::HANDSHAKE_FAILURE if cx.facts.server_certificates.is_some() => {
            super::cert::certificate_rejection(cx, ch, base, Some(desc))
        }
        _ => generic_fatal(cx, base, alert),
    }
}

/// The peer rejected what `sender` sent as invalid (decode_error, illegal_parameter).
fn malformed(cx: &Ctx<'_>, sender: Dir, mut evidence: Vec<Detail>, desc: AD) -> Verdict {
    evidence.extend(cx.facts.malformed.iter().map(|m| Detail::Malformed {
        at: m.at,
        from: m.value.from,
        what: m.value.what.clone(),
    }));
    Verdict::new(
        Finding::PeerRejectedBytes {
            sender,
            alert: desc,
        },
        evidence,
        Fix::FixImplementation { sender },
    )
}

/// A fatal alert the packets do not narrow further, with the message it followed.
pub(super) fn generic_fatal(
    cx: &Ctx<'_>,
    mut evidence: Vec<Detail>,
    alert: &AlertFacts,
) -> Verdict {
    evidence.extend(cx.closes());
    let after = cx
        .facts
        .events
        .iter()
        .rev()
        .find(|e| e.at < alert.at)
        .map(|e| (e.from, cx.facts.spelled(&e.what)));
    Verdict::new(
        Finding::FatalAlert {
            from: alert.from,
            alert: alert.description,
            after,
        },
        evidence,
        Fix::ReadSenderLog {
            sender: alert.from,
            alert: alert.description,
        },
    )
}
