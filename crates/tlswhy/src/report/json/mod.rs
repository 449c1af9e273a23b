//! JSON Lines: one object per handshake attempt, successful ones included, described
//! by `schema/handshake.schema.json` (its version is each record's `schema_version`).
//! The stable fields are DESIGN.md's (`capture`, `ts`, `client`, `server`, `sni`,
//! `version`, `cipher`, `established`, `verdict`); beside them the endpoints as
//! addresses and ports, the Community ID, the time in RFC 3339 and the key facts. The
//! compact record stops there; `--detail full` adds the hellos, the certificates, the
//! TCP events and the ladder ([`full`]). Registry values are `{name, code}` objects
//! (`tls::wire`), per-side values `{client, server}` objects. Every field is written
//! as it is serialized, without building a tree or a string per field.

mod endpoint;
mod flow_id;
mod full;
pub mod writer;

use std::io::{self, Write};

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use endpoint::Endpoint;
pub use flow_id::{CommunityId, Rfc3339};

use super::wording::{self, Context};
use crate::diagnose::{Code, Fix, Side, Verdict};
use crate::record::{DetailLevel, Handshake, JsonRecord};
use crate::sanitize::json_text;

/// The version of the record's shape, `MAJOR.MINOR`: a new field is a minor change, a
/// field renamed, removed or changed in meaning a major one.
pub const SCHEMA_VERSION: &str = "1.1";

/// Writes one line per handshake.
pub fn write_lines<'a, W: Write>(
    out: &mut W,
    handshakes: impl IntoIterator<Item = &'a Handshake>,
    detail: DetailLevel,
) -> io::Result<()> {
    let mut line = Vec::new();
    for handshake in handshakes {
        line.clear();
        writer::write(&mut line, &JsonRecord { handshake, detail }).map_err(io::Error::other)?;
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(())
}

/// The record, field by field in the documented order; the verdict is worded here
/// (`summary`, `evidence`, `fix`) and carries its data (`details`, `remedy`).
impl Serialize for JsonRecord<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = self.handshake;
        let full = self.detail == DetailLevel::Full;
        let mut r = s.serialize_struct("Handshake", if full { 32 } else { 25 })?;
        r.serialize_field("schema_version", SCHEMA_VERSION)?;
        r.serialize_field("capture", &h.capture)?;
        r.serialize_field("ts", &((h.ts.as_secs_f64() * 1e6).round() / 1e6))?;
        r.serialize_field("time", Rfc3339::of(h.ts).as_str())?;
        let (client, server) = (Endpoint::of(h.client), Endpoint::of(h.server));
        r.serialize_field("client", client.as_str())?;
        r.serialize_field("client_ip", client.ip())?;
        r.serialize_field("client_port", &h.client.port())?;
        r.serialize_field("server", server.as_str())?;
        r.serialize_field("server_ip", server.ip())?;
        r.serialize_field("server_port", &h.server.port())?;
        r.serialize_field(
            "community_id",
            CommunityId::tcp(h.client, h.server).as_str(),
        )?;
        r.serialize_field("sni", &h.sni.as_deref().map(json_text))?;
        r.serialize_field("version", &h.version)?;
        r.serialize_field("cipher", &h.cipher)?;
        r.serialize_field("established", &h.established)?;
        r.serialize_field("handshake_id", &h.handshake_id.map(HandshakeId))?;
        r.serialize_field(
            "verdict",
            &VerdictJson {
                verdict: &h.verdict,
                context: Context::of(h),
                full,
            },
        )?;
        r.serialize_field("warnings", &h.warnings)?;
        r.serialize_field("frame", &h.frame)?;
        r.serialize_field("alpn", &h.alpn.as_deref().map(json_text))?;
        r.serialize_field("resumed", &h.resumed())?;
        r.serialize_field(
            "curve",
            &h.server_hello.as_ref().and_then(|sh| sh.key_share_group),
        )?;
        let ja4 = h
            .client_hello
            .as_ref()
            .map(|ch| crate::tls::fingerprint::ja4(&ch.facts, false));
        r.serialize_field("ja4", &ja4.as_ref().map(|f| f.ja4.as_str()))?;
        r.serialize_field("alerts", &h.alerts)?;
        if full {
            full::serialize_fields(h, ja4.as_ref(), &mut r)?;
        }
        r.end()
    }
}

/// A record serialized on its own is the full record (`--detail full`).
impl Serialize for Handshake {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        JsonRecord {
            handshake: self,
            detail: DetailLevel::Full,
        }
        .serialize(s)
    }
}

/// `verdict`: the code, its words, and its data. An `ok` verdict's details are left
/// out (the record's own fields state them), and so is its evidence in the compact
/// record: the version, suite and frame are fields of their own, and a success is most
/// of a capture's records.
struct VerdictJson<'a> {
    verdict: &'a Verdict,
    context: Context<'a>,
    full: bool,
}

impl Serialize for VerdictJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.verdict;
        let cx = &self.context;
        let mut r = s.serialize_struct("Verdict", 7)?;
        r.serialize_field("code", &v.code)?;
        r.serialize_field("summary", &json_text(&wording::summary(v, cx)))?;
        if v.code == Code::Ok && !self.full {
            r.serialize_field("evidence", &[] as &[&str])?;
        } else {
            r.serialize_field("evidence", &JsonTexts(&wording::evidence(v, cx)))?;
        }
        r.serialize_field("fix", &json_text(&wording::fix(v)))?;
        let none: &[crate::diagnose::Detail] = &[];
        let details = if v.code == Code::Ok { none } else { &v.details };
        r.serialize_field("details", details)?;
        if let Fix::Nothing = v.fix {
            r.serialize_field("remedy", &NOTHING_TO_CHANGE)?;
        } else {
            r.serialize_field(
                "remedy",
                &Remedy {
                    side: v.fix.side(),
                    fix: &v.fix,
                },
            )?;
        }
        r.serialize_field("proof", v.proof.as_str())?;
        r.end()
    }
}

/// Strings from the wire, each written as [`json_text`] makes it.
struct JsonTexts<'a>(&'a [String]);

impl Serialize for JsonTexts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|t| json_text(t)))
    }
}

/// The remedy of every `ok` verdict, written without the generic (flattening) path.
#[derive(Serialize)]
struct NothingRemedy {
    side: Side,
    action: &'static str,
}

const NOTHING_TO_CHANGE: NothingRemedy = NothingRemedy {
    side: Side::Nobody,
    action: "nothing",
};

/// `verdict.remedy`: who acts, the action and the values it names.
#[derive(Serialize)]
struct Remedy<'a> {
    side: Side,
    #[serde(flatten)]
    fix: &'a Fix,
}

/// A handshake id as 16 hex digits.
struct HandshakeId(u64);

impl Serialize for HandshakeId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Sixteen hex digits, made on the stack (a record each).
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut digits = [0u8; 16];
        for (i, d) in digits.iter_mut().enumerate() {
            *d = HEX[(self.0 >> (60 - 4 * i)) as usize & 0xf];
        }
        s.serialize_str(std::str::from_utf8(&digits).expect("hex digits"))
    }
}
