//! A short Markdown summary for a CI job page (GitHub's `$GITHUB_STEP_SUMMARY`, GitLab
//! job artifacts): counts by verdict code, then each group of alike failures (same
//! code, server and SNI) with how many there are and the first one's one-line cause.

use std::io::{self, Write};

use super::group::{self, Shown};
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
    // One row per group of alike failures (same code, server and SNI) with an example.
    let rows: Vec<(Shown<'_>, &Handshake)> = counts
        .iter()
        .filter(|(code, _)| *code != Code::Ok)
        .flat_map(|&(code, _)| group::largest_first(reports, code))
        .filter_map(|g| g.example().map(|h| (g, h)))
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
    for (code, n) in &counts {
        writeln!(out, "| `{code}` | {n} |")?;
    }
    if !rows.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "| capture | client → server | SNI | verdict | alike | cause |"
        )?;
        writeln!(out, "|---|---|---|---|---:|---|")?;
        for (g, h) in &rows {
            writeln!(
                out,
                "| {} | {} → {} | {} | `{}` | {} | {} |",
                cell(&h.capture),
                h.client,
                h.server,
                cell(h.sni.as_deref().unwrap_or("—")),
                h.verdict.code,
                g.group.count,
                cell(&wording::summary(&h.verdict, &wording::Context::of(h)))
            )?;
        }
        let more = failed_count - rows.iter().map(|(g, _)| g.group.count).sum::<u64>();
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
