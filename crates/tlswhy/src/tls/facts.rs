//! What a TLS conversation showed, as facts the diagnosis reads: the hellos, the
//! certificates, alerts, encrypted records by size, plain text, what did not parse, and
//! the ladder of messages — each with where it was seen ([`Seen`]).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::alert::{AlertDescription, AlertLevel};
use super::cert::CertFacts;
use super::hello::{ClientHelloFacts, ServerHelloFacts};
use super::plaintext::PlaintextKind;
use super::trim::trim;
use super::wire::{CipherSuite, ProtocolVersion};
use crate::flow::At;
use crate::flow::Dir;

/// A fact together with where it was seen.
#[derive(Clone, Debug, Serialize)]
pub struct Seen<T> {
    #[serde(flatten)]
    pub at: At,
    #[serde(flatten)]
    pub value: T,
}

/// One alert: plaintext (level and description known) or encrypted (only its existence).
#[derive(Clone, Debug)]
pub struct AlertFacts {
    pub at: At,
    pub from: Dir,
    pub level: Option<AlertLevel>,
    pub description: Option<AlertDescription>,
    /// Sent in a protected record.
    pub encrypted: bool,
    /// Protected, and opened with keys: its level and description are known.
    pub decrypted: bool,
    /// The protected record's length on the wire (what an encrypted alert shows of
    /// itself); 0 when not known.
    pub record_length: u16,
}

/// `{frame, ts, from, level, description, encrypted}` and `decrypted` when true: the
/// place it was seen and the alert in one object, written field by field (a failure's
/// record lists its alerts; `#[serde(flatten)]` would go through a map).
impl Serialize for AlertFacts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut r = s.serialize_struct("AlertFacts", 6 + usize::from(self.decrypted))?;
        r.serialize_field("frame", &self.at.frame)?;
        r.serialize_field("ts", &self.at.ts.as_secs_f64_micros())?;
        r.serialize_field("from", &self.from)?;
        r.serialize_field("level", &self.level.map(AlertLevel::name))?;
        r.serialize_field("description", &self.description)?;
        r.serialize_field("encrypted", &self.encrypted)?;
        if self.decrypted {
            r.serialize_field("decrypted", &true)?;
        }
        r.end()
    }
}

impl AlertFacts {
    /// An alert as read: `alert`, its level and description bytes when they could be
    /// read; `encrypted`, sent in a protected record (then readable only when it was
    /// opened with keys: it is `decrypted`).
    pub fn new(at: At, from: Dir, alert: Option<[u8; 2]>, encrypted: bool) -> AlertFacts {
        AlertFacts {
            at,
            from,
            level: alert.map(|a| AlertLevel(a[0])),
            description: alert.map(|a| AlertDescription(a[1])),
            encrypted,
            decrypted: encrypted && alert.is_some(),
            record_length: 0,
        }
    }

    pub fn is_fatal(&self) -> bool {
        self.level == Some(AlertLevel::FATAL)
    }

    /// Encrypted and not opened: only its existence (and size) is known.
    pub fn is_opaque(&self) -> bool {
        self.encrypted && !self.decrypted
    }

    /// How the alert reads in evidence.
    pub fn describe(&self) -> String {
        match (self.level, self.description) {
            (Some(l), Some(d)) if self.decrypted => format!("{} alert {} (decrypted)", l.name(), d),
            (Some(l), Some(d)) => format!("{} alert {}", l.name(), d),
            _ => "encrypted alert".to_string(),
        }
    }
}

/// Encrypted (application_data) records of one direction.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EncryptedRecords {
    /// The first records: where and how long.
    pub first: Vec<(At, u32)>,
    pub count: u64,
    pub bytes: u64,
}

/// Non-TLS bytes a peer sent.
#[derive(Clone, Debug, Serialize)]
pub struct PlaintextFacts {
    #[serde(serialize_with = "ser_kind")]
    pub kind: PlaintextKind,
    /// First line, escaped; the first bytes in hex when they are not text.
    #[serde(serialize_with = "crate::sanitize::ser_json_text")]
    pub first_line: String,
    /// The bytes read as text (a known protocol, or printable ASCII), not binary.
    #[serde(skip)]
    pub text: bool,
    /// The first TLS record after these bytes sat inside a segment, behind this
    /// protocol's bytes (an upgrade puts it at a segment's start).
    #[serde(skip)]
    pub record_inside_segment: bool,
    /// The server: when it first sent bytes that were not TLS after the client's
    /// ClientHello (its answer to it, as opposed to a greeting or a STARTTLS exchange
    /// before it).
    #[serde(skip)]
    pub after_client_hello: Option<At>,
}

fn ser_kind<S: serde::Serializer>(v: &PlaintextKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.describe())
}

/// A line of the ladder diagram: who sent what, when.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    #[serde(flatten)]
    pub at: At,
    pub from: Dir,
    /// What was seen.
    pub what: Label,
}

