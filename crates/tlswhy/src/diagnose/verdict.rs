//! The verdict: one code from the catalog (DIAGNOSES.md), the finding that states its
//! cause with the values that prove it, the evidence as [`Detail`]s and the [`Fix`] as
//! data. Nothing here is worded for people: `report::wording` renders the summary,
//! evidence and fix at the edge.

use std::net::IpAddr;

use serde::Serialize;

use super::detail::Detail;
use super::named::named_values;
use crate::flow::{At, Dir};
use crate::tls::alert::AlertDescription;
use crate::tls::facts::Label;
use crate::tls::plaintext::PlaintextKind;
use crate::tls::wire::{CipherSuite, NamedGroup, ProtocolVersion};

named_values! {
    /// A verdict code from the catalog. The order is the catalog's.
    pub enum Code, "verdict code" {
        Ok => "ok", "handshake completed",
        NoSharedCipher => "no_shared_cipher", "no cipher suite in common",
        ProtocolVersionMismatch => "protocol_version_mismatch", "TLS versions do not overlap",
        SniMissing => "sni_missing", "no server name (SNI) sent",
        SniIpLiteral => "sni_ip_literal", "IP address sent as server name",
        SniUnrecognized => "sni_unrecognized", "server does not know the requested name",
        CertNameMismatch => "cert_name_mismatch", "certificate does not cover the name",
        CertUnknownCa => "cert_unknown_ca", "certificate issuer not trusted",
        CertExpired => "cert_expired", "certificate expired or not yet valid",
        CertSelfSigned => "cert_self_signed", "self-signed certificate",
        CertRejected => "cert_rejected", "server certificate rejected",
        ClientCertRequired => "client_cert_required", "client certificate required",
        ClientCertRejected => "client_cert_rejected", "client certificate rejected",
        AlpnMismatch => "alpn_mismatch", "no common application protocol",
        PlaintextToTlsPort => "plaintext_to_tls_port", "plain text sent to a TLS port",
        TlsToPlaintextPort => "tls_to_plaintext_port", "TLS sent to a plain-text port",
        ConnectionRefused => "connection_refused", "connection refused",
        ConnectionTimeout => "connection_timeout", "connection timed out",
        NoResponseTimeout => "no_response_timeout", "server never answered the ClientHello",
        ServerResetAfterClientHello => "server_reset_after_client_hello", "reset after the ClientHello",
        ServerClosedAfterClientHello => "server_closed_after_client_hello", "closed after the ClientHello",
        ClientAborted => "client_aborted", "client gave up",
        FatalAlert => "fatal_alert", "fatal alert",
        MalformedHandshake => "malformed_handshake", "malformed handshake",
        IncompleteCapture => "incomplete_capture", "capture incomplete",
        UdpBlocked => "udp_blocked", "QUIC over UDP never answered",
        QuicBlockedFellBackToTcp => "quic_blocked_fell_back_to_tcp", "QUIC unanswered, the client fell back to TCP",
        QuicVersionMismatch => "quic_version_mismatch", "no QUIC version in common",
        QuicTransportError => "quic_transport_error", "QUIC transport error",
        QuicStatelessReset => "quic_stateless_reset", "QUIC connection reset by a server without its state",
    }
}

/// Who has to act on a [`Fix`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Client,
    Server,
    /// Either side can make the change.
    Either,
    /// The network between them (firewalls, middleboxes, routing).
    Network,
    /// Nothing is wrong with the endpoints; the capture has to be taken again.
    Capture,
    /// Nothing to change.
    Nobody,
}

/// How the server reacted to a name problem (the summary of the SNI codes says it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerReaction {
    /// An `unrecognized_name` alert.
    UnrecognizedName,
    /// A fatal alert right after the ClientHello.
    FailedWith(#[serde(serialize_with = "crate::tls::alert::ser_description")] AlertDescription),
    /// A certificate that does not name the address, rejected by the client.
    CertificateWithoutAddress,
    /// A certificate the client rejected.
    CertificateRejected,
    /// The connection closed (FIN or RST) without a TLS word.
    ClosedConnection,
}

