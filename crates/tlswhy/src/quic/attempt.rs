//! One QUIC connection attempt as a passive observer follows it, datagram by datagram:
//! the Initial packets opened with the keys of the client's first Destination
//! Connection ID (new keys after a Retry), their CRYPTO frames reassembled into the
//! ClientHello and the ServerHello (bounded), Version Negotiation, Retry, a
//! CONNECTION_CLOSE in the clear, which packet spaces each side reached, the connection
//! IDs, a stateless reset from the server, and ICMP port unreachable answers.
//! [`QuicAttempt::outcome`] says what became of it, from these facts alone.

use std::collections::BTreeMap;

use std::sync::Arc;

use super::frames::initial_frames;
use super::ids::{is_stateless_reset, ConnectionId, MIN_STATELESS_RESET};
use super::initial::{initial_keys, InitialKeys};
use super::ladder::DatagramLine;
use super::packet::{packets, LongPacket, LongType, QuicPacket};
use super::protection::SpaceKeys;
use crate::capture::Timestamp;
use crate::flow::{At, Dir};
use crate::keys::KeySources;
use crate::tls::cert::CertFacts;
use crate::tls::facts::{Event, Label};
use crate::tls::hello::{
    parse_client_hello, parse_server_hello, ClientHelloFacts, ServerHelloFacts,
};

/// Bytes of one side's Initial CRYPTO stream kept at most (a ClientHello with a
/// post-quantum key share is ~1.8 KB; a server's Initial holds only its ServerHello).
const CRYPTO_LIMIT: usize = 16 * 1024;
/// CRYPTO frames waiting for the bytes before them, at most.
const CRYPTO_PIECES: usize = 64;
/// Bytes of a CONNECTION_CLOSE reason phrase kept.
const REASON_LIMIT: usize = 256;
/// Certificates of a chain kept.
const MAX_CHAIN: usize = 8;
/// Datagrams of the ladder kept (the rest are counted only).
pub const MAX_EVENTS: usize = 40;

/// A CONNECTION_CLOSE read in the clear (in an Initial).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Close {
    pub at: At,
    pub from: Dir,
    /// `0x1c` (transport) or `0x1d` (application).
    pub frame: u8,
    pub error_code: u64,
    /// The reason phrase as sent (cut at `REASON_LIMIT` bytes), not yet sanitized.
    pub reason: Vec<u8>,
    /// Read in a Handshake packet opened with keys (else in an Initial, in the clear).
    pub decrypted: bool,
}

impl Close {
    /// The TLS alert a crypto error carries (0x0100 + alert, RFC 9001 §4.8).
    pub fn tls_alert(&self) -> Option<u8> {
        (self.frame == 0x1c && (0x100..0x200).contains(&self.error_code))
            .then(|| (self.error_code - 0x100) as u8)
    }
}

/// How a datagram from the server is known to be a stateless reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetProof {
    /// It ends in the stateless reset token of the server's transport parameters
    /// (read with keys).
    Token,
    /// Without keys: shaped as a short-header packet, but not addressed to the client's
    /// connection ID, and after it the client fell silent or the server sent nothing
    /// else (a client that does not check for resets goes on alone).
    UnknownConnectionId,
}

/// A stateless reset (RFC 9000 §10.3) from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatelessReset {
    pub at: At,
    /// The datagram's length.
    pub len: usize,
    pub proof: ResetProof,
}

/// One side's CRYPTO stream of the Initial space, reassembled from its frames in any
/// order.
#[derive(Debug, Default)]
struct CryptoStream {
    contiguous: Vec<u8>,
    /// Frames beyond the contiguous bytes, by offset.
    pending: BTreeMap<u64, Vec<u8>>,
    /// More than the limits allow arrived: the rest is not read.
    overflowed: bool,
}

impl CryptoStream {
    /// Takes a CRYPTO frame's bytes; whether they are new (neither bytes already held
    /// nor a piece already waiting: a retransmission is not new).
    fn add(&mut self, offset: u64, data: &[u8]) -> bool {
        if self.overflowed {
            return false;
        }
        let end = offset.saturating_add(data.len() as u64);
        if end > CRYPTO_LIMIT as u64 || self.pending.len() >= CRYPTO_PIECES {
            self.overflowed = true;
            return false;
        }
        if end <= self.contiguous.len() as u64 || self.pending.contains_key(&offset) {
            return false; // a retransmission
        }
        self.pending.insert(offset, data.to_vec());
        while let Some(entry) = self.pending.first_entry() {
            let start = *entry.key() as usize;
            if start > self.contiguous.len() {
                break;
            }
            let piece = entry.remove();
            let skip = self.contiguous.len() - start;
            if let Some(new) = piece.get(skip..) {
                self.contiguous.extend_from_slice(new);
            }
        }
        true
    }

    /// The body of the first handshake message of `ty`, once it is all there.
    fn first_message(&self, ty: u8) -> Option<&[u8]> {
        let b = &self.contiguous;
        if b.len() < 4 || b[0] != ty {
            return None;
        }
        let len = u32::from_be_bytes([0, b[1], b[2], b[3]]) as usize;
        b.get(4..4 + len)
    }
}

