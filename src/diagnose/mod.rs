//! The rules: from what a connection showed (TCP events, hellos, certificates, alerts,
//! encrypted records) and what the capture shows about its server, to one verdict.
//!
//! The code names the root cause — the earliest link in the causal chain the packets
//! support — following the precedence of the catalog: TCP-level failures, non-TLS
//! peers, SNI problems, certificate problems, version, negotiation (cipher, ALPN, client
//! certificate), then the generic codes. Every rule that fires cites the packets.

pub mod profile;
pub mod verdict;

use std::net::SocketAddr;

pub use profile::{Profiles, ServerProfile};
pub use verdict::{Code, Verdict};

use crate::capture::Timestamp;
use crate::flow::{At, Connection, Dir};
use crate::tls::alert::{AlertDescription as AD, AlertLevel};
use crate::tls::cert::{format_unix, CertFacts};
use crate::tls::conversation::{AlertFacts, Seen};
use crate::tls::hello::ClientHelloFacts;
use crate::tls::suites::{
    classify_offer, is_grease, is_signaling, suite_name, version_name, version_rank,
};
use crate::tls::TlsFacts;

/// Ports whose connections count as TLS attempts even when no ClientHello is seen.
pub const WELL_KNOWN_TLS_PORTS: &[u16] = &[
    443, 465, 563, 636, 853, 989, 990, 991, 992, 993, 994, 995, 4433, 5061, 5223, 6443, 6697, 8443,
    8883, 9443, 10443,
];

/// Settings that shape the diagnosis.
#[derive(Clone, Debug)]
pub struct Settings {
    /// TLS ports: the well-known ones plus any given with `--port`.
    pub tls_ports: Vec<u16>,
    /// Silence after a ClientHello (or a SYN) longer than this is a timeout, in seconds.
    pub response_timeout: f64,
    /// Keep copies of the packets of failing handshakes (`--write`).
    pub keep_failing_packets: bool,
    /// Bounds on memory and work.
    pub limits: crate::limits::Limits,
    /// Worker threads for one capture (1: all on the calling thread).
    pub threads: usize,
    /// Captures smaller than this are analyzed on one thread.
    pub parallel_min_bytes: usize,
    /// Memory-map capture files instead of reading them in chunks.
    pub memory_map: bool,
    /// Render each record's JSON line where it is made (`Finished::json_line`).
    pub render_json: bool,
    /// With `render_json`: nothing reads the records but as JSON lines (no summary,
    /// JUnit or examples), so `Finished` carries the line only and the record is freed
    /// where it was made.
    pub json_only: bool,
    /// Make the records of successful handshakes (off when the output only counts them).
    pub ok_records: bool,
    /// Counters the pass bumps as it goes (a progress meter reads them).
    pub progress: Option<std::sync::Arc<crate::progress::Progress>>,
    /// The report shows only some failures of each code (and nothing else reads the
    /// records): a failure whose code has shown its share is only counted, its text and
    /// record never made (not with `render_json`). One per capture, shared with its
    /// `Collector`.
    pub examples: Option<std::sync::Arc<crate::analyze::ExampleBudget>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tls_ports: WELL_KNOWN_TLS_PORTS.to_vec(),
            response_timeout: 3.0,
            keep_failing_packets: false,
            limits: crate::limits::Limits::default(),
            threads: 1,
            memory_map: false,
            render_json: false,
            json_only: false,
            ok_records: true,
            progress: None,
            examples: None,
            parallel_min_bytes: 4 * 1024 * 1024,
        }
    }
}

/// A 19-byte application_data record is a TLS 1.3 alert under a 16-byte AEAD tag
/// (2 bytes of alert, 1 byte of inner content type); CCM_8 makes it 11.
fn is_encrypted_alert_len(len: u32) -> bool {
    len == 19 || len == 11
}

/// What a verdict was drawn from beyond the connection's own packets. A verdict that
/// read neither is final the moment the connection ends; the streaming engine holds the
/// others back until what they read is known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    /// The server's profile (what other connections of the capture show).
    pub profile: bool,
    /// How long the capture went on after the connection (the timeout codes).
    pub end: bool,
}

/// The end of the capture as a connection's diagnosis sees it: a connection idle for
/// the flow idle timeout is over, so the capture cannot show more than that much
/// silence after it. The same for whole-capture and streaming analysis.
pub fn horizon(conn: &Connection, settings: &Settings, capture_end: Timestamp) -> Timestamp {
    let idle = settings.limits.flow_idle_ns();
    Timestamp(capture_end.0.min(conn.last.ts.0.saturating_add(idle)))
}

/// Diagnoses one connection, or `None` when it is not a TLS attempt.
pub fn diagnose(
    conn: &Connection,
    profiles: &Profiles,
    settings: &Settings,
    capture_end: Timestamp,
) -> Option<Verdict> {
    diagnose_traced(conn, profiles, settings, capture_end).0
}

/// [`diagnose`], also saying what beyond the connection the verdict read.
pub fn diagnose_traced(
    conn: &Connection,
    profiles: &Profiles,
    settings: &Settings,
    capture_end: Timestamp,
) -> (Option<Verdict>, Reads) {
    diagnose_with(conn, profiles, settings, capture_end, true)
}

/// The verdict's code and what it read, without formatting any summary, evidence or fix
/// (they are empty): decisions never depend on the text, so the code found without it
/// is the code [`diagnose_traced`] finds. For deciding what to do with a connection
/// before paying for the text.
pub fn diagnose_terse(
    conn: &Connection,
    profiles: &Profiles,
    settings: &Settings,
    capture_end: Timestamp,
) -> (Option<Verdict>, Reads) {
    diagnose_with(conn, profiles, settings, capture_end, false)
}

fn diagnose_with(
    conn: &Connection,
    profiles: &Profiles,
    settings: &Settings,
    capture_end: Timestamp,
    detail: bool,
) -> (Option<Verdict>, Reads) {
    let capture_end = horizon(conn, settings, capture_end);
    let ctx = Ctx {
        conn,
        facts: &conn.tls().facts,
        server_profile: profiles.get(&conn.server),
        settings,
        end: capture_end,
        reads: Default::default(),
        detail,
    };
    // A ClientHello on any port, or a connection to a TLS port that started (SYN) or
    // carried data: bare ACKs and FINs of a connection seen from its middle are not one.
    let t = &conn.tcp;
    let is_attempt = ctx.facts.client_hello.is_some()
        || settings.tls_ports.contains(&conn.server.port())
            && (t.syn.is_some() || t.syn_ack.is_some() || t.payload_bytes.iter().any(|&b| b > 0));
    if !is_attempt {
        return (None, Reads::default());
    }
    let mut verdict = ctx.verdict();
    if let Some(limit) = &conn.evicted {
        // Closed early by a limit: only an outcome already decided stands.
        let decided = conn.tls().facts.alerts.iter().any(AlertFacts::is_fatal)
            || matches!(verdict.code, Code::Ok | Code::ConnectionRefused);
        if !decided {
            let first = verdict.evidence.first().cloned();
            verdict = Verdict::new(
                Code::IncompleteCapture,
                "This connection was closed before its outcome was known: a limit of the analysis was reached.",
            )
            .evidence(first.into_iter().chain([format!("limit: {limit}")]))
            .fix("Raise the limit (see tlswhy analyze --help) or split the capture (editcap -c).");
            // Only the first line of evidence is kept, and it cites a packet.
            ctx.reads.set(Reads::default());
        } else {
            verdict.evidence.push(format!("note: {limit}"));
        }
    }
    for dir in [Dir::ToServer, Dir::ToClient] {
        let n = conn.tcp.conflicting_overlaps[dir.index()];
        if n > 0 {
            verdict.evidence.push(format!(
                "ambiguous capture: {n} overlapping retransmission(s) from the {} carried different bytes; the first copy was used",
                dir.sender()
            ));
        }
    }
    order_evidence(&mut verdict.evidence);
    (Some(verdict), ctx.reads.get())
}

