//! The server's certificate, rejected by the client: expired, self-signed, an untrusted
//! issuer, a name it does not cover — or rejected for a reason the capture does not
//! show.

use super::Ctx;
use crate::diagnose::detail::Detail;
use crate::diagnose::verdict::{Finding, Fix, ServerReaction};
use crate::diagnose::Verdict;
use crate::tls::alert::AlertDescription as AD;
use crate::tls::cert::{dns_name_matches, CertFacts};
use crate::tls::facts::Seen;
use crate::tls::hello::ClientHelloFacts;

/// Cites the server's certificate chain, when one was seen, right after the ClientHello
/// (the first piece of evidence).
fn cite_server_certificate(cx: &Ctx<'_>, evidence: &mut Vec<Detail>) {
    if let Some(chain) = &cx.facts.server_certificates {
        evidence.insert(
            1,
            Detail::ServerCertificate {
                at: chain.at,
                chain_length: chain.value.chain_length,
                certificates: chain.value.certificates.clone(),
            },
        );
    }
}

/// The certificate's dates as the cause of a rejection, checked at `now` (the time the
/// chain was seen): a leaf outside its validity period (unless the client said it does
/// not know the issuer), else the client's own certificate_expired about a leaf whose
/// dates are not seen or are fine then (an intermediate's, or the client's clock).
/// `left_later`: the client completed the handshake and left later, not at once.
pub(crate) fn validity_finding(
    leaf: Option<&CertFacts>,
    now: i64,
    alert: Option<AD>,
    left_later: bool,
) -> Option<(Finding, Fix)> {
    if let Some(l) = leaf.filter(|l| l.expired_at(now) && alert != Some(AD::UNKNOWN_CA)) {
        let not_yet_valid = now < l.not_before;
        let fix = if not_yet_valid {
            Fix::CheckClockNotYetValid
        } else {
            Fix::RenewCertificate
        };
        let finding = Finding::CertOutsideValidity {
            not_before: l.not_before,
            not_after: l.not_after,
            not_yet_valid,
            left_later,
        };
        return Some((finding, fix));
    }
    (alert == Some(AD::CERTIFICATE_EXPIRED)).then_some((
        Finding::CertReportedExpired,
        Fix::RenewCertificateOrCheckClock,
    ))
}