/// What the packets of one attempt showed.
#[derive(Debug, Default)]
pub struct QuicAttempt {
    pub first: Option<At>,
    pub last: Option<At>,
    /// The version of the client's first Initial.
    pub client_version: Option<u32>,
    /// The version of the server's first Initial.
    pub server_version: Option<u32>,
    /// The versions a Version Negotiation packet listed, and where it was.
    pub version_negotiation: Option<Vec<u32>>,
    pub version_negotiation_at: Option<At>,
    pub retry: bool,
    pub client_hello: Option<ClientHelloFacts>,
    pub server_hello: Option<ServerHelloFacts>,
    /// Where the last bytes of each hello arrived.
    pub client_hello_at: Option<At>,
    pub server_hello_at: Option<At>,
    /// The last datagram with a client Initial.
    pub last_client_initial: Option<At>,
    /// The client's last Handshake-space packet.
    pub last_client_handshake: Option<At>,
    /// The first ICMP port unreachable.
    pub first_port_unreachable: Option<At>,
    /// The first CONNECTION_CLOSE read in the clear.
    pub close: Option<Close>,
    /// The client's first Destination Connection ID (it keys the Initials), its Source
    /// Connection ID and the server's (from their first long-header packets).
    pub original_dcid: Option<ConnectionId>,
    pub client_cid: Option<ConnectionId>,
    pub server_cid: Option<ConnectionId>,
    /// The client's first 1-RTT packet.
    pub first_client_short: Option<At>,
    /// The server's first 1-RTT packet after it, addressed to the client: the
    /// connection works both ways.
    pub server_short_answer: Option<At>,
    /// A datagram from the server that is (or looks like) a stateless reset, after the
    /// client's 1-RTT packets.
    pub stateless_reset: Option<StatelessReset>,
    /// The client sent a datagram after [`QuicAttempt::stateless_reset`].
    pub client_after_reset: bool,
    /// The server sent a datagram after it that is not one more reset.
    pub server_after_reset: bool,
    /// The client's datagrams came from another address too (NAT rebinding,
    /// migration), matched by the server's connection ID: a server's connection ID is
    /// then no longer evidence of a reset (it must use new ones on a new path).
    pub migrated: bool,
    /// With keys: the stateless reset token of the server's transport parameters.
    pub stateless_reset_token: Option<[u8; 16]>,
    /// The ladder: each datagram's packets (and what its Initials carried), the first
    /// [`MAX_EVENTS`].
    pub events: Vec<Event>,
    /// Datagrams with a client Initial (the first, its retransmissions, its ACKs).
    pub client_initials: u32,
    /// Datagrams whose client Initial carried ClientHello bytes (the first flight and
    /// its retransmissions).
    pub client_hello_datagrams: u32,
    /// Datagrams with a client Initial sent while nothing had come from the server
    /// that resent ClientHello bytes or held no new ones and no close: the client's
    /// probes for an answer (RFC 9002 §6.2.4). A first flight of several datagrams
    /// (a post-quantum key share makes a ClientHello of two) is not one.
    pub client_probes: u32,
    /// Datagrams from the server, of any kind.
    pub server_datagrams: u32,
    /// Packets of the Handshake space, per side: [client, server].
    pub handshake_packets: [u32; 2],
    /// Short-header (1-RTT) packets, per side: [client, server].
    pub short_packets: [u32; 2],
    /// ICMP port unreachable answers to the client's datagrams.
    pub port_unreachable: u32,
    /// Bytes that did not parse as QUIC, or Initials that did not open.
    pub unreadable: u32,
    /// Handshake packets opened with keys from a key log, per side.
    pub handshake_opened: [u32; 2],
    /// With keys: the protocol the server selected (EncryptedExtensions), and its
    /// certificates (Certificate) and where they were.
    pub selected_alpn: Option<String>,
    pub server_certificates: Option<Arc<Vec<CertFacts>>>,
    pub certificates_at: Option<At>,
    /// The capture time up to which the attempt was watched: when it was taken as over
    /// (the end of the capture for one still open then). `None`: to its last datagram
    /// and beyond, as long as its outcome needs.
    pub watched_until: Option<Timestamp>,
    /// The client random of the ClientHello (the key log's index).
    client_random: Option<[u8; 32]>,
    /// Boxed: about 3 KB of key schedules, and attempts move (into the table, out of
    /// it, into their record).
    keys: Option<Box<InitialKeys>>,
    /// The Handshake space's keys per side, once looked up.
    handshake_keys: Option<[Option<SpaceKeys>; 2]>,
    crypto: [CryptoStream; 2],
    /// The Handshake space's CRYPTO streams and how far their messages were read.
    handshake_crypto: [CryptoStream; 2],
    handshake_read: [usize; 2],
}

