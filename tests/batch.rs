//! CI and batch runs: JUnit XML read back by a real consumer (Python's junitparser, as
//! CI report tools use), the Markdown summary, `--write` captures that re-analyze to
//! the same failures, and output order that does not depend on the thread count.

mod common;

use std::process::Command;

use common::{json_lines, tlswhy};

#[test]
fn junit_report_is_read_by_a_real_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("report.xml");
    let out = tlswhy(
        &[
            "analyze",
            "captures/",
            "--fail-on",
            "failed",
            "--junit",
            xml.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "failures present");
    let handshakes = json_lines(&out.stdout);
    let script = r#"
import json, sys
from junitparser import JUnitXml, Failure
xml = JUnitXml.fromfile(sys.argv[1])
suites = []
for suite in xml:
    cases = []
    for case in suite:
        failures = [r for r in case.result if isinstance(r, Failure)]
        cases.append({"name": case.name, "classname": case.classname,
                      "failure_type": failures[0].type if failures else None,
                      "failure_message": failures[0].message if failures else None,
                      "failure_text": failures[0].text if failures else None})
    suites.append({"name": suite.name, "tests": suite.tests, "failures": suite.failures, "cases": cases})
print(json.dumps(suites))
"#;
    let parsed = Command::new("python3")
        .args(["-c", script, xml.to_str().unwrap()])
        .output()
        .expect("python3");
    assert!(
        parsed.status.success(),
        "junitparser could not read the report (pip install junitparser): {}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let suites: serde_json::Value = serde_json::from_slice(&parsed.stdout).unwrap();
    let suites = suites.as_array().unwrap();
    let capture_files = std::fs::read_dir(common::captures())
        .unwrap()
        .filter(|e| tlswhy::analyze::is_capture_name(&e.as_ref().unwrap().path()))
        .count();
    assert_eq!(suites.len(), capture_files, "one suite per capture");
    let cases: Vec<&serde_json::Value> = suites
        .iter()
        .flat_map(|s| s["cases"].as_array().unwrap())
        .collect();
    assert_eq!(
        cases.len(),
        handshakes.len(),
        "one case per handshake attempt"
    );
    let total_failures: u64 = suites.iter().map(|s| s["failures"].as_u64().unwrap()).sum();
    let failing = handshakes
        .iter()
        .filter(|h| h["verdict"]["code"] != "ok")
        .count() as u64;
    assert_eq!(total_failures, failing);
    for (case, h) in cases.iter().zip(&handshakes) {
        let name = case["name"].as_str().unwrap();
        assert!(
            name.contains(h["client"].as_str().unwrap())
                && name.contains(h["server"].as_str().unwrap()),
            "{name}"
        );
        if let Some(sni) = h["sni"].as_str() {
            assert!(name.contains(sni), "{name}");
        }
        let code = h["verdict"]["code"].as_str().unwrap();
        if code == "ok" {
            assert!(case["failure_type"].is_null());
        } else {
            assert_eq!(case["failure_type"], code);
            assert_eq!(case["failure_message"], h["verdict"]["summary"]);
            let text = case["failure_text"].as_str().unwrap();
            assert!(
                text.contains("evidence:") && text.contains("fix:"),
                "{text}"
            );
        }
    }
}

#[test]
fn markdown_summary_counts_and_lists_failures() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("summary.md");
    let out = tlswhy(
        &[
            "analyze",
            "captures/no_shared_cipher.pcap",
            "captures/sni_missing.pcap",
            "--summary",
            md.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.starts_with("## tlswhy: 5 TLS handshake(s), 3 failed"),
        "{text}"
    );
    assert!(text.contains("| `sni_missing` | 2 |"), "{text}");
    assert!(text.contains("| `no_shared_cipher` | 1 |"), "{text}");
    assert!(text.contains("| `ok` | 2 |"), "{text}");
    assert_eq!(
        text.matches("| captures/").count(),
        3,
        "one row per failure: {text}"
    );
}

#[test]
fn output_order_does_not_depend_on_threads() {
    let run = |threads: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_tlswhy"))
            .args([
                "analyze",
                "--format",
                "json",
                "captures/",
                "tests/data/formats/",
            ])
            .current_dir(common::root())
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        json_lines(&out.stdout)
            .iter()
            .map(|o| {
                format!(
                    "{} {} {} {}",
                    o["capture"], o["client"], o["server"], o["verdict"]["code"]
                )
            })
            .collect::<Vec<_>>()
    };
    let one = run("1");
    assert!(one.len() > 100);
    assert_eq!(one, run("2"));
    // By file (in argument order, folders sorted), then by connection start.
    let files: Vec<&str> = one.iter().map(|l| l.split(' ').next().unwrap()).collect();
    let mut seen = files.clone();
    seen.dedup();
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "files appear once each, in path order");
}

