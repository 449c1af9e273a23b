//! The HTML report's pictures, drawn as inline SVG: failures by code (bars), attempts
//! and failures over capture time (columns), and a handshake's ladder (client and
//! server columns, an arrow per event). Every label is text in the SVG, so a reader
//! without colour — or a printer — gets the same facts; failures are also drawn
//! dashed and marked ✗, never by colour alone.

use maud::{html, Markup};

use crate::diagnose::Code;
use crate::flow::{At, Dir};
use crate::report::timeline::Bucket;
use crate::sanitize::escape;

/// Pixels per row of a bar chart or a ladder.
const ROW: usize = 22;

/// Failures by code, one bar each, most common first, with the code and the count as
/// text.
pub fn code_bars(counts: &[(Code, u64)]) -> Markup {
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    let (label_w, bar_w) = (260, 420);
    let height = counts.len() * ROW + 4;
    html! {
        svg class="chart" role="img" aria-label="Failures by verdict code"
            width=(label_w + bar_w + 80) height=(height)
            viewBox=(format!("0 0 {} {height}", label_w + bar_w + 80)) {
            title { "Failures by verdict code" }
            @for (i, (code, n)) in counts.iter().enumerate() {
                @let y = i * ROW;
                @let w = ((*n as f64 / max as f64) * bar_w as f64).max(2.0);
                a href=(format!("#code-{}", code.as_str())) {
                    text x=(label_w - 8) y=(y + 15) text-anchor="end" class="label" {
                        (code.as_str())
                    }
                    rect x=(label_w) y=(y + 3) width=(format!("{w:.1}")) height=(ROW - 6)
                        class="bar fail" {}
                    text x=(format!("{:.1}", label_w as f64 + w + 6.0)) y=(y + 15) class="count" {
                        (n)
                    }
                }
            }
        }
    }
}

/// Attempts and failures over capture time: a column per bucket, its failed part
/// drawn over its whole, the counts in each column's title (shown on hover and read by
/// screen readers) and the span's ends as text.
pub fn timeline(buckets: &[Bucket]) -> Markup {
    let (w, h, axis) = (720usize, 120usize, 18usize);
    let max = buckets.iter().map(|b| b.attempts).max().unwrap_or(1).max(1);
    let col = w as f64 / buckets.len().max(1) as f64;
    let scale = |n: u64| (n as f64 / max as f64) * (h - axis) as f64;
    let first = buckets.first().map(|b| b.from);
    let last = buckets.last().map(|b| b.to);
    html! {
        svg class="chart" role="img" aria-label="Handshake attempts and failures over capture time"
            width=(w) height=(h) viewBox=(format!("0 0 {w} {h}")) {
            title { "Handshake attempts (whole column) and failures (dark, dashed) over capture time" }
            @for (i, b) in buckets.iter().enumerate() {
                @let x = i as f64 * col;
                @let all = scale(b.attempts);
                @let failed = scale(b.failures);
                g {
                    title {
                        (crate::tls::cert::format_unix(b.from.as_unix_secs()))
                        ": " (b.attempts) " attempt(s), " (b.failures) " failed"
                    }
                    rect x=(format!("{:.1}", x + 1.0)) y=(format!("{:.1}", (h - axis) as f64 - all))
                        width=(format!("{:.1}", (col - 2.0).max(1.0))) height=(format!("{all:.1}"))
                        class="bar all" {}
                    @if b.failures > 0 {
                        rect x=(format!("{:.1}", x + 1.0)) y=(format!("{:.1}", (h - axis) as f64 - failed))
                            width=(format!("{:.1}", (col - 2.0).max(1.0))) height=(format!("{failed:.1}"))
                            class="bar fail" {}
                    }
                }
            }
            @if let (Some(first), Some(last)) = (first, last) {
                text x="0" y=(h - 4) class="axis" { (crate::tls::cert::format_unix(first.as_unix_secs())) }
                text x=(w) y=(h - 4) text-anchor="end" class="axis" {
                    (crate::tls::cert::format_unix(last.as_unix_secs()))
                }
            }
        }
    }
}

/// Whether a ladder line is a failure's mark: an alert, a reset, a close with an
/// error, a stateless reset, ICMP.
fn is_bad(what: &str) -> bool {
    [
        "Alert",
        "alert",
        "RST",
        "CONNECTION_CLOSE",
        "stateless reset",
        "ICMP",
    ]
    .iter()
    .any(|w| what.contains(w))
}

/// A handshake's ladder: the client's and the server's columns, an arrow per line
/// (time since the first and the frame on the left), failures' marks dashed and ✗.
pub fn ladder(lines: &[(At, Dir, String)], max_lines: usize) -> Markup {
    let Some(start) = lines.first().map(|l| l.0.ts) else {
        return html! {};
    };
    let shown = &lines[..lines.len().min(max_lines)];
    let (time_w, client_x, server_x) = (150usize, 200usize, 620usize);
    let width = server_x + 40;
    let height = (shown.len() + 1) * ROW + 10;
    html! {
        svg class="ladder" role="img" aria-label="Ladder diagram of the handshake"
            width=(width) height=(height) viewBox=(format!("0 0 {width} {height}")) {
            title { "Ladder diagram: client on the left, server on the right" }
            text x=(client_x) y="14" text-anchor="middle" class="who" { "client" }
            text x=(server_x) y="14" text-anchor="middle" class="who" { "server" }
            line x1=(client_x) y1="20" x2=(client_x) y2=(height) class="life" {}
            line x1=(server_x) y1="20" x2=(server_x) y2=(height) class="life" {}
            @for (i, (at, dir, what)) in shown.iter().enumerate() {
                @let y = (i + 1) * ROW + 14;
                @let bad = is_bad(what);
                @let (x1, x2) = match dir {
                    Dir::ToServer => (client_x, server_x - 6),
                    Dir::ToClient => (server_x, client_x + 6),
                };
                @let head = match dir {
                    Dir::ToServer => format!("{},{} {},{} {},{}", x2, y, x2 - 8, y - 4, x2 - 8, y + 4),
                    Dir::ToClient => format!("{},{} {},{} {},{}", x2, y, x2 + 8, y - 4, x2 + 8, y + 4),
                };
                g class=(if bad { "msg bad" } else { "msg" }) {
                    text x=(time_w - 4) y=(y + 4) text-anchor="end" class="time" {
                        (format!("+{:.6}s #{}", at.ts.secs_since(start), at.frame))
                    }
                    line x1=(x1) y1=(y) x2=(x2) y2=(y) class="arrow" {}
                    polygon points=(head) class="head" {}
                    text x=((client_x + server_x) / 2) y=(y - 4) text-anchor="middle" class="what" {
                        @if bad { "✗ " }
                        (escape(what))
                    }
                }
            }
            @if lines.len() > shown.len() {
                text x=((client_x + server_x) / 2) y=(height - 4) text-anchor="middle" class="more" {
                    "… " (lines.len() - shown.len()) " more"
                }
            }
        }
    }
}