/// Puts evidence that cites packets in frame order; other facts follow in their order.
fn order_evidence(evidence: &mut [String]) {
    let frame_of = |e: &String| -> u64 {
        e.strip_prefix("frame ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX)
    };
    evidence.sort_by_key(frame_of);
}

struct Ctx<'a> {
    conn: &'a Connection,
    facts: &'a TlsFacts,
    server_profile: Option<&'a ServerProfile>,
    settings: &'a Settings,
    end: Timestamp,
    /// What the verdict was drawn from beyond the connection itself.
    reads: std::cell::Cell<Reads>,
    /// Write the evidence of packets out; without it, citations (and an `ok` verdict's
    /// text) are left empty, which changes no decision.
    detail: bool,
}

impl Ctx<'_> {
    /// The server's profile; the verdict now depends on other connections.
    fn profile(&self) -> Option<&ServerProfile> {
        self.reads.set(Reads {
            profile: true,
            ..self.reads.get()
        });
        self.server_profile
    }

    /// The end of the capture (bounded by the flow idle timeout); the verdict now
    /// depends on how long the capture went on.
    fn capture_end(&self) -> Timestamp {
        self.reads.set(Reads {
            end: true,
            ..self.reads.get()
        });
        self.end
    }

    /// Cites a packet: `frame 7 (+0.001200 s) server→client: …`.
    fn cite(&self, at: At, from: Dir, what: impl AsRef<str>) -> String {
        if !self.detail {
            return String::new();
        }
        let arrow = match from {
            Dir::ToServer => "client→server",
            Dir::ToClient => "server→client",
        };
        format!(
            "frame {} (+{:.6} s) {}: {}",
            at.frame,
            at.ts.secs_since(self.conn.first.ts).max(0.0),
            arrow,
            what.as_ref()
        )
    }

    fn server(&self) -> SocketAddr {
        self.conn.server
    }

    fn client_hello(&self) -> Option<&Seen<ClientHelloFacts>> {
        self.facts.client_hello.as_ref()
    }

    fn sni_text(&self) -> String {
        match self
            .client_hello()
            .and_then(|c| c.value.server_name.as_deref())
        {
            Some(name) => format!("'{name}'"),
            None => "no server name".to_string(),
        }
    }

    fn cite_client_hello(&self, ch: &Seen<ClientHelloFacts>) -> String {
        if !self.detail {
            return String::new();
        }
        let c = &ch.value;
        self.cite(
            ch.at,
            Dir::ToServer,
            format!(
                "ClientHello offering {} (highest), {} cipher suites, {}{}",
                version_name(c.highest_version()),
                c.cipher_suites
                    .iter()
                    .filter(|&&s| !is_grease(s) && !is_signaling(s))
                    .count(),
                match &c.server_name {
                    Some(n) => format!("server_name '{n}'"),
                    None => "no server_name extension".to_string(),
                },
                if c.alpn.is_empty() {
                    String::new()
                } else {
                    format!(", ALPN {}", c.alpn.join(", "))
                }
            ),
        )
    }

    fn cite_alert(&self, a: &AlertFacts) -> String {
        self.cite(
            a.at,
            a.from,
            format!("{} from the {}", a.describe(), a.from.sender()),
        )
    }

    fn cite_close(&self, from: Dir) -> Option<String> {
        let t = &self.conn.tcp;
        let d = from.index();
        if let Some(at) = t.rst[d] {
            Some(self.cite(at, from, format!("TCP RST from the {}", from.sender())))
        } else {
            t.fin[d].map(|at| self.cite(at, from, format!("TCP FIN from the {}", from.sender())))
        }
    }

    fn closes(&self) -> Vec<String> {
        [Dir::ToServer, Dir::ToClient]
            .into_iter()
            .filter_map(|d| self.cite_close(d))
            .collect()
    }

    /// The first fatal plaintext alert, or a warning unrecognized_name (which servers
    /// send before failing).
    /// An alert sent after the peer had already closed (FIN or RST) is the sender's
    /// reaction to the close, not the cause of the failure.
    fn after_peer_closed(&self, a: &AlertFacts) -> bool {
        let peer = a.from.opposite().index();
        let t = &self.conn.tcp;
        [t.fin[peer], t.rst[peer]]
            .iter()
            .flatten()
            .any(|closed| *closed < a.at)
    }

    fn decisive_alert(&self) -> Option<&AlertFacts> {
        let completed = self.handshake_completed_before(At {
            frame: u64::MAX,
            ts: Timestamp(i64::MAX),
        });
        self.facts
            .alerts
            .iter()
            .filter(|a| !self.after_peer_closed(a))
            .find(|a| {
                a.is_fatal()
                    || (!completed
                        && a.level == Some(AlertLevel::WARNING)
                        && a.description == Some(AD::UNRECOGNIZED_NAME))
            })
            .or_else(|| {
                // A plaintext alert of unknown level before the handshake completed.
                self.facts.alerts.iter().find(|a| {
                    !completed
                        && !self.after_peer_closed(a)
                        && !a.encrypted
                        && a.level != Some(AlertLevel::WARNING)
                        && a.description
                            .is_some_and(|d| d != AD::CLOSE_NOTIFY && d != AD::USER_CANCELED)
                })
            })
    }

    /// Round-trip time seen in the handshake (SYN→SYN-ACK, else ClientHello→ServerHello).
    fn rtt(&self) -> f64 {
        let t = &self.conn.tcp;
        if let (Some(syn), Some(syn_ack)) = (t.syn, t.syn_ack) {
            return syn_ack.ts.secs_since(syn.ts).max(0.0);
        }
        match (self.client_hello(), &self.facts.server_hello) {
            (Some(ch), Some(sh)) => sh.at.ts.secs_since(ch.at.ts).max(0.0),
            _ => 0.0,
        }
    }

    /// `later` follows `earlier` as a reaction, not after an idle pause: within two
    /// round trips plus a quarter second. A client that rejects a certificate after the
    /// handshake (curl's name check) sends its alert at once; one that simply had
    /// nothing to say (a probe) closes after a pause.
    fn reacts_to(&self, earlier: At, later: At) -> bool {
        later.ts.secs_since(earlier.ts) <= 2.0 * self.rtt() + 0.25
    }

    fn negotiated_tls13(&self) -> bool {
        self.facts
            .server_hello
            .as_ref()
            .is_some_and(|sh| version_rank(sh.value.version) >= 20)
    }

    fn leaf(&self) -> Option<&CertFacts> {
        self.facts
            .server_certificates
            .as_ref()?
            .value
            .certificates
            .first()
    }

    fn server_said_anything_tls(&self) -> bool {
        self.facts.server_hello.is_some()
            || self.facts.hello_retry_request.is_some()
            || self
                .facts
                .alerts
                .iter()
                .any(|a| a.from == Dir::ToClient && !self.after_peer_closed(a))
            || self.facts.encrypted[1].count > 0
    }

    fn verdict(&self) -> Verdict {
        if let Some(v) = self.tcp_failure() {
            return v;
        }
        if let Some(v) = self.one_sided() {
            return v;
        }
        let Some(ch) = self.client_hello() else {
            return self.without_client_hello();
        };
        if let Some(v) = self.non_tls_server(ch) {
            return v;
        }
        if let Some(v) = self.lost_before_outcome() {
            return v;
        }
        if let Some(alert) = self.decisive_alert() {
            return self.alert_verdict(ch, alert);
        }
        self.without_plaintext_alert(ch)
    }

    // ---- TCP ----

    fn tcp_failure(&self) -> Option<Verdict> {
        let t = &self.conn.tcp;
        let syn = t.syn?;
        if t.syn_ack.is_some() || t.payload_bytes.iter().any(|&b| b > 0) {
            return None;
        }
        let target = self.server();
        if let Some(rst) = t.rst[1] {
            return Some(
                Verdict::new(
                    Code::ConnectionRefused,
                    format!("Nothing accepts connections on {target}: the server side answered the client's SYN with a reset."),
                )
                .evidence([
                    self.cite(syn, Dir::ToServer, "SYN"),
                    self.cite(rst, Dir::ToClient, "RST (connection refused)"),
                ])
                .fix(format!(
                    "Server side: start the TLS service on port {} or point the client at the port it really listens on; check that a firewall is not rejecting the connection.",
                    target.port()
                )),
            );
        }
        let waited = self.capture_end().secs_since(syn.ts);
        if t.syn_count >= 2 || waited >= self.settings.response_timeout {
            return Some(
                Verdict::new(
                    Code::ConnectionTimeout,
                    format!("The client's connection attempts to {target} were never answered (no SYN-ACK)."),
                )
                .evidence([
                    self.cite(syn, Dir::ToServer, format!("SYN, sent {} time(s)", t.syn_count)),
                    format!("no SYN-ACK or RST from {target} in the {waited:.1} s until the end of the capture"),
                ])
                .fix("Network path: check that the server is up and reachable and that no firewall silently drops packets to this port."),
            );
        }
        Some(
            Verdict::new(
                Code::IncompleteCapture,
                "The capture ends right after the client's SYN, before the server could answer.",
            )
            .evidence([
                self.cite(syn, Dir::ToServer, "SYN"),
                format!("capture ends {waited:.3} s later"),
            ])
            .fix("Capture for longer to see how the connection ends."),
        )
    }

    /// Only the client's packets are in the capture, yet it carried on as if the
    /// server had answered: the other direction was not captured (asymmetric routing,
    /// a one-way tap).
    fn one_sided(&self) -> Option<Verdict> {
        let t = &self.conn.tcp;
        let f = self.facts;
        if t.packets[1] > 0 || t.syn_ack.is_some() {
            return None;
        }
        let client_went_on = f.change_cipher_spec[0].is_some()
            || f.encrypted[0].count > 0
            || t.syn.is_none() && t.payload_bytes[0] > 0;
        if !client_went_on {
            return None;
        }
        let mut ev: Vec<String> = self
            .client_hello()
            .map(|ch| self.cite_client_hello(ch))
            .into_iter()
            .collect();
        ev.push(format!(
            "{} packets from the client, none from the server",
            t.packets[0]
        ));
        if let Some(at) = f.change_cipher_spec[0] {
            ev.push(self.cite(
                at,
                Dir::ToServer,
                "client ChangeCipherSpec: it saw a ServerHello the capture does not hold",
            ));
        }
        Some(
            Verdict::new(
                Code::IncompleteCapture,
                "Only the client's side of this connection is in the capture; the server's packets are missing.",
            )
            .evidence(ev)
            .fix("Capture where both directions pass (both legs of asymmetric routing, or on an endpoint)."),
        )
    }

    // ---- no ClientHello ----

    fn without_client_hello(&self) -> Verdict {
        let t = &self.conn.tcp;
        let f = self.facts;
        if let Some(plain) = &f.plaintext[0] {
            let mut ev = vec![self.cite(
                plain.at,
                Dir::ToServer,
                format!(
                    "{} instead of a ClientHello: \"{}\"",
                    plain.value.kind.describe(),
                    plain.value.first_line
                ),
            )];
            if let Some(resp) = &f.plaintext[1] {
                ev.push(self.cite(
                    resp.at,
                    Dir::ToClient,
                    format!("server answered \"{}\"", resp.value.first_line),
                ));
            }
            ev.extend(
                f.alerts
                    .iter()
                    .filter(|a| a.from == Dir::ToClient)
                    .map(|a| self.cite_alert(a)),
            );
            ev.extend(self.closes());
            return Verdict::new(
                Code::PlaintextToTlsPort,
                format!(
                    "The client spoke plain text ({}) to {}, which expects TLS.",
                    plain.value.kind.describe(),
                    self.server()
                ),
            )
            .evidence(ev)
            .fix(format!(
                "Client side: use TLS for this port (https:// instead of http://, or enable TLS in the client's configuration), or connect to the server's plain-text port instead of {}.",
                self.server().port()
            ));
        }
        if t.syn.is_none() && t.payload_bytes.iter().any(|&b| b > 0) {
            return Verdict::new(
                Code::IncompleteCapture,
                "The capture starts in the middle of this connection: its beginning, with the ClientHello, is not in the capture.",
            )
            .evidence([self.cite(self.conn.first, Dir::ToServer, "first packet of the connection is not a SYN, and no ClientHello follows")])
            .fix("Start the capture before the client connects (or capture on both ends) to see the handshake.");
        }
        if let Some(m) = f.malformed.iter().find(|m| m.value.from == Dir::ToServer) {
            return Verdict::new(Code::MalformedHandshake, "The client sent TLS records that do not parse as a ClientHello.")
                .evidence([self.cite(m.at, Dir::ToServer, &m.value.what)])
                .fix("Client side: the TLS implementation (or something rewriting its traffic) is sending invalid records; update or fix it.");
        }
        if let Some(lost) = t.lost_segment[0] {
            return Verdict::new(
                Code::IncompleteCapture,
                "Segments of the client's first flight are missing from the capture, so its ClientHello cannot be read.",
            )
            .evidence([self.cite(lost, Dir::ToServer, "a segment before this one is missing from the capture")])
            .fix("Capture with a larger buffer or snap length, closer to the endpoints, so no segment is lost.");
        }
        if t.payload_bytes[0] > 0 {
            return Verdict::new(
                Code::IncompleteCapture,
                "The client sent data but the capture ends before a complete ClientHello.",
            )
            .evidence([self.cite(
                t.first_payload[0].unwrap_or(self.conn.first),
                Dir::ToServer,
                format!("{} bytes of client data", t.payload_bytes[0]),
            )])
            .fix("Capture for longer, or with a larger snap length.");
        }
        if let Some(plain) = &f.plaintext[1] {
            return Verdict::new(
                Code::TlsToPlaintextPort,
                format!("The server at {} does not speak TLS: it greeted the client with {}.", self.server(), plain.value.kind.describe()),
            )
            .evidence([self.cite(plain.at, Dir::ToClient, format!("\"{}\"", plain.value.first_line))])
            .evidence(self.closes())
            .fix("Client side: connect to the service's TLS port, or use the protocol's plain-text upgrade (STARTTLS) if it has one.");
        }
        // Connected, sent nothing.
        if let Some(close) = self.cite_close(Dir::ToServer) {
            return Verdict::new(
                Code::ClientAborted,
                format!("The client opened a connection to {} and closed it without sending a ClientHello.", self.server()),
            )
            .evidence([close])
            .fix("Client side: find out why the client gave up before starting TLS (a health check, a port scan, or a client-side error before the handshake).");
        }
        if let Some(close) = self.cite_close(Dir::ToClient) {
            return Verdict::new(
                Code::ServerClosedAfterClientHello,
                format!("The server at {} closed the connection before the client sent anything.", self.server()),
            )
            .evidence([close])
            .fix("Server side: check the server's logs; it refuses this client (connection limits, access lists) before TLS starts.");
        }
        Verdict::new(
            Code::IncompleteCapture,
            "The connection was open but no ClientHello is in the capture.",
        )
        .evidence([self.cite(
            self.conn.first,
            Dir::ToServer,
            "connection seen, no TLS data",
        )])
        .fix("Capture for longer to see the handshake.")
    }

    // ---- non-TLS server ----

    fn non_tls_server(&self, ch: &Seen<ClientHelloFacts>) -> Option<Verdict> {
        let plain = self.facts.plaintext[1].as_ref()?;
        // A server that answered with a ServerHello speaks TLS; plain text before it
        // is a STARTTLS preamble (banner, then the upgrade).
        if self.facts.server_hello.is_some() {
            return None;
        }
        Some(
            Verdict::new(
                Code::TlsToPlaintextPort,
                format!(
                    "The client started TLS but {} does not speak TLS on port {}: it answered with {}.",
                    self.server(),
                    self.server().port(),
                    plain.value.kind.describe()
                ),
            )
            .evidence([
                self.cite_client_hello(ch),
                self.cite(plain.at, Dir::ToClient, format!("\"{}\"", plain.value.first_line)),
            ])
            .evidence(self.closes())
            .fix(format!(
                "Client side: connect to the service's TLS port (or use plain text / STARTTLS on port {}); server side: enable TLS on this port if it is meant to be one.",
                self.server().port()
            )),
        )
    }

    // ---- lost segments ----

    fn lost_before_outcome(&self) -> Option<Verdict> {
        let (dir, lost) = [Dir::ToServer, Dir::ToClient]
            .into_iter()
            .find_map(|d| self.facts.lost[d.index()].as_ref().map(|l| (d, l)))?;
        // An outcome already decided before the loss stands.
        if self.decisive_alert().is_some_and(|a| a.at <= lost.at)
            || self.handshake_completed_before(lost.at)
        {
            return None;
        }
        Some(
            Verdict::new(
                Code::IncompleteCapture,
                "Part of the handshake is missing from the capture, so its outcome cannot be told.",
            )
            .evidence([self.cite(lost.at, dir, format!("{} stream: {}", dir.sender(), lost.value.reason))])
            .fix("Capture again without loss (larger capture buffer, no snap length, capture on an endpoint rather than a busy span port)."),
        )
    }

    fn handshake_completed_before(&self, t: At) -> bool {
        let f = self.facts;
        if self.negotiated_tls13() {
            f.encrypted[0]
                .first
                .first()
                .is_some_and(|(at, len)| *at < t && !is_encrypted_alert_len(*len))
        } else {
            f.finished.iter().all(|x| x.is_some_and(|at| at < t))
        }
    }

    // ---- plaintext alerts ----

    fn alert_verdict(&self, ch: &Seen<ClientHelloFacts>, alert: &AlertFacts) -> Verdict {
        let desc = alert.description.unwrap_or(AD(0));
        match alert.from {
            Dir::ToClient => self.server_alert(ch, alert, desc),
            Dir::ToServer => self.client_alert(ch, alert, desc),
        }
    }

    fn server_alert(&self, ch: &Seen<ClientHelloFacts>, alert: &AlertFacts, desc: AD) -> Verdict {
        let f = self.facts;
        let before_server_hello = f.server_hello.as_ref().is_none_or(|sh| sh.at > alert.at);
        let base = vec![self.cite_client_hello(ch), self.cite_alert(alert)];
        let c = &ch.value;
        // Client certificate problems come after the server's CertificateRequest.
        if f.certificate_request.is_some() && !before_server_hello {
            let sent = f
                .client_certificate
                .as_ref()
                .map(|cc| cc.value.chain_length)
                .unwrap_or(0);
            if matches!(desc.0, 40 | 41 | 42 | 116) && sent == 0 {
                return self.client_cert_required(base);
            }
            if desc.is_certificate_complaint()
                || desc == AD::HANDSHAKE_FAILURE
                || desc == AD::DECRYPT_ERROR
            {
                if sent > 0 {
                    return self.client_cert_rejected(base, desc);
                }
                return self.client_cert_required(base);
            }
        }
        if desc == AD::CERTIFICATE_REQUIRED {
            return self.client_cert_required(base);
        }
        match desc {
            AD::UNRECOGNIZED_NAME => self.sni_failure(ch, base, "answered with unrecognized_name"),
            AD::PROTOCOL_VERSION => self.version_mismatch(ch, base, Dir::ToClient),
            AD::NO_APPLICATION_PROTOCOL => Verdict::new(
                Code::AlpnMismatch,
                format!(
                    "The server at {} supports none of the application protocols the client offered ({}).",
                    self.server(),
                    if c.alpn.is_empty() { "none".to_string() } else { c.alpn.join(", ") }
                ),
            )
            .evidence(base)
            .fix("Enable a common protocol: add one the server accepts to the client's ALPN list (e.g. http/1.1 besides h2), or configure the server to accept one the client offers."),
            AD::DECODE_ERROR | AD::ILLEGAL_PARAMETER if before_server_hello || f.malformed.iter().any(|m| m.value.from == Dir::ToServer) => {
                self.malformed("client", base, desc)
            }
            AD::HANDSHAKE_FAILURE | AD::INSUFFICIENT_SECURITY if before_server_hello => self.handshake_failure_after_hello(ch, base),
            _ if before_server_hello && c.server_name_ip().is_some() => {
                self.sni_failure(ch, base, &format!("failed the handshake with {}", desc))
            }
            _ => self.generic_fatal(base, alert),
        }
    }

    fn handshake_failure_after_hello(
        &self,
        ch: &Seen<ClientHelloFacts>,
        mut evidence: Vec<String>,
    ) -> Verdict {
        let c = &ch.value;
        let offered: Vec<u16> = c
            .cipher_suites
            .iter()
            .copied()
            .filter(|&s| !is_grease(s) && !is_signaling(s))
            .collect();
        let picked: Vec<u16> = self
            .profile()
            .map(|p| p.suites_picked.keys().copied().collect())
            .unwrap_or_default();
        let overlap = picked.iter().any(|s| offered.contains(s));
        // SNI problems come before cipher ones.
        if c.server_name.is_none() || c.server_name_ip().is_some() {
            if overlap
                || picked.is_empty()
                    && self
                        .profile()
                        .is_some_and(|p| !p.certificate_names.is_empty())
            {
                return self.sni_failure(
                    ch,
                    evidence,
                    "failed the handshake with handshake_failure",
                );
            }
            if c.server_name_ip().is_some() && picked.is_empty() {
                return self.sni_failure(
                    ch,
                    evidence,
                    "failed the handshake with handshake_failure",
                );
            }
        }
        if overlap {
            let common: Vec<String> = picked
                .iter()
                .filter(|s| offered.contains(s))
                .map(|&s| suite_name(s).into_owned())
                .collect();
            evidence.push(format!(
                "other connections show the server picks {}, which this client offered too: the cipher suites are not the cause",
                common.join(", ")
            ));
            evidence.push(format!(
                "client's groups: {}; signature algorithms: {} entries",
                c.supported_groups
                    .iter()
                    .map(|g| format!("0x{g:04x}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                c.signature_algorithms.len()
            ));
            return Verdict::new(
                Code::FatalAlert,
                format!(
                    "The server at {} rejected the ClientHello with handshake_failure although it shares cipher suites with the client; the mismatch is elsewhere (key-exchange groups, signature algorithms or an extension).",
                    self.server()
                ),
            )
            .evidence(evidence)
            .fix("Compare the client's supported_groups and signature_algorithms with the server's configuration (e.g. nginx ssl_ecdh_curve, OpenSSL -groups/-sigalgs) and the server's error log.");
        }
        let classes = classify_offer(&c.cipher_suites);
        let shown: Vec<String> = offered
            .iter()
            .take(12)
            .map(|&s| suite_name(s).into_owned())
            .collect();
        evidence.push(format!(
            "the client offered {} suites ({}): {}{}",
            offered.len(),
            classes.join("; "),
            shown.join(", "),
            if offered.len() > shown.len() {
                format!(", … {} more", offered.len() - shown.len())
            } else {
                String::new()
            }
        ));
        let accepts = if picked.is_empty() {
            evidence.push(
                "no other connection in the capture shows which suites this server accepts"
                    .to_string(),
            );
            None
        } else {
            let names: Vec<String> = picked.iter().map(|&s| suite_name(s).into_owned()).collect();
            let p = self.profile().expect("picked comes from the profile");
            evidence.push(format!(
                "in {} other connection(s) (e.g. from {}) the server picked {} — none of them offered here",
                p.server_hellos,
                p.example_client.map(|(_, c)| c.to_string()).unwrap_or_default(),
                names.join(", ")
            ));
            Some(names)
        };
        let offer_class = classes.first().cloned().unwrap_or_default();
        let example_offered = offered
            .iter()
            .take(3)
            .map(|&s| suite_name(s))
            .collect::<Vec<_>>()
            .join(", ");
        let (summary, fix) = match &accepts {
            Some(names) => {
                let server_class = classify_offer(&picked).first().cloned().unwrap_or_default();
                (
                    format!(
                        "No cipher suite in common: the client offered {} suites, {offer_class}; the server at {} accepts none of them — for other clients it picked only {} ({server_class}) — and refused this one with handshake_failure.",
                        offered.len(),
                        self.server(),
                        names.join(", "),
                    ),
                    format!(
                        "Enable a common suite on one side. Server side (preferred, stronger): add suites this client offers, e.g. {example_offered} (nginx: ssl_ciphers; OpenSSL: -cipher). Client side: enable one the server picks: {}.",
                        names.join(", "),
                    ),
                )
            }
            None => (
                format!(
                    "No cipher suite in common: the server at {} refused the client's {} suites ({offer_class}) with handshake_failure right after the ClientHello.",
                    self.server(),
                    offered.len(),
                ),
                format!(
                    "Enable a common suite: on the server add one of the client's suites (e.g. {example_offered}) to its cipher list (nginx: ssl_ciphers), or widen the client's cipher list."
                ),
            ),
        };
        Verdict::new(Code::NoSharedCipher, summary)
            .evidence(evidence)
            .fix(fix)
    }

    fn sni_failure(
        &self,
        ch: &Seen<ClientHelloFacts>,
        mut evidence: Vec<String>,
        how: &str,
    ) -> Verdict {
        let c = &ch.value;
        let names = self.known_certificate_names();
        if !names.is_empty() && self.leaf().is_none() {
            evidence.push(format!(
                "other connections show the names on this server's certificate: {}",
                names.join(", ")
            ));
        }
        let suggestion = names
            .iter()
            .find(|n| !n.contains(' ') && !n.contains('*'))
            .cloned()
            .unwrap_or_else(|| "HOST".into());
        if let Some(ip) = c.server_name_ip() {
            return Verdict::new(
                Code::SniIpLiteral,
                format!(
                    "The client put the IP address {ip} in server_name where a host name belongs (RFC 6066 forbids it); the server at {} {how}.",
                    self.server()
                ),
            )
            .evidence(evidence)
            .fix(format!(
                "Client side: connect by host name ({suggestion}) so the client sends it as SNI — e.g. curl --resolve {suggestion}:{port}:{ip}, or a hosts entry; if the connection goes through a relay addressed by IP, have the relay rewrite or set SNI, or give the server a certificate that covers {ip}.",
                // Behind a relay the client's own port is not this connection's.
                port = if self.server().ip() == ip { self.server().port().to_string() } else { "PORT".into() }
            ));
        }
        match &c.server_name {
            None => Verdict::new(
                Code::SniMissing,
                format!("The client sent no server name (SNI) and the server at {} {how}.", self.server()),
            )
            .evidence(evidence)
            .fix(format!(
                "Client side: send the server's host name as SNI — connect by name ({suggestion}) rather than by IP address (e.g. curl --resolve {suggestion}:{}:{}), or set the name explicitly (openssl s_client -servername); server side: give the default server a certificate for the names clients use.",
                self.server().port(),
                self.server().ip()
            )),
            Some(name) => Verdict::new(
                Code::SniUnrecognized,
                format!("The server at {} does not serve the name '{name}' the client asked for: it {how}.", self.server()),
            )
            .evidence(evidence)
            .fix(format!(
                "Either the client uses the wrong host name (check its URL/configuration against the names the server serves), or the server needs a virtual host for '{name}' (nginx: a server block with server_name {name} and a certificate for it)."
            )),
        }
    }

    fn version_mismatch(
        &self,
        ch: &Seen<ClientHelloFacts>,
        mut evidence: Vec<String>,
        from: Dir,
    ) -> Verdict {
        let c = &ch.value;
        let offered: Vec<String> = if c.supported_versions.is_empty() {
            vec![format!(
                "up to {} (legacy_version, no supported_versions extension)",
                version_name(c.legacy_version)
            )]
        } else {
            c.supported_versions
                .iter()
                .map(|&v| version_name(v).into_owned())
                .collect()
        };
        evidence.push(format!("client offers {}", offered.join(", ")));
        let server_versions: Vec<String> = self
            .profile()
            .map(|p| {
                p.versions_picked
                    .keys()
                    .map(|&v| version_name(v).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        if !server_versions.is_empty() {
            evidence.push(format!(
                "other connections show the server negotiating {}",
                server_versions.join(", ")
            ));
        }
        if let Some(sh) = &self.facts.server_hello {
            evidence.push(self.cite(
                sh.at,
                Dir::ToClient,
                format!("ServerHello selecting {}", version_name(sh.value.version)),
            ));
        }
        let summary = match from {
            Dir::ToClient => format!(
                "The server at {} accepts no TLS version the client offers (client's highest: {}); it refused with protocol_version.",
                self.server(),
                version_name(c.highest_version())
            ),
            Dir::ToServer => "The server picked a TLS version the client does not accept; the client refused with protocol_version.".to_string(),
        };
        Verdict::new(Code::ProtocolVersionMismatch, summary).evidence(evidence).fix(format!(
            "Make the version ranges overlap: enable {} on the client (or update its TLS library), or allow the client's versions on the server (nginx: ssl_protocols; OpenSSL: -tls1_2/-tls1_3, MinProtocol).",
            if server_versions.is_empty() { "the server's minimum version".to_string() } else { server_versions.join("/") }
        ))
    }

    fn client_cert_required(&self, mut evidence: Vec<String>) -> Verdict {
        let f = self.facts;
        if let Some(at) = f.certificate_request {
            evidence.insert(1, self.cite(at, Dir::ToClient, "CertificateRequest"));
        }
        match &f.client_certificate {
            Some(cc) => evidence.push(self.cite(
                cc.at,
                Dir::ToServer,
                "Certificate message with no certificates",
            )),
            None => evidence.push("the client sent no Certificate message".to_string()),
        }
        Verdict::new(
            Code::ClientCertRequired,
            format!("The server at {} requires a client certificate and the client sent none.", self.server()),
        )
        .evidence(evidence)
        .fix("Client side: configure a client certificate and key signed by a CA the server trusts (curl --cert/--key, openssl s_client -cert/-key); or, server side, make client certificates optional (nginx: ssl_verify_client optional).")
    }

    fn client_cert_rejected(&self, mut evidence: Vec<String>, desc: AD) -> Verdict {
        if let Some(cc) = &self.facts.client_certificate {
            evidence.insert(
                1,
                self.cite(
                    cc.at,
                    Dir::ToServer,
                    format!(
                        "client Certificate with {} certificate(s)",
                        cc.value.chain_length
                    ),
                ),
            );
        }
        Verdict::new(
            Code::ClientCertRejected,
            format!("The server at {} rejected the client's certificate ({}).", self.server(), desc.name()),
        )
        .evidence(evidence)
        .fix("Client side: use a certificate issued by a CA the server trusts (and send the intermediates), valid now; or, server side, add the client certificate's issuer to the trusted client CAs (nginx: ssl_client_certificate).")
    }

    fn malformed(&self, sender: &str, mut evidence: Vec<String>, desc: AD) -> Verdict {
        evidence.extend(
            self.facts
                .malformed
                .iter()
                .map(|m| self.cite(m.at, m.value.from, &m.value.what)),
        );
        Verdict::new(
            Code::MalformedHandshake,
            format!("The {} sent handshake bytes its peer could not parse ({}).", sender, desc.name()),
        )
        .evidence(evidence)
        .fix(format!("{} side: update or fix the TLS implementation (or whatever rewrites its traffic on the way); the peer rejected its messages as invalid.", capitalized(sender)))
    }

    fn generic_fatal(&self, mut evidence: Vec<String>, alert: &AlertFacts) -> Verdict {
        evidence.extend(self.closes());
        let desc = alert
            .description
            .map(|d| d.to_string())
            .unwrap_or_else(|| "an encrypted alert".into());
        let after = self
            .facts
            .events
            .iter()
            .rev()
            .find(|e| e.at < alert.at)
            .map(|e| format!(" after {} {}", e.from.sender(), e.what))
            .unwrap_or_default();
        Verdict::new(
            Code::FatalAlert,
            format!("The {} ended the handshake with {}{}.", alert.from.sender(), desc, after),
        )
        .evidence(evidence)
        .fix(format!(
            "Look at the {} side's log for the reason it sent {}; the packets do not narrow it further.",
            alert.from.sender(),
            desc
        ))
    }

    fn client_alert(&self, ch: &Seen<ClientHelloFacts>, alert: &AlertFacts, desc: AD) -> Verdict {
        let base = vec![self.cite_client_hello(ch), self.cite_alert(alert)];
        match desc {
            AD::PROTOCOL_VERSION => self.version_mismatch(ch, base, Dir::ToServer),
            AD::DECODE_ERROR | AD::ILLEGAL_PARAMETER => self.malformed("server", base, desc),
            AD::NO_APPLICATION_PROTOCOL => Verdict::new(
                Code::AlpnMismatch,
                "The client rejected the server's choice of application protocol.",
            )
            .evidence(base)
            .fix("Configure a common ALPN protocol on both sides."),
            d if d.is_certificate_complaint()
                || self
                    .facts
                    .server_certificates
                    .as_ref()
                    .is_some_and(|c| c.at < alert.at)
                    && d != AD::HANDSHAKE_FAILURE =>
            {
                self.certificate_rejection(ch, base, Some(d))
            }
            AD::HANDSHAKE_FAILURE if self.facts.server_certificates.is_some() => {
                self.certificate_rejection(ch, base, Some(desc))
            }
            _ => self.generic_fatal(base, alert),
        }
    }

    /// Names the server presents: this connection's leaf, or other connections'.
    fn known_certificate_names(&self) -> Vec<String> {
        if let Some(leaf) = self.leaf() {
            return leaf.names();
        }
        self.profile()
            .map(|p| p.certificate_names.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The client rejected the server's certificate: find the most specific cause the
    /// packets support. `desc` is the plaintext alert when there is one.
    fn certificate_rejection(
        &self,
        ch: &Seen<ClientHelloFacts>,
        mut evidence: Vec<String>,
        desc: Option<AD>,
    ) -> Verdict {
        let c = &ch.value;
        let leaf = self.leaf();
        if let Some(chain) = &self.facts.server_certificates {
            let l = leaf.cloned().unwrap_or_default();
            evidence.insert(
                1,
                self.cite(
                    chain.at,
                    Dir::ToClient,
                    format!(
                        "Certificate chain of {}: leaf subject '{}', issuer '{}', names [{}], valid {} to {}",
                        chain.value.chain_length,
                        l.subject,
                        l.issuer,
                        l.names().join(", "),
                        format_unix(l.not_before),
                        format_unix(l.not_after)
                    ),
                ),
            );
        }
        evidence.extend(self.closes());
        let alert_says = |d: AD| desc == Some(d);
        let now = self
            .facts
            .server_certificates
            .as_ref()
            .map(|c| c.at.ts)
            .unwrap_or(self.conn.first.ts)
            .as_unix_secs();
        // Specific complaints the alert names come first.
        if alert_says(AD::CERTIFICATE_EXPIRED)
            || leaf.is_some_and(|l| l.expired_at(now)) && !alert_says(AD::UNKNOWN_CA)
        {
            if let Some(l) = leaf {
                return Verdict::new(
                    Code::CertExpired,
                    format!(
                        "The server's certificate is outside its validity period ({} to {}) at the time of the capture; the client rejected it.",
                        format_unix(l.not_before),
                        format_unix(l.not_after)
                    ),
                )
                .evidence(evidence)
                .fix("Server side: renew the certificate (and check that the server was reloaded); if the dates look right, check the client's clock.");
            }
            if alert_says(AD::CERTIFICATE_EXPIRED) {
                return Verdict::new(
                    Code::CertExpired,
                    "The client reports the server's certificate as expired (certificate_expired).",
                )
                .evidence(evidence)
                .fix(
                    "Server side: renew the certificate; if it is valid, check the client's clock.",
                );
            }
        }
        if alert_says(AD::UNKNOWN_CA)
            || leaf.is_some_and(|l| l.self_signed)
                && desc.is_some_and(|d| d.is_certificate_complaint())
        {
            if let Some(l) = leaf.filter(|l| l.self_signed) {
                return Verdict::new(
                    Code::CertSelfSigned,
                    format!("The server at {} presents a self-signed certificate ('{}'), which the client does not trust.", self.server(), l.subject),
                )
                .evidence(evidence)
                .fix("Server side: use a certificate issued by a CA the clients trust; or, client side, add this certificate to the client's trust store if it is meant to be trusted.");
            }
            let chain_len = self
                .facts
                .server_certificates
                .as_ref()
                .map(|c| c.value.chain_length)
                .unwrap_or(0);
            let issuer = leaf.map(|l| l.issuer.clone()).unwrap_or_default();
            if chain_len == 1 && leaf.is_some_and(|l| !l.self_issued) {
                evidence.push(
                    "the server sent only the leaf certificate: no intermediate CA".to_string(),
                );
            }
            return Verdict::new(
                Code::CertUnknownCa,
                format!(
                    "The client does not trust the issuer of the server's certificate{}.",
                    if issuer.is_empty() { String::new() } else { format!(" ('{issuer}')") }
                ),
            )
            .evidence(evidence)
            .fix(if chain_len == 1 {
                "Server side: send the full chain (leaf plus intermediates; nginx: ssl_certificate pointing at the full-chain file); client side: trust the issuing CA if it is a private one.".to_string()
            } else {
                "Client side: add the issuing CA to the client's trust store (e.g. curl --cacert, SSL_CERT_FILE); server side: use a certificate from a CA the clients trust, and send its intermediates.".to_string()
            });
        }
        // Name problems: SNI first, then the certificate's names.
        if c.server_name_ip().is_some() {
            return self.sni_failure(ch, evidence, "presented a certificate that does not name that address, and the client rejected it");
        }
        let names = self.known_certificate_names();
        let Some(sni) = c.server_name.clone() else {
            return self.sni_failure(ch, evidence, "presented a certificate the client rejected");
        };
        let covered = match leaf {
            Some(l) => Some(l.covers(&sni)),
            None if !names.is_empty() => {
                let profile_names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
                Some(
                    profile_names
                        .iter()
                        .any(|n| crate::tls::cert::dns_name_matches(n, &sni)),
                )
            }
            None => None,
        };
        if covered == Some(false) {
            return Verdict::new(
                Code::CertNameMismatch,
                format!(
                    "The server's certificate is for [{}], not '{sni}' that the client asked for; the client rejected it.",
                    names.join(", ")
                ),
            )
            .evidence(evidence)
            .fix(format!(
                "Either the client uses the name the certificate is for, or the server presents a certificate that covers '{sni}' (add it as a subjectAltName)."
            ));
        }
        if let Some(l) = leaf.filter(|l| l.self_signed) {
            return Verdict::new(
                Code::CertSelfSigned,
                format!("The server presents a self-signed certificate ('{}'), which the client rejected.", l.subject),
            )
            .evidence(evidence)
            .fix("Server side: use a certificate issued by a CA the clients trust; or trust this certificate explicitly on the client.");
        }
        Verdict::new(
            Code::CertRejected,
            format!(
                "The client rejected the server's certificate{}; the capture does not show why.",
                desc.map(|d| format!(" ({})", d.name())).unwrap_or_default()
            ),
        )
        .evidence(evidence)
        .fix("Client side: look at the client's error (trust store, name, validity, revocation); the TLS 1.3 certificate is encrypted, so capture with a TLS 1.2 client or a key log (SSLKEYLOGFILE) to see it.")
    }

    // ---- no plaintext alert ----

    fn without_plaintext_alert(&self, ch: &Seen<ClientHelloFacts>) -> Verdict {
        let f = self.facts;
        let t = &self.conn.tcp;
        if !self.server_said_anything_tls() {
            return self.no_server_answer(ch);
        }
        if let Some(m) = f.malformed.first() {
            let sender = m.value.from.sender();
            return Verdict::new(
                Code::MalformedHandshake,
                format!("The {sender} sent handshake bytes that do not parse."),
            )
            .evidence([
                self.cite_client_hello(ch),
                self.cite(m.at, m.value.from, &m.value.what),
            ])
            .evidence(self.closes())
            .fix(format!(
                "{} side: fix or update the TLS implementation (or the middlebox rewriting it).",
                capitalized(sender)
            ));
        }
        if self.negotiated_tls13() {
            return self.tls13_outcome(ch);
        }
        if f.sslv2 {
            let data_both_ways =
                t.payload_bytes.iter().all(|&b| b > 0) && t.rst.iter().all(Option::is_none);
            if data_both_ways {
                return self.ok(ch);
            }
        }
        let enc_alert = |d: Dir| f.alerts.iter().find(|a| a.encrypted && a.from == d);
        let complete = f.finished.iter().all(Option::is_some);
        if complete {
            // Completed, then the client sent an alert and closed without any data:
            // a certificate rejected after the handshake (curl's name check).
            if f.encrypted[0].count == 0 {
                let server_finished = f.finished[1].unwrap_or_default();
                if let Some(a) =
                    enc_alert(Dir::ToServer).filter(|a| self.reacts_to(server_finished, a.at))
                {
                    let mut ev = vec![self.cite_client_hello(ch)];
                    ev.push(self.cite(
                        f.finished[1].unwrap_or(a.at),
                        Dir::ToClient,
                        "server Finished: the handshake completed",
                    ));
                    ev.push(self.cite(
                        a.at,
                        Dir::ToServer,
                        "encrypted alert from the client, and no application data ever sent",
                    ));
                    return self.certificate_rejection(ch, ev, None);
                }
            }
            return self.ok(ch);
        }
        // Not complete, no plaintext alert.
        if let Some(a) = enc_alert(Dir::ToClient).or(enc_alert(Dir::ToServer)) {
            let ev = vec![self.cite_client_hello(ch), self.cite_alert(a)];
            return self.generic_fatal(ev, a);
        }
        self.closed_mid_handshake(ch).unwrap_or_else(|| {
            self.incomplete(ch, "the capture ends before the handshake completed")
        })
    }

    fn ok(&self, ch: &Seen<ClientHelloFacts>) -> Verdict {
        if !self.detail {
            return Verdict::new(Code::Ok, String::new());
        }
        let f = self.facts;
        let sh = f.server_hello.as_ref();
        let version = sh
            .map(|s| version_name(s.value.version))
            .unwrap_or_else(|| "TLS".into());
        let suite = sh
            .map(|s| suite_name(s.value.cipher_suite))
            .unwrap_or_default();
        let mut ev = vec![self.cite_client_hello(ch)];
        if let Some(sh) = sh {
            ev.push(self.cite(
                sh.at,
                Dir::ToClient,
                format!("ServerHello: {version}, {suite}"),
            ));
        }
        ev.push(format!(
            "application data: {} record(s) from the client, {} from the server",
            f.encrypted[0].count, f.encrypted[1].count
        ));
        Verdict::new(
            Code::Ok,
            format!("Handshake completed ({version}, {suite})."),
        )
        .evidence(ev)
        .fix("Nothing to change.")
    }

    /// TLS 1.3: everything after the ServerHello is encrypted, so the outcome is read
    /// from the flights — which side sent records when, and how long they were.
    fn tls13_outcome(&self, ch: &Seen<ClientHelloFacts>) -> Verdict {
        let f = self.facts;
        let [c, s] = &f.encrypted;
        let sh = f.server_hello.as_ref().expect("TLS 1.3 was negotiated");
        let server_hello = self.detail.then(|| {
            format!(
                "ServerHello: {}, {}",
                version_name(sh.value.version),
                suite_name(sh.value.cipher_suite)
            )
        });
        let mut ev = vec![
            self.cite_client_hello(ch),
            self.cite(sh.at, Dir::ToClient, server_hello.unwrap_or_default()),
        ];
        let Some(&(flight_at, first_len)) = c.first.first() else {
            // The client never answered the server's flight.
            if s.count > 0 {
                if let Some(close) = self.cite_close(Dir::ToServer) {
                    ev.push(close);
                    return Verdict::new(
                        Code::ClientAborted,
                        "The client closed the connection after the server's encrypted flight without sending its own (or an alert).",
                    )
                    .evidence(ev)
                    .fix("Client side: check the client's log; it gave up on the server's certificate or parameters without saying why.");
                }
            }
            return self.closed_mid_handshake(ch).unwrap_or_else(|| {
                self.incomplete(ch, "the capture ends before the client's encrypted flight")
            });
        };
        if is_encrypted_alert_len(first_len) {
            // The client answered the server's flight with an alert instead of Finished.
            ev.push(self.cite(flight_at, Dir::ToServer, format!("encrypted alert from the client ({first_len}-byte record) instead of its Finished")));
            return self.certificate_rejection(ch, ev, None);
        }
        // The client's flight: its records up to the server's next record.
        let server_next = s
            .first
            .iter()
            .find(|(at, _)| *at > flight_at)
            .map(|(at, _)| *at);
        let in_flight = |at: &At| server_next.is_none_or(|n| *at < n);
        let client_flight: Vec<u32> = c
            .first
            .iter()
            .filter(|(at, _)| in_flight(at))
            .map(|(_, len)| *len)
            .collect();
        let server_after: Vec<&(At, u32)> =
            s.first.iter().filter(|(at, _)| *at > flight_at).collect();
        // Records a flight needs: Finished, plus an empty Certificate (25 bytes) when
        // the server asked for one. More than that is application data.
        let client_records = c
            .first
            .iter()
            .filter(|(_, len)| !is_encrypted_alert_len(*len))
            .count();
        let flight_records = if first_len == 25 { 2 } else { 1 };
        let client_sent_data = client_records > flight_records;

        // The server answered the client's flight with an alert and closed.
        if let [(alert_at, len)] = server_after.as_slice() {
            if is_encrypted_alert_len(*len) && self.cite_close(Dir::ToClient).is_some() {
                return self.server_rejected_client_flight(
                    ev,
                    &client_flight,
                    flight_at,
                    *alert_at,
                );
            }
        }
        if !client_sent_data {
            // Completed, then an immediate alert from the client and a close, no data.
            if let Some(&(a_at, _)) = c
                .first
                .iter()
                .skip(1)
                .find(|(_, len)| is_encrypted_alert_len(*len))
            {
                let closed = self.cite_close(Dir::ToServer).is_some()
                    || self.cite_close(Dir::ToClient).is_some();
                if closed && self.reacts_to(flight_at, a_at) {
                    ev.push(self.cite(
                        flight_at,
                        Dir::ToServer,
                        "client's encrypted flight (Finished): the handshake completed",
                    ));
                    ev.push(self.cite(
                        a_at,
                        Dir::ToServer,
                        "encrypted alert from the client, and no application data ever sent",
                    ));
                    return self.certificate_rejection(ch, ev, None);
                }
            }
        }
        // Completed: the server went on after the client's flight (tickets, a response)
        // and the client sent data — or closed politely after an idle pause.
        let polite_close = c
            .first
            .iter()
            .skip(1)
            .any(|(_, len)| is_encrypted_alert_len(*len));
        if !server_after.is_empty() && (client_sent_data || polite_close) {
            return self.ok(ch);
        }
        if client_sent_data && server_after.is_empty() {
            return self.incomplete(
                ch,
                "the client sent data after its flight, but no answer from the server is in the capture",
            );
        }
        self.closed_mid_handshake(ch)
            .unwrap_or_else(|| self.incomplete(ch, "the capture ends right after the client's encrypted flight, before any application data"))
    }

    /// TLS 1.3, the server's encrypted alert right after the client's flight: the client
    /// certificate (or its absence) is the usual cause. An empty Certificate message is
    /// 8 bytes, so its record is 25 bytes under a 16-byte tag.
    fn server_rejected_client_flight(
        &self,
        mut ev: Vec<String>,
        client_flight: &[u32],
        flight_at: At,
        alert_at: At,
    ) -> Verdict {
        let sizes: Vec<String> = client_flight.iter().map(|l| l.to_string()).collect();
        ev.push(self.cite(
            flight_at,
            Dir::ToServer,
            format!(
                "client's encrypted flight: records of {} bytes",
                sizes.join(", ")
            ),
        ));
        ev.push(self.cite(
            alert_at,
            Dir::ToClient,
            "encrypted alert from the server (19-byte record)",
        ));
        ev.extend(self.closes());
        let empty_certificate = client_flight.len() >= 2 && client_flight[0] == 25;
        let certificate_sent = client_flight.len() >= 3 && client_flight[0] > 100;
        if empty_certificate {
            ev.push("the client's first encrypted record is 25 bytes: the size of an empty Certificate message".to_string());
            return Verdict::new(
                Code::ClientCertRequired,
                format!("The server at {} requires a client certificate and the client sent an empty one (TLS 1.3: certificate_required, encrypted).", self.server()),
            )
            .evidence(ev)
            .fix("Client side: configure a client certificate and key signed by a CA the server trusts (curl --cert/--key, openssl s_client -cert/-key); or, server side, make client certificates optional.");
        }
        if certificate_sent {
            ev.push(
                "the client's flight holds a Certificate, a CertificateVerify and its Finished"
                    .to_string(),
            );
            return Verdict::new(
                Code::ClientCertRejected,
                format!("The server at {} rejected the client's certificate (TLS 1.3: the alert is encrypted).", self.server()),
            )
            .evidence(ev)
            .fix("Client side: use a certificate issued by a CA the server trusts (and send the intermediates); or, server side, trust the client certificate's issuer.");
        }
        Verdict::new(
            Code::FatalAlert,
            "The server answered the client's encrypted flight with an encrypted alert and closed.",
        )
        .evidence(ev)
        .fix("Server side: check its log for the alert's reason; in TLS 1.3 this is typically a client certificate that is missing or not accepted.")
    }

    fn no_server_answer(&self, ch: &Seen<ClientHelloFacts>) -> Verdict {
        let t = &self.conn.tcp;
        let mut ev = vec![self.cite_client_hello(ch)];
        // A server close that answers the client's own close is not the server's doing.
        let client_closed = earliest(t.fin[0], t.rst[0]);
        let first_mover =
            |server: Option<At>| server.filter(|s| client_closed.is_none_or(|c| *s < c));
        if let Some(rst) = first_mover(t.rst[1]) {
            ev.push(self.cite(
                rst,
                Dir::ToClient,
                "TCP RST from the server side, no TLS response",
            ));
            return Verdict::new(
                Code::ServerResetAfterClientHello,
                format!("The server at {} (or a middlebox on the path) reset the connection on seeing the ClientHello.", self.server()),
            )
            .evidence(ev)
            .fix(format!(
                "Server side / network path: check the server's log and any firewall, IPS or proxy that inspects TLS; a reset right after the ClientHello often means a filter on the server name ({}) or a server that does not support this client's TLS parameters at all.",
                self.sni_text()
            ));
        }
        if let Some(fin) = first_mover(t.fin[1]) {
            ev.push(self.cite(
                fin,
                Dir::ToClient,
                "TCP FIN from the server, no TLS response, no alert",
            ));
            return Verdict::new(
                Code::ServerClosedAfterClientHello,
                format!("The server at {} closed the connection after the ClientHello without a word (no ServerHello, no alert).", self.server()),
            )
            .evidence(ev)
            .fix("Server side: check the server's error log; it dropped the handshake without an alert (unsupported client parameters, an overloaded or misconfigured server, or a service that is not TLS).");
        }
        let waited_until = client_closed.map_or_else(|| self.capture_end(), |c| c.ts);
        let waited = waited_until.secs_since(ch.at.ts);
        if waited >= self.settings.response_timeout {
            ev.push(format!(
                "no response from the server in the {waited:.1} s that followed"
            ));
            ev.extend(self.cite_close(Dir::ToServer));
            return Verdict::new(
                Code::NoResponseTimeout,
                format!("The server at {} accepted the connection but never answered the ClientHello.", self.server()),
            )
            .evidence(ev)
            .fix("Server side: the service is hung, overloaded or not a TLS server waiting for the client to speak first; check it and anything in between that could swallow the ClientHello (a proxy, an MTU problem with large ClientHellos).");
        }
        if let Some(close) = self.cite_close(Dir::ToServer) {
            ev.push(close);
            return Verdict::new(
                Code::ClientAborted,
                format!("The client closed the connection {waited:.3} s after its ClientHello, before the server answered, without an alert."),
            )
            .evidence(ev)
            .fix("Client side: check the client's timeout and log; it gave up before the server could answer.");
        }
        self.incomplete(
            ch,
            &format!(
                "the capture ends {waited:.3} s after the ClientHello, before the server's answer"
            ),
        )
    }

    fn closed_mid_handshake(&self, ch: &Seen<ClientHelloFacts>) -> Option<Verdict> {
        let t = &self.conn.tcp;
        let mut ev = vec![self.cite_client_hello(ch)];
        if let Some(sh) = &self.facts.server_hello {
            ev.push(self.cite(sh.at, Dir::ToClient, "ServerHello"));
        }
        let client_close = earliest(t.rst[0], t.fin[0]);
        let server_close = earliest(t.rst[1], t.fin[1]);
        match (client_close, server_close) {
            (Some(c), s) if s.is_none_or(|s| c <= s) => {
                if self.certificate_visibly_wrong(ch) {
                    // A client that hangs up on a certificate it cannot accept.
                    ev.push("the client sent nothing after the server's certificate and closed without an alert".into());
                    return Some(self.certificate_rejection(ch, ev, None));
                }
                ev.extend(self.cite_close(Dir::ToServer));
                Some(
                    Verdict::new(Code::ClientAborted, "The client closed the connection in the middle of the handshake without sending an alert.")
                        .evidence(ev)
                        .fix("Client side: check the client's log; it gave up (a timeout, or a rejection of the server's certificate or parameters that it did not announce with an alert)."),
                )
            }
            (_, Some(_)) => {
                let reset = t.rst[1].is_some();
                ev.extend(self.cite_close(Dir::ToClient));
                Some(
                    Verdict::new(
                        if reset { Code::ServerResetAfterClientHello } else { Code::ServerClosedAfterClientHello },
                        format!(
                            "The server at {} {} the connection in the middle of the handshake without an alert.",
                            self.server(),
                            if reset { "reset" } else { "closed" }
                        ),
                    )
                    .evidence(ev)
                    .fix("Server side: check the server's error log for why it dropped the handshake."),
                )
            }
            _ => None,
        }
    }

    /// The leaf the server sent cannot satisfy this client: it does not name what the
    /// client asked for, or it is outside its validity period.
    fn certificate_visibly_wrong(&self, ch: &Seen<ClientHelloFacts>) -> bool {
        let Some(chain) = &self.facts.server_certificates else {
            return false;
        };
        let Some(leaf) = chain.value.certificates.first() else {
            return false;
        };
        if leaf.parse_error.is_some() {
            return false;
        }
        let name_wrong = ch
            .value
            .server_name
            .as_deref()
            .is_some_and(|sni| !leaf.covers(sni));
        name_wrong || leaf.expired_at(chain.at.ts.as_unix_secs())
    }

    fn incomplete(&self, ch: &Seen<ClientHelloFacts>, why: &str) -> Verdict {
        let mut ev = vec![self.cite_client_hello(ch)];
        ev.extend(
            self.facts
                .events
                .last()
                .map(|e| self.cite(e.at, e.from, format!("last message seen: {}", e.what))),
        );
        Verdict::new(
            Code::IncompleteCapture,
            format!("The capture does not show how this handshake ended: {why}."),
        )
        .evidence(ev)
        .fix("Capture for longer (until the connection closes) to see the outcome.")
    }
}

/// The earlier of two optional events.
fn earliest(a: Option<At>, b: Option<At>) -> Option<At> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn capitalized(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_alert_sizes() {
        assert!(is_encrypted_alert_len(19));
        assert!(!is_encrypted_alert_len(53));
    }
}
