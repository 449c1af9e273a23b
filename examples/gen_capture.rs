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
//! A few segments are retransmitted or delivered out of order: per bulk data segment
//! (`--retrans-ratio`, `--ooo-ratio`) and in the handshake flights of a share of the
//! connections (`--hs-anomaly-ratio`). Encrypted bytes are pseudo-random.
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
//! ```

use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use serde::Serialize;

// -------------------------------------------------------------------------------------
// Command line
// -------------------------------------------------------------------------------------

/// Writes a synthetic pcap of many interleaved TLS-over-TCP connections to port 443, and
/// optionally a truth file with one JSON line per connection.
#[derive(Parser, Debug)]
#[command(name = "gen_capture")]
struct Options {
    /// Number of TCP connections.
    #[arg(long, default_value_t = 1000)]
    connections: u64,
    /// Server application data per successful connection, KiB: N or MIN-MAX.
    #[arg(long, default_value = "20-200", value_parser = parse_kib_range)]
    bulk_kb: ByteRange,
    /// Fraction of failing handshakes.
    #[arg(long, alias = "fail-ratio", default_value_t = 0.10)]
    failure_ratio: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output pcap path.
    #[arg(long)]
    out: PathBuf,
    /// Write one JSON line per connection with the facts the generator used.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Connections open at once.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: u64,
    /// Fraction of IPv6 connections.
    #[arg(long, default_value_t = 0.10)]
    ipv6_ratio: f64,
    /// Per bulk data segment retransmission probability.
    #[arg(long, default_value_t = 0.001)]
    retrans_ratio: f64,
    /// Per bulk data segment out-of-order probability.
    #[arg(long, default_value_t = 0.001)]
    ooo_ratio: f64,
    /// Fraction of connections whose handshake flights have reordered/retransmitted
    /// segments.
    #[arg(long, default_value_t = 0.01)]
    hs_anomaly_ratio: f64,
    /// Fraction of TLS 1.3 connections resumed with a PSK.
    #[arg(long, default_value_t = 0.0)]
    resume_ratio: f64,
    /// Fraction of TLS 1.3-capable browser clients offering X25519MLKEM768.
    #[arg(long, default_value_t = 0.3)]
    pq_ratio: f64,
    /// Distinct server names.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..))]
    servers: u64,
}

/// An inclusive range of byte counts.
#[derive(Clone, Copy, Debug)]
struct ByteRange {
    lo: u64,
    hi: u64,
}

fn parse_kib_range(s: &str) -> Result<ByteRange, String> {
    let kib = |x: &str| -> Result<u64, String> {
        let v: f64 = x.trim().parse().map_err(|e| format!("'{x}': {e}"))?;
        if v.is_finite() && v >= 0.0 {
            Ok((v * 1024.0) as u64)
        } else {
            Err(format!("'{x}' is not a size"))
        }
    };
    let (lo, hi) = match s.split_once('-') {
        Some((lo, hi)) => (kib(lo)?, kib(hi)?),
        None => (kib(s)?, kib(s)?),
    };
    if lo > hi {
        return Err(format!("'{s}': the minimum is above the maximum"));
    }
    Ok(ByteRange { lo, hi })
}

// -------------------------------------------------------------------------------------
// Pseudo-random numbers
// -------------------------------------------------------------------------------------

/// xoshiro256** seeded through splitmix64: fast, and the same stream everywhere.
struct Rng {
    s: [u64; 4],
}

impl Rng {
    fn seeded(seed: u64) -> Rng {
        let mut x = seed;
        let mut splitmix = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            s: [splitmix(), splitmix(), splitmix(), splitmix()],
        }
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// Box-Muller.
    fn lognormal(&mut self, mu: f64, sigma: f64) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        (mu + sigma * z).exp()
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes()[..chunk.len()]);
        }
    }

    /// Appends `n` random bytes.
    fn bytes(&mut self, out: &mut Vec<u8>, n: usize) {
        let at = out.len();
        out.resize(at + n, 0);
        self.fill(&mut out[at..]);
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0; N];
        self.fill(&mut a);
        a
    }
}

// -------------------------------------------------------------------------------------
// Byte builders
// -------------------------------------------------------------------------------------

trait Put {
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u16s(&mut self, vs: &[u16]);
}

impl Put for Vec<u8> {
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u16s(&mut self, vs: &[u16]) {
        for &v in vs {
            self.put_u16(v);
        }
    }
}

/// Appends what `body` writes, preceded by its length in `width` bytes.
fn length_prefixed(out: &mut Vec<u8>, width: usize, body: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0; 3][..width]);
    body(out);
    let len = out.len() - at - width;
    assert!(
        len >> (8 * width) == 0,
        "{len} bytes overflow a {width}-byte length"
    );
    out[at..at + width].copy_from_slice(&(len as u32).to_be_bytes()[4 - width..]);
}

fn vec8(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    length_prefixed(out, 1, body);
}

fn vec16(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    length_prefixed(out, 2, body);
}

fn vec24(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    length_prefixed(out, 3, body);
}

// -------------------------------------------------------------------------------------
// TLS constants and client profiles
// -------------------------------------------------------------------------------------

const TLS10: u16 = 0x0301;
const TLS11: u16 = 0x0302;
const TLS12: u16 = 0x0303;
const TLS13: u16 = 0x0304;

const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;

const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const NEW_SESSION_TICKET: u8 = 4;
const CERTIFICATE: u8 = 11;
const SERVER_KEY_EXCHANGE: u8 = 12;
const SERVER_HELLO_DONE: u8 = 14;
const CLIENT_KEY_EXCHANGE: u8 = 16;

const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_STATUS_REQUEST: u16 = 0x0005;
const EXT_SUPPORTED_GROUPS: u16 = 0x000A;
const EXT_EC_POINT_FORMATS: u16 = 0x000B;
const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000D;
const EXT_ALPN: u16 = 0x0010;
const EXT_SCT: u16 = 0x0012;
const EXT_PADDING: u16 = 0x0015;
const EXT_EXTENDED_MASTER_SECRET: u16 = 0x0017;
const EXT_COMPRESS_CERTIFICATE: u16 = 0x001B;
const EXT_SESSION_TICKET: u16 = 0x0023;
const EXT_PRE_SHARED_KEY: u16 = 0x0029;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002B;
const EXT_PSK_KEY_EXCHANGE_MODES: u16 = 0x002D;
const EXT_KEY_SHARE: u16 = 0x0033;
const EXT_APPLICATION_SETTINGS: u16 = 0x4469;
const EXT_RENEGOTIATION_INFO: u16 = 0xFF01;

const X25519: u16 = 0x001D;
const SECP256R1: u16 = 0x0017;
const SECP384R1: u16 = 0x0018;
const SECP521R1: u16 = 0x0019;
const X25519MLKEM768: u16 = 0x11EC;
/// Client share: ML-KEM-768 encapsulation key (1184) + X25519 (32).
const MLKEM_CLIENT_SHARE: usize = 1216;
/// Server share: ML-KEM-768 ciphertext (1088) + X25519 (32).
const MLKEM_SERVER_SHARE: usize = 1120;

