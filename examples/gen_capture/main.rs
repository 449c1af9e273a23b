//! Synthetic benchmark capture generator: many interleaved TLS-over-TCP connections,
//! and a truth file of what each one did.
//!
//! Writes a classic pcap (microsecond timestamps, link type Ethernet) of `--connections`
//! TCP connections to port 443, `--concurrency` of them open at any time, a share of them
//! over IPv6 (`--ipv6-ratio`). Each connection has a real TCP life: SYN, SYN-ACK, ACK,
//! data in segments of at most one MSS with the peer acknowledging every second segment
//! (TCP timestamps, correct IPv4 header and TCP checksums), then FIN, FIN, ACK or a RST.
//! The ClientHello follows one of a few client profiles: Chrome-like (GREASE, shuffled
//! extensions, and with `--pq-ratio` an X25519MLKEM768 key share of 1216 bytes, which
//! makes the ClientHello larger than one segment so it is split over two), Firefox-like,
//! OpenSSL-like (31 suites), a TLS 1.2-only Java-like stack, a legacy TLS 1.0/1.1 client,
//! and a client offering only weak suites. Then one of:
//!
//! * a TLS 1.2 full handshake: ServerHello, Certificate (real DER certificates from
//!   `benches/data/`, leaf and intermediate), ServerKeyExchange, ServerHelloDone,
//!   ClientKeyExchange, ChangeCipherSpec, Finished (and NewSessionTicket), then
//!   application data records;
//! * a TLS 1.3 handshake: ServerHello, ChangeCipherSpec, encrypted records of the sizes of
//!   EncryptedExtensions, Certificate, CertificateVerify and Finished, then
//!   NewSessionTicket and application data records;
//! * a TLS 1.3 PSK resumption (`--resume-ratio`): a ClientHello with pre_shared_key and
//!   psk_key_exchange_modes, a ServerHello selecting the PSK, no certificate;
//! * a failure (`--failure-ratio`, equally often each): a server fatal alert
//!   handshake_failure(40), protocol_version(70) or unrecognized_name(112) after the
//!   ClientHello, a client fatal alert unknown_ca(48) after the server's certificate
//!   flight (a leaf from a private CA), or a server RST after the ClientHello.
//!
//! With `--quic-ratio` a share of the connections are QUIC attempts to UDP port 443
//! instead ([`quic`]): their Initials sealed for real (QUIC v1), a success, an
//! `alpn_mismatch` or a `udp_blocked`; without it the output is unchanged.
//!
//! A few segments are retransmitted or delivered out of order: per bulk data segment
//! (`--retrans-ratio`, `--ooo-ratio`) and in the handshake flights of a share of the
//! connections (`--hs-anomaly-ratio`). Encrypted bytes are pseudo-random.
//!
//! `--keylog FILE` seals them for real instead: every TLS 1.3 connection, and every
//! TLS 1.2 one whose suite is AES-GCM or ChaCha20-Poly1305 (the generator's servers pick
//! 0x1301, 0x1302, 0xC02B and 0xC02F), gets random secrets from a random stream of its
//! own, the record keys TLS derives from them (TLS 1.3: HKDF-Expand-Label from the
//! handshake and application traffic secrets; TLS 1.2: the key block from the master
//! secret), and records sealed under each direction's sequence numbers: the real
//! EncryptedExtensions (the ALPN protocol), TLS 1.3 Certificate (the same DER
//! certificates), CertificateVerify, Finished, NewSessionTicket, alerts, and
//! pseudo-random application data. FILE gets the NSS key log lines of those secrets,
//! connection by connection (none for a client that rejects the certificate before its
//! key exchange). Records keep their sizes where their messages fit (TLS 1.3 pads them)
//! and every flight its TCP segments, so the main stream, the connections and the truth
//! file are the same as without `--keylog`; without it the output is unchanged.
//!
//! `--truth` writes one JSON line per connection with the facts the generator used, in
//! the same schema and with the same values as the truth file of the Python generator
//! `gen_bench_pcap.py`, so `benches/truth_agreement.py` scores either: addresses and
//! ports, SNI, client profile, offered versions and suite count, whether an
//! X25519MLKEM768 share was offered, the negotiated version, suite and key exchange group,
//! resumption, the outcome (`ok` or the failure kind), the fatal alert, a reason code,
//! the certificate chain size, and the handshake anomalies (`ooo`, `retx`).
//!
//! Output is deterministic for a given `--seed` and set of options. Connections are
//! written as they are scheduled: only the open ones are held in memory.
//!
//! ```sh
//! cargo build --release --example gen_capture
//! # about 1 GB each, a few seconds each
//! target/release/examples/gen_capture --connections 20000 --bulk-kb 20-70 --seed 1 \
//!     --out bench_1g.pcap --truth bench_1g.truth.jsonl
//! target/release/examples/gen_capture --connections 200000 --bulk-kb 0-1 --resume-ratio 0.3 \
//!     --seed 2 --out bench_hs.pcap --truth bench_hs.truth.jsonl
//! # decryptable: tlswhy analyze bench_keys.pcap --keylog bench_keys.keys
//! target/release/examples/gen_capture --connections 2000 --seed 1 --out bench_keys.pcap \
//!     --keylog bench_keys.keys
//! ```

