//! One TLS conversation seen from the wire: frames records in each direction, frames
//! handshake messages across records, and collects [`TlsFacts`] plus a short timeline
//! of what each side sent.
//!
//! Invariants: a direction's record buffer never holds more than one record plus one
//! segment; handshake-message reassembly is capped at [`Limits::max_handshake_message`]; once
//! the outcome is known (the conversation is *settled*) no payload is buffered at all.

use super::facts::*;
use super::hello::{self, ServerHelloFacts};
use super::plaintext;
use super::protected::{Plan, Protection};
use super::sslv2;
use super::suites::version_name;
use super::wire::ProtocolVersion;
use crate::flow::{At, Dir};
use crate::keys::KeySources;
use crate::limits::Limits;

/// Largest record length accepted: 2^14 plus the expansion RFC 5246 allows.
const MAX_RECORD_LEN: usize = 16384 + 2048;
/// Encrypted records remembered per direction (the rest are only counted).
const KEPT_RECORDS: usize = 16;
/// Timeline entries kept per conversation.
const MAX_EVENTS: usize = 48;
/// Room made for events at a conversation's first.
const EVENTS_AT_FIRST: usize = 16;
/// Plain text scanned for a STARTTLS upgrade before giving up on a direction.
const MAX_PLAINTEXT_SCAN: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Nothing seen yet.
    Start,
    /// Framing TLS records.
    Records,
    /// Plain text (STARTTLS preamble, or a non-TLS peer); looking for a TLS start.
    Plaintext,
    /// SSL 2.0 after the server's SERVER-HELLO: the client's next message names the
    /// cipher, and then the outcome is decided.
    Sslv2,
    /// No more parsing in this direction.
    Stopped,
}

#[derive(Debug)]
struct RecordStream {
    mode: Mode,
    /// Bytes of an incomplete record.
    pending: Vec<u8>,
    /// Bytes of an incomplete handshake message.
    handshake: Vec<u8>,
    /// After ChangeCipherSpec (TLS ≤ 1.2): records are protected.
    protected: bool,
    plaintext_scanned: usize,
    /// Bytes of an application_data record still to come; only its length matters, so
    /// its body is skipped rather than buffered.
    skip: usize,
    /// Bytes of a handshake message too long to reassemble, still to come in handshake
    /// records; a record of another type ends the skip (the length was wrong).
    skip_handshake: usize,
}

impl Default for RecordStream {
    fn default() -> Self {
        RecordStream {
            mode: Mode::Start,
            pending: Vec::new(),
            handshake: Vec::new(),
            protected: false,
            plaintext_scanned: 0,
            skip: 0,
            skip_handshake: 0,
        }
    }
}

impl RecordStream {
    /// Nothing more is parsed in this direction; its buffers are freed.
    fn stop(&mut self) {
        self.mode = Mode::Stopped;
        self.pending = Vec::new();
        self.handshake = Vec::new();
    }
}

/// What every conversation of a capture is made with.
#[derive(Clone, Debug, Default)]
pub struct ConversationSetup {
    /// Where secrets may be found.
    pub keys: KeySources,
    /// The records will carry the clients' JA4: take its key as each ClientHello is
    /// parsed ([`ClientHelloFacts::ja4_key`]).
    ///
    /// [`ClientHelloFacts::ja4_key`]: super::hello::ClientHelloFacts::ja4_key
    pub fingerprints: bool,
}

/// The [`Limits`] a conversation reads by (kept in each: the others are the flow
/// table's).
#[derive(Clone, Copy, Debug)]
struct ReadLimits {
    max_records: u64,
    max_handshake_message: usize,
    max_chain: usize,
}

impl ReadLimits {
    fn of(limits: &Limits) -> ReadLimits {
        ReadLimits {
            max_records: limits.max_records,
            max_handshake_message: limits.max_handshake_message,
            max_chain: limits.max_chain,
        }
    }
}

impl Default for ReadLimits {
    fn default() -> ReadLimits {
        ReadLimits::of(&Limits::default())
    }
}

/// The TLS state of one TCP connection.
#[derive(Debug, Default)]
pub struct Conversation {
    pub facts: TlsFacts,
    streams: [RecordStream; 2],
    /// The outcome is known; payload is no longer examined.
    pub settled: bool,
    limits: ReadLimits,
    /// Records seen per direction.
    records: [u64; 2],
    /// Where secrets may be found (nothing: no key work at all).
    keys: KeySources,
    /// Take each ClientHello's [`ClientHelloFacts::ja4_key`] as it is parsed.
    ///
    /// [`ClientHelloFacts::ja4_key`]: super::hello::ClientHelloFacts::ja4_key
    fingerprints: bool,
    /// The secrets of this conversation, once found: its records are opened.
    protection: Option<Box<Protection>>,
}

