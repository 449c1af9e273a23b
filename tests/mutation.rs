//! Hostile input without a fuzzing engine: deterministic mutations of real captures, each
//! run through `analyze_bytes`.
//!
//! Mutations (from a xorshift generator with a fixed seed per file, so every run makes the
//! same cases): truncations at random offsets and at every record boundary ±1, single-bit
//! flips, and inflated length fields (pcap record caplen, pcapng block length and EPB
//! captured length, IPv4 total length, TLS record, handshake, extension-block and
//! extension lengths, found by scanning TCP payloads for `16 03 0[0-4]`; the TLS ones
//! are also set to zero).
//!
//! Every case must not panic (each runs under `catch_unwind` on its own thread) and must
//! finish within [`CASE_LIMIT`] (a hang guard, not a performance test: a case still
//! running then is reported and abandoned). A truncated capture must keep the verdict
//! of every connection whose last packet came before the first damaged frame. The heap
//! a case holds at once (counted by `allocation-counter` on the case's thread) must stay
//! under [`heap_bound`], whatever the length fields claim. Read again as a stream in
//! 509-byte chunks, every case must give the same records and damage.
//!
//! `captures/*.pcap` get the full set, and so do the keyed twins `captures/*.dsb.pcapng`
//! (whose records are opened with the secrets they carry; truncations aside),
//! `tests/data/formats/*.pcapng` the pcapng block mutations, the third-party corpus (`TLSWHY_CORPUS`, else `../shared/corpus`; skipped
//! with a line on standard error when absent, unless `TLSWHY_REQUIRE_CORPUS=1`) a lighter
//! set. The inputs the fuzz targets found (`tests/data/fuzz-regressions/`) are replayed
//! through the same API the fuzz target used. The UDP flows of the QUIC captures
//! (`captures/quic_*.pcap`) go through `quic::attempt` with their datagrams mutated
//! (with the capture's key log when it has one, Handshake packets opened).

use std::io::Write as _;
use std::path::{Path, PathBuf};

mod common;

/// The fuzz targets' code, to replay the inputs they found.
#[path = "../fuzz/targets.rs"]
mod fuzz_targets;

#[path = "mutation/cases.rs"]
mod cases;
#[path = "mutation/layout.rs"]
mod layout;
#[path = "mutation/run.rs"]
mod run;

use cases::{full_pcap_cases, light_cases, pcapng_cases, Cases, XorShift};
use layout::Layout;
use run::{guarded, Failure, Run, CASE_LIMIT};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Files in `dir` whose name satisfies `keep`, sorted.
fn files_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
        .collect();
    files.sort();
    files
}

fn relative(path: &Path) -> String {
    let root = root();
    let shown = path
        .strip_prefix(&root)
        .or_else(|_| path.strip_prefix(root.join("..")))
        .unwrap_or(path);
    shown.display().to_string()
}

/// Progress lines that `cargo test` shows even for passing tests (its capture only takes
/// `print!`/`eprint!`).
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sample_captures() -> Vec<PathBuf> {
    let files = files_in(&root().join("captures"), |n| n.ends_with(".pcap"));
    assert!(!files.is_empty(), "no captures/*.pcap");
    files
}

// ---------------------------------------------------------------------------------------
// Tests.

#[test]
fn captures_truncated_keep_earlier_verdicts() {
    let mut run = Run::default();
    for path in sample_captures() {
        let original = read(&path);
        let layout = Layout::parse(&original).expect("a capture");
        let name = relative(&path);
        let mut rng = XorShift::for_file(&name);
        let mut cases = Cases::default();
        cases.random_truncations(&original, &layout, &mut rng, 16);
        cases.boundary_truncations(&original, &layout, 1);
        run.file(&name, &original, cases, true);
    }
    assert!(
        run.compared > 1000,
        "the verdict check compared only {}",
        run.compared
    );
    run.finish("captures_truncated_keep_earlier_verdicts");
}

