//! The record of one handshake attempt — the connection's facts with its verdict, the
//! JSON object of DESIGN.md — and of one capture ([`CaptureReport`]); how a finished
//! connection becomes a record (`pipeline::output`), and which records are only counted
//! ([`ExampleBudget`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;

use crate::capture::OwnedPacket;
use crate::capture::{Damage, Timestamp};
use crate::connection::Connection;
use crate::diagnose::{self, Code, Verdict, Warning};
use crate::flow::{At, Dir};
use crate::report::group::Groups;
use crate::report::servers::ServerTable;
use crate::tls::cert::CertFacts;
use crate::tls::facts::{AlertFacts, Decryption, Event, Malformed, Seen};
use crate::tls::hello::{ClientHelloFacts, ServerHelloFacts};
use crate::tls::suites::sslv2_cipher_name;
use crate::tls::TlsFacts;

/// Counters for the summary line.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    pub packets: u64,
    pub bytes: u64,
    pub tcp_segments: u64,
    pub connections: u64,
    /// QUIC connection attempts (UDP flows that began with a client's Initial).
    pub quic_attempts: u64,
    /// DTLS ClientHellos seen over UDP: counted, not analyzed.
    pub dtls_client_hellos: u64,
    /// Packets whose headers did not parse.
    pub malformed_packets: u64,
    /// Packets of link types this tool does not decode, by link type name.
    pub unsupported_link_types: BTreeMap<String, u64>,
    /// Packets inside encapsulations this tool recognises but does not decode (L2TP,
    /// tunnels nested too deep, …), by [`crate::decode::Encapsulation::name`]: the TLS in
    /// them was not analyzed.
    pub undecoded_encapsulations: BTreeMap<&'static str, u64>,
    /// Connections closed early because the flow table was full (`--max-flows`).
    pub evicted_connections: u64,
}

impl Stats {
    /// What the capture held that is seen but not analyzed (DTLS), as a sentence for
    /// the report and the warning alike; `None` when there was none.
    pub fn dtls_not_analyzed(&self) -> Option<String> {
        (self.dtls_client_hellos > 0).then(|| {
            format!(
                "{} DTLS ClientHello(s) over UDP; DTLS handshakes are not analyzed",
                self.dtls_client_hellos
            )
        })
    }
}

/// Everything found in one capture.
#[derive(Debug)]
pub struct CaptureReport {
    pub name: String,
    pub stats: Stats,
    /// The capture stopped making sense here; what came before was analyzed.
    pub damage: Option<Damage>,
    /// The records kept (all of them from [`crate::pipeline::analyze_bytes`]; a
    /// [`crate::report::collect::Collector`] may keep
    /// fewer), in the order the analysis produced them.
    pub handshakes: Vec<Handshake>,
    /// Every handshake attempt by verdict code, kept or not.
    pub counts: BTreeMap<Code, u64>,
    /// Completed handshakes by warning ("ok, but").
    pub warning_counts: BTreeMap<Warning, u64>,
    pub end: Timestamp,
    /// With `Settings::keep_failing_packets`: the packets of every failing handshake,
    /// in capture order.
    pub failing_packets: Vec<OwnedPacket>,
    /// Failures by code, server and SNI, counted whether their records were kept or not.
    pub groups: Groups,
    /// Handshake attempts by server, counted whether their records were kept or not.
    pub servers: ServerTable,
    /// What keys did for the attempts (all zero when none were given).
    pub keys: KeyCounts,
    /// Attempts and failures over capture time, counted whether kept or not.
    pub timeline: crate::report::timeline::Timeline,
    /// What the servers showed (the versions, suites, protocols and certificate names
    /// of their handshakes), for the servers with the most ServerHellos.
    pub server_profiles:
        std::collections::BTreeMap<SocketAddr, crate::diagnose::profile::ProfileSummary>,
    /// With `Settings::keep_profiles`: the capture's server profiles whole, to merge
    /// with other captures' (`Profiles::merge`, `Profiles::to_bytes`).
    pub profiles: Option<crate::diagnose::Profiles>,
}

