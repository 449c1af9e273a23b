//! Server profiles across files (`--merge-profiles`): a capture split in two, as a ring
//! buffer splits one, gives with the option the verdicts of the whole capture — those
//! that cite what the server showed other clients included — and without it verdicts
//! that know only their own file.

mod common;

use std::collections::BTreeMap;

use serde_json::Value;

/// The captures of `captures/` whose verdicts cite server profiles.
const CITING: &[&str] = &[
    "mixed.pcap",
    "no_shared_cipher.pcap",
    "protocol_version_old_server.pcap",
    "protocol_version_tls11_refused.pcap",
    "relay_ip_sni.pcap",
];

/// A verdict as it reads whatever file its packets are in: frame numbers and the
/// capture's name left out.
fn verdict_of(record: &Value) -> Value {
    fn without_frames(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| k.as_str() != "frame")
                    .map(|(k, v)| (k.clone(), without_frames(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(without_frames).collect()),
            Value::String(s) => {
                let words: Vec<&str> = s.split(' ').collect();
                let mut kept = Vec::new();
                let mut skip = false;
                for w in words {
                    if skip {
                        skip = false;
                        continue;
                    }
                    if w == "frame" {
                        skip = true;
                        continue;
                    }
                    kept.push(w);
                }
                Value::String(kept.join(" "))
            }
            other => other.clone(),
        }
    }
    without_frames(&record["verdict"])
}

/// Verdicts by attempt (endpoints and start time).
fn verdicts(out: &[u8]) -> BTreeMap<String, Value> {
    common::json_lines(out)
        .iter()
        .map(|r| {
            let key = format!(
                "{} {} {} {} {}",
                r["client_ip"], r["client_port"], r["server_ip"], r["server_port"], r["ts"]
            );
            (key, verdict_of(r))
        })
        .collect()
}

#[test]
fn split_captures_with_merged_profiles_give_the_whole_captures_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let mut told_apart = Vec::new();
    for name in CITING {
        let whole = common::captures().join(name);
        let (a, b) = (dir.path().join("a.pcap"), dir.path().join("b.pcap"));
        common::split_capture(&whole, &a, &b);
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        let expected = verdicts(
            &common::tlswhy(&["analyze", "-o", "json", whole.to_str().unwrap()], None).stdout,
        );
        let merged = common::tlswhy(&["analyze", "-o", "json", "--merge-profiles", a, b], None);
        assert!(
            merged.status.code().is_some_and(|c| c < 2),
            "{name}: {merged:?}"
        );
        assert_eq!(
            verdicts(&merged.stdout),
            expected,
            "{name}: split in two, profiles merged"
        );
        // Without the option a file knows only its own connections: some verdicts of
        // the split capture say less.
        let apart = common::tlswhy(&["analyze", "-o", "json", a, b], None);
        let apart = verdicts(&apart.stdout);
        assert_eq!(apart.len(), expected.len(), "{name}");
        if apart != expected {
            told_apart.push(*name);
        }
    }
    // The failing connection of no_shared_cipher lands in the second file, the two
    // that show which suites the server picks in the first.
    assert!(
        told_apart.contains(&"no_shared_cipher.pcap"),
        "{told_apart:?}"
    );
}

#[test]
fn merged_profiles_need_files_that_can_be_read_twice() {
    let capture = common::captures().join("no_shared_cipher.pcap");
    let bytes = std::fs::read(&capture).unwrap();
    let out = common::tlswhy(
        &[
            "analyze",
            "--merge-profiles",
            capture.to_str().unwrap(),
            "-",
        ],
        Some(&bytes),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("standard input"));
}
