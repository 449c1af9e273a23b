//! Client fingerprints on the bundled captures: tlswhy's JA3 of every ClientHello that
//! opens a handshake equals tshark's (`captures/ja3.json`, written by
//! `captures/tools/ja3_tshark.py`), and every record of a ClientHello carries a JA4 of
//! the specified shape, the same in the compact and the full record.

mod common;

use std::collections::BTreeMap;

use tlswhy::tls::fingerprint;

/// ClientHellos whose JA3 differs from tshark's on purpose, with the reason.
const DIFFERENT_BY_DESIGN: &[(&str, &str)] = &[(
    "malformed_handshake.pcap",
    "its supported_groups list was made one byte short: tshark reads ten groups out of \
     the bytes there anyway, tlswhy's parser refuses the list (no groups)",
)];

#[test]
fn ja3_agrees_with_tshark_on_every_capture() {
    let doc = common::read_json(&common::captures().join("ja3.json"));
    let mut compared = 0;
    let mut failures = Vec::new();
    for (file, hellos) in doc["captures"].as_object().expect("captures") {
        if DIFFERENT_BY_DESIGN.iter().any(|(f, _)| f == file) {
            continue;
        }
        let tshark: BTreeMap<u64, (&str, &str)> = hellos
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["frame"].as_u64().unwrap(),
                    (h["ja3"].as_str().unwrap(), h["ja3_hash"].as_str().unwrap()),
                )
            })
            .collect();
        let report = common::analyze(&common::captures().join(file));
        for h in &report.handshakes {
            let Some(ch) = &h.client_hello else { continue };
            let Some(&(text, hash)) = tshark.get(&ch.frame) else {
                continue;
            };
            let (ours, our_hash) = fingerprint::ja3(&ch.facts);
            compared += 1;
            if ours != text || our_hash != hash {
                failures.push(format!("{file} frame {}: {ours} ≠ tshark {text}", ch.frame));
            }
        }
    }
    assert!(compared >= 150, "only {compared} ClientHellos compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_json_record_with_a_client_hello_has_its_ja4() {
    // `t` over TCP, `q` over QUIC.
    let shape = |ja4: &str, transport: char| {
        let parts: Vec<&str> = ja4.split('_').collect();
        parts.len() == 3
            && parts[0].len() == 10
            && parts[0].starts_with(transport)
            && matches!(&parts[0][3..4], "d" | "i")
            && parts[1..].iter().all(|p| {
                p.len() == 12
                    && p.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
    };
    let compact = common::tlswhy(&["analyze", "captures", "-o", "json", "-q"], None);
    let full = common::tlswhy(
        &[
            "analyze", "captures", "-o", "json", "--detail", "full", "-q",
        ],
        None,
    );
    let compact = common::json_lines(&compact.stdout);
    let full = common::json_lines(&full.stdout);
    assert_eq!(compact.len(), full.len());
    let (mut seen, mut over_quic) = (0, 0);
    for (c, f) in compact.iter().zip(&full) {
        assert_eq!(c["ja4"], f["ja4"]);
        if f["client_hello"].is_null() {
            assert!(c["ja4"].is_null(), "{c}");
            continue;
        }
        let ja4 = c["ja4"].as_str().expect("a ja4");
        let transport = if c["transport"] == "quic" {
            over_quic += 1;
            'q'
        } else {
            't'
        };
        assert!(shape(ja4, transport), "{ja4}");
        // The raw form has the same first part and the lists the hashes were made of.
        let raw = f["ja4_r"].as_str().unwrap();
        assert!(raw.starts_with(&ja4[..11]), "{raw} / {ja4}");
        assert_eq!(f["ja3_hash"].as_str().unwrap().len(), 32);
        seen += 1;
    }
    assert!(seen > 150, "only {seen} records with a ClientHello");
    assert!(
        over_quic >= 20,
        "only {over_quic} QUIC records with a ClientHello"
    );
}