const ALERT_FATAL: u8 = 2;
const ALERT_HANDSHAKE_FAILURE: u8 = 40;
const ALERT_UNKNOWN_CA: u8 = 48;
const ALERT_PROTOCOL_VERSION: u8 = 70;
const ALERT_UNRECOGNIZED_NAME: u8 = 112;

const GREASE: [u16; 16] = [
    0x0A0A, 0x1A1A, 0x2A2A, 0x3A3A, 0x4A4A, 0x5A5A, 0x6A6A, 0x7A7A, 0x8A8A, 0x9A9A, 0xAAAA, 0xBABA,
    0xCACA, 0xDADA, 0xEAEA, 0xFAFA,
];
/// The last 8 bytes of a TLS 1.3 server's random when it negotiates TLS 1.2 (RFC 8446).
const DOWNGRADE_TLS12: [u8; 8] = *b"DOWNGRD\x01";

fn version_name(v: u16) -> &'static str {
    match v {
        TLS10 => "TLS1.0",
        TLS11 => "TLS1.1",
        TLS12 => "TLS1.2",
        _ => "TLS1.3",
    }
}

fn group_name(g: u16) -> &'static str {
    match g {
        X25519 => "x25519",
        SECP256R1 => "secp256r1",
        _ => "X25519MLKEM768",
    }
}

/// How one client stack writes its ClientHello.
struct Profile {
    name: &'static str,
    record_version: u16,
    legacy_version: u16,
    /// supported_versions; empty: the extension is not sent.
    versions: &'static [u16],
    grease: bool,
    shuffle_extensions: bool,
    suites: &'static [u16],
    groups: &'static [u16],
    alpn: &'static [&'static [u8]],
    signature_algorithms: &'static [u16],
    /// Can offer X25519MLKEM768.
    post_quantum: bool,
    /// Pads ClientHellos of 256..511 bytes to 512 (BoringSSL, NSS).
    padding: bool,
}

impl Profile {
    fn offers_tls13(&self) -> bool {
        !self.versions.is_empty()
    }
}

/// Chromium-like: GREASE, shuffled extensions, optional post-quantum key share.
static CHROME: Profile = Profile {
    name: "chrome",
    record_version: TLS10,
    legacy_version: TLS12,
    versions: &[TLS13, TLS12],
    grease: true,
    shuffle_extensions: true,
    suites: &[
        0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014,
        0x009C, 0x009D, 0x002F, 0x0035,
    ],
    groups: &[X25519, SECP256R1, SECP384R1],
    alpn: &[b"h2", b"http/1.1"],
    signature_algorithms: &[
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
    ],
    post_quantum: true,
    padding: true,
};

static FIREFOX: Profile = Profile {
    name: "firefox",
    record_version: TLS10,
    legacy_version: TLS12,
    versions: &[TLS13, TLS12],
    grease: false,
    shuffle_extensions: false,
    suites: &[
        0x1301, 0x1303, 0x1302, 0xC02B, 0xC02F, 0xCCA9, 0xCCA8, 0xC02C, 0xC030, 0xC00A, 0xC009,
        0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035,
    ],
    groups: &[X25519, SECP256R1, SECP384R1, SECP521R1, 0x0100, 0x0101],
    alpn: &[b"h2", b"http/1.1"],
    signature_algorithms: &[
        0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201,
    ],
    post_quantum: true,
    padding: true,
};

/// OpenSSL 3 default list (curl, Python ssl).
static OPENSSL: Profile = Profile {
    name: "openssl",
    record_version: TLS10,
    legacy_version: TLS12,
    versions: &[TLS13, TLS12],
    grease: false,
    shuffle_extensions: false,
    suites: &[
        0x1302, 0x1303, 0x1301, 0xC02C, 0xC030, 0x009F, 0xCCA9, 0xCCA8, 0xCCAA, 0xC02B, 0xC02F,
        0x009E, 0xC024, 0xC028, 0x006B, 0xC023, 0xC027, 0x0067, 0xC00A, 0xC014, 0x0039, 0xC009,
        0xC013, 0x0033, 0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F, 0x00FF,
    ],
    groups: &[
        X25519, SECP256R1, 0x001E, SECP521R1, SECP384R1, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104,
    ],
    alpn: &[b"http/1.1"],
    signature_algorithms: &[
        0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x081A, 0x081B, 0x081C, 0x0809, 0x080A, 0x080B,
        0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0303, 0x0301, 0x0302, 0x0402, 0x0502,
        0x0602,
    ],
    post_quantum: false,
    padding: true,
};

/// TLS 1.2-only stack (older Java, embedded clients).
static JAVA12: Profile = Profile {
    name: "java12",
    record_version: TLS12,
    legacy_version: TLS12,
    versions: &[],
    grease: false,
    shuffle_extensions: false,
    suites: &[
        0xC02C, 0xC02B, 0xC030, 0x009D, 0xC02E, 0xC032, 0x009F, 0x00A3, 0xC02F, 0x009C, 0xC02D,
        0xC031, 0x009E, 0x00A2, 0xC024, 0xC028, 0x003D, 0xC026, 0xC02A, 0x006B, 0x006A, 0xC00A,
        0xC014, 0x0035, 0xC005, 0xC00F, 0x0039, 0x0038, 0x00FF,
    ],
    groups: &[SECP256R1, SECP384R1, SECP521R1, 0x0016, 0x0100],
    alpn: &[],
    signature_algorithms: &[
        0x0603, 0x0601, 0x0503, 0x0501, 0x0403, 0x0401, 0x0303, 0x0301, 0x0203, 0x0201, 0x0202,
    ],
    post_quantum: false,
    padding: false,
};

/// Legacy TLS 1.0/1.1 client: draws protocol_version from modern servers.
static LEGACY: Profile = Profile {
    name: "legacy",
    record_version: TLS10,
    legacy_version: TLS11,
    versions: &[],
    grease: false,
    shuffle_extensions: false,
    suites: &[
        0xC014, 0xC00A, 0x0039, 0x0038, 0x0088, 0x0087, 0x0035, 0x0084, 0xC013, 0xC009, 0x0033,
        0x0032, 0x009A, 0x0099, 0x0045, 0x0044, 0x002F, 0x0096, 0x0041, 0x000A, 0x00FF,
    ],
    groups: &[SECP256R1, SECP384R1, SECP521R1],
    alpn: &[],
    signature_algorithms: &[],
    post_quantum: false,
    padding: false,
};

/// Client restricted to suites no current server accepts: draws handshake_failure.
static WEAK: Profile = Profile {
    name: "weak",
    record_version: TLS10,
    legacy_version: TLS12,
    versions: &[],
    grease: false,
    shuffle_extensions: false,
    suites: &[
        0x0005, 0x0004, 0x000A, 0x0016, 0x0013, 0x0009, 0x0015, 0x0012, 0x0003, 0x0006, 0x0008,
        0x0014, 0x0011, 0x0018, 0x001B, 0x00FF,
    ],
    groups: &[SECP256R1, SECP384R1],
    alpn: &[b"http/1.1"],
    signature_algorithms: &[0x0401, 0x0201, 0x0402, 0x0202],
    post_quantum: false,
    padding: false,
};