/// The client rejected the server's certificate: the most specific cause the packets
/// support. `desc` is the plaintext alert when there is one.
pub(super) fn certificate_rejection(
    cx: &Ctx<'_>,
    ch: &Seen<ClientHelloFacts>,
    mut evidence: Vec<Detail>,
    desc: Option<AD>,
) -> Verdict {
    let c = &ch.value;
    let leaf = cx.leaf();
    let left_later = left_later(cx);
    cite_server_certificate(cx, &mut evidence);
    evidence.extend(cx.closes());
    let now = cx
        .facts
        .server_certificates
        .as_ref()
        .map(|c| c.at.ts)
        .unwrap_or(cx.conn.first.ts)
        .as_unix_secs();
    // Specific complaints the alert names come first.
    if let Some((finding, fix)) = validity_finding(leaf, now, desc, left_later) {
        return Verdict::new(finding, evidence, fix);
    }
    // A self-signed leaf is the cause of a certificate complaint unless the leaf also
    // fails to cover the name asked for: the name is objective, trust is not, and only
    // unknown_ca names trust outright.
    let name_uncovered = match (leaf, c.host_name()) {
        (Some(l), Some(host)) => !l.covers(host),
        _ => false,
    };
    if is_trust_failure(desc, leaf, name_uncovered) {
        if let Some(l) = leaf.filter(|l| l.self_signed) {
            return Verdict::new(
                Finding::CertSelfSignedUntrusted {
                    subject: l.subject.clone(),
                },
                evidence,
                Fix::ReplaceSelfSigned,
            );
        }
        return issuer_untrusted(cx, leaf, evidence);
    }
    // Name problems: SNI first, then the certificate's names.
    if c.server_name_ip().is_some() {
        return super::sni::sni_failure(
            cx,
            ch,
            evidence,
            ServerReaction::CertificateWithoutAddress,
        );
    }
    let names = cx.certificate_names_for_this_name();
    let Some(sni) = c.server_name.clone() else {
        return super::sni::sni_failure(cx, ch, evidence, ServerReaction::CertificateRejected);
    };
    let covered = match leaf {
        Some(l) => Some(l.covers(&sni)),
        None if !names.is_empty() => Some(names.iter().any(|n| dns_name_matches(n, &sni))),
        None => None,
    };
    if covered == Some(false) {
        // The server said it did not recognise the name (a warning, then its default
        // certificate): the name is not served there, which is more than a mismatch.
        let unrecognized = cx.facts.alerts.iter().find(|a| {
            a.from == crate::flow::Dir::ToClient && a.description == Some(AD::UNRECOGNIZED_NAME)
        });
        if let Some(a) = unrecognized {
            evidence.insert(1, cx.alert_detail(a));
            return super::sni::sni_failure(cx, ch, evidence, ServerReaction::UnrecognizedName);
        }
        return Verdict::new(
            Finding::CertNameMismatch {
                names,
                requested: sni.clone(),
                left_later,
            },
            evidence,
            Fix::CoverName { name: sni },
        );
    }
    if let Some(l) = leaf.filter(|l| l.self_signed) {
        return Verdict::new(
            Finding::CertSelfSignedRejected {
                subject: l.subject.clone(),
            },
            evidence,
            Fix::ReplaceOrTrustSelfSigned,
        );
    }
    // A generic complaint (bad_certificate, certificate_unknown — GnuTLS sends the
    // first for every cause) about a leaf that covers the name and is within its
    // dates, and is not self-signed: what is left is trust in its issuer.
    let generic = desc.is_some_and(|d| d == AD::BAD_CERTIFICATE || d == AD::CERTIFICATE_UNKNOWN);
    if generic && leaf.is_some_and(|l| l.parse_error.is_none()) {
        return issuer_untrusted(cx, leaf, evidence);
    }
    Verdict::new(
        Finding::CertRejected { alert: desc },
        evidence,
        Fix::ReadClientError,
    )
}

/// The client completed the handshake and left later, not at once (its first alert or
/// close after the handshake's last Finished, past the time of a reaction): a client
/// that checks the certificate after the handshake alerts at once (curl, browsers); one
/// that leaves seconds later may have accepted it (Botan's command-line client closes
/// so when its input ends). The verdict stands on the certificate's objective faults;
/// the words say what the client did.
fn left_later(cx: &Ctx<'_>) -> bool {
    let f = cx.facts;
    if !super::handshake_completed(f) {
        return false;
    }
    let done = f.finished[0]
        .max(f.finished[1])
        .max(super::client_finished(f));
    let alerted = f
        .alerts
        .iter()
        .find(|a| a.from == crate::flow::Dir::ToServer)
        .map(|a| a.at);
    match (done, super::earliest(alerted, cx.client_left())) {
        (Some(done), Some(left)) => left > done && !cx.reacts_to(done, left),
        _ => false,
    }
}

/// Whether a client's rejection is about trust: unknown_ca names it outright, and a
/// self-signed leaf is the cause of another certificate complaint unless the leaf also
/// fails to cover the name asked for (the name is objective, trust is not). Shared with
/// the QUIC verdicts (`diagnose::quic`).
pub(in crate::diagnose) fn is_trust_failure(
    alert: Option<AD>,
    leaf: Option<&crate::tls::cert::CertFacts>,
    name_uncovered: bool,
) -> bool {
    alert == Some(AD::UNKNOWN_CA)
        || leaf.is_some_and(|l| l.self_signed)
            && alert.is_some_and(|a| a.is_certificate_complaint())
            && !name_uncovered
}

