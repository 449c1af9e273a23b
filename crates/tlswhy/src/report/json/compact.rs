//! The compact record written straight into the line, field after field, without
//! going through `Serialize`: most records of a capture are successes whose fields are
//! a few names and numbers, and a stream of them is what JSON Lines output costs. A
//! failure's verdict is worded into the line, its details and the alerts written by
//! [`details`]; the warnings and QUIC's facts are serialized as usual. The verdict of a
//! success depends only on its proof, and its bytes are made once per thread. The
//! fields and their order are those of the `Serialize` implementation of
//! [`JsonRecord`](crate::record::JsonRecord) (tested to write the same bytes on every
//! bundled capture and the corpus).

use std::cell::RefCell;

use serde::Serialize;

use super::details;
use super::endpoint::{write_fields, CLIENT, SERVER};
use super::flow_id::write_ts_and_time;
use super::writer::{self, write_int, write_str, write_text};
use super::{HandshakeId, RecordView, VerdictJson, SCHEMA_VERSION};
use crate::diagnose::verdict::{Finding, Proof};
use crate::diagnose::{Code, Fix, Verdict};
use crate::report::wording::{self, Context};

/// Writes the compact record of `r` at the end of `out`.
pub(crate) fn write(out: &mut Vec<u8>, r: &RecordView) {
    write_head(out, r.capture);
    write_ts_and_time(out, r.ts);
    write_fields(out, CLIENT, r.client);
    write_fields(out, SERVER, r.server);
    // Each fixed piece is written with the keys around it in one copy.
    let mut community_id = *b",\"community_id\":\"1:____________________________\",\"sni\":";
    community_id[17..47].copy_from_slice(r.community_id().as_bytes());
    out.extend_from_slice(&community_id);
    write_opt_text(out, r.sni);
    // Names from the registries (or a number in hex): nothing in them to escape.
    out.extend_from_slice(b",\"version\":");
    write_opt_ascii(out, r.version);
    out.extend_from_slice(b",\"cipher\":");
    write_opt_ascii(out, r.cipher);
    out.extend_from_slice(if r.established {
        b",\"established\":true,\"handshake_id\":"
    } else {
        b",\"established\":false,\"handshake_id\":"
    });
    match r.handshake_id {
        Some(id) => {
            let mut hex = *b"\"________________\",\"verdict\":";
            hex[1..17].copy_from_slice(&HandshakeId(id).hex());
            out.extend_from_slice(&hex);
        }
        None => out.extend_from_slice(b"null,\"verdict\":"),
    }
    write_verdict(out, r);
    if r.warnings.is_empty() {
        out.extend_from_slice(b",\"warnings\":[],\"frame\":");
    } else {
        out.extend_from_slice(b",\"warnings\":");
        write_value(out, r.warnings);
        out.extend_from_slice(b",\"frame\":");
    }
    write_int(out, r.frame);
    out.extend_from_slice(b",\"alpn\":");
    write_opt_text(out, r.alpn);
    out.extend_from_slice(if r.resumed {
        b",\"resumed\":true,\"curve\":"
    } else {
        b",\"resumed\":false,\"curve\":"
    });
    // A named group written directly (nearly every record); an unnamed one, and none,
    // as `Serialize` writes them.
    match r.curve.and_then(|group| Some((group.name()?, group.0))) {
        Some((name, code)) => {
            out.extend_from_slice(b"{\"name\":");
            write_ascii(out, name.as_bytes());
            out.extend_from_slice(b",\"code\":");
            write_int(out, code);
            out.extend_from_slice(b"},\"ja4\":");
        }
        None => {
            write_value(out, &r.curve);
            out.extend_from_slice(b",\"ja4\":");
        }
    }
    write_opt_ascii(out, r.ja4.as_ref().map(|f| f.ja4.as_str()));
    out.extend_from_slice(b",\"alerts\":");
    details::write_alerts(out, r.alerts);
    if let Some(quic) = r.quic {
        out.extend_from_slice(b",\"transport\":\"quic\",\"quic\":");
        write_value(out, quic);
    }
    if let Some(at) = &r.fallback_from_quic {
        out.extend_from_slice(b",\"fallback_from_quic\":");
        write_value(out, at);
    }
    out.push(b'}');
}

