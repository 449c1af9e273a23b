//! The generator's command line: how many connections, how they fail, how much data
//! they carry, and where the capture, the truth file and the key log go.

use std::path::PathBuf;

use clap::Parser;

/// Writes a synthetic pcap of many interleaved TLS-over-TCP connections to port 443, and
/// optionally a truth file with one JSON line per connection.
#[derive(Parser, Debug)]
#[command(name = "gen_capture")]
pub(crate) struct Options {
    /// Number of TCP connections.
    #[arg(long, default_value_t = 1000)]
    pub(crate) connections: u64,
    /// Server application data per successful connection, KiB: N or MIN-MAX.
    #[arg(long, default_value = "20-200", value_parser = parse_kib_range)]
    pub(crate) bulk_kb: ByteRange,
    /// Fraction of failing handshakes.
    #[arg(long, alias = "fail-ratio", default_value_t = 0.10)]
    pub(crate) failure_ratio: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Output pcap path.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Write one JSON line per connection with the facts the generator used.
    #[arg(long)]
    pub(crate) truth: Option<PathBuf>,
    /// Seal the protected records for real (TLS 1.3, and TLS 1.2 with AES-GCM or
    /// ChaCha20-Poly1305) with random per-connection secrets, and write those secrets to
    /// this NSS key log.
    #[arg(long)]
    pub(crate) keylog: Option<PathBuf>,
    /// Connections open at once.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) concurrency: u64,
    /// Fraction of IPv6 connections.
    #[arg(long, default_value_t = 0.10)]
    pub(crate) ipv6_ratio: f64,
    /// Per bulk data segment retransmission probability.
    #[arg(long, default_value_t = 0.001)]
    pub(crate) retrans_ratio: f64,
    /// Per bulk data segment out-of-order probability.
    #[arg(long, default_value_t = 0.001)]
    pub(crate) ooo_ratio: f64,
    /// Fraction of connections whose handshake flights have reordered/retransmitted
    /// segments.
    #[arg(long, default_value_t = 0.01)]
    pub(crate) hs_anomaly_ratio: f64,
    /// Fraction of TLS 1.3 connections resumed with a PSK.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) resume_ratio: f64,
    /// Fraction of TLS 1.3-capable browser clients offering X25519MLKEM768.
    #[arg(long, default_value_t = 0.3)]
    pub(crate) pq_ratio: f64,
    /// Fraction of connections made as QUIC attempts to UDP port 443 (their Initials
    /// sealed for real), instead of TLS over TCP.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) quic_ratio: f64,
    /// Distinct server names.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) servers: u64,
}

/// An inclusive range of byte counts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ByteRange {
    pub(crate) lo: u64,
    pub(crate) hi: u64,
}

pub(crate) fn parse_kib_range(s: &str) -> Result<ByteRange, String> {
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
