//! Negotiation: cipher suites (with what the server picks for other clients), and
//! client certificates. (ALPN and version alerts are routed in `alert`/`version`.)

use super::Ctx;
use crate::diagnose::detail::Detail;
use crate::diagnose::verdict::{Finding, Fix, ServerReaction};
use crate::diagnose::Verdict;
use crate::tls::alert::AlertDescription as AD;
use crate::tls::facts::Seen;
use crate::tls::hello::ClientHelloFacts;
use crate::tls::suites::classify_offer;
use crate::tls::wire::{CipherSuite, NamedGroup, ProtocolVersion};

/// How many of the client's suites the evidence lists.
const SUITES_SHOWN: usize = 12;
/// How many the fix suggests.
const SUITES_SUGGESTED: usize = 3;

/// handshake_failure (or insufficient_security, `alert`) right after the ClientHello: no
/// shared cipher suite — unless the server's profile shows it picks a suite offered
/// here, or the name is the problem.
pub(super) fn handshake_failure_after_hello(
    cx: &Ctx<'_>,
    ch: &Seen<ClientHelloFacts>,
    mut evidence: Vec<Detail>,
    alert: AD,
) -> Verdict {
    let c = &ch.value;
    let offered: Vec<CipherSuite> = c.real_suites().collect();
    let picked: Vec<CipherSuite> = cx
        .profile()
        .map(|p| p.suites_picked.keys().map(|&s| CipherSuite(s)).collect())
        .unwrap_or_default();
    let overlap = picked.iter().any(|s| offered.contains(s));
    // Versions come before suites: a server seen picking only versions below this
    // client's lowest refused it for that (what it picks for others shows no more than
    // a maximum, and only when it is below what they offered).
    // (For a TLS 1.3-only hello, only once a client that offered TLS 1.3 was seen
    // getting an older version: scanners' TLS 1.2 probes may be all a server was seen
    // answering.)
    let lowest = c.lowest_version().rank();
    let versions = cx.profile().map(|p| &p.versions_picked);
    let declines_tls13 = cx.profile().is_some_and(|p| p.declined_tls13);
    if versions
        .is_some_and(|v| !v.is_empty() && v.keys().all(|&v| ProtocolVersion(v).rank() < lowest))
        && (lowest < ProtocolVersion::TLS1_3.rank() || declines_tls13)
    {
        return super::version::version_mismatch(cx, ch, evidence, crate::flow::Dir::ToClient);
    }
    // Nor was it the suites for a hello of SSL 3.0 at most, which current servers refuse
    // whatever it offers, when the server is seen picking only later versions. (A TLS
    // 1.0 or 1.1 hello refused with handshake_failure is about its suites: a server
    // that will not speak its version says protocol_version.)
    let highest = c.highest_version();
    if highest.rank() <= ProtocolVersion::SSL3.rank()
        && versions.is_some_and(|v| {
            !v.is_empty()
                && v.keys()
                    .all(|&v| ProtocolVersion(v).rank() > highest.rank())
        })
    {
        return super::version::version_mismatch(cx, ch, evidence, crate::flow::Dir::ToClient);
    }
    // SNI problems come before cipher ones.
    let failed = ServerReaction::FailedWith(alert);
    // An IP literal the server's certificate covers is no reason to refuse.
    let ip_literal = c
        .server_name_ip()
        .is_some_and(|ip| !super::sni::ip_literal_covered(cx, ip));
    // A server seen sending its certificate to other clients that asked for no name
    // does not need one: a name-less hello it refuses is refused for what it offers
    // (scanners' hellos of only binary curves, or only ECDSA signatures for an RSA
    // key).
    let serves_nameless = c.server_name.is_none()
        && cx
            .profile()
            .is_some_and(|p| !p.names_without_host_name.is_empty());
    if (c.server_name.is_none() && !serves_nameless) || ip_literal {
        let names_known = cx
            .profile()
            .is_some_and(|p| !p.certificate_names.is_empty());
        // Nor for what it offers when that is what every server takes (CloudFront
        // refuses name-less hellos so).
        if overlap || picked.is_empty() && (names_known || offer_every_server_takes(c)) {
            return super::sni::sni_failure(cx, ch, evidence, failed);
        }
        if ip_literal && picked.is_empty() {
            return super::sni::sni_failure(cx, ch, evidence, failed);
        }
    }
    // The offer itself may show the suites are not the cause: groups none of which every
    // server takes; or, with nothing known of the server, only TLS 1.3 with the suites
    // and groups every TLS 1.3 server takes — then the version: a TLS 1.2 server finds
    // no suite it knows. (A TLS 1.2 offer, however broad, may still miss an old
    // server's suites: RSA key exchange only.)
    if let Some(groups) = groups_no_server_takes(c) {
        evidence.push(Detail::GroupsOffered {
            groups: c.supported_groups.clone(),
            signature_algorithms: c.signature_algorithms.len(),
        });
        return Verdict::new(
            Finding::NoSharedGroup {
                groups: groups.clone(),
            },
            evidence,
            Fix::EnableCommonGroup {
                // Never the obsolete ones (binary curves, primes under 256 bits) nor the
                // arbitrary-curve codepoints.
                client_offers: groups
                    .into_iter()
                    .filter(|g| (0x0017..0xff00).contains(&g.0))
                    .collect(),
            },
        );
    }
    if picked.is_empty() && offers_only_tls13(c) && offer_every_server_takes(c) {
        evidence.push(Detail::SuitesOffered {
            classes: classify_offer(&c.cipher_suites),
            offered: offered.len(),
            suites: offered.iter().take(SUITES_SHOWN).copied().collect(),
        });
        let mut v = super::version::version_mismatch(cx, ch, evidence, crate::flow::Dir::ToClient);
        v.finding = Finding::Tls13OnlyRefusedWithHandshakeFailure;
        return v;
    }
    if overlap {
        evidence.push(Detail::ProfileSharedSuites {
            suites: picked
                .iter()
                .filter(|s| offered.contains(s))
                .copied()
                .collect(),
        });
        evidence.push(Detail::GroupsOffered {
            groups: c.supported_groups.clone(),
            signature_algorithms: c.signature_algorithms.len(),
        });
        return Verdict::new(
            Finding::FailureDespiteSharedSuites,
            evidence,
            Fix::CompareGroupsAndSignatures,
        );
    }
    let classes = classify_offer(&c.cipher_suites);
    evidence.push(Detail::SuitesOffered {
        classes: classes.clone(),
        offered: offered.len(),
        suites: offered.iter().take(SUITES_SHOWN).copied().collect(),
    });
    let server_picks = if picked.is_empty() {
        evidence.push(Detail::ProfileNoSuites);
        None
    } else {
        let p = cx.profile().expect("picked comes from the profile");
        evidence.push(Detail::ProfileSuitesPicked {
            server_hellos: p.server_hellos,
            example_client: p.example_client.map(|(_, c)| c),
            suites: picked.clone(),
        });
        let server_class = classify_offer(&picked).first().cloned().unwrap_or_default();
        Some((picked.clone(), server_class))
    };
    Verdict::new(
        Finding::NoSharedCipher {
            alert,
            offered: u16::try_from(offered.len()).unwrap_or(u16::MAX),
            offer_class: classes.first().cloned().unwrap_or_default(),
            server_picks,
        },
        evidence,
        common_suite_fix(&offered, &picked),
    )
}

