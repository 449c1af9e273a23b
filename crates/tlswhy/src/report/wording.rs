//! The words: a verdict's summary, evidence and fix, rendered from its data (the
//! [`Finding`], the [`Detail`]s, the [`Fix`]) for every output alike. Nothing is
//! escaped here: text from packets arrives as it was sent, and each output escapes it
//! for its medium (terminal, Markdown, XML; JSON by its serializer).

use std::fmt::Write;
use std::net::SocketAddr;

use crate::capture::Timestamp;
use crate::diagnose::detail::{CloseKind, Detail, PlaintextRole};
use crate::diagnose::verdict::{Finding, Fix, ServerReaction, Unfinished};
use crate::diagnose::Verdict;
use crate::flow::{At, Dir};
use crate::record::Handshake;
use crate::tls::alert::AlertDescription;
use crate::tls::cert::format_unix;
use crate::tls::hello::ClientHelloFacts;
use crate::tls::wire::{CipherSuite, ProtocolVersion};

/// What the words need beyond the verdict: the server, and when the connection started
/// (citations give times relative to it).
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub server: SocketAddr,
    pub start: Timestamp,
    /// The ClientHello (its server_name and ALPN list are cited from here).
    pub client_hello: Option<&'a ClientHelloFacts>,
}

impl Context<'_> {
    /// The context of a record's verdict.
    pub fn of(h: &Handshake) -> Context<'_> {
        Context {
            server: h.server,
            start: h.ts,
            client_hello: h.client_hello.as_ref().map(|c| &c.facts),
        }
    }
}

/// A record's verdict in words: what every output shows.
#[derive(Clone, Debug)]
pub struct Worded {
    pub summary: String,
    pub evidence: Vec<String>,
    pub fix: String,
}

impl Worded {
    /// Words `h`'s verdict.
    pub fn of(h: &Handshake) -> Worded {
        let cx = Context::of(h);
        Worded {
            summary: summary(&h.verdict, &cx),
            evidence: evidence(&h.verdict, &cx),
            fix: fix(&h.verdict, &cx),
        }
    }
}