/// What keys did for a capture's handshake attempts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KeyCounts {
    /// Keys were given, none for the attempt's client random.
    pub no_secret: u64,
    /// Its records were opened.
    pub opened: u64,
    /// Its secrets were found but did not open its records.
    pub failed: u64,
}

impl KeyCounts {
    pub fn add(&mut self, decryption: Decryption) {
        match decryption {
            Decryption::NoKeys => {}
            Decryption::NoSecret => self.no_secret += 1,
            Decryption::Opened => self.opened += 1,
            Decryption::Failed => self.failed += 1,
        }
    }

    pub fn merge(&mut self, other: &KeyCounts) {
        self.no_secret += other.no_secret;
        self.opened += other.opened;
        self.failed += other.failed;
    }

    /// Attempts that keys were looked up for.
    pub fn looked_up(&self) -> u64 {
        self.no_secret + self.opened + self.failed
    }

    /// What to tell the user when keys did not open every attempt they were given for:
    /// e.g. "the keys matched 3 of 40 handshakes; 2 of them failed to decrypt (a key log
    /// of other connections?)".
    pub fn shortfall(&self) -> Option<String> {
        if self.looked_up() == 0 || self.no_secret == 0 && self.failed == 0 {
            return None;
        }
        let matched = self.opened + self.failed;
        let mut text = format!(
            "the keys matched {matched} of {} handshake(s)",
            self.looked_up()
        );
        if self.failed > 0 {
            text.push_str(&format!(
                "; {} of them failed to decrypt (wrong or damaged key log?)",
                self.failed
            ));
        }
        text.push_str("; the others keep their inferred verdicts");
        Some(text)
    }
}

impl CaptureReport {
    /// Keeps every record, with the packets of the failing ones in capture order.
    pub fn keep_all(&mut self, records: Vec<Finished>) {
        for mut f in records {
            f.tally(&mut self.counts, &mut self.warning_counts, &mut self.keys);
            self.servers.add(f.server, f.code, f.sni());
            let opened = self.groups.add(&mut f);
            self.failing_packets.extend(std::mem::take(&mut f.packets));
            if let Some(h) = f.handshake {
                if let Some(key) = &opened {
                    self.groups.set_example(key, self.handshakes.len());
                }
                self.handshakes.push(*h);
            }
        }
        self.failing_packets.sort_by_key(|p| p.frame);
    }

