//! Micro-benchmarks of the stages on the recorded captures: the capture record walk,
//! link/IP/TCP decode, ClientHello parsing, certificate parsing (first time and from the
//! chain cache), a whole capture through diagnosis, JSON output, JSON records to Arrow
//! batches (Parquet output), and QUIC (the bundled QUIC captures to verdicts, one
//! attempt's datagrams to its outcome).
//!
//! `cargo bench --bench parts`; set `TLSWHY_BENCH_PCAP` to a larger capture (e.g. one
//! made by `../shared/bench/gen_bench_pcap.py`) to measure the walk and decode on it.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tlswhy::capture::PacketReader;
use tlswhy::decode::Decoder;
use tlswhy::pipeline::analyze_bytes;
use tlswhy::pipeline::Settings;
use tlswhy::tls::cert::{chain_facts, CertFacts};
use tlswhy::tls::hello::parse_client_hello;

fn capture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"))).expect("capture")
}

fn big_capture() -> Vec<u8> {
    match std::env::var_os("TLSWHY_BENCH_PCAP") {
        Some(p) => std::fs::read(p).expect("TLSWHY_BENCH_PCAP"),
        None => capture("relay_ip_sni.pcap"),
    }
}

/// The first ClientHello body (after the 4-byte header) in a capture's TCP payloads.
fn first_client_hello(pcap: &[u8]) -> Vec<u8> {
    let mut decoder = Decoder::new();
    for p in PacketReader::new(pcap, "bench").unwrap() {
        if let Ok(seg) = decoder.decode(&p) {
            let d = &seg.payload;
            if d.len() > 9 && d[0] == 22 && d[5] == 1 {
                let len = u32::from_be_bytes([0, d[6], d[7], d[8]]) as usize;
                if d.len() >= 9 + len {
                    return d[9..9 + len].to_vec();
                }
            }
        }
    }
    panic!("no ClientHello")
}

/// The UDP payloads of the first attempt to server port `port`, as (to the client,
/// bytes).
fn udp_payloads(pcap: &[u8], port: u16) -> Vec<(bool, Vec<u8>)> {
    let mut out = Vec::new();
    let mut client_port = None;
    for p in PacketReader::new(pcap, "bench").unwrap() {
        let Ok(ip) = tlswhy::decode::ip_payload_of(p.link_type, p.data) else {
            continue;
        };
        let Ok(sliced) = etherparse::SlicedPacket::from_ip(ip) else {
            continue;
        };
        if let Some(etherparse::TransportSlice::Udp(udp)) = sliced.transport {
            let (to_client, client) = if udp.destination_port() == port {
                (false, udp.source_port())
            } else if udp.source_port() == port {
                (true, udp.destination_port())
            } else {
                continue;
            };
            // The first attempt to that port only.
            if *client_port.get_or_insert(client) == client {
                out.push((to_client, udp.payload().to_vec()));
            }
        }
    }
    out
}

/// The first DER certificate (SEQUENCE with a 2-byte length holding a SEQUENCE).
fn first_certificate(pcap: &[u8]) -> Vec<u8> {
    let i = pcap
        .windows(6)
        .position(|w| w[0] == 0x30 && w[1] == 0x82 && w[4] == 0x30 && w[5] == 0x82)
        .expect("a certificate");
    let len = u16::from_be_bytes([pcap[i + 2], pcap[i + 3]]) as usize;
    pcap[i..i + 4 + len].to_vec()
}

