//! The human report. Every string that came from packets is escaped before it is
//! printed, whether or not colour is on.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::wording;
use crate::diagnose::Code;
use crate::flow::{At, Dir};
use crate::record::{CaptureReport, Handshake};
use crate::sanitize::escape;

/// Terminal styling: plain when colour is off.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    fn red(&self, t: &str) -> String {
        self.paint("1;31", t)
    }
    fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
}

/// Options for the report.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub show_ok: bool,
    pub style: Style,
}

/// Writes the report: groups by code (most common first), each handshake with its
/// summary, evidence, fix and ladder; then the summary line.
pub fn write_report<W: Write>(
    out: &mut W,
    reports: &[CaptureReport],
    opts: Options,
) -> io::Result<()> {
    let st = opts.style;
    let shown: Vec<&Handshake> = reports
        .iter()
        .flat_map(|r| r.handshakes.iter())
        .filter(|h| opts.show_ok || h.verdict.code != Code::Ok)
        .collect();
    let counts = super::total_counts(reports);
    for &(code, count) in &counts {
        if code == Code::Ok && !opts.show_ok {
            continue;
        }
        let mark = if code == Code::Ok {
            st.green("✓")
        } else {
            st.red("✗")
        };
        writeln!(
            out,
            "{mark} {} — {} ({count})",
            st.bold(code.as_str()),
            code.title()
        )?;
        writeln!(out)?;
        let mut listed = 0;
        for h in shown.iter().filter(|h| h.verdict.code == code) {
            write_handshake(out, h, st)?;
            listed += 1;
        }
        if count > listed {
            writeln!(
                out,
                "  … and {} more with this verdict (--format json lists every handshake)",
                count - listed
            )?;
            writeln!(out)?;
        }
    }
    let attempts: u64 = counts.iter().map(|(_, n)| n).sum();
    if attempts > 0 && counts.iter().all(|(c, _)| *c == Code::Ok) && !opts.show_ok {
        writeln!(
            out,
            "{} every handshake completed (use --all to list them)",
            st.green("✓")
        )?;
        writeln!(out)?;
    }
    write_summary(out, reports, st)
}

/// One handshake on its own, with its code first (live capture prints these as they
/// resolve).
pub fn write_handshake_line<W: Write>(out: &mut W, h: &Handshake, st: Style) -> io::Result<()> {
    let code = h.verdict.code;
    let mark = if code == Code::Ok {
        st.green("✓")
    } else {
        st.red("✗")
    };
    writeln!(out, "{mark} {} — {}", st.bold(code.as_str()), code.title())?;
    write_handshake(out, h, st)
}

fn write_handshake<W: Write>(out: &mut W, h: &Handshake, st: Style) -> io::Result<()> {
    let sni = match &h.sni {
        Some(s) => format!("SNI {}", escape(s)),
        None => "no SNI".to_string(),
    };
    writeln!(
        out,
        "  {} → {}  {}  {}",
        st.bold(&h.client.to_string()),
        st.bold(&h.server.to_string()),
        sni,
        st.dim(&format!("[{}, frame {}]", escape(&h.capture), h.frame))
    )?;
    if !h.legs.is_empty() {
        let mut path = format!("{} → {}", h.client, h.server);
        for (client, server) in &h.legs {
            let _ = write!(path, " → {server} (from {client})");
        }
        writeln!(
            out,
            "  relayed: one handshake seen on {} connections: {path}",
            h.legs.len() + 1
        )?;
    }
    let cx = wording::Context::of(h);
    writeln!(out, "  {}", escape(&wording::summary(&h.verdict, &cx)))?;
    if h.verdict.code != Code::Ok {
        for e in &wording::evidence(&h.verdict, &cx) {
            writeln!(out, "    • {}", escape(e))?;
        }
        writeln!(
            out,
            "  {} {}",
            st.bold("fix:"),
            escape(&wording::fix(&h.verdict))
        )?;
        write_ladder(out, h, st)?;
    }
    writeln!(out)
}

/// The messages between client and server, one per line, in capture order.
fn write_ladder<W: Write>(out: &mut W, h: &Handshake, st: Style) -> io::Result<()> {
    let mut lines: Vec<(At, Dir, String)> = Vec::new();
    let t = &h.tcp;
    if let Some(at) = t.syn {
        let times = if t.syn_count > 1 {
            format!(" ×{}", t.syn_count)
        } else {
            String::new()
        };
        lines.push((at, Dir::ToServer, format!("SYN{times}")));
    }
    if let Some(at) = t.syn_ack {
        lines.push((at, Dir::ToClient, "SYN-ACK".into()));
    }
    for dir in [Dir::ToServer, Dir::ToClient] {
        if let Some(at) = t.fin[dir.index()] {
            lines.push((at, dir, "FIN".into()));
        }
        if let Some(at) = t.rst[dir.index()] {
            lines.push((at, dir, "RST".into()));
        }
    }
    lines.extend(
        h.messages
            .iter()
            .map(|e| (e.at, e.from, e.what.to_string())),
    );
    lines.sort_by_key(|(at, _, _)| *at);
    let Some(start) = lines.first().map(|l| l.0.ts) else {
        return Ok(());
    };
    writeln!(
        out,
        "  {}",
        st.dim(&format!("{:>12}   client        server", ""))
    )?;
    for (at, dir, what) in lines.iter().take(40) {
        let arrow = match dir {
            Dir::ToServer => "  ─────────▶  ",
            Dir::ToClient => "  ◀─────────  ",
        };
        writeln!(
            out,
            "  {}  #{:<5}{}{}",
            st.dim(&format!("+{:.6}s", at.ts.secs_since(start))),
            at.frame,
            arrow,
            escape(what)
        )?;
    }
    if lines.len() > 40 {
        writeln!(out, "  … {} more", lines.len() - 40)?;
    }
    Ok(())
}

/// The closing summary: files, packets, connections, handshakes, failures by code.
pub fn write_summary<W: Write>(
    out: &mut W,
    reports: &[CaptureReport],
    st: Style,
) -> io::Result<()> {
    let packets: u64 = reports.iter().map(|r| r.stats.packets).sum();
    let connections: u64 = reports.iter().map(|r| r.stats.connections).sum();
    let counts = super::total_counts(reports);
    let attempts: u64 = counts.iter().map(|(_, n)| n).sum();
    let by_code = super::failure_counts(&counts);
    let failed: u64 = reports.iter().map(|r| r.failed()).sum();
    if reports.len() > 1 {
        for r in reports {
            writeln!(
                out,
                "  {}: {} packets, {} TLS handshake attempts, {} failed{}",
                escape(&r.name),
                r.stats.packets,
                r.attempts(),
                r.failed(),
                if r.damage.is_some() {
                    " (damaged: analyzed up to the damage)"
                } else {
                    ""
                }
            )?;
        }
    }
    // "ok, but": completed handshakes with something weak or about to break.
    let warnings = super::summed(reports.iter().map(|r| &r.warning_counts));
    if !warnings.is_empty() {
        writeln!(
            out,
            "{} handshakes that completed with something weak or about to break:",
            st.bold("ok, but:")
        )?;
        for (w, n) in warnings {
            writeln!(out, "  {w} {n}: {}", w.title())?;
        }
    }
    writeln!(
        out,
        "{} {} file(s), {} packets, {} TCP connections, {} TLS handshake attempts, {} failed{}",
        st.bold("summary:"),
        reports.len(),
        packets,
        connections,
        attempts,
        failed,
        if by_code.is_empty() {
            String::new()
        } else {
            format!(" ({by_code})")
        }
    )
}
