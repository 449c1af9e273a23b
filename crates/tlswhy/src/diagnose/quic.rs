//! The verdict of a QUIC connection attempt ([`QuicAttempt`]): its outcome as a catalog
//! finding with the packets that show it — the client's Initials, the server's Version
//! Negotiation, a CONNECTION_CLOSE read in the clear with its reason phrase, ICMP port
//! unreachable, the TCP connection the client fell back to — and what to change.

use super::detail::{self, Detail};
use super::verdict::{Finding, Fix, Proof, Unfinished, Verdict};
use crate::flow::{At, Dir};
use crate::quic::attempt::{QuicAttempt, QuicOutcome};
use crate::sanitize::text_from_wire;
use crate::tls::alert::AlertDescription;

/// The verdict of `attempt` to a server on UDP port `port`; `tcp_fallback`: the
/// client's TCP SYN to the same server and port after its first Initial.
pub fn verdict(
    attempt: &QuicAttempt,
    port: u16,
    tcp_fallback: Option<At>,
    tcp_unanswered: Option<(At, u32)>,
) -> Verdict {
    let mut v = verdict_of(attempt, port, tcp_fallback, tcp_unanswered);
    if attempt.handshake_opened.iter().any(|&n| n > 0) {
        v.proof = Proof::Decrypted;
    }
    v
}