/// The leaf the server sent cannot satisfy this client: it does not name what the
/// client asked for, or it is outside its validity period. A client that asked for no
/// name is taken to have checked the address it connected to only when it said so at
/// once: `alerted_at_once`, an alert right after the handshake from a client that named
/// an application protocol (curl checks an address after its Finished and sends one;
/// a probe naming none says goodbye the same way). One that just hangs up may never
/// have looked at a name — probes, scanners, RDP and peer-to-peer clients that connect
/// by address — and old clients without SNI close idle connections after a pause.
pub(super) fn certificate_visibly_wrong(
    cx: &Ctx<'_>,
    ch: &Seen<ClientHelloFacts>,
    alerted_at_once: bool,
) -> bool {
    let Some(chain) = &cx.facts.server_certificates else {
        return false;
    };
    let Some(leaf) = chain.value.certificates.first() else {
        return false;
    };
    if leaf.parse_error.is_some() {
        return false;
    }
    // Without a name the client can only have checked the address it connected to.
    let name_wrong = match ch.value.server_name.as_deref() {
        Some(sni) => !leaf.covers(sni),
        None => alerted_at_once && !leaf.covers(&cx.server().ip().to_string()),
    };
    name_wrong || leaf.expired_at(chain.at.ts.as_unix_secs())
}

/// The client hung up on a certificate that is objectively fine (names, dates) and that
/// no other client accepted: the trust in it failed — a self-signed leaf, or an issuer the
/// client does not trust.
pub(super) fn untrusted_leaf(cx: &Ctx<'_>, mut evidence: Vec<Detail>) -> Verdict {
    let Some(chain) = &cx.facts.server_certificates else {
        return Verdict::new(
            Finding::CertRejected { alert: None },
            evidence,
            Fix::ReadClientError,
        );
    };
    let leaf = chain
        .value
        .certificates
        .first()
        .cloned()
        .unwrap_or_default();
    cite_server_certificate(cx, &mut evidence);
    evidence.extend(cx.close_detail(crate::flow::Dir::ToServer));
    if leaf.self_signed {
        return Verdict::new(
            Finding::CertSelfSignedRejected {
                subject: leaf.subject,
            },
            evidence,
            Fix::ReplaceOrTrustSelfSigned,
        );
    }
    issuer_untrusted(cx, Some(&leaf), evidence)
}

/// The client does not trust the leaf's issuer.
fn issuer_untrusted(
    cx: &Ctx<'_>,
    leaf: Option<&crate::tls::cert::CertFacts>,
    mut evidence: Vec<Detail>,
) -> Verdict {
    let chain_len = cx
        .facts
        .server_certificates
        .as_ref()
        .map_or(0, |c| c.value.chain_length);
    let (leaf_only, fix) = untrusted_chain(chain_len, leaf);
    evidence.extend(leaf_only);
    Verdict::new(
        Finding::CertIssuerUntrusted {
            issuer: leaf.map(|l| l.issuer.clone()).unwrap_or_default(),
        },
        evidence,
        fix,
    )
}

/// What a chain the client does not trust adds to the evidence, and the fix, over TCP
/// and QUIC alike. A leaf alone (not self-issued) lacks its intermediates — sending
/// them is the fix — when it names where to fetch its issuer (AIA caIssuers, which
/// certificates from public CAs carry); a leaf without it is most likely signed directly
/// by a private CA, a root with nothing to send: the client must trust it.
pub(crate) fn untrusted_chain(
    chain_len: usize,
    leaf: Option<&crate::tls::cert::CertFacts>,
) -> (Option<Detail>, Fix) {
    match leaf {
        Some(l) if chain_len == 1 && !l.self_issued => (
            Some(Detail::LeafOnly {
                aia_ca_issuers: l.aia_ca_issuers,
            }),
            if l.aia_ca_issuers {
                Fix::SendFullChain
            } else {
                Fix::TrustIssuer
            },
        ),
        _ => (None, Fix::TrustIssuer),
    }
}