/// Clients of successful connections, with their weights.
static SUCCESS_PROFILES: [(&Profile, u64); 4] =
    [(&CHROME, 40), (&FIREFOX, 15), (&OPENSSL, 30), (&JAVA12, 15)];

/// TLS 1.2 server preference by certificate key type.
const SERVER12_RSA_SUITES: [u16; 9] = [
    0xC02F, 0xC030, 0xCCA8, 0x009C, 0x009D, 0xC013, 0xC014, 0x002F, 0x0035,
];
const SERVER12_ECDSA_SUITES: [u16; 5] = [0xC02B, 0xC02C, 0xCCA9, 0xC009, 0xC00A];
const SERVER13_SUITES: [u16; 3] = [0x1301, 0x1302, 0x1303];

// -------------------------------------------------------------------------------------
// TLS message builders
// -------------------------------------------------------------------------------------

/// One TLS record (the body must fit in 16384 bytes).
fn record(out: &mut Vec<u8>, content_type: u8, version: u16, body: impl FnOnce(&mut Vec<u8>)) {
    out.push(content_type);
    out.put_u16(version);
    vec16(out, body);
}

fn handshake(out: &mut Vec<u8>, msg_type: u8, body: impl FnOnce(&mut Vec<u8>)) {
    out.push(msg_type);
    vec24(out, body);
}

fn extension(out: &mut Vec<u8>, kind: u16, body: impl FnOnce(&mut Vec<u8>)) {
    out.put_u16(kind);
    vec16(out, body);
}

fn alert(out: &mut Vec<u8>, version: u16, level: u8, description: u8) {
    record(out, ALERT, version, |b| {
        b.extend_from_slice(&[level, description])
    });
}

fn change_cipher_spec(out: &mut Vec<u8>, version: u16) {
    record(out, CHANGE_CIPHER_SPEC, version, |b| b.push(1));
}

/// Extensions built one by one, so they can be shuffled before they are written.
#[derive(Default)]
struct Extensions {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Extensions {
    fn add(&mut self, kind: u16, body: impl FnOnce(&mut Vec<u8>)) {
        let at = self.bytes.len();
        extension(&mut self.bytes, kind, body);
        self.spans.push((at, self.bytes.len()));
    }

    fn add_first(&mut self, kind: u16, body: impl FnOnce(&mut Vec<u8>)) {
        self.add(kind, body);
        self.spans.rotate_right(1);
    }

    fn len(&self) -> usize {
        self.bytes.len()
    }

