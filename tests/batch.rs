//! CI and batch runs: JUnit XML read back by a strict XML parser (roxmltree) the way CI
//! report tools read it (suites, cases, failures with their type, message and text),
//! the Markdown summary, `--write` captures that re-analyze to the same failures, and
//! output order that does not depend on the thread count.

mod common;

use std::process::Command;

use common::{json_lines, tlswhy};

/// One `<testcase>` as a CI report tool sees it.
#[derive(Debug)]
struct Case {
    name: String,
    classname: Option<String>,
    /// `(type, message, text)` of its `<failure>`, if it has one.
    failure: Option<(Option<String>, Option<String>, String)>,
}

/// One `<testsuite>`: its attributes and its cases.
#[derive(Debug)]
struct Suite {
    name: String,
    tests: u64,
    failures: u64,
    errors: u64,
    cases: Vec<Case>,
}

/// The element children of `node`.
fn elements<'a, 'i>(node: roxmltree::Node<'a, 'i>) -> Vec<roxmltree::Node<'a, 'i>> {
    node.children().filter(|c| c.is_element()).collect()
}

/// A count attribute of `node` (`tests=`, `failures=`...), which must be there.
fn count_attribute(node: roxmltree::Node, name: &str) -> u64 {
    let what = node.tag_name().name();
    node.attribute(name)
        .unwrap_or_else(|| panic!("<{what}> without {name}="))
        .parse()
        .unwrap_or_else(|e| panic!("<{what} {name}=...>: {e}"))
}

/// Reads a JUnit report the way CI report tools do: a `<testsuites>` root holding
/// `<testsuite>` elements of `<testcase>` elements, a failure being a `<failure>` child
/// with `type` and `message` attributes and the details as its text. The parser is
/// strict: XML that is not well-formed fails here.
fn read_junit(xml: &str) -> Vec<Suite> {
    let doc = roxmltree::Document::parse(xml)
        .unwrap_or_else(|e| panic!("the JUnit report is not well-formed XML: {e}\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites", "root element");
    let suites: Vec<Suite> = elements(root)
        .into_iter()
        .map(|suite| {
            assert_eq!(suite.tag_name().name(), "testsuite", "in <testsuites>");
            let cases = elements(suite)
                .into_iter()
                .filter(|c| c.tag_name().name() != "system-err")
                .map(|case| {
                    assert_eq!(case.tag_name().name(), "testcase", "in <testsuite>");
                    let failures: Vec<_> = elements(case)
                        .into_iter()
                        .filter(|r| r.has_tag_name("failure"))
                        .collect();
                    assert!(failures.len() <= 1, "one <failure> per case at most");
                    Case {
                        name: case.attribute("name").expect("testcase name=").to_string(),
                        classname: case.attribute("classname").map(String::from),
                        failure: failures.first().map(|f| {
                            (
                                f.attribute("type").map(String::from),
                                f.attribute("message").map(String::from),
                                f.text().unwrap_or("").to_string(),
                            )
                        }),
                    }
                })
                .collect::<Vec<_>>();
            Suite {
                name: suite
                    .attribute("name")
                    .expect("testsuite name=")
                    .to_string(),
                tests: count_attribute(suite, "tests"),
                failures: count_attribute(suite, "failures"),
                errors: count_attribute(suite, "errors"),
                cases,
            }
        })
        .collect();
    // The counts a reporter shows without reading the cases agree with the cases.
    for s in &suites {
        assert_eq!(s.tests, s.cases.len() as u64, "suite {} tests=", s.name);
        let failed = s.cases.iter().filter(|c| c.failure.is_some()).count() as u64;
        assert_eq!(s.failures, failed, "suite {} failures=", s.name);
    }
    let tests: u64 = suites.iter().map(|s| s.tests).sum();
    let failures: u64 = suites.iter().map(|s| s.failures).sum();
    assert_eq!(count_attribute(root, "tests"), tests, "<testsuites tests=>");
    assert_eq!(
        count_attribute(root, "failures"),
        failures,
        "<testsuites failures=>"
    );
    suites
}

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
    let suites = read_junit(&std::fs::read_to_string(&xml).unwrap());
    let capture_files = std::fs::read_dir(common::captures())
        .unwrap()
        .filter(|e| tlswhy::inputs::is_capture_name(&e.as_ref().unwrap().path()))
        .count();
    assert_eq!(suites.len(), capture_files, "one suite per capture");
    assert!(suites.iter().all(|s| s.errors == 0), "no unreadable input");
    let cases: Vec<(&Suite, &Case)> = suites
        .iter()
        .flat_map(|s| s.cases.iter().map(move |c| (s, c)))
        .collect();
    assert_eq!(
        cases.len(),
        handshakes.len(),
        "one case per handshake attempt"
    );
    let total_failures: u64 = suites.iter().map(|s| s.failures).sum();
    let failing = handshakes
        .iter()
        .filter(|h| h["verdict"]["code"] != "ok")
        .count() as u64;
    assert!(failing > 0);
    assert_eq!(total_failures, failing);
    for ((suite, case), h) in cases.iter().zip(&handshakes) {
        let capture = h["capture"].as_str().unwrap();
        assert_eq!(suite.name, capture);
        assert_eq!(case.classname.as_deref(), Some(capture));
        let name = &case.name;
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
            assert!(case.failure.is_none(), "{name}: {:?}", case.failure);
        } else {
            let (kind, message, text) = case
                .failure
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: {code} without <failure>"));
            assert_eq!(kind.as_deref(), Some(code), "{name}");
            assert_eq!(
                message.as_deref(),
                h["verdict"]["summary"].as_str(),
                "{name}"
            );
            assert!(
                text.starts_with("evidence:\n") && text.contains("\nfix: "),
                "{name}: {text}"
            );
            for e in h["verdict"]["evidence"].as_array().unwrap() {
                assert!(
                    text.contains(e.as_str().unwrap()),
                    "{name}: {e} not in {text}"
                );
            }
            assert!(
                text.contains(h["verdict"]["fix"].as_str().unwrap()),
                "{name}: {text}"
            );
        }
    }
}

