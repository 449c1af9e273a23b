//! JSON Lines: one object per handshake attempt, successful ones included. The stable
//! fields are DESIGN.md's (`capture`, `ts`, `client`, `server`, `sni`, `version`,
//! `cipher`, `established`, `verdict`); the rest is documented in the README.

use std::io::{self, Write};

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::wording::{self, Context};
use crate::diagnose::{Code, Fix, Side, Verdict};
use crate::record::Handshake;
use crate::sanitize::json_text;

/// Writes one line per handshake.
pub fn write_lines<'a, W: Write>(
    out: &mut W,
    handshakes: impl IntoIterator<Item = &'a Handshake>,
) -> io::Result<()> {
    for h in handshakes {
        serde_json::to_writer(&mut *out, h).map_err(io::Error::other)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The record, field by field in the documented order; the verdict is worded here
/// (`summary`, `evidence`, `fix`) and carries its data (`details`, `remedy`).
impl Serialize for Handshake {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut r = s.serialize_struct("Handshake", 22)?;
        r.serialize_field("capture", &self.capture)?;
        r.serialize_field("ts", &((self.ts.as_secs_f64() * 1e6).round() / 1e6))?;
        r.serialize_field("client", &self.client)?;
        r.serialize_field("server", &self.server)?;
        r.serialize_field("sni", &self.sni.as_deref().map(json_text))?;
        r.serialize_field("version", &self.version)?;
        r.serialize_field("cipher", &self.cipher)?;
        r.serialize_field("established", &self.established)?;
        r.serialize_field("handshake_id", &self.handshake_id.map(HandshakeId))?;
        r.serialize_field(
            "verdict",
            &VerdictJson {
                verdict: &self.verdict,
                context: Context::of(self),
            },
        )?;
        r.serialize_field("warnings", &self.warnings)?;
        r.serialize_field("frame", &self.frame)?;
        r.serialize_field("last_frame", &self.last_frame)?;
        r.serialize_field("alpn", &self.alpn.as_deref().map(json_text))?;
        r.serialize_field("client_hello", &self.client_hello)?;
        r.serialize_field("server_hello", &self.server_hello)?;
        r.serialize_field("hello_retry_request", &self.hello_retry_request)?;
        r.serialize_field("certificates", &self.certificates)?;
        r.serialize_field("alerts", &self.alerts)?;
        r.serialize_field("tcp", &self.tcp)?;
        r.serialize_field("malformed", &self.malformed)?;
        r.serialize_field("messages", &self.messages)?;
        r.end()
    }
}

/// `verdict`: the code, its words, and its data. An `ok` verdict's details are left
/// out (the record's own fields state them).
struct VerdictJson<'a> {
    verdict: &'a Verdict,
    context: Context<'a>,
}

impl Serialize for VerdictJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.verdict;
        let cx = &self.context;
        let mut r = s.serialize_struct("Verdict", 6)?;
        r.serialize_field("code", &v.code)?;
        r.serialize_field("summary", &json_text(&wording::summary(v, cx)))?;
        r.serialize_field("evidence", &JsonTexts(&wording::evidence(v, cx)))?;
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
        s.collect_str(&format_args!("{:016x}", self.0))
    }
}
