//! The HTML report: one self-contained file to hand on (a ticket, a postmortem) —
//! inline CSS and SVG, no external resource, readable without JavaScript (a few lines
//! of inline script add filtering) and in print. It shows what the text report shows,
//! from the same structured verdicts and with the same grouping and example budget:
//! an overview (captures, time span, failures by code, failures over time, the "ok,
//! but" warnings), the servers, and each failing code's groups of alike failures with
//! their example's summary, evidence, fix and ladder diagram. Each example has the
//! anchor `#hs-<handshake_id>`.
//!
//! Every string that came from packets goes through [`crate::sanitize::escape`]
//! (control characters shown as escapes) and then the template's HTML escaping, so a
//! server name like `<script>` is shown as text.

mod svg;

use std::io::{self, Write};

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::group::{self, Shown};
use super::servers::ServerRow;
use super::text::{ladder_lines, names_text, sni_text, time_range};
use super::wording;
use crate::diagnose::Code;
use crate::record::{CaptureReport, Handshake};
use crate::sanitize::escape;
use crate::tls::cert::format_unix;

/// Groups shown with their example in full, shared among the failing codes (at least
/// one each), as in the text report.
const DETAILED_GROUPS: usize = 15;
/// Groups of a code listed in a table after those shown in full.
const GROUPS_LISTED: usize = 8;
/// Servers in the table; the others are added up in one row.
const SERVER_ROWS: usize = 200;
/// Server rows shown without opening the table.
const SERVER_ROWS_OPEN: usize = 20;
/// Lines of a ladder diagram.
const LADDER_LINES: usize = 40;

/// Writes the report of `reports` as one HTML document.
pub fn write_html<W: Write>(out: &mut W, reports: &[CaptureReport]) -> io::Result<()> {
    out.write_all(page(reports).into_string().as_bytes())
}