impl QuicAttempt {
    /// The Initial keys are known: the client's first Initial was of a version whose
    /// Initial protection this reads.
    pub fn initial_keys_known(&self) -> bool {
        self.keys.is_some()
    }
}

/// What became of an attempt, as a passive observer without keys can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuicOutcome {
    /// The client reached 1-RTT packets and nothing closed it with an error.
    Completed,
    /// The server closed it with no_application_protocol (crypto error 0x178).
    AlpnMismatch,
    /// The server closed it with handshake_failure (0x128): no cipher suite or group in
    /// common.
    NoSharedCipher,
    /// The server asked for a client certificate it did not get (0x174).
    ClientCertRequired,
    /// The client stopped after the server's flight with the certificate: it rejected
    /// it (a certificate alert in the clear, or only Handshake packets and no 1-RTT
    /// from the client).
    CertRejected,
    /// Version Negotiation answered, no version in common, and the client gave up.
    VersionMismatch,
    /// Another CONNECTION_CLOSE with a transport error.
    TransportError,
    /// The server answered the client's first 1-RTT packets with a stateless reset: it
    /// had no state for the connection.
    StatelessReset,
    /// Every client datagram was answered with ICMP port unreachable.
    ConnectionRefused,
    /// The client's Initials were never answered: it probed for an answer (resent its
    /// ClientHello or a PING), or closed after waiting a second or more.
    UdpBlocked,
    /// The client closed the attempt itself before any answer, sooner than a second
    /// and without probing: it gave up on QUIC, not on an answer.
    ClientCancelled,
    /// The capture ends before the attempt's outcome shows.
    Incomplete,
}

impl QuicOutcome {
    /// The verdict code of the catalog; `tcp_followed`: the client then connected over
    /// TCP to the same server and port (browsers and curl fall back to it).
    pub fn code_with_fallback(self, tcp_followed: bool) -> &'static str {
        match self {
            QuicOutcome::UdpBlocked if tcp_followed => "quic_blocked_fell_back_to_tcp",
            _ => self.code(),
        }
    }

    /// The verdict code of the catalog.
    pub fn code(self) -> &'static str {
        match self {
            QuicOutcome::Completed => "ok",
            QuicOutcome::AlpnMismatch => "alpn_mismatch",
            QuicOutcome::NoSharedCipher => "no_shared_cipher",
            QuicOutcome::ClientCertRequired => "client_cert_required",
            QuicOutcome::CertRejected => "cert_rejected",
            QuicOutcome::VersionMismatch => "quic_version_mismatch",
            QuicOutcome::TransportError => "quic_transport_error",
            QuicOutcome::StatelessReset => "quic_stateless_reset",
            QuicOutcome::ConnectionRefused => "connection_refused",
            QuicOutcome::UdpBlocked => "udp_blocked",
            QuicOutcome::ClientCancelled => "client_aborted",
            QuicOutcome::Incomplete => "incomplete_capture",
        }
    }
}

/// TLS alerts a client sends about the server's certificate.
const CERTIFICATE_ALERTS: [u8; 6] = [42, 43, 44, 45, 46, 48];

impl QuicAttempt {
    /// Reads one UDP datagram of the attempt.
    pub fn on_datagram(&mut self, dir: Dir, at: At, datagram: &[u8]) {
        self.on_datagram_with_keys(dir, at, datagram, None);
    }