/// Key-exchange groups every TLS server enables by default: secp256r1 (mandatory in TLS
/// 1.3, RFC 8446 §9.1) and x25519. A hybrid (X25519MLKEM768) is taken only by servers
/// that also take x25519.
const GROUPS_EVERY_SERVER_TAKES: [u16; 2] = [0x0017, 0x001d];
/// TLS 1.3 suites every TLS 1.3 server enables by default.
const TLS13_SUITES_EVERY_SERVER_TAKES: [u16; 2] = [0x1301, 0x1302];
/// TLS 1.2 suites every current server takes: ECDHE with AES-GCM, for an RSA key and for
/// an ECDSA key.
const TLS12_RSA_SUITES: [u16; 2] = [0xc02f, 0xc030];
const TLS12_ECDSA_SUITES: [u16; 2] = [0xc02b, 0xc02c];

/// The groups of a hello that needs one — it offers TLS 1.3, or only ECDHE suites —
/// when none of them is one every server takes; `None` otherwise.
fn groups_no_server_takes(c: &ClientHelloFacts) -> Option<Vec<NamedGroup>> {
    let groups: Vec<NamedGroup> = c
        .supported_groups
        .iter()
        .copied()
        .filter(|g| !crate::tls::suites::is_grease(g.0))
        .collect();
    if groups.is_empty()
        || groups
            .iter()
            .any(|g| GROUPS_EVERY_SERVER_TAKES.contains(&g.0))
    {
        return None;
    }
    let tls13 = c.highest_version().rank() >= ProtocolVersion::TLS1_3.rank()
        && c.real_suites()
            .any(|s| TLS13_SUITES_EVERY_SERVER_TAKES.contains(&s.0));
    let only_ecdhe = c.real_suites().all(|s| s.name().starts_with("TLS_ECDHE_"));
    (tls13 || only_ecdhe).then_some(groups)
}

