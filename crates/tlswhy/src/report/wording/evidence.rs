//! The evidence in words: one line per [`Detail`], packets cited by frame, time since
//! the connection's start and direction. Lines are written into a buffer the caller
//! gives ([`evidence_lines`]): JSON Lines word the evidence of every failure, and take
//! each line from the buffer without a string made for it.

use std::fmt::{self, Write};

use super::{push_joined, push_suite_list, Context};
use crate::capture::Timestamp;
use crate::diagnose::detail::{CloseKind, Detail, PlaintextRole};
use crate::diagnose::verdict::Finding;
use crate::diagnose::Verdict;
use crate::flow::{At, Dir};
use crate::quic::table::TcpFallback;
use crate::report::endpoint::Endpoint;
use crate::tls::cert::write_unix;
use crate::tls::wire::{CipherSuite, ProtocolVersion};

/// The verdict's evidence, one line per detail, in the verdict's order; a completed
/// handshake's from the facts its finding cites.
pub fn evidence(v: &Verdict, cx: &Context) -> Vec<String> {
    let mut lines = Vec::new();
    evidence_lines(v, cx, &mut String::new(), |line| {
        lines.push(std::mem::take(line))
    });
    lines
}

/// The lines [`evidence`] makes, each written into `line` (emptied first) and handed to
/// `take`, which may keep it or leave it for the next.
pub fn evidence_lines(
    v: &Verdict,
    cx: &Context,
    line: &mut String,
    mut take: impl FnMut(&mut String),
) {
    let mut each = |write: &mut dyn FnMut(&mut String) -> fmt::Result| {
        line.clear();
        // Writing into a string does not fail.
        let _ = write(line);
        take(line);
    };
    if let Finding::Completed {
        version,
        cipher_suite,
        client_hello,
        server_hello,
        client_records,
        server_records,
    } = &v.finding
    {
        each(&mut |out| client_hello_line(out, cx, *client_hello, None));
        if let Some(at) = server_hello {
            each(&mut |out| {
                cite(
                    out,
                    cx,
                    *at,
                    Dir::ToClient,
                    format_args!(
                        "ServerHello: {}, {}",
                        version.unwrap_or_default(),
                        cipher_suite.map(CipherSuite::name).unwrap_or_default()
                    ),
                )
            });
        }
        let application_data = Detail::ApplicationData {
            client_records: *client_records,
            server_records: *server_records,
        };
        each(&mut |out| detail_into(out, &application_data, cx));
        return;
    }
    for d in &v.details {
        each(&mut |out| detail_into(out, d, cx));
    }
}

/// `ClientHello offering TLS 1.3 (highest), N cipher suites, server_name '…', ALPN …`;
/// the version and count from the detail when given, else from the ClientHello itself.
fn client_hello_line(
    out: &mut String,
    cx: &Context,
    at: At,
    offer: Option<(ProtocolVersion, usize)>,
) -> fmt::Result {
    let ch = cx.client_hello;
    let (highest, suites) = offer.unwrap_or_else(|| {
        ch.map_or((ProtocolVersion::default(), 0), |c| {
            (c.highest_version(), c.real_suites().count())
        })
    });
    citation(out, cx, at, Dir::ToServer);
    out.push_str("ClientHello offering ");
    out.push_str(&highest.name());
    out.push_str(" (highest), ");
    push_number(out, suites);
    out.push_str(" cipher suites, ");
    match ch.and_then(|c| c.server_name.as_deref()) {
        Some(n) => {
            out.push_str("server_name '");
            out.push_str(n);
            out.push('\'');
        }
        None => out.push_str("no server_name extension"),
    }
    if let Some(c) = ch.filter(|c| !c.alpn.is_empty()) {
        out.push_str(", ALPN ");
        push_joined(out, c.alpn.iter(), ", ");
    }
    Ok(())
}

/// Cites a packet: `frame 7 (+0.001200 s) server→client: …`.
fn cite(out: &mut String, cx: &Context, at: At, from: Dir, what: impl fmt::Display) -> fmt::Result {
    citation(out, cx, at, from);
    write!(out, "{what}")
}