    /// Reads one UDP datagram; with `keys`, Handshake packets are opened with the
    /// handshake traffic secrets they hold for this connection's client random.
    pub fn on_datagram_with_keys(
        &mut self,
        dir: Dir,
        at: At,
        datagram: &[u8],
        keys: Option<&KeySources>,
    ) {
        self.first.get_or_insert(at);
        self.last = Some(at);
        let side = match dir {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        };
        let after_reset = self.stateless_reset.is_some();
        if dir == Dir::ToClient {
            self.server_datagrams += 1;
            if after_reset && !self.reset_shaped(datagram) {
                self.server_after_reset = true;
            }
        } else if after_reset {
            self.client_after_reset = true;
        }
        let (found, damaged) = packets(datagram);
        self.unreadable += u32::from(damaged);
        let mut client_initial = false;
        let mut client_hello_bytes = false;
        let mut new_hello_bytes = false;
        let mut closing = false;
        let mut ladder = DatagramLine::default();
        let resets = self.stateless_reset.is_some();
        for packet in found {
            ladder.add(&packet);
            match packet {
                QuicPacket::VersionNegotiation { versions, .. } => {
                    if self.version_negotiation.is_none() {
                        self.version_negotiation = Some(versions);
                        self.version_negotiation_at = Some(at);
                    }
                }
                QuicPacket::Short(packet) => {
                    self.short_packets[side] += 1;
                    if side == 0 {
                        self.first_client_short.get_or_insert(at);
                    } else if self.first_client_short.is_some() {
                        // The whole datagram when nothing came before it.
                        let alone = packet.len() == datagram.len();
                        self.server_short_packet(at, packet, alone);
                    }
                }
                QuicPacket::Long(long) => match long.kind {
                    LongType::Retry => {
                        // The client starts over with new keys, and a ClientHello of
                        // its own (some stacks make a new one, with a new random).
                        self.retry = true;
                        // The Initials after it are a new flight, not retransmissions.
                        self.client_hello_datagrams = 0;
                        self.keys = None;
                        self.crypto[0] = CryptoStream::default();
                        self.client_hello = None;
                        self.client_random = None;
                    }
                    LongType::Handshake => {
                        self.note_cids(dir, &long);
                        self.handshake_packets[side] += 1;
                        if dir == Dir::ToServer {
                            self.last_client_handshake = Some(at);
                        }
                        if let Some(sources) = keys {
                            self.open_handshake(&long, dir, at, sources);
                        }
                    }
                    LongType::ZeroRtt => {}
                    LongType::Initial => {
                        self.note_cids(dir, &long);
                        if dir == Dir::ToServer {
                            client_initial = true;
                            self.client_version.get_or_insert(long.version);
                            if self.keys.is_none() {
                                // From the client's first Destination Connection ID
                                // (RFC 9001 §5.2), whatever it sends to later.
                                self.keys = initial_keys(long.version, long.dcid).map(Box::new);
                            }
                        } else {
                            self.server_version.get_or_insert(long.version);
                        }
                        let Some(keys) = &self.keys else {
                            self.unreadable += 1;
                            continue;
                        };
                        let packet_keys = if side == 0 {
                            &keys.client
                        } else {
                            &keys.server
                        };
                        let Some(opened) = long.open(packet_keys) else {
                            self.unreadable += 1;
                            continue;
                        };
                        let frames = initial_frames(&opened.payload);
                        ladder.initial_frames(&frames);
                        self.unreadable += u32::from(frames.malformed);
                        client_hello_bytes |= side == 0 && !frames.crypto.is_empty();
                        for (offset, data) in frames.crypto {
                            new_hello_bytes |= self.crypto[side].add(offset, data) && side == 0;
                        }
                        closing |= frames.close.is_some();
                        if let Some(close) = frames.close {
                            self.closed(close, dir, at, false);
                        }
                        // The hellos as soon as they are whole: a Handshake packet
                        // later in this datagram may need the suite to open.
                        self.read_hellos(at);
                    }
                },
            }
        }
        if client_initial {
            if self.client_initials > 0
                && self.server_datagrams == 0
                && !new_hello_bytes
                && !closing
            {
                self.client_probes += 1;
            }
            self.client_initials += 1;
            self.last_client_initial = Some(at);
        }
        self.client_hello_datagrams += u32::from(client_hello_bytes);
        if damaged {
            ladder.unreadable();
        }
        // The first reset, and the ones like it after.
        let reset_here = (!resets && self.stateless_reset.is_some())
            || (resets && dir == Dir::ToClient && self.reset_shaped(datagram));
        let line = ladder.finish(datagram.len(), reset_here);
        self.push_event(at, dir, Label::QuicDatagram(line));
    }

    fn push_event(&mut self, at: At, from: Dir, what: Label) {
        if self.events.len() < MAX_EVENTS {
            if self.events.capacity() == 0 {
                // A handshake is about a dozen datagrams: one allocation, not three.
                self.events.reserve_exact(16);
            }
            self.events.push(Event { at, from, what });
        }
    }

    /// The connection IDs of a long-header packet: the client's first DCID and its SCID,
    /// and the server's SCID (its first Initial's; after a Retry, the one it then
    /// chose).
    fn note_cids(&mut self, dir: Dir, long: &LongPacket<'_>) {
        match dir {
            Dir::ToServer => {
                if self.original_dcid.is_none() {
                    self.original_dcid = ConnectionId::new(long.dcid);
                }
                if self.client_cid.is_none() {
                    self.client_cid = ConnectionId::new(long.scid);
                }
            }
            Dir::ToClient => {
                if self.server_cid.is_none() {
                    self.server_cid = ConnectionId::new(long.scid);
                }
            }
        }
    }

    /// Whether a short-header packet is addressed to the client's connection ID; `None`
    /// where nothing can be compared (a zero-length ID, or new ones on a new path).
    fn addressed_to_client(&self, packet: &[u8]) -> Option<bool> {
        match self.client_cid {
            Some(cid) if !cid.is_empty() && !self.migrated => Some(cid.addresses(packet)),
            _ => None,
        }
    }

    /// Whether a server datagram is shaped as a stateless reset: a short header, long
    /// enough, not addressed to the client's connection ID (where it is known and still
    /// used), or ending in the server's token.
    fn reset_shaped(&self, datagram: &[u8]) -> bool {
        if datagram.len() < MIN_STATELESS_RESET || datagram[0] & 0x80 != 0 {
            return false;
        }
        match &self.stateless_reset_token {
            Some(token) => is_stateless_reset(datagram, token),
            None => self.addressed_to_client(datagram) == Some(false),
        }
    }