fn verdict_of(
    attempt: &QuicAttempt,
    port: u16,
    tcp_fallback: Option<At>,
    tcp_unanswered: Option<(At, u32)>,
) -> Verdict {
    let first = attempt.first.unwrap_or_default();
    let initial = Detail::QuicInitial {
        at: first,
        version: attempt.client_version.unwrap_or_default(),
        datagrams: attempt.client_hello_datagrams.max(1),
        probes: attempt.client_probes,
    };
    let close = attempt.close.as_ref().map(|c| Detail::QuicClose {
        at: c.at,
        from: c.from,
        frame: c.frame,
        error_code: c.error_code,
        reason: text_from_wire(&c.reason),
    });
    let with_close = |mut details: Vec<Detail>| {
        details.extend(close.clone());
        details
    };
    let offered_alpn = || {
        attempt
            .client_hello
            .as_ref()
            .map(|ch| ch.alpn.clone())
            .unwrap_or_default()
    };
    let unanswered_secs = attempt
        .last
        .unwrap_or(first)
        .ts
        .secs_since(first.ts)
        .max(0.0);
    match attempt.outcome() {
        QuicOutcome::Completed => {
            let sh = attempt.server_hello.as_ref();
            Verdict::new(
                Finding::Completed {
                    version: sh.map(|s| s.version),
                    cipher_suite: sh.map(|s| s.cipher_suite),
                    client_hello: attempt.client_hello_at.unwrap_or(first),
                    server_hello: attempt.server_hello_at,
                    client_records: u64::from(attempt.short_packets[0]),
                    server_records: u64::from(attempt.short_packets[1]),
                },
                Vec::new(),
                Fix::Nothing,
            )
        }
        QuicOutcome::AlpnMismatch => Verdict::new(
            Finding::AlpnRefusedByServer {
                offered: offered_alpn(),
            },
            with_close(vec![initial]),
            Fix::EnableCommonAlpn {
                client_offers: offered_alpn(),
                server_selects: Vec::new(),
            },
        ),
        QuicOutcome::NoSharedCipher => {
            let suites: Vec<_> = attempt
                .client_hello
                .as_ref()
                .map(|ch| {
                    ch.cipher_suites
                        .iter()
                        .copied()
                        .filter(|s| s.is_real())
                        .collect()
                })
                .unwrap_or_default();
            let class = crate::tls::suites::classify_offer(&suites);
            Verdict::new(
                Finding::NoSharedCipher {
                    // CONNECTION_CLOSE with the crypto error of handshake_failure.
                    alert: AlertDescription::HANDSHAKE_FAILURE,
                    offered: u16::try_from(suites.len()).unwrap_or(u16::MAX),
                    offer_class: class.first().cloned().unwrap_or_default(),
                    server_picks: None,
                },
                with_close(vec![initial]),
                Fix::EnableCommonSuite {
                    client_offers: suites,
                    server_picks: Vec::new(),
                },
            )
        }
        QuicOutcome::ClientCertRequired => Verdict::new(
            Finding::ClientCertMissing,
            with_close(vec![initial]),
            Fix::ConfigureClientCertificateTls13,
        ),
        QuicOutcome::CertRejected => {
            let alert = attempt
                .close
                .as_ref()
                .and_then(|c| c.tls_alert())
                .map(AlertDescription);
            let mut details = vec![initial];
            if let (Some(chain), Some(at)) = (&attempt.server_certificates, attempt.certificates_at)
            {
                details.push(Detail::ServerCertificate {
                    at,
                    chain_length: chain.len(),
                    certificates: chain.clone(),
                });
            }
            details.extend(close.clone());
            if close.is_none() {
                details.extend(
                    attempt
                        .last_client_handshake
                        .map(|at| Detail::QuicClientStoppedInHandshake { at }),
                );
            }
            certificate_rejection(attempt, alert, details)
        }
        QuicOutcome::VersionMismatch => {
            let listed = attempt.version_negotiation.clone().unwrap_or_default();
            let client = attempt.client_version.unwrap_or_default();
            let mut details = vec![initial];
            details.extend(attempt.version_negotiation_at.map(|at| {
                Detail::QuicVersionNegotiation {
                    at,
                    versions: listed.clone(),
                }
            }));
            Verdict::new(
                Finding::QuicNoCommonVersion {
                    client,
                    server: listed.clone(),
                },
                details,
                Fix::EnableCommonQuicVersion {
                    client,
                    server: listed,
                },
            )
        }
        QuicOutcome::TransportError => {
            let c = attempt.close.as_ref();
            let from = c.map_or(Dir::ToClient, |c| c.from);
            Verdict::new(
                Finding::QuicTransportError {
                    from,
                    error_code: c.map_or(0, |c| c.error_code),
                    reason: c.map(|c| text_from_wire(&c.reason)).unwrap_or_default(),
                },
                with_close(vec![initial]),
                Fix::FixImplementation { sender: from },
            )
        }
        QuicOutcome::StatelessReset => {
            let mut details = vec![initial];
            details.extend(
                attempt
                    .first_client_short
                    .map(|at| Detail::QuicFirstShortPacket { at }),
            );
            let reset = attempt.reset().copied();
            details.extend(reset.map(|r| Detail::QuicStatelessReset {
                at: r.at,
                len: r.len,
                proof: r.proof,
                client_went_on: attempt.client_after_reset,
            }));
            Verdict::new(
                Finding::QuicStatelessReset {
                    len: reset.map_or(0, |r| r.len),
                    proof: reset
                        .map_or(crate::quic::attempt::ResetProof::UnknownConnectionId, |r| {
                            r.proof
                        }),
                },
                details,
                Fix::KeepQuicConnectionState,
            )
        }
        QuicOutcome::ConnectionRefused => {
            let mut details = vec![initial];
            details.extend(
                attempt
                    .first_port_unreachable
                    .map(|at| Detail::PortUnreachable {
                        at,
                        count: attempt.port_unreachable,
                    }),
            );
            Verdict::new(
                Finding::QuicPortUnreachable {
                    answers: attempt.port_unreachable,
                },
                details,
                Fix::ListenOnUdpPort { port },
            )
        }
        QuicOutcome::UdpBlocked => {
            let initials = attempt.client_hello_datagrams;
            // Whether the client fell back to TCP is read from its other connections.
            let mut v = match tcp_fallback {
                Some(tcp) => {
                    let mut details = with_close(vec![initial]);
                    // In time order: a browser racing TCP beside QUIC may connect
                    // before its first Initial, a client falling back after its close.
                    let place = details
                        .iter()
                        .position(|d| d.at().is_some_and(|at| at.ts > tcp.ts))
                        .unwrap_or(details.len());
                    details.insert(place, Detail::TcpFallback { at: tcp });
                    Verdict::new(
                        Finding::QuicFellBackToTcp {
                            initials,
                            secs: unanswered_secs,
                            tcp,
                        },
                        details,
                        Fix::AllowUdp { port },
                    )
                }
                None => {
                    let mut details = with_close(vec![initial]);
                    // The TCP connections it tried instead, none answered, cited in
                    // frame order with the rest.
                    if let Some((at, count)) = tcp_unanswered {
                        details.push(Detail::TcpUnanswered { at, count });
                        detail::order(&mut details);
                    }
                    Verdict::new(
                        Finding::UdpUnanswered {
                            initials,
                            secs: unanswered_secs,
                        },
                        details,
                        Fix::AllowUdp { port },
                    )
                }
            };
            v.reads.profile = true;
            v
        }
        QuicOutcome::ClientCancelled => Verdict::new(
            Finding::QuicClientCancelled {
                secs: unanswered_secs,
            },
            with_close(vec![initial]),
            Fix::CheckClientTimeout,
        ),
        QuicOutcome::Incomplete => Verdict::new(
            Finding::Unfinished {
                why: Unfinished::BeforeCompletion,
            },
            with_close(vec![initial]),
            Fix::CaptureLongerForHandshake,
        ),
    }
}