/// The hello offers TLS 1.3 and nothing older.
fn offers_only_tls13(c: &ClientHelloFacts) -> bool {
    let tls13 = ProtocolVersion::TLS1_3.rank();
    let mut versions = c
        .supported_versions
        .iter()
        .map(|v| v.rank())
        .filter(|&r| r > 0)
        .peekable();
    versions.peek().is_some() && versions.all(|r| r >= tls13)
}

/// The hello offers, for the versions it speaks, suites and groups nearly every server
/// of those versions takes: only TLS 1.3 with its common suites, or TLS 1.2 at most with
/// ECDHE AES-GCM for both RSA and ECDSA keys — and a group every server takes.
fn offer_every_server_takes(c: &ClientHelloFacts) -> bool {
    let offers = |list: &[u16]| c.real_suites().any(|s| list.contains(&s.0));
    let common_group = c
        .supported_groups
        .iter()
        .any(|g| GROUPS_EVERY_SERVER_TAKES.contains(&g.0));
    if offers_only_tls13(c) {
        return common_group && offers(&TLS13_SUITES_EVERY_SERVER_TAKES);
    }
    c.highest_version().rank() == ProtocolVersion::TLS1_2.rank()
        && common_group
        && offers(&TLS12_RSA_SUITES)
        && offers(&TLS12_ECDSA_SUITES)
}

/// The server asked for a client certificate, then refused the handshake (`alert`, or
/// a close): the client sent none or an empty one — or one the server rejected.
pub(super) fn client_certificate_refused(
    cx: &Ctx<'_>,
    evidence: Vec<Detail>,
    alert: Option<AD>,
) -> Verdict {
    let sent = cx
        .facts
        .client_certificate
        .as_ref()
        .map_or(0, |cc| cc.value.chain_length);
    if sent == 0 {
        return client_cert_required(cx, evidence);
    }
    client_cert_rejected(cx, evidence, alert.unwrap_or(AD::HANDSHAKE_FAILURE))
}

/// The server asked for a client certificate and got none (or an empty one).
pub(super) fn client_cert_required(cx: &Ctx<'_>, mut evidence: Vec<Detail>) -> Verdict {
    let f = cx.facts;
    if let Some(at) = f.certificate_request {
        evidence.insert(
            1,
            Detail::CertificateRequest {
                at,
                accepted_issuers: f.accepted_issuers.to_vec(),
            },
        );
    }
    match &f.client_certificate {
        Some(cc) => evidence.push(Detail::ClientCertificate {
            at: cc.at,
            chain_length: 0,
            subject: None,
            issuer: None,
        }),
        None => evidence.push(Detail::NoClientCertificate),
    }
    Verdict::new(
        Finding::ClientCertMissing,
        evidence,
        Fix::ConfigureClientCertificate,
    )
}

