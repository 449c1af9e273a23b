//! The command line as scripts use it: the JSON contract, exit statuses, stdin and gzip,
//! damaged and unsupported inputs, colour, and output files (never an input, written
//! whole or not at all, the summary appended).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{json_lines, tlswhy};

fn capture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(common::captures().join(name)).unwrap()
}

#[test]
fn json_lines_follow_the_contract() {
    let out = tlswhy(&["analyze", "--format", "json", "captures/"], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    assert!(lines.len() > 20);
    let codes: Vec<&str> = tlswhy::diagnose::Code::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    for o in &lines {
        assert!(
            o["capture"].as_str().unwrap().starts_with("captures/"),
            "{o}"
        );
        assert!(o["ts"].as_f64().unwrap() > 1.0e9);
        for key in ["client", "server"] {
            let ep = o[key].as_str().unwrap();
            assert!(ep.parse::<std::net::SocketAddr>().is_ok(), "{key} {ep}");
        }
        for key in ["sni", "version", "cipher"] {
            assert!(o[key].is_null() || o[key].is_string(), "{key}: {o}");
        }
        assert!(o["established"].is_boolean());
        let v = &o["verdict"];
        assert!(codes.contains(&v["code"].as_str().unwrap()), "{v}");
        assert!(!v["summary"].as_str().unwrap().is_empty());
        assert!(!v["fix"].as_str().unwrap().is_empty());
        // Every failure cites its evidence; a success's facts are the record's own
        // fields (its evidence is worded with --detail full).
        let evidence = v["evidence"].as_array().unwrap();
        assert_eq!(evidence.is_empty(), v["code"] == "ok", "{v}");
        // Only the captures that carry their secrets (pcapng Decryption Secrets
        // Blocks) are opened without --keylog.
        let keyed = o["capture"].as_str().unwrap().ends_with(".dsb.pcapng");
        let proof = if keyed { "decrypted" } else { "inferred" };
        assert_eq!(v["proof"], proof, "{o}");
        if o["version"].is_string() {
            assert!(o["cipher"].is_string());
        }
    }
    // Successful ones are included, and established agrees with the verdict.
    assert!(lines
        .iter()
        .any(|o| o["verdict"]["code"] == "ok" && o["established"] == true));
    assert!(lines
        .iter()
        .any(|o| o["verdict"]["code"] == "no_shared_cipher" && o["established"] == false));
}

#[test]
fn fail_on_sets_the_exit_status() {
    let file = "captures/no_shared_cipher.pcap";
    assert_eq!(
        tlswhy(&["analyze", "--fail-on", "failed", file], None)
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        tlswhy(&["analyze", "--fail-on", "no_shared_cipher", file], None)
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        tlswhy(
            &["analyze", "--fail-on", "cert_expired,sni_missing", file],
            None
        )
        .status
        .code(),
        Some(0)
    );
    assert_eq!(tlswhy(&["analyze", file], None).status.code(), Some(0));
    assert_eq!(
        tlswhy(
            &["analyze", "--fail-on", "failed", "captures/ok_tls13.pcap"],
            None
        )
        .status
        .code(),
        Some(0)
    );
    let bad = tlswhy(&["analyze", "--fail-on", "bogus_code", file], None);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bogus_code"));
    assert_eq!(
        tlswhy(&["analyze"], None).status.code(),
        Some(2),
        "no path is bad usage"
    );
}

#[test]
fn unreadable_input_exits_2_and_the_rest_is_still_analyzed() {
    let out = tlswhy(
        &[
            "analyze",
            "--format",
            "json",
            "does-not-exist.pcap",
            "captures/ok_tls13.pcap",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does-not-exist.pcap"));
    assert!(!json_lines(&out.stdout).is_empty());

    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.pcap");
    std::fs::write(&text, b"this is not a capture").unwrap();
    let out = tlswhy(
        &["analyze", text.to_str().unwrap(), "captures/ok_tls13.pcap"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a pcap or pcapng file"), "{err}");
}

#[test]
fn unsupported_link_type_is_named() {
    let mut bytes = capture_bytes("ok_tls13.pcap");
    bytes[20..24].copy_from_slice(&147u32.to_le_bytes()); // LINKTYPE_USER0
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user0.pcap");
    std::fs::write(&path, &bytes).unwrap();
    let out = tlswhy(
        &[
            "analyze",
            "--format",
            "json",
            path.to_str().unwrap(),
            "captures/ok_tls12.pcap",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("LINKTYPE 147"), "{err}");
    let lines = json_lines(&out.stdout);
    assert!(lines
        .iter()
        .all(|o| o["capture"] == "captures/ok_tls12.pcap"));
    assert!(!lines.is_empty());
}

#[test]
fn stdin_and_gzip_read_like_the_file() {
    let plain = tlswhy(
        &[
            "analyze",
            "--format",
            "json",
            "captures/no_shared_cipher.pcap",
        ],
        None,
    );
    let want: Vec<_> = json_lines(&plain.stdout)
        .iter()
        .map(|o| o["verdict"]["code"].clone())
        .collect();
    let bytes = capture_bytes("no_shared_cipher.pcap");

    let from_stdin = tlswhy(&["analyze", "--format", "json", "-"], Some(&bytes));
    let got: Vec<_> = json_lines(&from_stdin.stdout)
        .iter()
        .map(|o| o["verdict"]["code"].clone())
        .collect();
    assert_eq!(got, want);
    assert_eq!(json_lines(&from_stdin.stdout)[0]["capture"], "-");

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bytes).unwrap();
    let gz = gz.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no_shared_cipher.pcap.gz");
    std::fs::write(&path, &gz).unwrap();
    for out in [
        tlswhy(
            &["analyze", "--format", "json", path.to_str().unwrap()],
            None,
        ),
        tlswhy(
            &["analyze", "--format", "json", dir.path().to_str().unwrap()],
            None,
        ),
        tlswhy(&["analyze", "--format", "json", "-"], Some(&gz)),
    ] {
        let got: Vec<_> = json_lines(&out.stdout)
            .iter()
            .map(|o| o["verdict"]["code"].clone())
            .collect();
        assert_eq!(got, want);
    }
}

#[test]
fn truncated_capture_is_analyzed_up_to_the_cut_and_warned_about() {
    let bytes = capture_bytes("relay_ip_sni.pcap");
    let full = tlswhy(&["analyze", "--format", "json", "-"], Some(&bytes));
    let full = json_lines(&full.stdout);
    let cut = &bytes[..bytes.len() * 2 / 3 + 7];
    let out = tlswhy(&["analyze", "--format", "json", "-"], Some(cut));
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning") && err.contains("at byte"), "{err}");
    let partial = json_lines(&out.stdout);
    assert!(
        partial.len() >= 4,
        "the connections before the cut are kept"
    );
    // The connections that started first ended well before the cut and keep their
    // verdicts (matched by client: verdicts that read other connections are written
    // after the others).
    let mut partial = partial;
    partial.sort_by_key(|p| p["frame"].as_u64());
    for p in partial.iter().take(4) {
        let f = full
            .iter()
            .find(|f| f["client"] == p["client"])
            .expect("every connection before the cut is in the whole capture");
        assert_eq!(
            p["verdict"]["code"], f["verdict"]["code"],
            "{}",
            p["client"]
        );
    }
}

#[test]
fn text_report_groups_failures_and_ends_with_a_summary() {
    let out = tlswhy(&["analyze", "--color", "never", "captures/"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\u{1b}'));
    assert!(
        text.contains("✗ no_shared_cipher — no cipher suite in common"),
        "{text}"
    );
    assert!(text.contains("fix:"));
    assert!(text.contains("─────────▶  ClientHello"), "ladder missing");
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("summary:") && last.contains("failed ("),
        "{last}"
    );
    assert!(
        !text.contains("✓ ok"),
        "successful handshakes only with --all"
    );
    let all = tlswhy(
        &[
            "analyze",
            "--all",
            "--color",
            "always",
            "captures/ok_tls13.pcap",
        ],
        None,
    );
    let all = String::from_utf8_lossy(&all.stdout);
    assert!(all.contains("\u{1b}[") && all.contains("ok"), "{all}");
}

/// Moves every TCP port `from` to `to` in an Ethernet/IPv4 pcap (checksums are not
/// checked by tlswhy).
fn move_port(mut bytes: Vec<u8>, from: u16, to: u16) -> Vec<u8> {
    let mut off = 24;
    while off + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().unwrap()) as usize;
        let frame = off + 16;
        let ihl = (bytes[frame + 14] & 0x0f) as usize * 4;
        let tcp = frame + 14 + ihl;
        for field in [tcp, tcp + 2] {
            if u16::from_be_bytes([bytes[field], bytes[field + 1]]) == from {
                bytes[field..field + 2].copy_from_slice(&to.to_be_bytes());
            }
        }
        off = frame + caplen;
    }
    bytes
}

#[test]
fn port_option_makes_failures_before_a_client_hello_count() {
    let moved = move_port(capture_bytes("connection_refused.pcap"), 443, 4999);
    let without = tlswhy(&["analyze", "--format", "json", "-"], Some(&moved));
    assert!(
        json_lines(&without.stdout).is_empty(),
        "port 4999 is not a TLS port by default"
    );
    let with = tlswhy(
        &["analyze", "--format", "json", "--port", "4999", "-"],
        Some(&moved),
    );
    let lines = json_lines(&with.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["verdict"]["code"], "connection_refused");
    assert!(lines[0]["server"].as_str().unwrap().ends_with(":4999"));
    let bad = tlswhy(&["analyze", "--port", "notaport", "-"], Some(&moved));
    assert_eq!(bad.status.code(), Some(2));
}

/// Runs the binary in `dir` (for relative paths) with standard input from `stdin`.
fn tlswhy_in(dir: &Path, args: &[&str], stdin: Stdio) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlswhy"))
        .args(args)
        .current_dir(dir)
        .stdin(stdin)
        .output()
        .expect("run tlswhy")
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

/// Asserts a refused run: status 2, a message naming the option, nothing on standard
/// output.
fn assert_refused(out: &Output, option: &str, why: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with(&format!("tlswhy: refusing {option} ")) && err.contains(why),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "refused before any analysis");
}

#[test]
fn an_output_that_is_an_input_is_refused_and_the_input_kept() {
    let dir = tempfile::tempdir().unwrap();
    let original = capture_bytes("no_shared_cipher.pcap");
    std::fs::write(dir.path().join("x.pcap"), &original).unwrap();
    for option in ["--write", "--junit", "--summary"] {
        for (output, input) in [
            ("x.pcap", "x.pcap"),
            ("./x.pcap", "x.pcap"),
            ("x.pcap", "./x.pcap"),
            ("sub/../x.pcap", "x.pcap"),
        ] {
            std::fs::create_dir_all(dir.path().join("sub")).unwrap();
            let out = tlswhy_in(
                dir.path(),
                &["analyze", option, output, input],
                Stdio::null(),
            );
            assert_refused(&out, option, "the same file as the input");
        }
        // Standard input redirected from it.
        let stdin = std::fs::File::open(dir.path().join("x.pcap")).unwrap();
        let out = tlswhy_in(
            dir.path(),
            &["analyze", option, "x.pcap", "-"],
            stdin.into(),
        );
        assert_refused(&out, option, "standard input");
        // Found by a folder walk.
        let out = tlswhy_in(
            dir.path(),
            &["analyze", option, "x.pcap", "."],
            Stdio::null(),
        );
        assert_refused(&out, option, "the same file as the input");
    }
    assert_eq!(std::fs::read(dir.path().join("x.pcap")).unwrap(), original);
    assert_eq!(names_in(dir.path()), ["sub", "x.pcap"], "nothing written");
}

#[test]
fn an_output_hard_linked_to_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let original = capture_bytes("no_shared_cipher.pcap");
    let input = dir.path().join("x.pcap");
    std::fs::write(&input, &original).unwrap();
    let link = dir.path().join("failed.pcapng");
    std::fs::hard_link(&input, &link).unwrap();
    let out = tlswhy(
        &[
            "analyze",
            "--write",
            link.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    );
    assert_refused(&out, "--write", "the same file as the input");
    assert_eq!(std::fs::read(&input).unwrap(), original);
    assert_eq!(std::fs::read(&link).unwrap(), original);
}

#[test]
fn a_capture_written_into_an_analyzed_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.pcap"),
        capture_bytes("no_shared_cipher.pcap"),
    )
    .unwrap();
    // Not there yet, but the walk of the next run would read it.
    let out = tlswhy_in(
        dir.path(),
        &["analyze", "--write", "failed.pcapng", "."],
        Stdio::null(),
    );
    assert_refused(&out, "--write", "its walk would read it");
    // A report that is not a capture may go there.
    let out = tlswhy_in(
        dir.path(),
        &["analyze", "--junit", "report.xml", "."],
        Stdio::null(),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(names_in(dir.path()), ["report.xml", "x.pcap"]);
}

#[test]
fn summary_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("summary.md");
    let before = "## An earlier step\n\nIts summary.\n";
    std::fs::write(&md, before).unwrap();
    let args = [
        "analyze",
        "--summary",
        md.to_str().unwrap(),
        "captures/no_shared_cipher.pcap",
    ];
    assert_eq!(tlswhy(&args, None).status.code(), Some(0));
    let once = std::fs::read_to_string(&md).unwrap();
    let ours = once
        .strip_prefix(before)
        .expect("the earlier content first");
    assert!(
        ours.starts_with("## tlswhy: 3 TLS handshake(s), 1 failed"),
        "{ours}"
    );
    assert_eq!(tlswhy(&args, None).status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&md).unwrap(),
        format!("{once}{ours}"),
        "a second run appends again"
    );
}

