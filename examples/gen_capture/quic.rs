//! QUIC connection attempts (`--quic-ratio`): UDP datagrams to port 443 whose Initial
//! packets are sealed for real with the keys of the client's Destination Connection ID
//! (RFC 9001 §5.2, QUIC v1), so that a passive reader opens them as it opens a real
//! client's: the ClientHello of a TLS 1.3 profile in CRYPTO frames (over two Initials
//! when it does not fit one), padded to 1200 bytes. Then one of:
//!
//! * success: the server's Initial (ACK, ServerHello) coalesced with Handshake packets,
//!   the client's Initial ACK and Handshake packet, then short-header (1-RTT) packets:
//!   the client's request and the server's response (`--bulk-kb`);
//! * `alpn_mismatch`: the server's Initial carries a CONNECTION_CLOSE with crypto error
//!   0x178 (no_application_protocol) and its reason;
//! * `udp_blocked`: the client's Initial, retransmitted after 0.2, 0.6 and 1.4 s, never
//!   answered, and its CONNECTION_CLOSE (APPLICATION_ERROR) at 3 s.
//!
//! Handshake and 1-RTT payloads are pseudo-random (their keys are not derivable).

use tlswhy::quic::initial::{initial_keys, seal_initial, VERSION_1};

use crate::bytes::*;
use crate::messages::*;
use crate::profiles::*;
use crate::rng::Rng;
use crate::scenario::{Attempt, Negotiated, World};
use crate::tcp::*;
use crate::truth::{truth_line, Truth};

/// The smallest datagram carrying a client Initial (RFC 9000 §14.1).
const MIN_DATAGRAM: usize = 1200;
/// The server's UDP port.
const PORT: u16 = 443;

/// What became of a QUIC attempt.
#[derive(Clone, Copy, PartialEq, Eq)]
enum QuicOutcome {
    Ok,
    AlpnMismatch,
    UdpBlocked,
}

