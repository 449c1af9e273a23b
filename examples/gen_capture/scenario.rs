//! Connection scenarios: each connection's server, client profile and outcome, and the
//! handshake flights that follow from them (TLS 1.2, TLS 1.3, PSK resumption, the five
//! kinds of failure).

use crate::bytes::*;
use crate::keys::{ConnKeys, KeyLog, Suite, TLS13_OVERHEAD};
use crate::messages::*;
use crate::options::{ByteRange, Options};
use crate::profiles::*;
use crate::rng::Rng;
use crate::servers::*;
use crate::tcp::*;
use crate::truth::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    HandshakeFailure,
    ProtocolVersion,
    UnrecognizedName,
    UnknownCa,
    RstAfterClientHello,
}

pub(crate) const FAILURES: [Outcome; 5] = [
    Outcome::HandshakeFailure,
    Outcome::ProtocolVersion,
    Outcome::UnrecognizedName,
    Outcome::UnknownCa,
    Outcome::RstAfterClientHello,
];

impl Outcome {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::HandshakeFailure => "handshake_failure",
            Outcome::ProtocolVersion => "protocol_version",
            Outcome::UnrecognizedName => "unrecognized_name",
            Outcome::UnknownCa => "unknown_ca",
            Outcome::RstAfterClientHello => "rst_after_client_hello",
        }
    }

    /// The server's fatal alert right after the ClientHello, its record version, and
    /// the truth file's reason.
    pub(crate) fn server_alert(self) -> Option<(u8, u16, &'static str)> {
        match self {
            Outcome::HandshakeFailure => {
                Some((ALERT_HANDSHAKE_FAILURE, TLS12, "no_shared_cipher_suite"))
            }
            Outcome::ProtocolVersion => {
                Some((ALERT_PROTOCOL_VERSION, TLS10, "client_max_version_too_low"))
            }
            Outcome::UnrecognizedName => Some((ALERT_UNRECOGNIZED_NAME, TLS12, "sni_not_served")),
            _ => None,
        }
    }
}

/// What the handshake negotiated, or how it failed.
#[derive(Default)]
pub(crate) struct Negotiated {
    pub(crate) version: Option<&'static str>,
    pub(crate) suite: Option<u16>,
    pub(crate) group: Option<&'static str>,
    pub(crate) resumed: bool,
    pub(crate) alert: Option<AlertFact>,
    pub(crate) reason: Option<&'static str>,
}

/// One connection's choices, shared by its handshake steps.
pub(crate) struct Attempt {
    pub(crate) server: Server,
    pub(crate) profile: &'static Profile,
    pub(crate) outcome: Outcome,
    pub(crate) post_quantum: bool,
    pub(crate) resume: bool,
    pub(crate) session_id: SessionId,
    /// The ClientHello's random.
    pub(crate) client_random: [u8; 32],
    /// Server think time after the ClientHello, µs.
    pub(crate) think: u64,
    /// Faults of the handshake flights.
    pub(crate) faults: Faults,
    pub(crate) anomalies: Anomalies,
    pub(crate) negotiated: Negotiated,
}

pub(crate) const POOL_SIZE: usize = 1 << 20;

pub(crate) struct World {
    pub(crate) opts: Options,
    pub(crate) rng: Rng,
    pub(crate) servers: Vec<Server>,
    pub(crate) intranet: Vec<Server>,
    /// Cumulative popularity of `servers` (Zipf-like).
    pub(crate) popularity: Vec<f64>,
    /// Pseudo-random bytes that ciphertext is sliced from.
    pub(crate) pool: Vec<u8>,
    /// The TLS bytes of the flight being built.
    pub(crate) flight: Vec<u8>,
    /// `--keylog`: the secrets' random stream and the key log lines not yet written.
    pub(crate) keylog: Option<KeyLog>,
    /// The current connection's keys (with `--keylog`, from its ServerHello, when its
    /// suite is an AEAD one): its protected records are sealed for real.
    pub(crate) keys: Option<ConnKeys>,
    /// With keys: the pseudo-random bytes a protected record would have had (drawn as
    /// without keys, so that the main stream moves alike), which its content is made of.
    pub(crate) random: Vec<u8>,
    /// With keys: the content of the records being sealed.
    pub(crate) content: Vec<u8>,
}

