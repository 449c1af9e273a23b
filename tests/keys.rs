//! Decryption with keys, on the captures `captures/record.sh` recorded with their key
//! logs (`keys_*.pcap` + `keys_*.keys`) and their twins that carry the same secrets in a
//! pcapng Decryption Secrets Block (`keys_*.dsb.pcapng`): every handshake gets its code
//! with keys and `proof: decrypted`, the alerts read are the ones tshark decrypts, the
//! two forms of the keys give the same records, wrong or missing keys fall back to the
//! inferred verdicts with a warning, and no secret reaches any output.

mod common;

use std::path::Path;
use std::sync::Arc;

use tlswhy::capture::Source;
use tlswhy::diagnose::Proof;
use tlswhy::keys::KeyLog;
use tlswhy::pipeline::{self, Settings};
use tlswhy::record::{CaptureReport, Handshake};

/// The keyed captures of expected.json: (capture, key log, expected handshakes).
fn keyed_captures() -> Vec<(String, String, Vec<serde_json::Value>)> {
    let doc = common::read_json(&common::captures().join("expected.json"));
    let keyed: Vec<_> = doc["captures"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| {
            Some((
                c["file"].as_str()?.to_string(),
                c["keylog"].as_str()?.to_string(),
                c["handshakes"].as_array()?.clone(),
            ))
        })
        .collect();
    assert!(keyed.len() >= 3, "keyed captures: {keyed:?}");
    keyed
}

fn key_log(path: &Path) -> Arc<KeyLog> {
    let (log, stats) = KeyLog::from_file(path).expect("the key log reads");
    assert!(stats.secrets > 0, "{}: no secrets", path.display());
    Arc::new(log)
}