/// An output that cannot be written whole (here the file size limit stops it) is not
/// written at all: the file there before is left as it was, and no temporary file stays.
#[cfg(unix)]
#[test]
fn a_failed_run_leaves_no_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let old = b"the output of an earlier run";
    for option in ["--write", "--junit"] {
        let path = dir.path().join("out");
        std::fs::write(&path, old).unwrap();
        // With SIGXFSZ ignored, a write past `ulimit -f` (1 block) fails with EFBIG.
        let script =
            format!("trap '' XFSZ; ulimit -f 1; exec \"$0\" analyze {option} \"$1\" captures/");
        let out = Command::new("sh")
            .args(["-c", &script, env!("CARGO_BIN_EXE_tlswhy")])
            .arg(&path)
            .current_dir(common::root())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{option}: {err}");
        assert!(err.contains("File too large"), "{option}: {err}");
        let now = std::fs::read(&path).unwrap();
        assert!(
            now == old,
            "{option}: the earlier output was replaced by {} bytes",
            now.len()
        );
        assert_eq!(names_in(dir.path()), ["out"], "{option}");
        // Without the limit the same run writes it whole.
        let out = tlswhy(
            &["analyze", option, path.to_str().unwrap(), "captures/"],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{option}");
        assert!(std::fs::metadata(&path).unwrap().len() > 1024, "{option}");
        assert_eq!(names_in(dir.path()), ["out"], "{option}");
    }
}