    /// A server short-header packet after the client's 1-RTT packets (`alone`: the
    /// whole datagram): the answer that shows the connection works both ways, or a
    /// stateless reset — a datagram that ends in the server's token, or (without keys)
    /// one not addressed to the client's connection ID on the path where the client
    /// still uses it. A reset is never coalesced after long-header packets.
    fn server_short_packet(&mut self, at: At, packet: &[u8], alone: bool) {
        if self.reset().is_some() || self.server_short_answer.is_some() {
            return;
        }
        if alone && self.reset_shaped(packet) {
            self.stateless_reset = Some(StatelessReset {
                at,
                len: packet.len(),
                proof: if self.stateless_reset_token.is_some() {
                    ResetProof::Token
                } else {
                    ResetProof::UnknownConnectionId
                },
            });
            self.client_after_reset = false;
            self.server_after_reset = false;
        } else if self.addressed_to_client(packet) != Some(false) {
            self.server_short_answer = Some(at);
        }
    }

    /// The stateless reset that ended the attempt: one proven by its token, or one
    /// the client fell silent after, or the server's last word (bar more resets).
    pub fn reset(&self) -> Option<&StatelessReset> {
        self.stateless_reset.as_ref().filter(|r| {
            r.proof == ResetProof::Token || !self.client_after_reset || !self.server_after_reset
        })
    }

    /// Parses the ClientHello and the ServerHello once their CRYPTO bytes are whole.
    fn read_hellos(&mut self, at: At) {
        if self.client_hello.is_none() {
            if let Some(body) = self.crypto[0].first_message(1) {
                self.client_hello = parse_client_hello(body).ok();
                self.client_hello_at = self.client_hello.as_ref().map(|_| at);
                // After legacy_version.
                self.client_random = body.get(2..34).and_then(|r| r.try_into().ok());
            }
        }
        if self.server_hello.is_none() {
            self.server_hello = self.crypto[1]
                .first_message(2)
                .and_then(|body| parse_server_hello(body).ok());
            self.server_hello_at = self.server_hello.as_ref().map(|_| at);
        }
    }

    /// The first CONNECTION_CLOSE read (a later one, or the same sent again, adds
    /// nothing).
    fn closed(
        &mut self,
        close: super::frames::ConnectionClose<'_>,
        from: Dir,
        at: At,
        decrypted: bool,
    ) {
        if self.close.is_some() {
            return;
        }
        let mut reason = close.reason.to_vec();
        reason.truncate(REASON_LIMIT);
        self.close = Some(Close {
            at,
            from,
            frame: close.frame,
            error_code: close.error_code,
            reason,
            decrypted,
        });
    }

    /// Opens a Handshake packet with the key log's secrets (looked up once the hellos
    /// give the client random and the suite) and reads its frames: CRYPTO (the server's
    /// EncryptedExtensions and Certificate) and CONNECTION_CLOSE.
    fn open_handshake(&mut self, packet: &LongPacket<'_>, dir: Dir, at: At, sources: &KeySources) {
        if self.handshake_keys.is_none() {
            let (Some(random), Some(sh), Some(version)) =
                (self.client_random, &self.server_hello, self.client_version)
            else {
                return;
            };
            let Some(secrets) = sources.lookup(&random) else {
                // Not there (yet): looked up again with the next packet.
                return;
            };
            let suite = sh.cipher_suite.0;
            let version = self.server_version.unwrap_or(version);
            self.handshake_keys = Some(secrets.handshake.clone().map(|secret| {
                secret.and_then(|s| SpaceKeys::from_secret(suite, s.bytes(), version))
            }));
        }
        let side = usize::from(dir == Dir::ToClient);
        let Some(keys) = self.handshake_keys.as_ref().and_then(|k| k[side].as_ref()) else {
            return;
        };
        let Some(opened) = packet.open(keys) else {
            self.unreadable += 1;
            return;
        };
        self.handshake_opened[side] += 1;
        let frames = initial_frames(&opened.payload);
        self.unreadable += u32::from(frames.malformed);
        for (offset, data) in frames.crypto {
            self.handshake_crypto[side].add(offset, data);
        }
        if let Some(close) = frames.close {
            self.closed(close, dir, at, true);
        }
        if side == 1 {
            self.read_server_messages(at);
        }
    }

    /// The server's Handshake-space messages that are whole and not yet read.
    fn read_server_messages(&mut self, at: At) {
        let stream = &self.handshake_crypto[1].contiguous;
        while let Some(header) = stream.get(self.handshake_read[1]..self.handshake_read[1] + 4) {
            let len = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
            let start = self.handshake_read[1] + 4;
            let Some(body) = stream.get(start..start + len) else {
                return;
            };
            match header[0] {
                8 => {
                    self.selected_alpn = crate::tls::protected::encrypted_extensions_alpn(body);
                    self.stateless_reset_token = super::ids::stateless_reset_token(body);
                }
                11 if self.server_certificates.is_none() => {
                    if let Some(chain) = crate::tls::protected::tls13_certificate_chain(body) {
                        let chain = &chain[..chain.len().min(MAX_CHAIN)];
                        self.server_certificates = Some(crate::tls::cert::chain_facts(chain));
                        self.certificates_at = Some(at);
                    }
                }
                _ => {}
            }
            self.handshake_read[1] = start + len;
        }
    }