fn analyze_with(path: &Path, keys: Option<Arc<KeyLog>>) -> CaptureReport {
    let settings = Settings {
        keys,
        ..Settings::default()
    };
    pipeline::analyze_source(&Source::File(path.to_path_buf()), &settings)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn by_frame(mut report: CaptureReport) -> Vec<Handshake> {
    report.handshakes.sort_by_key(|h| h.frame);
    report.handshakes
}

#[test]
fn every_keyed_handshake_gets_its_code_with_keys_and_proof_decrypted() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (file, keylog, want) in keyed_captures() {
        let dir = common::captures();
        let report = analyze_with(&dir.join(&file), Some(key_log(&dir.join(&keylog))));
        assert_eq!(
            report.keys.opened,
            want.len() as u64,
            "{file}: {:?}",
            report.keys
        );
        assert!(
            report.keys.shortfall().is_none(),
            "{file}: {:?}",
            report.keys
        );
        let got = by_frame(report);
        assert_eq!(got.len(), want.len(), "{file}");
        for (i, (h, w)) in got.iter().zip(&want).enumerate() {
            checked += 1;
            let code = w["code_with_keys"]
                .as_str()
                .unwrap_or(w["code"].as_str().unwrap());
            if h.verdict.code.as_str() != code {
                failures.push(format!(
                    "{file} #{i}: {} with keys, expected {code}",
                    h.verdict.code
                ));
            }
            if h.verdict.proof != Proof::Decrypted {
                failures.push(format!("{file} #{i}: proof {:?}", h.verdict.proof));
            }
            // The alerts read (plaintext and decrypted) are tshark's, in order; the
            // first is always read (the conversation may settle before the last ones).
            let tshark: Vec<(String, u64)> = w["decrypted_alerts"]
                .as_array()
                .expect("decrypted_alerts")
                .iter()
                .map(|a| {
                    (
                        a["from"].as_str().unwrap().to_string(),
                        a["description"].as_u64().unwrap(),
                    )
                })
                .collect();
            let ours: Vec<(String, u64)> = h
                .alerts
                .iter()
                .map(|a| {
                    let d = a.description.map_or(999, |d| d.0 as u64);
                    (a.from.sender().to_string(), d)
                })
                .collect();
            let mut rest = tshark.iter();
            let in_order = ours.iter().all(|a| rest.any(|t| t == a));
            if !in_order || ours.first() != tshark.first() {
                failures.push(format!(
                    "{file} #{i}: alerts {ours:?}, tshark decrypts {tshark:?}"
                ));
            }
        }
    }
    assert!(checked >= 30, "only {checked} keyed handshakes");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Without keys the same captures keep their inferred verdicts (the `code` of
/// expected.json, checked by tests/captures.rs); keys change at least the TLS 1.3
/// certificate failures that are encrypted.
#[test]
fn keys_turn_inferences_into_exact_causes() {
    let (file, keylog, want) = keyed_captures()
        .into_iter()
        .find(|(f, _, _)| f == "keys_tls13.pcap")
        .expect("keys_tls13.pcap");
    let dir = common::captures();
    let without = by_frame(analyze_with(&dir.join(&file), None));
    let with = by_frame(analyze_with(
        &dir.join(&file),
        Some(key_log(&dir.join(keylog))),
    ));
    let changed = without
        .iter()
        .zip(&with)
        .filter(|(a, b)| a.verdict.code != b.verdict.code)
        .count();
    let expected_changes = want
        .iter()
        .filter(|w| w.get("code_with_keys").is_some_and(|c| c != &w["code"]))
        .count();
    assert_eq!(changed, expected_changes);
    assert!(changed >= 5, "only {changed} verdicts changed with keys");
    assert!(without.iter().all(|h| h.verdict.proof == Proof::Inferred));
}

/// The key log file and the pcapng's Decryption Secrets Block give the same records.
#[test]
fn key_log_and_secrets_block_agree() {
    for (file, keylog, _) in keyed_captures() {
        let twin = file.replace(".pcap", ".dsb.pcapng");
        let lines = |args: &[&str]| {
            let out = common::tlswhy(args, None);
            assert!(
                out.status.success() || out.status.code() == Some(1),
                "{args:?}"
            );
            String::from_utf8(out.stdout).unwrap()
        };
        let keyed = lines(&[
            "analyze",
            &format!("captures/{file}"),
            "--keylog",
            &format!("captures/{keylog}"),
            "-o",
            "json",
            "--detail",
            "full",
        ]);
        let embedded = lines(&[
            "analyze",
            &format!("captures/{twin}"),
            "-o",
            "json",
            "--detail",
            "full",
        ]);
        assert!(keyed.contains("\"proof\":\"decrypted\""));
        assert_eq!(
            keyed.replace(&format!("captures/{file}"), "CAPTURE"),
            embedded.replace(&format!("captures/{twin}"), "CAPTURE"),
            "{file}: --keylog and the Decryption Secrets Block differ"
        );
    }
}

/// A Decryption Secrets Block written after the packets it opens still applies to a
/// capture read whole (its secrets are read ahead of the packets).
#[test]
fn a_secrets_block_after_the_packets_still_applies() {
    let dir = common::captures();
    let bytes = std::fs::read(dir.join("keys_tls13_suites.dsb.pcapng")).unwrap();
    // Move the Decryption Secrets Block (type 10) to the end of the file.
    let mut at = 0;
    let (mut blocks, mut secrets) = (Vec::new(), Vec::new());
    while at + 8 <= bytes.len() {
        let kind = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let block = &bytes[at..at + len];
        if kind == 10 {
            secrets.extend_from_slice(block);
        } else {
            blocks.extend_from_slice(block);
        }
        at += len;
    }
    assert!(
        !secrets.is_empty(),
        "the twin has a Decryption Secrets Block"
    );
    blocks.extend_from_slice(&secrets);
    let report = pipeline::analyze_bytes(&blocks, "late-secrets", &Settings::default()).unwrap();
    assert_eq!(report.keys.opened, report.handshakes.len() as u64);
    assert!(report
        .handshakes
        .iter()
        .all(|h| h.verdict.proof == Proof::Decrypted));
}

/// Keys of other connections leave every verdict inferred and say so; secrets that do
/// not open the records (a damaged key log) too.
#[test]
fn wrong_keys_keep_the_inferred_verdicts_with_a_warning() {
    let dir = common::captures();
    let plain = by_frame(analyze_with(&dir.join("keys_tls12.pcap"), None));
    // Another capture's key log: no secret for any of these client randoms.
    let other = analyze_with(
        &dir.join("keys_tls12.pcap"),
        Some(key_log(&dir.join("keys_tls13.keys"))),
    );
    assert_eq!(other.keys.no_secret, plain.len() as u64);
    assert!(other.keys.shortfall().unwrap().contains("matched 0 of"));
    let other = by_frame(other);
    for (a, b) in plain.iter().zip(&other) {
        assert_eq!(a.verdict.code, b.verdict.code);
        assert_eq!(b.verdict.proof, Proof::Inferred);
    }
    // The right client randoms with every secret's first byte changed.
    let text = std::fs::read_to_string(dir.join("keys_tls12.keys")).unwrap();
    let damaged: String = text
        .lines()
        .map(|l| {
            let mut f: Vec<String> = l.split(' ').map(str::to_string).collect();
            if f.len() == 3 {
                let flipped = if f[2].starts_with('0') { "1" } else { "0" };
                f[2].replace_range(..1, flipped);
            }
            f.join(" ") + "\n"
        })
        .collect();
    let log = KeyLog::new();
    log.add_lines(damaged.as_bytes());
    let report = analyze_with(&dir.join("keys_tls12.pcap"), Some(Arc::new(log)));
    assert_eq!(report.keys.failed, plain.len() as u64, "{:?}", report.keys);
    assert!(report
        .keys
        .shortfall()
        .unwrap()
        .contains("failed to decrypt"));
    for (a, b) in plain.iter().zip(&by_frame(report)) {
        assert_eq!(a.verdict.code, b.verdict.code);
        assert_eq!(b.verdict.proof, Proof::Inferred);
    }
    // The command line says it on standard error.
    let out = common::tlswhy(
        &[
            "analyze",
            "captures/keys_tls12.pcap",
            "--keylog",
            "captures/keys_tls13.keys",
        ],
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the keys matched 0 of 13 handshake(s)"),
        "{err}"
    );
}

/// No secret of the key log appears in any output: text, JSON at full detail, JUnit,
/// the summary, or the packets written for failures.
#[test]
fn no_secret_reaches_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let keys = std::fs::read_to_string(common::captures().join("keys_tls13.keys")).unwrap();
    let secrets: Vec<String> = keys
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(' ').nth(2).map(str::to_string))
        .collect();
    assert!(secrets.len() > 20);
    let junit = dir.path().join("junit.xml");
    let summary = dir.path().join("summary.md");
    let written = dir.path().join("failing.pcap");
    let mut outputs = Vec::new();
    for format in ["text", "json"] {
        let out = common::tlswhy(
            &[
                "analyze",
                "captures/keys_tls13.pcap",
                "captures/keys_tls13.dsb.pcapng",
                "--keylog",
                "captures/keys_tls13.keys",
                "-a",
                "-o",
                format,
                "--detail",
                "full",
                "--junit",
                junit.to_str().unwrap(),
                "--summary",
                summary.to_str().unwrap(),
                "-w",
                written.to_str().unwrap(),
                "--force",
            ],
            None,
        );
        outputs.push(out.stdout);
        outputs.push(out.stderr);
        for file in [&junit, &summary, &written] {
            outputs.push(std::fs::read(file).unwrap());
        }
    }
    assert!(outputs.iter().any(|o| o.len() > 1000));
    for out in &outputs {
        let text = String::from_utf8_lossy(out).to_lowercase();
        for s in &secrets {
            let s = s.to_lowercase();
            assert!(!text.contains(&s[..32]), "a secret's hex reached an output");
        }
        // Nor as raw bytes (the written pcap).
        for s in &secrets {
            let raw: Vec<u8> = (0..16)
                .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            assert!(
                !out.windows(16).any(|w| w == raw),
                "a secret's bytes reached an output"
            );
        }
    }
}

