//! The evidence in words: one line per [`Detail`], packets cited by frame, time since
//! the connection's start and direction.

use std::fmt::Write;

use super::{suite_list, version_list, Context};
use crate::diagnose::detail::{CloseKind, Detail, PlaintextRole};
use crate::diagnose::verdict::Finding;
use crate::diagnose::Verdict;
use crate::flow::{At, Dir};
use crate::tls::cert::format_unix;
use crate::tls::wire::{CipherSuite, ProtocolVersion};

/// The verdict's evidence, one line per detail, in the verdict's order; a completed
/// handshake's from the facts its finding cites.
pub fn evidence(v: &Verdict, cx: &Context) -> Vec<String> {
    if let Finding::Completed {
        version,
        cipher_suite,
        client_hello,
        server_hello,
        client_records,
        server_records,
    } = &v.finding
    {
        let mut lines = vec![client_hello_line(cx, *client_hello, None)];
        if let Some(at) = server_hello {
            lines.push(cite(
                cx,
                *at,
                Dir::ToClient,
                format_args!(
                    "ServerHello: {}, {}",
                    version.unwrap_or_default(),
                    cipher_suite.map(CipherSuite::name).unwrap_or_default()
                ),
            ));
        }
        lines.push(format!(
            "application data: {client_records} record(s) from the client, {server_records} from the server"
        ));
        return lines;
    }
    v.details.iter().map(|d| detail(d, cx)).collect()
}

/// `ClientHello offering TLS 1.3 (highest), N cipher suites, server_name '…', ALPN …`;
/// the version and count from the detail when given, else from the ClientHello itself.
fn client_hello_line(cx: &Context, at: At, offer: Option<(ProtocolVersion, usize)>) -> String {
    let ch = cx.client_hello;
    let (highest, suites) = offer.unwrap_or_else(|| {
        ch.map_or((ProtocolVersion::default(), 0), |c| {
            (c.highest_version(), c.real_suites().count())
        })
    });
    let mut line = citation(cx, at, Dir::ToServer);
    let _ = write!(
        line,
        "ClientHello offering {highest} (highest), {suites} cipher suites, "
    );
    match ch.and_then(|c| c.server_name.as_deref()) {
        Some(n) => {
            let _ = write!(line, "server_name '{n}'");
        }
        None => line.push_str("no server_name extension"),
    }
    if let Some(c) = ch.filter(|c| !c.alpn.is_empty()) {
        line.push_str(", ALPN ");
        for (i, protocol) in c.alpn.iter().enumerate() {
            if i > 0 {
                line.push_str(", ");
            }
            line.push_str(protocol);
        }
    }
    line
}

/// Cites a packet: `frame 7 (+0.001200 s) server→client: …`.
fn cite(cx: &Context, at: At, from: Dir, what: impl std::fmt::Display) -> String {
    let mut line = citation(cx, at, from);
    let _ = write!(line, "{what}");
    line
}

/// The start of a citation, `frame 7 (+0.001200 s) server→client: `, in a string with
/// room for the rest (every record of JSON Lines words its evidence).
fn citation(cx: &Context, at: At, from: Dir) -> String {
    let arrow = match from {
        Dir::ToServer => "client→server",
        Dir::ToClient => "server→client",
    };
    let mut line = String::with_capacity(192);
    let _ = write!(
        line,
        "frame {} (+{:.6} s) {}: ",
        at.frame,
        at.ts.secs_since(cx.start).max(0.0),
        arrow
    );
    line
}