/// The start of a citation, `frame 7 (+0.001200 s) server→client: `, written without
/// the formatting machinery (JSON Lines cite packets in every failure's evidence).
fn citation(out: &mut String, cx: &Context, at: At, from: Dir) {
    let arrow = match from {
        Dir::ToServer => "client→server",
        Dir::ToClient => "server→client",
    };
    frame_and_time(out, cx, at);
    out.push(' ');
    out.push_str(arrow);
    out.push_str(": ");
}

/// `frame 7 (+0.001200 s)`: a packet and its time from the record's start.
fn frame_and_time(out: &mut String, cx: &Context, at: At) {
    out.push_str("frame ");
    push_number(out, at.frame);
    // Before the record's start: a TCP SYN a browser sent just before its QUIC attempt.
    if at.ts < cx.start {
        out.push_str(" (-");
        push_seconds(out, cx.start, at.ts);
    } else {
        out.push_str(" (+");
        push_seconds(out, at.ts, cx.start);
    }
    out.push_str(" s)");
}

/// The time from `start` to `ts` in seconds with six decimals, as `{:.6}` writes the
/// `f64` of it (a time before `start` as zero): from the nanoseconds, rounded to the
/// microsecond, where that is the same number; through `{:.6}` where it may not be
/// (within a nanosecond of a half microsecond, or from 10⁶ s on, where the `f64` is not
/// exact enough).
fn push_seconds(out: &mut String, ts: Timestamp, start: Timestamp) {
    let nanos = ts.0.saturating_sub(start.0).max(0);
    let below_micro = nanos % 1000;
    if nanos >= 1_000_000_000_000_000 || (499..=501).contains(&below_micro) {
        let _ = write!(out, "{:.6}", ts.secs_since(start).max(0.0));
        return;
    }
    let micros = nanos / 1000 + i64::from(below_micro > 500);
    push_number(out, micros / 1_000_000);
    out.push('.');
    let mut fraction = itoa::Buffer::new();
    let fraction = fraction.format(micros % 1_000_000);
    out.extend(std::iter::repeat_n('0', 6 - fraction.len()));
    out.push_str(fraction);
}