impl Conversation {
    pub fn new() -> Conversation {
        Conversation::default()
    }

    pub fn with_limits(limits: &Limits) -> Conversation {
        Conversation {
            limits: ReadLimits::of(limits),
            ..Conversation::default()
        }
    }

    /// A conversation whose records are opened with the secrets `keys` hold for it.
    pub fn with_keys(limits: &Limits, keys: &KeySources) -> Conversation {
        Conversation {
            limits: ReadLimits::of(limits),
            keys: keys.clone(),
            ..Conversation::default()
        }
    }

    /// A conversation made as `setup` says.
    pub fn with_setup(limits: &Limits, setup: &ConversationSetup) -> Conversation {
        Conversation {
            fingerprints: setup.fingerprints,
            ..Conversation::with_keys(limits, &setup.keys)
        }
    }

    /// True when `bytes` start with a TLS handshake record holding a ClientHello.
    pub fn starts_with_client_hello(bytes: &[u8]) -> bool {
        bytes.len() >= 6 && bytes[0] == 22 && bytes[1] == 3 && bytes[2] <= 4 && bytes[5] == 1
    }

    /// Feeds in-order bytes of one direction.
    pub fn on_bytes(&mut self, dir: Dir, data: &[u8], at: At) {
        if self.settled || data.is_empty() {
            return;
        }
        let d = dir.index();
        match self.streams[d].mode {
            Mode::Stopped => {}
            Mode::Start => {
                if looks_like_tls_record(data)
                    || self.streams[d].pending.len() + data.len() < 5 && data[0] == 22
                {
                    self.streams[d].mode = Mode::Records;
                    self.frame_records(dir, data, at);
                } else if sslv2::is_client_hello(data) && dir == Dir::ToServer {
                    self.on_sslv2_client_hello(data, at);
                    self.streams[d].mode = Mode::Records;
                } else if sslv2::is_server_hello(data) && dir == Dir::ToClient {
                    // An SSL 2.0 server: its records are not followed further.
                    let version = u16::from_be_bytes([data[5], data[6]]);
                    self.push_event(at, dir, format!("SERVER-HELLO ({})", version_name(version)));
                    self.facts.server_hello = Some(Seen {
                        at,
                        value: ServerHelloFacts {
                            legacy_version: ProtocolVersion(version),
                            version: ProtocolVersion(version),
                            ..Default::default()
                        },
                    });
                    self.facts.sslv2 = true;
                    self.facts.sslv2_cipher = sslv2::only_cipher(data);
                    self.streams[d].stop();
                    let client = &mut self.streams[Dir::ToServer.index()];
                    if client.mode == Mode::Records {
                        client.mode = Mode::Sslv2;
                        client.pending = Vec::new();
                    } else {
                        self.settle();
                    }
                } else {
                    let kind = plaintext::classify(data);
                    let text = kind != plaintext::PlaintextKind::Unknown
                        || plaintext::looks_like_text(data);
                    let (first_line, label) = if text {
                        let label = format!("plain text: {}", plaintext::first_line(data, 40));
                        (plaintext::first_line(data, 80), label)
                    } else {
                        let hex = plaintext::hex_head(data, 16);
                        let label = format!("bytes that are not TLS: {hex}");
                        (hex, label)
                    };
                    self.facts.plaintext[d] = Some(Box::new(Seen {
                        at,
                        value: PlaintextFacts {
                            kind,
                            first_line,
                            text,
                            record_inside_segment: false,
                            after_client_hello: (dir == Dir::ToClient
                                && self.facts.client_hello.is_some())
                            .then_some(at),
                        },
                    }));
                    self.push_event(at, dir, label);
                    self.streams[d].mode = Mode::Plaintext;
                    self.scan_plaintext(dir, data, at);
                }
            }
            Mode::Plaintext => self.scan_plaintext(dir, data, at),
            Mode::Sslv2 => {
                if let Some(kind) = sslv2::client_master_key_cipher(data) {
                    self.push_event(at, dir, "CLIENT-MASTER-KEY");
                    self.facts.sslv2_cipher = Some(kind);
                }
                self.settle();
            }
            Mode::Records => self.frame_records(dir, data, at),
        }
    }

