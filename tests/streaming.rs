//! Reading a capture as a stream of chunks gives what reading it whole gives: the same
//! records in the same order, the same packet count, the same damage at the same byte
//! offset — whatever the chunk size, for pcap and pcapng of every variant, gzipped or
//! not, and for a capture cut off in the middle of a record.

mod common;

use std::path::{Path, PathBuf};

use tlswhy::capture::{CaptureBytes, Source};
use tlswhy::chunks::StreamReader;
use tlswhy::pipeline::Settings;
use tlswhy::pipeline::{analyze_bytes, analyze_packets};
use tlswhy::report::collect::{Collector, Keep};

fn capture_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [
        common::captures(),
        common::root().join("tests/data/formats"),
    ] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if tlswhy::inputs::is_capture_name(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() > 30, "only {} captures found", files.len());
    files
}

/// (records as JSON, packets, damage) reading the file whole.
fn whole(path: &Path, settings: &Settings) -> (String, u64, Option<String>) {
    let bytes = CaptureBytes::load(&Source::File(path.to_path_buf())).unwrap();
    let report = analyze_bytes(&bytes, "x", settings).unwrap();
    (
        serde_json::to_string(&report.handshakes).unwrap(),
        report.stats.packets,
        report.damage.map(|d| d.to_string()),
    )
}

/// The same, reading the file in chunks of `chunk` bytes.
fn chunked(path: &Path, chunk: usize, settings: &Settings) -> (String, u64, Option<String>) {
    let source = StreamReader::open_with(&Source::File(path.to_path_buf()), chunk).unwrap();
    let mut kept = Collector::new(Keep::All);
    let report = analyze_packets(source, usize::MAX, "x", settings, &mut |f| kept.add(f));
    let report = kept.into_report(report);
    (
        serde_json::to_string(&report.handshakes).unwrap(),
        report.stats.packets,
        report.damage.map(|d| d.to_string()),
    )
}

#[test]
fn chunked_reading_matches_reading_whole() {
    let settings = Settings::default();
    for path in capture_files() {
        let want = whole(&path, &settings);
        assert!(want.1 > 0, "{}: no packets", path.display());
        for chunk in [64, 1000, 4099, 1 << 20] {
            let got = chunked(&path, chunk, &settings);
            assert_eq!(got, want, "{} in chunks of {chunk}", path.display());
        }
    }
}

#[test]
fn chunked_reading_on_two_workers_matches_reading_whole() {
    let settings = Settings {
        threads: 2,
        parallel_min_bytes: 0,
        ..Settings::default()
    };
    for path in capture_files().iter().step_by(3) {
        let want = whole(path, &Settings::default());
        let got = chunked(path, 4099, &settings);
        assert_eq!(got, want, "{}", path.display());
    }
}

/// The text report keeps a few failures of each code: once a code has shown its share,
/// its later failures are only counted (no text, no record). The report is the same as
/// with every record made, on one worker and on two.
#[test]
fn failures_beyond_the_examples_shown_are_only_counted() {
    let mut files = capture_files();
    if let Some(dir) = common::corpus_if_present(
        "the corpus part of tests/streaming.rs failures_beyond_the_examples_shown_are_only_counted",
    ) {
        files.extend(
            std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| tlswhy::inputs::is_capture_name(p)),
        );
    }
    let keep = Keep::Examples {
        per_code: 1,
        ok: false,
    };
    let mut only_counted = 0;
    for path in &files {
        for threads in [1, 2] {
            let report = |budget: bool, only_counted: &mut usize| {
                let mut kept = Collector::new(keep);
                let settings = Settings {
                    threads,
                    parallel_min_bytes: 0,
                    ok_records: false,
                    examples: if budget { kept.budget() } else { None },
                    ..Settings::default()
                };
                let source = StreamReader::open_with(&Source::File(path.clone()), 4099).unwrap();
                let report = analyze_packets(source, usize::MAX, "x", &settings, &mut |f| {
                    if f.code != tlswhy::diagnose::Code::Ok && f.handshake.is_none() {
                        *only_counted += 1;
                    }
                    kept.add(f)
                });
                let report = kept.into_report(report);
                (
                    serde_json::to_string(&report.handshakes).unwrap(),
                    report.counts,
                )
            };
            let mut none = 0;
            let every_record = report(false, &mut none);
            assert_eq!(none, 0, "{}: a failure without its record", path.display());
            let counted = report(true, &mut only_counted);
            assert_eq!(counted, every_record, "{} on {threads}", path.display());
            // JSON Lines list every record, whatever the collector keeps.
            let mut kept = Collector::new(keep);
            let settings = Settings {
                threads,
                parallel_min_bytes: 0,
                render_json: true,
                examples: kept.budget(),
                ..Settings::default()
            };
            let source = StreamReader::open_with(&Source::File(path.clone()), 4099).unwrap();
            let (mut lines, mut made) = (0, 0u64);
            analyze_packets(source, usize::MAX, "x", &settings, &mut |f| {
                lines += usize::from(f.json_line.is_some());
                made += 1;
                kept.add(f)
            });
            // Every record, a relay's second leg too (the report counts it once).
            let records = made;
            assert!(records >= counted.1.values().sum::<u64>());
            assert_eq!(
                lines as u64,
                records,
                "{} on {threads}: JSON lines",
                path.display()
            );
        }
    }
    assert!(
        only_counted > 20,
        "only {only_counted} failures were only counted"
    );
}

#[test]
fn a_cut_off_capture_reports_the_same_damage_in_chunks() {
    let settings = Settings::default();
    let dir = std::env::temp_dir().join(format!("tlswhy-streaming-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut checked = 0;
    for path in capture_files() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".gz") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        // Cut in the middle of the file: almost surely inside a record.
        let cut = dir.join(&name);
        std::fs::write(&cut, &bytes[..bytes.len() / 2 + 7]).unwrap();
        let want = whole(&cut, &settings);
        assert!(want.2.is_some(), "{name}: cutting it made no damage");
        for chunk in [64, 4099] {
            assert_eq!(
                chunked(&cut, chunk, &settings),
                want,
                "{name} cut, chunks of {chunk}"
            );
        }
        checked += 1;
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(checked > 20);
}