/// The client rejected the server's certificate: with keys, the certificate and the
/// client's alert say why, in the order the TCP rules use (`rules::cert`): the alert's
/// own complaint (expired, unknown CA), then the name, then a self-signed leaf, then a
/// generic complaint about a leaf that is otherwise fine — its issuer.
fn certificate_rejection(
    attempt: &QuicAttempt,
    alert: Option<AlertDescription>,
    details: Vec<Detail>,
) -> Verdict {
    let leaf = attempt.server_certificates.as_ref().and_then(|c| c.first());
    let said = |d: AlertDescription| alert == Some(d);
    let now = attempt
        .certificates_at
        .or(attempt.first)
        .map_or(0, |at| at.ts.as_unix_secs());
    if let Some((finding, fix)) = super::rules::validity_finding(leaf, now, alert, false) {
        return Verdict::new(finding, details, fix);
    }
    let sni = attempt
        .client_hello
        .as_ref()
        .and_then(|ch| ch.host_name().map(str::to_string));
    let untrusted = |mut details: Vec<Detail>| {
        let chain_len = attempt.server_certificates.as_ref().map_or(0, |c| c.len());
        let (leaf_only, fix) = super::rules::cert::untrusted_chain(chain_len, leaf);
        details.extend(leaf_only);
        Verdict::new(
            Finding::CertIssuerUntrusted {
                issuer: leaf.map(|l| l.issuer.clone()).unwrap_or_default(),
            },
            details,
            fix,
        )
    };
    let name_uncovered = matches!((leaf, &sni), (Some(l), Some(name)) if !l.covers(name));
    if super::rules::cert::is_trust_failure(alert, leaf, name_uncovered) {
        if let Some(l) = leaf.filter(|l| l.self_signed) {
            return Verdict::new(
                Finding::CertSelfSignedUntrusted {
                    subject: l.subject.clone(),
                },
                details,
                Fix::ReplaceSelfSigned,
            );
        }
        return untrusted(details);
    }
    if let (Some(l), Some(name)) = (leaf, &sni) {
        if !l.covers(name) {
            return Verdict::new(
                Finding::CertNameMismatch {
                    names: l.names(),
                    requested: name.clone(),
                    left_later: false,
                },
                details,
                Fix::CoverName { name: name.clone() },
            );
        }
    }
    if let Some(l) = leaf.filter(|l| l.self_signed) {
        return Verdict::new(
            Finding::CertSelfSignedRejected {
                subject: l.subject.clone(),
            },
            details,
            Fix::ReplaceOrTrustSelfSigned,
        );
    }
    let generic =
        said(AlertDescription::BAD_CERTIFICATE) || said(AlertDescription::CERTIFICATE_UNKNOWN);
    if generic && leaf.is_some_and(|l| l.parse_error.is_none()) {
        return untrusted(details);
    }
    Verdict::new(
        Finding::CertRejected { alert },
        details,
        Fix::ReadClientError,
    )
}