impl World {
    /// A QUIC connection attempt from connection `cid`'s client at `t0`.
    pub(crate) fn quic_connection(
        &mut self,
        cid: u64,
        t0: u64,
        c: &mut Conn,
        flight: &mut Vec<u8>,
    ) -> Truth {
        let v6 = self.rng.chance(self.opts.ipv6_ratio);
        let outcome = if self.rng.chance(self.opts.failure_ratio) {
            self.rng
                .pick(&[QuicOutcome::AlpnMismatch, QuicOutcome::UdpBlocked])
        } else {
            QuicOutcome::Ok
        };
        let server = self.popular_server();
        let endpoints = self.endpoints(cid, v6, &server);
        c.open(&mut self.rng, &endpoints, t0);
        c.port[SERVER] = PORT;
        // A browser-like client: TLS 1.3 only matters here.
        let profile = loop {
            let p = self.client_profile(crate::scenario::Outcome::Ok);
            if p.offers_tls13() {
                break p;
            }
        };
        let sni = server.name.clone();
        flight.clear();
        let session_id = client_hello(flight, &mut self.rng, profile, &sni, false, None);
        let client_random: [u8; 32] = flight[11..43].try_into().expect("a ClientHello");
        // The handshake message, without its TLS record header.
        let client_hello_message = flight[5..].to_vec();
        let rng = &mut self.rng;
        let dcid: [u8; 8] = rng.array();
        let client_cid: [u8; 8] = rng.array();
        let server_cid: [u8; 8] = rng.array();
        let keys = initial_keys(VERSION_1, &dcid).expect("QUIC v1 keys");

        let mut a = Attempt {
            server,
            profile,
            outcome: crate::scenario::Outcome::Ok,
            post_quantum: false,
            resume: false,
            session_id,
            client_random,
            think: rng.between(100, 3000),
            faults: Faults::default(),
            anomalies: Anomalies::default(),
            negotiated: Negotiated::default(),
        };

        // The client's first flight: the ClientHello in CRYPTO frames, 1200-byte
        // datagrams.
        let client_initials = |first_pn: u32| -> Vec<Vec<u8>> {
            let header = long_header(0xc0, &dcid, &client_cid, true);
            let room = MIN_DATAGRAM - header.len() - 2 - 4 - 16 - 8;
            let mut out = Vec::new();
            for (i, piece) in client_hello_message.chunks(room).enumerate() {
                let mut text = Vec::new();
                crypto_frame(&mut text, (i * room) as u64, piece);
                let pad = MIN_DATAGRAM - header.len() - 2 - 4 - 16;
                text.resize(pad.max(text.len()), 0);
                out.push(seal_initial(
                    &keys.client,
                    &header,
                    first_pn + i as u32,
                    &text,
                ));
            }
            out
        };
        let first = client_initials(0);
        let mut pn = first.len() as u32;
        for (i, d) in first.iter().enumerate() {
            c.t += if i == 0 { 0 } else { 10 };
            c.datagram(CLIENT, d);
        }

        match outcome {
            QuicOutcome::UdpBlocked => {
                for wait in [200_000, 400_000, 800_000] {
                    c.t += wait;
                    for d in client_initials(pn) {
                        c.datagram(CLIENT, &d);
                        pn += 1;
                    }
                }
                c.t += 1_600_000;
                let mut text = Vec::new();
                connection_close(&mut text, 0x0c, b"");
                text.resize(MIN_DATAGRAM - 60, 0);
                let header = long_header(0xc0, &dcid, &client_cid, true);
                c.datagram(CLIENT, &seal_initial(&keys.client, &header, pn, &text));
                a.negotiated.reason = Some("udp_blocked");
                truth_line_quic(cid, c, &sni, &a, "udp_blocked")
            }
            QuicOutcome::AlpnMismatch => {
                c.t += c.rtt + a.think;
                let mut text = Vec::new();
                ack_frame(&mut text, u64::from(pn - 1));
                connection_close(&mut text, 0x178, b"no application protocol in common");
                let header = long_header(0xc0, &client_cid, &server_cid, true);
                c.datagram(SERVER, &seal_initial(&keys.server, &header, 0, &text));
                a.negotiated.alert = Some(crate::truth::AlertFact {
                    from: "server",
                    level: ALERT_FATAL,
                    desc: 120,
                });
                truth_line_quic(cid, c, &sni, &a, "alpn_mismatch")
            }
            QuicOutcome::Ok => {
                let suite = SERVER13_SUITES
                    .iter()
                    .find(|s| profile.suites.contains(s))
                    .copied()
                    .expect("a TLS 1.3 suite");
                let rng = &mut self.rng;
                // The server's Initial (ACK, ServerHello) and its Handshake packets.
                let mut server_hello_message = Vec::new();
                server_hello(&mut server_hello_message, rng.array(), &[], suite, |b| {
                    extension(b, EXT_SUPPORTED_VERSIONS, |b| b.put_u16(TLS13));
                    extension(b, EXT_KEY_SHARE, |b| {
                        b.put_u16(X25519);
                        vec16(b, |b| rng.bytes(b, 32));
                    });
                });
                let mut text = Vec::new();
                ack_frame(&mut text, u64::from(pn - 1));
                crypto_frame(&mut text, 0, &server_hello_message);
                let header = long_header(0xc0, &client_cid, &server_cid, true);
                let mut datagram = seal_initial(&keys.server, &header, 0, &text);
                let certificate_len = certificate13_len(a.server.chain) + 300;
                protected_long(rng, &mut datagram, 0xe0, &client_cid, &server_cid, 1000);
                c.t += c.rtt + a.think;
                c.datagram(SERVER, &datagram);
                let mut second = Vec::new();
                protected_long(
                    rng,
                    &mut second,
                    0xe0,
                    &client_cid,
                    &server_cid,
                    certificate_len.saturating_sub(1000).max(100),
                );
                c.t += 20;
                c.datagram(SERVER, &second);
                // The client's Initial ACK and Handshake (its Finished), padded.
                let mut text = Vec::new();
                ack_frame(&mut text, 0);
                text.resize(MIN_DATAGRAM - 200, 0);
                let header = long_header(0xc0, &server_cid, &client_cid, true);
                let mut datagram = seal_initial(&keys.client, &header, pn, &text);
                protected_long(rng, &mut datagram, 0xe0, &server_cid, &client_cid, 60);
                c.t += rng.between(300, 2000);
                c.datagram(CLIENT, &datagram);
                // 1-RTT: the request, then the response.
                let mut request = Vec::new();
                let len = rng.between(60, 400) as usize;
                short_packet(rng, &mut request, &server_cid, len);
                c.t += 50;
                c.datagram(CLIENT, &request);
                let bulk = rng.between(self.opts.bulk_kb.lo, self.opts.bulk_kb.hi) as usize;
                let mut left = bulk.max(100);
                c.t += c.rtt;
                while left > 0 {
                    let n = left.min(1200);
                    let mut packet = Vec::new();
                    short_packet(rng, &mut packet, &client_cid, n);
                    c.t += 10;
                    c.datagram(SERVER, &packet);
                    left -= n;
                }
                a.negotiated.version = Some("TLS1.3");
                a.negotiated.suite = Some(suite);
                a.negotiated.group = Some(group_name(X25519));
                truth_line_quic(cid, c, &sni, &a, "ok")
            }
        }
    }
}

