//! Against captures recorded from real TLS stacks that this repository does not hold
//! (`../shared/corpus`, or `TLSWHY_CORPUS`, from the Zeek, Suricata and nDPI test
//! suites; skipped with a line on standard error when it is absent, a failure then
//! with `TLSWHY_REQUIRE_CORPUS=1`):
//! - every file is analyzed without a panic;
//! - verdicts agree with `tests/corpus_expected.json` (each connection judged from the
//!   packets with tshark) on at least 90% of handshake attempts, and no wrong verdict
//!   claims `ok`;
//! - the facts (SNI, negotiated version and cipher, last alert, established) agree with
//!   the upstream baselines in `MANIFEST.json` wherever those state them.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;

use tlswhy::record::Handshake;

/// Every capture of the corpus analyzed, by file name; `None` (the test skipped, see
/// [`common::corpus_if_present`]) when the corpus is absent.
fn corpus_reports(test: &str) -> Option<HashMap<String, Vec<Handshake>>> {
    let dir = common::corpus_if_present(&format!("tests/corpus.rs {test}"))?;
    assert!(
        dir.join("MANIFEST.json").exists(),
        "{}: no MANIFEST.json: not the corpus",
        dir.display()
    );
    let mut out = HashMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !tlswhy::inputs::is_capture_name(&path) {
            continue;
        }
        let report = common::analyze(&path);
        out.insert(
            path.file_name().unwrap().to_string_lossy().to_string(),
            report.handshakes,
        );
    }
    Some(out)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap_or_else(|_| panic!("bad address {s}"))
}

fn find<'a>(hs: &'a [Handshake], client: &str, server: &str) -> Option<&'a Handshake> {
    let (c, s) = (addr(client), addr(server));
    hs.iter().find(|h| h.client == c && h.server == s)
}

#[test]
fn verdicts_agree_with_the_judged_corpus() {
    let Some(reports) = corpus_reports("verdicts_agree_with_the_judged_corpus") else {
        return;
    };
    let truth = common::read_json(&common::root().join("tests/corpus_expected.json"));
    let mut total = 0;
    let mut right = 0;
    let mut wrong_ok = Vec::new();
    let mut lines = Vec::new();
    for cap in truth["captures"].as_array().unwrap() {
        let file = cap["file"].as_str().unwrap();
        let hs = reports
            .get(file)
            .unwrap_or_else(|| panic!("{file} not analyzed"));
        for c in cap["connections"].as_array().unwrap() {
            total += 1;
            let want = c["code"].as_str().unwrap();
            let got = find(
                hs,
                c["client"].as_str().unwrap(),
                c["server"].as_str().unwrap(),
            );
            // "not_tls": judged no TLS handshake attempt (no record).
            let got_code = got.map(|h| h.verdict.code.as_str()).unwrap_or("not_tls");
            if got_code == want {
                right += 1;
            } else {
                lines.push(format!(
                    "{file} {} → {}: got {got_code}, judged {want}",
                    c["client"], c["server"]
                ));
                if got_code == "ok" {
                    wrong_ok.push(lines.last().unwrap().clone());
                }
            }
        }
    }
    let rate = right as f64 / total as f64;
    eprintln!(
        "corpus verdicts: {right}/{total} = {:.1}%\n{}",
        rate * 100.0,
        lines.join("\n")
    );
    assert!(total >= 70, "{total}");
    assert!(
        rate >= 0.90,
        "agreement {:.1}% < 90%:\n{}",
        rate * 100.0,
        lines.join("\n")
    );
    assert!(
        wrong_ok.is_empty(),
        "a wrong verdict claims ok:\n{}",
        wrong_ok.join("\n")
    );
}

/// Version spellings of the three tools, reduced to ours.
fn normalize_version(v: &str) -> String {
    let v = v.replace("TLSv1.", "TLS 1.");
    match v.as_str() {
        "TLSv10" | "TLSv1" => "TLS 1.0".into(),
        "TLSv11" => "TLS 1.1".into(),
        "TLSv12" => "TLS 1.2".into(),
        "TLSv13" => "TLS 1.3".into(),
        "SSLv2" => "SSL 2.0".into(),
        "SSLv3" => "SSL 3.0".into(),
        s if s.starts_with("TLSv13-draft") => format!("TLS 1.3 draft-{}", &s[12..]),
        s if s.starts_with("unknown-") => {
            let n: u16 = s[8..].parse().unwrap_or(0);
            tlswhy::tls::suites::version_name(n).into_owned()
        }
        s => s.to_string(),
    }
}