/// The verdict's summary: one sentence a person can act on.
pub fn summary(v: &Verdict, cx: &Context) -> String {
    let server = cx.server;
    let port = server.port();
    match &v.finding {
        Finding::Completed {
            version,
            cipher_suite,
            ..
        } => format!(
            "Handshake completed ({}, {}).",
            version.map_or_else(|| "TLS".into(), |v| v.name()),
            cipher_suite.map(CipherSuite::name).unwrap_or_default()
        ),
        Finding::Refused => format!(
            "Nothing accepts connections on {server}: the server side answered the client's SYN with a reset."
        ),
        Finding::SynUnanswered => {
            format!("The client's connection attempts to {server} were never answered (no SYN-ACK).")
        }
        Finding::CaptureEndsAfterSyn => {
            "The capture ends right after the client's SYN, before the server could answer.".into()
        }
        Finding::OnlyClientSide => "Only the client's side of this connection is in the capture; the server's packets are missing.".into(),
        Finding::PlaintextFromClient { protocol } => format!(
            "The client spoke plain text ({}) to {server}, which expects TLS.",
            protocol.describe()
        ),
        Finding::ServerGreetedInPlaintext { protocol } => format!(
            "The server at {server} does not speak TLS: it greeted the client with {}.",
            protocol.describe()
        ),
        Finding::ServerAnsweredInPlaintext { protocol } => format!(
            "The client started TLS but {server} does not speak TLS on port {port}: it answered with {}.",
            protocol.describe()
        ),
        Finding::CaptureStartsMidConnection => "The capture starts in the middle of this connection: its beginning, with the ClientHello, is not in the capture.".into(),
        Finding::ClientHelloUnparsable => {
            "The client sent TLS records that do not parse as a ClientHello.".into()
        }
        Finding::ClientFirstFlightLost => "Segments of the client's first flight are missing from the capture, so its ClientHello cannot be read.".into(),
        Finding::ClientHelloCut => {
            "The client sent data but the capture ends before a complete ClientHello.".into()
        }
        Finding::ClientLeftBeforeHello => format!(
            "The client opened a connection to {server} and closed it without sending a ClientHello."
        ),
        Finding::ServerLeftBeforeHello => format!(
            "The server at {server} closed the connection before the client sent anything."
        ),
        Finding::NoClientHello => "The connection was open but no ClientHello is in the capture.".into(),
        Finding::HandshakeLost => "Part of the handshake is missing from the capture, so its outcome cannot be told.".into(),
        Finding::Unfinished { why } => format!(
            "The capture does not show how this handshake ended: {}.",
            unfinished(why)
        ),
        Finding::LimitReached => "This connection was closed before its outcome was known: a limit of the analysis was reached.".into(),
        Finding::SniIpLiteral { ip, reaction } => format!(
            "The client put the IP address {ip} in server_name where a host name belongs (RFC 6066 forbids it); the server at {server} {}.",
            reacted(reaction)
        ),
        Finding::SniMissing { reaction } => format!(
            "The client sent no server name (SNI) and the server at {server} {}.",
            reacted(reaction)
        ),
        Finding::SniUnrecognized { name, reaction } => format!(
            "The server at {server} does not serve the name '{name}' the client asked for: it {}.",
            reacted(reaction)
        ),
        Finding::CertOutsideValidity {
            not_before,
            not_after,
        } => format!(
            "The server's certificate is outside its validity period ({} to {}) at the time of the capture; the client rejected it.",
            format_unix(*not_before),
            format_unix(*not_after)
        ),
        Finding::CertReportedExpired => {
            "The client reports the server's certificate as expired (certificate_expired).".into()
        }
        Finding::CertSelfSignedUntrusted { subject } => format!(
            "The server at {server} presents a self-signed certificate ('{subject}'), which the client does not trust."
        ),
        Finding::CertSelfSignedRejected { subject } => format!(
            "The server presents a self-signed certificate ('{subject}'), which the client rejected."
        ),
        Finding::CertIssuerUntrusted { issuer } => format!(
            "The client does not trust the issuer of the server's certificate{}.",
            if issuer.is_empty() {
                String::new()
            } else {
                format!(" ('{issuer}')")
            }
        ),
        Finding::CertNameMismatch { names, requested } => format!(
            "The server's certificate is for [{}], not '{requested}' that the client asked for; the client rejected it.",
            names.join(", ")
        ),
        Finding::CertRejected { alert } => format!(
            "The client rejected the server's certificate{}; the capture does not show why.",
            alert.map(|d| format!(" ({})", d.name())).unwrap_or_default()
        ),
        Finding::NoCommonVersion { client_highest } => format!(
            "The server at {server} accepts no TLS version the client offers (client's highest: {client_highest}); it refused with protocol_version."
        ),
        Finding::VersionRefusedByClient => "The server picked a TLS version the client does not accept; the client refused with protocol_version.".into(),
        Finding::NoSharedCipher {
            offered,
            offer_class,
            server_picks,
        } => match server_picks {
            Some((picked, server_class)) => format!(
                "No cipher suite in common: the client offered {offered} suites, {offer_class}; the server at {server} accepts none of them — for other clients it picked only {} ({server_class}) — and refused this one with handshake_failure.",
                suite_list(picked)
            ),
            None => format!(
                "No cipher suite in common: the server at {server} refused the client's {offered} suites ({offer_class}) with handshake_failure right after the ClientHello."
            ),
        },
        Finding::AlpnRefusedByServer { offered } => format!(
            "The server at {server} supports none of the application protocols the client offered ({}).",
            if offered.is_empty() {
                "none".to_string()
            } else {
                offered.join(", ")
            }
        ),
        Finding::AlpnRefusedEncrypted { offered } => format!(
            "The server at {server} answered the ClientHello with an encrypted alert right after its ServerHello (TLS 1.3); the client offered the application protocols {}, and a server refuses those there when it supports none of them.",
            offered.join(", ")
        ),
        Finding::AlpnRefusedByClient => {
            "The client rejected the server's choice of application protocol.".into()
        }
        Finding::ClientCertMissing => format!(
            "The server at {server} requires a client certificate and the client sent none."
        ),
        Finding::ClientCertEmptyEncrypted => format!(
            "The server at {server} requires a client certificate and the client sent an empty one (TLS 1.3: certificate_required, encrypted)."
        ),
        Finding::ClientCertRejected { alert } => format!(
            "The server at {server} rejected the client's certificate ({}).",
            alert.name()
        ),
        Finding::ClientCertRejectedEncrypted => format!(
            "The server at {server} rejected the client's certificate (TLS 1.3: the alert is encrypted)."
        ),
        Finding::FailureDespiteSharedSuites => format!(
            "The server at {server} rejected the ClientHello with handshake_failure although it shares cipher suites with the client; the mismatch is elsewhere (key-exchange groups, signature algorithms or an extension)."
        ),
        Finding::FatalAlert { from, alert, after } => format!(
            "The {} ended the handshake with {}{}.",
            from.sender(),
            alert_or_encrypted(*alert),
            after
                .as_ref()
                .map(|(d, what)| format!(" after {} {what}", d.sender()))
                .unwrap_or_default()
        ),
        Finding::ServerAlertAfterServerHello => format!(
            "The server at {server} sent an encrypted alert right after its ServerHello (TLS 1.3) and closed; without keys the alert cannot be read."
        ),
        Finding::ServerAlertAfterClientFlight => {
            "The server answered the client's encrypted flight with an encrypted alert and closed.".into()
        }
        Finding::PeerRejectedBytes { sender, alert } => format!(
            "The {} sent handshake bytes its peer could not parse ({}).",
            sender.sender(),
            alert.name()
        ),
        Finding::UnparsableBytes { sender } => format!(
            "The {} sent handshake bytes that do not parse.",
            sender.sender()
        ),
        Finding::ClientAbortedAfterServerFlight => "The client closed the connection after the server's encrypted flight without sending its own (or an alert).".into(),
        Finding::ClientAbortedMidHandshake => "The client closed the connection in the middle of the handshake without sending an alert.".into(),
        Finding::ClientGaveUp { waited } => format!(
            "The client closed the connection {waited:.3} s after its ClientHello, before the server answered, without an alert."
        ),
        Finding::ServerResetAfterHello => format!(
            "The server at {server} (or a middlebox on the path) reset the connection on seeing the ClientHello."
        ),
        Finding::ServerClosedAfterHello => format!(
            "The server at {server} closed the connection after the ClientHello without a word (no ServerHello, no alert)."
        ),
        Finding::ServerDroppedMidHandshake { reset } => format!(
            "The server at {server} {} the connection in the middle of the handshake without an alert.",
            if *reset { "reset" } else { "closed" }
        ),
        Finding::NoResponse => format!(
            "The server at {server} accepted the connection but never answered the ClientHello."
        ),
    }
}

