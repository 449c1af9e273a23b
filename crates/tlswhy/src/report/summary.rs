//! A short Markdown summary for a CI job page (GitHub's `$GITHUB_STEP_SUMMARY`, GitLab
//! job artifacts): counts by verdict code, then each failure with its one-line cause.

use std::io::{self, Write};

use super::wording;
use crate::diagnose::Code;
use crate::record::{CaptureReport, Handshake};
use crate::sanitize::escape;

/// Markdown table cells: escaped, with `|` and line breaks neutralised.
fn cell(text: &str) -> String {
    escape(text).replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Writes the summary.
pub fn write<W: Write>(
    out: &mut W,
    reports: &[CaptureReport],
    errors: &[(String, String)],
) -> io::Result<()> {
    let counts = super::total_counts(reports);
    let attempts: u64 = reports.iter().map(|r| r.attempts()).sum();
    let failed_count: u64 = reports.iter().map(|r| r.failed()).sum();
    let failed: Vec<&Handshake> = reports
        .iter()
        .flat_map(|r| r.handshakes.iter())
        .filter(|h| h.verdict.code != Code::Ok)
        .collect();
    writeln!(
        out,
        "## tlswhy: {attempts} TLS handshake(s), {failed_count} failed"
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{} capture(s), {} packets, {} TCP connections.",
        reports.len(),
        reports.iter().map(|r| r.stats.packets).sum::<u64>(),
        reports.iter().map(|r| r.stats.connections).sum::<u64>()
    )?;
    writeln!(out)?;
    writeln!(out, "| verdict | count |")?;
    writeln!(out, "|---|---:|")?;
    for (code, n) in counts {
        writeln!(out, "| `{code}` | {n} |")?;
    }
    if !failed.is_empty() {
        writeln!(out)?;
        writeln!(out, "| capture | client → server | SNI | verdict | cause |")?;
        writeln!(out, "|---|---|---|---|---|")?;
        for h in &failed {
            writeln!(
                out,
                "| {} | {} → {} | {} | `{}` | {} |",
                cell(&h.capture),
                h.client,
                h.server,
                cell(h.sni.as_deref().unwrap_or("—")),
                h.verdict.code,
                cell(&wording::summary(&h.verdict, &wording::Context::of(h)))
            )?;
        }
        let more = failed_count - failed.len() as u64;
        if more > 0 {
            writeln!(out)?;
            writeln!(
                out,
                "…and {more} more failure(s); `tlswhy analyze --format json` lists every one."
            )?;
        }
    }
    if !errors.is_empty() {
        writeln!(out)?;
        writeln!(out, "Inputs that could not be read:")?;
        for (name, message) in errors {
            writeln!(out, "- {}: {}", cell(name), cell(message))?;
        }
    }
    let damaged: Vec<&CaptureReport> = reports.iter().filter(|r| r.damage.is_some()).collect();
    if !damaged.is_empty() {
        writeln!(out)?;
        writeln!(out, "Damaged captures (analyzed up to the damage):")?;
        for r in damaged {
            writeln!(
                out,
                "- {}: {}",
                cell(&r.name),
                cell(&r.damage.as_ref().expect("filtered").to_string())
            )?;
        }
    }
    Ok(())
}