    /// Marks a direction as no longer followable (a lost segment, a limit).
    pub fn lose(&mut self, dir: Dir, at: At, reason: String) {
        let d = dir.index();
        if self.streams[d].mode == Mode::Stopped || self.settled {
            return;
        }
        // A ClientHello whose start is all the capture kept still makes the connection
        // a handshake attempt.
        let in_client_hello = dir == Dir::ToServer
            && self.facts.client_hello.is_none()
            && Conversation::starts_with_client_hello(&self.streams[d].pending);
        self.streams[d].stop();
        self.note_loss(dir, at, reason, false);
        if let Some(lost) = &mut self.facts.lost[d] {
            lost.value.in_client_hello |= in_client_hello;
        }
    }

    fn note_loss(&mut self, dir: Dir, at: At, reason: String, followed_on: bool) {
        self.push_event(at, dir, format!("[{reason}]"));
        let lost = &mut self.facts.lost[dir.index()];
        if lost.is_none() {
            *lost = Some(Box::new(Seen {
                at,
                value: Reason {
                    reason,
                    followed_on,
                    in_client_hello: false,
                },
            }));
        }
    }

    /// A record of another type arrived while a handshake message was incomplete: the
    /// message's length was wrong. The record layer is intact, so it is followed on.
    fn end_handshake_message(&mut self, dir: Dir, content_type: u8, at: At) {
        let stream = &mut self.streams[dir.index()];
        let cut = stream.handshake.len();
        let skipping = stream.skip_handshake > 0;
        stream.handshake = Vec::new();
        stream.skip_handshake = 0;
        if cut > 0 && !skipping {
            let what = format!(
                "a handshake message cut short after {cut} byte(s) by a record of type {content_type}"
            );
            self.malformed(dir, at, what);
        }
    }

    /// Stops following a direction whose bytes do not parse; the bytes are evidence.
    fn abandon(&mut self, dir: Dir, at: At, what: String) {
        self.streams[dir.index()].stop();
        self.malformed(dir, at, what);
    }

    /// Frees all buffers: nothing more will be parsed.
    pub fn settle(&mut self) {
        if self.protection.as_ref().is_some_and(|p| p.held.is_some()) {
            // The connection is over: its held records are read now, opened if the
            // secrets came.
            self.release_held();
        }
        self.settled = true;
        self.protection = None;
        for s in &mut self.streams {
            s.pending = Vec::new();
            s.handshake = Vec::new();
        }
    }

    fn scan_plaintext(&mut self, dir: Dir, data: &[u8], at: At) {
        let d = dir.index();
        // A STARTTLS-style upgrade: the TLS record starts a segment, or sits inside one
        // after a short protocol preamble.
        let wanted = if dir == Dir::ToServer { 1 } else { 2 };
        // Once the client sent its ClientHello, the server may refuse it with an alert
        // record instead of a ServerHello.
        let alert_answers = dir == Dir::ToClient && self.facts.client_hello.is_some();
        let limit = data
            .len()
            .min(MAX_PLAINTEXT_SCAN.saturating_sub(self.streams[d].plaintext_scanned));
        let found = (0..limit).find(|&i| {
            let b = &data[i..];
            if b.len() < 6 || !looks_like_tls_record(b) {
                return false;
            }
            let len = u16::from_be_bytes([b[3], b[4]]) as usize;
            let handshake = b[0] == 22 && b[5] == wanted && (4..=MAX_RECORD_LEN).contains(&len);
            // An alert record: two bytes, a level of warning or fatal.
            let alert = b[0] == 21 && len == 2 && matches!(b[5], 1 | 2) && b.len() >= 7;
            handshake || alert_answers && alert
        });
        self.streams[d].plaintext_scanned += limit;
        match found {
            Some(i) => {
                self.streams[d].mode = Mode::Records;
                if let Some(p) = &mut self.facts.plaintext[d] {
                    p.value.record_inside_segment = i > 0;
                }
                self.frame_records(dir, &data[i..], at);
            }
            None if self.streams[d].plaintext_scanned >= MAX_PLAINTEXT_SCAN => {
                self.streams[d].mode = Mode::Stopped;
            }
            None => {}
        }
        if found.is_none() && dir == Dir::ToClient && self.facts.client_hello.is_some() {
            if let Some(p) = &mut self.facts.plaintext[d] {
                p.value.after_client_hello.get_or_insert(at);
            }
        }
    }

