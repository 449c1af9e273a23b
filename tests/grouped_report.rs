//! The text report groups alike failures (same verdict code, server and SNI) into one
//! entry with a count, and ends with a per-server table before the summary line:
//! - on every capture under `captures/`, each group's count is the number of JSON
//!   records with its code, server and SNI (a relay's second leg, which the text report
//!   shows once with its path, left out);
//! - the groups of each code add up to the code's count, and the per-server table's
//!   rows add up to the summary line's totals (attempts, failures, and by code), on the
//!   whole `captures/` folder and on a 20 000-connection capture of the reference
//!   generator, whose 1,918-odd failures fit in under 400 lines;
//! - the report is the same whether every record is kept (`--junit`) or only the
//!   examples;
//! - the collector keeps an example for the first groups of each code only, and still
//!   counts the others.

mod common;

use std::collections::{BTreeMap, HashSet};

/// What a test reads back from a text report.
#[derive(Debug, Default)]
struct Report {
    /// Per failing code: its count in the heading, and the handshakes its entries
    /// account for (groups shown, listed, and counted in the closing lines).
    codes: BTreeMap<String, (u64, u64)>,
    /// (code, server, SNI) → count, for the groups shown in full or listed.
    groups: BTreeMap<(String, String, String), u64>,
    /// Rows of the per-server table: handshakes, failed, failures by code.
    servers: Vec<(String, u64, u64, BTreeMap<String, u64>)>,
    attempts: u64,
    failed: u64,
    by_code: BTreeMap<String, u64>,
    lines: usize,
}

fn number(text: &str) -> u64 {
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {text:?}"))
}

/// `code n, code n` → map; `None` when the text is not such a list.
fn counts_by_code(text: &str) -> Option<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for item in text.split(", ") {
        let (code, n) = item.rsplit_once(' ')?;
        let well_formed = code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if !well_formed || code.is_empty() {
            return None;
        }
        out.insert(code.to_string(), n.parse().ok()?);
    }
    Some(out)
}

/// `server  SNI name` or `server  no SNI` at the start of `rest`.
fn server_and_sni(rest: &str) -> (String, String) {
    let (server, rest) = rest.split_once("  ").expect("server then SNI");
    // A QUIC handshake's server is followed by the word.
    let server = server.strip_suffix(" QUIC").unwrap_or(server);
    let sni = match rest.strip_prefix("SNI ") {
        Some(s) => s.split("  ").next().unwrap().to_string(),
        None => {
            assert!(rest.starts_with("no SNI"), "{rest}");
            String::new()
        }
    };
    (server.to_string(), sni)
}

