//! The JSON records against `schema/handshake.schema.json` (JSON Schema 2020-12, checked
//! with boon, formats asserted): every line tlswhy writes, compact and `--detail full`,
//! on `captures/`, on the third-party corpus (skipped with a SKIPPED line when absent,
//! unless `TLSWHY_REQUIRE_CORPUS` is set) and on a handshake-heavy benchmark capture
//! made here by `examples/gen_capture.rs`. Also: the schema refuses the shapes it
//! replaced (positional per-side arrays, alerts as strings, a missing stable field); the
//! Community ID matches the upstream baselines of the corpus; the compact record is
//! smaller than the full one and holds none of the full record's fields.

mod common;

use std::path::Path;

use boon::{Compiler, SchemaIndex, Schemas};
use serde_json::Value;

use common::{json_lines, tlswhy};

/// The compiled schema.
fn schema() -> (Schemas, SchemaIndex) {
    let mut schemas = Schemas::new();
    let mut compiler = Compiler::new();
    compiler.enable_format_assertions();
    let path = common::root().join("schema/handshake.schema.json");
    let index = compiler
        .compile(path.to_str().unwrap(), &mut schemas)
        .unwrap_or_else(|e| panic!("the schema does not compile: {e:#}"));
    (schemas, index)
}

/// The JSON lines of `tlswhy analyze --format json [--detail full] PATH`.
fn records(path: &Path, full: bool) -> Vec<Value> {
    let mut args = vec!["analyze", "--format", "json", "--quiet"];
    if full {
        args.extend(["--detail", "full"]);
    }
    args.push(path.to_str().unwrap());
    let out = tlswhy(&args, None);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out.stdout)
}

/// Validates every record, compact and full, of `path`; returns them (compact, full).
fn check_all(path: &Path) -> (Vec<Value>, Vec<Value>) {
    let (schemas, index) = schema();
    let compact = records(path, false);
    let full = records(path, true);
    assert_eq!(compact.len(), full.len(), "{}", path.display());
    for record in compact.iter().chain(&full) {
        if let Err(e) = schemas.validate(record, index) {
            panic!(
                "{}: a record does not fit the schema: {e:#}\n{record:#}",
                path.display()
            );
        }
    }
    for record in &compact {
        same_microsecond(record);
    }
    for (c, f) in compact.iter().zip(&full) {
        let (c, f) = (c.as_object().unwrap(), f.as_object().unwrap());
        for (key, value) in c {
            if key == "verdict" && value["code"] == "ok" {
                // A success's evidence is worded in the full record only, and its
                // summary names the version and suite there.
                let mut worded = f[key].clone();
                worded["evidence"] = Value::Array(Vec::new());
                let summary = worded["summary"].as_str().unwrap();
                let version = c["version"].as_str();
                assert!(
                    summary.starts_with("Handshake completed")
                        && version.is_none_or(|v| summary.contains(v)),
                    "{summary}"
                );
                worded["summary"] = "Handshake completed.".into();
                assert_eq!(value, &worded, "verdict: compact and full agree");
                continue;
            }
            assert_eq!(Some(value), f.get(key), "{key}: compact and full agree");
        }
        for key in ["client_hello", "tcp", "messages", "certificates"] {
            assert!(f.contains_key(key) && !c.contains_key(key), "{key}");
        }
    }
    (compact, full)
}

/// `ts` and `time` name the same microsecond: the seconds within the minute and their
/// microseconds agree (a nanosecond capture's time rounded twice once disagreed).
fn same_microsecond(record: &Value) {
    let ts = record["ts"].as_f64().unwrap();
    let micros = (ts * 1e6).round() as i64;
    let time = record["time"].as_str().unwrap();
    let (seconds, fraction) = time[17..time.len() - 1].split_once('.').unwrap();
    let of_minute = seconds.parse::<i64>().unwrap() * 1_000_000 + fraction.parse::<i64>().unwrap();
    assert_eq!(
        micros.rem_euclid(60_000_000),
        of_minute,
        "ts {ts}, time {time}"
    );
}

fn mean_len(records: &[Value]) -> usize {
    let total: usize = records.iter().map(|r| r.to_string().len()).sum();
    total / records.len().max(1)
}