    fn write(&self, out: &mut Vec<u8>) {
        for &(a, b) in &self.spans {
            out.extend_from_slice(&self.bytes[a..b]);
        }
    }
}

/// A legacy_session_id (0 or 32 bytes).
#[derive(Clone, Copy, Default)]
struct SessionId {
    bytes: [u8; 32],
    len: usize,
}

impl SessionId {
    fn random(rng: &mut Rng) -> SessionId {
        SessionId {
            bytes: rng.array(),
            len: 32,
        }
    }
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// What a resuming client presents: a ticket from an earlier connection.
struct Ticket {
    identity: Vec<u8>,
    obfuscated_age: u32,
}

/// Appends the ClientHello record; returns the legacy_session_id it carries.
fn client_hello(
    out: &mut Vec<u8>,
    rng: &mut Rng,
    p: &Profile,
    sni: &str,
    post_quantum: bool,
    ticket: Option<&Ticket>,
) -> SessionId {
    let session_id = if p.offers_tls13() || rng.chance(0.3) {
        SessionId::random(rng)
    } else {
        SessionId::default()
    };
    let mut fixed = Vec::with_capacity(256);
    fixed.put_u16(p.legacy_version);
    fixed.extend_from_slice(&rng.array::<32>());
    vec8(&mut fixed, |b| b.extend_from_slice(session_id.as_slice()));
    vec16(&mut fixed, |b| {
        if p.grease {
            b.put_u16(rng.pick(&GREASE));
        }
        b.put_u16s(p.suites);
    });
    vec8(&mut fixed, |b| b.push(0)); // compression: null

    let mut exts = Extensions::default();
    exts.add(EXT_SERVER_NAME, |b| {
        vec16(b, |b| {
            b.push(0); // host_name
            vec16(b, |b| b.extend_from_slice(sni.as_bytes()));
        })
    });
    exts.add(EXT_EXTENDED_MASTER_SECRET, |_| {});
    exts.add(EXT_RENEGOTIATION_INFO, |b| b.push(0));
    exts.add(EXT_SUPPORTED_GROUPS, |b| {
        vec16(b, |b| {
            if p.grease {
                b.put_u16(rng.pick(&GREASE));
            }
            if post_quantum {
                b.put_u16(X25519MLKEM768);
            }
            b.put_u16s(p.groups);
        })
    });
    exts.add(EXT_EC_POINT_FORMATS, |b| vec8(b, |b| b.push(0)));
    exts.add(EXT_SESSION_TICKET, |_| {});
    if !p.alpn.is_empty() {
        exts.add(EXT_ALPN, |b| {
            vec16(b, |b| {
                for proto in p.alpn {
                    vec8(b, |b| b.extend_from_slice(proto));
                }
            })
        });
    }
    exts.add(EXT_STATUS_REQUEST, |b| {
        b.extend_from_slice(&[1, 0, 0, 0, 0])
    });
    if !p.signature_algorithms.is_empty() {
        exts.add(EXT_SIGNATURE_ALGORITHMS, |b| {
            vec16(b, |b| b.put_u16s(p.signature_algorithms))
        });
    }
    if p.offers_tls13() {
        exts.add(EXT_SCT, |_| {});
        exts.add(EXT_KEY_SHARE, |b| {
            vec16(b, |b| {
                if p.grease {
                    b.put_u16(rng.pick(&GREASE));
                    vec16(b, |b| b.push(0));
                }
                if post_quantum {
                    b.put_u16(X25519MLKEM768);
                    vec16(b, |b| rng.bytes(b, MLKEM_CLIENT_SHARE));
                }
                b.put_u16(X25519);
                vec16(b, |b| rng.bytes(b, 32));
            })
        });
        exts.add(EXT_PSK_KEY_EXCHANGE_MODES, |b| vec8(b, |b| b.push(1))); // psk_dhe_ke
        exts.add(EXT_SUPPORTED_VERSIONS, |b| {
            vec8(b, |b| {
                if p.grease {
                    b.put_u16(rng.pick(&GREASE));
                }
                b.put_u16s(p.versions);
            })
        });
        exts.add(EXT_COMPRESS_CERTIFICATE, |b| {
            b.extend_from_slice(&[2, 0, 2])
        }); // brotli
        if p.grease {
            exts.add(EXT_APPLICATION_SETTINGS, |b| {
                b.extend_from_slice(b"\x00\x03\x02h2")
            });
        }
    }
    if p.shuffle_extensions {
        rng.shuffle(&mut exts.spans);
    }
    if p.grease {
        exts.add_first(rng.pick(&GREASE), |_| {});
        exts.add(rng.pick(&GREASE), |b| b.push(0));
    }
    // pre_shared_key comes last (RFC 8446, 4.2.11).
    let mut psk = Vec::new();
    if let Some(t) = ticket {
        extension(&mut psk, EXT_PRE_SHARED_KEY, |b| {
            vec16(b, |b| {
                vec16(b, |b| b.extend_from_slice(&t.identity));
                b.put_u32(t.obfuscated_age);
            });
            vec16(b, |b| vec8(b, |b| rng.bytes(b, 32))); // binder
        });
    }
    if p.padding {
        let hello_len = 4 + fixed.len() + 2 + exts.len() + psk.len();
        if (0x100..0x200).contains(&hello_len) {
            let need = (0x200 - hello_len - 4).max(1);
            exts.add(EXT_PADDING, |b| b.resize(b.len() + need, 0));
        }
    }
    record(out, HANDSHAKE, p.record_version, |b| {
        handshake(b, CLIENT_HELLO, |b| {
            b.extend_from_slice(&fixed);
            vec16(b, |b| {
                exts.write(b);
                b.extend_from_slice(&psk);
            });
        })
    });
    session_id
}

/// The server's random; `downgrade` marks a TLS 1.3 server negotiating TLS 1.2.
fn server_random(rng: &mut Rng, downgrade: bool) -> [u8; 32] {
    let mut random: [u8; 32] = rng.array();
    if downgrade {
        random[24..].copy_from_slice(&DOWNGRADE_TLS12);
    }
    random
}

/// The ServerHello handshake message.
fn server_hello(
    out: &mut Vec<u8>,
    random: [u8; 32],
    session_id: &[u8],
    suite: u16,
    exts: impl FnOnce(&mut Vec<u8>),
) {
    handshake(out, SERVER_HELLO, |b| {
        b.put_u16(TLS12);
        b.extend_from_slice(&random);
        vec8(b, |b| b.extend_from_slice(session_id));
        b.put_u16(suite);
        b.push(0);
        vec16(b, exts);
    });
}

/// The TLS 1.2 Certificate message.
fn certificate12(out: &mut Vec<u8>, chain: &[&[u8]]) {
    handshake(out, CERTIFICATE, |b| {
        vec24(b, |b| {
            for der in chain {
                vec24(b, |b| b.extend_from_slice(der));
            }
        })
    });
}

/// Length of the TLS 1.3 Certificate message for this chain (no certificate extensions).
fn certificate13_len(chain: &[&[u8]]) -> usize {
    4 + 1 + 3 + chain.iter().map(|d| 3 + d.len() + 2).sum::<usize>()
}

/// A DER ECDSA P-256 signature: SEQUENCE { INTEGER r, INTEGER s }.
fn ecdsa_signature(out: &mut Vec<u8>, rng: &mut Rng) {
    out.push(0x30);
    vec8(out, |b| {
        for _ in 0..2 {
            let mut int: [u8; 32] = rng.array();
            int[0] = int[0].max(1);
            b.push(0x02);
            vec8(b, |b| {
                if int[0] & 0x80 != 0 {
                    b.push(0);
                }
                b.extend_from_slice(&int);
            });
        }
    });
}

/// An ECDHE public value: 32 bytes for X25519, an uncompressed point for secp256r1.
fn ecdhe_public(out: &mut Vec<u8>, rng: &mut Rng, group: u16) {
    vec8(out, |b| {
        if group == X25519 {
            rng.bytes(b, 32);
        } else {
            b.push(4);
            rng.bytes(b, 64);
        }
    });
}

fn server_key_exchange(out: &mut Vec<u8>, rng: &mut Rng, group: u16, key: Key) {
    handshake(out, SERVER_KEY_EXCHANGE, |b| {
        b.push(3); // named_curve
        b.put_u16(group);
        ecdhe_public(b, rng, group);
        match key {
            Key::Rsa => {
                b.put_u16(0x0804); // rsa_pss_rsae_sha256
                vec16(b, |b| rng.bytes(b, 256));
            }
            Key::Ecdsa => {
                b.put_u16(0x0403); // ecdsa_secp256r1_sha256
                vec16(b, |b| ecdsa_signature(b, rng));
            }
        }
    });
}

// -------------------------------------------------------------------------------------
// Servers, certificates, names and addresses
// -------------------------------------------------------------------------------------

const INTERMEDIATE: &[u8] = include_bytes!("../benches/data/intermediate.der");
const LEAF_RSA: &[u8] = include_bytes!("../benches/data/leaf-rsa.der");
const LEAF_ECDSA: &[u8] = include_bytes!("../benches/data/leaf-ecdsa.der");
const LEAF_RSA_TEST: &[u8] = include_bytes!("../benches/data/leaf-rsa-test.der");
const CORP_LEAF: &[u8] = include_bytes!("../benches/data/corp-leaf.der");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Rsa,
    Ecdsa,
}

/// Top-level domains of the servers, each with the chain whose leaf covers
/// `*.WORD.TLD` for every word (see benches/data/README.md).
const DOMAINS: [(&str, &[&[u8]], Key); 5] = [
    ("example", &[LEAF_RSA, INTERMEDIATE], Key::Rsa),
    ("example.com", &[LEAF_RSA, INTERMEDIATE], Key::Rsa),
    ("example.net", &[LEAF_ECDSA, INTERMEDIATE], Key::Ecdsa),
    ("example.org", &[LEAF_ECDSA, INTERMEDIATE], Key::Ecdsa),
    ("test", &[LEAF_RSA_TEST, INTERMEDIATE], Key::Rsa),
];
const WORDS: [&str; 20] = [
    "shop", "news", "mail", "cloud", "bank", "video", "maps", "docs", "games", "music", "store",
    "pay", "auth", "cdn", "photos", "travel", "health", "jobs", "sport", "weather",
];
const PREFIXES: [&str; 8] = ["www", "api", "static", "login", "app", "img", "edge", "m"];

#[derive(Clone)]
struct Server {
    name: String,
    ip4: [u8; 4],
    ip6: [u8; 16],
    key: Key,
    chain: &'static [&'static [u8]],
    tls13: bool,
    post_quantum: bool,
    chain_len: usize,
}