/// A number in decimal.
fn push_number(out: &mut String, n: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// One line of evidence.
pub fn detail(d: &Detail, cx: &Context) -> String {
    let mut line = String::new();
    let _ = detail_into(&mut line, d, cx);
    line
}

/// One line of evidence, written at the end of `out`.
fn detail_into(out: &mut String, d: &Detail, cx: &Context) -> fmt::Result {
    match d {
        Detail::Syn { at, count } => {
            if *count > 1 {
                cite(out, cx, *at, Dir::ToServer, format_args!("SYN, sent {count} time(s)"))
            } else {
                cite(out, cx, *at, Dir::ToServer, "SYN")
            }
        }
        Detail::SynRefused { at } => cite(out, cx, *at, Dir::ToClient, "RST (connection refused)"),
        Detail::Silence {
            from,
            secs,
            until_capture_end,
        } => write!(
            out,
            "no answer from the {} in the {secs:.1} s that followed{}",
            from.opposite().sender(),
            if *until_capture_end {
                ", until the end of the capture"
            } else {
                ""
            }
        ),
        Detail::CaptureEndsAfter { secs } => write!(out, "capture ends {secs:.3} s later"),
        Detail::OneSided { client_packets } => {
            write!(out, "{client_packets} packets from the client, none from the server")
        }
        Detail::ClientChangeCipherSpecUnanswered { at } => cite(
            out,
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
                out,
                cx,
                *at,
                *from,
                format_args!(
                    "{} instead of a ClientHello: \"{first_line}\"",
                    protocol.describe()
                ),
            ),
            PlaintextRole::ServerAnswer => cite(
                out,
                cx,
                *at,
                *from,
                format_args!("server answered \"{first_line}\""),
            ),
            PlaintextRole::ServerSpoke => {
                cite(out, cx, *at, *from, format_args!("\"{first_line}\""))
            }
        },
        Detail::MidStream { at } => {
            // The first packet may be either side's (a bare ACK, the server's data):
            // cited without a direction.
            frame_and_time(out, cx, *at);
            out.push_str(": first packet of the connection is not a SYN, and no ClientHello follows");
            Ok(())
        }
        Detail::Malformed { at, from, what } => cite(out, cx, *at, *from, what),
        Detail::SegmentMissing { at, from } => cite(
            out,
            cx,
            *at,
            *from,
            "a segment before this one is missing from the capture",
        ),
        Detail::StreamLost { at, from, reason } => cite(
            out,
            cx,
            *at,
            *from,
            format_args!("{} stream: {reason}", from.sender()),
        ),
        Detail::ClientBytes { at, bytes } => cite(
            out,
            cx,
            *at,
            Dir::ToServer,
            format_args!("{bytes} bytes of client data"),
        ),
        Detail::NoTlsData { at } => {
            cite(out, cx, *at, Dir::ToServer, "connection seen, no TLS data")
        }
        Detail::ClientHello {
            at,
            highest_version,
            suites,
        } => client_hello_line(out, cx, *at, Some((*highest_version, *suites))),
        Detail::SuitesOffered {
            classes,
            offered,
            suites,
        } => {
            out.push_str("the client offered ");
            push_number(out, *offered);
            out.push_str(" suites (");
            push_joined(out, classes.iter().map(|c| &**c), "; ");
            out.push_str("): ");
            push_suite_list(out, suites);
            let more = offered.saturating_sub(suites.len());
            if more > 0 {
                out.push_str(", … ");
                push_number(out, more);
                out.push_str(" more");
            }
            Ok(())
        }
        Detail::VersionsOffered {
            versions,
            legacy_only,
        } => {
            if *legacy_only {
                write!(
                    out,
                    "client offers up to {} (legacy_version, no supported_versions extension)",
                    versions.first().copied().unwrap_or_default()
                )
            } else {
                out.push_str("client offers ");
                push_joined(out, versions.iter().map(|v| v.name()), ", ");
                Ok(())
            }
        }
        Detail::GroupsOffered {
            groups,
            signature_algorithms,
        } => write!(
            out,
            "client's groups: {}; signature algorithms: {signature_algorithms} entries",
            groups
                .iter()
                .map(|g| match g.name() {
                    Some(name) => format!("{name} ({g})"),
                    None => g.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Detail::ServerHello {
            at,
            version,
            cipher_suite,
        } => cite(
            out,
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
            citation(out, cx, *at, *from);
            match (level, description) {
                (Some(l), Some(d)) => {
                    out.push_str(l.name());
                    out.push_str(" alert ");
                    out.push_str(d.name());
                    out.push_str(" (");
                    push_number(out, d.0);
                    out.push(')');
                    if *encrypted {
                        // Encrypted, and read with keys.
                        out.push_str(" (decrypted)");
                    }
                }
                _ => out.push_str("encrypted alert"),
            }
            out.push_str(" from the ");
            out.push_str(from.sender());
            Ok(())
        }
        Detail::QuicInitial {
            at,
            version,
            datagrams,
            probes,
        } => cite(
            out,
            cx,
            *at,
            Dir::ToServer,
            format_args!(
                "QUIC Initial ({}){}{}",
                crate::quic::version_name(*version),
                if *datagrams > 1 {
                    format!(", ClientHello bytes in {datagrams} datagrams")
                } else {
                    String::new()
                },
                if *probes > 0 {
                    format!("; {probes} probe(s) after the first flight, unanswered (retransmissions)")
                } else {
                    String::new()
                }
            ),
        ),
        Detail::QuicVersionNegotiation { at, versions } => cite(
            out,
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
            out,
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
            out,
            cx,
            *at,
            Dir::ToClient,
            format_args!("ICMP port unreachable ({count} in all)"),
        ),
        Detail::TcpFallback { at } => cite(
            out,
            cx,
            *at,
            Dir::ToServer,
            match TcpFallback::of(*at, cx.start) {
                TcpFallback::Raced => "TCP SYN to the same server and port as the attempt starts: the client races TCP beside QUIC",
                TcpFallback::StayedOn => "TCP SYN of a connection to the same server and port that went on after the attempt started: the client stays on TCP",
                TcpFallback::FellBack => "TCP SYN to the same server and port: the client falls back to TCP",
            },
        ),
        Detail::TcpUnanswered { at, count } => cite(
            out,
            cx,
            *at,
            Dir::ToServer,
            format_args!(
                "TCP SYN to the same server and port, never answered ({count} connection(s) in all): TCP is refused or dropped too, the client could not fall back"
            ),
        ),
        Detail::QuicClientStoppedInHandshake { at } => cite(
            out,
            cx,
            *at,
            Dir::ToServer,
            "the client's last packet: Handshake only, no 1-RTT data after the server's flight",
        ),
        Detail::QuicFirstShortPacket { at } => cite(
            out,
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
            out,
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
        Detail::Close { at, from, how } => {
            citation(out, cx, *at, *from);
            out.push_str(match how {
                CloseKind::Fin => "TCP FIN from the ",
                CloseKind::Rst => "TCP RST from the ",
            });
            out.push_str(from.sender());
            Ok(())
        }
        Detail::ServerCertificate {
            at,
            chain_length,
            certificates,
        } => {
            let l = Detail::leaf(certificates);
            citation(out, cx, *at, Dir::ToClient);
            out.push_str("Certificate chain of ");
            push_number(out, *chain_length);
            out.push_str(": leaf subject '");
            out.push_str(&l.subject);
            out.push_str("', issuer '");
            out.push_str(&l.issuer);
            out.push_str("', names [");
            push_joined(out, l.names().iter().map(|n| &**n), ", ");
            out.push_str("], valid ");
            write_unix(out, l.not_before);
            out.push_str(" to ");
            write_unix(out, l.not_after);
            Ok(())
        }
        Detail::LeafOnly { aia_ca_issuers: true } => {
            out.write_str("the server sent only the leaf certificate, no intermediate: complete only when its issuer is a root the client trusts (the leaf names where to fetch its issuer, AIA caIssuers; a few clients do, most do not)")
        }
        Detail::LeafOnly { aia_ca_issuers: false } => {
            out.write_str("the server sent only the leaf certificate, which names no place to fetch its issuer (no AIA caIssuers, which certificates from public CAs carry): its issuer is most likely a private CA signing leaves directly, a root the client must trust")
        }
        Detail::HelloNotAcknowledged { unacknowledged } => write!(
            out,
            "the server never acknowledged the last {unacknowledged} byte(s) of the ClientHello: they did not reach it, the hello was never whole there"
        ),
        Detail::SilentAfterCertificate => out.write_str("the client sent nothing after the server's certificate and closed without an alert"),
        Detail::CertificateRequest {
            at,
            accepted_issuers,
        } => {
            if accepted_issuers.is_empty() {
                cite(out, cx, *at, Dir::ToClient, "CertificateRequest")
            } else {
                let names: Vec<String> = accepted_issuers.iter().map(|n| format!("'{n}'")).collect();
                cite(
                    out,
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
            (0, _, _) => cite(
                out,
                cx,
                *at,
                Dir::ToServer,
                "Certificate message with no certificates",
            ),
            (n, Some(subject), Some(issuer)) => cite(
                out,
                cx,
                *at,
                Dir::ToServer,
                format_args!(
                    "client Certificate with {n} certificate(s), '{subject}' issued by '{issuer}'"
                ),
            ),
            (n, _, _) => cite(
                out,
                cx,
                *at,
                Dir::ToServer,
                format_args!("client Certificate with {n} certificate(s)"),
            ),
        },
        Detail::NoClientCertificate => out.write_str("the client sent no Certificate message"),
        Detail::NoClientAcceptedLeaf => out.write_str("no other client of this server in the capture accepted this certificate (sent data after the handshake)"),
        Detail::AlpnOffered { protocols } => {
            out.push_str("the client offered ALPN ");
            push_joined(out, protocols.iter(), ", ");
            Ok(())
        }
        Detail::ProfileSharedSuites { suites } => {
            out.push_str("other connections show the server picks ");
            push_suite_list(out, suites);
            out.push_str(", which this client offered too: the cipher suites are not the cause");
            Ok(())
        }
        Detail::ProfileNoSuites => {
            out.write_str("no other connection in the capture shows which suites this server accepts")
        }
        Detail::ProfileSuitesPicked {
            server_hellos,
            example_client,
            suites,
        } => {
            out.push_str("in ");
            push_number(out, *server_hellos);
            out.push_str(" other connection(s) (e.g. from ");
            if let Some(client) = example_client {
                out.push_str(Endpoint::of(*client).as_str());
            }
            out.push_str(") the server picked ");
            push_suite_list(out, suites);
            out.push_str(" — none of them offered here");
            Ok(())
        }
        Detail::ProfileVersions { versions } => {
            out.push_str("other connections show the server negotiating ");
            push_joined(out, versions.iter().map(|v| v.name()), ", ");
            Ok(())
        }
        Detail::ProfileCertificateNames { names } => {
            out.push_str("other connections show the names on this server's certificate: ");
            push_joined(out, names.iter().map(|n| &**n), ", ");
            Ok(())
        }
        Detail::ApplicationData {
            client_records,
            server_records,
        } => write!(
            out,
            "application data: {client_records} record(s) from the client, {server_records} from the server"
        ),
        Detail::ServerFinished { at } => cite(
            out,
            cx,
            *at,
            Dir::ToClient,
            "server Finished: the handshake completed",
        ),
        Detail::ClientFinished { at } => cite(
            out,
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
            cite(out, cx, *at, *from, what)
        }
        Detail::ClientFlight { at, record_lengths } => cite(
            out,
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
        Detail::EmptyCertificateBySize => out.write_str("the client's first encrypted record has the size of an empty Certificate message (on its own, or with the Finished)"),
        Detail::CertificateBySize => {
            out.write_str("the client's flight is longer than a Finished by a certificate: it holds a Certificate and a CertificateVerify")
        }
        Detail::LastMessage { at, from, message } => cite(
            out,
            cx,
            *at,
            *from,
            format_args!("last message seen: {message}"),
        ),
        Detail::Limit { limit, decided } => {
            if *decided {
                write!(out, "note: {limit}")
            } else {
                write!(out, "limit: {limit}")
            }
        }
        Detail::ConflictingOverlaps { from, count } => write!(
            out,
            "ambiguous capture: {count} overlapping retransmission(s) from the {} carried different bytes; the first copy was used",
            from.sender()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::push_seconds;
    use crate::capture::Timestamp;

    /// The seconds of a citation are the ones `{:.6}` writes for the `f64` of the time,
    /// near every rounding boundary and at every magnitude.
    #[test]
    fn seconds_are_spelled_as_the_float_formatter_spells_them() {
        let start = 1_735_732_800_123_456_789i64;
        let mut deltas: Vec<i64> = (-3_000..3_000).collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for magnitude in 0..17 {
            let scale = 10i64.pow(magnitude);
            for below in [0, 1, 498, 499, 500, 501, 502, 999] {
                deltas.push(scale / 1000 * 1000 + below);
                deltas.push(scale + below);
            }
            for _ in 0..2_000 {
                // splitmix64
                state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                deltas.push((z ^ (z >> 31)) as i64 % (scale * 10));
            }
        }
        for delta in deltas {
            let (ts, start) = (Timestamp(start + delta), Timestamp(start));
            let mut ours = String::new();
            push_seconds(&mut ours, ts, start);
            let theirs = format!("{:.6}", ts.secs_since(start).max(0.0));
            assert_eq!(ours, theirs, "{delta} ns");
        }
    }
}