/// Why the capture cannot show how a handshake ended.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unfinished {
    /// The capture ends before the client's TLS 1.3 flight.
    BeforeClientFlight,
    /// The client sent data after its flight; no answer was captured.
    NoAnswerToClientData,
    /// The capture ends right after the client's flight.
    AfterClientFlight,
    /// The capture ends this many seconds after the ClientHello.
    BeforeServerAnswer { secs: f64 },
    /// The capture ends before the handshake completed.
    BeforeCompletion,
}

/// The cause as data: which situation of its code, with the values the summary states.
/// Each variant belongs to one [`Code`] ([`Finding::code`]).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Finding {
    /// The handshake completed. Its evidence is the record's own facts, so it carries
    /// what the words cite instead of details: where the hellos were, and the records
    /// that followed.
    Completed {
        version: Option<ProtocolVersion>,
        cipher_suite: Option<CipherSuite>,
        client_hello: At,
        server_hello: Option<At>,
        client_records: u64,
        server_records: u64,
    },
    /// The SYN was answered by a reset.
    Refused,
    /// The SYN was never answered.
    SynUnanswered,
    /// The capture ends right after the SYN.
    CaptureEndsAfterSyn,
    /// Only the client's packets were captured.
    OnlyClientSide,
    /// The client's first bytes were neither TLS nor text of any protocol, and the
    /// server refused them.
    BinaryFromClient,
    /// The client spoke plain text to a TLS port.
    PlaintextFromClient {
        #[serde(serialize_with = "ser_plaintext")]
        protocol: PlaintextKind,
    },
    /// The server greeted in plain text; the client never started TLS.
    ServerGreetedInPlaintext {
        #[serde(serialize_with = "ser_plaintext")]
        protocol: PlaintextKind,
    },
    /// The server answered the ClientHello in plain text.
    ServerAnsweredInPlaintext {
        #[serde(serialize_with = "ser_plaintext")]
        protocol: PlaintextKind,
    },
    /// The capture starts in the middle of the connection.
    CaptureStartsMidConnection,
    /// The client's records do not parse as a ClientHello.
    ClientHelloUnparsable,
    /// Segments of the client's first flight are missing.
    ClientFirstFlightLost,
    /// The capture ends inside the ClientHello.
    ClientHelloCut,
    /// The client connected and closed without a ClientHello.
    ClientLeftBeforeHello,
    /// The server closed before the client sent anything.
    ServerLeftBeforeHello,
    /// No ClientHello in the capture.
    NoClientHello,
    /// Part of the handshake is missing from the capture.
    HandshakeLost,
    /// The capture ends before the outcome.
    Unfinished { why: Unfinished },
    /// A limit of the analysis ended the connection first.
    LimitReached,
    /// An IP literal as server_name.
    SniIpLiteral {
        ip: IpAddr,
        reaction: ServerReaction,
    },
    /// No server_name.
    SniMissing { reaction: ServerReaction },
    /// A server_name the server does not serve.
    SniUnrecognized {
        name: String,
        reaction: ServerReaction,
    },
    /// The leaf is outside its validity period at capture time (`not_yet_valid`: before
    /// its start).
    CertOutsideValidity {
        not_before: i64,
        not_after: i64,
        not_yet_valid: bool,
        /// The client completed the handshake and left later without sending data, not at
        /// once: whether it refused the certificate the packets do not show.
        left_later: bool,
    },
    /// The client says the certificate expired (`certificate_expired`).
    CertReportedExpired,
    /// A self-signed leaf the client does not trust (it said so).
    CertSelfSignedUntrusted { subject: String },
    /// A self-signed leaf the client rejected.
    CertSelfSignedRejected { subject: String },
    /// The client does not trust the issuer.
    CertIssuerUntrusted { issuer: String },
    /// The certificate does not cover the requested name.
    CertNameMismatch {
        names: Vec<String>,
        requested: String,
        /// As for [`Finding::CertOutsideValidity`]: the client completed the handshake
        /// and left later without sending data.
        left_later: bool,
    },
    /// The client rejected the certificate; the capture does not say why.
    CertRejected {
        #[serde(serialize_with = "crate::tls::alert::ser_opt_description")]
        alert: Option<AlertDescription>,
    },
    /// The server accepts none of the client's versions.
    NoCommonVersion { client_highest: ProtocolVersion },
    /// The client refused the version the server picked.
    VersionRefusedByClient,
    /// No cipher suite in common.
    NoSharedCipher {
        /// The server's refusal: handshake_failure, or insufficient_security (Erlang/OTP).
        #[serde(serialize_with = "crate::tls::alert::ser_description")]
        alert: AlertDescription,
        /// How many suites the client offered (GREASE left out; a ClientHello holds at
        /// most 32,767).
        offered: u16,
        offer_class: String,
        /// What the server picked for other clients, and its class.
        server_picks: Option<(Vec<CipherSuite>, String)>,
    },
    /// The server supports none of the client's ALPN protocols.
    AlpnRefusedByServer { offered: Vec<String> },
    /// The client rejected the server's ALPN choice.
    AlpnRefusedByClient,
    /// TLS 1.3: the server's only record after its ServerHello was an encrypted alert,
    /// and the client offered ALPN (the usual cause).
    AlpnRefusedEncrypted { offered: Vec<String> },
    /// The server wanted a client certificate and got none.
    ClientCertMissing,
    /// TLS 1.3: the client's Certificate was empty (by size).
    ClientCertEmptyEncrypted,
    /// The server rejected the client's certificate.
    ClientCertRejected {
        #[serde(serialize_with = "crate::tls::alert::ser_description")]
        alert: AlertDescription,
    },
    /// TLS 1.3: the server rejected the client's certificate (encrypted alert).
    ClientCertRejectedEncrypted,
    /// handshake_failure although the suites overlap.
    FailureDespiteSharedSuites,
    /// handshake_failure right after a hello whose key-exchange groups are none of
    /// those every server takes (x25519, secp256r1), when nothing else in the offer is
    /// unusual: no group in common (TLS 1.3 keys every suite to a group; TLS 1.2 ECDHE
    /// suites need one too).
    NoSharedGroup { groups: Vec<NamedGroup> },
    /// handshake_failure right after a hello offering only TLS 1.3, with the suites and
    /// groups every TLS 1.3 server takes: it is refused for its version (a server that
    /// speaks only TLS 1.2 sees no suite it knows in it).
    Tls13OnlyRefusedWithHandshakeFailure,
    /// A fatal alert the capture does not narrow further.
    FatalAlert {
        from: Dir,
        #[serde(serialize_with = "crate::tls::alert::ser_opt_description")]
        alert: Option<AlertDescription>,
        /// The message the alert followed.
        after: Option<(Dir, Label)>,
    },
    /// TLS 1.3: the server's encrypted alert after the client's flight.
    ServerAlertAfterClientFlight,
    /// TLS 1.3: the server's only record after its ServerHello was an encrypted alert.
    ServerAlertAfterServerHello,
    /// TLS 1.3 without keys: after its flight, before the client answered, the server
    /// sent an alert (by size) at once.
    ServerAlertAfterItsFlight,
    /// The peer rejected the sender's bytes.
    PeerRejectedBytes {
        sender: Dir,
        #[serde(serialize_with = "crate::tls::alert::ser_description")]
        alert: AlertDescription,
    },
    /// The sender's bytes do not parse.
    UnparsableBytes { sender: Dir },
    /// TLS 1.3: the client closed after the server's flight.
    ClientAbortedAfterServerFlight,
    /// The client closed mid-handshake without an alert.
    ClientAbortedMidHandshake,
    /// The client closed soon after its ClientHello, unanswered.
    ClientGaveUp { waited: f64 },
    /// The server side reset the connection after the ClientHello.
    ServerResetAfterHello,
    /// The server closed after the ClientHello without a word.
    ServerClosedAfterHello,
    /// The server dropped the handshake midway without an alert.
    ServerDroppedMidHandshake { reset: bool },
    /// The server never answered the ClientHello.
    NoResponse,
    /// QUIC: every datagram of the client was answered with ICMP port unreachable.
    QuicPortUnreachable { answers: u32 },
    /// QUIC: the client's Initials (`initials` datagrams over `secs` seconds) were
    /// never answered.
    UdpUnanswered { initials: u32, secs: f64 },
    /// The client closed its QUIC attempt before any answer, `secs` after its first
    /// Initial, sooner than a client gives up waiting and without probing.
    QuicClientCancelled { secs: f64 },
    /// QUIC: unanswered, and the client then connected over TCP to the same server.
    QuicFellBackToTcp { initials: u32, secs: f64, tcp: At },
    /// QUIC: the server's Version Negotiation lists none of the client's versions.
    QuicNoCommonVersion { client: u32, server: Vec<u32> },
    /// QUIC: a CONNECTION_CLOSE with a transport error (not a TLS alert).
    QuicTransportError {
        from: Dir,
        error_code: u64,
        #[serde(serialize_with = "crate::sanitize::ser_json_text")]
        reason: String,
    },
    /// QUIC: the server answered the client's first 1-RTT packets with a stateless
    /// reset (`len` bytes): it had no state for the connection.
    QuicStatelessReset {
        len: usize,
        proof: crate::quic::attempt::ResetProof,
    },
}

