//! The rules, by family, in the catalog's precedence: TCP-level failures, non-TLS
//! peers, a capture that cannot tell, the alerts (routed to the SNI, certificate,
//! version and negotiation families), then the outcome read from the flights when no
//! alert decides. [`PRECEDENCE`] is that order, written once; each rule returns the
//! verdict with its evidence as data, or passes.
//!
//! The three facts several rules rest on have one definition each, here:
//! [`Ctx::negotiated_tls13`], [`is_encrypted_alert_len`] and
//! [`Ctx::handshake_completed_before`].

mod alert;
mod capture;
pub(super) mod cert;
mod negotiation;
mod outcome;
mod peer;
mod sni;
mod tcp;
#[cfg(test)]
mod tests;
mod version;

pub(crate) use cert::validity_finding;
pub(crate) use peer::{another_protocol, port_probe};

use std::cell::Cell;
use std::net::SocketAddr;

use super::detail::{CloseKind, Detail};
use super::profile::ServerProfile;
use super::{Reads, Settings, Verdict};
use crate::capture::Timestamp;
use crate::connection::Connection;
use crate::flow::{At, Dir};
use crate::tls::cert::CertFacts;
use crate::tls::facts::{AlertFacts, Seen};
use crate::tls::hello::ClientHelloFacts;
use crate::tls::TlsFacts;

/// A rule: the verdict when it applies to the connection, else `None` (the next rule
/// decides).
type Rule = fn(&Ctx<'_>) -> Option<Verdict>;

/// The rules in the order they are tried; the first that applies decides. The last
/// always applies.
pub(super) const PRECEDENCE: &[(&str, Rule)] = &[
    (
        "tcp: refused or unanswered SYN",
        tcp::handshake_never_started,
    ),
    ("capture: only the client's side", capture::one_sided),
    ("peer: no ClientHello", peer::without_client_hello),
    ("peer: server answered in plain text", peer::non_tls_server),
    (
        "capture: lost before the outcome",
        capture::lost_before_outcome,
    ),
    (
        "alert: a decisive plaintext alert",
        alert::decisive_alert_verdict,
    ),
    (
        "outcome: from the flights",
        outcome::without_plaintext_alert,
    ),
];

/// What one diagnosis reads: the connection, its TLS facts, the server's profile and
/// how far the capture goes.
pub(super) struct Ctx<'a> {
    pub conn: &'a Connection,
    pub facts: &'a TlsFacts,
    pub server_profile: Option<&'a ServerProfile>,
    pub settings: &'a Settings,
    pub end: Timestamp,
    /// What the verdict was drawn from beyond the connection itself.
    pub reads: Cell<Reads>,
}

/// The shortest TLS 1.3 Finished record under `suite`: the message (4 bytes of header
/// and a SHA-256 hash, the shortest any suite uses), 1 byte of inner content type and the
/// AEAD tag (8 bytes with CCM_8, else 16). A SHA-384 suite's Finished is longer still.
pub fn tls13_finished_record_len(suite: u16) -> u32 {
    4 + 32 + 1 + tls13_tag_len(suite)
}

/// The AEAD tag of a TLS 1.3 record: 8 bytes with TLS_AES_128_CCM_8_SHA256, else 16.
fn tls13_tag_len(suite: u16) -> u32 {
    if suite == 0x1305 {
        8
    } else {
        16
    }
}

/// An encrypted record too short to be a Finished is an alert (2 bytes, the inner type
/// and the tag: 19 bytes, 11 with CCM_8 — padded by some stacks, Java's are 35). The one
/// definition of "an encrypted alert, by size". An empty Certificate (25 bytes) is as
/// short: the flight rules tell it by what follows it.
pub fn is_encrypted_alert_len(len: u32, suite: u16) -> bool {
    len < tls13_finished_record_len(suite)
}

/// An unpadded TLS 1.3 alert record under `suite`: 2 bytes, the inner type and the tag.
pub fn tls13_bare_alert_len(suite: u16) -> u32 {
    2 + 1 + tls13_tag_len(suite)
}

/// An empty client Certificate message (8 bytes) as a TLS 1.3 record under `suite`.
pub fn tls13_empty_certificate_len(suite: u16) -> u32 {
    EMPTY_CERTIFICATE_MESSAGE + 1 + tls13_tag_len(suite)
}

/// The bytes of an empty TLS 1.3 Certificate message: its header (4), an empty request
/// context (1) and an empty list (3).
const EMPTY_CERTIFICATE_MESSAGE: u32 = 8;