impl World {
    pub(crate) fn new(opts: Options) -> World {
        let mut rng = Rng::seeded(opts.seed);
        let servers: Vec<Server> = (0..opts.servers)
            .map(|i| Server::public(&mut rng, i))
            .collect();
        let intranet = (0..(opts.servers / 16).max(4))
            .map(Server::intranet)
            .collect();
        let mut acc = 0.0;
        let popularity = (0..servers.len())
            .map(|i| {
                acc += 1.0 / ((i + 1) as f64).powf(0.8);
                acc
            })
            .collect();
        let mut pool = vec![0; POOL_SIZE];
        rng.fill(&mut pool);
        let keylog = opts.keylog.is_some().then(|| KeyLog::new(opts.seed));
        World {
            opts,
            rng,
            servers,
            intranet,
            popularity,
            pool,
            flight: Vec::with_capacity(1 << 17),
            keylog,
            keys: None,
            random: Vec::new(),
            content: Vec::new(),
        }
    }

    pub(crate) fn popular_server(&mut self) -> Server {
        let x = self.rng.unit() * self.popularity.last().copied().unwrap_or(0.0);
        let i = self.popularity.partition_point(|&c| c <= x);
        self.servers[i.min(self.servers.len() - 1)].clone()
    }

    /// Appends `n` pseudo-random bytes (slices of the pool), for ciphertext.
    pub(crate) fn ciphertext(&mut self, out: &mut Vec<u8>, mut n: usize) {
        while n > 0 {
            let off = self.rng.below(POOL_SIZE as u64 - 1) as usize;
            let take = n.min(POOL_SIZE - off);
            out.extend_from_slice(&self.pool[off..off + take]);
            n -= take;
        }
    }

    /// What a protected record adds to its plaintext without keys: TLS 1.3 the inner
    /// content type and a 16-byte tag; TLS 1.2 an 8-byte explicit nonce and the tag.
    pub(crate) fn overhead(tls13: bool) -> usize {
        if tls13 {
            TLS13_OVERHEAD
        } else {
            24
        }
    }

