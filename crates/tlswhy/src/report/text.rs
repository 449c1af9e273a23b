//! The human report: failures by code, alike ones grouped (same code, server and SNI:
//! [`super::group`]) with one example each, a per-server table, and the summary line
//! last. Every string that came from packets is escaped before it is printed, whether
//! or not colour is on.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::group::{self, Group, Shown};
use super::servers::ServerRow;
use super::wording;
use crate::capture::Timestamp;
use crate::diagnose::Code;
use crate::flow::{At, Dir};
use crate::record::{CaptureReport, Handshake};
use crate::sanitize::escape;
use crate::tls::cert::format_unix;

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

/// Groups shown in full (with their example's evidence, fix and ladder) in the whole
/// report, shared among the failing codes: at least one per code.
const DETAILED_GROUPS: usize = 15;

/// Groups of a code listed on one line each after those shown in full.
const GROUPS_LISTED: usize = 8;

/// Servers in the per-server table; the others are added up in one row.
const SERVER_ROWS: usize = 10;

/// Writes the report: failures by code (most common first), alike ones (same code,
/// server and SNI) as one group with a count, the largest groups each with the summary,
/// evidence, fix and ladder of their first handshake, the next ones on a line each; then
/// a table of the servers with the most failures, and the summary line.
pub fn write_report<W: Write>(
    out: &mut W,
    reports: &[CaptureReport],
    opts: Options,
) -> io::Result<()> {
    let st = opts.style;
    let counts = super::total_counts(reports);
    let failing_codes = counts.iter().filter(|(c, _)| *c != Code::Ok).count();
    let detailed = (DETAILED_GROUPS / failing_codes.max(1)).max(1);
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
        if code == Code::Ok {
            write_successes(out, reports, count, st)?;
        } else {
            write_groups(out, reports, code, detailed, st)?;
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
    if counts.iter().any(|(c, _)| *c != Code::Ok) {
        write_servers(out, reports, st)?;
    }
    write_summary(out, reports, st)
}

/// The successful handshakes kept, one block each.
fn write_successes<W: Write>(
    out: &mut W,
    reports: &[CaptureReport],
    count: u64,
    st: Style,
) -> io::Result<()> {
    let mut listed = 0;
    for h in reports
        .iter()
        .flat_map(|r| r.handshakes.iter())
        .filter(|h| h.verdict.code == Code::Ok)
    {
        write_handshake(out, h, None, st)?;
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
    Ok(())
}

/// The groups of one failing code, largest first: the first `detailed` that have an
/// example in full, the next [`GROUPS_LISTED`] on a line each, the rest counted.
fn write_groups<W: Write>(
    out: &mut W,
    reports: &[CaptureReport],
    code: Code,
    detailed: usize,
    st: Style,
) -> io::Result<()> {
    let mut shown = 0;
    let mut rest = Vec::new();
    for g in group::largest_first(reports, code) {
        match g.example() {
            Some(h) if shown < detailed => {
                write_handshake(out, h, Some(g.group), st)?;
                shown += 1;
            }
            _ => rest.push(g),
        }
    }
    let listed = rest.len().min(GROUPS_LISTED);
    let width = rest.first().map_or(0, |s| s.group.count.to_string().len());
    for Shown {
        report,
        key,
        group: g,
    } in &rest[..listed]
    {
        let mut frames = g.frame.to_string();
        for f in g.more_frames.iter().take(2) {
            let _ = write!(frames, ", {f}");
        }
        if g.count > 3 {
            frames.push_str(", …");
        }
        writeln!(
            out,
            "  ×{:<width$}  {}  {}  {}",
            g.count,
            st.bold(&key.server.to_string()),
            sni_text(key.sni.as_deref()),
            st.dim(&format!(
                "{}  [{}, frame{} {frames}]",
                time_range(g.first, g.last),
                escape(&report.name),
                if g.count > 1 { "s" } else { "" }
            ))
        )?;
    }
    let more = &rest[listed..];
    let untracked: u64 = reports.iter().map(|r| r.groups.untracked(code)).sum();
    if !more.is_empty() {
        writeln!(
            out,
            "  … and {} more group(s) of {} handshake(s) (--format json lists every handshake)",
            more.len(),
            more.iter().map(|s| s.group.count).sum::<u64>()
        )?;
    }
    if untracked > 0 {
        writeln!(
            out,
            "  … and {untracked} handshake(s) only counted: a capture's first {} groups are tracked",
            group::MAX_GROUPS
        )?;
    }
    if listed > 0 || untracked > 0 {
        writeln!(out)?;
    }
    Ok(())
}

/// `SNI name` (escaped) or `no SNI`.
pub fn sni_text(sni: Option<&str>) -> String {
    match sni {
        Some(s) => format!("SNI {}", escape(s)),
        None => "no SNI".to_string(),
    }
}

/// `2026-01-02 10:00:01 – 10:00:09 UTC` (the day once when it is the same), or one
/// time.
pub fn time_range(first: Timestamp, last: Timestamp) -> String {
    let from = format_unix(first.as_unix_secs());
    if last.as_unix_secs() == first.as_unix_secs() {
        return from;
    }
    let to = format_unix(last.as_unix_secs());
    match (from.split_once(' '), to.split_once(' ')) {
        (Some((day, from_time)), Some((to_day, to_time))) if day == to_day => {
            let from_time = from_time.trim_end_matches(" UTC");
            format!("{day} {from_time} – {to_time}")
        }
        _ => format!("{from} – {to}"),
    }
}

/// The per-server table: the servers with the most failures, one row each (with the
/// first names clients asked for), the others added up in one row, so that the rows
/// add up to the summary's totals.
fn write_servers<W: Write>(out: &mut W, reports: &[CaptureReport], st: Style) -> io::Result<()> {
    let (rows, untracked) = super::servers::most_failed_first(reports);
    let servers = rows.len();
    let shown = servers.min(SERVER_ROWS);
    let mut table: Vec<[String; 5]> = Vec::new();
    for (server, row) in &rows[..shown] {
        table.push(server_cells(server.to_string(), row, names_text(row)));
    }
    if servers > shown {
        let mut others = ServerRow::default();
        for (_, row) in &rows[shown..] {
            others.merge(row);
        }
        let label = format!("{} other server(s)", servers - shown);
        table.push(server_cells(label, &others, String::new()));
    }
    if untracked.handshakes > 0 {
        let label = format!(
            "servers beyond the first {} of a capture",
            super::servers::MAX_SERVERS
        );
        table.push(server_cells(label, &untracked, String::new()));
    }
    let heading = if servers > shown {
        format!(" {servers} servers, the {shown} with the most failures first")
    } else {
        String::new()
    };
    writeln!(out, "{}{heading}", st.bold("by server:"))?;
    let header = [
        "server".to_string(),
        "handshakes".into(),
        "failed".into(),
        "SNI".into(),
        "failures by code".into(),
    ];
    let mut widths = [0; 5];
    for row in std::iter::once(&header).chain(&table) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for (i, row) in std::iter::once(&header).chain(&table).enumerate() {
        let line = format!(
            "  {:<w0$}  {:>w1$}  {:>w2$}  {:<w3$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        );
        let line = line.trim_end();
        if i == 0 {
            writeln!(out, "{}", st.dim(line))?;
        } else {
            writeln!(out, "{line}")?;
        }
    }
    writeln!(out)
}

/// The names a server was asked for: the first (escaped), and how many others.
pub fn names_text(row: &ServerRow) -> String {
    let Some(first) = row.names.first() else {
        return String::new();
    };
    let others = row.names.len() - 1;
    match (others, row.more_names) {
        (0, _) => escape(first),
        (n, false) => format!("{} and {n} more", escape(first)),
        (n, true) => format!("{} and {}+ more", escape(first), n + 1),
    }
}

/// A row of the per-server table: label, handshakes, failed, names, failures by code
/// (most common first).
fn server_cells(label: String, row: &ServerRow, names: String) -> [String; 5] {
    let by_code = super::failure_counts(&super::most_common_first(row.failures().collect()));
    [
        label,
        row.handshakes.to_string(),
        row.failed().to_string(),
        names,
        by_code,
    ]
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
    write_handshake(out, h, None, st)
}

/// One handshake: where, its summary, and for a failure its evidence, fix and ladder;
/// with the `group` it is the example of, how many are alike and when.
fn write_handshake<W: Write>(
    out: &mut W,
    h: &Handshake,
    group: Option<&Group>,
    st: Style,
) -> io::Result<()> {
    let sni = sni_text(h.sni.as_deref());
    writeln!(
        out,
        "  {} → {}{}  {}  {}",
        st.bold(&h.client.to_string()),
        st.bold(&h.server.to_string()),
        if h.quic.is_some() { " QUIC" } else { "" },
        sni,
        st.dim(&format!("[{}, frame {}]", escape(&h.capture), h.frame))
    )?;
    if let Some(at) = h.fallback_from_quic {
        writeln!(
            out,
            "  after an unanswered QUIC attempt (frame {}): the client fell back to TCP",
            at.frame
        )?;
    }
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
    if let Some(g) = group.filter(|g| g.count > 1) {
        let mut frames = String::new();
        for f in &g.more_frames {
            let sep = if frames.is_empty() { "" } else { ", " };
            let _ = write!(frames, "{sep}{f}");
        }
        if g.count - 1 > g.more_frames.len() as u64 {
            frames.push_str(", …");
        }
        writeln!(
            out,
            "  {} alike (same verdict, server and SNI), {}: this one, and {} more at frames {frames}",
            st.bold(&format!("×{}", g.count)),
            time_range(g.first, g.last),
            g.count - 1
        )?;
    }
    let cx = wording::Context::of(h);
    // Which verdicts rest on decrypted messages, and which are read from the clear.
    let proof = match h.verdict.proof {
        crate::diagnose::Proof::Decrypted => " [decrypted with keys]",
        crate::diagnose::Proof::Inferred => "",
    };
    writeln!(
        out,
        "  {}{proof}",
        escape(&wording::summary(&h.verdict, &cx))
    )?;
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
    let lines = ladder_lines(h);
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

/// A handshake's ladder: its TCP events (SYN, SYN-ACK, FIN, RST) and its messages (or
/// a QUIC attempt's datagrams), in capture order, as (where, from, what) — not escaped.
pub fn ladder_lines(h: &Handshake) -> Vec<(At, Dir, String)> {
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
    lines
}

/// The closing summary: files, packets, connections, handshakes, failures by code.
pub fn write_summary<W: Write>(
    out: &mut W,
    reports: &[CaptureReport],
    st: Style,
) -> io::Result<()> {
    let packets: u64 = reports.iter().map(|r| r.stats.packets).sum();
    let connections: u64 = reports.iter().map(|r| r.stats.connections).sum();
    let quic_attempts: u64 = reports.iter().map(|r| r.stats.quic_attempts).sum();
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
    // Keys that did not open every handshake they were given for.
    for r in reports {
        if let Some(shortfall) = r.keys.shortfall() {
            writeln!(out, "{} {}: {shortfall}", st.bold("keys:"), escape(&r.name))?;
        }
    }
    // DTLS is seen, not analyzed: say so rather than report nothing.
    for r in reports {
        if let Some(dtls) = r.stats.dtls_not_analyzed() {
            writeln!(
                out,
                "{} {}: {dtls}",
                st.bold("not analyzed:"),
                escape(&r.name)
            )?;
        }
    }
    // Encapsulations recognised but not looked into: TLS inside them is not counted.
    for r in reports {
        for (what, n) in &r.stats.undecoded_encapsulations {
            writeln!(
                out,
                "{} {}: {n} packet(s) inside {what} were not decoded",
                st.bold("not decoded:"),
                escape(&r.name)
            )?;
        }
    }
    writeln!(
        out,
        "{} {} file(s), {} packets, {} TCP connections{}, {} TLS handshake attempts, {} failed{}",
        st.bold("summary:"),
        reports.len(),
        packets,
        connections,
        if quic_attempts > 0 {
            format!(", {quic_attempts} QUIC attempts")
        } else {
            String::new()
        },
        attempts,
        failed,
        if by_code.is_empty() {
            String::new()
        } else {
            format!(" ({by_code})")
        }
    )
}