/// A key log that grows while the capture is read (`live --keylog` follows the file as
/// clients append to it): a TLS 1.3 connection whose secrets come after its ServerHello
/// holds its protected records until they do, then is opened.
#[test]
fn secrets_that_come_after_the_server_hello_still_open_the_connection() {
    use tlswhy::capture::{PacketReader, Timestamp};
    use tlswhy::diagnose::Profiles;
    use tlswhy::pipeline::Engine;

    let dir = common::captures();
    let bytes = std::fs::read(dir.join("keys_tls13_suites.pcap")).unwrap();
    let keys = std::fs::read(dir.join("keys_tls13_suites.keys")).unwrap();
    // Where the first connection's ServerHello is.
    let first = by_frame(analyze_with(&dir.join("keys_tls13_suites.pcap"), None));
    let server_hello_frame = server_hello_frame(&first[0]);
    let log = Arc::new(KeyLog::new());
    log.set_growing(true);
    let settings = Settings {
        keys: Some(Arc::clone(&log)),
        ..Settings::default()
    };
    let mut engine = Engine::new(&settings);
    for packet in PacketReader::new(&bytes, "growing").unwrap() {
        engine.push(&packet);
        if packet.frame == server_hello_frame + 1 {
            log.add_lines(&keys);
        }
    }
    let mut records = Vec::new();
    let mut profiles = Profiles::default();
    engine.drain(
        "growing",
        Timestamp(i64::MAX),
        true,
        &mut profiles,
        &mut records,
    );
    assert_eq!(records.len(), first.len());
    for f in &records {
        let h = f.handshake.as_ref().expect("records are made");
        assert_eq!(h.verdict.proof, Proof::Decrypted, "{}", h.client);
        assert_eq!(h.verdict.code.as_str(), "ok");
    }
    // Secrets that never come: the held records are read as without keys at the
    // connection's end, and the verdicts are the inferred ones.
    let never = Arc::new(KeyLog::new());
    never.set_growing(true);
    let settings = Settings {
        keys: Some(never),
        ..Settings::default()
    };
    let mut engine = Engine::new(&settings);
    for packet in PacketReader::new(&bytes, "growing").unwrap() {
        engine.push(&packet);
    }
    let mut records = Vec::new();
    engine.drain(
        "growing",
        Timestamp(i64::MAX),
        true,
        &mut profiles,
        &mut records,
    );
    records.sort_by_key(|f| f.frame);
    assert_eq!(records.len(), first.len());
    for (f, inferred) in records.iter().zip(&first) {
        let h = f.handshake.as_ref().unwrap();
        assert_eq!(h.verdict.proof, Proof::Inferred);
        assert_eq!(h.verdict.code, inferred.verdict.code);
        assert_eq!(h.alerts.len(), inferred.alerts.len());
        assert_eq!(f.decryption, tlswhy::tls::facts::Decryption::NoSecret);
    }
}