#[test]
fn write_saves_the_failing_connections() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("failed.pcap");
    let file = "captures/no_shared_cipher.pcap";
    let out = tlswhy(
        &[
            "analyze",
            "--format",
            "json",
            "--write",
            pcap.to_str().unwrap(),
            file,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let all = json_lines(&out.stdout);
    let failing: Vec<_> = all
        .iter()
        .filter(|o| o["verdict"]["code"] != "ok")
        .collect();
    assert_eq!(failing.len(), 1);
    let again = json_lines(
        &tlswhy(
            &["analyze", "--format", "json", pcap.to_str().unwrap()],
            None,
        )
        .stdout,
    );
    assert_eq!(again.len(), 1, "only the failing connection is saved");
    for key in ["client", "server", "sni"] {
        assert_eq!(again[0][key], failing[0][key]);
    }
    // Without the successful connections the server profile is gone, but the cause is not.
    assert_eq!(again[0]["verdict"]["code"], "no_shared_cipher");
    assert_eq!(
        again[0]["tcp"]["packets"], failing[0]["tcp"]["packets"],
        "the whole connection"
    );
}

#[test]
fn one_capture_split_between_workers_gives_the_same_report() {
    use tlswhy::analyze::analyze_bytes;
    use tlswhy::diagnose::Settings;
    for file in [
        "tests/data/formats/mixed_interfaces.pcapng",
        "captures/relay_ip_sni.pcap",
    ] {
        let bytes = std::fs::read(common::root().join(file)).unwrap();
        let one = analyze_bytes(&bytes, file, &Settings::default()).unwrap();
        for threads in [2, 3] {
            let settings = Settings {
                threads,
                parallel_min_bytes: 0,
                ..Settings::default()
            };
            let many = analyze_bytes(&bytes, file, &settings).unwrap();
            let a = serde_json::to_string(&one.handshakes).unwrap();
            let b = serde_json::to_string(&many.handshakes).unwrap();
            assert_eq!(a, b, "{file} with {threads} workers");
            assert_eq!(one.stats.packets, many.stats.packets);
            assert_eq!(one.stats.connections, many.stats.connections);
        }
    }
}

#[test]
fn written_capture_keeps_the_silence_that_timeouts_need() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("timeouts.pcapng");
    let files = [
        "captures/no_response_timeout.pcap",
        "captures/connection_timeout.pcap",
    ];
    let mut args = vec![
        "analyze",
        "--format",
        "json",
        "--write",
        out.to_str().unwrap(),
    ];
    args.extend(files);
    let first = json_lines(&tlswhy(&args, None).stdout);
    let again = json_lines(
        &tlswhy(
            &["analyze", "--format", "json", out.to_str().unwrap()],
            None,
        )
        .stdout,
    );
    let codes = |v: &[serde_json::Value]| {
        v.iter()
            .map(|o| o["verdict"]["code"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(codes(&again), codes(&first));
    assert_eq!(codes(&again), ["no_response_timeout", "connection_timeout"]);
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..4], &[0x0a, 0x0d, 0x0d, 0x0a], "pcapng");
}
