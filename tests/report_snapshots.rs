//! Snapshots of how every verdict reads: the text report (`--all`) and the JSON records
//! (compact) of each capture under `captures/`, which together hold every code of the
//! catalog. A change in wording or in the evidence data is a reviewed diff: run
//! `cargo insta review` (or `INSTA_UPDATE=always cargo test --test report_snapshots`)
//! and read what changed. Snapshots live in `tests/data/snapshots/`.

mod common;

use std::collections::BTreeSet;

fn captures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(common::root().join("captures"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".pcap").map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

fn run(args: &[&str]) -> String {
    let out = common::tlswhy(args, None);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            snapshot_path => "data/snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

#[test]
fn text_report_of_every_capture() {
    for name in captures() {
        let path = format!("captures/{name}.pcap");
        let text = run(&["analyze", "--all", "--color", "never", &path]);
        snapshot!(format!("{name}.txt"), text);
    }
}

/// Every record as JSON Lines writes it by default (compact), pretty-printed.
#[test]
fn json_verdicts_of_every_capture() {
    let mut codes = BTreeSet::new();
    for name in captures() {
        let path = format!("captures/{name}.pcap");
        let lines = run(&["analyze", "--format", "json", &path]);
        let records: Vec<serde_json::Value> = lines
            .lines()
            .map(|line| {
                let record: serde_json::Value = serde_json::from_str(line).unwrap();
                codes.insert(record["verdict"]["code"].as_str().unwrap().to_string());
                record
            })
            .collect();
        snapshot!(
            format!("{name}.json"),
            serde_json::to_string_pretty(&records).unwrap()
        );
    }
    let all: BTreeSet<String> = tlswhy::diagnose::Code::ALL
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    let missing: Vec<_> = all.difference(&codes).collect();
    assert!(missing.is_empty(), "codes without a snapshot: {missing:?}");
}

/// Every failure's JSON verdict carries its evidence as data: `details`, each with a
/// `kind`, and a `remedy` saying who acts.
#[test]
fn every_json_failure_has_details_with_a_kind() {
    let mut failures = 0;
    for name in captures() {
        let path = format!("captures/{name}.pcap");
        for line in run(&["analyze", "--format", "json", &path]).lines() {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            let v = &record["verdict"];
            assert!(v["remedy"]["side"].is_string(), "{name}: {v}");
            if v["code"] == "ok" {
                continue;
            }
            failures += 1;
            let details = v["details"].as_array().expect("details");
            assert!(!details.is_empty(), "{name}: {v}");
            assert!(details.iter().all(|d| d["kind"].is_string()), "{name}: {v}");
        }
    }
    assert!(failures >= 40, "{failures}");
}