impl Server {
    fn addresses(idx: u64) -> ([u8; 4], [u8; 16]) {
        let ip4 = [
            198,
            18 + ((idx >> 16) % 2) as u8,
            (idx >> 8) as u8,
            idx as u8,
        ];
        let mut ip6 = [
            0x20, 0x01, 0x0d, 0xb8, 0xaa, 0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        ip6[8..].copy_from_slice(&idx.to_be_bytes());
        (ip4, ip6)
    }

    /// A public server `PREFIX[N].WORD.TLD`: TLD varies fastest, so the popular
    /// servers mix key types.
    fn public(rng: &mut Rng, idx: u64) -> Server {
        let (tld, chain, key) = DOMAINS[(idx % 5) as usize];
        let word = WORDS[(idx / 5 % 20) as usize];
        let prefix = PREFIXES[(idx / 100 % 8) as usize];
        let round = idx / 800;
        let name = if round == 0 {
            format!("{prefix}.{word}.{tld}")
        } else {
            format!("{prefix}{round}.{word}.{tld}")
        };
        let (ip4, ip6) = Server::addresses(idx);
        let tls13 = rng.chance(0.8);
        Server {
            name,
            ip4,
            ip6,
            key,
            chain,
            tls13,
            post_quantum: tls13 && rng.chance(0.5),
            chain_len: chain.iter().map(|d| d.len()).sum(),
        }
    }

    /// An intranet server with a leaf from a private CA, sent alone; TLS 1.2 only.
    fn intranet(i: u64) -> Server {
        const CHAIN: &[&[u8]] = &[CORP_LEAF];
        let (ip4, ip6) = Server::addresses(100_000 + i);
        Server {
            name: format!("intranet{i}.corp.example"),
            ip4,
            ip6,
            key: Key::Ecdsa,
            chain: CHAIN,
            tls13: false,
            post_quantum: false,
            chain_len: CORP_LEAF.len(),
        }
    }

    fn tls12_suite(&self, p: &Profile) -> u16 {
        let prefs: &[u16] = match self.key {
            Key::Rsa => &SERVER12_RSA_SUITES,
            Key::Ecdsa => &SERVER12_ECDSA_SUITES,
        };
        *prefs
            .iter()
            .find(|s| p.suites.contains(s))
            .expect("every TLS 1.2 profile shares a suite with every server")
    }
}

// -------------------------------------------------------------------------------------
// TCP connection emitter
// -------------------------------------------------------------------------------------

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;
/// Payload per segment: 1500-byte MTU minus IP, TCP and the 12-byte timestamp option.
const MSS_IPV4: usize = 1448;
const MSS_IPV6: usize = 1428;
/// Captured on the client's segment: the router stands in for every server.
const ROUTER_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0xff, 0xff, 0x01];
/// The receiver acknowledges every second in-order segment.
const ACK_EVERY: u32 = 2;
const CLIENT: usize = 0;
const SERVER: usize = 1;

/// One frame of a connection: its time and where its bytes end in `Conn::bytes`.
#[derive(Clone, Copy)]
struct Frame {
    ts: u64,
    end: usize,
}

/// When a flight's segments go out: the first `first` µs after the previous frame, the
/// others `gap` µs apart.
#[derive(Clone, Copy)]
struct Pace {
    first: u64,
    gap: u64,
}

/// Per-segment probabilities of reordering and retransmission.
#[derive(Clone, Copy, Default)]
struct Faults {
    ooo: f64,
    retx: f64,
}

/// Which faults a connection's handshake flights got.
#[derive(Clone, Copy, Default)]
struct Anomalies {
    ooo: bool,
    retx: bool,
}

impl Anomalies {
    fn names(self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.ooo {
            v.push("ooo");
        }
        if self.retx {
            v.push("retx");
        }
        v
    }
}

/// The two endpoints of a connection and its round trip time.
struct Endpoints {
    v6: bool,
    client: [u8; 16],
    server: [u8; 16],
    client_port: u16,
    client_mac: [u8; 6],
    rtt: u64,
}

/// Builds the frames of one TCP connection. Index 0 of the pairs is the client.
#[derive(Default)]
struct Conn {
    v6: bool,
    addr: [[u8; 16]; 2],
    port: [u16; 2],
    client_mac: [u8; 6],
    t: u64,
    rtt: u64,
    mss: usize,
    isn: [u32; 2],
    /// Next sequence number each side sends.
    nxt: [u32; 2],
    /// What each side has received in order (its ACK number).
    rcv: [u32; 2],
    ip_id: [u16; 2],
    ts_offset: [u32; 2],
    window: [u16; 2],
    ttl: [u8; 2],
    bytes: Vec<u8>,
    frames: Vec<Frame>,
    // Scratch space of `send`.
    first: Vec<usize>,
    order: Vec<(usize, bool)>,
    pending: Vec<(usize, u32)>,
    buffered: Vec<(u32, u32)>,
}

impl Conn {
    /// Starts a connection at `t0`, reusing this one's buffers.
    fn open(&mut self, rng: &mut Rng, e: &Endpoints, t0: u64) {
        self.v6 = e.v6;
        self.addr = [e.client, e.server];
        self.port = [e.client_port, 443];
        self.client_mac = e.client_mac;
        self.t = t0;
        self.rtt = e.rtt;
        self.mss = if e.v6 { MSS_IPV6 } else { MSS_IPV4 };
        self.isn = [rng.next_u64() as u32, rng.next_u64() as u32];
        self.nxt = self.isn;
        self.rcv = [0, 0];
        self.ip_id = [rng.next_u64() as u16, rng.next_u64() as u16];
        self.ts_offset = [rng.next_u64() as u32, rng.next_u64() as u32];
        self.window = [
            rng.pick(&[501, 502, 507, 1021]),
            rng.pick(&[501, 235, 510, 64240 >> 7]),
        ];
        self.ttl = [64, rng.pick(&[50, 52, 55, 57, 116, 245])];
        self.bytes.clear();
        self.frames.clear();
    }