/// The reader refuses what a CI tool would refuse, and finds what it would find.
#[test]
fn junit_reader_checks_what_it_reads() {
    let good = r#"<?xml version="1.0"?>
<testsuites name="t" tests="2" failures="1" errors="0">
  <testsuite name="a.pcap" tests="2" failures="1" errors="0">
    <testcase name="1 &#8594; 2 (x)" classname="a.pcap"/>
    <testcase name="3 → 4 (no SNI)" classname="a.pcap">
      <failure type="no_shared_cipher" message="No &lt;cipher&gt;">evidence:
  - frame 1
fix: configure</failure>
    </testcase>
  </testsuite>
</testsuites>"#;
    let suites = read_junit(good);
    assert_eq!(suites.len(), 1);
    let cases = &suites[0].cases;
    assert_eq!(cases[0].name, "1 → 2 (x)");
    assert!(cases[0].failure.is_none());
    let (kind, message, text) = cases[1].failure.clone().unwrap();
    assert_eq!(kind.as_deref(), Some("no_shared_cipher"));
    assert_eq!(message.as_deref(), Some("No <cipher>"));
    assert_eq!(text, "evidence:\n  - frame 1\nfix: configure");
    for bad in [
        good.replace("</testsuites>", ""),
        good.replace("&lt;cipher&gt;", "<cipher>"),
        good.replace(
            r#"<testsuite name="a.pcap" tests="2""#,
            r#"<testsuite name="a.pcap" tests="3""#,
        ),
        good.replace(
            r#"failures="1" errors="0">
  <testsuite"#,
            r#"failures="0" errors="0">
  <testsuite"#,
        ),
        good.replace("<failure ", "<skipped ")
            .replace("</failure>", "</skipped>"),
    ] {
        assert!(
            std::panic::catch_unwind(|| read_junit(&bad)).is_err(),
            "accepted:\n{bad}"
        );
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
    // One row per group of alike failures (same code, server and SNI), with its size.
    assert_eq!(
        text.matches("| captures/").count(),
        2,
        "one row per group: {text}"
    );
    let sni_missing = text
        .lines()
        .find(|l| l.contains("| `sni_missing` |") && l.contains("| captures/"))
        .unwrap_or_else(|| panic!("no sni_missing row: {text}"));
    assert!(sni_missing.contains("| 2 |"), "{sni_missing}");
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
            "--detail",
            "full",
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
            &[
                "analyze",
                "--format",
                "json",
                "--detail",
                "full",
                pcap.to_str().unwrap(),
            ],
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
    assert!(failing[0]["tcp"]["packets"]["client"].as_u64() > Some(0));
    assert_eq!(
        again[0]["tcp"]["packets"], failing[0]["tcp"]["packets"],
        "the whole connection"
    );
}

#[test]
fn one_capture_split_between_workers_gives_the_same_report() {
    use tlswhy::pipeline::analyze_bytes;
    use tlswhy::pipeline::Settings;
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

/// `--write` keeps the datagrams (and ICMP answers) of the QUIC attempts that failed,
/// and only those: read again, they give the same verdicts.
#[test]
fn write_saves_the_failing_quic_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("failed.pcap");
    let files = ["captures/quic_ok.pcap", "captures/quic_alpn_mismatch.pcap"];
    let mut args = vec![
        "analyze",
        "--format",
        "json",
        "--write",
        pcap.to_str().unwrap(),
    ];
    args.extend(files);
    let all = json_lines(&tlswhy(&args, None).stdout);
    let failing: Vec<_> = all
        .iter()
        .filter(|o| o["verdict"]["code"] != "ok")
        .collect();
    assert_eq!(failing.len(), 3);
    let again = json_lines(
        &tlswhy(
            &["analyze", "--format", "json", pcap.to_str().unwrap()],
            None,
        )
        .stdout,
    );
    assert_eq!(
        again.len(),
        failing.len(),
        "only the failing attempts are saved"
    );
    for (a, f) in again.iter().zip(&failing) {
        for key in ["client", "server", "sni", "transport"] {
            assert_eq!(a[key], f[key], "{key}");
        }
        assert_eq!(a["verdict"]["code"], "alpn_mismatch");
    }
}