#[test]
fn every_record_of_the_bundled_captures_fits_the_schema() {
    let (compact, full) = check_all(&common::captures());
    assert!(compact.len() > 50, "{} records", compact.len());
    let codes: std::collections::BTreeSet<&str> = compact
        .iter()
        .map(|r| r["verdict"]["code"].as_str().unwrap())
        .collect();
    // Every code of the catalog.
    assert_eq!(
        codes.len(),
        tlswhy::diagnose::Code::ALL.len(),
        "every code of the catalog was checked: {codes:?}"
    );
    assert!(compact.iter().any(|r| r["transport"] == "quic"));
    assert!(mean_len(&compact) < mean_len(&full));
}

#[test]
fn every_record_of_the_corpus_fits_the_schema() {
    let Some(dir) = common::corpus_if_present("tests/schema.rs every_record_of_the_corpus") else {
        return;
    };
    let (compact, _) = check_all(&dir);
    assert!(!compact.is_empty());
}

/// The corpus's upstream baselines that state a Community ID (Suricata's, with the seed
/// its configuration sets) agree with the id computed here with that seed, and the
/// record carries the id with seed 0.
#[test]
fn community_id_matches_the_upstream_baselines() {
    let Some(dir) = common::corpus_if_present("tests/schema.rs community_id") else {
        return;
    };
    // suricata-verify tests/community-id-ipv6/suricata.yaml: community-id-seed: 7.
    let file = "suricata-community-id-ipv6.pcap";
    let manifest = common::read_json(&dir.join("MANIFEST.json"));
    let entry = manifest
        .as_array()
        .expect("MANIFEST.json is a list")
        .iter()
        .find(|c| c["file"] == file)
        .unwrap_or_else(|| panic!("{file} not in MANIFEST.json"));
    let lines = records(&dir.join(file), false);
    let mut checked = 0;
    for c in entry["connections"].as_array().unwrap() {
        let Some(want) = c["upstream_extra"]["community_id"].as_str() else {
            continue;
        };
        let client: std::net::SocketAddr = c["client"].as_str().unwrap().parse().unwrap();
        let server: std::net::SocketAddr = c["server"].as_str().unwrap().parse().unwrap();
        use tlswhy::report::json::CommunityId;
        assert_eq!(CommunityId::tcp_seeded(7, client, server).as_str(), want);
        let record = lines
            .iter()
            .find(|r| r["client_port"] == client.port() && r["server_port"] == server.port())
            .unwrap_or_else(|| panic!("{client} → {server} not reported"));
        assert_eq!(
            record["community_id"],
            CommunityId::tcp(client, server).as_str()
        );
        checked += 1;
    }
    assert_eq!(checked, 2);
}

/// A handshake-heavy capture of the benchmark's kind (small: 600 connections), made by
/// the benchmark's generator.
#[test]
fn every_record_of_a_benchmark_capture_fits_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("handshakes.pcap");
    let truth = dir.path().join("handshakes.truth");
    common::gen_capture(
        &[
            "--connections",
            "600",
            "--bulk-kb",
            "0-1",
            "--resume-ratio",
            "0.3",
            "--seed",
            "2",
        ],
        &pcap,
        &truth,
    );
    let (compact, full) = check_all(&pcap);
    assert_eq!(compact.len(), 600);
    // `resumed` and (TLS 1.3) `curve` as the generator made them.
    let by_client: std::collections::HashMap<(String, u64), &Value> = compact
        .iter()
        .map(|r| {
            let ip = r["client_ip"].as_str().unwrap().to_string();
            ((ip, r["client_port"].as_u64().unwrap()), r)
        })
        .collect();
    let (mut resumed, mut curves) = (0, 0);
    for line in std::fs::read_to_string(&truth).unwrap().lines() {
        let t: Value = serde_json::from_str(line).unwrap();
        let key = (
            t["client"].as_str().unwrap().to_string(),
            t["client_port"].as_u64().unwrap(),
        );
        let r = by_client[&key];
        assert_eq!(r["resumed"], t["resumed"], "{t}");
        resumed += usize::from(t["resumed"] == true);
        if t["version"] == "TLS1.3" {
            assert_eq!(r["curve"]["name"], t["group"], "{t}");
            curves += 1;
        }
    }
    assert!(
        resumed > 30 && curves > 300,
        "{resumed} resumed, {curves} groups"
    );
    let (c, f) = (mean_len(&compact), mean_len(&full));
    eprintln!("mean record: {c} bytes compact, {f} bytes full");
    assert!(c * 3 < f, "compact {c} bytes, full {f}");
    // The handshake-heavy benchmark's target for the default record.
    assert!(c <= 1024, "compact records average {c} bytes");
    // A success's evidence is worded in the full record only.
    let ok = |records: &[Value]| {
        records
            .iter()
            .filter(|r| r["verdict"]["code"] == "ok")
            .all(|r| r["verdict"]["evidence"].as_array().unwrap().is_empty())
    };
    assert!(ok(&compact) && !ok(&full));
}