    /// The bytes of frame `i`.
    fn frame_bytes(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.frames[i - 1].end };
        &self.bytes[start..self.frames[i].end]
    }

    /// Appends one Ethernet/IP/TCP frame from side `d` at the current time.
    fn segment(&mut self, d: usize, flags: u8, seq: u32, ack: u32, payload: &[u8]) {
        let syn = flags & SYN != 0;
        let (src, dst) = (d, 1 - d);
        let b = &mut self.bytes;
        if d == CLIENT {
            b.extend_from_slice(&ROUTER_MAC);
            b.extend_from_slice(&self.client_mac);
        } else {
            b.extend_from_slice(&self.client_mac);
            b.extend_from_slice(&ROUTER_MAC);
        }
        let header_len = if syn { 40 } else { 32 };
        let tcp_len = header_len + payload.len();
        let addr_len = if self.v6 { 16 } else { 4 };
        let (saddr, daddr) = (&self.addr[src][..addr_len], &self.addr[dst][..addr_len]);
        if self.v6 {
            b.put_u16(0x86DD);
            b.put_u32(0x6000_0000 | ((u32::from(self.port[CLIENT]) * 7919) & 0xF_FFFF));
            b.put_u16(tcp_len as u16);
            b.push(6);
            b.push(self.ttl[d]);
            b.extend_from_slice(saddr);
            b.extend_from_slice(daddr);
        } else {
            b.put_u16(0x0800);
            self.ip_id[d] = self.ip_id[d].wrapping_add(1);
            let at = b.len();
            b.extend_from_slice(&[0x45, 0]);
            b.put_u16((20 + tcp_len) as u16);
            b.put_u16(self.ip_id[d]);
            b.put_u16(0x4000); // don't fragment
            b.extend_from_slice(&[self.ttl[d], 6, 0, 0]);
            b.extend_from_slice(saddr);
            b.extend_from_slice(daddr);
            let sum = internet_checksum(ones_sum(&b[at..at + 20]));
            b[at + 10..at + 12].copy_from_slice(&sum.to_be_bytes());
        }
        let tcp_at = b.len();
        b.put_u16(self.port[src]);
        b.put_u16(self.port[dst]);
        b.put_u32(seq);
        b.put_u32(ack);
        b.put_u16(((header_len as u16 / 4) << 12) | u16::from(flags));
        b.put_u16(if syn { 64240 } else { self.window[d] });
        b.put_u32(0); // checksum, urgent pointer
        let t_ms = (self.t / 1000) as u32;
        let tsval = t_ms.wrapping_add(self.ts_offset[src]);
        let tsecr = if syn && d == CLIENT {
            0
        } else {
            t_ms.wrapping_add(self.ts_offset[dst])
        };
        if syn {
            let mss = if self.v6 { 1440 } else { 1460 };
            b.extend_from_slice(&[2, 4]);
            b.put_u16(mss);
            b.extend_from_slice(&[4, 2, 8, 10]); // SACK permitted, timestamps
            b.put_u32(tsval);
            b.put_u32(tsecr);
            b.extend_from_slice(&[1, 3, 3, 7]); // NOP, window scale 7
        } else {
            b.extend_from_slice(&[1, 1, 8, 10]);
            b.put_u32(tsval);
            b.put_u32(tsecr);
        }
        b.extend_from_slice(payload);
        let pseudo = ones_sum(saddr)
            + ones_sum(daddr)
            + 6
            + (tcp_len as u64 >> 16)
            + (tcp_len as u64 & 0xFFFF);
        let sum = internet_checksum(pseudo + ones_sum(&b[tcp_at..]));
        b[tcp_at + 16..tcp_at + 18].copy_from_slice(&sum.to_be_bytes());
        self.frames.push(Frame {
            ts: self.t,
            end: b.len(),
        });
    }

    /// Advances time by `dt` µs (at least 1) and appends a segment.
    fn emit(&mut self, dt: u64, d: usize, flags: u8, seq: u32, ack: u32, payload: &[u8]) {
        self.t += dt.max(1);
        self.segment(d, flags, seq, ack, payload);
    }

    fn three_way_handshake(&mut self) {
        let [c, s] = self.isn;
        self.emit(0, CLIENT, SYN, c, 0, &[]);
        self.emit(self.rtt, SERVER, SYN | ACK, s, c.wrapping_add(1), &[]);
        self.nxt = [c.wrapping_add(1), s.wrapping_add(1)];
        self.rcv = [self.nxt[SERVER], self.nxt[CLIENT]];
        self.emit(30, CLIENT, ACK, self.nxt[CLIENT], self.rcv[CLIENT], &[]);
    }

    fn ack(&mut self, d: usize, dt: u64) {
        self.emit(dt, d, ACK, self.nxt[d], self.rcv[d], &[]);
    }

    /// Sends `data` from side `d` in MSS segments, some reordered or retransmitted as
    /// `faults` says; the peer acknowledges as a Linux receiver would.
    fn send(
        &mut self,
        rng: &mut Rng,
        d: usize,
        data: &[u8],
        pace: Pace,
        faults: Faults,
        anomalies: &mut Anomalies,
    ) {
        if data.is_empty() {
            return;
        }
        let mss = self.mss;
        let base = self.nxt[d];
        let count = data.len().div_ceil(mss);
        self.nxt[d] = base.wrapping_add(data.len() as u32);

        let mut first = std::mem::take(&mut self.first);
        let mut order = std::mem::take(&mut self.order);
        first_transmissions(rng, count, faults.ooo, anomalies, &mut first);
        let pending = &mut self.pending;
        all_transmissions(rng, &first, faults.retx, anomalies, pending, &mut order);

        let peer = 1 - d;
        let mut rcv = self.rcv[peer];
        let mut buffered = std::mem::take(&mut self.buffered);
        buffered.clear();
        let mut unacked = 0;
        let last = order.len() - 1;
        for (n, &(k, retransmitted)) in order.iter().enumerate() {
            let seq = base.wrapping_add((k * mss) as u32);
            let chunk = &data[k * mss..data.len().min((k + 1) * mss)];
            let flags = ACK | if k == count - 1 { PSH } else { 0 };
            let dt = if n == 0 {
                pace.first
            } else if retransmitted {
                self.rtt / 2 + 200
            } else {
                pace.gap
            };
            self.emit(dt, d, flags, seq, self.rcv[d], chunk);
            let end = seq.wrapping_add(chunk.len() as u32);
            let ahead = seq.wrapping_sub(rcv);
            if ahead == 0 {
                rcv = end;
                while let Some(i) = buffered.iter().position(|&(s, _)| s == rcv) {
                    rcv = buffered.swap_remove(i).1;
                }
                unacked += 1;
                self.rcv[peer] = rcv;
                if unacked >= ACK_EVERY || n == last || !buffered.is_empty() {
                    self.ack(peer, 25);
                    unacked = 0;
                }
            } else {
                if ahead < 0x8000_0000 && !buffered.iter().any(|&(s, _)| s == seq) {
                    buffered.push((seq, end));
                }
                self.ack(peer, 15); // duplicate ACK: a hole, or old data
            }
        }
        if unacked > 0 {
            self.ack(peer, 25);
        }
        self.rcv[peer] = rcv;
        self.first = first;
        self.order = order;
        self.buffered = buffered;
    }

    /// FIN from side `first`, FIN from the other, last ACK.
    fn close(&mut self, rng: &mut Rng, first: usize) {
        let other = 1 - first;
        let dt = rng.between(50, 3000);
        self.emit(dt, first, FIN | ACK, self.nxt[first], self.rcv[first], &[]);
        self.nxt[first] = self.nxt[first].wrapping_add(1);
        self.rcv[other] = self.nxt[first];
        self.emit(
            self.rtt,
            other,
            FIN | ACK,
            self.nxt[other],
            self.rcv[other],
            &[],
        );
        self.nxt[other] = self.nxt[other].wrapping_add(1);
        self.rcv[first] = self.nxt[other];
        self.emit(30, first, ACK, self.nxt[first], self.rcv[first], &[]);
    }

    fn reset(&mut self, d: usize, dt: u64) {
        self.emit(dt, d, RST | ACK, self.nxt[d], self.rcv[d], &[]);
    }
}

/// Segment indices in the order of their first transmission: with probability `p_ooo`
/// a segment swaps places with the next one.
fn first_transmissions(
    rng: &mut Rng,
    count: usize,
    p_ooo: f64,
    anomalies: &mut Anomalies,
    order: &mut Vec<usize>,
) {
    order.clear();
    order.extend(0..count);
    if p_ooo > 0.0 && count > 1 {
        let mut i = 0;
        while i < count - 1 {
            if rng.chance(p_ooo) {
                order.swap(i, i + 1);
                anomalies.ooo = true;
                i += 2;
            } else {
                i += 1;
            }
        }
    }
}