impl Finding {
    /// TLS 1.3: the server refused the client's flight — the client sent its Finished,
    /// but the handshake did not complete.
    pub fn refuses_client_flight(&self) -> bool {
        matches!(
            self,
            Finding::ClientCertEmptyEncrypted
                | Finding::ClientCertRejectedEncrypted
                | Finding::ServerAlertAfterClientFlight
        )
    }

    /// The catalog code of this finding.
    pub fn code(&self) -> Code {
        use Finding::*;
        match self {
            Completed { .. } => Code::Ok,
            Refused => Code::ConnectionRefused,
            SynUnanswered => Code::ConnectionTimeout,
            CaptureEndsAfterSyn
            | OnlyClientSide
            | CaptureStartsMidConnection
            | ClientFirstFlightLost
            | ClientHelloCut
            | NoClientHello
            | HandshakeLost
            | Unfinished { .. }
            | LimitReached => Code::IncompleteCapture,
            PlaintextFromClient { .. } => Code::PlaintextToTlsPort,
            ServerGreetedInPlaintext { .. } | ServerAnsweredInPlaintext { .. } => {
                Code::TlsToPlaintextPort
            }
            ClientHelloUnparsable
            | BinaryFromClient
            | PeerRejectedBytes { .. }
            | UnparsableBytes { .. } => Code::MalformedHandshake,
            ClientLeftBeforeHello
            | ClientAbortedAfterServerFlight
            | ClientAbortedMidHandshake
            | ClientGaveUp { .. }
            | QuicClientCancelled { .. } => Code::ClientAborted,
            ServerLeftBeforeHello | ServerClosedAfterHello => Code::ServerClosedAfterClientHello,
            ServerDroppedMidHandshake { reset: false } => Code::ServerClosedAfterClientHello,
            ServerResetAfterHello | ServerDroppedMidHandshake { reset: true } => {
                Code::ServerResetAfterClientHello
            }
            SniIpLiteral { .. } => Code::SniIpLiteral,
            SniMissing { .. } => Code::SniMissing,
            SniUnrecognized { .. } => Code::SniUnrecognized,
            CertOutsideValidity { .. } | CertReportedExpired => Code::CertExpired,
            CertSelfSignedUntrusted { .. } | CertSelfSignedRejected { .. } => Code::CertSelfSigned,
            CertIssuerUntrusted { .. } => Code::CertUnknownCa,
            CertNameMismatch { .. } => Code::CertNameMismatch,
            CertRejected { .. } => Code::CertRejected,
            NoCommonVersion { .. }
            | VersionRefusedByClient
            | Tls13OnlyRefusedWithHandshakeFailure => Code::ProtocolVersionMismatch,
            NoSharedCipher { .. } | NoSharedGroup { .. } => Code::NoSharedCipher,
            AlpnRefusedByServer { .. } | AlpnRefusedByClient | AlpnRefusedEncrypted { .. } => {
                Code::AlpnMismatch
            }
            ClientCertMissing | ClientCertEmptyEncrypted => Code::ClientCertRequired,
            ClientCertRejected { .. } | ClientCertRejectedEncrypted => Code::ClientCertRejected,
            FailureDespiteSharedSuites
            | FatalAlert { .. }
            | ServerAlertAfterClientFlight
            | ServerAlertAfterServerHello
            | ServerAlertAfterItsFlight => Code::FatalAlert,
            NoResponse => Code::NoResponseTimeout,
            QuicPortUnreachable { .. } => Code::ConnectionRefused,
            UdpUnanswered { .. } => Code::UdpBlocked,
            QuicFellBackToTcp { .. } => Code::QuicBlockedFellBackToTcp,
            QuicNoCommonVersion { .. } => Code::QuicVersionMismatch,
            QuicTransportError { .. } => Code::QuicTransportError,
            QuicStatelessReset { .. } => Code::QuicStatelessReset,
        }
    }
}