/// What a TLS 1.3 record of `len` bytes under `suite` holds besides the inner content
/// type and the AEAD tag (and any padding).
pub fn tls13_record_content(len: u32, suite: u16) -> u32 {
    len.saturating_sub(1 + tls13_tag_len(suite))
}

/// A TLS 1.3 Finished message under `suite`: 4 bytes of header and the transcript hash
/// (SHA-384 for TLS_AES_256_GCM_SHA384, else SHA-256).
pub fn tls13_finished_message_len(suite: u16) -> u32 {
    4 + if suite == 0x1302 { 48 } else { 32 }
}

/// What the client's TLS 1.3 records (in order, from its first) say, by size, of a
/// client certificate — the CertificateRequest and the Certificate are encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCertificateBySize {
    /// An empty Certificate: a record of its own, alert-sized (padded by some stacks,
    /// Java's is 41 bytes) and followed by a longer one (the Finished), or in one record
    /// with the Finished (rustls): exactly the two messages' size.
    Empty,
    /// A Certificate with entries: a first record longer than a Finished by more than
    /// any padding seen (a Certificate of its own, or with its CertificateVerify and the
    /// Finished in one record, as OpenSSL writes them).
    Sent,
    /// Neither shows: a Finished alone, or sizes that say nothing.
    Unknown,
}

/// Bytes beyond the Finished (and an empty Certificate) that a first record may hold as
/// padding; more is a certificate (the smallest real chain is a few hundred bytes).
const PADDING_SEEN: u32 = 64;

/// [`ClientCertificateBySize`] of the client's encrypted records `records`.
pub fn client_certificate_by_size(records: &[(At, u32)], suite: u16) -> ClientCertificateBySize {
    let Some(&(_, first)) = records.first() else {
        return ClientCertificateBySize::Unknown;
    };
    let finished = tls13_finished_message_len(suite);
    if is_encrypted_alert_len(first, suite) {
        let longer_next = records
            .get(1)
            .is_some_and(|(_, len)| !is_encrypted_alert_len(*len, suite));
        return if first >= tls13_empty_certificate_len(suite) && longer_next {
            ClientCertificateBySize::Empty
        } else {
            ClientCertificateBySize::Unknown
        };
    }
    let content = tls13_record_content(first, suite);
    if content == EMPTY_CERTIFICATE_MESSAGE + finished {
        ClientCertificateBySize::Empty
    } else if content > EMPTY_CERTIFICATE_MESSAGE + finished + PADDING_SEEN {
        ClientCertificateBySize::Sent
    } else {
        ClientCertificateBySize::Unknown
    }
}

impl<'a> Ctx<'a> {
    /// Runs the rules in [`PRECEDENCE`] order.
    pub(super) fn verdict(&self) -> Verdict {
        PRECEDENCE
            .iter()
            .find_map(|(_, rule)| rule(self))
            .expect("the last rule always decides")
    }