/// Every transmission, as (segment index, is a retransmission): with probability
/// `p_retx` a segment is sent again after the next one.
fn all_transmissions(
    rng: &mut Rng,
    first: &[usize],
    p_retx: f64,
    anomalies: &mut Anomalies,
    pending: &mut Vec<(usize, u32)>,
    order: &mut Vec<(usize, bool)>,
) {
    order.clear();
    if p_retx <= 0.0 {
        order.extend(first.iter().map(|&k| (k, false)));
        return;
    }
    pending.clear();
    for &k in first {
        order.push((k, false));
        if rng.chance(p_retx) {
            pending.push((k, 2));
            anomalies.retx = true;
        }
        for p in pending.iter_mut() {
            p.1 -= 1;
        }
        order.extend(pending.iter().filter(|p| p.1 == 0).map(|&(k, _)| (k, true)));
        pending.retain(|p| p.1 > 0);
    }
    order.extend(pending.iter().map(|&(k, _)| (k, true)));
}

/// One's complement sum of `data` as big-endian 16-bit words (zero-padded), unfolded.
/// 32-bit words sum to the same value modulo 0xFFFF, and take half the additions.
fn ones_sum(data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(4);
    let mut sum: u64 = words
        .by_ref()
        .map(|w| u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]])))
        .sum();
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    sum += u64::from(u32::from_be_bytes(tail));
    sum
}

fn internet_checksum(mut sum: u64) -> u16 {
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

// -------------------------------------------------------------------------------------
// Connection scenarios
// -------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    HandshakeFailure,
    ProtocolVersion,
    UnrecognizedName,
    UnknownCa,
    RstAfterClientHello,
}

const FAILURES: [Outcome; 5] = [
    Outcome::HandshakeFailure,
    Outcome::ProtocolVersion,
    Outcome::UnrecognizedName,
    Outcome::UnknownCa,
    Outcome::RstAfterClientHello,
];