/// What to change, as data: the action and the values from the packets it names
/// ([`Fix::side`] says who acts).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fix {
    /// Nothing to change.
    Nothing,
    /// Start the service on the port the client uses (or fix the port).
    ListenOnPort { port: u16 },
    /// Make the server reachable (nothing answered the SYN).
    MakeReachable,
    /// Capture for longer to see how the connection ends.
    CaptureLongerAfterSyn,
    /// Capture where both directions pass.
    CaptureBothDirections,
    /// The client has to use TLS on this port (or the plain-text port).
    ClientUseTls { port: u16 },
    /// Start the capture before the client connects.
    CaptureFromStart,
    /// The client's TLS implementation sends invalid records.
    FixClientRecords,
    /// Capture without losing segments.
    CaptureWithoutLossNearEndpoints,
    /// Capture for longer or with a larger snap length.
    CaptureLongerOrLargerSnap,
    /// Connect to the TLS port, or upgrade with STARTTLS.
    ClientUseTlsPortOrStarttls,
    /// Find out why the client gave up before starting TLS.
    ClientExplainEarlyClose,
    /// The server refuses this client before TLS starts.
    ServerExplainRefusal,
    /// Capture for longer to see the handshake.
    CaptureLongerForHandshake,
    /// Connect to the TLS port; or enable TLS on this one.
    UseTlsPortOrEnableTls { port: u16 },
    /// Capture again without loss.
    CaptureWithoutLoss,
    /// Give the client a certificate (or make it optional on the server).
    ConfigureClientCertificate,
    /// TLS 1.3: give the client a certificate (or make it optional).
    ConfigureClientCertificateTls13,
    /// Use a client certificate the server trusts (or trust its issuer).
    UseTrustedClientCertificate,
    /// TLS 1.3: use a client certificate the server trusts.
    UseTrustedClientCertificateTls13,
    /// The sender's TLS implementation has to be fixed.
    FixImplementation { sender: Dir },
    /// The sender's TLS implementation (or a middlebox) has to be fixed.
    FixImplementationOrMiddlebox { sender: Dir },
    /// Read the alert sender's log.
    ReadSenderLog {
        sender: Dir,
        #[serde(serialize_with = "crate::tls::alert::ser_opt_description")]
        alert: Option<AlertDescription>,
    },
    /// Configure a protocol both sides accept (the server refused the client's ALPN):
    /// what the client offered, and what the server selected for other clients.
    EnableCommonAlpn {
        #[serde(serialize_with = "crate::sanitize::ser_json_texts")]
        client_offers: Vec<String>,
        #[serde(serialize_with = "crate::sanitize::ser_json_texts")]
        server_selects: Vec<String>,
    },
    /// Configure a common ALPN protocol on both sides.
    ConfigureCommonAlpn,
    /// Compare groups and signature algorithms with the server's configuration.
    CompareGroupsAndSignatures,
    /// Offer a group every server takes (x25519, secp256r1) on the client, or enable one
    /// of those the client offers on the server.
    EnableCommonGroup { client_offers: Vec<NamedGroup> },
    /// Enable a common suite: those the client offers on the server, or those the
    /// server picks on the client — secure ones only.
    EnableCommonSuite {
        client_offers: Vec<CipherSuite>,
        server_picks: Vec<CipherSuite>,
    },
    /// The only common ground would be insecure suites: the side that offers only
    /// insecure ones has to be upgraded (`client`: the client offers only these).
    UpgradeInsecureSuites {
        client: bool,
        insecure: Vec<CipherSuite>,
    },
    /// Connect by host name, have a relay set SNI, or cover the address.
    ConnectByNameNotAddress {
        #[serde(serialize_with = "crate::sanitize::ser_json_opt_text")]
        suggestion: Option<String>,
        port: Option<u16>,
        ip: IpAddr,
    },
    /// Send the host name as SNI.
    SendServerName {
        #[serde(serialize_with = "crate::sanitize::ser_json_opt_text")]
        suggestion: Option<String>,
        port: u16,
        ip: IpAddr,
    },
    /// Use a name the server serves, or add a virtual host for it.
    ServeName {
        #[serde(serialize_with = "crate::sanitize::ser_json_text")]
        name: String,
    },
    /// Make the version ranges overlap, with versions that are not insecure: the server's
    /// that the client could enable, the client's that the server could allow.
    OverlapVersions {
        server_versions: Vec<ProtocolVersion>,
        client_versions: Vec<ProtocolVersion>,
    },
    /// One side speaks only insecure versions (SSL, TLS 1.0/1.1): upgrade it; never
    /// enable them on the other side (`client`: the client is the old one).
    UpgradeInsecureVersions {
        client: bool,
        versions: Vec<ProtocolVersion>,
    },
    /// Renew the certificate (and reload the server).
    RenewCertificate,
    /// Renew the certificate, or check the client's clock.
    RenewCertificateOrCheckClock,
    /// The certificate is not valid yet: check the clocks (the client's, the capturing
    /// machine's), or reissue it with a start in the past.
    CheckClockNotYetValid,
    /// Use a CA-issued certificate, or trust this one on the client.
    ReplaceSelfSigned,
    /// Use a CA-issued certificate, or trust this one explicitly.
    ReplaceOrTrustSelfSigned,
    /// Send the full chain.
    SendFullChain,
    /// Trust the issuing CA.
    TrustIssuer,
    /// A certificate that covers the name, or the name the certificate is for.
    CoverName {
        #[serde(serialize_with = "crate::sanitize::ser_json_text")]
        name: String,
    },
    /// Read the client's error; get the certificate with a key log.
    ReadClientError,
    /// The client gave up on the server's flight without saying why.
    ReadClientLog,
    /// TLS 1.3: the server's log has the reason of its encrypted alert.
    ReadServerLogTls13,
    /// A reset after the ClientHello: the server or a filter on the path.
    CheckServerAndFilters {
        #[serde(serialize_with = "crate::sanitize::ser_json_opt_text")]
        server_name: Option<String>,
    },
    /// The server dropped the handshake without an alert.
    ReadServerErrorLog,
    /// The server never answered.
    CheckHungServer,
    /// The ClientHello never reached the server whole: the path in between.
    CheckPathForLargeHello,
    /// The client gave up waiting.
    CheckClientTimeout,
    /// The client gave up mid-handshake.
    ReadClientLogAbort,
    /// The server dropped the handshake midway.
    ReadServerLogDrop,
    /// Capture until the connection closes.
    CaptureUntilClose,
    /// Raise a limit of the analysis.
    RaiseLimit,
    /// QUIC: start the service on this UDP port, or stop advertising HTTP/3 there.
    ListenOnUdpPort { port: u16 },
    /// QUIC: let UDP to this port through between client and server.
    AllowUdp { port: u16 },
    /// QUIC: enable a version both sides speak.
    EnableCommonQuicVersion { client: u32, server: Vec<u32> },
    /// QUIC: keep a connection's packets on the server (instance) that holds its state.
    KeepQuicConnectionState,
}

