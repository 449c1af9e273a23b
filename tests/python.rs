//! The Python package and the Spark job against the command line: their records equal
//! its JSON records, field for field (`crates/tlswhy-py/tests/check.py` compares).
//!
//! They need what `.ci/run` installs — the wheel (`maturin build --release`), pyarrow,
//! PySpark and a Java runtime — in the Python that `TLSWHY_PYTHON` names (default
//! `python3`). Without them each test says it is skipped and why; with
//! `TLSWHY_REQUIRE_PYTHON=1` (set by `.ci/run`) their absence fails.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn python() -> String {
    std::env::var("TLSWHY_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn required() -> bool {
    std::env::var_os("TLSWHY_REQUIRE_PYTHON").is_some_and(|v| !v.is_empty() && v != "0")
}

/// True when the Python can import `modules`; else skips (or fails when required).
fn python_has(what: &str, modules: &str) -> bool {
    let ok = Command::new(python())
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let line = format!(
            "SKIPPED {what}: `{} -c 'import {modules}'` fails; build and install the wheel \
             (`maturin build --release -m crates/tlswhy-py/Cargo.toml`, `pip install target/wheels/*.whl`) \
             and `pip install 'pyspark[sql]' 'pandas<3'` with a Java runtime, or run .ci/run",
            python(),
        );
        assert!(!required(), "{line} (TLSWHY_REQUIRE_PYTHON is set)");
        // Straight to the process's standard error, as the corpus tests say they skip.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{line}");
    }
    ok
}

fn check(args: &[&str]) {
    let script = common::root().join("crates/tlswhy-py/tests/check.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(args[0])
        .arg(env!("CARGO_BIN_EXE_tlswhy"))
        .args(&args[1..])
        .current_dir(common::root())
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Spark's JVM writes stack traces of its own on failure: the end says why.
    let tail: String = stderr
        .chars()
        .rev()
        .take(4000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(
        out.status.success(),
        "check.py {}:\n{stdout}\n{tail}",
        args[0]
    );
    eprint!("{stdout}");
}

#[test]
fn the_python_package_gives_the_json_records() {
    if !python_has("tests/python.rs package", "tlswhy, pyarrow") {
        return;
    }
    let captures = common::captures();
    let mut args = vec!["package".to_string(), captures.display().to_string()];
    if let Some(corpus) = common::corpus_if_present("tests/python.rs package on the corpus") {
        args.push(corpus.display().to_string());
    }
    check(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn the_spark_job_reproduces_the_command_lines_verdicts_across_files() {
    if !python_has("tests/python.rs spark", "tlswhy, pyspark, pandas") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    // Captures split in two as a ring buffer splits them: a server's other connections
    // in the other file.
    let split: PathBuf = work.path().join("split");
    std::fs::create_dir(&split).unwrap();
    for name in [
        "no_shared_cipher",
        "protocol_version_tls11_refused",
        "relay_ip_sni",
    ] {
        let whole = common::captures().join(format!("{name}.pcap"));
        common::split_capture(
            &whole,
            &split.join(format!("{name}-0.pcap")),
            &split.join(format!("{name}-1.pcap")),
        );
    }
    let mut args = vec![
        "spark".to_string(),
        work.path().display().to_string(),
        split.display().to_string(),
        common::captures().display().to_string(),
    ];
    if let Some(corpus) = common::corpus_if_present("tests/python.rs spark on the corpus") {
        args.push(corpus.display().to_string());
    }
    check(&args.iter().map(String::as_str).collect::<Vec<_>>());
}
