//! The evidence of a verdict as data: each [`Detail`] is one fact from the packets (or
//! from the rest of the capture) with the values that prove it — where it was seen,
//! who sent it, the alert, the names, how long. Rules return these; the wording lives
//! in `report::wording`, one renderer for every output. JSON carries them as
//! `verdict.details`, each object with a `kind`.

use std::net::SocketAddr;
use std::sync::Arc;

use serde::Serialize;

use crate::flow::{At, Dir};
use crate::tls::alert::{AlertDescription, AlertLevel};
use crate::tls::cert::CertFacts;
use crate::tls::facts::Label;
use crate::tls::plaintext::PlaintextKind;
use crate::tls::wire::{CipherSuite, NamedGroup, ProtocolVersion};

/// How a side closed its half of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseKind {
    Fin,
    Rst,
}

/// What a plaintext detail is to the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaintextRole {
    /// The client's first bytes, where its ClientHello belonged.
    InsteadOfClientHello,
    /// The server's answer to the client's plain text.
    ServerAnswer,
    /// The server's own bytes (a banner, an HTTP error) to a TLS client.
    ServerSpoke,
}

/// One fact of a verdict's evidence.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Detail {
    /// The client's SYN (sent `count` times).
    Syn { at: At, count: u32 },
    /// The server side answered the SYN with a reset.
    SynRefused { at: At },
    /// Nothing came back from `from`'s peer for `secs` seconds (until the end of the
    /// capture, or until the client closed).
    Silence {
        from: Dir,
        secs: f64,
        until_capture_end: bool,
    },
    /// The capture ends `secs` seconds after the SYN.
    CaptureEndsAfter { secs: f64 },
    /// Packets of one side only.
    OneSided { client_packets: u64 },
    /// A ChangeCipherSpec from the client, though no ServerHello was captured.
    ClientChangeCipherSpecUnanswered { at: At },
    /// Non-TLS bytes.
    Plaintext {
        at: At,
        from: Dir,
        role: PlaintextRole,
        #[serde(serialize_with = "ser_plaintext_kind")]
        protocol: PlaintextKind,
        #[serde(serialize_with = "crate::sanitize::ser_json_text")]
        first_line: String,
    },
    /// The connection's first packet is not a SYN and no ClientHello follows.
    MidStream { at: At },
    /// Bytes that do not parse.
    Malformed {
        at: At,
        from: Dir,
        #[serde(serialize_with = "crate::sanitize::ser_json_text")]
        what: String,
    },
    /// A segment before this packet is missing.
    SegmentMissing { at: At, from: Dir },
    /// A direction of the stream could not be followed.
    StreamLost { at: At, from: Dir, reason: String },
    /// Client bytes, not enough for a ClientHello.
    ClientBytes { at: At, bytes: u64 },
    /// A connection with no TLS data.
    NoTlsData { at: At },
    /// The ClientHello: what the client offered (its server_name and ALPN list are the
    /// record's `client_hello`).
    ClientHello {
        at: At,
        highest_version: ProtocolVersion,
        /// Real suites offered (GREASE and signalling values not counted).
        suites: usize,
    },
    /// The client's suites, classified ("only ECDHE key exchange").
    SuitesOffered {
        classes: Vec<String>,
        /// How many real suites were offered.
        offered: usize,
        /// The first of them.
        suites: Vec<CipherSuite>,
    },
    /// The versions the client offers (`supported_versions`, else up to
    /// `legacy_version`).
    VersionsOffered {
        versions: Vec<ProtocolVersion>,
        legacy_only: bool,
    },
    /// The client's groups and how many signature algorithms it lists.
    GroupsOffered {
        groups: Vec<NamedGroup>,
        signature_algorithms: usize,
    },
    /// The ServerHello.
    ServerHello {
        at: At,
        version: ProtocolVersion,
        cipher_suite: CipherSuite,
    },
    /// An alert, plaintext (level and description) or encrypted (by size).
    Alert {
        at: At,
        from: Dir,
        #[serde(serialize_with = "crate::tls::alert::ser_opt_level")]
        level: Option<AlertLevel>,
        #[serde(serialize_with = "crate::tls::alert::ser_opt_description")]
        description: Option<AlertDescription>,
        encrypted: bool,
    },
    /// A TCP FIN or RST.
    Close { at: At, from: Dir, how: CloseKind },
    /// The server's certificate chain and its leaf.
    ServerCertificate {
        at: At,
        chain_length: usize,
        #[serde(rename = "leaf", serialize_with = "ser_leaf")]
        certificates: Arc<Vec<CertFacts>>,
    },
    /// The server sent only its leaf, no intermediate CA; `aia_ca_issuers`: the leaf
    /// names where to fetch its issuer (else its issuer is most likely a private CA that
    /// signs leaves directly).
    LeafOnly { aia_ca_issuers: bool },
    /// The client sent nothing after the server's certificate and closed without an
    /// alert.
    SilentAfterCertificate,
    /// No other connection to this server shows a client accepting this leaf (sending
    /// data after the handshake).
    NoClientAcceptedLeaf,
    /// The server's last acknowledgement left the last `unacknowledged` bytes of the
    /// client's ClientHello uncovered: they never reached it.
    HelloNotAcknowledged { unacknowledged: u32 },
    /// The application protocols the client offered.
    AlpnOffered {
        #[serde(serialize_with = "crate::sanitize::ser_json_texts")]
        protocols: Vec<String>,
    },
    /// The server asked for a client certificate, from these issuers (none named:
    /// any).
    CertificateRequest {
        at: At,
        #[serde(
            serialize_with = "crate::sanitize::ser_json_texts",
            skip_serializing_if = "Vec::is_empty"
        )]
        accepted_issuers: Vec<String>,
    },
    /// The client's Certificate message (`chain_length` 0: empty), with its first
    /// certificate's subject and issuer.
    ClientCertificate {
        at: At,
        chain_length: usize,
        #[serde(
            serialize_with = "crate::sanitize::ser_json_opt_text",
            skip_serializing_if = "Option::is_none"
        )]
        subject: Option<String>,
        #[serde(
            serialize_with = "crate::sanitize::ser_json_opt_text",
            skip_serializing_if = "Option::is_none"
        )]
        issuer: Option<String>,
    },
    /// No client Certificate message at all.
    NoClientCertificate,
    /// Other connections to this server: the suites it picked that this client offered
    /// too.
    ProfileSharedSuites { suites: Vec<CipherSuite> },
    /// Other connections to this server: no ServerHello shows which suites it accepts.
    ProfileNoSuites,
    /// Other connections to this server: the suites it picked, none offered here.
    ProfileSuitesPicked {
        server_hellos: u32,
        example_client: Option<SocketAddr>,
        suites: Vec<CipherSuite>,
    },
    /// Other connections to this server: the versions it negotiated.
    ProfileVersions { versions: Vec<ProtocolVersion> },
    /// Other connections to this server: the names on its certificate.
    ProfileCertificateNames {
        #[serde(serialize_with = "crate::sanitize::ser_json_texts")]
        names: Vec<String>,
    },
    /// Encrypted records counted after the handshake.
    ApplicationData {
        client_records: u64,
        server_records: u64,
    },
    /// The server's Finished: the handshake completed.
    ServerFinished { at: At },
    /// TLS 1.3: the client's encrypted flight (its Finished, by size).
    ClientFinished { at: At },
    /// TLS 1.3: an encrypted alert (a record too short to be a Finished).
    EncryptedAlert {
        at: At,
        from: Dir,
        record_length: u32,
        /// In place of the sender's Finished.
        instead_of_finished: bool,
        /// And the sender never sent application data.
        no_data_sent: bool,
    },
    /// TLS 1.3: the client's flight, by record length.
    ClientFlight { at: At, record_lengths: Vec<u32> },
    /// TLS 1.3: a first record of the size of an empty Certificate message.
    EmptyCertificateBySize,
    /// TLS 1.3: a flight of Certificate, CertificateVerify and Finished, by size.
    CertificateBySize,
    /// The last message the capture shows.
    LastMessage { at: At, from: Dir, message: Label },
    /// A limit of the analysis ended the connection (`decided`: after its outcome).
    Limit { limit: String, decided: bool },
    /// Retransmissions that carried different bytes for the same sequence numbers.
    ConflictingOverlaps { from: Dir, count: u32 },
    /// QUIC: the client's Initial; `datagrams`: those that carried ClientHello bytes
    /// (its first flight, which a large ClientHello spreads over several, and any
    /// resent); `probes`: those sent unanswered beyond the first flight (ClientHello
    /// bytes resent, or a PING), its probes for an answer.
    QuicInitial {
        at: At,
        version: u32,
        datagrams: u32,
        probes: u32,
    },
    /// QUIC: the server's Version Negotiation and the versions it lists.
    QuicVersionNegotiation { at: At, versions: Vec<u32> },
    /// QUIC: a CONNECTION_CLOSE read in the clear (in an Initial).
    QuicClose {
        at: At,
        from: Dir,
        /// `0x1c` (transport) or `0x1d` (application).
        frame: u8,
        error_code: u64,
        #[serde(serialize_with = "crate::sanitize::ser_json_text")]
        reason: String,
    },
    /// QUIC: ICMP port unreachable answered the client's datagrams (`count` times).
    PortUnreachable { at: At, count: u32 },
    /// QUIC: after the Initials, the client's TCP SYN to the same server and port.
    TcpFallback { at: At },
    /// QUIC: the client's first TCP SYN to the same server and port that the server
    /// never answered, and how many there were (from distinct ports): refused or dropped.
    TcpUnanswered { at: At, count: u32 },
    /// QUIC: the server's Handshake packets came, the client answered only in the
    /// Handshake space and never sent 1-RTT data.
    QuicClientStoppedInHandshake { at: At },
    /// QUIC: the client's first 1-RTT packet.
    QuicFirstShortPacket { at: At },
    /// QUIC: a stateless reset from the server, `len` bytes, and how it is known.
    QuicStatelessReset {
        at: At,
        len: usize,
        proof: crate::quic::attempt::ResetProof,
        /// The client went on sending after it (it does not check for resets).
        client_went_on: bool,
    },
}