    /// Handshake attempts, kept or not.
    pub fn attempts(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Failed handshake attempts, kept or not.
    pub fn failed(&self) -> u64 {
        self.attempts() - self.counts.get(&Code::Ok).copied().unwrap_or(0)
    }
}

/// One handshake attempt with its verdict: the JSON object of DESIGN.md (serialized as a
/// [`JsonRecord`] by `report::json`, which words the verdict).
#[derive(Clone, Debug)]
pub struct Handshake {
    pub capture: String,
    pub ts: Timestamp,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub sni: Option<String>,
    /// The version's and the suite's names (`ProtocolVersion::name`,
    /// `CipherSuite::name`): printable ASCII without quotes or backslashes, written into
    /// JSON as they are.
    pub version: Option<Cow<'static, str>>,
    pub cipher: Option<Cow<'static, str>>,
    pub established: bool,
    /// The handshake this attempt belongs to (from the client random): the two legs of
    /// a relay carrying the same ClientHello share it. `None` without a ClientHello.
    pub handshake_id: Option<u64>,
    /// Other legs of the same handshake (a relay's connection to its backend), as
    /// (client, server): filled in by a report that shows the handshake once.
    pub legs: Vec<(SocketAddr, SocketAddr)>,
    pub verdict: Verdict,
    /// "ok, but": what is weak or about to break in a handshake that completed.
    pub warnings: Vec<Warning>,
    /// Frame number of the connection's first packet.
    pub frame: u64,
    /// Frame number of the connection's last packet.
    pub last_frame: u64,
    pub alpn: Option<String>,
    pub client_hello: Option<ClientHelloJson>,
    pub server_hello: Option<ServerHelloFacts>,
    pub hello_retry_request: bool,
    pub certificates: Arc<Vec<CertFacts>>,
    pub alerts: Vec<AlertFacts>,
    pub tcp: crate::flow::TcpFacts,
    /// Bytes that did not parse, and directions that could not be followed.
    pub malformed: Vec<Seen<Malformed>>,
    /// The messages of the handshake in order (the ladder diagram).
    pub messages: Vec<Event>,
    /// A QUIC handshake's own facts (`None`: the handshake ran over TCP).
    pub quic: Option<Box<QuicFacts>>,
    /// Over TCP: the unanswered QUIC attempt this connection fell back from (where it
    /// started).
    pub fallback_from_quic: Option<At>,
}

/// What a QUIC connection attempt showed besides its hellos (the record's `quic`).
#[derive(Clone, Debug, Serialize)]
pub struct QuicFacts {
    /// The version of the client's first Initial.
    pub version: Option<QuicVersion>,
    /// The version the server answered in.
    pub server_version: Option<QuicVersion>,
    /// The server asked the client to prove its address (Retry).
    pub retry: bool,
    /// The versions the server's Version Negotiation listed.
    pub version_negotiation: Option<Vec<QuicVersion>>,
    /// Datagrams with a client Initial (the first and its retransmissions).
    pub client_initials: u32,
    /// ICMP port unreachable answers.
    pub icmp_port_unreachable: u32,
    /// The CONNECTION_CLOSE read in the clear.
    pub connection_close: Option<QuicClose>,
    /// The client's TCP connection to the same server and port that the server answered
    /// (its SYN): after the attempt, racing it, or one it stayed on.
    pub tcp_fallback: Option<At>,
    /// The connection IDs, in hex as Zeek's quic.log names them: the client's first
    /// Destination Connection ID (it keys the Initials), its Source Connection ID and
    /// the server's.
    pub client_initial_dcid: Option<String>,
    pub client_scid: Option<String>,
    pub server_scid: Option<String>,
    /// The client's other addresses, matched by the server's connection ID (NAT
    /// rebinding, migration).
    pub migrated_to: Vec<QuicPathJson>,
    /// A stateless reset from the server after the client's first 1-RTT packets.
    pub stateless_reset: Option<QuicResetJson>,
}

/// A client address an attempt moved to, and where it first appeared.
#[derive(Clone, Debug, Serialize)]
pub struct QuicPathJson {
    #[serde(flatten)]
    pub at: At,
    pub client_ip: std::net::IpAddr,
    pub client_port: u16,
}

/// A stateless reset as the record shows it.
#[derive(Clone, Debug, Serialize)]
pub struct QuicResetJson {
    #[serde(flatten)]
    pub at: At,
    /// The datagram's length.
    pub len: usize,
    /// `token` (it ends in the server's stateless reset token, read with keys) or
    /// `unknown_connection_id` (not addressed to the client's ID, and the client fell
    /// silent).
    pub proof: crate::quic::attempt::ResetProof,
    /// The client sent more after it; `server_continued`: the server sent more than
    /// resets after it. Without keys it is taken for a reset unless both did.
    pub client_continued: bool,
    pub server_continued: bool,
}

/// A QUIC version as `{name, code}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuicVersion(pub u32);

impl Serialize for QuicVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut r = s.serialize_struct("Named", 2)?;
        r.serialize_field("name", &crate::quic::version_name(self.0))?;
        r.serialize_field("code", &self.0)?;
        r.end()
    }
}

/// A CONNECTION_CLOSE frame as the record shows it.
#[derive(Clone, Debug, Serialize)]
pub struct QuicClose {
    #[serde(flatten)]
    pub at: At,
    pub from: Dir,
    /// `transport` (frame 0x1c) or `application` (0x1d).
    pub kind: &'static str,
    pub error_code: u64,
    /// The transport error's name (`CRYPTO_ERROR (no_application_protocol)`); `null`
    /// for an application's code.
    pub error: Option<String>,
    #[serde(serialize_with = "crate::sanitize::ser_json_text")]
    pub reason: String,
}