fn benches(c: &mut Criterion) {
    let big = big_capture();
    let mut g = c.benchmark_group("capture");
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("record_walk", |b| {
        b.iter(|| {
            PacketReader::new(black_box(&big), "bench")
                .unwrap()
                .map(|p| p.data.len())
                .sum::<usize>()
        })
    });
    g.bench_function("walk_and_decode", |b| {
        b.iter(|| {
            let mut decoder = Decoder::new();
            PacketReader::new(black_box(&big), "bench")
                .unwrap()
                .filter(|p| decoder.decode(p).is_ok())
                .count()
        })
    });
    g.finish();

    let relay = capture("relay_ip_sni.pcap");
    let hello = first_client_hello(&relay);
    c.bench_function("client_hello_parse", |b| {
        b.iter(|| parse_client_hello(black_box(&hello)).unwrap())
    });
    let cert = first_certificate(&relay);
    c.bench_function("certificate_parse", |b| {
        b.iter(|| CertFacts::from_der(black_box(&cert)))
    });
    c.bench_function("certificate_chain_cached", |b| {
        b.iter(|| chain_facts(black_box(&[cert.as_slice()])))
    });

    let settings = Settings::default();
    let mut g = c.benchmark_group("analyze");
    g.throughput(Throughput::Bytes(relay.len() as u64));
    g.bench_function("relay_ip_sni_to_verdicts", |b| {
        b.iter(|| analyze_bytes(black_box(&relay), "bench", &settings).unwrap())
    });
    g.finish();

    // QUIC: the bundled QUIC captures (aioquic and ngtcp2 attempts, 21 in all) through
    // the whole pipeline, and the datagrams of one successful attempt (Initials opened,
    // CRYPTO reassembled, hellos parsed) through quic::attempt alone.
    let quic: Vec<Vec<u8>> = [
        "quic_ok.pcap",
        "quic_ok_ngtcp2.pcap",
        "quic_alpn_mismatch.pcap",
        "quic_cert_rejected.pcap",
        "quic_udp_blocked.pcap",
        "quic_version_mismatch.pcap",
    ]
    .map(capture)
    .into();
    let mut g = c.benchmark_group("quic");
    g.throughput(Throughput::Bytes(quic.iter().map(|q| q.len() as u64).sum()));
    g.bench_function("captures_to_verdicts", |b| {
        b.iter(|| {
            quic.iter()
                .map(|q| {
                    analyze_bytes(black_box(q), "bench", &settings)
                        .unwrap()
                        .handshakes
                        .len()
                })
                .sum::<usize>()
        })
    });
    let datagrams = udp_payloads(&quic[0], 4600);
    g.throughput(Throughput::Elements(1));
    g.bench_function("attempt_to_outcome", |b| {
        b.iter(|| {
            let mut attempt = tlswhy::quic::attempt::QuicAttempt::default();
            for (i, (to_client, d)) in datagrams.iter().enumerate() {
                let at = tlswhy::flow::At {
                    frame: i as u64 + 1,
                    ts: tlswhy::capture::Timestamp(i as i64),
                };
                let dir = if *to_client {
                    tlswhy::flow::Dir::ToClient
                } else {
                    tlswhy::flow::Dir::ToServer
                };
                attempt.on_datagram(dir, at, black_box(d));
            }
            attempt.outcome()
        })
    });
    g.finish();

    let report = analyze_bytes(&relay, "bench", &settings).unwrap();
    c.bench_function("json_output_relay", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(64 * 1024);
            tlswhy::report::json::write_lines(&mut out, &report.handshakes, Default::default())
                .unwrap();
            out.len()
        })
    });

    // The records of every bundled capture (most of them failures, of every kind):
    // their compact JSON lines, and those lines decoded into Arrow batches.
    let mut handshakes = Vec::new();
    for entry in std::fs::read_dir(format!("{}/captures", env!("CARGO_MANIFEST_DIR"))).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|e| e == "pcap" || e == "pcapng")
        {
            let bytes = std::fs::read(&path).unwrap();
            if let Ok(r) = analyze_bytes(&bytes, "bench", &settings) {
                handshakes.extend(r.handshakes);
            }
        }
    }
    let mut lines = Vec::new();
    tlswhy::report::json::write_lines(&mut lines, &handshakes, Default::default()).unwrap();
    let records = handshakes.len();
    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Elements(records as u64));
    g.bench_function("captures_compact", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(lines.len());
            tlswhy::report::json::write_lines(&mut out, black_box(&handshakes), Default::default())
                .unwrap();
            out.len()
        })
    });
    g.finish();
    let mut g = c.benchmark_group("arrow");
    g.throughput(Throughput::Elements(records as u64));
    g.bench_function("records_to_batches", |b| {
        b.iter(|| {
            let mut batcher = tlswhy_arrow::RecordBatcher::new(8192).unwrap();
            let mut batches = Vec::new();
            batcher.push_lines(black_box(&lines), &mut batches).unwrap();
            batches.extend(batcher.flush().unwrap());
            batches.len()
        })
    });
    g.finish();
}

criterion_group!(parts, benches);
criterion_main!(parts);