fn page(reports: &[CaptureReport]) -> Markup {
    let counts = super::total_counts(reports);
    let failures: Vec<(Code, u64)> = counts
        .iter()
        .copied()
        .filter(|(c, _)| *c != Code::Ok)
        .collect();
    let attempts: u64 = counts.iter().map(|(_, n)| n).sum();
    let failed: u64 = failures.iter().map(|(_, n)| n).sum();
    let mut timeline = super::timeline::Timeline::default();
    for r in reports {
        timeline.merge(&r.timeline);
    }
    let buckets = timeline.buckets();
    let title = match reports {
        [one] => format!("tlswhy: {}", escape(&one.name)),
        _ => format!("tlswhy: {} captures", reports.len()),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { (title) }
                    p.totals {
                        (attempts) " handshake attempt(s), "
                        strong { (failed) " failed" }
                        @if failed > 0 { " (" (super::failure_counts(&counts)) ")" }
                        @if let (Some(first), Some(last)) = (buckets.first(), buckets.last()) {
                            br; "Capture time: " (time_range(first.from, last.to))
                        }
                    }
                    details.captures open[reports.len() <= 5] {
                        summary { (reports.len()) " capture(s)" }
                        (captures_table(reports))
                    }
                }
                nav.filter {
                    label for="filter" { "Filter by code, server or SNI: " }
                    input id="filter" type="search" placeholder="e.g. cert_expired or 10.0.0.5";
                }
                main {
                    (overview(reports, &failures, &buckets))
                    @if failed > 0 { (servers(reports)) }
                    @for &(code, count) in &failures {
                        (code_section(reports, code, count, detailed_per_code(&failures)))
                    }
                    @if attempts > 0 && failed == 0 {
                        p.good { "✓ Every handshake completed." }
                    }
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
}

/// Groups shown in full per failing code.
fn detailed_per_code(failures: &[(Code, u64)]) -> usize {
    (DETAILED_GROUPS / failures.len().max(1)).max(1)
}

/// The captures: name, packets, attempts, failures, time span, damage.
fn captures_table(reports: &[CaptureReport]) -> Markup {
    html! {
        table.captures {
            thead { tr { th { "capture" } th { "time span (UTC)" } th.n { "packets" }
                th.n { "attempts" } th.n { "failed" } th { "notes" } } }
            tbody {
                @for r in reports {
                    @let buckets = r.timeline.buckets();
                    tr {
                        td { (escape(&r.name)) }
                        td {
                            @if let (Some(first), Some(last)) = (buckets.first(), buckets.last()) {
                                (time_range(first.from, last.to))
                            }
                        }
                        td.n { (r.stats.packets) }
                        td.n { (r.attempts()) }
                        td.n { (r.failed()) }
                        td {
                            @if let Some(d) = &r.damage {
                                "damaged " (escape(&d.to_string())) "; analyzed up to there"
                            }
                            @if let Some(shortfall) = r.keys.shortfall() {
                                " keys: " (escape(&shortfall.to_string()))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Failures by code, failures over time, the warnings.
fn overview(
    reports: &[CaptureReport],
    failures: &[(Code, u64)],
    buckets: &[super::timeline::Bucket],
) -> Markup {
    let warnings = super::summed(reports.iter().map(|r| &r.warning_counts));
    html! {
        section #overview {
            h2 { "Overview" }
            @if !failures.is_empty() {
                h3 { "Failures by verdict code" }
                (svg::code_bars(failures))
            }
            @if !buckets.is_empty() {
                h3 { "Attempts and failures over capture time" }
                (svg::timeline(buckets))
            }
            @if !warnings.is_empty() {
                h3 { "Ok, but: completed with something weak or about to break" }
                table {
                    thead { tr { th { "warning" } th.n { "handshakes" } th { "meaning" } } }
                    tbody {
                        @for (w, n) in &warnings {
                            tr { td { code { (w.as_str()) } } td.n { (n) } td { (w.title()) } }
                        }
                    }
                }
            }
        }
    }
}

/// The servers with the most failures, then the others added up.
fn servers(reports: &[CaptureReport]) -> Markup {
    let (rows, untracked) = super::servers::most_failed_first(reports);
    let shown = rows.len().min(SERVER_ROWS);
    let mut others = ServerRow::default();
    for (_, row) in &rows[shown..] {
        others.merge(row);
    }
    let by_code = |row: &ServerRow| {
        super::failure_counts(&super::most_common_first(row.failures().collect()))
    };
    // One address in several captures: their profiles together.
    let profile_of = |server: &std::net::SocketAddr| {
        let mut merged: Option<crate::diagnose::profile::ProfileSummary> = None;
        for p in reports.iter().filter_map(|r| r.server_profiles.get(server)) {
            match &mut merged {
                Some(m) => m.merge(p),
                None => merged = Some(p.clone()),
            }
        }
        merged
    };
    html! {
        section #servers {
            h2 { "By server" }
            details open[shown <= SERVER_ROWS_OPEN] {
            summary { (rows.len()) " server(s), the most failures first" }
            table.servers {
                thead { tr { th { "server" } th.n { "handshakes" } th.n { "failed" }
                    th { "SNI asked for" } th { "failures by code" }
                    th { "what it showed (versions, suites, ALPN, certificate names)" } } }
                tbody {
                    @for (server, row) in &rows[..shown] {
                        @let names = names_text(row);
                        tr.filterable data-filter=(format!("{server} {names} {}", by_code(row))) {
                            td { (server) }
                            td.n { (row.handshakes) }
                            td.n { (row.failed()) }
                            td { (names) }
                            td { (by_code(row)) }
                            td.profile { @if let Some(p) = profile_of(server) { (profile(&p)) } }
                        }
                    }
                    @if rows.len() > shown {
                        tr { td { (rows.len() - shown) " other server(s)" } td.n { (others.handshakes) }
                            td.n { (others.failed()) } td {} td { (by_code(&others)) } td {} }
                    }
                    @if untracked.handshakes > 0 {
                        tr { td { "servers beyond the first " (super::servers::MAX_SERVERS) " of a capture" }
                            td.n { (untracked.handshakes) } td.n { (untracked.failed()) } td {}
                            td { (by_code(&untracked)) } td {} }
                    }
                }
            }
            }
        }
    }
}

/// A server's profile: the versions and suites it picked (with how often), the
/// protocols it selected, the names on its certificates (escaped: they come from the
/// packets).
fn profile(p: &crate::diagnose::profile::ProfileSummary) -> Markup {
    use crate::tls::wire::{CipherSuite, ProtocolVersion};
    let versions: Vec<String> = p
        .versions
        .iter()
        .map(|&(v, n)| format!("{} ×{n}", ProtocolVersion(v).name()))
        .collect();
    let mut suites: Vec<String> = p
        .suites
        .iter()
        .map(|&(s, n)| format!("{} ×{n}", CipherSuite(s).name()))
        .collect();
    if p.more_suites {
        suites.push("…".into());
    }
    let mut names: Vec<String> = p.certificate_names.iter().map(|n| escape(n)).collect();
    if p.more_names {
        names.push("…".into());
    }
    html! {
        @if !versions.is_empty() { div { (versions.join(", ")) } }
        @if !suites.is_empty() { div { code { (suites.join(", ")) } } }
        @if !p.alpn.is_empty() {
            div { "ALPN " (p.alpn.iter().map(|a| escape(a)).collect::<Vec<_>>().join(", ")) }
        }
        @if !names.is_empty() { div { "certificate: " (names.join(", ")) } }
    }
}

/// One failing code: its groups, largest first — the first `detailed` with their
/// example in full, the next in a table, the rest counted.
fn code_section(reports: &[CaptureReport], code: Code, count: u64, detailed: usize) -> Markup {
    let mut full = Vec::new();
    let mut rest = Vec::new();
    for g in group::largest_first(reports, code) {
        match g.example() {
            Some(h) if full.len() < detailed => full.push((g, h)),
            _ => rest.push(g),
        }
    }
    let listed = rest.len().min(GROUPS_LISTED);
    let untracked: u64 = reports.iter().map(|r| r.groups.untracked(code)).sum();
    html! {
        section.code id=(format!("code-{}", code.as_str())) {
            h2 { span.mark { "✗ " } code { (code.as_str()) } " — " (code.title()) " (" (count) ")" }
            @for (g, h) in &full {
                (example(g, h, reports.iter().position(|r| std::ptr::eq(r, g.report)).unwrap_or(0)))
            }
            @if listed > 0 {
                table.groups {
                    thead { tr { th.n { "alike" } th { "server" } th { "SNI" } th { "when" }
                        th { "capture, frames" } } }
                    tbody {
                        @for s in &rest[..listed] {
                            @let sni = sni_text(s.key.sni.as_deref());
                            tr.filterable data-filter=(format!("{} {} {sni}", code.as_str(), s.key.server)) {
                                td.n { "×" (s.group.count) }
                                td { (s.key.server) }
                                td { (sni) }
                                td { (time_range(s.group.first, s.group.last)) }
                                td { (escape(&s.report.name)) ", " (frames(s)) }
                            }
                        }
                    }
                }
            }
            @if rest.len() > listed {
                p.more { "… and " (rest.len() - listed) " more group(s) of "
                    (rest[listed..].iter().map(|s| s.group.count).sum::<u64>())
                    " handshake(s) (JSON Lines list every one)" }
            }
            @if untracked > 0 {
                p.more { "… and " (untracked) " handshake(s) only counted: a capture's first "
                    (group::MAX_GROUPS) " groups are tracked" }
            }
        }
    }
}

/// A group's first frames.
fn frames(s: &Shown<'_>) -> String {
    let mut frames = format!("frame {}", s.group.frame);
    for f in s.group.more_frames.iter().take(3) {
        frames.push_str(&format!(", {f}"));
    }
    if s.group.count > 4 {
        frames.push_str(", …");
    }
    frames
}

/// A group's example in full: where, how many alike, the summary, evidence, fix and
/// ladder; anchored `hs-<handshake_id>`, or `capture<N>-frame<F>` (the Nth capture)
/// without a ClientHello.
fn example(g: &Shown<'_>, h: &Handshake, capture: usize) -> Markup {
    let cx = wording::Context::of(h);
    let sni = sni_text(h.sni.as_deref());
    // Without a ClientHello there is no handshake id: the capture and frame name it.
    let id = match h.handshake_id {
        Some(id) => format!("hs-{id:016x}"),
        None => format!("capture{capture}-frame{}", h.frame),
    };
    let decrypted = h.verdict.proof == crate::diagnose::Proof::Decrypted;
    html! {
        article.example.filterable id=(id)
            data-filter=(format!("{} {} {} {sni}", h.verdict.code.as_str(), h.client, h.server)) {
            h3 {
                a.anchor href=(format!("#{id}")) title="Link to this handshake" { "#" }
                " " (h.client) " → " (h.server)
                @if h.quic.is_some() { " (QUIC)" }
                " · " (sni)
            }
            p.where {
                (escape(&h.capture)) ", frame " (h.frame) ", " (format_unix(h.ts.as_unix_secs()))
                @if g.group.count > 1 {
                    " · " strong { "×" (g.group.count) } " alike (same verdict, server and SNI), "
                    (time_range(g.group.first, g.group.last))
                }
            }
            @if let Some(at) = h.fallback_from_quic {
                p { "After an unanswered QUIC attempt (frame " (at.frame) "), the client fell back to TCP." }
            }
            @if !h.legs.is_empty() {
                p.legs {
                    "Relayed: one handshake seen on " (h.legs.len() + 1) " connections: "
                    (h.client) " → " (h.server)
                    @for (client, server) in &h.legs { " → " (server) " (from " (client) ")" }
                }
            }
            p.summary {
                (escape(&wording::summary(&h.verdict, &cx)))
                @if decrypted { " " span.tag { "decrypted with keys" } }
            }
            h4 { "Evidence" }
            ul.evidence {
                @for e in wording::evidence(&h.verdict, &cx) { li { (escape(&e)) } }
            }
            p.fix { strong { "Fix: " } (escape(&wording::fix(&h.verdict))) }
            (svg::ladder(&ladder_lines(h), LADDER_LINES))
        }
    }
}

const CSS: &str = r#"
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 1.5rem;color:#1b1b1b;background:#fff}
h1{font-size:1.5rem;margin:.2rem 0}h2{border-bottom:2px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
h3{font-size:1.05rem}code{font-family:ui-monospace,Menlo,Consolas,monospace}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#f1f1f1}.n{text-align:right}.totals{font-size:1.1rem}
.filter{position:sticky;top:0;background:#fff;padding:.5rem 0;border-bottom:1px solid #ddd}
.filter input{font-size:1rem;padding:.2rem .4rem;width:20rem}
.example{border:1px solid #bbb;border-left:6px solid #b00020;padding:.5rem 1rem;margin:1rem 0;page-break-inside:avoid}
.example h3{margin:.2rem 0}.anchor{text-decoration:none;color:#555}.where{color:#444;font-size:.9rem}
.summary{font-weight:600}.tag{font-weight:400;font-size:.8rem;border:1px solid #555;border-radius:3px;padding:0 .3rem}
.fix{background:#f6f6f6;padding:.3rem .5rem}.mark{color:#b00020}.good{font-size:1.1rem}.more{color:#444}
svg{max-width:100%;height:auto;display:block;margin:.5rem 0}
svg text{font:12px ui-monospace,Menlo,Consolas,monospace;fill:#1b1b1b}
.bar.all{fill:#9bb7d4}.bar.fail{fill:#8a1020;stroke:#000;stroke-dasharray:3 2}
.life{stroke:#777;stroke-width:2}.arrow{stroke:#1d4f91;stroke-width:1.5}.head{fill:#1d4f91}
.msg.bad .arrow{stroke:#b00020;stroke-dasharray:6 3;stroke-width:2}.msg.bad .head{fill:#b00020}.msg.bad .what{font-weight:bold}
.who{font-weight:bold}.time{fill:#555}
[hidden]{display:none!important}
@media print{.filter{display:none}.example{border-left-width:3px}body{max-width:none}}
"#;

/// Filtering: rows and examples whose `data-filter` text lacks a word typed are hidden;
/// `report.html?filter=WORDS` opens the page filtered (a link for a ticket). Without
/// JavaScript everything stays shown.
const SCRIPT: &str = r#"
(function(){var f=document.getElementById('filter');if(!f)return;
function apply(){var words=f.value.toLowerCase().split(/\s+/).filter(Boolean);
document.querySelectorAll('.filterable').forEach(function(el){var t=(el.getAttribute('data-filter')||'').toLowerCase();
el.hidden=!words.every(function(w){return t.indexOf(w)>=0;});});}
var q=new URLSearchParams(window.location.search).get('filter');if(q){f.value=q;apply();}
f.addEventListener('input',apply);})();
"#;
