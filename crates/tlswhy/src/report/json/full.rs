//! The fields `--detail full` adds to a record: the connection's last frame, the raw
//! JA4 and the legacy JA3 of the ClientHello, the whole
//! ClientHello and ServerHello, the server's certificates, the TCP events with each
//! side's values as `{client, server}`, what did not parse, and the ladder of messages.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::flow::{At, TcpFacts};
use crate::record::Handshake;
use crate::tls::fingerprint::{self, Ja4};

/// Writes the full record's extra fields into the record's object.
pub(super) fn serialize_fields<R: SerializeStruct>(
    h: &Handshake,
    ja4: Option<&Ja4>,
    r: &mut R,
) -> Result<(), R::Error> {
    r.serialize_field("last_frame", &h.last_frame)?;
    r.serialize_field("ja4_r", &ja4.map(|f| f.ja4_r.as_str()))?;
    let ja3 = h
        .client_hello
        .as_ref()
        .map(|ch| fingerprint::ja3(&ch.facts));
    r.serialize_field("ja3", &ja3.as_ref().map(|(text, _)| text.as_str()))?;
    r.serialize_field("ja3_hash", &ja3.as_ref().map(|(_, hash)| hash.as_str()))?;
    r.serialize_field("client_hello", &h.client_hello)?;
    r.serialize_field("server_hello", &h.server_hello)?;
    r.serialize_field("hello_retry_request", &h.hello_retry_request)?;
    r.serialize_field("certificates", &h.certificates)?;
    r.serialize_field("tcp", &Tcp(&h.tcp))?;
    r.serialize_field("malformed", &h.malformed)?;
    r.serialize_field("messages", &h.messages)
}

/// One value per side: `{"client": …, "server": …}` (index 0 is what the client sent).
struct PerSide<'a, T>(&'a [T; 2]);

impl<T: Serialize> Serialize for PerSide<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut r = s.serialize_struct("PerSide", 2)?;
        r.serialize_field("client", &self.0[0])?;
        r.serialize_field("server", &self.0[1])?;
        r.end()
    }
}

/// `tcp`: the handshake's TCP events and counts.
struct Tcp<'a>(&'a TcpFacts);

impl Serialize for Tcp<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut r = s.serialize_struct("Tcp", 11)?;
        r.serialize_field("syn", &t.syn)?;
        r.serialize_field("syn_count", &t.syn_count)?;
        r.serialize_field("syn_ack", &t.syn_ack)?;
        r.serialize_field("fin", &PerSide::<Option<At>>(&t.fin))?;
        r.serialize_field("rst", &PerSide(&t.rst))?;
        r.serialize_field("packets", &PerSide(&t.packets))?;
        r.serialize_field("payload_bytes", &PerSide(&t.payload_bytes))?;
        r.serialize_field("first_payload", &PerSide(&t.first_payload))?;
        r.serialize_field("lost_segment", &PerSide(&t.lost_segment))?;
        r.serialize_field("roles_guessed", &t.roles_guessed)?;
        r.serialize_field("conflicting_overlaps", &PerSide(&t.conflicting_overlaps))?;
        r.end()
    }
}