impl Fix {
    /// Who has to act.
    pub fn side(&self) -> Side {
        use Fix::*;
        match self {
            Nothing => Side::Nobody,
            ListenOnPort { .. }
            | ListenOnUdpPort { .. }
            | ServerExplainRefusal
            | RenewCertificate
            | RenewCertificateOrCheckClock
            | ReplaceSelfSigned
            | ReplaceOrTrustSelfSigned
            | SendFullChain
            | ReadServerLogTls13
            | ReadServerErrorLog
            | CheckHungServer
            | ReadServerLogDrop
            | KeepQuicConnectionState => Side::Server,
            MakeReachable
            | CheckServerAndFilters { .. }
            | AllowUdp { .. }
            | CheckPathForLargeHello => Side::Network,
            CaptureLongerAfterSyn
            | CaptureBothDirections
            | CaptureFromStart
            | CaptureWithoutLossNearEndpoints
            | CaptureLongerOrLargerSnap
            | CaptureLongerForHandshake
            | CaptureWithoutLoss
            | CaptureUntilClose
            | RaiseLimit => Side::Capture,
            ClientUseTls { .. }
            | FixClientRecords
            | ClientUseTlsPortOrStarttls
            | ClientExplainEarlyClose
            | ConfigureClientCertificate
            | ConfigureClientCertificateTls13
            | UseTrustedClientCertificate
            | UseTrustedClientCertificateTls13
            | ConnectByNameNotAddress { .. }
            | SendServerName { .. }
            | TrustIssuer
            | ReadClientError
            | ReadClientLog
            | CheckClientTimeout
            | ReadClientLogAbort
            | CheckClockNotYetValid => Side::Client,
            UpgradeInsecureSuites { client, .. } | UpgradeInsecureVersions { client, .. } => {
                if *client {
                    Side::Client
                } else {
                    Side::Server
                }
            }
            OverlapVersions {
                server_versions,
                client_versions,
            } => {
                if only_the_server_can_move(server_versions, client_versions) {
                    Side::Server
                } else {
                    Side::Either
                }
            }
            FixImplementation { sender, .. }
            | FixImplementationOrMiddlebox { sender }
            | ReadSenderLog { sender, .. } => match sender {
                Dir::ToServer => Side::Client,
                Dir::ToClient => Side::Server,
            },
            UseTlsPortOrEnableTls { .. }
            | EnableCommonAlpn { .. }
            | ConfigureCommonAlpn
            | CompareGroupsAndSignatures
            | EnableCommonGroup { .. }
            | EnableCommonSuite { .. }
            | ServeName { .. }
            | EnableCommonQuicVersion { .. }
            | CoverName { .. } => Side::Either,
        }
    }
}

