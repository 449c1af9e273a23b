//! JUnit XML for CI test reporters (GitLab, Jenkins, GitHub): a test suite per capture,
//! a test case per handshake attempt named by client, server and SNI, and for each
//! failure an element carrying the verdict's code, summary, evidence and fix.

use std::io;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use tlswhy::diagnose::Code;
use tlswhy::record::{CaptureReport, Handshake};
use tlswhy::report::wording;
use tlswhy::sanitize::escape;

/// The test case name: `client → server (SNI name)`.
pub fn case_name(h: &Handshake) -> String {
    let sni = h
        .sni
        .as_deref()
        .map(escape)
        .unwrap_or_else(|| "no SNI".into());
    format!("{} → {} ({sni})", h.client, h.server)
}

/// Builds the report; unreadable inputs become suites with one errored case each.
pub fn build(reports: &[CaptureReport], errors: &[(String, String)]) -> Report {
    let mut report = Report::new("tlswhy");
    for r in reports {
        let mut suite = TestSuite::new(escape(&r.name));
        for h in &r.handshakes {
            let status = if h.verdict.code == Code::Ok {
                TestCaseStatus::success()
            } else {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_type(h.verdict.code.as_str());
                status.set_message(escape(&wording::summary(
                    &h.verdict,
                    &wording::Context::of(h),
                )));
                let mut text = String::from("evidence:\n");
                for e in &wording::evidence(&h.verdict, &wording::Context::of(h)) {
                    text.push_str(&format!("  - {}\n", escape(e)));
                }
                text.push_str(&format!("fix: {}\n", escape(&wording::fix(&h.verdict))));
                status.set_description(text);
                status
            };
            let mut case = TestCase::new(case_name(h), status);
            case.set_classname(escape(&r.name));
            suite.add_test_case(case);
        }
        if let Some(d) = &r.damage {
            suite.set_system_err(format!("capture damaged {d}; analyzed up to there"));
        }
        report.add_test_suite(suite);
    }
    for (name, message) in errors {
        let mut suite = TestSuite::new(escape(name));
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(escape(message));
        status.set_type("unreadable_input");
        suite.add_test_case(TestCase::new("read capture", status));
        report.add_test_suite(suite);
    }
    report
}

/// Writes the report as XML.
pub fn write<W: io::Write>(
    out: W,
    reports: &[CaptureReport],
    errors: &[(String, String)],
) -> io::Result<()> {
    build(reports, errors)
        .serialize(out)
        .map_err(io::Error::other)
}