    /// The server's profile; the verdict now depends on other connections.
    pub fn profile(&self) -> Option<&'a ServerProfile> {
        self.reads.set(Reads {
            profile: true,
            ..self.reads.get()
        });
        self.server_profile
    }

    /// The end of the capture (bounded by the flow idle timeout); the verdict now
    /// depends on how long the capture went on.
    pub fn capture_end(&self) -> Timestamp {
        self.reads.set(Reads {
            end: true,
            ..self.reads.get()
        });
        self.end
    }

    pub fn server(&self) -> SocketAddr {
        self.conn.server
    }

    pub fn client_hello(&self) -> Option<&'a Seen<ClientHelloFacts>> {
        self.facts.client_hello.as_ref()
    }

    /// The ClientHello as evidence: what the client offered.
    pub fn client_hello_detail(&self, ch: &Seen<ClientHelloFacts>) -> Detail {
        let c = &ch.value;
        Detail::ClientHello {
            at: ch.at,
            highest_version: c.highest_version(),
            suites: c.real_suites().count(),
        }
    }

    pub fn alert_detail(&self, a: &AlertFacts) -> Detail {
        Detail::Alert {
            at: a.at,
            from: a.from,
            level: a.level,
            description: a.description,
            encrypted: a.encrypted,
        }
    }

    /// How `from` closed, if it did: its RST, else its FIN.
    pub fn close_detail(&self, from: Dir) -> Option<Detail> {
        let t = &self.conn.tcp;
        let d = from.index();
        // The side's first close is the event: a reset after its own FIN is the
        // kernel's answer to the peer's later bytes.
        if let Some(rst) = t.reset_first(d) {
            return Some(Detail::Close {
                at: rst,
                from,
                how: CloseKind::Rst,
            });
        }
        t.fin[d].map(|fin| Detail::Close {
            at: fin,
            from,
            how: CloseKind::Fin,
        })
    }

    /// Both sides' closes.
    pub fn closes(&self) -> Vec<Detail> {
        [Dir::ToServer, Dir::ToClient]
            .into_iter()
            .filter_map(|d| self.close_detail(d))
            .collect()
    }

    /// Whether `from` closed (FIN or RST).
    pub fn closed(&self, from: Dir) -> bool {
        let t = &self.conn.tcp;
        t.rst[from.index()].is_some() || t.fin[from.index()].is_some()
    }

    /// An alert sent after the peer had already closed (FIN or RST) is the sender's
    /// reaction to the close, not the cause of the failure.
    pub fn after_peer_closed(&self, a: &AlertFacts) -> bool {
        let peer = a.from.opposite().index();
        let t = &self.conn.tcp;
        [t.fin[peer], t.rst[peer]]
            .iter()
            .flatten()
            .any(|closed| *closed < a.at)
    }

    /// Round-trip time seen in the handshake (SYN→SYN-ACK, else ClientHello→ServerHello).
    pub fn rtt(&self) -> f64 {
        let t = &self.conn.tcp;
        if let (Some(syn), Some(syn_ack)) = (t.syn, t.syn_ack) {
            return syn_ack.ts.secs_since(syn.ts).max(0.0);
        }
        match (self.client_hello(), &self.facts.server_hello) {
            (Some(ch), Some(sh)) => sh.at.ts.secs_since(ch.at.ts).max(0.0),
            _ => 0.0,
        }
    }

    /// `later` follows `earlier` as a reaction, not after an idle pause
    /// ([`crate::flow::within_reaction_time`]).
    pub fn reacts_to(&self, earlier: At, later: At) -> bool {
        crate::flow::within_reaction_time(earlier.ts, later.ts, self.rtt())
    }

    /// The ServerHello selected TLS 1.3 (or a draft): the rest of the handshake is
    /// encrypted.
    pub fn negotiated_tls13(&self) -> bool {
        negotiated_tls13(self.facts)
    }

    /// The handshake completed before `t`.
    pub fn handshake_completed_before(&self, t: At) -> bool {
        handshake_completed_before(self.facts, t)
    }

    /// The negotiated suite (0 before a ServerHello).
    pub fn suite(&self) -> u16 {
        self.facts.negotiated_suite()
    }

    /// When the client closed its side (FIN or RST, the earlier).
    pub fn client_left(&self) -> Option<At> {
        earliest(self.conn.tcp.fin[0], self.conn.tcp.rst[0])
    }

    /// When the server closed its side (FIN or RST, the earlier).
    pub fn server_left(&self) -> Option<At> {
        earliest(self.conn.tcp.fin[1], self.conn.tcp.rst[1])
    }

    /// A TLS 1.3 encrypted record of `len` bytes is an alert.
    pub fn is_alert_record(&self, len: u32) -> bool {
        is_encrypted_alert_len(len, self.suite())
    }

    /// `leaf` is vouched for elsewhere: another connection to this server accepted it
    /// (sent data after the handshake), or this client polls the server with it (the
    /// same silent handshake at a steady interval: a monitor that does not verify).
    pub fn leaf_vouched_for(&self, leaf: &CertFacts) -> bool {
        let client = self.conn.client.ip();
        self.profile()
            .is_some_and(|p| p.accepted(leaf) || p.polled_by(leaf, client))
    }

    /// The server asked for the client's certificate before `closed` and none was
    /// sent: a client without one leaves there (a browser drops the connection to ask
    /// its user, and comes back without one).
    pub fn left_when_asked_for_its_certificate(&self, closed: At) -> bool {
        self.facts
            .certificate_request
            .is_some_and(|asked| asked < closed)
            && self.facts.client_certificate.is_none()
    }

    pub fn leaf(&self) -> Option<&'a CertFacts> {
        self.facts
            .server_certificates
            .as_ref()?
            .value
            .certificates
            .first()
    }

    /// The server answered in TLS (ServerHello, HelloRetryRequest, alert, encrypted
    /// record) before `t`.
    pub fn server_answered_before(&self, t: At) -> bool {
        let f = self.facts;
        f.server_hello.as_ref().is_some_and(|s| s.at < t)
            || f.hello_retry_request.as_ref().is_some_and(|s| s.at < t)
            || f.alerts.iter().any(|a| a.from == Dir::ToClient && a.at < t)
            || f.encrypted[1].first.first().is_some_and(|(at, _)| *at < t)
    }

    /// The server said something in TLS: a hello, an alert, an encrypted record.
    pub fn server_said_anything_tls(&self) -> bool {
        self.facts.server_hello.is_some()
            || self.facts.hello_retry_request.is_some()
            || self
                .facts
                .alerts
                .iter()
                .any(|a| a.from == Dir::ToClient && !self.after_peer_closed(a))
            || self.facts.encrypted[1].count > 0
    }

    /// Names the server presents: this connection's leaf, or other connections'.
    pub fn known_certificate_names(&self) -> Vec<String> {
        if let Some(leaf) = self.leaf() {
            return leaf.names();
        }
        self.profile()
            .map(|p| p.certificate_names.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Names on the certificate the server presents for the name this client asked for:
    /// this connection's leaf, or the one other clients that asked for the same name got
    /// (another name's certificate belongs to another virtual host). Empty when unknown.
    pub fn certificate_names_for_this_name(&self) -> Vec<String> {
        if let Some(leaf) = self.leaf() {
            return leaf.names();
        }
        let Some(profile) = self.profile() else {
            return Vec::new();
        };
        let asked = self
            .facts
            .client_hello
            .as_ref()
            .and_then(|ch| ch.value.host_name());
        match asked {
            Some(host) => profile
                .chain_by_server_name
                .get(host)
                .and_then(|chain| chain.first())
                .filter(|leaf| leaf.parse_error.is_none())
                .map(|leaf| leaf.names())
                .unwrap_or_default(),
            None => profile.names_without_host_name.iter().cloned().collect(),
        }
    }

    /// A later connection from this client resumed the session this handshake set up
    /// (cross-connection proof that the client accepted the server).
    pub fn resumed_later(&self) -> bool {
        self.profile().is_some_and(|p| p.resumed_later(self.conn))
    }

    /// The last message seen, as evidence.
    pub fn last_message(&self) -> Option<Detail> {
        self.facts.events.last().map(|e| Detail::LastMessage {
            at: e.at,
            from: e.from,
            message: self.facts.spelled(&e.what),
        })
    }
}

/// The ServerHello selected TLS 1.3 (or a draft): [`TlsFacts::negotiated_tls13`].
pub fn negotiated_tls13(facts: &TlsFacts) -> bool {
    facts.negotiated_tls13()
}

/// The handshake completed before `t`: TLS 1.3, the client's Finished (opened with keys,
/// else by size: its first encrypted record, or the second after an empty Certificate)
/// came before `t`; before TLS 1.3, both Finished messages were seen.
pub fn handshake_completed_before(facts: &TlsFacts, t: At) -> bool {
    if negotiated_tls13(facts) && facts.decrypted[0] {
        // Opened with keys: the client's Finished itself.
        facts.finished[0].is_some_and(|at| at < t)
    } else if negotiated_tls13(facts) {
        client_finished(facts).is_some_and(|at| at < t)
    } else {
        facts.finished.iter().all(|x| x.is_some_and(|at| at < t))
    }
}

/// TLS 1.3: the client's encrypted records from the ServerHello on. Those before it
/// are 0-RTT early data (sent with the ClientHello), never its flight or an alert.
pub fn client_records_after_hello(facts: &TlsFacts) -> &[(At, u32)] {
    let records = facts.encrypted[0].first.as_slice();
    match &facts.server_hello {
        Some(sh) => {
            let early = records.iter().take_while(|(at, _)| *at < sh.at).count();
            &records[early..]
        }
        None => records,
    }
}

/// TLS 1.3: where the client's Finished is, by size — its first encrypted record when
/// that is long enough for one, or the next after a short handshake message: an empty
/// Certificate (padded by some stacks) or an EndOfEarlyData. Anything longer than a bare
/// alert and followed by a longer record is one: a fatal alert is a side's last word.
pub fn client_finished(facts: &TlsFacts) -> Option<At> {
    let suite = facts.negotiated_suite();
    let records = client_records_after_hello(facts);
    let &(first_at, first_len) = records.first()?;
    if !is_encrypted_alert_len(first_len, suite) {
        return Some(first_at);
    }
    if first_len <= tls13_bare_alert_len(suite) {
        return None;
    }
    records
        .get(1)
        .filter(|(_, len)| !is_encrypted_alert_len(*len, suite))
        .map(|(at, _)| *at)
}

/// The handshake completed at all (the records' `established`).
pub fn handshake_completed(facts: &TlsFacts) -> bool {
    facts.server_hello.is_some()
        && handshake_completed_before(
            facts,
            At {
                frame: u64::MAX,
                ts: Timestamp(i64::MAX),
            },
        )
}

/// The earlier of two optional events.
pub(super) fn earliest(a: Option<At>, b: Option<At>) -> Option<At> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
