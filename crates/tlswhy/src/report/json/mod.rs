//! JSON Lines: one object per handshake attempt, successful ones included, described
//! by `schema/handshake.schema.json` (its version is each record's `schema_version`).
//! The stable fields are DESIGN.md's (`capture`, `ts`, `client`, `server`, `sni`,
//! `version`, `cipher`, `established`, `verdict`); beside them the endpoints as
//! addresses and ports, the Community ID, the time in RFC 3339 and the key facts. The
//! compact record stops there; `--detail full` adds the hellos, the certificates, the
//! TCP events and the ladder (`full`). Registry values are `{name, code}` objects
//! (`tls::wire`), per-side values `{client, server}` objects. Every field is written
//! as it is serialized, without building a tree or a string per field.

pub(crate) mod compact;
mod details;
mod endpoint;
mod flow_id;
mod full;
pub mod writer;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::rc::Rc;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::report::endpoint::Endpoint;
pub use flow_id::{CommunityId, Rfc3339};

use super::wording::{self, Context};
use crate::capture::Timestamp;
use crate::diagnose::{Code, Fix, Side, Verdict, Warning};
use crate::record::{resumed, DetailLevel, Handshake, JsonRecord, Negotiated, QuicFacts};
use crate::sanitize::json_text;
use crate::tls::facts::AlertFacts;
use crate::tls::fingerprint::{self, Ja4};
use crate::tls::wire::NamedGroup;
use crate::tls::TlsFacts;

/// The version of the record's shape, `MAJOR.MINOR`: a new field is a minor change, a
/// field renamed, removed or changed in meaning a major one.
pub const SCHEMA_VERSION: &str = "1.5";

/// Writes one line per handshake.
pub fn write_lines<'a, W: Write>(
    out: &mut W,
    handshakes: impl IntoIterator<Item = &'a Handshake>,
    detail: DetailLevel,
) -> io::Result<()> {
    let mut line = Vec::new();
    for handshake in handshakes {
        line.clear();
        write_record(&mut line, handshake, detail);
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(())
}

/// Writes a record's JSON object at the end of `out`: the compact record straight from
/// its fields (`compact`), the full one through its `Serialize` implementation.
pub fn write_record(out: &mut Vec<u8>, handshake: &Handshake, detail: DetailLevel) {
    match detail {
        DetailLevel::Compact => compact::write(out, &RecordView::of(handshake)),
        // Serializing plain data into memory does not fail.
        DetailLevel::Full => {
            let _ = writer::write(out, &JsonRecord { handshake, detail });
        }
    }
}

/// What the compact record says, borrowed from a record or from the facts of a
/// finished connection (which then needs no record made: see `pipeline::output`).
pub(crate) struct RecordView<'a> {
    pub capture: &'a str,
    pub ts: Timestamp,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub sni: Option<&'a str>,
    pub version: Option<&'a str>,
    pub cipher: Option<&'a str>,
    pub established: bool,
    pub handshake_id: Option<u64>,
    pub verdict: &'a Verdict,
    pub context: Context<'a>,
    pub warnings: &'a [Warning],
    pub frame: u64,
    pub alpn: Option<&'a str>,
    pub resumed: bool,
    pub curve: Option<NamedGroup>,
    pub ja4: Option<Rc<Ja4>>,
    pub alerts: &'a [AlertFacts],
    /// A QUIC handshake's own facts; `None` over TCP.
    pub quic: Option<&'a QuicFacts>,
    /// Over TCP: the QUIC attempt the client fell back from.
    pub fallback_from_quic: Option<crate::flow::At>,
}

impl<'a> RecordView<'a> {
    pub(crate) fn of(h: &'a Handshake) -> RecordView<'a> {
        RecordView {
            capture: &h.capture,
            ts: h.ts,
            client: h.client,
            server: h.server,
            sni: h.sni.as_deref(),
            version: h.version.as_deref(),
            cipher: h.cipher.as_deref(),
            established: h.established,
            handshake_id: h.handshake_id,
            verdict: &h.verdict,
            context: Context::of(h),
            warnings: &h.warnings,
            frame: h.frame,
            alpn: h.alpn.as_deref(),
            resumed: h.resumed(),
            curve: h.server_hello.as_ref().and_then(|sh| sh.key_share_group),
            ja4: h
                .client_hello
                .as_ref()
                .map(|ch| fingerprint::ja4(&ch.facts, h.quic.is_some())),
            alerts: &h.alerts,
            quic: h.quic.as_deref(),
            fallback_from_quic: h.fallback_from_quic,
        }
    }

    /// The view of a finished connection's facts with its verdict: what its record
    /// would say (see [`crate::record::into_record`]), with no record made.
    pub(crate) fn of_facts(
        capture: &'a str,
        conn: &'a crate::connection::Connection,
        facts: &'a TlsFacts,
        verdict: &'a Verdict,
        warnings: &'a [Warning],
        negotiated: &'a Negotiated,
    ) -> RecordView<'a> {
        let client_hello = facts.client_hello.as_ref().map(|c| &c.value);
        let server_hello = facts.server_hello.as_ref().map(|s| &s.value);
        let no_certificates = facts
            .server_certificates
            .as_ref()
            .is_none_or(|c| c.value.certificates.is_empty());
        RecordView {
            capture,
            ts: conn.first.ts,
            client: conn.client,
            server: conn.server,
            sni: client_hello.and_then(|c| c.server_name.as_deref()),
            version: negotiated.version.as_deref(),
            cipher: negotiated.cipher.as_deref(),
            established: negotiated.established,
            handshake_id: client_hello.map(|c| c.handshake_id),
            verdict,
            context: Context {
                server: conn.server,
                start: conn.first.ts,
                client_hello,
            },
            warnings,
            frame: conn.first.frame,
            alpn: server_hello.and_then(|s| s.alpn.as_deref()),
            resumed: resumed(server_hello, negotiated.established, no_certificates),
            curve: server_hello.and_then(|sh| sh.key_share_group),
            ja4: client_hello.map(|ch| fingerprint::ja4(ch, false)),
            alerts: &facts.alerts,
            quic: None,
            fallback_from_quic: conn.fallback_from_quic(),
        }
    }

