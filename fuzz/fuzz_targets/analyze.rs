//! The whole pipeline on one capture, then both outputs: every handshake as JSON
//! (must never fail, must parse back) and the text report.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlswhy::analyze::analyze_bytes;
use tlswhy::diagnose::Settings;
use tlswhy::report::text::{self, Options, Style};

fuzz_target!(|data: &[u8]| {
    let Ok(report) = analyze_bytes(data, "fuzz", &Settings::default()) else {
        return;
    };
    for h in &report.handshakes {
        let line = serde_json::to_string(h).expect("handshake serializes to JSON");
        let back: serde_json::Value = serde_json::from_str(&line).expect("JSON parses back");
        assert!(back.is_object());
    }
    let reports = [report];
    let style = Style { color: false };
    let mut out = Vec::new();
    text::write_report(
        &mut out,
        &reports,
        Options {
            show_ok: true,
            style,
        },
    )
    .expect("text report");
    text::write_summary(&mut out, &reports, style).expect("summary");
});
