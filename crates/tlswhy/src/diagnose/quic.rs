//! The verdict of a QUIC connection attempt ([`QuicAttempt`]): its outcome as a catalog
//! finding with the packets that show it — the client's Initials, the server's Version
//! Negotiation, a CONNECTION_CLOSE read in the clear with its reason phrase, ICMP port
//! unreachable, the TCP connection the client fell back to — and what to change.

use super::detail::Detail;
use super::verdict::{Finding, Fix, Unfinished, Verdict};
use crate::flow::{At, Dir};
use crate::quic::attempt::{QuicAttempt, QuicOutcome};
use crate::sanitize::text_from_wire;
use crate::tls::alert::AlertDescription;

/// The verdict of `attempt` to a server on UDP port `port`; `tcp_fallback`: the
/// client's TCP SYN to the same server and port after its first Initial.
pub fn verdict(attempt: &QuicAttempt, port: u16, tcp_fallback: Option<At>) -> Verdict {
    let first = attempt.first.unwrap_or_default();
    let initial = Detail::QuicInitial {
        at: first,
        version: attempt.client_version.unwrap_or_default(),
        datagrams: attempt.client_initials,
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
                    offered: suites.len(),
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
            let mut details = with_close(vec![initial]);
            if close.is_none() {
                details.extend(
                    attempt
                        .last_client_handshake
                        .map(|at| Detail::QuicClientStoppedInHandshake { at }),
                );
            }
            Verdict::new(
                Finding::CertRejected { alert },
                details,
                Fix::ReadClientError,
            )
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
            let initials = attempt.client_initials;
            // Whether the client fell back to TCP is read from its other connections.
            let mut v = match tcp_fallback {
                Some(tcp) => {
                    let mut details = with_close(vec![initial]);
                    details.push(Detail::TcpFallback { at: tcp });
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
                None => Verdict::new(
                    Finding::UdpUnanswered {
                        initials,
                        secs: unanswered_secs,
                    },
                    with_close(vec![initial]),
                    Fix::AllowUdp { port },
                ),
            };
            v.reads.profile = true;
            v
        }
        QuicOutcome::Incomplete => Verdict::new(
            Finding::Unfinished {
                why: Unfinished::BeforeCompletion,
            },
            with_close(vec![initial]),
            Fix::CaptureLongerForHandshake,
        ),
    }
}
