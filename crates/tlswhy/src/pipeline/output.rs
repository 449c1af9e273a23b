//! Which finished connections get a record, and the record's JSON line made where it
//! is (on the worker, at the settings' level of detail), as the pipeline's settings ask.

use crate::capture::OwnedPacket;
use crate::connection::Connection;
use crate::diagnose::{Code, Verdict};
use crate::pipeline::Settings;
use crate::quic::table::QuicFlow;
use crate::record::{into_record, quic_record, DetailLevel, Finished, Negotiated};
use crate::report::json::{compact, write_record, RecordView};

/// What the record of a connection is made with.
pub(crate) struct Output<'a> {
    pub name: &'a str,
    pub settings: &'a Settings,
}

impl Output<'_> {
    /// The record of a finished connection, from a verdict of [`diagnose_for_output`],
    /// with its packets when it failed. Only counted: a success when their records are
    /// not made, and a failure the report will not show (see [`Settings::examples`]).
    /// Otherwise a failure gets its text (diagnosed again in full when it was left out).
    pub(crate) fn record(
        &self,
        conn: &mut Connection,
        verdict: Verdict,
        packets: Vec<OwnedPacket>,
    ) -> Option<Finished> {
        let settings = self.settings;
        let code = verdict.code;
        let warnings = if code == Code::Ok {
            crate::diagnose::warnings_of(&conn.tls().facts)
        } else {
            Vec::new()
        };
        let handshake_id = conn
            .tls()
            .facts
            .client_hello
            .as_ref()
            .map(|c| c.value.handshake_id);
        let counted_only = if code == Code::Ok {
            !settings.ok_records
        } else {
            // JSON Lines list every record, whatever a collector keeps.
            !settings.render_json && settings.examples.as_ref().is_some_and(|b| b.is_spent(code))
        };
        let packets = if code == Code::Ok {
            Vec::new()
        } else {
            packets
        };
        let (server, ts, frame) = (conn.server, conn.first.ts, conn.first.frame);
        let decryption = conn.tls().facts.decryption;
        if counted_only {
            let server_name = take_server_name(conn);
            return Some(Finished {
                code,
                warnings,
                handshake_id,
                handshake: None,
                packets,
                json_line: None,
                server,
                ts,
                frame,
                server_name,
                decryption,
            });
        }
        if settings.render_json && settings.json_only && settings.detail == DetailLevel::Compact {
            // The line is all that is wanted of the record: it is written from the
            // facts, and no record is made.
            let facts = &conn.tls().facts;
            let negotiated = Negotiated::of(facts, &verdict);
            let view =
                RecordView::of_facts(self.name, conn, facts, &verdict, &warnings, &negotiated);
            let json_line = line(|out| compact::write(out, &view));
            let server_name = take_server_name(conn);
            return Some(Finished {
                code,
                warnings,
                handshake_id,
                handshake: None,
                packets,
                json_line: Some(json_line),
                server,
                ts,
                frame,
                server_name,
                decryption,
            });
        }
        let facts = conn.take_tls_facts();
        let mut handshake = into_record(self.name, conn, facts, verdict, warnings.clone());
        let json_line = settings
            .render_json
            .then(|| line(|out| write_record(out, &handshake, settings.detail)));
        let keep_record = !(settings.render_json && settings.json_only);
        let server_name = if keep_record {
            None
        } else {
            handshake.sni.take()
        };
        Some(Finished {
            code,
            warnings,
            handshake_id,
            handshake: keep_record.then(|| Box::new(handshake)),
            packets,
            json_line,
            server,
            ts,
            frame,
            server_name,
            decryption,
        })
    }
}

impl Output<'_> {
    /// The record of a finished QUIC attempt, made as a TCP connection's is (successes
    /// only counted unless their records are wanted, failures the report will not show
    /// only counted), with its packets when it failed and they were kept.
    pub(crate) fn quic_record(&self, flow: QuicFlow, packets: Vec<OwnedPacket>) -> Finished {
        let settings = self.settings;
        let port = flow.server.port();
        let verdict = crate::diagnose::quic::verdict(&flow.attempt, port, flow.tcp_fallback);
        let code = verdict.code;
        let (server, ts, frame) = (
            flow.server,
            flow.attempt.first.map(|at| at.ts).unwrap_or_default(),
            flow.attempt.first.map_or(0, |at| at.frame),
        );
        let handshake_id = flow.attempt.client_hello.as_ref().map(|c| c.handshake_id);
        let counted_only = if code == Code::Ok {
            !settings.ok_records
        } else {
            !settings.render_json && settings.examples.as_ref().is_some_and(|b| b.is_spent(code))
        };
        let mut finished = Finished {
            code,
            warnings: Vec::new(),
            handshake_id,
            handshake: None,
            // A failure's packets, for `--write`.
            packets: if code == Code::Ok {
                Vec::new()
            } else {
                packets
            },
            json_line: None,
            server,
            ts,
            frame,
            server_name: None,
            decryption: Default::default(),
        };
        let handshake = quic_record(self.name, flow, verdict);
        if counted_only {
            finished.server_name = handshake.sni;
            return finished;
        }
        finished.json_line = settings
            .render_json
            .then(|| line(|out| write_record(out, &handshake, settings.detail)));
        if settings.render_json && settings.json_only {
            finished.server_name = handshake.sni;
        } else {
            finished.handshake = Some(Box::new(handshake));
        }
        finished
    }
}

/// The server_name of a connection whose record is not made: the connection is
/// dropped once its record is made, so the name moves (and a connection without a
/// ClientHello gets no TLS layer made for nothing).
fn take_server_name(conn: &mut Connection) -> Option<String> {
    conn.tls().facts.client_hello.as_ref()?;
    conn.tls_mut()
        .facts
        .client_hello
        .as_mut()
        .and_then(|c| c.value.server_name.take())
}

/// A record's JSON line made by `write`, newline included, in an allocation of its
/// exact size (lines may wait for earlier connections' records; a grown buffer would be
/// half empty).
fn line(write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        write(scratch);
        scratch.push(b'\n');
        scratch.as_slice().to_vec()
    })
}