/// With keys, the TLS 1.3 CertificateRequest names the issuers the server accepts and
/// the client's certificate names its own: the rejection's evidence shows both.
#[test]
fn decrypted_client_certificate_rejection_names_both_issuers() {
    use tlswhy::diagnose::Detail;
    let dir = common::captures();
    let report = analyze_with(
        &dir.join("keys_tls13.pcap"),
        Some(key_log(&dir.join("keys_tls13.keys"))),
    );
    let h = report
        .handshakes
        .iter()
        .find(|h| h.verdict.code.as_str() == "client_cert_rejected")
        .expect("a client_cert_rejected handshake");
    let accepted = h.verdict.details.iter().find_map(|d| match d {
        Detail::CertificateRequest {
            accepted_issuers, ..
        } => Some(accepted_issuers.clone()),
        _ => None,
    });
    assert_eq!(accepted.unwrap(), ["O=tlswhy, CN=tlswhy test CA"]);
    let client_issuer = h.verdict.details.iter().find_map(|d| match d {
        Detail::ClientCertificate { issuer, .. } => issuer.clone(),
        _ => None,
    });
    assert_eq!(client_issuer.unwrap(), "O=elsewhere, CN=unrelated test CA");
}

/// A pcapng read as a stream (the default) applies each Decryption Secrets Block from
/// where it is; once one has been seen, TLS 1.3 connections without secrets wait (a
/// bounded while, until they end) for a later one. The twin's secrets are moved: all of
/// them into a block right after the third connection's ServerHello, and — or not — the
/// first connection's into a block at the start. With that first block, the second and
/// third connections wait and are opened; without it nothing waits, and only the
/// connections after the block are opened. Read whole, every one is.
#[test]
fn a_later_secrets_block_opens_connections_still_waiting_in_a_stream() {
    let dir = common::captures();
    let twin = std::fs::read(dir.join("keys_tls13_suites.dsb.pcapng")).unwrap();
    let keys = std::fs::read_to_string(dir.join("keys_tls13_suites.keys")).unwrap();
    let plain = by_frame(analyze_with(&dir.join("keys_tls13_suites.pcap"), None));
    let third = server_hello_frame(&plain[2]);
    let first_random = keys
        .lines()
        .find(|l| !l.starts_with('#'))
        .and_then(|l| l.split(' ').nth(1))
        .unwrap();
    let first_lines: String = keys
        .lines()
        .filter(|l| l.contains(first_random))
        .map(|l| format!("{l}\n"))
        .collect();
    let rebuilt = |first_block: bool| {
        let (mut out, mut at, mut frame) = (Vec::new(), 0, 0u64);
        while at + 8 <= twin.len() {
            let kind = u32::from_le_bytes(twin[at..at + 4].try_into().unwrap());
            let len = u32::from_le_bytes(twin[at + 4..at + 8].try_into().unwrap()) as usize;
            match kind {
                10 if first_block => out.extend(secrets_block(&first_lines)),
                10 => {}
                _ => out.extend_from_slice(&twin[at..at + len]),
            }
            if kind == 6 {
                frame += 1;
                if frame == third {
                    out.extend(secrets_block(&keys));
                }
            }
            at += len;
        }
        out
    };
    let streamed = |bytes: &[u8]| -> Vec<Proof> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        // Chunks of 64 bytes: a block is read when the packets before it are.
        let source =
            tlswhy::chunks::StreamReader::open_with(&Source::File(file.path().to_path_buf()), 64)
                .unwrap();
        let mut records = Vec::new();
        pipeline::analyze_packets(
            source,
            usize::MAX,
            "stream",
            &Settings::default(),
            &mut |f| records.push(f),
        );
        let mut handshakes: Vec<Handshake> = records
            .into_iter()
            .filter_map(|f| f.handshake.map(|h| *h))
            .collect();
        handshakes.sort_by_key(|h| h.frame);
        handshakes.iter().map(|h| h.verdict.proof).collect()
    };
    use Proof::{Decrypted as D, Inferred as I};
    assert_eq!(streamed(&rebuilt(true)), [D, D, D, D, D]);
    assert_eq!(streamed(&rebuilt(false)), [I, I, I, D, D]);
    let whole = pipeline::analyze_bytes(&rebuilt(false), "whole", &Settings::default()).unwrap();
    assert!(whole.handshakes.iter().all(|h| h.verdict.proof == D));
}

/// A pcapng Decryption Secrets Block (little-endian) carrying an NSS key log.
fn secrets_block(text: &str) -> Vec<u8> {
    let padded = text.len().div_ceil(4) * 4;
    let total = (16 + padded + 4) as u32;
    let mut b = Vec::new();
    b.extend(10u32.to_le_bytes());
    b.extend(total.to_le_bytes());
    b.extend(0x544c_534bu32.to_le_bytes());
    b.extend((text.len() as u32).to_le_bytes());
    b.extend(text.as_bytes());
    b.resize(16 + padded, 0);
    b.extend(total.to_le_bytes());
    b
}

/// The frame of a handshake's ServerHello.
fn server_hello_frame(h: &Handshake) -> u64 {
    h.messages
        .iter()
        .find(|e| matches!(e.what, tlswhy::tls::facts::Label::ServerHello { .. }))
        .map(|e| e.at.frame)
        .expect("a ServerHello")
}