    fn frame_records(&mut self, dir: Dir, data: &[u8], at: At) {
        let d = dir.index();
        let skipped = self.streams[d].skip.min(data.len());
        self.streams[d].skip -= skipped;
        let data = &data[skipped..];
        if data.is_empty() {
            return;
        }
        // A record cut by a segment boundary waits in `pending`, with room for the
        // whole of it (its header says how long it is): the next segments are appended
        // without growing it, and the buffer is kept for the next cut record.
        let mut buf = std::mem::take(&mut self.streams[d].pending);
        let buffered = !buf.is_empty();
        if buffered {
            buf.extend_from_slice(data);
        }
        let input: &[u8] = if buffered { &buf } else { data };
        let mut rest = input;
        while rest.len() >= 5 {
            if self.streams[d].mode != Mode::Records || self.settled {
                return;
            }
            self.records[d] += 1;
            if self.records[d] > self.limits.max_records {
                let limit = self.limits.max_records;
                self.lose(
                    dir,
                    at,
                    format!("more than {limit} records without an outcome (--max-records)"),
                );
                return;
            }
            let content_type = rest[0];
            let version = u16::from_be_bytes([rest[1], rest[2]]);
            let len = u16::from_be_bytes([rest[3], rest[4]]) as usize;
            if !(20..=24).contains(&content_type) || rest[1] != 3 || len > MAX_RECORD_LEN {
                let what = format!(
                    "bytes that are not a TLS record (type {content_type}, version 0x{version:04x}, length {len})"
                );
                self.abandon(dir, at, what);
                return;
            }
            match self
                .protection
                .as_ref()
                .map(|p| p.plan(dir, content_type, len))
            {
                Some(Plan::Open) => {
                    if rest.len() < 5 + len {
                        break;
                    }
                    let header: [u8; 5] = rest[..5].try_into().expect("5 bytes");
                    self.on_sealed_record(dir, &header, &rest[5..5 + len], at);
                    rest = &rest[5 + len..];
                    continue;
                }
                Some(Plan::StepOver) => {
                    if let Some(p) = &mut self.protection {
                        p.step_over(dir);
                    }
                }
                Some(Plan::Hold) => {
                    if rest.len() < 5 + len {
                        break;
                    }
                    self.hold_record(dir, &rest[..5 + len], at);
                    rest = &rest[5 + len..];
                    continue;
                }
                Some(Plan::Unkeyed) | None => {}
            }
            if content_type == 23 {
                // Encrypted: the length is all there is to learn.
                self.on_application_data(dir, len, at);
                if rest.len() < 5 + len {
                    self.streams[d].skip = 5 + len - rest.len();
                    rest = &[];
                    break;
                }
                rest = &rest[5 + len..];
                continue;
            }
            if rest.len() < 5 + len {
                break;
            }
            let payload = &rest[5..5 + len];
            self.on_record(dir, content_type, payload, at);
            rest = &rest[5 + len..];
        }
        let left = rest.len();
        if left > 0 && self.streams[d].mode == Mode::Records && !self.settled {
            let record = match rest {
                [_, _, _, high, low, ..] => 5 + usize::from(u16::from_be_bytes([*high, *low])),
                _ => 0,
            };
            if buffered {
                let consumed = buf.len() - left;
                buf.drain(..consumed);
            } else {
                buf.clear();
                buf.extend_from_slice(&data[data.len() - left..]);
            }
            buf.reserve(record.saturating_sub(left));
            self.streams[d].pending = buf;
        }
    }