/// The ClientHello and the frame it was seen in.
#[derive(Clone, Debug, Serialize)]
pub struct ClientHelloJson {
    pub frame: u64,
    #[serde(flatten)]
    pub facts: ClientHelloFacts,
}

impl Handshake {
    /// The handshake resumed a session (as this module's `resumed` tells it).
    pub fn resumed(&self) -> bool {
        resumed(
            self.server_hello.as_ref(),
            self.established,
            self.certificates.is_empty(),
        )
    }
}

/// A completed handshake resumed a session: TLS 1.3 with the server's pre_shared_key
/// extension, or an earlier version completed without the server's Certificate message
/// (session id or ticket).
pub(crate) fn resumed(
    server_hello: Option<&ServerHelloFacts>,
    established: bool,
    no_certificates: bool,
) -> bool {
    let Some(sh) = server_hello.filter(|_| established) else {
        return false;
    };
    if sh.version.is_tls13() {
        sh.extensions
            .contains(&crate::tls::hello::ext::PRE_SHARED_KEY)
    } else {
        no_certificates
    }
}

/// What a record states of the negotiation, the same from the facts as from the
/// record made of them: whether the handshake completed, and the version and suite.
pub(crate) struct Negotiated {
    pub established: bool,
    pub version: Option<Cow<'static, str>>,
    pub cipher: Option<Cow<'static, str>>,
}

impl Negotiated {
    pub(crate) fn of(f: &TlsFacts, verdict: &Verdict) -> Negotiated {
        let sh = f.server_hello.as_ref().map(|s| &s.value);
        Negotiated {
            established: diagnose::handshake_completed(f)
                && !matches!(verdict.code, Code::IncompleteCapture)
                && !verdict.finding.refuses_client_flight(),
            version: sh.map(|s| s.version.name()),
            cipher: if f.sslv2 {
                f.sslv2_cipher.map(sslv2_cipher_name)
            } else {
                sh.map(|s| s.cipher_suite.name())
            },
        }
    }
}

/// How much a record's JSON object carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DetailLevel {
    /// The verdict with its details and the key facts (addresses, names, version,
    /// suite, group, resumption, alerts).
    #[default]
    Compact,
    /// Also the whole hellos, the certificates, the TCP events and the ladder of
    /// messages.
    Full,
}

/// A record as its JSON object at a level of detail (serialized by `report::json`).
#[derive(Clone, Copy, Debug)]
pub struct JsonRecord<'a> {
    pub handshake: &'a Handshake,
    pub detail: DetailLevel,
}

/// One handshake record as the pass produces it, with the packets of its connection
/// when it failed and `Settings::keep_failing_packets` is on.
#[derive(Debug)]
pub struct Finished {
    /// The verdict's code.
    pub code: Code,
    /// The warnings of a handshake that completed (see [`Handshake::warnings`]).
    pub warnings: Vec<Warning>,
    /// The handshake's id (see [`Handshake::handshake_id`]), also for records only
    /// counted.
    pub handshake_id: Option<u64>,
    /// The record; `None` for a successful handshake when `Settings::ok_records` is off,
    /// for a failure the report will not show (`Settings::examples`), and for every one
    /// with `Settings::json_only`.
    /// Boxed: records wait in order, and a small `Finished` is cheap to move.
    pub handshake: Option<Box<Handshake>>,
    pub packets: Vec<OwnedPacket>,
    /// With `Settings::render_json`: the record's JSON line (newline included), made on
    /// the worker that diagnosed it, so serializing runs in parallel too.
    pub json_line: Option<Vec<u8>>,
    /// The server of the attempt, also for records only counted.
    pub server: SocketAddr,
    /// Time of the connection's first packet, also for records only counted.
    pub ts: Timestamp,
    /// Frame number of the connection's first packet, also for records only counted.
    pub frame: u64,
    /// The ClientHello's server_name when there is no `handshake` to hold it (moved,
    /// not copied: see [`Finished::sni`]).
    pub server_name: Option<String>,
    /// What keys did for the attempt.
    pub decryption: Decryption,
    /// The verdict drew on server profiles (what other connections showed): it is made
    /// once the whole capture is read, and with profiles from other files
    /// (`Settings::server_profiles`) it may say more.
    pub cites_profiles: bool,
}