fn parse(text: &str) -> Report {
    let mut r = Report {
        lines: text.lines().count(),
        ..Report::default()
    };
    let mut code = String::new();
    let mut example: Option<(String, String)> = None;
    let mut in_table = false;
    for line in text.lines() {
        if let Some(head) = line.strip_prefix("✗ ") {
            code = head.split(' ').next().unwrap().to_string();
            let count = head.rsplit_once('(').unwrap().1.trim_end_matches(')');
            r.codes.insert(code.clone(), (number(count), 0));
            continue;
        }
        if line.starts_with("✓ ") {
            code.clear();
            continue;
        }
        if line.starts_with("by server:") {
            in_table = true;
            continue;
        }
        if in_table {
            if line.is_empty() {
                in_table = false;
            } else if !line.starts_with("  server ") {
                let cells: Vec<&str> = line
                    .trim()
                    .split("  ")
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .collect();
                let by_code = cells[3..]
                    .iter()
                    .find_map(|c| counts_by_code(c))
                    .unwrap_or_default();
                let row = (cells[0].to_string(), number(cells[1]), number(cells[2]));
                r.servers.push((row.0, row.1, row.2, by_code));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("summary: ") {
            let field = |name: &str| -> u64 {
                let end = rest.find(name).unwrap_or_else(|| panic!("{name}: {rest}"));
                number(rest[..end].rsplit(", ").next().unwrap())
            };
            r.attempts = field(" TLS handshake attempts");
            r.failed = field(" failed");
            if let Some((_, codes)) = rest.split_once(" failed (") {
                r.by_code = counts_by_code(codes.trim_end_matches(')')).unwrap();
            }
            continue;
        }
        if code.is_empty() {
            continue;
        }
        let entry = r.codes.get_mut(&code).unwrap();
        if line.starts_with("  ") && line.contains(" → ") && line.contains("  [") {
            // The example of a group: one handshake, unless an "alike" line follows.
            let after_arrow = line.split_once(" → ").unwrap().1;
            let (server, sni) = server_and_sni(after_arrow);
            r.groups
                .insert((code.clone(), server.clone(), sni.clone()), 1);
            entry.1 += 1;
            example = Some((server, sni));
        } else if let Some(rest) = line.strip_prefix("  ×") {
            let (n, rest) = rest.split_once(' ').unwrap();
            let n = number(n);
            if rest.starts_with("alike ") {
                let (server, sni) = example.take().expect("an alike line after an example");
                r.groups.insert((code.clone(), server, sni), n);
                entry.1 += n - 1;
            } else {
                let (server, sni) = server_and_sni(rest.trim_start());
                r.groups.insert((code.clone(), server, sni), n);
                entry.1 += n;
            }
        } else if let Some(rest) = line.strip_prefix("  … and ") {
            if let Some((_, tail)) = rest.split_once(" group(s) of ") {
                entry.1 += number(tail.split(' ').next().unwrap());
            } else if rest.contains(" only counted") {
                entry.1 += number(rest.split(' ').next().unwrap());
            }
        }
    }
    r
}

/// The groups account for every failure of their code, and the per-server table adds
/// up to the summary line.
fn assert_adds_up(r: &Report, what: &str) {
    assert!(r.failed > 0, "{what}: no failure");
    for (code, (count, accounted)) in &r.codes {
        assert_eq!(count, accounted, "{what}: {code}'s entries");
        assert_eq!(r.by_code.get(code), Some(count), "{what}: {code}");
    }
    assert!(!r.servers.is_empty(), "{what}: no per-server table");
    let handshakes: u64 = r.servers.iter().map(|s| s.1).sum();
    let failed: u64 = r.servers.iter().map(|s| s.2).sum();
    assert_eq!(handshakes, r.attempts, "{what}: handshakes by server");
    assert_eq!(failed, r.failed, "{what}: failures by server");
    let mut by_code: BTreeMap<String, u64> = BTreeMap::new();
    for (label, _, failed, codes) in &r.servers {
        assert_eq!(codes.values().sum::<u64>(), *failed, "{what}: row {label}");
        for (code, n) in codes {
            *by_code.entry(code.clone()).or_default() += n;
        }
    }
    assert_eq!(by_code, r.by_code, "{what}: failures by code and server");
}

fn text_report(args: &[&str]) -> String {
    let mut all = vec!["analyze", "--color", "never"];
    all.extend_from_slice(args);
    let out = common::tlswhy(&all, None);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn captures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(common::captures())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".pcap"))
        .map(|n| format!("captures/{n}"))
        .collect();
    names.sort();
    names
}

/// (code, server, SNI) → failures, from the JSON records, each handshake once (a
/// relay's later legs share the first leg's `handshake_id`).
fn groups_from_json(path: &str) -> BTreeMap<(String, String, String), u64> {
    let out = common::tlswhy(&["analyze", "--format", "json", path], None);
    let mut seen = HashSet::new();
    let mut groups = BTreeMap::new();
    for record in common::json_lines(&out.stdout) {
        let id = &record["handshake_id"];
        if !id.is_null() && !seen.insert(id.to_string()) {
            continue;
        }
        let code = record["verdict"]["code"].as_str().unwrap();
        if code == "ok" {
            continue;
        }
        let key = (
            code.to_string(),
            record["server"].as_str().unwrap().to_string(),
            record["sni"].as_str().unwrap_or_default().to_string(),
        );
        *groups.entry(key).or_default() += 1;
    }
    groups
}

#[test]
fn alike_failures_of_each_capture_are_one_entry_with_their_count() {
    let mut repeated = 0;
    for path in captures() {
        let want = groups_from_json(&path);
        let report = parse(&text_report(&[&path]));
        // Small captures show every group.
        assert_eq!(report.groups, want, "{path}");
        repeated += want.values().filter(|&&n| n > 1).count();
        if !want.is_empty() {
            assert_adds_up(&report, &path);
        }
    }
    // captures/ holds several captures with repeated failures (e.g. a client retrying).
    assert!(
        repeated >= 5,
        "only {repeated} groups of more than one failure"
    );
}