/// The server rejected the client's certificate.
pub(super) fn client_cert_rejected(cx: &Ctx<'_>, mut evidence: Vec<Detail>, desc: AD) -> Verdict {
    let f = cx.facts;
    if let Some(cc) = &f.client_certificate {
        evidence.insert(
            1,
            Detail::ClientCertificate {
                at: cc.at,
                chain_length: cc.value.chain_length,
                subject: cc.value.subject.clone(),
                issuer: cc.value.issuer.clone(),
            },
        );
    }
    // The issuers the server said it accepts, beside the one the client's came from.
    if let (Some(at), false) = (f.certificate_request, f.accepted_issuers.is_empty()) {
        evidence.insert(
            1,
            Detail::CertificateRequest {
                at,
                accepted_issuers: f.accepted_issuers.to_vec(),
            },
        );
    }
    Verdict::new(
        Finding::ClientCertRejected { alert: desc },
        evidence,
        Fix::UseTrustedClientCertificate,
    )
}

/// Enable a common suite — never an insecure one. When one side offers only insecure
/// suites, that side is to be upgraded.
fn common_suite_fix(offered: &[CipherSuite], picked: &[CipherSuite]) -> Fix {
    // Unknown values (private or long retired, as SSL 3.0's FORTEZZA) are not
    // suggested either.
    let secure = |list: &[CipherSuite]| -> Vec<CipherSuite> {
        list.iter()
            .copied()
            .filter(|s| !s.is_insecure() && crate::tls::suites::registry_entry(s.0).is_some())
            .collect()
    };
    let (client_secure, server_secure) = (secure(offered), secure(picked));
    if client_secure.is_empty() && !offered.is_empty() {
        return Fix::UpgradeInsecureSuites {
            client: true,
            insecure: offered.iter().take(SUITES_SHOWN).copied().collect(),
        };
    }
    if server_secure.is_empty() && !picked.is_empty() {
        return Fix::UpgradeInsecureSuites {
            client: false,
            insecure: picked.to_vec(),
        };
    }
    // Suggested: the suites worth enabling (forward-secret, registered, not for DSA
    // certificates) when there are any, else the secure ones.
    let suggest = |secure: Vec<CipherSuite>| -> Vec<CipherSuite> {
        let best: Vec<CipherSuite> = secure
            .iter()
            .copied()
            .filter(|s| s.is_recommendable())
            .collect();
        if best.is_empty() {
            secure
        } else {
            best
        }
    };
    // A server without a suite in common takes no TLS 1.3 (every TLS 1.3 server takes
    // TLS_AES_128_GCM_SHA256), and a cipher list does not enable TLS 1.3 suites: the
    // client's TLS 1.2 suites are the ones to suggest, when it offers any.
    let mut client_offers = suggest(client_secure);
    let tls13 = |s: &CipherSuite| crate::tls::suites::is_tls13_suite(s.0);
    if client_offers.iter().any(|s| !tls13(s)) {
        client_offers.retain(|s| !tls13(s));
    }
    Fix::EnableCommonSuite {
        client_offers: client_offers.into_iter().take(SUITES_SUGGESTED).collect(),
        server_picks: suggest(server_secure),
    }
}

/// Enable a common application protocol: the client's list and, when other connections
/// show it, what the server selects.
pub(super) fn common_alpn_fix(cx: &Ctx<'_>, c: &ClientHelloFacts) -> Fix {
    Fix::EnableCommonAlpn {
        client_offers: c.alpn.clone(),
        server_selects: cx
            .profile()
            .map(|p| p.alpn_selected.iter().cloned().collect())
            .unwrap_or_default(),
    }
}
