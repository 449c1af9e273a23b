//! The words: a verdict's summary, evidence and fix, rendered from its data (the
//! [`Finding`], the [`Detail`](crate::diagnose::Detail)s, the
//! [`Fix`](crate::diagnose::Fix)) for every output alike. Nothing is
//! escaped here: text from packets arrives as it was sent, and each output escapes it
//! for its medium (terminal, Markdown, XML; JSON by its serializer).

use std::net::SocketAddr;

use crate::report::endpoint::Endpoint;

use crate::capture::Timestamp;
use crate::diagnose::verdict::{Finding, ServerReaction, Unfinished};
use crate::diagnose::Verdict;
use crate::quic::table::TcpFallback;
use crate::record::Handshake;
use crate::tls::alert::AlertDescription;
use crate::tls::cert::format_unix;
use crate::tls::hello::ClientHelloFacts;
use crate::tls::wire::{CipherSuite, ProtocolVersion};

mod evidence;
mod fix;

pub use evidence::{detail, evidence, evidence_lines};
pub use fix::fix;

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
            fix: fix(&h.verdict),
        }
    }
}

/// A completed handshake's summary where the version and suite are stated beside it
/// (the compact JSON record's fields).
pub const COMPLETED_BRIEFLY: &str = "Handshake completed.";

/// What the client did about a certificate it could not accept: refused it, or completed
/// the handshake and left later without a word of its protocol (whether it checked the
/// certificate the packets do not say).
fn client_reaction(left_later: bool) -> &'static str {
    if left_later {
        "the client completed the handshake and left later without sending any data"
    } else {
        "the client rejected it"
    }
}