/// Version ranges that do not overlap, the server's unknown: a client offering TLS 1.3
/// and TLS 1.2 offers every current version, so a server refusing them all speaks only
/// older ones, which no client should be asked to enable — only the server can move. (A
/// client offering TLS 1.3 alone could add TLS 1.2.)
pub fn only_the_server_can_move(
    server_versions: &[ProtocolVersion],
    client_versions: &[ProtocolVersion],
) -> bool {
    server_versions.is_empty()
        && client_versions.iter().any(|v| v.is_tls13())
        && client_versions.contains(&ProtocolVersion::TLS1_2)
}

/// The diagnosis of one handshake attempt: the code, the cause with its values, the
/// evidence as data and the fix as data. Worded by `report::wording`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Verdict {
    /// The catalog code ([`Finding::code`] of `finding`).
    pub code: Code,
    /// The cause, with the values the summary states.
    pub finding: Finding,
    /// The facts that prove it, cited packets in frame order.
    pub details: Vec<Detail>,
    /// What to change, on which side.
    pub fix: Fix,
    /// What beyond its own connection the verdict rests on (other connections to the
    /// server, how long the capture went on): such a verdict can change when the rest of
    /// the capture does.
    pub reads: super::Reads,
    /// Drawn from messages opened with keys, or inferred from what the packets show in
    /// the clear (DESIGN's `verdict.proof`).
    pub proof: Proof,
}