    /// An ICMP port unreachable answered one of the client's datagrams.
    pub fn on_port_unreachable(&mut self, at: At) {
        self.port_unreachable += 1;
        self.first_port_unreachable.get_or_insert(at);
        self.last = Some(at);
        self.push_event(
            at,
            Dir::ToClient,
            Label::Text("ICMP port unreachable".into()),
        );
    }

    /// The attempt was watched after its last datagram for longer than a client takes
    /// to go on from the server's flight ([`crate::flow::within_reaction_time`], the
    /// round trip from the client's first Initial to the server's ServerHello).
    fn watched_past_client_reaction(&self) -> bool {
        let (Some(until), Some(last)) = (self.watched_until, self.last) else {
            return true;
        };
        let rtt = match (self.first, self.server_hello_at) {
            (Some(first), Some(sh)) => sh.ts.secs_since(first.ts).max(0.0),
            _ => 0.0,
        };
        !crate::flow::within_reaction_time(last.ts, until, rtt)
    }

    /// The datagrams are QUIC as far as can be told: the client's version is one whose
    /// Initials open here, a greasing version or another deployed one (Google's Q0xx
    /// and T0xx, mvfst's), a ClientHello was read, or the server answered with Version
    /// Negotiation. A long-header shape of any other version is as likely another
    /// protocol's datagram (an RTP stream, a DNS answer, whose peer's datagrams are no
    /// QUIC either) as a client asking for Version Negotiation.
    pub fn shows_quic(&self) -> bool {
        let known_version = self.client_version.is_some_and(|v| {
            initial_keys(v, &[]).is_some()
                || super::is_greasing_version(v)
                || matches!(v >> 16, 0x5130 | 0x5430) // "Q0..", "T0.."
                || v & 0xffff_fff0 == 0xface_b000
        });
        known_version || self.client_hello.is_some() || self.version_negotiation.is_some()
    }