/// One line of evidence.
pub fn detail(d: &Detail, cx: &Context) -> String {
    match d {
        Detail::Syn { at, count } => {
            if *count > 1 {
                cite(cx, *at, Dir::ToServer, format_args!("SYN, sent {count} time(s)"))
            } else {
                cite(cx, *at, Dir::ToServer, "SYN")
            }
        }
        Detail::SynRefused { at } => cite(cx, *at, Dir::ToClient, "RST (connection refused)"),
        Detail::Silence {
            from,
            secs,
            until_capture_end,
        } => format!(
            "no answer from the {} in the {secs:.1} s that followed{}",
            from.opposite().sender(),
            if *until_capture_end {
                ", until the end of the capture"
            } else {
                ""
            }
        ),
        Detail::CaptureEndsAfter { secs } => format!("capture ends {secs:.3} s later"),
        Detail::OneSided { client_packets } => {
            format!("{client_packets} packets from the client, none from the server")
        }
        Detail::ClientChangeCipherSpecUnanswered { at } => cite(
            cx,
            *at,
            Dir::ToServer,
            "client ChangeCipherSpec: it saw a ServerHello the capture does not hold",
        ),
        Detail::Plaintext {
            at,
            from,
            role,
            protocol,
            first_line,
        } => match role {
            PlaintextRole::InsteadOfClientHello => cite(
                cx,
                *at,
                *from,
                format_args!(
                    "{} instead of a ClientHello: \"{first_line}\"",
                    protocol.describe()
                ),
            ),
            PlaintextRole::ServerAnswer => cite(
                cx,
                *at,
                *from,
                format_args!("server answered \"{first_line}\""),
            ),
            PlaintextRole::ServerSpoke => cite(cx, *at, *from, format_args!("\"{first_line}\"")),
        },
        Detail::MidStream { at } => cite(
            cx,
            *at,
            Dir::ToServer,
            "first packet of the connection is not a SYN, and no ClientHello follows",
        ),
        Detail::Malformed { at, from, what } => cite(cx, *at, *from, what),
        Detail::SegmentMissing { at, from } => cite(
            cx,
            *at,
            *from,
            "a segment before this one is missing from the capture",
        ),
        Detail::StreamLost { at, from, reason } => cite(
            cx,
            *at,
            *from,
            format_args!("{} stream: {reason}", from.sender()),
        ),
        Detail::ClientBytes { at, bytes } => cite(
            cx,
            *at,
            Dir::ToServer,
            format_args!("{bytes} bytes of client data"),
        ),
        Detail::NoTlsData { at } => cite(cx, *at, Dir::ToServer, "connection seen, no TLS data"),
        Detail::ClientHello {
            at,
            highest_version,
            suites,
        } => client_hello_line(cx, *at, Some((*highest_version, *suites))),
        Detail::SuitesOffered {
            classes,
            offered,
            suites,
        } => {
            let shown = suite_list(suites);
            let more = offered.saturating_sub(suites.len());
            format!(
                "the client offered {offered} suites ({}): {shown}{}",
                classes.join("; "),
                if more > 0 {
                    format!(", … {more} more")
                } else {
                    String::new()
                }
            )
        }
        Detail::VersionsOffered {
            versions,
            legacy_only,
        } => {
            if *legacy_only {
                format!(
                    "client offers up to {} (legacy_version, no supported_versions extension)",
                    versions.first().copied().unwrap_or_default()
                )
            } else {
                format!("client offers {}", version_list(versions).join(", "))
            }
        }
        Detail::GroupsOffered {
            groups,
            signature_algorithms,
        } => format!(
            "client's groups: {}; signature algorithms: {signature_algorithms} entries",
            groups
                .iter()
                .map(|g| g.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Detail::ServerHello {
            at,
            version,
            cipher_suite,
        } => cite(
            cx,
            *at,
            Dir::ToClient,
            format_args!("ServerHello: {version}, {cipher_suite}"),
        ),
        Detail::Alert {
            at,
            from,
            level,
            description,
            encrypted,
        } => {
            let what = match (level, description) {
                // Encrypted, and read with keys.
                (Some(l), Some(d)) if *encrypted => format!("{} alert {d} (decrypted)", l.name()),
                (Some(l), Some(d)) => format!("{} alert {d}", l.name()),
                _ => "encrypted alert".to_string(),
            };
            cite(
                cx,
                *at,
                *from,
                format_args!("{what} from the {}", from.sender()),
            )
        }
        Detail::QuicInitial {
            at,
            version,
            datagrams,
        } => cite(
            cx,
            *at,
            Dir::ToServer,
            format_args!(
                "QUIC Initial ({}){}",
                crate::quic::version_name(*version),
                if *datagrams > 1 {
                    format!(", sent in {datagrams} datagrams (retransmitted)")
                } else {
                    String::new()
                }
            ),
        ),
        Detail::QuicVersionNegotiation { at, versions } => cite(
            cx,
            *at,
            Dir::ToClient,
            format_args!(
                "Version Negotiation listing {}",
                crate::quic::version_list(versions, true)
            ),
        ),
        Detail::QuicClose {
            at,
            from,
            frame,
            error_code,
            reason,
        } => cite(
            cx,
            *at,
            *from,
            format_args!(
                "CONNECTION_CLOSE ({}) {}{} from the {}",
                if *frame == 0x1d {
                    "application"
                } else {
                    "transport"
                },
                if *frame == 0x1d {
                    format!("0x{error_code:x}")
                } else {
                    crate::quic::transport_error_name(*error_code)
                },
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(", reason '{reason}'")
                },
                from.sender()
            ),
        ),
        Detail::PortUnreachable { at, count } => cite(
            cx,
            *at,
            Dir::ToClient,
            format_args!("ICMP port unreachable ({count} in all)"),
        ),
        Detail::TcpFallback { at } => cite(
            cx,
            *at,
            Dir::ToServer,
            "TCP SYN to the same server and port: the client falls back to TCP",
        ),
        Detail::QuicClientStoppedInHandshake { at } => cite(
            cx,
            *at,
            Dir::ToServer,
            "the client's last packet: Handshake only, no 1-RTT data after the server's flight",
        ),
        Detail::QuicFirstShortPacket { at } => cite(
            cx,
            *at,
            Dir::ToServer,
            "the client's first 1-RTT packet: the handshake completed on its side",
        ),
        Detail::QuicStatelessReset {
            at,
            len,
            proof,
            client_went_on,
        } => cite(
            cx,
            *at,
            Dir::ToClient,
            format_args!(
                "stateless reset from the server ({len} bytes): {}{}",
                match proof {
                    crate::quic::attempt::ResetProof::Token =>
                        "it ends in the stateless reset token of the server's transport parameters",
                    crate::quic::attempt::ResetProof::UnknownConnectionId if *client_went_on =>
                        "a short-header packet not addressed to the client's connection ID, and the server sent nothing else after it",
                    crate::quic::attempt::ResetProof::UnknownConnectionId =>
                        "a short-header packet not addressed to the client's connection ID, and the client sent nothing after it",
                },
                if *client_went_on {
                    "; the client went on sending (it does not act on stateless resets) until it gave up"
                } else {
                    ""
                }
            ),
        ),
        Detail::Close { at, from, how } => cite(
            cx,
            *at,
            *from,
            format_args!(
                "TCP {} from the {}",
                match how {
                    CloseKind::Fin => "FIN",
                    CloseKind::Rst => "RST",
                },
                from.sender()
            ),
        ),
        Detail::ServerCertificate {
            at,
            chain_length,
            certificates,
        } => {
            let l = Detail::leaf(certificates);
            cite(
                cx,
                *at,
                Dir::ToClient,
                format_args!(
                    "Certificate chain of {chain_length}: leaf subject '{}', issuer '{}', names [{}], valid {} to {}",
                    l.subject,
                    l.issuer,
                    l.names().join(", "),
                    format_unix(l.not_before),
                    format_unix(l.not_after)
                ),
            )
        }
        Detail::LeafOnly => {
            "the server sent only the leaf certificate: no intermediate CA".into()
        }
        Detail::SilentAfterCertificate => "the client sent nothing after the server's certificate and closed without an alert".into(),
        Detail::CertificateRequest {
            at,
            accepted_issuers,
        } => {
            if accepted_issuers.is_empty() {
                cite(cx, *at, Dir::ToClient, "CertificateRequest")
            } else {
                let names: Vec<String> = accepted_issuers.iter().map(|n| format!("'{n}'")).collect();
                cite(
                    cx,
                    *at,
                    Dir::ToClient,
                    format_args!(
                        "CertificateRequest accepting client certificates issued by {}",
                        names.join(", ")
                    ),
                )
            }
        }
        Detail::ClientCertificate {
            at,
            chain_length,
            subject,
            issuer,
        } => match (*chain_length, subject, issuer) {
            (0, _, _) => cite(cx, *at, Dir::ToServer, "Certificate message with no certificates"),
            (n, Some(subject), Some(issuer)) => cite(
                cx,
                *at,
                Dir::ToServer,
                format_args!(
                    "client Certificate with {n} certificate(s), '{subject}' issued by '{issuer}'"
                ),
            ),
            (n, _, _) => cite(
                cx,
                *at,
                Dir::ToServer,
                format_args!("client Certificate with {n} certificate(s)"),
            ),
        },
        Detail::NoClientCertificate => "the client sent no Certificate message".into(),
        Detail::NoClientAcceptedLeaf => "no other client of this server in the capture accepted this certificate (sent data after the handshake)".into(),
        Detail::AlpnOffered { protocols } => {
            format!("the client offered ALPN {}", protocols.join(", "))
        }
        Detail::ProfileSharedSuites { suites } => format!(
            "other connections show the server picks {}, which this client offered too: the cipher suites are not the cause",
            suite_list(suites)
        ),
        Detail::ProfileNoSuites => {
            "no other connection in the capture shows which suites this server accepts".into()
        }
        Detail::ProfileSuitesPicked {
            server_hellos,
            example_client,
            suites,
        } => format!(
            "in {server_hellos} other connection(s) (e.g. from {}) the server picked {} — none of them offered here",
            example_client.map(|c| c.to_string()).unwrap_or_default(),
            suite_list(suites)
        ),
        Detail::ProfileVersions { versions } => format!(
            "other connections show the server negotiating {}",
            version_list(versions).join(", ")
        ),
        Detail::ProfileCertificateNames { names } => format!(
            "other connections show the names on this server's certificate: {}",
            names.join(", ")
        ),
        Detail::ApplicationData {
            client_records,
            server_records,
        } => format!(
            "application data: {client_records} record(s) from the client, {server_records} from the server"
        ),
        Detail::ServerFinished { at } => cite(
            cx,
            *at,
            Dir::ToClient,
            "server Finished: the handshake completed",
        ),
        Detail::ClientFinished { at } => cite(
            cx,
            *at,
            Dir::ToServer,
            "client's encrypted flight (Finished): the handshake completed",
        ),
        Detail::EncryptedAlert {
            at,
            from,
            record_length,
            instead_of_finished,
            no_data_sent,
        } => {
            let mut what = format!("encrypted alert from the {}", from.sender());
            if *record_length > 0 {
                let _ = write!(what, " ({record_length}-byte record)");
            }
            if *instead_of_finished {
                what.push_str(" instead of its Finished");
            }
            if *no_data_sent {
                what.push_str(", and no application data ever sent");
            }
            cite(cx, *at, *from, what)
        }
        Detail::ClientFlight { at, record_lengths } => cite(
            cx,
            *at,
            Dir::ToServer,
            format_args!(
                "client's encrypted flight: records of {} bytes",
                record_lengths
                    .iter()
                    .map(|l| l.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Detail::EmptyCertificateBySize => "the client's first encrypted record is 25 bytes: the size of an empty Certificate message".into(),
        Detail::CertificateBySize => {
            "the client's flight holds a Certificate, a CertificateVerify and its Finished".into()
        }
        Detail::LastMessage { at, from, message } => cite(
            cx,
            *at,
            *from,
            format_args!("last message seen: {message}"),
        ),
        Detail::Limit { limit, decided } => {
            if *decided {
                format!("note: {limit}")
            } else {
                format!("limit: {limit}")
            }
        }
        Detail::ConflictingOverlaps { from, count } => format!(
            "ambiguous capture: {count} overlapping retransmission(s) from the {} carried different bytes; the first copy was used",
            from.sender()
        ),
    }
}