#[test]
fn captures_with_flipped_bits_and_inflated_lengths() {
    let mut run = Run::default();
    // The keyed captures' records are mutated through their twins that carry the keys
    // (below), where they are opened.
    let unkeyed = sample_captures().into_iter().filter(|p| {
        !p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("keys_")
    });
    for path in unkeyed {
        let original = read(&path);
        let name = relative(&path);
        let mut cases = full_pcap_cases(&name, &original);
        // Truncations have their own test.
        cases.list.retain(|c| c.keep_before.is_none());
        cases.kinds.remove("truncations");
        run.file(&name, &original, cases, false);
    }
    run.finish("captures_with_flipped_bits_and_inflated_lengths");
}

/// The captures whose pcapng carries its TLS secrets: every mutation goes through the
/// decryption path (bit flips in ciphertext, in the secrets, lengths of records that are
/// opened).
#[test]
fn captures_with_secrets_mutated() {
    let files = files_in(&root().join("captures"), |n| n.ends_with(".dsb.pcapng"));
    assert!(!files.is_empty(), "no captures/*.dsb.pcapng");
    let mut run = Run::default();
    for path in files {
        let original = read(&path);
        let name = relative(&path);
        let mut cases = full_pcap_cases(&name, &original);
        cases.list.retain(|c| c.keep_before.is_none());
        cases.kinds.remove("truncations");
        // Every sixth case: the twins hold many records, each with its length fields.
        let mut n = 0;
        cases.list.retain(|_| {
            n += 1;
            n % 6 == 1
        });
        run.file(&name, &original, cases, false);
    }
    run.finish("captures_with_secrets_mutated");
}

#[test]
fn pcapng_block_lengths() {
    let files = files_in(&root().join("tests/data/formats"), |n| {
        n.ends_with(".pcapng")
    });
    assert!(!files.is_empty(), "no tests/data/formats/*.pcapng");
    let mut run = Run::default();
    for path in files {
        let original = read(&path);
        let name = relative(&path);
        let cases = pcapng_cases(&name, &original);
        run.file(&name, &original, cases, true);
    }
    run.finish("pcapng_block_lengths");
}

#[test]
fn shared_corpus_light_mutations() {
    let Some(dir) = common::corpus_if_present("tests/mutation.rs shared_corpus_light_mutations")
    else {
        return;
    };
    let files = files_in(&dir, |n| n.ends_with(".pcap") || n.ends_with(".pcapng"));
    assert!(!files.is_empty(), "no captures in {}", dir.display());
    let mut run = Run::default();
    for path in files {
        let original = read(&path);
        let name = relative(&path);
        let cases = light_cases(&name, &original);
        run.file(&name, &original, cases, true);
    }
    run.finish("shared_corpus_light_mutations");
}

/// Every input the fuzz targets found (`tests/data/fuzz-regressions/<target>-*.bin`),
/// replayed through the API its target used.
#[test]
fn fuzz_regressions_replay() {
    let files = files_in(&root().join("tests/data/fuzz-regressions"), |n| {
        n.ends_with(".bin")
    });
    let mut run = Run::default();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let data = read(&path);
        let target = name.split('-').next().unwrap_or("").to_string();
        let result = guarded(move || fuzz_targets::run(&target, &data));
        run.cases += 1;
        match result {
            Ok(((), took)) => {
                if took > run.slowest.0 {
                    run.slowest = (took, name.clone());
                }
            }
            Err(Failure::Panic(p)) => run.failures.push(format!("{name}: panicked: {p}")),
            Err(Failure::Hang) => run
                .failures
                .push(format!("{name}: still running after {CASE_LIMIT:?}")),
        }
    }
    run.finish("fuzz_regressions_replay");
}