/// What a ladder line says: a fixed label, one made for its message, or an encrypted
/// record, spelled out only when shown (most connections' ladders never are, and a
/// connection has up to a dozen such records).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Label {
    Text(Cow<'static, str>),
    /// An application_data record: `encrypted record (N bytes)` in TLS 1.3,
    /// `ApplicationData (N bytes)` before.
    Encrypted {
        tls13: bool,
        len: u32,
    },
    /// `ServerHello (VERSION, SUITE)`.
    ServerHello {
        version: ProtocolVersion,
        suite: CipherSuite,
    },
    /// The server's Certificate message: `Certificate (N in chain, leaf NAME)` (the
    /// chain's facts are shared with the chain cache).
    ServerCertificate {
        chain_length: u32,
        certificates: Arc<Vec<CertFacts>>,
    },
    /// A QUIC datagram: its packets, a close's error, its size.
    QuicDatagram(crate::quic::ladder::DatagramLine),
    /// The conversation's first ClientHello (`second`: the one after a
    /// HelloRetryRequest), spelled from its facts when the ladder leaves the
    /// conversation ([`TlsFacts::spelled`]); alone it only says `ClientHello`.
    ClientHello {
        second: bool,
    },
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Label::Text(text) => f.write_str(text),
            Label::Encrypted { tls13: true, len } => write!(f, "encrypted record ({len} bytes)"),
            Label::Encrypted { tls13: false, len } => write!(f, "ApplicationData ({len} bytes)"),
            Label::ServerHello { version, suite } => write!(f, "ServerHello ({version}, {suite})"),
            Label::ServerCertificate {
                chain_length,
                certificates,
            } => {
                let leaf = certificates
                    .first()
                    .map_or("empty", |c| c.common_name.as_deref().unwrap_or(&c.subject));
                write!(f, "Certificate ({chain_length} in chain, leaf {leaf})")
            }
            Label::QuicDatagram(line) => line.fmt(f),
            Label::ClientHello { .. } => f.write_str("ClientHello"),
        }
    }
}

impl Serialize for Label {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Label::Text(text) => s.serialize_str(&crate::sanitize::json_text(text)),
            // Only the leaf's name comes from the wire; the other labels are ours.
            certificate @ Label::ServerCertificate { .. } => {
                s.serialize_str(&crate::sanitize::json_text(&certificate.to_string()))
            }
            ours => s.collect_str(ours),
        }
    }
}

impl PartialEq<&str> for Label {
    fn eq(&self, other: &&str) -> bool {
        match self {
            Label::Text(text) => text == other,
            spelled_out => {
                let shown = spelled_out.to_string();
                shown == *other
            }
        }
    }
}

impl<T: Into<Cow<'static, str>>> From<T> for Label {
    fn from(text: T) -> Label {
        Label::Text(text.into())
    }
}

/// Everything the conversation showed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TlsFacts {
    pub client_hello: Option<Seen<ClientHelloFacts>>,
    /// The ClientHello sent again after a HelloRetryRequest. (This and the other rare
    /// parts are boxed: every connection carries the facts, and while it waits for its
    /// verdict (server profiles) the unused room would be held for nothing.)
    pub second_client_hello: Option<Box<Seen<ClientHelloFacts>>>,
    pub hello_retry_request: Option<Box<Seen<ServerHelloFacts>>>,
    pub server_hello: Option<Seen<ServerHelloFacts>>,
    pub server_certificates: Option<Seen<CertChain>>,
    pub certificate_request: Option<At>,
    /// The issuers the CertificateRequest accepts client certificates from (its
    /// certificate_authorities; empty when it names none).
    #[serde(serialize_with = "crate::sanitize::ser_json_texts")]
    pub accepted_issuers: Box<[String]>,
    /// Boxed (rare, and with its names it is as large as the rest of a hello).
    pub client_certificate: Option<Box<Seen<CertCount>>>,
    /// ChangeCipherSpec per direction: [client, server].
    pub change_cipher_spec: [Option<At>; 2],
    /// TLS ≤ 1.2: the first encrypted handshake record after ChangeCipherSpec (Finished).
    pub finished: [Option<At>; 2],
    pub alerts: Vec<AlertFacts>,
    /// application_data records per direction: [client, server].
    pub encrypted: [EncryptedRecords; 2],
    /// heartbeat records (RFC 6520) per direction: [client, server]. After the
    /// handshake they are protected traffic like data; before it, not a step of any
    /// handshake (Heartbleed probes send them there).
    pub heartbeats: [u16; 2],
    /// TLS ≤ 1.2: protected handshake records after the side's Finished (a
    /// renegotiation's hello), per direction: [client, server].
    pub renegotiation: [u16; 2],
    pub plaintext: [Option<Box<Seen<PlaintextFacts>>>; 2],
    /// Bytes that claimed to be TLS but did not parse.
    pub malformed: Vec<Seen<Malformed>>,
    /// A direction whose stream could not be followed any more (lost segment, limit).
    pub lost: [Option<Box<Seen<Reason>>>; 2],
    /// The server answered in SSL 2.0 (whose records are not followed past the
    /// client's CLIENT-MASTER-KEY).
    pub sslv2: bool,
    /// SSL 2.0: the cipher kind (3 bytes) the client chose in its CLIENT-MASTER-KEY, or
    /// the server's only one.
    pub sslv2_cipher: Option<u32>,
    /// TLS ≤ 1.2: the session ticket the server issued in its NewSessionTicket
    /// ([`super::hello::session_digest`]; 0: none).
    #[serde(skip)]
    pub issued_ticket: u64,
    /// Whether keys were looked for, found and used.
    pub decryption: Decryption,
    /// Records of each direction were opened with keys: [client, server].
    pub decrypted: [bool; 2],
    /// Handshake messages seen, per direction, for the ladder.
    pub events: Vec<Event>,
    pub events_dropped: u32,
}