    /// The flow's Community ID (of its UDP flow for QUIC).
    fn community_id(&self) -> CommunityId {
        match self.quic {
            Some(_) => CommunityId::udp(self.client, self.server),
            None => CommunityId::tcp(self.client, self.server),
        }
    }
}

/// The record, field by field in the documented order; the verdict is worded here
/// (`summary`, `evidence`, `fix`) and carries its data (`details`, `remedy`).
/// The compact fields are the ones `compact::write` writes (tested to be the same
/// bytes).
impl Serialize for JsonRecord<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = self.handshake;
        let v = RecordView::of(h);
        let full = self.detail == DetailLevel::Full;
        let mut r = s.serialize_struct("Handshake", if full { 32 } else { 25 })?;
        r.serialize_field("schema_version", SCHEMA_VERSION)?;
        r.serialize_field("capture", v.capture)?;
        r.serialize_field("ts", &v.ts.as_secs_f64_micros())?;
        r.serialize_field("time", Rfc3339::of(v.ts).as_str())?;
        let (client, server) = (Endpoint::of(v.client), Endpoint::of(v.server));
        r.serialize_field("client", client.as_str())?;
        r.serialize_field("client_ip", client.ip())?;
        r.serialize_field("client_port", &v.client.port())?;
        r.serialize_field("server", server.as_str())?;
        r.serialize_field("server_ip", server.ip())?;
        r.serialize_field("server_port", &v.server.port())?;
        r.serialize_field("community_id", v.community_id().as_str())?;
        r.serialize_field("sni", &v.sni.map(json_text))?;
        r.serialize_field("version", &v.version)?;
        r.serialize_field("cipher", &v.cipher)?;
        r.serialize_field("established", &v.established)?;
        r.serialize_field("handshake_id", &v.handshake_id.map(HandshakeId))?;
        r.serialize_field(
            "verdict",
            &VerdictJson {
                verdict: v.verdict,
                context: v.context,
                full,
            },
        )?;
        r.serialize_field("warnings", v.warnings)?;
        r.serialize_field("frame", &v.frame)?;
        r.serialize_field("alpn", &v.alpn.map(json_text))?;
        r.serialize_field("resumed", &v.resumed)?;
        r.serialize_field("curve", &v.curve)?;
        r.serialize_field("ja4", &v.ja4.as_ref().map(|f| f.ja4.as_str()))?;
        r.serialize_field("alerts", v.alerts)?;
        // Over TCP (nearly every record) both are left out.
        if let Some(quic) = v.quic {
            r.serialize_field("transport", "quic")?;
            r.serialize_field("quic", quic)?;
        }
        if let Some(at) = &v.fallback_from_quic {
            r.serialize_field("fallback_from_quic", at)?;
        }
        if full {
            full::serialize_fields(h, v.ja4.as_deref(), &mut r)?;
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
/// out (the record's own fields state them), and in the compact record so is its
/// evidence, and its summary does not repeat the version and suite: they and the frame
/// are fields of their own, and a success is most of a capture's records.
pub(crate) struct VerdictJson<'a> {
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
        if v.code == Code::Ok && !self.full {
            r.serialize_field("summary", wording::COMPLETED_BRIEFLY)?;
        } else {
            r.serialize_field("summary", &json_text(&wording::summary(v, cx)))?;
        }
        if v.code == Code::Ok && !self.full {
            r.serialize_field("evidence", &[] as &[&str])?;
        } else {
            r.serialize_field(
                "evidence",
                &Evidence {
                    verdict: v,
                    context: cx,
                },
            )?;
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

/// `verdict.evidence`: each line worded into one buffer and written as [`json_text`]
/// makes it (the lines quote the wire).
struct Evidence<'a> {
    verdict: &'a Verdict,
    context: &'a Context<'a>,
}

impl Serialize for Evidence<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(None)?;
        let mut result = Ok(());
        let mut line = String::with_capacity(256);
        wording::evidence_lines(self.verdict, self.context, &mut line, |line| {
            if result.is_ok() {
                result = seq.serialize_element(&*json_text(line));
            }
        });
        result?;
        seq.end()
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

impl HandshakeId {
    /// Sixteen hex digits, made on the stack (a record each).
    fn hex(&self) -> [u8; 16] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut digits = [0u8; 16];
        for (i, d) in digits.iter_mut().enumerate() {
            *d = HEX[(self.0 >> (60 - 4 * i)) as usize & 0xf];
        }
        digits
    }
}

impl Serialize for HandshakeId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(std::str::from_utf8(&self.hex()).expect("hex digits"))
    }
}