impl Detail {
    /// The frame a detail cites, if any: evidence is shown in frame order.
    pub fn at(&self) -> Option<At> {
        use Detail::*;
        match self {
            Syn { at, .. }
            | SynRefused { at }
            | ClientChangeCipherSpecUnanswered { at }
            | Plaintext { at, .. }
            | MidStream { at }
            | Malformed { at, .. }
            | SegmentMissing { at, .. }
            | StreamLost { at, .. }
            | ClientBytes { at, .. }
            | NoTlsData { at }
            | ClientHello { at, .. }
            | ServerHello { at, .. }
            | Alert { at, .. }
            | Close { at, .. }
            | ServerCertificate { at, .. }
            | CertificateRequest { at, .. }
            | ClientCertificate { at, .. }
            | ServerFinished { at }
            | ClientFinished { at }
            | EncryptedAlert { at, .. }
            | ClientFlight { at, .. }
            | LastMessage { at, .. }
            | QuicInitial { at, .. }
            | QuicVersionNegotiation { at, .. }
            | QuicClose { at, .. }
            | PortUnreachable { at, .. }
            | TcpFallback { at }
            | TcpUnanswered { at, .. }
            | QuicClientStoppedInHandshake { at }
            | QuicFirstShortPacket { at }
            | QuicStatelessReset { at, .. } => Some(*at),
            Silence { .. }
            | CaptureEndsAfter { .. }
            | OneSided { .. }
            | SuitesOffered { .. }
            | VersionsOffered { .. }
            | GroupsOffered { .. }
            | LeafOnly { .. }
            | SilentAfterCertificate
            | NoClientAcceptedLeaf
            | HelloNotAcknowledged { .. }
            | AlpnOffered { .. }
            | NoClientCertificate
            | ProfileSharedSuites { .. }
            | ProfileNoSuites
            | ProfileSuitesPicked { .. }
            | ProfileVersions { .. }
            | ProfileCertificateNames { .. }
            | ApplicationData { .. }
            | EmptyCertificateBySize
            | CertificateBySize
            | Limit { .. }
            | ConflictingOverlaps { .. } => None,
        }
    }

    /// The leaf of a [`Detail::ServerCertificate`].
    pub fn leaf(certificates: &[CertFacts]) -> CertFacts {
        certificates.first().cloned().unwrap_or_default()
    }
}

/// Puts details that cite packets in frame order; the others follow in their order.
pub fn order(details: &mut [Detail]) {
    details.sort_by_key(|d| d.at().map_or(u64::MAX, |at| at.frame));
}

fn ser_plaintext_kind<S: serde::Serializer>(v: &PlaintextKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.describe())
}

fn ser_leaf<S: serde::Serializer>(v: &Arc<Vec<CertFacts>>, s: S) -> Result<S::Ok, S::Error> {
    v.first().serialize(s)
}