    fn on_record(&mut self, dir: Dir, content_type: u8, mut payload: &[u8], at: At) {
        let d = dir.index();
        let stream = &self.streams[d];
        if content_type != 22 && (!stream.handshake.is_empty() || stream.skip_handshake > 0) {
            self.end_handshake_message(dir, content_type, at);
        }
        match content_type {
            20 => {
                if self.facts.change_cipher_spec[d].is_none() {
                    self.facts.change_cipher_spec[d] = Some(at);
                    self.push_event(at, dir, "ChangeCipherSpec");
                    if let Some(p) = &mut self.protection {
                        p.on_change_cipher_spec(dir);
                    }
                }
                // TLS 1.3 sends a CCS for middlebox compatibility (also after a
                // HelloRetryRequest, before the real ServerHello): it protects nothing.
                // Without a ServerHello in the capture, what follows is taken as
                // protected (a plaintext ClientHello after a HelloRetryRequest is
                // told apart by its header, below).
                let unknown =
                    self.facts.server_hello.is_none() && self.facts.hello_retry_request.is_none();
                if unknown || self.facts.server_hello.is_some() && !self.is_tls13() {
                    self.streams[d].protected = true;
                }
            }
            21 if payload.len() < 2 && !self.streams[d].protected => {
                self.malformed(
                    dir,
                    at,
                    format!("alert record of {} byte(s)", payload.len()),
                );
            }
            21 => {
                // A plaintext alert is 2 bytes (rarely two alerts, 4); anything else, or
                // anything after ChangeCipherSpec, is protected.
                let encrypted = self.streams[d].protected || !matches!(payload.len(), 2 | 4);
                let readable = (!encrypted).then(|| [payload[0], payload[1]]);
                let alert = AlertFacts {
                    record_length: if encrypted {
                        u16::try_from(payload.len()).unwrap_or(u16::MAX)
                    } else {
                        0
                    },
                    ..AlertFacts::new(at, dir, readable, encrypted)
                };
                self.on_alert(dir, alert);
            }
            22 => {
                let plaintext_hello = self.facts.server_hello.is_none()
                    && is_whole_handshake_message(payload, if d == 0 { 1 } else { 2 });
                if self.streams[d].protected && !plaintext_hello {
                    if self.facts.finished[d].is_none() {
                        self.facts.finished[d] = Some(at);
                        self.push_event(at, dir, "Finished (encrypted)");
                    } else if !self.is_tls13() {
                        let n = &mut self.facts.renegotiation[d];
                        *n = n.saturating_add(1);
                        if *n == 1 {
                            self.push_event(at, dir, "encrypted handshake message (renegotiation)");
                        }
                    }
                    self.maybe_settle();
                    return;
                }
                let stream = &mut self.streams[d];
                if stream.skip_handshake > 0 {
                    let n = stream.skip_handshake.min(payload.len());
                    stream.skip_handshake -= n;
                    payload = &payload[n..];
                    if payload.is_empty() {
                        return;
                    }
                }
                let hs = &mut stream.handshake;
                if hs.is_empty() {
                    self.frame_handshake(dir, payload, at);
                } else {
                    let mut joined = std::mem::take(hs);
                    joined.extend_from_slice(payload);
                    self.frame_handshake(dir, &joined, at);
                }
            }
            24 => self.on_heartbeat(dir, payload.len(), at),
            _ => {}
        }
    }

    fn on_alert(&mut self, dir: Dir, alert: AlertFacts) {
        let d = dir.index();
        self.push_event(alert.at, dir, format!("Alert: {}", alert.describe()));
        let fatal = alert.is_fatal();
        if self.facts.alerts.len() < 16 {
            self.facts.alerts.push(alert);
        }
        if fatal {
            // The outcome is decided; what follows is the close — and perhaps the
            // peer's own alert in answer, which is read before settling.
            let peer = 1 - d;
            if self.streams[peer].mode == Mode::Stopped
                || self.facts.alerts.iter().any(|a| a.from == dir.opposite())
            {
                self.settle();
            } else {
                self.streams[d].stop();
            }
        }
    }

    /// A heartbeat record: counted, and on the ladder (the first few of each side).
    fn on_heartbeat(&mut self, dir: Dir, len: usize, at: At) {
        let n = &mut self.facts.heartbeats[dir.index()];
        *n = n.saturating_add(1);
        if *n <= 6 {
            let label = if self.streams[dir.index()].protected {
                format!("Heartbeat (encrypted, {len} bytes)")
            } else {
                format!("Heartbeat ({len} bytes)")
            };
            self.push_event(at, dir, label);
        }
    }

    /// An application_data record opened with keys: data, not a handshake message.
    fn count_application_data(&mut self, dir: Dir, len: usize, at: At) {
        self.application_data(dir, len, at, false);
    }

    /// An application_data record as it shows on the wire (in TLS 1.3, perhaps a
    /// handshake message or an alert in disguise).
    #[inline]
    fn on_application_data(&mut self, dir: Dir, len: usize, at: At) {
        let tls13 = self.is_tls13();
        self.application_data(dir, len, at, tls13);
    }

