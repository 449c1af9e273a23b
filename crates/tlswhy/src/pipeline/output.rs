//! Which finished connections get a record, and the record's JSON line made where it
//! is (on the worker, at the settings' level of detail), as the pipeline's settings ask.

use crate::capture::OwnedPacket;
use crate::connection::Connection;
use crate::diagnose::{Code, Verdict};
use crate::pipeline::Settings;
use crate::quic::table::QuicFlow;
use crate::record::{into_record, quic_record, DetailLevel, Finished, Handshake, Negotiated};
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
        let mut finished = Finished {
            code,
            warnings,
            handshake_id: conn
                .tls()
                .facts
                .client_hello
                .as_ref()
                .map(|c| c.value.handshake_id),
            handshake: None,
            packets: failure_packets(code, packets),
            json_line: None,
            server: conn.server,
            ts: conn.first.ts,
            frame: conn.first.frame,
            server_name: None,
            decryption: conn.tls().facts.decryption,
            cites_profiles: verdict.reads.profile,
        };
        if self.counted_only(code) {
            finished.server_name = take_server_name(conn);
            return Some(finished);
        }
        if settings.render_json && settings.json_only && settings.detail == DetailLevel::Compact {
            // The line is all that is wanted of the record: it is written from the
            // facts, and no record is made.
            let facts = &conn.tls().facts;
            let negotiated = Negotiated::of(facts, &verdict);
            let view = RecordView::of_facts(
                self.name,
                conn,
                facts,
                &verdict,
                &finished.warnings,
                &negotiated,
            );
            finished.json_line = Some(line(|out| compact::write(out, &view)));
            finished.server_name = take_server_name(conn);
            return Some(finished);
        }
        let facts = conn.take_tls_facts();
        let warnings = finished.warnings.clone();
        self.keep(
            &mut finished,
            into_record(self.name, conn, facts, verdict, warnings),
        );
        Some(finished)
    }

    /// The record of a finished QUIC attempt, made as a TCP connection's is, with its
    /// packets when it failed and they were kept.
    pub(crate) fn quic_record(&self, flow: Box<QuicFlow>, packets: Vec<OwnedPacket>) -> Finished {
        let port = flow.server.port();
        let verdict = crate::diagnose::quic::verdict(
            &flow.attempt,
            port,
            flow.tcp_fallback,
            flow.tcp_unanswered,
        );
        let code = verdict.code;
        let mut finished = Finished {
            code,
            warnings: Vec::new(),
            handshake_id: flow.attempt.client_hello.as_ref().map(|c| c.handshake_id),
            handshake: None,
            packets: failure_packets(code, packets),
            json_line: None,
            server: flow.server,
            ts: flow.attempt.first.map(|at| at.ts).unwrap_or_default(),
            frame: flow.attempt.first.map_or(0, |at| at.frame),
            server_name: None,
            decryption: Default::default(),
            // What an unanswered attempt reads beyond itself is whether its client fell
            // back to TCP in this capture: no server profile, and it is not held to
            // the end.
            cites_profiles: false,
        };
        if self.counted_only(code) {
            // No record: its server name is all that is wanted of it.
            let mut flow = flow;
            finished.server_name = flow
                .attempt
                .client_hello
                .as_mut()
                .and_then(|c| c.server_name.take());
            return finished;
        }
        let handshake = quic_record(self.name, *flow, verdict);
        self.keep(&mut finished, handshake);
        finished
    }

    /// A record of `code` is only counted: a success when their records are not made,
    /// a failure the report will not show (JSON Lines list every record, whatever a
    /// collector keeps).
    fn counted_only(&self, code: Code) -> bool {
        let settings = self.settings;
        if code == Code::Ok {
            !settings.ok_records
        } else {
            !settings.render_json && settings.examples.as_ref().is_some_and(|b| b.is_spent(code))
        }
    }

    /// Gives `finished` its record's JSON line when JSON is rendered, and the record
    /// itself unless only the line is wanted (then the server name alone is kept).
    fn keep(&self, finished: &mut Finished, mut handshake: Handshake) {
        let settings = self.settings;
        finished.json_line = settings
            .render_json
            .then(|| line(|out| write_record(out, &handshake, settings.detail)));
        if settings.render_json && settings.json_only {
            finished.server_name = handshake.sni.take();
        } else {
            finished.handshake = Some(Box::new(handshake));
        }
    }
}

/// A record keeps its connection's packets only when it failed (`--write`).
fn failure_packets(code: Code, packets: Vec<OwnedPacket>) -> Vec<OwnedPacket> {
    if code == Code::Ok {
        Vec::new()
    } else {
        packets
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

/// A record's JSON line made by `write`, newline included. Written straight into its
/// own allocation, sized from the thread's last line with some room to spare: lines may
/// wait for earlier connections' records, so a buffer grown by doubling would be half
/// empty, and a scratch buffer copied out costs a copy of every line.
fn line(write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    thread_local! {
        static LAST_LEN: std::cell::Cell<usize> = const { std::cell::Cell::new(1024) };
    }
    let last = LAST_LEN.get();
    let mut out = Vec::with_capacity(last + last / 8 + 64);
    write(&mut out);
    out.push(b'\n');
    LAST_LEN.set(out.len());
    out
}