impl Finished {
    /// A finished attempt made from its record alone (live capture hands records on):
    /// no packets, no JSON line.
    pub fn of_record(h: Handshake) -> Finished {
        Finished {
            code: h.verdict.code,
            warnings: h.warnings.clone(),
            handshake_id: h.handshake_id,
            packets: Vec::new(),
            json_line: None,
            server: h.server,
            ts: h.ts,
            frame: h.frame,
            server_name: None,
            decryption: Decryption::default(),
            cites_profiles: false,
            handshake: Some(Box::new(h)),
        }
    }

    /// The ClientHello's server_name, whether the record was made or only counted.
    pub fn sni(&self) -> Option<&str> {
        match &self.handshake {
            Some(h) => h.sni.as_deref(),
            None => self.server_name.as_deref(),
        }
    }

    /// The server_name as an owned string: moved out when the record was only counted,
    /// copied from the record otherwise.
    pub fn take_sni(&mut self) -> Option<String> {
        match &self.handshake {
            Some(h) => h.sni.clone(),
            None => self.server_name.take(),
        }
    }

    /// Counts the record: its code, its warnings and what keys did for it. Returns how
    /// many of its code have been counted, this one included.
    pub fn tally(
        &self,
        counts: &mut BTreeMap<Code, u64>,
        warning_counts: &mut BTreeMap<Warning, u64>,
        keys: &mut KeyCounts,
    ) -> u64 {
        keys.add(self.decryption);
        for &w in &self.warnings {
            *warning_counts.entry(w).or_default() += 1;
        }
        let n = counts.entry(self.code).or_default();
        *n += 1;
        *n
    }
}

/// Which codes have shown their share of examples in a
/// [`crate::report::collect::Collector`]: the records of
/// those codes that are still to come will only be counted. Records reach the collector
/// in their final order, so a code spent now stays spent for every later record.
#[derive(Debug, Default)]
pub struct ExampleBudget {
    spent: [AtomicBool; Code::ALL.len()],
}

impl ExampleBudget {
    pub fn spend(&self, code: Code) {
        self.spent[code as usize].store(true, Ordering::Relaxed);
    }

    /// True when a record of `code` made from now on would not be kept.
    pub fn is_spent(&self, code: Code) -> bool {
        self.spent[code as usize].load(Ordering::Relaxed)
    }
}

/// The record of one handshake attempt, taking its TLS facts.
pub(crate) fn into_record(
    name: &str,
    conn: &Connection,
    mut f: TlsFacts,
    verdict: Verdict,
    warnings: Vec<Warning>,
) -> Handshake {
    let events = f.take_ladder();
    let Negotiated {
        established,
        version,
        cipher,
    } = Negotiated::of(&f, &verdict);
    let alpn = f.server_hello.as_ref().and_then(|s| s.value.alpn.clone());
    let TlsFacts {
        client_hello,
        server_hello,
        hello_retry_request,
        server_certificates,
        alerts,
        malformed,
        ..
    } = f;
    Handshake {
        capture: name.to_string(),
        ts: conn.first.ts,
        client: conn.client,
        server: conn.server,
        sni: client_hello
            .as_ref()
            .and_then(|c| c.value.server_name.clone()),
        version,
        cipher,
        established,
        handshake_id: client_hello.as_ref().map(|c| c.value.handshake_id),
        legs: Vec::new(),
        warnings,
        verdict,
        frame: conn.first.frame,
        last_frame: conn.last.frame,
        alpn,
        client_hello: client_hello.map(|c| ClientHelloJson {
            frame: c.at.frame,
            facts: c.value,
        }),
        server_hello: server_hello.map(|s| s.value),
        hello_retry_request: hello_retry_request.is_some(),
        certificates: server_certificates
            .map(|c| c.value.certificates)
            .unwrap_or_default(),
        alerts,
        tcp: conn.tcp.clone(),
        malformed,
        messages: events,
        quic: None,
        fallback_from_quic: conn.fallback_from_quic(),
    }
}