fn unfinished(why: &Unfinished) -> String {
    match why {
        Unfinished::BeforeClientFlight => "the capture ends before the client's encrypted flight".into(),
        Unfinished::NoAnswerToClientData => "the client sent data after its flight, but no answer from the server is in the capture".into(),
        Unfinished::AfterClientFlight => "the capture ends right after the client's encrypted flight, before any application data".into(),
        Unfinished::BeforeServerAnswer { secs } => format!(
            "the capture ends {secs:.3} s after the ClientHello, before the server's answer"
        ),
        Unfinished::BeforeCompletion => "the capture ends before the handshake completed".into(),
    }
}

fn reacted(reaction: &ServerReaction) -> String {
    match reaction {
        ServerReaction::UnrecognizedName => "answered with unrecognized_name".into(),
        ServerReaction::FailedWith(alert) => {
            format!("failed the handshake with {}", alert.name())
        }
        ServerReaction::CertificateWithoutAddress => {
            "presented a certificate that does not name that address, and the client rejected it"
                .into()
        }
        ServerReaction::CertificateRejected => "presented a certificate the client rejected".into(),
    }
}

fn alert_or_encrypted(alert: Option<AlertDescription>) -> String {
    alert.map_or_else(|| "an encrypted alert".into(), |d| d.to_string())
}

fn suite_list(suites: &[CipherSuite]) -> String {
    let mut out = String::new();
    for (i, s) in suites.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&s.name());
    }
    out
}

fn version_list(versions: &[ProtocolVersion]) -> Vec<String> {
    versions.iter().map(|v| v.name().into_owned()).collect()
}

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
            (
                ProtocolVersion(c.highest_version()),
                c.cipher_suites
                    .iter()
                    .filter(|&&s| CipherSuite(s).is_real())
                    .count(),
            )
        })
    });
    let mut what = format!("ClientHello offering {highest} (highest), {suites} cipher suites, ");
    match ch.and_then(|c| c.server_name.as_deref()) {
        Some(n) => {
            let _ = write!(what, "server_name '{n}'");
        }
        None => what.push_str("no server_name extension"),
    }
    if let Some(c) = ch.filter(|c| !c.alpn.is_empty()) {
        let _ = write!(what, ", ALPN {}", c.alpn.join(", "));
    }
    cite(cx, at, Dir::ToServer, what)
}

