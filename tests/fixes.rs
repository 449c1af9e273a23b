//! Fixes are safe and concrete (DIAGNOSES.md): no fix asks anyone to enable something
//! insecure (NULL, anonymous, EXPORT, RC4, DES/3DES, MD5 suites; SSL, TLS 1.0/1.1), and
//! none holds a placeholder — every value comes from the packets. Scanned on every
//! handshake of `captures/`, the third-party corpus, and a capture made by the reference
//! benchmark generator (`../shared/bench/gen_bench_pcap.py`) with half its handshakes
//! failing.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;
use tlswhy::inputs::is_capture_name;
use tlswhy::record::Handshake;
use tlswhy::report::wording::Worded;

/// Names of insecure things that a fix may mention only to say "do not enable".
const INSECURE: &[&str] = &[
    "RC4", "3DES", "_DES_", "DES40", "NULL", "anon", "EXPORT", "_MD5", "SSL 3.0", "SSL 2.0",
    "TLS 1.0", "TLS 1.1",
];

/// Placeholder words, and the fixed example a fix once carried whatever the packets said.
const PLACEHOLDER_WORDS: &[&str] = &["HOST", "PORT", "NAME", "ADDRESS"];
const PLACEHOLDER_TEXT: &[&str] = &["<", ">", "besides h2"];

fn check(h: &Handshake, problems: &mut Vec<String>) {
    let fix = Worded::of(h).fix;
    let remedy: Value = serde_json::from_str(
        std::str::from_utf8(&{
            let mut line = Vec::new();
            tlswhy::report::json::write_lines(&mut line, [h], Default::default()).unwrap();
            line
        })
        .unwrap(),
    )
    .unwrap();
    let action = remedy["verdict"]["remedy"]["action"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let what = format!(
        "{} {} → {} ({})",
        h.capture, h.client, h.server, h.verdict.code
    );
    let words: Vec<&str> = fix.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    for p in PLACEHOLDER_WORDS {
        if words.contains(p) {
            problems.push(format!("{what}: placeholder {p:?} in fix: {fix}"));
        }
    }
    // A name from the packets is a value, whatever it holds (captures/sni_hostile.pcap
    // asks for markup): the placeholder marks are looked for around it.
    let outside_values = match h.sni.as_deref() {
        Some(sni) if !sni.is_empty() => fix.replace(&tlswhy::sanitize::escape(sni), ""),
        _ => fix.clone(),
    };
    for p in PLACEHOLDER_TEXT {
        if outside_values.contains(p) {
            problems.push(format!("{what}: placeholder {p:?} in fix: {fix}"));
        }
    }
    let upgrade = action.starts_with("upgrade_insecure");
    for weak in INSECURE {
        if fix.contains(weak) && !upgrade {
            problems.push(format!("{what}: fix names {weak:?} ({action}): {fix}"));
        }
    }
    if upgrade && !fix.contains("Do not enable") {
        problems.push(format!("{what}: an upgrade fix that does not warn: {fix}"));
    }
}

fn captures_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| is_capture_name(p))
        .collect();
    files.sort();
    files
}

fn scan(files: &[PathBuf]) -> (usize, Vec<String>) {
    let mut problems = Vec::new();
    let mut fixes = 0;
    for path in files {
        for h in &common::analyze(path).handshakes {
            fixes += 1;
            check(h, &mut problems);
        }
    }
    (fixes, problems)
}

#[test]
fn fixes_on_the_captures_and_the_corpus_are_safe_and_concrete() {
    let mut files = captures_in(&common::captures());
    // captures/ alone holds over 100 handshake attempts, the corpus about 80 more.
    let mut least = 100;
    if let Some(corpus) = common::corpus_if_present("tests/fixes.rs (the corpus part)") {
        files.extend(captures_in(&corpus));
        least = 180;
    }
    let (fixes, problems) = scan(&files);
    assert!(fixes >= least, "only {fixes} fixes scanned");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The reference generator's failures (no shared cipher with weak clients, old
/// versions, unknown names and CAs) are where insecure suggestions used to come from.
#[test]
fn fixes_on_the_reference_generators_capture_are_safe_and_concrete() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--connections",
        "3000",
        "--bulk-kb",
        "0-1",
        "--fail-ratio",
        "0.5",
        "--seed",
        "7",
    ];
    let what = "tests/fixes.rs (the generator part)";
    let Some(pcap) = common::reference_capture(what, dir.path(), &args) else {
        return;
    };
    let (fixes, problems) = scan(&[pcap]);
    assert!(fixes >= 2900, "only {fixes} fixes scanned");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
