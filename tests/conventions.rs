//! The command-line conventions users bring from other tools: short flags, shell
//! completions and a manual page, `--version` with the commit, colour that follows
//! `NO_COLOR` and `TERM=dumb`, `--quiet` that still says why the exit status is 2, a note
//! when `analyze -` waits on a terminal, and outputs that do not overwrite a capture
//! without `--force`.

mod common;

use std::process::{Command, Output, Stdio};

use common::{json_lines, tlswhy};

fn stdout_text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr_text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn completions_for_bash_zsh_and_fish_name_the_commands_and_options() {
    for shell in ["bash", "zsh", "fish"] {
        let out = tlswhy(&["completions", shell], None);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr_text(&out));
        let script = stdout_text(&out);
        for word in ["analyze", "live", "fail-on", "list-interfaces", "json"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    let bad = tlswhy(&["completions", "cmd.exe"], None);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_man_page_describes_every_command_and_option() {
    let out = tlswhy(&["man"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_text(&out));
    let page = stdout_text(&out);
    assert!(
        page.starts_with(".ie") || page.starts_with(".TH"),
        "roff: {page:.80}"
    );
    assert!(page.contains(".TH tlswhy 1"));
    for heading in ["ANALYZE OPTIONS", "LIVE OPTIONS", "SUBCOMMANDS"] {
        assert!(page.contains(heading), "no {heading}");
    }
    // roff escapes the dashes of options.
    for option in [
        r"\-\-fail\-on",
        r"\-\-write",
        r"\-w",
        r"\-\-read",
        r"\-r",
        r"\-\-force",
        r"\-\-list\-interfaces",
        r"\-\-strict",
    ] {
        assert!(page.contains(option), "no {option}");
    }
}

#[test]
fn version_names_the_commit_and_the_features() {
    let out = tlswhy(&["--version"], None);
    assert_eq!(out.status.code(), Some(0));
    let line = stdout_text(&out);
    let commit = line
        .split("(commit ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no commit in {line}"));
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
    let features = if cfg!(feature = "live") {
        "live"
    } else {
        "none"
    };
    assert!(line.contains(&format!("features: {features})")), "{line}");
    // In a git checkout, the commit it was built from.
    if let Ok(git) = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(common::root())
        .output()
    {
        let head = String::from_utf8_lossy(&git.stdout).trim().to_string();
        if git.status.success() && !head.is_empty() {
            assert_eq!(commit, head, "{line}");
        }
    }
}

#[test]
fn short_flags_do_what_the_long_ones_do() {
    let long = tlswhy(
        &[
            "analyze",
            "--format",
            "json",
            "--all",
            "--threads",
            "1",
            "captures/no_shared_cipher.pcap",
            "captures/ok_tls13.pcap",
        ],
        None,
    );
    let short = tlswhy(
        &[
            "analyze",
            "-o",
            "json",
            "-a",
            "-j",
            "1",
            "-r",
            "captures/no_shared_cipher.pcap",
            "-r",
            "captures/ok_tls13.pcap",
        ],
        None,
    );
    assert_eq!(long.status.code(), Some(0), "{}", stderr_text(&long));
    assert_eq!(short.status.code(), Some(0), "{}", stderr_text(&short));
    assert_eq!(short.stdout, long.stdout);
    let lines = json_lines(&short.stdout);
    assert_eq!(lines[0]["capture"], "captures/no_shared_cipher.pcap");
    assert_eq!(lines.last().unwrap()["capture"], "captures/ok_tls13.pcap");
}

#[test]
fn quiet_strict_still_says_why_it_exits_2() {
    let bytes = std::fs::read(common::captures().join("relay_ip_sni.pcap")).unwrap();
    let cut = &bytes[..bytes.len() - 5];
    let out = tlswhy(&["analyze", "--quiet", "--strict", "-"], Some(cut));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_text(&out);
    assert!(
        err.contains("capture damaged at byte") && err.contains("--strict"),
        "{err}"
    );
    // Without --strict the damage is a warning, which --quiet hides.
    let out = tlswhy(&["analyze", "-q", "-"], Some(cut));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr_text(&out), "");
    // Unreadable input decides the status too, and is said whatever --quiet.
    let out = tlswhy(&["analyze", "-q", "does-not-exist.pcap"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_text(&out).contains("does-not-exist.pcap"));
}

#[test]
fn an_existing_capture_is_written_over_only_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.pcap");
    let original = std::fs::read(common::captures().join("no_shared_cipher.pcap")).unwrap();
    std::fs::write(&input, &original).unwrap();
    let earlier = dir.path().join("earlier.pcap");
    let kept = std::fs::read(common::captures().join("ok_tls13.pcap")).unwrap();
    for option in ["-w", "--write", "--junit", "--summary"] {
        std::fs::write(&earlier, &kept).unwrap();
        let args = [
            "analyze",
            option,
            earlier.to_str().unwrap(),
            input.to_str().unwrap(),
        ];
        let out = tlswhy(&args, None);
        let err = stderr_text(&out);
        assert_eq!(out.status.code(), Some(2), "{option}: {err}");
        assert!(
            err.contains("already holds a capture") && err.contains("--force"),
            "{option}: {err}"
        );
        assert!(out.stdout.is_empty(), "refused before any analysis");
        assert_eq!(std::fs::read(&earlier).unwrap(), kept, "{option}");

        let forced = tlswhy(&[&args[..], &["--force"]].concat(), None);
        assert_eq!(
            forced.status.code(),
            Some(0),
            "{option}: {}",
            stderr_text(&forced)
        );
        assert_ne!(std::fs::read(&earlier).unwrap(), kept, "{option}");
    }
    // The capture --write made re-analyzes to the failure it saved.
    std::fs::remove_file(&earlier).unwrap();
    let out = tlswhy(
        &[
            "analyze",
            "-w",
            earlier.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr_text(&out));
    let again = tlswhy(&["analyze", "-o", "json", earlier.to_str().unwrap()], None);
    assert_eq!(
        json_lines(&again.stdout)[0]["verdict"]["code"],
        "no_shared_cipher"
    );
    // --force never lets an output replace an input.
    let out = tlswhy(
        &[
            "analyze",
            "--force",
            "-w",
            input.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_text(&out).contains("the same file as the input"));
    assert_eq!(
        std::fs::read(&input).unwrap(),
        original,
        "the input unchanged"
    );
}

/// Runs `args` on a terminal (a pseudo-terminal made by util-linux's `script`, present
/// on every Debian system) with `env`, ended after a second if it waits for input; what
/// the terminal showed.
#[cfg(target_os = "linux")]
fn on_terminal(args: &str, env: &[(&str, &str)]) -> String {
    let line = format!(
        "timeout --foreground 1 '{}' {args}",
        env!("CARGO_BIN_EXE_tlswhy")
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .current_dir(common::root())
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("script (util-linux) makes a terminal");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(target_os = "linux")]
#[test]
fn colour_on_a_terminal_follows_no_color_and_term() {
    let run = |env: &[(&str, &str)]| {
        on_terminal("analyze -q -a captures/ok_tls13.pcap", env).contains("\u{1b}[")
    };
    assert!(run(&[]), "a terminal gets colour");
    assert!(!run(&[("NO_COLOR", "1")]), "NO_COLOR=1");
    assert!(run(&[("NO_COLOR", "")]), "an empty NO_COLOR is as if unset");
    assert!(!run(&[("TERM", "dumb")]), "TERM=dumb");
    // The option wins over the environment.
    assert!(on_terminal(
        "analyze -q -a --color always captures/ok_tls13.pcap",
        &[("NO_COLOR", "1")]
    )
    .contains("\u{1b}["));
    // Not a terminal: no colour.
    let piped = tlswhy(&["analyze", "-a", "captures/ok_tls13.pcap"], None);
    assert!(!stdout_text(&piped).contains('\u{1b}'));
}

#[cfg(target_os = "linux")]
#[test]
fn analyze_dash_on_a_terminal_says_it_reads_standard_input() {
    let shown = on_terminal("analyze -", &[]);
    assert!(
        shown.contains("reading a capture from standard input"),
        "{shown}"
    );
    assert!(!on_terminal("analyze -q -", &[]).contains("standard input"));
    // From a pipe it just reads.
    let bytes = std::fs::read(common::captures().join("ok_tls13.pcap")).unwrap();
    let out = tlswhy(&["analyze", "-"], Some(&bytes));
    assert!(!stderr_text(&out).contains("standard input"));
}