    /// Counts an application_data record; `unknown_type`: the ladder calls it an
    /// encrypted record (its real type is hidden).
    #[inline(always)]
    fn application_data(&mut self, dir: Dir, len: usize, at: At, unknown_type: bool) {
        let rec = &mut self.facts.encrypted[dir.index()];
        if rec.first.len() < KEPT_RECORDS {
            rec.first.push((at, len as u32));
        }
        rec.count += 1;
        rec.bytes += len as u64;
        if rec.count <= 6 {
            let label = Label::Encrypted {
                tls13: unknown_type,
                len: len as u32,
            };
            self.push_event(at, dir, label);
        }
        self.maybe_settle();
    }

    fn frame_handshake(&mut self, dir: Dir, mut bytes: &[u8], at: At) {
        let d = dir.index();
        while bytes.len() >= 4 {
            let ty = bytes[0];
            let len = u32::from_be_bytes([0, bytes[1], bytes[2], bytes[3]]) as usize;
            if len > self.limits.max_handshake_message {
                // Not reassembled (memory stays bounded), but the record layer goes on:
                // the message's bytes are skipped, and a corrupt length ends at the next
                // record of another type.
                let limit = self.limits.max_handshake_message;
                self.note_loss(
                    dir,
                    at,
                    format!("handshake message of type {ty} claims {len} bytes, over the {limit}-byte limit (--max-handshake-bytes)"),
                    true,
                );
                if bytes.len() < 4 + len {
                    self.streams[d].skip_handshake = 4 + len - bytes.len();
                    return;
                }
                bytes = &bytes[4 + len..];
                continue;
            }
            if bytes.len() < 4 + len {
                break;
            }
            self.on_handshake_message(dir, ty, &bytes[4..4 + len], at);
            bytes = &bytes[4 + len..];
            if self.streams[d].mode != Mode::Records || self.settled {
                return;
            }
        }
        if !bytes.is_empty() {
            self.streams[d].handshake = bytes.to_vec();
        }
    }

    fn malformed(&mut self, dir: Dir, at: At, what: String) {
        self.push_event(at, dir, format!("unparsable: {what}"));
        self.facts.malformed.push(Seen {
            at,
            value: Malformed { from: dir, what },
        });
    }

    fn on_sslv2_client_hello(&mut self, data: &[u8], at: At) {
        match hello::parse_sslv2_client_hello(data) {
            Ok(ch) => {
                self.push_event(
                    at,
                    Dir::ToServer,
                    format!(
                        "ClientHello (SSLv2 format, up to {}, {} suites)",
                        ch.legacy_version,
                        ch.cipher_suites.len()
                    ),
                );
                self.facts.client_hello = Some(Seen { at, value: ch });
            }
            Err(what) => self.malformed(Dir::ToServer, at, what),
        }
    }

    /// The ServerHello negotiated TLS 1.3 (or a draft of it).
    pub fn is_tls13(&self) -> bool {
        self.facts.negotiated_tls13()
    }

    fn maybe_settle(&mut self) {
        if self.protection.is_some() {
            // With keys the alerts that end the connection are read (a close_notify,
            // or a fatal alert after the handshake); application data is only stepped
            // over, and `--max-records` still bounds the work.
            return;
        }
        let [c, s] = &self.facts.encrypted;
        let done = if self.is_tls13() {
            c.count >= KEPT_RECORDS as u64 && s.count >= KEPT_RECORDS as u64
        } else {
            self.facts.finished.iter().all(Option::is_some) && c.count >= 1 && s.count >= 1
        };
        if done {
            self.settle();
        }
    }

    fn push_event(&mut self, at: At, from: Dir, what: impl Into<Label>) {
        if self.facts.events.len() < MAX_EVENTS {
            if self.facts.events.is_empty() {
                // A handshake's ladder takes about a dozen: room for them at once
                // instead of growing four times.
                self.facts.events.reserve(EVENTS_AT_FIRST);
            }
            self.facts.events.push(Event {
                at,
                from,
                what: what.into(),
            });
        } else {
            self.facts.events_dropped += 1;
        }
    }
}

/// `payload` is exactly one handshake message of type `ty` (a plaintext hello where a
/// protected record was expected; an encrypted one matches by chance about once in 2^26).
fn is_whole_handshake_message(payload: &[u8], ty: u8) -> bool {
    payload.len() >= 4
        && payload[0] == ty
        && u32::from_be_bytes([0, payload[1], payload[2], payload[3]]) as usize == payload.len() - 4
}

fn looks_like_tls_record(b: &[u8]) -> bool {
    b.len() >= 3 && (20..=24).contains(&b[0]) && b[1] == 3 && b[2] <= 4
}

#[cfg(test)]
mod tests;

mod keyed;
mod messages;