/// The record's first fields, `{"schema_version":…,"capture":…`: the same for every
/// record of a capture, written once per thread and capture.
fn write_head(out: &mut Vec<u8>, capture: &str) {
    thread_local! {
        /// The capture last written and its record's first fields.
        static HEAD: RefCell<(String, Vec<u8>)> = const { RefCell::new((String::new(), Vec::new())) };
    }
    HEAD.with_borrow_mut(|(name, head)| {
        if head.is_empty() || name != capture {
            capture.clone_into(name);
            head.clear();
            head.extend_from_slice(b"{\"schema_version\":");
            write_ascii(head, SCHEMA_VERSION.as_bytes());
            head.extend_from_slice(b",\"capture\":");
            write_str(head, capture);
        }
        out.extend_from_slice(head);
    })
}

/// A string of the record's own making, printable ASCII without quotes or
/// backslashes (times, addresses, ids): nothing in it to escape.
fn write_ascii(out: &mut Vec<u8>, text: &[u8]) {
    debug_assert!(text
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'));
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text);
    out.push(b'"');
}

/// An optional [`write_ascii`] string, `null` when there is none.
#[inline]
fn write_opt_ascii(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_ascii(out, s.as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

/// Optional text from the wire ([`write_text`]), `null` when there is none.
fn write_opt_text(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_text(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// A value through its `Serialize` implementation (rare in a compact record: kept out
/// of [`write`]'s code).
#[inline(never)]
fn write_value<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Serializing plain data into memory does not fail.
    let _ = writer::write(out, value);
}

/// The verdict object: a success's from the bytes made for its proof; any other
/// serialized.
fn write_verdict(out: &mut Vec<u8>, r: &RecordView) {
    let verdict = VerdictJson {
        verdict: r.verdict,
        context: r.context,
        full: false,
    };
    let Some(proof) = success_proof(r.verdict) else {
        return write_failure(out, r.verdict, &r.context);
    };
    thread_local! {
        /// A success's verdict bytes, by its proof.
        static SUCCESSES: RefCell<[Option<Box<[u8]>>; 2]> = const { RefCell::new([None, None]) };
    }
    SUCCESSES.with_borrow_mut(|made| {
        let slot = match proof {
            Proof::Inferred => &mut made[0],
            Proof::Decrypted => &mut made[1],
        };
        if let Some(bytes) = slot {
            out.extend_from_slice(bytes);
            return;
        }
        let start = out.len();
        write_value(out, &verdict);
        *slot = Some(out[start..].into());
    })
}

/// The verdict object of any other verdict, as [`VerdictJson`] serializes it: its words
/// written as they are made, the remedy without `Serialize`'s flattening. Kept out of
/// [`write`]'s code, which is mostly run for successes.
#[cold]
#[inline(never)]
fn write_failure(out: &mut Vec<u8>, v: &Verdict, cx: &Context) {
    out.extend_from_slice(b"{\"code\":");
    write_ascii(out, v.code.as_str().as_bytes());
    out.extend_from_slice(b",\"summary\":");
    if v.code == Code::Ok {
        // An `ok` verdict's brief words and no evidence, as for every success.
        write_ascii(out, wording::COMPLETED_BRIEFLY.as_bytes());
        out.extend_from_slice(b",\"evidence\":[");
    } else {
        write_text(out, &wording::summary(v, cx));
        out.extend_from_slice(b",\"evidence\":[");
        let mut first = true;
        wording::evidence_lines(v, cx, &mut String::with_capacity(256), |line| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            write_text(out, line);
        });
    }
    out.extend_from_slice(b"],\"fix\":");
    write_text(out, &wording::fix(v));
    out.extend_from_slice(b",\"details\":");
    if v.code == Code::Ok {
        out.extend_from_slice(b"[]");
    } else {
        details::write_details(out, &v.details);
    }
    out.extend_from_slice(b",\"remedy\":{\"side\":");
    write_value(out, &v.fix.side());
    // The fix's own object (`{"action":…}`) continues the remedy's after `side`.
    let fix = out.len();
    write_value(out, &v.fix);
    if out.get(fix + 1) == Some(&b'}') {
        out.remove(fix);
    } else {
        out[fix] = b',';
    }
    out.extend_from_slice(b",\"proof\":");
    write_ascii(out, v.proof.as_str().as_bytes());
    out.push(b'}');
}

/// The proof of a success, the only thing its compact verdict may differ in (its words
/// and remedy are the same for every success); `None` for any other verdict.
fn success_proof(v: &Verdict) -> Option<Proof> {
    match (&v.finding, &v.fix) {
        (Finding::Completed { .. }, Fix::Nothing) => Some(v.proof),
        _ => None,
    }
}