/// The truth line of a QUIC attempt: the TCP one's, with its outcome and transport.
fn truth_line_quic(cid: u64, c: &Conn, sni: &str, a: &Attempt, outcome: &'static str) -> Truth {
    let mut t = truth_line(cid, c, sni, a);
    t.outcome = outcome;
    t.transport = Some("quic");
    t
}

/// A long header up to (not including) its Length field: `first` (the type bits),
/// version 1, both connection IDs, and an empty token for an Initial.
fn long_header(first: u8, dcid: &[u8], scid: &[u8], initial: bool) -> Vec<u8> {
    let mut h = vec![first];
    h.put_u32(VERSION_1);
    h.push(dcid.len() as u8);
    h.extend_from_slice(dcid);
    h.push(scid.len() as u8);
    h.extend_from_slice(scid);
    if initial {
        h.push(0); // token length
    }
    h
}

/// A long-header packet whose payload no observer can open (Handshake), `len` bytes of
/// pseudo-random protected payload, appended to `out`.
fn protected_long(
    rng: &mut Rng,
    out: &mut Vec<u8>,
    first: u8,
    dcid: &[u8],
    scid: &[u8],
    len: usize,
) {
    out.extend_from_slice(&long_header(first | 0x03, dcid, scid, false));
    out.put_u16(0x4000 | len as u16);
    rng.bytes(out, len);
}

/// A short-header (1-RTT) packet of `len` pseudo-random bytes after its header.
fn short_packet(rng: &mut Rng, out: &mut Vec<u8>, dcid: &[u8], len: usize) {
    out.push(0x40 | (rng.next_u64() as u8 & 0x1f));
    out.extend_from_slice(dcid);
    rng.bytes(out, len);
}

/// A variable-length integer (RFC 9000 §16), in 1, 2 or 4 bytes.
fn varint(out: &mut Vec<u8>, v: u64) {
    if v < 64 {
        out.push(v as u8);
    } else if v < 16_384 {
        out.put_u16(0x4000 | v as u16);
    } else {
        out.put_u32(0x8000_0000 | v as u32);
    }
}

fn crypto_frame(out: &mut Vec<u8>, offset: u64, data: &[u8]) {
    out.push(0x06);
    varint(out, offset);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

fn ack_frame(out: &mut Vec<u8>, largest: u64) {
    out.push(0x02);
    varint(out, largest);
    varint(out, 0); // delay
    varint(out, 0); // no more ranges
    varint(out, 0); // first range
}

/// A transport CONNECTION_CLOSE (0x1c) with `error` and `reason`.
fn connection_close(out: &mut Vec<u8>, error: u64, reason: &[u8]) {
    out.push(0x1c);
    varint(out, error);
    varint(out, 0x06); // the frame type that failed: CRYPTO
    varint(out, reason.len() as u64);
    out.extend_from_slice(reason);
}