/// True when two records of the capture share a handshake id: a relay's legs, which the
/// text report shows once but `--junit` (every record kept) lists leg by leg.
fn has_relayed_handshakes(path: &str) -> bool {
    let out = common::tlswhy(&["analyze", "--format", "json", path], None);
    let mut seen = HashSet::new();
    common::json_lines(&out.stdout)
        .iter()
        .map(|r| &r["handshake_id"])
        .filter(|id| !id.is_null())
        .any(|id| !seen.insert(id.to_string()))
}

#[test]
fn the_captures_folder_adds_up_and_reads_the_same_with_every_record_kept() {
    let text = text_report(&["captures/"]);
    let report = parse(&text);
    assert_adds_up(&report, "captures/");
    assert!(report.servers.len() > 5, "{:?}", report.servers);
    assert!(
        report.groups.values().any(|&n| n > 1),
        "no group of more than one failure"
    );
    // --junit keeps every record; the text report is made from the same groups.
    let paths: Vec<String> = captures()
        .into_iter()
        .filter(|p| !has_relayed_handshakes(p))
        .collect();
    assert!(paths.len() > 10, "{paths:?}");
    let mut args: Vec<&str> = paths.iter().map(String::as_str).collect();
    let examples_only = text_report(&args);
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("report.xml");
    args.extend(["--junit", junit.to_str().unwrap()]);
    assert_eq!(examples_only, text_report(&args));
    assert!(parse(&examples_only).groups.values().any(|&n| n > 1));
}

#[test]
fn the_reference_generators_20k_connections_fit_in_400_lines() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--connections",
        "20000",
        "--bulk-kb",
        "0-1",
        "--resume-ratio",
        "0.3",
        "--seed",
        "2",
    ];
    let what = "tests/grouped_report.rs (20k connections)";
    let Some(pcap) = common::reference_capture(what, dir.path(), &args) else {
        return;
    };
    let text = text_report(&[pcap.to_str().unwrap()]);
    let report = parse(&text);
    // About 10% of the connections fail: one block per failure would be thousands of
    // lines.
    assert_eq!(report.attempts, 20_000, "{text}");
    assert!(report.failed > 1000, "{text}");
    assert!(report.lines < 400, "{} lines:\n{text}", report.lines);
    assert_adds_up(&report, "the 20k capture");
    assert!(
        report.groups.values().any(|&n| n > 10),
        "no large group: {text}"
    );
    // The summary line stays last.
    assert!(text
        .trim_end()
        .lines()
        .last()
        .unwrap()
        .starts_with("summary: "));
}

/// The collector keeps the record of a group's first failure for the first `per_code`
/// groups of each code only; the later groups are still counted, without an example,
/// and the analysis is told to make no more records of that code.
#[test]
fn examples_are_kept_for_the_first_groups_of_each_code_only() {
    use tlswhy::capture::Source;
    use tlswhy::pipeline::{self, Settings};
    use tlswhy::report::collect::{Collector, Keep};

    let path = common::captures().join("client_cert_required_stacks.pcap");
    let want = groups_from_json("captures/client_cert_required_stacks.pcap");
    assert!(want.len() >= 3, "{want:?}");
    let per_code = 2;
    let mut kept = Collector::new(Keep::Examples {
        per_code,
        ok: false,
    });
    let budget = kept.budget().unwrap();
    let settings = Settings {
        examples: Some(std::sync::Arc::clone(&budget)),
        ..Settings::default()
    };
    let report =
        pipeline::analyze_source_into(&Source::File(path), &settings, &mut |f| kept.add(f))
            .unwrap();
    let report = kept.into_report(report);
    assert_eq!(report.handshakes.len(), per_code);
    let mut with_example = 0;
    let mut counted = BTreeMap::new();
    for (key, group) in report.groups.iter() {
        let sni = key.sni.clone().unwrap_or_default();
        counted.insert(
            (key.code.to_string(), key.server.to_string(), sni),
            group.count,
        );
        if let Some(i) = group.example {
            with_example += 1;
            let h = &report.handshakes[i];
            assert_eq!(
                (h.verdict.code, h.server, h.frame),
                (key.code, key.server, group.frame)
            );
        }
    }
    assert_eq!(with_example, per_code);
    assert_eq!(counted, want);
    for (code, _, _) in want.keys() {
        let code: tlswhy::diagnose::Code = code.parse().unwrap();
        assert!(budget.is_spent(code), "{code}");
    }
}