/// The verdict's summary: one sentence a person can act on.
pub fn summary(v: &Verdict, cx: &Context) -> String {
    let port = cx.server.port();
    let server = Endpoint::of(cx.server);
    match &v.finding {
        Finding::Completed {
            version,
            cipher_suite,
            ..
        } => {
            let version = version.map_or_else(|| "TLS".into(), |v| v.name());
            // TLS_NULL_WITH_NULL_NULL is the state before any suite, never negotiated
            // (RFC 5246 §A.5): an SSL 2.0 handshake, whose cipher specs are not TLS
            // suites, has it.
            match cipher_suite.filter(|s| s.0 != 0) {
                Some(suite) => format!("Handshake completed ({version}, {}).", suite.name()),
                None => format!("Handshake completed ({version})."),
            }
        }
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
        Finding::BinaryFromClient => format!(
            "The client sent {server} bytes that are neither TLS nor a known plain-text protocol, and the server refused them."
        ),
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
        Finding::ClientFirstFlightLost => "The client's first flight is not whole in the capture (a segment missing, or cut by the snap length), so its ClientHello cannot be read.".into(),
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
            not_yet_valid,
            left_later,
        } => format!(
            "The server's certificate is {} ({} to {}) at the time of the capture; {}.",
            if *not_yet_valid {
                "not valid yet"
            } else {
                "outside its validity period"
            },
            format_unix(*not_before),
            format_unix(*not_after),
            client_reaction(*left_later)
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
        Finding::CertNameMismatch {
            names,
            requested,
            left_later,
        } => format!(
            "The server's certificate is for [{}], not '{requested}' that the client asked for; {}.",
            names.join(", "),
            client_reaction(*left_later)
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
            alert,
            offered,
            offer_class,
            server_picks,
        } => {
            let alert = alert.name();
            match server_picks {
                Some((picked, server_class)) => format!(
                    "No cipher suite in common: the client offered {offered} suites, {offer_class}; the server at {server} accepts none of them — for other clients it picked only {} ({server_class}) — and refused this one with {alert}.",
                    suite_list(picked)
                ),
                None => format!(
                    "No cipher suite in common: the server at {server} refused the client's {offered} suites ({offer_class}) with {alert} right after the ClientHello."
                ),
            }
        }
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
            "The server at {server} rejected the client's certificate (TLS 1.3: encrypted; told by the sizes of the client's flight and the server's answer)."
        ),
        Finding::NoSharedGroup { groups } => format!(
            "The server at {server} refused the ClientHello with handshake_failure: the client offers only the key-exchange group(s) {}, none of those every server takes (x25519, secp256r1) — no group in common, although its suites are ordinary.",
            group_list(groups)
        ),
        Finding::Tls13OnlyRefusedWithHandshakeFailure => format!(
            "The server at {server} refused a ClientHello offering only TLS 1.3 with handshake_failure, although its suites and groups are ones every TLS 1.3 server takes: the server does not speak TLS 1.3 (a TLS 1.2 server finds no suite it knows in such a hello)."
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
        Finding::ServerAlertAfterItsFlight => format!(
            "The server at {server} sent an encrypted alert (TLS 1.3) after its own flight, before the client answered, and the connection closed; without keys the alert cannot be read."
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
        Finding::QuicPortUnreachable { answers } => format!(
            "Nothing listens on UDP port {port} of {}: the client's QUIC Initials were answered with ICMP port unreachable ({answers} time(s)).",
            server.ip()
        ),
        Finding::UdpUnanswered { initials, secs } => format!(
            "The client's QUIC Initials to {server} ({initials} datagram(s) over {secs:.1} s) were never answered: UDP to this port is dropped on the way or by the server's host."
        ),
        Finding::QuicClientCancelled { secs } => format!(
            "The client closed its QUIC attempt to {server} itself {secs:.3} s after its first Initial, before any answer and without probing for one: it gave up on QUIC, not on an answer (a browser closes the QUIC attempt it raced against TCP once it has no use for it), so this says nothing about UDP being blocked."
        ),
        Finding::QuicFellBackToTcp { initials, secs, tcp } => match TcpFallback::of(*tcp, cx.start) {
            TcpFallback::Raced => format!(
                "The client's QUIC Initials to {server} ({initials} datagram(s) over {secs:.1} s) were never answered, while it connected over TCP to the same port beside them (racing the two): UDP is dropped on the way."
            ),
            TcpFallback::StayedOn => format!(
                "The client's QUIC Initials to {server} ({initials} datagram(s) over {secs:.1} s) were never answered, while its TCP connection to the same port, open since before them, went on: it stayed on TCP. UDP is dropped on the way."
            ),
            TcpFallback::FellBack => format!(
                "The client's QUIC Initials to {server} ({initials} datagram(s) over {secs:.1} s) were never answered, and it fell back to TCP to the same port: UDP is dropped on the way."
            ),
        },
        Finding::QuicNoCommonVersion { client, server: listed } => format!(
            "The server at {server} does not speak {}: its Version Negotiation lists only {}, and the client gave up.",
            crate::quic::version_name(*client),
            crate::quic::version_list(listed, false)
        ),
        Finding::QuicTransportError {
            from,
            error_code,
            reason,
        } => format!(
            "The {} closed the QUIC connection with the transport error {}{}.",
            from.sender(),
            crate::quic::transport_error_name(*error_code),
            if reason.is_empty() {
                String::new()
            } else {
                format!(" ('{reason}')")
            }
        ),
        Finding::QuicStatelessReset { .. } => format!(
            "The server at {server} answered the client's first 1-RTT packets with a QUIC stateless reset: it no longer had this connection's state (a restart, a handshake or idle timeout shorter than the path's delay, or a load balancer that sent the packets to another instance)."
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
        ServerReaction::ClosedConnection => "closed the connection without a word".into(),
    }
}

pub(super) fn alert_or_encrypted(alert: Option<AlertDescription>) -> String {
    alert.map_or_else(|| "an encrypted alert".into(), |d| d.to_string())
}

pub(super) fn suite_list(suites: &[CipherSuite]) -> String {
    let mut out = String::new();
    push_suite_list(&mut out, suites);
    out
}

/// Groups by registry name (the number when it has none), GREASE left out.
pub(super) fn group_list(groups: &[crate::tls::wire::NamedGroup]) -> String {
    let mut out = String::new();
    push_joined(
        &mut out,
        groups
            .iter()
            .filter(|g| !crate::tls::suites::is_grease(g.0))
            .map(|g| g.name().map_or_else(|| g.to_string(), str::to_string)),
        ", ",
    );
    out
}

/// [`suite_list`] at the end of `out`.
pub(super) fn push_suite_list(out: &mut String, suites: &[CipherSuite]) {
    push_joined(out, suites.iter().map(|s| s.name()), ", ");
}

/// Items with `separator` between them (what `join` makes, without the vector).
pub(super) fn push_joined<T: AsRef<str>>(
    out: &mut String,
    items: impl Iterator<Item = T>,
    separator: &str,
) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        out.push_str(item.as_ref());
    }
}

pub(super) fn version_list(versions: &[ProtocolVersion]) -> Vec<String> {
    versions.iter().map(|v| v.name().into_owned()).collect()
}