mod bytes;
mod keys;
mod messages;
mod options;
mod profiles;
mod quic;
mod records;
mod rng;
mod scenario;
mod servers;
mod tcp;
mod truth;

use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use options::Options;
use scenario::World;
use tcp::Conn;
use truth::Truth;

/// 2025-01-01T12:00:00Z in µs.
const START_US: u64 = 1_735_732_800 * 1_000_000;

/// An open connection and the next of its frames to write.
#[derive(Default)]
struct Open {
    conn: Conn,
    next: usize,
}

fn pcap_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    h[16..20].copy_from_slice(&262_144u32.to_le_bytes()); // snaplen
    h[20..24].copy_from_slice(&1u32.to_le_bytes()); // Ethernet
    h
}

fn pcap_record(out: &mut impl Write, ts: u64, frame: &[u8]) -> io::Result<()> {
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&((ts / 1_000_000) as u32).to_le_bytes());
    h[4..8].copy_from_slice(&((ts % 1_000_000) as u32).to_le_bytes());
    h[8..12].copy_from_slice(&(frame.len() as u32).to_le_bytes());
    h[12..16].copy_from_slice(&(frame.len() as u32).to_le_bytes());
    out.write_all(&h)?;
    out.write_all(frame)
}

struct Totals {
    connections: u64,
    frames: u64,
    bytes: u64,
}

/// The truth file and the key log, written connection by connection.
struct SideFiles {
    truth: Option<BufWriter<File>>,
    keylog: Option<BufWriter<File>>,
}

impl SideFiles {
    /// A connection was made: its truth line and its key log lines.
    fn connection(&mut self, t: Truth, world: &mut World) -> io::Result<()> {
        if let Some(w) = self.truth.as_mut() {
            serde_json::to_writer(&mut *w, &t)?;
            w.write_all(b"\n")?;
        }
        if let (Some(w), Some(log)) = (self.keylog.as_mut(), world.keylog.as_mut()) {
            w.write_all(&log.lines)?;
            log.lines.clear();
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        for w in [&mut self.truth, &mut self.keylog].into_iter().flatten() {
            w.flush()?;
        }
        Ok(())
    }
}

/// Runs the connections `concurrency` at a time, writing their frames in time order.
fn generate(opts: Options) -> io::Result<Totals> {
    let total = opts.connections;
    let concurrency = opts.concurrency.min(total) as usize;
    let mut out = BufWriter::with_capacity(8 << 20, File::create(&opts.out)?);
    let side_file = |path: &Option<std::path::PathBuf>| -> io::Result<_> {
        Ok(match path {
            Some(path) => Some(BufWriter::with_capacity(1 << 20, File::create(path)?)),
            None => None,
        })
    };
    let mut side = SideFiles {
        truth: side_file(&opts.truth)?,
        keylog: side_file(&opts.keylog)?,
    };
    let mut world = World::new(opts);

    out.write_all(&pcap_header())?;
    let mut totals = Totals {
        connections: 0,
        frames: 0,
        bytes: 24,
    };
    // (time of the next frame, connection id, slot)
    let mut heap: BinaryHeap<Reverse<(u64, u64, usize)>> = BinaryHeap::new();
    let mut open: Vec<Open> = (0..concurrency).map(|_| Open::default()).collect();
    let mut now = START_US;
    for (slot, o) in open.iter_mut().enumerate() {
        now += world.rng.exponential(2000.0) as u64;
        let t = world.connection(totals.connections, now, &mut o.conn);
        side.connection(t, &mut world)?;
        heap.push(Reverse((o.conn.frames[0].ts, totals.connections, slot)));
        totals.connections += 1;
    }
    while let Some(mut top) = heap.peek_mut() {
        let Reverse((ts, _, slot)) = *top;
        let o = &mut open[slot];
        let frame = o.conn.frame_bytes(o.next);
        pcap_record(&mut out, ts, frame)?;
        totals.frames += 1;
        totals.bytes += 16 + frame.len() as u64;
        o.next += 1;
        if let Some(f) = o.conn.frames.get(o.next) {
            top.0 .0 = f.ts;
        } else if totals.connections < total {
            let start = ts + world.rng.exponential(500.0) as u64 + 1;
            let cid = totals.connections;
            let t = world.connection(cid, start, &mut o.conn);
            side.connection(t, &mut world)?;
            o.next = 0;
            *top = Reverse((o.conn.frames[0].ts, cid, slot));
            totals.connections += 1;
        } else {
            PeekMut::pop(top);
        }
    }
    out.flush()?;
    side.flush()?;
    Ok(totals)
}

fn main() -> ExitCode {
    let opts = Options::parse();
    let path = opts.out.display().to_string();
    let started = Instant::now();
    match generate(opts) {
        Ok(t) => {
            eprintln!(
                "wrote {path}: {} connections, {} frames, {} bytes in {:.1}s",
                t.connections,
                t.frames,
                t.bytes,
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen_capture: {e}");
            ExitCode::FAILURE
        }
    }
}