    pub(crate) fn client_endpoint(cid: u64, v6: bool) -> ([u8; 16], u16, [u8; 6]) {
        const CLIENTS: u64 = 8192;
        let ci = cid % CLIENTS;
        let port = 32768 + ((cid / CLIENTS * 7 + ci) % 28000) as u16;
        let c = ci.to_be_bytes();
        let mut addr = [0u8; 16];
        if v6 {
            addr[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01]);
            addr[8..].copy_from_slice(&c);
        } else {
            addr[..4].copy_from_slice(&[10, 20 + c[5], c[6], c[7]]);
        }
        (addr, port, [0x02, 0x00, 0x0c, c[5], c[6], c[7]])
    }

    pub(crate) fn client_profile(&mut self, outcome: Outcome) -> &'static Profile {
        match outcome {
            Outcome::ProtocolVersion => &LEGACY,
            Outcome::HandshakeFailure => &WEAK,
            Outcome::UnknownCa => self.rng.pick(&[&CHROME, &OPENSSL, &JAVA12]),
            _ => {
                let total: u64 = SUCCESS_PROFILES.iter().map(|&(_, w)| w).sum();
                let mut x = self.rng.below(total);
                for &(p, w) in &SUCCESS_PROFILES {
                    if x < w {
                        return p;
                    }
                    x -= w;
                }
                unreachable!()
            }
        }
    }

    /// Builds connection `cid` starting at `t0` into `c`; returns its truth line.
    pub(crate) fn connection(&mut self, cid: u64, t0: u64, c: &mut Conn) -> Truth {
        let mut flight = std::mem::take(&mut self.flight);
        let truth = self.connection_into(cid, t0, c, &mut flight);
        self.flight = flight;
        truth
    }

    pub(crate) fn choose_outcome(&mut self) -> Outcome {
        if self.rng.chance(self.opts.failure_ratio) {
            self.rng.pick(&FAILURES)
        } else {
            Outcome::Ok
        }
    }

    /// An intranet server for unknown_ca, otherwise a public one by popularity.
    pub(crate) fn choose_server(&mut self, outcome: Outcome) -> Server {
        if outcome == Outcome::UnknownCa {
            let i = self.rng.below(self.intranet.len() as u64) as usize;
            self.intranet[i].clone()
        } else {
            self.popular_server()
        }
    }

    pub(crate) fn endpoints(&mut self, cid: u64, v6: bool, server: &Server) -> Endpoints {
        let (client, client_port, client_mac) = World::client_endpoint(cid, v6);
        let mut server_addr = [0; 16];
        if v6 {
            server_addr = server.ip6;
        } else {
            server_addr[..4].copy_from_slice(&server.ip4);
        }
        Endpoints {
            v6,
            client,
            server: server_addr,
            client_port,
            client_mac,
            // ~13 ms median
            rtt: (self.rng.lognormal(9.5, 0.9) as u64).clamp(200, 400_000),
        }
    }

    /// The faults of this connection's handshake flights.
    pub(crate) fn handshake_faults(&mut self) -> Faults {
        if self.rng.chance(self.opts.hs_anomaly_ratio) {
            Faults {
                ooo: 0.5,
                retx: 0.3,
            }
        } else {
            Faults::default()
        }
    }

    /// The name the client asks for: a name the server does not serve for
    /// unrecognized_name.
    pub(crate) fn server_name(&mut self, outcome: Outcome, server: &Server) -> String {
        if outcome == Outcome::UnrecognizedName {
            format!("unknown{}.{}", self.rng.below(1_000_000), server.name)
        } else {
            server.name.clone()
        }
    }

    /// A session ticket from an earlier connection, as a resuming client presents it.
    pub(crate) fn earlier_ticket(&mut self) -> Ticket {
        let mut identity = Vec::new();
        let len = self.rng.pick(&[186, 202, 234]);
        self.ciphertext(&mut identity, len);
        Ticket {
            identity,
            obfuscated_age: self.rng.next_u64() as u32,
        }
    }

    pub(crate) fn connection_into(
        &mut self,
        cid: u64,
        t0: u64,
        c: &mut Conn,
        flight: &mut Vec<u8>,
    ) -> Truth {
        // Drawn only when asked for: without QUIC the stream of draws is as before.
        if self.opts.quic_ratio > 0.0 && self.rng.chance(self.opts.quic_ratio) {
            return self.quic_connection(cid, t0, c, flight);
        }
        let v6 = self.rng.chance(self.opts.ipv6_ratio);
        let outcome = self.choose_outcome();
        let server = self.choose_server(outcome);
        let endpoints = self.endpoints(cid, v6, &server);
        c.open(&mut self.rng, &endpoints, t0);
        let faults = self.handshake_faults();
        let profile = self.client_profile(outcome);
        let sni = self.server_name(outcome, &server);
        let post_quantum =
            profile.post_quantum && profile.offers_tls13() && self.rng.chance(self.opts.pq_ratio);
        let tls13 = profile.offers_tls13() && server.tls13 && outcome == Outcome::Ok;
        let resume = tls13 && self.rng.chance(self.opts.resume_ratio);
        let ticket = resume.then(|| self.earlier_ticket());
        let rng = &mut self.rng;
        flight.clear();
        let session_id = client_hello(flight, rng, profile, &sni, post_quantum, ticket.as_ref());
        // After the record header, handshake header and legacy_version.
        let client_random: [u8; 32] = flight[11..43].try_into().expect("a ClientHello");
        self.keys = None;

        let mut a = Attempt {
            server,
            profile,
            outcome,
            post_quantum,
            resume,
            session_id,
            client_random,
            think: 0,
            faults,
            anomalies: Anomalies::default(),
            negotiated: Negotiated::default(),
        };
        c.three_way_handshake();
        let pace = Pace {
            first: rng.between(20, 300),
            gap: 10,
        };
        c.send(rng, CLIENT, flight, pace, a.faults, &mut a.anomalies);
        a.think = rng.between(100, 3000);

        if outcome == Outcome::RstAfterClientHello {
            c.reset(SERVER, c.rtt + a.think);
            a.negotiated.reason = Some("server_reset_after_client_hello");
        } else if let Some((desc, record_version, reason)) = outcome.server_alert() {
            self.server_rejects_client_hello(c, flight, &mut a, desc, record_version, reason);
        } else if tls13 {
            self.tls13_handshake(c, flight, &mut a);
        } else {
            self.tls12_handshake(c, flight, &mut a);
        }
        truth_line(cid, c, &sni, &a)
    }

    /// A fatal alert from the server in answer to the ClientHello, then the server closes.
    pub(crate) fn server_rejects_client_hello(
        &mut self,
        c: &mut Conn,
        flight: &mut Vec<u8>,
        a: &mut Attempt,
        desc: u8,
        record_version: u16,
        reason: &'static str,
    ) {
        flight.clear();
        alert(flight, record_version, ALERT_FATAL, desc);
        self.send_plain(c, SERVER, flight, c.rtt + a.think);
        c.close(&mut self.rng, SERVER);
        a.negotiated.alert = Some(AlertFact {
            from: "server",
            level: ALERT_FATAL,
            desc,
        });
        a.negotiated.reason = Some(reason);
    }

    /// Sends a flight without faults, `first` µs after the previous frame.
    pub(crate) fn send_plain(&mut self, c: &mut Conn, d: usize, flight: &[u8], first: u64) {
        let pace = Pace { first, gap: 10 };
        let mut none = Anomalies::default();
        c.send(&mut self.rng, d, flight, pace, Faults::default(), &mut none);
    }

    /// The server's flight, the client's key exchange and Finished (or its unknown_ca
    /// alert), the server's Finished, application data, close_notify.
    /// Sends the server's first flight one RTT (and the server's think time) after the
    /// ClientHello, and records what it negotiated: (version, suite, group).
    pub(crate) fn send_server_flight(
        &mut self,
        c: &mut Conn,
        flight: &[u8],
        a: &mut Attempt,
        (version, suite, group): (&'static str, u16, u16),
    ) {
        let pace = Pace {
            first: c.rtt + a.think,
            gap: 12,
        };
        c.send(
            &mut self.rng,
            SERVER,
            flight,
            pace,
            a.faults,
            &mut a.anomalies,
        );
        a.negotiated.version = Some(version);
        a.negotiated.suite = Some(suite);
        a.negotiated.group = Some(group_name(group));
    }

    pub(crate) fn tls12_handshake(&mut self, c: &mut Conn, flight: &mut Vec<u8>, a: &mut Attempt) {
        let suite = a.server.tls12_suite(a.profile);
        let group = if a.profile.groups.contains(&X25519) {
            X25519
        } else {
            SECP256R1
        };
        let issues_ticket = self.rng.chance(0.5);
        flight.clear();
        self.server_flight12(flight, a, suite, group, issues_ticket);
        let server_random: [u8; 32] = flight[11..43].try_into().expect("a ServerHello");
        self.send_server_flight(c, flight, a, ("TLS1.2", suite, group));
        if a.outcome == Outcome::UnknownCa {
            // The client gives up before its key exchange: no master secret to log.
            return self.client_rejects_certificate(c, flight, a);
        }
        if let (Some(log), Some(s)) = (self.keylog.as_mut(), Suite::of(suite, false)) {
            self.keys = Some(log.tls12(s, &a.client_random, &server_random));
        }

        flight.clear();
        record(flight, HANDSHAKE, TLS12, |b| {
            handshake(b, CLIENT_KEY_EXCHANGE, |b| {
                ecdhe_public(b, &mut self.rng, group)
            })
        });
        change_cipher_spec(flight, TLS12);
        self.encrypted_record(flight, CLIENT, HANDSHAKE, false, 16, |b, r| {
            finished(b, &r[..12])
        });
        let think = self.rng.between(300, 2000);
        self.send_plain(c, CLIENT, flight, think);

        flight.clear();
        if issues_ticket {
            record(flight, HANDSHAKE, TLS12, |b| {
                handshake(b, NEW_SESSION_TICKET, |b| {
                    b.put_u32(7200); // lifetime hint, s
                    vec16(b, |b| self.ciphertext(b, 192));
                })
            });
        }
        change_cipher_spec(flight, TLS12);
        self.encrypted_record(flight, SERVER, HANDSHAKE, false, 16, |b, r| {
            finished(b, &r[..12])
        });
        self.send_plain(c, SERVER, flight, c.rtt + 200);

        self.application_data(c, flight, false);
        if self.rng.chance(0.6) {
            flight.clear();
            self.encrypted_record(flight, CLIENT, ALERT, false, 2, |b, _| {
                b.extend_from_slice(&[ALERT_WARNING, ALERT_CLOSE_NOTIFY])
            });
            let wait = self.rng.between(100, 5000);
            self.send_plain(c, CLIENT, flight, wait);
        }
        c.close(&mut self.rng, CLIENT);
    }

    /// ServerHello, Certificate, ServerKeyExchange and ServerHelloDone in one record, as
    /// OpenSSL and nginx send them.
    pub(crate) fn server_flight12(
        &mut self,
        flight: &mut Vec<u8>,
        a: &Attempt,
        suite: u16,
        group: u16,
        issues_ticket: bool,
    ) {
        let (srv, rng) = (&a.server, &mut self.rng);
        record(flight, HANDSHAKE, TLS12, |b| {
            let random = server_random(rng, srv.tls13);
            let session_id = SessionId::random(rng);
            server_hello(b, random, session_id.as_slice(), suite, |b| {
                extension(b, EXT_RENEGOTIATION_INFO, |b| b.push(0));
                extension(b, EXT_EC_POINT_FORMATS, |b| vec8(b, |b| b.push(0)));
                extension(b, EXT_EXTENDED_MASTER_SECRET, |_| {});
                if let Some(proto) = a.profile.alpn.first() {
                    extension(b, EXT_ALPN, |b| {
                        vec16(b, |b| vec8(b, |b| b.extend_from_slice(proto)))
                    });
                }
                if issues_ticket {
                    extension(b, EXT_SESSION_TICKET, |_| {});
                }
            });
            certificate12(b, srv.chain);
            server_key_exchange(b, rng, group, srv.key);
            handshake(b, SERVER_HELLO_DONE, |_| {});
        });
    }

    /// The client's fatal unknown_ca alert, then it closes or resets.
    pub(crate) fn client_rejects_certificate(
        &mut self,
        c: &mut Conn,
        flight: &mut Vec<u8>,
        a: &mut Attempt,
    ) {
        flight.clear();
        alert(flight, TLS12, ALERT_FATAL, ALERT_UNKNOWN_CA);
        let think = self.rng.between(200, 3000);
        self.send_plain(c, CLIENT, flight, think);
        if self.rng.chance(0.5) {
            c.close(&mut self.rng, CLIENT);
        } else {
            c.reset(CLIENT, 100);
        }
        a.negotiated.alert = Some(AlertFact {
            from: "client",
            level: ALERT_FATAL,
            desc: ALERT_UNKNOWN_CA,
        });
        a.negotiated.reason = Some("client_does_not_trust_certificate_issuer");
    }

    /// The server's flight; the client's ChangeCipherSpec and Finished; two
    /// NewSessionTickets; application data.
    pub(crate) fn tls13_handshake(&mut self, c: &mut Conn, flight: &mut Vec<u8>, a: &mut Attempt) {
        let p = a.profile;
        let suite = if self.rng.chance(0.7) {
            SERVER13_SUITES.iter().find(|s| p.suites.contains(s))
        } else {
            p.suites.iter().find(|s| SERVER13_SUITES.contains(s))
        }
        .copied()
        .expect("TLS 1.3 profiles offer TLS 1.3 suites");
        let group = if a.post_quantum && a.server.post_quantum {
            X25519MLKEM768
        } else {
            X25519
        };
        flight.clear();
        self.server_flight13(flight, a, suite, group, c.mss);
        self.send_server_flight(c, flight, a, ("TLS1.3", suite, group));
        a.negotiated.resumed = a.resume;

        flight.clear();
        change_cipher_spec(flight, TLS12);
        let hash_len = self.keys.as_ref().map_or(32, |k| k.suite.hash.len());
        self.encrypted_record(flight, CLIENT, HANDSHAKE, true, 4 + 32, |b, r| {
            finished(b, &r[..hash_len])
        });
        if let Some(keys) = self.keys.as_mut() {
            keys.finished(CLIENT);
        }
        let think = self.rng.between(300, 2000);
        self.send_plain(c, CLIENT, flight, think);

        // Two NewSessionTicket messages, as OpenSSL sends.
        flight.clear();
        let ticket = self.rng.pick(&[200, 233, 249]);
        for _ in 0..2 {
            self.encrypted_record(flight, SERVER, HANDSHAKE, true, ticket, |b, r| {
                new_session_ticket13(b, ticket, r)
            });
        }
        self.send_plain(c, SERVER, flight, c.rtt + 100);

        self.application_data(c, flight, true);
        let first = self.rng.pick(&[CLIENT, SERVER]);
        c.close(&mut self.rng, first);
    }

    /// ServerHello and ChangeCipherSpec, then encrypted EncryptedExtensions, Certificate
    /// and CertificateVerify (not when resuming) and Finished, one record each (with
    /// keys, see [`World::sealed_server_flight13`]).
    pub(crate) fn server_flight13(
        &mut self,
        flight: &mut Vec<u8>,
        a: &Attempt,
        suite: u16,
        group: u16,
        mss: usize,
    ) {
        let rng = &mut self.rng;
        record(flight, HANDSHAKE, TLS12, |b| {
            let random = server_random(rng, false);
            // A TLS 1.3 server echoes the client's legacy_session_id.
            server_hello(b, random, a.session_id.as_slice(), suite, |b| {
                extension(b, EXT_SUPPORTED_VERSIONS, |b| b.put_u16(TLS13));
                extension(b, EXT_KEY_SHARE, |b| {
                    b.put_u16(group);
                    let n = if group == X25519MLKEM768 {
                        MLKEM_SERVER_SHARE
                    } else {
                        32
                    };
                    vec16(b, |b| rng.bytes(b, n));
                });
                if a.resume {
                    extension(b, EXT_PRE_SHARED_KEY, |b| b.put_u16(0)); // selected_identity
                }
            })
        });
        change_cipher_spec(flight, TLS12);
        let mut sizes = vec![rng.pick(&[10, 16, 22, 40])]; // EncryptedExtensions
        if !a.resume {
            sizes.push(certificate13_len(a.server.chain));
            let signature = if a.server.key == Key::Rsa { 256 } else { 71 };
            sizes.push(4 + 4 + signature); // CertificateVerify
        }
        sizes.push(4 + 32); // Finished
        if let (Some(log), Some(s)) = (self.keylog.as_mut(), Suite::of(suite, true)) {
            self.keys = Some(log.tls13(s, &a.client_random));
            self.sealed_server_flight13(flight, a, &sizes, mss);
        } else {
            self.encrypted_records(flight, SERVER, true, &sizes);
        }
    }

    /// A request from the client, then the server's bulk data at a random rate.
    pub(crate) fn application_data(&mut self, c: &mut Conn, flight: &mut Vec<u8>, tls13: bool) {
        flight.clear();
        let request = self.rng.between(80, 700) as usize;
        self.encrypted_records(flight, CLIENT, tls13, &[request]);
        let think = self.rng.between(100, 2000);
        self.send_plain(c, CLIENT, flight, think);

        let ByteRange { lo, hi } = self.opts.bulk_kb;
        let n = if hi > 0 {
            self.rng.between(lo, hi) as usize
        } else {
            0
        };
        if n == 0 {
            return;
        }
        flight.clear();
        let sizes: Vec<usize> = (0..n)
            .step_by(16384)
            .map(|off| (n - off).min(16384))
            .collect();
        self.encrypted_records(flight, SERVER, tls13, &sizes);
        let rate_mbit = 50.0 + self.rng.unit() * 850.0;
        let gap = (((c.mss + 66) * 8) as f64 / rate_mbit) as u64;
        let pace = Pace {
            first: c.rtt + self.rng.between(200, 5000),
            gap,
        };
        let faults = Faults {
            ooo: self.opts.ooo_ratio,
            retx: self.opts.retrans_ratio,
        };
        // Bulk data anomalies are not part of the truth.
        let mut unlisted = Anomalies::default();
        c.send(&mut self.rng, SERVER, flight, pace, faults, &mut unlisted);
    }
}