    /// What became of the attempt.
    pub fn outcome(&self) -> QuicOutcome {
        if let Some(close) = &self.close {
            match (close.from, close.tls_alert()) {
                (Dir::ToClient, Some(120)) => return QuicOutcome::AlpnMismatch,
                (Dir::ToClient, Some(40)) => return QuicOutcome::NoSharedCipher,
                (Dir::ToClient, Some(116)) => return QuicOutcome::ClientCertRequired,
                (Dir::ToServer, Some(alert)) if CERTIFICATE_ALERTS.contains(&alert) => {
                    return QuicOutcome::CertRejected
                }
                _ => {}
            }
        }
        let answered = self.server_datagrams > 0;
        if !answered {
            if self.port_unreachable > 0 {
                return QuicOutcome::ConnectionRefused;
            }
            // Probed for an answer (or waited as long as a probe takes) and never
            // answered; a client that closes sooner, having sent its first flight
            // alone, did not wait for one (a browser drops the QUIC attempt it raced
            // against TCP once it needs it no more).
            if self.client_probes > 0 {
                return QuicOutcome::UdpBlocked;
            }
            let first = self.first.map_or(Timestamp::default(), |at| at.ts);
            return match &self.close {
                Some(c) if c.from == Dir::ToServer => {
                    if c.at.ts.secs_since(first) >= crate::flow::CLIENT_GAVE_UP_WAITING_SECS {
                        QuicOutcome::UdpBlocked
                    } else {
                        QuicOutcome::ClientCancelled
                    }
                }
                _ => QuicOutcome::Incomplete,
            };
        }
        if self.server_version.is_none() && self.version_negotiation.is_some() {
            return QuicOutcome::VersionMismatch;
        }
        if self.reset().is_some() {
            return QuicOutcome::StatelessReset;
        }
        // The client sends 1-RTT packets once the handshake completed on its side (the
        // server may send them earlier, 0.5-RTT data).
        if self.short_packets[0] == 0 {
            if let Some(close) = &self.close {
                if close.frame == 0x1c && close.tls_alert().is_none() {
                    return QuicOutcome::TransportError;
                }
            }
            // The server's flight came (its Handshake packets carry the certificate);
            // the client answered only in the Handshake space and never sent 1-RTT:
            // after the last the server sent, or for as long as it would have taken it
            // to. A capture that ends while the server's flight still arrives shows no
            // outcome.
            let client_spoke_last =
                self.last_client_handshake.is_some() && self.last_client_handshake == self.last;
            if self.handshake_packets[1] > 0
                && self.handshake_packets[0] > 0
                && (client_spoke_last || self.watched_past_client_reaction())
            {
                return QuicOutcome::CertRejected;
            }
            return QuicOutcome::Incomplete;
        }
        match &self.close {
            Some(close) if close.frame == 0x1c && close.error_code != 0 => {
                QuicOutcome::TransportError
            }
            _ => QuicOutcome::Completed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(from: Dir, frame: u8, error_code: u64) -> Option<Close> {
        Some(Close {
            at: At::default(),
            from,
            frame,
            error_code,
            reason: Vec::new(),
            decrypted: false,
        })
    }

    /// The outcome rules on an attempt's facts, for the closes no bundled capture has.
    #[test]
    fn closes_name_their_outcome() {
        let answered = |close: Option<Close>, short: [u32; 2]| QuicAttempt {
            client_initials: 1,
            server_datagrams: 2,
            short_packets: short,
            close,
            ..Default::default()
        };
        let cases = [
            (
                answered(close(Dir::ToClient, 0x1c, 0xa), [0, 0]),
                QuicOutcome::TransportError,
            ),
            (
                answered(close(Dir::ToServer, 0x1c, 0x8), [0, 0]),
                QuicOutcome::TransportError,
            ),
            (
                answered(close(Dir::ToClient, 0x1c, 0x1), [3, 2]),
                QuicOutcome::TransportError,
            ),
            (
                answered(close(Dir::ToClient, 0x1c, 0x128), [0, 0]),
                QuicOutcome::NoSharedCipher,
            ),
            (
                answered(close(Dir::ToClient, 0x1c, 0x174), [0, 0]),
                QuicOutcome::ClientCertRequired,
            ),
            (
                answered(close(Dir::ToServer, 0x1c, 0x12d), [0, 0]),
                QuicOutcome::CertRejected,
            ),
            // An application's close after the handshake is how HTTP/3 ends.
            (
                answered(close(Dir::ToServer, 0x1d, 0x100), [3, 2]),
                QuicOutcome::Completed,
            ),
            (answered(None, [0, 1]), QuicOutcome::Incomplete),
        ];
        for (attempt, want) in cases {
            assert_eq!(attempt.outcome(), want, "{:?}", attempt.close);
        }
    }

    /// Only versions known to be QUIC make an attempt of an unanswered long-header
    /// shape: another protocol's datagram (a DNS answer, RTP) can look like an Initial
    /// of a random version. Version Negotiation from the peer, or a ClientHello read,
    /// show QUIC whatever the version.
    #[test]
    fn only_known_versions_or_answers_show_quic() {
        let of = |version: u32| QuicAttempt {
            client_version: Some(version),
            client_initials: 2,
            server_datagrams: 2,
            ..Default::default()
        };
        for version in [
            crate::quic::initial::VERSION_1,
            crate::quic::initial::VERSION_2,
            0xff00_001d,
            0xface_b002,
            0x5130_3530, // Q050
            0x5430_3531, // T051
            0x1a2a_3a4a, // greasing
        ] {
            assert!(of(version).shows_quic(), "{version:#x}");
        }
        // A DNS answer read as a long header, its query as the server's datagram.
        assert!(!of(0xb481_0000).shows_quic());
        let negotiated = QuicAttempt {
            version_negotiation: Some(vec![crate::quic::initial::VERSION_1]),
            ..of(0xb481_0000)
        };
        assert!(negotiated.shows_quic());
    }

    /// A client that answered the server's flight only in the Handshake space rejected
    /// it, once the capture shows its reaction: it spoke last, or the capture went on
    /// past the time it takes a client to go on. A capture that ends on the server's
    /// datagrams (its flight still arriving) shows no outcome.
    #[test]
    fn a_capture_cut_in_the_servers_flight_is_incomplete() {
        let at = |frame: u64, ms: i64| At {
            frame,
            ts: Timestamp(ms * 1_000_000),
        };
        let flight = |last_client: At, last: At, watched_ms: Option<i64>| QuicAttempt {
            first: Some(at(1, 0)),
            server_hello_at: Some(at(2, 20)),
            last: Some(last),
            last_client_handshake: Some(last_client),
            watched_until: watched_ms.map(|ms| Timestamp(ms * 1_000_000)),
            client_initials: 1,
            server_datagrams: 3,
            handshake_packets: [1, 3],
            ..Default::default()
        };
        // The client acknowledged part of the flight; the server's next datagram ends
        // the capture.
        let cut = flight(at(4, 21), at(5, 22), Some(22));
        assert_eq!(cut.outcome(), QuicOutcome::Incomplete);
        // The same, with the capture going on for a second of silence.
        let silent = flight(at(4, 21), at(5, 22), Some(1022));
        assert_eq!(silent.outcome(), QuicOutcome::CertRejected);
        // The client's Handshake packet after the whole flight is the last datagram.
        let spoke_last = flight(at(6, 23), at(6, 23), Some(23));
        assert_eq!(spoke_last.outcome(), QuicOutcome::CertRejected);
        // Not taken as over by the table (live, or a unit of the facts): as before.
        assert_eq!(
            flight(at(4, 21), at(5, 22), None).outcome(),
            QuicOutcome::CertRejected
        );
    }

    /// After the client's first 1-RTT packet, a server datagram addressed to the
    /// client's connection ID answers it; one that is not, and after which the client
    /// falls silent, is a stateless reset; with the server's token only a datagram
    /// ending in it is.
    #[test]
    fn stateless_resets_are_told_from_answers() {
        let at = |frame| At {
            frame,
            ts: crate::capture::Timestamp(frame as i64 * 1_000_000),
        };
        let client_cid = [0xc1, 0xc2, 0xc3, 0xc4];
        let token = [0x7e; 16];
        let started = |token: Option<[u8; 16]>| {
            let mut a = QuicAttempt {
                client_initials: 1,
                server_datagrams: 1,
                client_cid: ConnectionId::new(&client_cid),
                stateless_reset_token: token,
                ..Default::default()
            };
            // The client's 1-RTT packet to the server's ID.
            a.on_datagram(
                Dir::ToServer,
                at(1),
                &[0x41, 0x5a, 0x5a, 0x5a, 0x5a, 1, 2, 3],
            );
            a
        };
        let mut answer = vec![0x43];
        answer.extend_from_slice(&client_cid);
        answer.extend_from_slice(&[0x33; 30]);
        let mut reset = vec![0x4f, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
        reset.extend_from_slice(&token);

        let mut answered = started(None);
        answered.on_datagram(Dir::ToClient, at(2), &answer);
        assert_eq!(answered.server_short_answer, Some(at(2)));
        assert_eq!(answered.outcome(), QuicOutcome::Completed);

        let mut shaped = started(None);
        shaped.on_datagram(Dir::ToClient, at(2), &reset);
        let got = shaped.reset().copied().expect("a reset");
        assert_eq!((got.proof, got.len), (ResetProof::UnknownConnectionId, 23));
        assert_eq!(shaped.outcome(), QuicOutcome::StatelessReset);
        // The client went on (as one that does not check for resets does), the server
        // said nothing else but another reset: still the reset.
        let more = [0x41, 0x5a, 0x5a, 0x5a, 0x5a, 4, 5, 6];
        shaped.on_datagram(Dir::ToServer, at(3), &more);
        shaped.on_datagram(Dir::ToClient, at(4), &reset);
        assert!(shaped.client_after_reset && !shaped.server_after_reset);
        assert_eq!(shaped.outcome(), QuicOutcome::StatelessReset);
        // The server then answered the client: it had the connection after all.
        shaped.on_datagram(Dir::ToClient, at(5), &answer);
        assert!(shaped.reset().is_none() && shaped.server_after_reset);
        assert_eq!(shaped.outcome(), QuicOutcome::Completed);

        // With the token: proven, even if the client goes on; a datagram without it is
        // an answer.
        let mut proven = started(Some(token));
        proven.on_datagram(Dir::ToClient, at(2), &reset);
        proven.on_datagram(
            Dir::ToServer,
            at(3),
            &[0x41, 0x5a, 0x5a, 0x5a, 0x5a, 4, 5, 6],
        );
        assert_eq!(proven.reset().map(|r| r.proof), Some(ResetProof::Token));
        assert_eq!(proven.outcome(), QuicOutcome::StatelessReset);
        let mut other = started(Some(token));
        let mut not_addressed = reset.clone();
        *not_addressed.last_mut().unwrap() ^= 1;
        other.on_datagram(Dir::ToClient, at(2), &not_addressed);
        assert!(other.reset().is_none());

        // Too short for a reset, or before the client's 1-RTT: neither.
        let mut early = QuicAttempt {
            client_cid: ConnectionId::new(&client_cid),
            ..Default::default()
        };
        early.on_datagram(Dir::ToClient, at(1), &reset);
        assert!(early.stateless_reset.is_none() && early.server_short_answer.is_none());
        let mut short = started(None);
        short.on_datagram(Dir::ToClient, at(2), &reset[..MIN_STATELESS_RESET - 1]);
        assert!(short.stateless_reset.is_none());
    }

    #[test]
    fn crypto_frames_are_put_in_order_within_bounds() {
        let mut s = CryptoStream::default();
        s.add(4, b"4567");
        s.add(0, b"0123");
        s.add(2, b"23");
        s.add(8, b"89");
        assert_eq!(s.contiguous, b"0123456789");
        assert!(s.pending.is_empty());
        // A handshake message header: type 1, length 6.
        let mut m = CryptoStream::default();
        m.add(0, &[1, 0, 0, 6, b'a', b'b']);
        assert_eq!(m.first_message(1), None);
        m.add(6, b"cdef");
        assert_eq!(m.first_message(1), Some(&b"abcdef"[..]));
        let mut big = CryptoStream::default();
        big.add(CRYPTO_LIMIT as u64, b"x");
        assert!(big.overflowed && big.contiguous.is_empty());
        let mut scattered = CryptoStream::default();
        for i in 0..=CRYPTO_PIECES as u64 {
            scattered.add(10 + 2 * i, b"y");
        }
        assert!(scattered.overflowed);
        assert!(scattered.pending.len() <= CRYPTO_PIECES);
    }
}