impl Outcome {
    fn name(self) -> &'static str {
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
    fn server_alert(self) -> Option<(u8, u16, &'static str)> {
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

#[derive(Serialize, Clone, Copy)]
struct AlertFact {
    from: &'static str,
    level: u8,
    desc: u8,
}

/// One line of the truth file (the schema of gen_bench_pcap.py).
#[derive(Serialize)]
struct Truth {
    conn: u64,
    ip_version: u8,
    client: String,
    client_port: u16,
    server: String,
    server_port: u16,
    sni: String,
    client_profile: &'static str,
    offered_versions: Vec<&'static str>,
    offered_suites: usize,
    pq_key_share: bool,
    version: Option<&'static str>,
    suite: Option<String>,
    group: Option<&'static str>,
    resumed: bool,
    outcome: &'static str,
    alert: Option<AlertFact>,
    reason: Option<&'static str>,
    cert_chain_bytes: Option<usize>,
    anomalies: Vec<&'static str>,
}

/// What the handshake negotiated, or how it failed.
#[derive(Default)]
struct Negotiated {
    version: Option<&'static str>,
    suite: Option<u16>,
    group: Option<&'static str>,
    resumed: bool,
    alert: Option<AlertFact>,
    reason: Option<&'static str>,
}

/// One connection's choices, shared by its handshake steps.
struct Attempt {
    server: Server,
    profile: &'static Profile,
    outcome: Outcome,
    post_quantum: bool,
    resume: bool,
    session_id: SessionId,
    /// Server think time after the ClientHello, µs.
    think: u64,
    /// Faults of the handshake flights.
    faults: Faults,
    anomalies: Anomalies,
    negotiated: Negotiated,
}

const POOL_SIZE: usize = 1 << 20;

struct World {
    opts: Options,
    rng: Rng,
    servers: Vec<Server>,
    intranet: Vec<Server>,
    /// Cumulative popularity of `servers` (Zipf-like).
    popularity: Vec<f64>,
    /// Pseudo-random bytes that ciphertext is sliced from.
    pool: Vec<u8>,
    /// The TLS bytes of the flight being built.
    flight: Vec<u8>,
}

impl World {
    fn new(opts: Options) -> World {
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
        World {
            opts,
            rng,
            servers,
            intranet,
            popularity,
            pool,
            flight: Vec::with_capacity(1 << 17),
        }
    }

    fn popular_server(&mut self) -> Server {
        let x = self.rng.unit() * self.popularity.last().copied().unwrap_or(0.0);
        let i = self.popularity.partition_point(|&c| c <= x);
        self.servers[i.min(self.servers.len() - 1)].clone()
    }

    /// Appends `n` pseudo-random bytes (slices of the pool), for ciphertext.
    fn ciphertext(&mut self, out: &mut Vec<u8>, mut n: usize) {
        while n > 0 {
            let off = self.rng.below(POOL_SIZE as u64 - 1) as usize;
            let take = n.min(POOL_SIZE - off);
            out.extend_from_slice(&self.pool[off..off + take]);
            n -= take;
        }
    }

    /// One AEAD-encrypted record of a plaintext of `size` bytes.
    fn encrypted_record(&mut self, out: &mut Vec<u8>, content_type: u8, tls13: bool, size: usize) {
        // TLS 1.3: inner content type + 16-byte tag; TLS 1.2: 8-byte explicit nonce + tag.
        let overhead = if tls13 { 17 } else { 24 };
        record(out, content_type, TLS12, |b| {
            self.ciphertext(b, size + overhead)
        });
    }

    /// Encrypted records carrying plaintexts of these sizes (TLS 1.3: every record is
    /// application_data on the outside).
    fn encrypted_records(&mut self, out: &mut Vec<u8>, tls13: bool, sizes: &[usize]) {
        for &s in sizes {
            self.encrypted_record(out, APPLICATION_DATA, tls13, s);
        }
    }

    fn client_endpoint(cid: u64, v6: bool) -> ([u8; 16], u16, [u8; 6]) {
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

    fn client_profile(&mut self, outcome: Outcome) -> &'static Profile {
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
    fn connection(&mut self, cid: u64, t0: u64, c: &mut Conn) -> Truth {
        let mut flight = std::mem::take(&mut self.flight);
        let truth = self.connection_into(cid, t0, c, &mut flight);
        self.flight = flight;
        truth
    }

    fn choose_outcome(&mut self) -> Outcome {
        if self.rng.chance(self.opts.failure_ratio) {
            self.rng.pick(&FAILURES)
        } else {
            Outcome::Ok
        }
    }

    /// An intranet server for unknown_ca, otherwise a public one by popularity.
    fn choose_server(&mut self, outcome: Outcome) -> Server {
        if outcome == Outcome::UnknownCa {
            let i = self.rng.below(self.intranet.len() as u64) as usize;
            self.intranet[i].clone()
        } else {
            self.popular_server()
        }
    }

    fn endpoints(&mut self, cid: u64, v6: bool, server: &Server) -> Endpoints {
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
    fn handshake_faults(&mut self) -> Faults {
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
    fn server_name(&mut self, outcome: Outcome, server: &Server) -> String {
        if outcome == Outcome::UnrecognizedName {
            format!("unknown{}.{}", self.rng.below(1_000_000), server.name)
        } else {
            server.name.clone()
        }
    }

    /// A session ticket from an earlier connection, as a resuming client presents it.
    fn earlier_ticket(&mut self) -> Ticket {
        let mut identity = Vec::new();
        let len = self.rng.pick(&[186, 202, 234]);
        self.ciphertext(&mut identity, len);
        Ticket {
            identity,
            obfuscated_age: self.rng.next_u64() as u32,
        }
    }

    fn connection_into(&mut self, cid: u64, t0: u64, c: &mut Conn, flight: &mut Vec<u8>) -> Truth {
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

        let mut a = Attempt {
            server,
            profile,
            outcome,
            post_quantum,
            resume,
            session_id,
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
    fn server_rejects_client_hello(
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
    fn send_plain(&mut self, c: &mut Conn, d: usize, flight: &[u8], first: u64) {
        let pace = Pace { first, gap: 10 };
        let mut none = Anomalies::default();
        c.send(&mut self.rng, d, flight, pace, Faults::default(), &mut none);
    }

    /// The server's flight, the client's key exchange and Finished (or its unknown_ca
    /// alert), the server's Finished, application data, close_notify.
    /// Sends the server's first flight one RTT (and the server's think time) after the
    /// ClientHello, and records what it negotiated: (version, suite, group).
    fn send_server_flight(
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

    fn tls12_handshake(&mut self, c: &mut Conn, flight: &mut Vec<u8>, a: &mut Attempt) {
        let suite = a.server.tls12_suite(a.profile);
        let group = if a.profile.groups.contains(&X25519) {
            X25519
        } else {
            SECP256R1
        };
        let issues_ticket = self.rng.chance(0.5);
        flight.clear();
        self.server_flight12(flight, a, suite, group, issues_ticket);
        self.send_server_flight(c, flight, a, ("TLS1.2", suite, group));
        if a.outcome == Outcome::UnknownCa {
            return self.client_rejects_certificate(c, flight, a);
        }

        flight.clear();
        record(flight, HANDSHAKE, TLS12, |b| {
            handshake(b, CLIENT_KEY_EXCHANGE, |b| {
                ecdhe_public(b, &mut self.rng, group)
            })
        });
        change_cipher_spec(flight, TLS12);
        self.encrypted_record(flight, HANDSHAKE, false, 16); // Finished
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
        self.encrypted_record(flight, HANDSHAKE, false, 16); // Finished
        self.send_plain(c, SERVER, flight, c.rtt + 200);

        self.application_data(c, flight, false);
        if self.rng.chance(0.6) {
            flight.clear();
            self.encrypted_record(flight, ALERT, false, 2); // close_notify
            let wait = self.rng.between(100, 5000);
            self.send_plain(c, CLIENT, flight, wait);
        }
        c.close(&mut self.rng, CLIENT);
    }

    /// ServerHello, Certificate, ServerKeyExchange and ServerHelloDone in one record, as
    /// OpenSSL and nginx send them.
    fn server_flight12(
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
    fn client_rejects_certificate(&mut self, c: &mut Conn, flight: &mut Vec<u8>, a: &mut Attempt) {
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
    fn tls13_handshake(&mut self, c: &mut Conn, flight: &mut Vec<u8>, a: &mut Attempt) {
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
        self.server_flight13(flight, a, suite, group);
        self.send_server_flight(c, flight, a, ("TLS1.3", suite, group));
        a.negotiated.resumed = a.resume;

        flight.clear();
        change_cipher_spec(flight, TLS12);
        self.encrypted_records(flight, true, &[4 + 32]); // Finished
        let think = self.rng.between(300, 2000);
        self.send_plain(c, CLIENT, flight, think);

        // Two NewSessionTicket messages, as OpenSSL sends.
        flight.clear();
        let ticket = self.rng.pick(&[200, 233, 249]);
        self.encrypted_records(flight, true, &[ticket, ticket]);
        self.send_plain(c, SERVER, flight, c.rtt + 100);

        self.application_data(c, flight, true);
        let first = self.rng.pick(&[CLIENT, SERVER]);
        c.close(&mut self.rng, first);
    }

    /// ServerHello and ChangeCipherSpec, then encrypted EncryptedExtensions, Certificate
    /// and CertificateVerify (not when resuming) and Finished, one record each.
    fn server_flight13(&mut self, flight: &mut Vec<u8>, a: &Attempt, suite: u16, group: u16) {
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
        self.encrypted_records(flight, true, &sizes);
    }

    /// A request from the client, then the server's bulk data at a random rate.
    fn application_data(&mut self, c: &mut Conn, flight: &mut Vec<u8>, tls13: bool) {
        flight.clear();
        let request = self.rng.between(80, 700) as usize;
        self.encrypted_records(flight, tls13, &[request]);
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
        self.encrypted_records(flight, tls13, &sizes);
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

fn ip_text(addr: &[u8; 16], v6: bool) -> String {
    if v6 {
        Ipv6Addr::from(*addr).to_string()
    } else {
        Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string()
    }
}

fn truth_line(cid: u64, c: &Conn, sni: &str, a: &Attempt) -> Truth {
    let p = a.profile;
    let n = &a.negotiated;
    Truth {
        conn: cid,
        ip_version: if c.v6 { 6 } else { 4 },
        client: ip_text(&c.addr[CLIENT], c.v6),
        client_port: c.port[CLIENT],
        server: ip_text(&c.addr[SERVER], c.v6),
        server_port: c.port[SERVER],
        sni: sni.to_string(),
        client_profile: p.name,
        offered_versions: if p.offers_tls13() {
            p.versions.iter().map(|&v| version_name(v)).collect()
        } else {
            vec![version_name(p.legacy_version)]
        },
        offered_suites: p.suites.len(),
        pq_key_share: a.post_quantum,
        version: n.version,
        suite: n.suite.map(|s| format!("0x{s:04X}")),
        group: n.group,
        resumed: n.resumed,
        outcome: a.outcome.name(),
        alert: n.alert,
        reason: n.reason,
        cert_chain_bytes: (n.version.is_some() && !n.resumed).then_some(a.server.chain_len),
        anomalies: a.anomalies.names(),
    }
}

// -------------------------------------------------------------------------------------
// Scheduling and output
// -------------------------------------------------------------------------------------

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

/// Runs the connections `concurrency` at a time, writing their frames in time order.
fn generate(opts: Options) -> io::Result<Totals> {
    let total = opts.connections;
    let concurrency = opts.concurrency.min(total) as usize;
    let mut out = BufWriter::with_capacity(8 << 20, File::create(&opts.out)?);
    let mut truth_out = match &opts.truth {
        Some(path) => Some(BufWriter::with_capacity(1 << 20, File::create(path)?)),
        None => None,
    };
    let mut world = World::new(opts);
    let mut write_truth = |t: Truth| -> io::Result<()> {
        if let Some(w) = truth_out.as_mut() {
            serde_json::to_writer(&mut *w, &t)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    };

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
        write_truth(world.connection(totals.connections, now, &mut o.conn))?;
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
            write_truth(world.connection(cid, start, &mut o.conn))?;
            o.next = 0;
            *top = Reverse((o.conn.frames[0].ts, cid, slot));
            totals.connections += 1;
        } else {
            PeekMut::pop(top);
        }
    }
    out.flush()?;
    if let Some(mut w) = truth_out {
        w.flush()?;
    }
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