#[test]
fn facts_agree_with_upstream_baselines() {
    let Some(reports) = corpus_reports("facts_agree_with_upstream_baselines") else {
        return;
    };
    let manifest = common::read_json(&common::corpus().join("MANIFEST.json"));
    let mut checked = 0;
    let mut agreed = 0;
    let mut disagreements = Vec::new();
    for entry in manifest.as_array().unwrap() {
        let file = entry["file"].as_str().unwrap();
        let hs = &reports[file];
        for c in entry["connections"].as_array().unwrap() {
            let (Some(client), Some(server)) = (c["client"].as_str(), c["server"].as_str()) else {
                continue; // nDPI does not say which side is which
            };
            let Some(h) = find(hs, client, server) else {
                checked += 1;
                disagreements.push(format!(
                    "{file} {client} → {server}: connection not reported"
                ));
                continue;
            };
            let mut compare = |what: &str, ours: Option<String>, theirs: Option<String>| {
                checked += 1;
                if ours == theirs {
                    agreed += 1;
                } else {
                    disagreements.push(format!(
                        "{file} {client}: {what} ours {ours:?} upstream {theirs:?}"
                    ));
                }
            };
            if let Some(v) = c.get("sni") {
                compare("sni", h.sni.clone(), v.as_str().map(String::from));
            }
            if let Some(v) = c.get("version") {
                compare(
                    "version",
                    h.version.as_deref().map(String::from),
                    v.as_str().map(normalize_version),
                );
            }
            if let Some(v) = c.get("cipher") {
                compare(
                    "cipher",
                    h.cipher.as_deref().map(String::from),
                    v.as_str().map(String::from),
                );
            }
            if let Some(v) = c.get("last_alert") {
                let ours = h
                    .alerts
                    .iter()
                    .rev()
                    .find_map(|a| a.description)
                    .map(|d| d.name().to_string());
                compare("last_alert", ours, v.as_str().map(String::from));
            }
        }
    }
    let rate = agreed as f64 / checked as f64;
    eprintln!(
        "upstream facts: {agreed}/{checked} = {:.1}%\n{}",
        rate * 100.0,
        disagreements.join("\n")
    );
    assert!(checked >= 100, "{checked}");
    assert!(
        rate >= 0.95,
        "facts agreement {:.1}%:\n{}",
        rate * 100.0,
        disagreements.join("\n")
    );
}

/// A success's summary names the version and the suite negotiated, never the
/// placeholder TLS_NULL_WITH_NULL_NULL (an SSL 2.0 handshake has no TLS suite: the
/// corpus holds one, its summary names the version alone).
#[test]
fn success_summaries_name_what_was_negotiated() {
    let Some(reports) = corpus_reports("success_summaries_name_what_was_negotiated") else {
        return;
    };
    let mut ssl2 = 0;
    for (file, hs) in &reports {
        for h in hs
            .iter()
            .filter(|h| h.verdict.code == tlswhy::diagnose::Code::Ok)
        {
            let cx = tlswhy::report::wording::Context::of(h);
            let summary = tlswhy::report::wording::summary(&h.verdict, &cx);
            assert!(
                !summary.contains("NULL_WITH_NULL_NULL"),
                "{file}: {summary}"
            );
            assert!(!summary.contains(", )"), "{file}: {summary}");
            ssl2 += usize::from(summary == "Handshake completed (SSL 2.0).");
        }
    }
    assert!(ssl2 >= 1, "no SSL 2.0 success in the corpus");
}

/// Authority Information Access is read: the server of Zeek's missing-intermediate trace
/// (its baseline: "unable to get local issuer certificate") sends its leaf alone, and
/// the leaf, from a public CA, names where to fetch its issuer; the bundled captures'
/// leaves, from the recording script's private CA, name none — so an untrusted issuer
/// is `send_full_chain` for the first and `trust_issuer` for the second.
#[test]
fn leaves_that_name_their_issuer_are_told_apart() {
    let Some(reports) = corpus_reports("leaves_that_name_their_issuer_are_told_apart") else {
        return;
    };
    let hs = &reports["zeek-missing-intermediate.pcap"];
    let h = find(hs, "192.168.4.149:58529", "128.32.169.140:443").expect("the connection");
    assert_eq!(h.certificates.len(), 1, "the leaf alone");
    assert!(h.certificates[0].aia_ca_issuers, "{:?}", h.certificates[0]);
    let bundled = common::analyze(&common::root().join("captures/cert_unknown_ca.pcap"));
    let leaves: Vec<_> = bundled
        .handshakes
        .iter()
        .filter_map(|h| h.certificates.first())
        .collect();
    assert!(!leaves.is_empty());
    assert!(leaves.iter().all(|l| !l.aia_ca_issuers));
}