/// What a verdict rests on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Proof {
    /// What the packets show in the clear (record sizes and timing for what is
    /// encrypted).
    #[default]
    Inferred,
    /// The conversation's protected records were opened with keys.
    Decrypted,
}

impl Proof {
    pub fn as_str(self) -> &'static str {
        match self {
            Proof::Inferred => "inferred",
            Proof::Decrypted => "decrypted",
        }
    }
}

impl Verdict {
    /// A verdict for `finding`, with its evidence and fix.
    pub fn new(finding: Finding, details: Vec<Detail>, fix: Fix) -> Verdict {
        Verdict {
            code: finding.code(),
            finding,
            details,
            fix,
            reads: super::Reads::default(),
            proof: Proof::Inferred,
        }
    }
}

fn ser_plaintext<S: serde::Serializer>(v: &PlaintextKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.describe())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for &code in Code::ALL {
            assert_eq!(code.as_str().parse::<Code>().unwrap(), code);
        }
        assert_eq!(Code::ALL.len(), 30);
        assert!("nonsense".parse::<Code>().is_err());
    }

    /// A verdict moves by value from the rules to the record (returned, held with its
    /// connection, handed on), a copy of its whole size each time: a field added to a
    /// finding fits where the others leave room (one byte more in the largest finding
    /// made every run of the reference 20k file copy 1.4M instructions more).
    #[test]
    fn a_verdict_stays_the_size_it_is() {
        assert!(std::mem::size_of::<Finding>() <= 80);
        assert!(std::mem::size_of::<Verdict>() <= 168);
    }
}