/// Cites a packet: `frame 7 (+0.001200 s) server→client: …`.
fn cite(cx: &Context, at: At, from: Dir, what: impl std::fmt::Display) -> String {
    let arrow = match from {
        Dir::ToServer => "client→server",
        Dir::ToClient => "server→client",
    };
    format!(
        "frame {} (+{:.6} s) {}: {}",
        at.frame,
        at.ts.secs_since(cx.start).max(0.0),
        arrow,
        what
    )
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
            ..
        } => {
            let what = match (level, description) {
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
        Detail::CertificateRequest { at } => cite(cx, *at, Dir::ToClient, "CertificateRequest"),
        Detail::ClientCertificate { at, chain_length } => {
            if *chain_length == 0 {
                cite(cx, *at, Dir::ToServer, "Certificate message with no certificates")
            } else {
                cite(
                    cx,
                    *at,
                    Dir::ToServer,
                    format_args!("client Certificate with {chain_length} certificate(s)"),
                )
            }
        }
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

fn capitalized(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The verdict's fix: what to change, and on which side.
pub fn fix(v: &Verdict, cx: &Context) -> String {
    let _ = cx;
    match &v.fix {
        Fix::Nothing => "Nothing to change.".into(),
        Fix::ListenOnPort { port } => format!(
            "Server side: start the TLS service on port {port} or point the client at the port it really listens on; check that a firewall is not rejecting the connection."
        ),
        Fix::MakeReachable => "Network path: check that the server is up and reachable and that no firewall silently drops packets to this port.".into(),
        Fix::CaptureLongerAfterSyn => "Capture for longer to see how the connection ends.".into(),
        Fix::CaptureBothDirections => "Capture where both directions pass (both legs of asymmetric routing, or on an endpoint).".into(),
        Fix::ClientUseTls { port } => format!(
            "Client side: use TLS for this port (https:// instead of http://, or enable TLS in the client's configuration), or connect to the server's plain-text port instead of {port}."
        ),
        Fix::CaptureFromStart => "Start the capture before the client connects (or capture on both ends) to see the handshake.".into(),
        Fix::FixClientRecords => "Client side: the TLS implementation (or something rewriting its traffic) is sending invalid records; update or fix it.".into(),
        Fix::CaptureWithoutLossNearEndpoints => "Capture with a larger buffer or snap length, closer to the endpoints, so no segment is lost.".into(),
        Fix::CaptureLongerOrLargerSnap => "Capture for longer, or with a larger snap length.".into(),
        Fix::ClientUseTlsPortOrStarttls => "Client side: connect to the service's TLS port, or use the protocol's plain-text upgrade (STARTTLS) if it has one.".into(),
        Fix::ClientExplainEarlyClose => "Client side: find out why the client gave up before starting TLS (a health check, a port scan, or a client-side error before the handshake).".into(),
        Fix::ServerExplainRefusal => "Server side: check the server's logs; it refuses this client (connection limits, access lists) before TLS starts.".into(),
        Fix::CaptureLongerForHandshake => "Capture for longer to see the handshake.".into(),
        Fix::UseTlsPortOrEnableTls { port } => format!(
            "Client side: connect to the service's TLS port (or use plain text / STARTTLS on port {port}); server side: enable TLS on this port if it is meant to be one."
        ),
        Fix::CaptureWithoutLoss => "Capture again without loss (larger capture buffer, no snap length, capture on an endpoint rather than a busy span port).".into(),
        Fix::ConfigureClientCertificate => "Client side: configure a client certificate and key signed by a CA the server trusts (curl --cert/--key, openssl s_client -cert/-key); or, server side, make client certificates optional (nginx: ssl_verify_client optional).".into(),
        Fix::ConfigureClientCertificateTls13 => "Client side: configure a client certificate and key signed by a CA the server trusts (curl --cert/--key, openssl s_client -cert/-key); or, server side, make client certificates optional.".into(),
        Fix::UseTrustedClientCertificate => "Client side: use a certificate issued by a CA the server trusts (and send the intermediates), valid now; or, server side, add the client certificate's issuer to the trusted client CAs (nginx: ssl_client_certificate).".into(),
        Fix::UseTrustedClientCertificateTls13 => "Client side: use a certificate issued by a CA the server trusts (and send the intermediates); or, server side, trust the client certificate's issuer.".into(),
        Fix::FixImplementation { sender } => format!(
            "{} side: update or fix the TLS implementation (or whatever rewrites its traffic on the way); the peer rejected its messages as invalid.",
            capitalized(sender.sender())
        ),
        Fix::FixImplementationOrMiddlebox { sender } => format!(
            "{} side: fix or update the TLS implementation (or the middlebox rewriting it).",
            capitalized(sender.sender())
        ),
        Fix::ReadSenderLog { sender, alert } => format!(
            "Look at the {} side's log for the reason it sent {}; the packets do not narrow it further.",
            sender.sender(),
            alert_or_encrypted(*alert)
        ),
        Fix::EnableCommonAlpn {
            client_offers,
            server_selects,
        } => {
            let offered = if client_offers.is_empty() {
                "none".to_string()
            } else {
                client_offers.join(", ")
            };
            if server_selects.is_empty() {
                format!(
                    "Enable a common application protocol: configure the server to accept one the client offers ({offered}), or the client to offer one the server supports."
                )
            } else {
                format!(
                    "Enable a common application protocol: the client offers {offered}, and for other clients the server selects {}; add one of those to the client's ALPN list, or configure the server to accept one the client offers.",
                    server_selects.join(", ")
                )
            }
        }
        Fix::ConfigureCommonAlpn => "Configure a common ALPN protocol on both sides.".into(),
        Fix::CompareGroupsAndSignatures => "Compare the client's supported_groups and signature_algorithms with the server's configuration (e.g. nginx ssl_ecdh_curve, OpenSSL -groups/-sigalgs) and the server's error log.".into(),
        Fix::EnableCommonSuite {
            client_offers,
            server_picks,
        } => {
            let example_offered = suite_list(client_offers);
            if server_picks.is_empty() {
                format!(
                    "Enable a common suite: on the server add one of the client's suites (e.g. {example_offered}) to its cipher list (nginx: ssl_ciphers), or widen the client's cipher list."
                )
            } else if client_offers.is_empty() {
                format!(
                    "Enable a common suite: on the client enable one the server picks: {}.",
                    suite_list(server_picks)
                )
            } else {
                format!(
                    "Enable a common suite on one side. Server side (preferred, stronger): add suites this client offers, e.g. {example_offered} (nginx: ssl_ciphers; OpenSSL: -cipher). Client side: enable one the server picks: {}.",
                    suite_list(server_picks)
                )
            }
        }
        Fix::UpgradeInsecureSuites { client, insecure } => {
            let (side, other) = if *client {
                ("Client", "server")
            } else {
                ("Server", "client")
            };
            format!(
                "{side} side: it offers only insecure suites ({}); upgrade its TLS library or configuration to current suites. Do not enable these on the {other}.",
                suite_list(insecure)
            )
        }
        Fix::UpgradeInsecureVersions { client, versions } => {
            let (side, other) = if *client {
                ("Client", "server")
            } else {
                ("Server", "client")
            };
            format!(
                "{side} side: it speaks only {}, which are insecure; upgrade it to TLS 1.2 or later. Do not enable these versions on the {other}.",
                version_list(versions).join("/")
            )
        }
        Fix::ConnectByNameNotAddress {
            suggestion,
            port,
            ip,
        } => {
            let how = match (suggestion, port) {
                (Some(name), Some(port)) => format!(
                    "connect by host name ({name}) so the client sends it as SNI — e.g. curl --resolve {name}:{port}:{ip}, or a hosts entry"
                ),
                (Some(name), None) => format!(
                    "connect by host name ({name}) so the client sends it as SNI — e.g. a hosts entry mapping {name} to {ip}"
                ),
                (None, _) => {
                    "connect by the server's host name instead of its address, so the client sends it as SNI".to_string()
                }
            };
            format!(
                "Client side: {how}; if the connection goes through a relay addressed by IP, have the relay rewrite or set SNI, or give the server a certificate that covers {ip}."
            )
        }
        Fix::SendServerName {
            suggestion,
            port,
            ip,
        } => {
            let by_name = match suggestion {
                Some(name) => format!(
                    "connect by name ({name}) rather than by IP address (e.g. curl --resolve {name}:{port}:{ip})"
                ),
                None => "connect by name rather than by IP address".to_string(),
            };
            format!(
                "Client side: send the server's host name as SNI — {by_name}, or set the name explicitly (openssl s_client -servername); server side: give the default server a certificate for the names clients use."
            )
        }
        Fix::ServeName { name } => format!(
            "Either the client uses the wrong host name (check its URL/configuration against the names the server serves), or the server needs a virtual host for '{name}' (nginx: a server block with server_name {name} and a certificate for it)."
        ),
        Fix::OverlapVersions {
            server_versions,
            client_versions,
        } => {
            let client_side = if server_versions.is_empty() {
                "update the client's TLS library to a version the server accepts".to_string()
            } else {
                format!(
                    "enable {} on the client (or update its TLS library)",
                    version_list(server_versions).join("/")
                )
            };
            let server_side = if client_versions.is_empty() {
                "allow current versions on the server".to_string()
            } else {
                format!(
                    "allow {} on the server",
                    version_list(client_versions).join("/")
                )
            };
            format!(
                "Make the version ranges overlap: {client_side}, or {server_side} (nginx: ssl_protocols; OpenSSL: -tls1_2/-tls1_3, MinProtocol)."
            )
        }
        Fix::RenewCertificate => "Server side: renew the certificate (and check that the server was reloaded); if the dates look right, check the client's clock.".into(),
        Fix::RenewCertificateOrCheckClock => "Server side: renew the certificate; if it is valid, check the client's clock.".into(),
        Fix::ReplaceSelfSigned => "Server side: use a certificate issued by a CA the clients trust; or, client side, add this certificate to the client's trust store if it is meant to be trusted.".into(),
        Fix::ReplaceOrTrustSelfSigned => "Server side: use a certificate issued by a CA the clients trust; or trust this certificate explicitly on the client.".into(),
        Fix::SendFullChain => "Server side: send the full chain (leaf plus intermediates; nginx: ssl_certificate pointing at the full-chain file); client side: trust the issuing CA if it is a private one.".into(),
        Fix::TrustIssuer => "Client side: add the issuing CA to the client's trust store (e.g. curl --cacert, SSL_CERT_FILE); server side: use a certificate from a CA the clients trust, and send its intermediates.".into(),
        Fix::CoverName { name } => format!(
            "Either the client uses the name the certificate is for, or the server presents a certificate that covers '{name}' (add it as a subjectAltName)."
        ),
        Fix::ReadClientError => "Client side: look at the client's error (trust store, name, validity, revocation); the TLS 1.3 certificate is encrypted, so capture with a TLS 1.2 client or a key log (SSLKEYLOGFILE) to see it.".into(),
        Fix::ReadClientLog => "Client side: check the client's log; it gave up on the server's certificate or parameters without saying why.".into(),
        Fix::ReadServerLogTls13 => "Server side: check its log for the alert's reason; in TLS 1.3 this is typically a client certificate that is missing or not accepted.".into(),
        Fix::CheckServerAndFilters { server_name } => format!(
            "Server side / network path: check the server's log and any firewall, IPS or proxy that inspects TLS; a reset right after the ClientHello often means a filter on the server name ({}) or a server that does not support this client's TLS parameters at all.",
            server_name
                .as_deref()
                .map_or_else(|| "no server name".to_string(), |n| format!("'{n}'"))
        ),
        Fix::ReadServerErrorLog => "Server side: check the server's error log; it dropped the handshake without an alert (unsupported client parameters, an overloaded or misconfigured server, or a service that is not TLS).".into(),
        Fix::CheckHungServer => "Server side: the service is hung, overloaded or not a TLS server waiting for the client to speak first; check it and anything in between that could swallow the ClientHello (a proxy, an MTU problem with large ClientHellos).".into(),
        Fix::CheckClientTimeout => "Client side: check the client's timeout and log; it gave up before the server could answer.".into(),
        Fix::ReadClientLogAbort => "Client side: check the client's log; it gave up (a timeout, or a rejection of the server's certificate or parameters that it did not announce with an alert).".into(),
        Fix::ReadServerLogDrop => "Server side: check the server's error log for why it dropped the handshake.".into(),
        Fix::CaptureUntilClose => "Capture for longer (until the connection closes) to see the outcome.".into(),
        Fix::RaiseLimit => "Raise the limit (see tlswhy analyze --help) or split the capture (editcap -c).".into(),
    }
}