/// The UDP flows of a capture in the `quic_attempt` fuzz target's framing
/// (`[direction][u16 length][datagram]`, the client being the side that sent first).
fn datagram_streams(data: &[u8], name: &str) -> Vec<Vec<u8>> {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let mut flows: Vec<((std::net::SocketAddr, std::net::SocketAddr), Vec<u8>)> = Vec::new();
    for packet in tlswhy::capture::PacketReader::new(data, name).unwrap() {
        let sliced = match packet.link_type.0 {
            1 => SlicedPacket::from_ethernet(packet.data),
            _ => SlicedPacket::from_ip(packet.data),
        };
        let Ok(sliced) = sliced else { continue };
        let (Some(net), Some(TransportSlice::Udp(udp))) = (&sliced.net, &sliced.transport) else {
            continue;
        };
        let (src, dst): (std::net::IpAddr, std::net::IpAddr) = match net {
            NetSlice::Ipv4(ip) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
            ),
            NetSlice::Ipv6(ip) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
            ),
            _ => continue,
        };
        let src = std::net::SocketAddr::new(src, udp.source_port());
        let dst = std::net::SocketAddr::new(dst, udp.destination_port());
        let (to_client, i) = match flows.iter().position(|(k, _)| *k == (dst, src)) {
            Some(i) => (1u8, i),
            None => match flows.iter().position(|(k, _)| *k == (src, dst)) {
                Some(i) => (0, i),
                None => {
                    flows.push(((src, dst), Vec::new()));
                    (0, flows.len() - 1)
                }
            },
        };
        let payload = udp.payload();
        let stream = &mut flows[i].1;
        stream.push(to_client);
        stream.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        stream.extend_from_slice(payload);
    }
    flows.into_iter().map(|(_, s)| s).collect()
}

#[test]
fn quic_datagrams_mutated() {
    let files = files_in(&root().join("captures"), |n| {
        n.starts_with("quic_") && n.ends_with(".pcap")
    });
    assert!(files.len() >= 8, "QUIC captures: {files:?}");
    let mut run = Run::default();
    for path in files {
        let name = relative(&path);
        let streams = datagram_streams(&read(&path), &name);
        // With the capture's key log, the keyed target opens Handshake packets too.
        let keys = path.with_extension("keys");
        let key_log = keys.exists().then(|| read(&keys));
        let mut rng = XorShift::for_file(&name);
        for (n, stream) in streams.iter().enumerate() {
            let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
            for _ in 0..24 {
                let mut bytes = stream.clone();
                let at = rng.below(bytes.len());
                bytes[at] ^= 1 << rng.below(8);
                cases.push((format!("bit flip at {at}"), bytes));
            }
            for _ in 0..8 {
                // Varint lengths and connection-id lengths claiming the most.
                let mut bytes = stream.clone();
                let at = rng.below(bytes.len().saturating_sub(1));
                bytes[at] = 0xff;
                bytes[at + 1] = 0xff;
                cases.push((format!("0xffff at {at}"), bytes));
            }
            for _ in 0..8 {
                let cut = rng.below(stream.len());
                cases.push((format!("cut at {cut}"), stream[..cut].to_vec()));
            }
            for (what, bytes) in cases {
                let label = format!("{name} flow {n}: {what}");
                run.cases += 1;
                let input = match &key_log {
                    Some(log) => {
                        let log = &log[..log.len().min(u16::MAX as usize)];
                        let mut input = (log.len() as u16).to_be_bytes().to_vec();
                        input.extend_from_slice(log);
                        input.extend_from_slice(&bytes);
                        input
                    }
                    None => bytes,
                };
                let keyed = key_log.is_some();
                match guarded(move || {
                    if keyed {
                        fuzz_targets::quic_keyed_attempt(&input)
                    } else {
                        fuzz_targets::quic_attempt(&input)
                    }
                }) {
                    Ok(((), took)) => {
                        if took > run.slowest.0 {
                            run.slowest = (took, label);
                        }
                    }
                    Err(Failure::Panic(p)) => run.failures.push(format!("{label}: panicked: {p}")),
                    Err(Failure::Hang) => run
                        .failures
                        .push(format!("{label}: still running after {CASE_LIMIT:?}")),
                }
            }
        }
    }
    assert!(run.cases > 500, "{} cases", run.cases);
    run.finish("quic_datagrams_mutated");
}