/// The schema is strict where the record changed shape: per-side values are objects,
/// registry values `{name, code}`, the stable fields required.
#[test]
fn the_schema_refuses_the_shapes_it_replaced() {
    let (schemas, index) = schema();
    let full = records(&common::captures().join("no_shared_cipher.pcap"), true);
    let good = full.last().unwrap().clone();
    assert!(schemas.validate(&good, index).is_ok());
    let mut bad = Vec::new();
    let mut positional = good.clone();
    positional["tcp"]["packets"] = serde_json::json!([6, 4]);
    bad.push(("tcp.packets as an array", positional));
    let mut alert_text = good.clone();
    alert_text["alerts"][0]["description"] = "handshake_failure (40)".into();
    bad.push(("an alert as text", alert_text));
    let mut suite_number = good.clone();
    suite_number["client_hello"]["cipher_suites"][0] = 49196.into();
    bad.push(("a suite as a number", suite_number));
    for stable in ["capture", "ts", "client", "sni", "established"] {
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove(stable);
        bad.push(("a stable field missing", missing));
    }
    let mut unknown_code = good.clone();
    unknown_code["verdict"]["code"] = "no_such_code".into();
    bad.push(("an unknown verdict code", unknown_code));
    let mut half_full = good.clone();
    half_full.as_object_mut().unwrap().remove("messages");
    bad.push(("a full record without its messages", half_full));
    let mut bad_detail = good;
    bad_detail["verdict"]["details"][0]["frame_of_nothing"] = 1.into();
    bad.push(("a detail with an unknown field", bad_detail));
    for (what, record) in bad {
        assert!(schemas.validate(&record, index).is_err(), "{what} passed");
    }
}

/// The records' own JSON writer (`report::json::writer`) and the compact record's
/// field-by-field writing (`report::json::write_record`) write byte for byte what
/// serde_json writes for the same record, compact and full, on every bundled capture
/// and the corpus.
#[test]
fn the_record_writer_writes_what_serde_json_writes() {
    use tlswhy::record::{DetailLevel, JsonRecord};
    let mut dirs = vec![common::captures()];
    dirs.extend(common::corpus_if_present(
        "tests/schema.rs the_record_writer",
    ));
    let mut compared = 0;
    let files = dirs.iter().flat_map(|dir| {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
            .collect();
        files.sort();
        files
    });
    for file in files {
        let report = common::analyze(&file);
        for handshake in &report.handshakes {
            for detail in [DetailLevel::Compact, DetailLevel::Full] {
                let record = JsonRecord { handshake, detail };
                let theirs = serde_json::to_string(&record).unwrap();
                // Through the writer's Serializer, and as the output writes it (the
                // compact record field by field).
                let mut serialized = Vec::new();
                tlswhy::report::json::writer::write(&mut serialized, &record).unwrap();
                assert_eq!(String::from_utf8(serialized).unwrap(), theirs);
                let mut written = Vec::new();
                tlswhy::report::json::write_record(&mut written, handshake, detail);
                assert_eq!(String::from_utf8(written).unwrap(), theirs);
                compared += 1;
            }
        }
    }
    assert!(compared > 200, "only {compared} records compared");
}

/// JSON Lines alone are written from each connection's facts, with no record made;
/// with a summary to write too the records are made and the lines written from them.
/// Both give the same lines.
#[test]
fn lines_from_the_facts_are_the_lines_from_the_records() {
    let captures = common::captures();
    let captures = captures.to_str().unwrap();
    let alone = common::tlswhy(&["analyze", "--format", "json", captures], None);
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let with_summary = common::tlswhy(
        &[
            "analyze",
            "--format",
            "json",
            "--summary",
            summary.to_str().unwrap(),
            captures,
        ],
        None,
    );
    assert!(!alone.stdout.is_empty());
    assert_eq!(alone.status.code(), with_summary.status.code());
    assert!(
        alone.stdout == with_summary.stdout,
        "the lines differ:\n{}",
        first_difference(&alone.stdout, &with_summary.stdout)
    );
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    a.lines()
        .zip(b.lines())
        .find(|(x, y)| x != y)
        .map(|(x, y)| format!("{x}\n{y}"))
        .unwrap_or_else(|| "(one is longer)".into())
}
