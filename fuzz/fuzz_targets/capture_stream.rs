//! Reading a capture as a stream in chunks must give exactly what reading it whole
//! gives: the same records, packet count and damage. The first two bytes choose the
//! chunk size (64 bytes and up); the rest is the capture.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlswhy::analyze::{analyze_bytes, analyze_packets, CaptureReport, Collector, Keep};
use tlswhy::chunks::StreamReader;
use tlswhy::diagnose::Settings;

fn facts(r: &CaptureReport) -> (String, u64, Option<String>) {
    (
        serde_json::to_string(&r.handshakes).expect("records serialize"),
        r.stats.packets,
        r.damage.as_ref().map(|d| d.to_string()),
    )
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let chunk = 64 + u16::from_le_bytes([data[0], data[1]]) as usize;
    let capture = &data[2..];
    let settings = Settings::default();
    let whole = analyze_bytes(capture, "fuzz", &settings);
    let stream = StreamReader::from_reader(
        Box::new(std::io::Cursor::new(capture.to_vec())),
        "fuzz",
        chunk,
    );
    let (whole, stream) = match (whole, stream) {
        (Ok(w), Ok(s)) => (w, s),
        (Err(_), Err(_)) => return,
        (w, s) => panic!(
            "whole reading {} but stream reading {}",
            if w.is_ok() { "works" } else { "fails" },
            if s.is_ok() { "works" } else { "fails" }
        ),
    };
    let mut kept = Collector::new(Keep::All);
    let report = analyze_packets(stream, usize::MAX, "fuzz", &settings, &mut |f| kept.add(f));
    assert_eq!(facts(&whole), facts(&kept.into_report(report)));
});