impl TlsFacts {
    /// The client's stream was lost inside its ClientHello's first record
    /// ([`Reason::in_client_hello`]).
    pub fn client_hello_cut(&self) -> bool {
        self.lost[0]
            .as_ref()
            .is_some_and(|l| l.value.in_client_hello)
    }

    /// The suite the ServerHello selected (0 before one).
    pub fn negotiated_suite(&self) -> u16 {
        self.server_hello
            .as_ref()
            .map_or(0, |sh| sh.value.cipher_suite.0)
    }

    /// The ServerHello selected TLS 1.3 (or a draft): everything after it is encrypted.
    /// The one definition of "TLS 1.3" that the conversation, the diagnosis and the
    /// records use.
    pub fn negotiated_tls13(&self) -> bool {
        self.server_hello
            .as_ref()
            .is_some_and(|sh| sh.value.version.is_tls13())
    }

    /// `label` as it is shown: a ClientHello's spelled from the hello's facts (see
    /// [`Label::ClientHello`]), any other as it is.
    pub fn spelled(&self, label: &Label) -> Label {
        let Label::ClientHello { second } = *label else {
            return label.clone();
        };
        let hello = match second {
            false => self.client_hello.as_ref(),
            true => self.second_client_hello.as_deref(),
        };
        match hello {
            Some(hello) => Label::Text(hello.value.ladder_label().into()),
            None => label.clone(),
        }
    }

    /// The ladder, taken out of the facts with every label as it is shown.
    pub fn take_ladder(&mut self) -> Vec<Event> {
        let mut events = std::mem::take(&mut self.events);
        for event in &mut events {
            if matches!(event.what, Label::ClientHello { .. }) {
                event.what = self.spelled(&event.what);
            }
        }
        events
    }

    /// Moves the lists to allocations of their exact size (the facts will not grow any
    /// more; allocators keep a block in place when it shrinks by less than half).
    pub fn trim_lists(&mut self) {
        trim(&mut self.alerts);
        trim(&mut self.malformed);
        trim(&mut self.events);
        if let Some(hello) = &mut self.client_hello {
            hello.value.trim_lists();
        }
        if let Some(hello) = &mut self.second_client_hello {
            hello.value.trim_lists();
        }
    }
}

/// What keys did for a conversation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decryption {
    /// No keys were given for the capture (or the conversation has no ClientHello).
    #[default]
    NoKeys,
    /// Keys were given, none for this client random.
    NoSecret,
    /// The secrets were found and records opened with them.
    Opened,
    /// The secrets were found but could not be used: the records did not authenticate
    /// (another connection's secrets, a wrong file) or the suite is not one this tool
    /// decrypts.
    Failed,
}

/// A certificate chain as sent.
#[derive(Clone, Debug, Serialize)]
pub struct CertChain {
    /// Shared between connections that received the same chain.
    pub certificates: Arc<Vec<CertFacts>>,
    /// Number of certificates in the message (may exceed the kept ones).
    pub chain_length: usize,
}

/// How many certificates a Certificate message carried.
#[derive(Clone, Debug, Serialize)]
pub struct CertCount {
    pub chain_length: usize,
    /// The first certificate's subject and issuer (none for an empty message).
    #[serde(
        serialize_with = "crate::sanitize::ser_json_opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub subject: Option<String>,
    #[serde(
        serialize_with = "crate::sanitize::ser_json_opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub issuer: Option<String>,
}

/// What did not parse.
#[derive(Clone, Debug, Serialize)]
pub struct Malformed {
    pub from: Dir,
    #[serde(serialize_with = "crate::sanitize::ser_json_text")]
    pub what: String,
}

/// Why a direction stopped being followed, or a handshake message in it was skipped.
#[derive(Clone, Debug, Serialize)]
pub struct Reason {
    pub reason: String,
    /// Only a handshake message was skipped: the record layer was followed on past it,
    /// so a later ChangeCipherSpec and Finished still count.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub followed_on: bool,
    /// The client's stream was lost inside a record that starts a ClientHello (a snap
    /// length that kept only its start): a handshake attempt whose hello is not read.
    #[serde(skip)]
    pub in_client_hello: bool,
}