/// The record of a QUIC connection attempt with its verdict.
pub(crate) fn quic_record(
    name: &str,
    flow: crate::quic::table::QuicFlow,
    verdict: Verdict,
) -> Handshake {
    let crate::quic::table::QuicFlow {
        client,
        server,
        attempt: mut a,
        tcp_fallback,
        paths,
        ..
    } = flow;
    let first = a.first.unwrap_or_default();
    // The client completed the handshake, and the server did not reset it.
    let established = a.short_packets[0] > 0 && a.reset().is_none();
    let sh = a.server_hello.as_ref();
    let connection_close = a.close.as_ref().map(|c| QuicClose {
        at: c.at,
        from: c.from,
        kind: if c.frame == 0x1d {
            "application"
        } else {
            "transport"
        },
        error_code: c.error_code,
        error: (c.frame != 0x1d).then(|| crate::quic::transport_error_name(c.error_code)),
        reason: crate::sanitize::text_from_wire(&c.reason),
    });
    let alerts = a
        .close
        .as_ref()
        .and_then(|c| c.tls_alert().map(|alert| (c, alert)))
        .map(|(c, alert)| {
            let mut facts = AlertFacts::new(c.at, c.from, Some([2, alert]), false);
            // Read in a Handshake packet opened with keys.
            facts.encrypted = c.decrypted;
            facts.decrypted = c.decrypted;
            facts
        })
        .into_iter()
        .collect();
    Handshake {
        capture: name.to_string(),
        ts: first.ts,
        client,
        server,
        sni: a.client_hello.as_ref().and_then(|c| c.server_name.clone()),
        version: sh.map(|s| s.version.name()),
        cipher: sh.map(|s| s.cipher_suite.name()),
        established,
        handshake_id: a.client_hello.as_ref().map(|c| c.handshake_id),
        legs: Vec::new(),
        verdict,
        warnings: Vec::new(),
        frame: first.frame,
        last_frame: a.last.unwrap_or(first).frame,
        // The server's choice is in its EncryptedExtensions: read with keys only.
        alpn: a.selected_alpn.clone(),
        client_hello: a.client_hello.clone().map(|facts| ClientHelloJson {
            frame: a.client_hello_at.unwrap_or(first).frame,
            facts,
        }),
        server_hello: a.server_hello.clone(),
        hello_retry_request: sh.is_some_and(|s| s.hello_retry_request),
        certificates: a.server_certificates.clone().unwrap_or_default(),
        alerts,
        tcp: Default::default(),
        malformed: Vec::new(),
        messages: std::mem::take(&mut a.events),
        quic: Some(Box::new(QuicFacts {
            version: a.client_version.map(QuicVersion),
            server_version: a.server_version.map(QuicVersion),
            retry: a.retry,
            version_negotiation: a
                .version_negotiation
                .as_ref()
                .map(|v| v.iter().copied().map(QuicVersion).collect()),
            client_initials: a.client_initials,
            icmp_port_unreachable: a.port_unreachable,
            connection_close,
            tcp_fallback,
            client_initial_dcid: a.original_dcid.map(|c| c.to_hex()),
            client_scid: a.client_cid.map(|c| c.to_hex()),
            server_scid: a.server_cid.map(|c| c.to_hex()),
            migrated_to: paths
                .iter()
                .map(|p| QuicPathJson {
                    at: p.at,
                    client_ip: p.client.ip(),
                    client_port: p.client.port(),
                })
                .collect(),
            stateless_reset: a.stateless_reset.map(|r| QuicResetJson {
                at: r.at,
                len: r.len,
                proof: r.proof,
                client_continued: a.client_after_reset,
                server_continued: a.server_after_reset,
            }),
        })),
        fallback_from_quic: None,
    }
}
