//! The HTML report (`--html FILE`): one self-contained document — valid HTML5 (read
//! back with an HTML5 parser that lists its parse errors), no resource from elsewhere,
//! every failing code and every server with failures shown, packet text escaped — and,
//! where a Chromium is installed (`.ci/run` installs Debian's `chromium` and requires
//! it with `TLSWHY_REQUIRE_BROWSER`), rendered by the real browser without a console
//! error, with a screenshot.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use scraper::{Html, Selector};

/// Runs `analyze ARGS --html FILE -o json` and returns the page and the JSON records.
fn report(args: &[&str], dir: &Path) -> (String, Vec<serde_json::Value>) {
    let html = dir.join("report.html");
    let mut all: Vec<&str> = vec!["analyze", "-q", "-o", "json", "--html"];
    all.push(html.to_str().unwrap());
    all.extend_from_slice(args);
    let out = common::tlswhy(&all, None);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    (page, common::json_lines(&out.stdout))
}

/// Attributes that could name a resource elsewhere.
fn external_references(doc: &Html) -> Vec<String> {
    let mut found = Vec::new();
    let any = Selector::parse("*").unwrap();
    for el in doc.select(&any) {
        for (name, value) in el.value().attrs() {
            let v = value.trim();
            let reference = matches!(
                name,
                "src" | "href" | "action" | "srcset" | "poster" | "data"
            ) || (name == "xlink:href");
            if reference && !v.starts_with('#') {
                found.push(format!("<{} {name}={v:?}>", el.value().name()));
            }
        }
        if el.value().name() == "link" {
            found.push("<link>".into());
        }
    }
    let style = Selector::parse("style").unwrap();
    for s in doc.select(&style) {
        let css: String = s.text().collect();
        if css.contains("url(") || css.contains("@import") {
            found.push("a CSS url() or @import".into());
        }
    }
    found
}

#[test]
fn the_report_of_the_bundled_captures_is_valid_self_contained_html() {
    let dir = tempfile::tempdir().unwrap();
    let captures = common::captures();
    let (page, records) = report(&[captures.to_str().unwrap()], dir.path());
    let doc = Html::parse_document(&page);
    assert!(
        doc.errors.is_empty(),
        "HTML5 parse errors: {:?}",
        doc.errors
    );
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(external_references(&doc), Vec::<String>::new());

    // Every failing code has its section, every server with a failure its row.
    let failed: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["verdict"]["code"] != "ok")
        .collect();
    let codes: BTreeSet<&str> = failed
        .iter()
        .map(|r| r["verdict"]["code"].as_str().unwrap())
        .collect();
    assert!(codes.len() > 20, "{codes:?}");
    for code in &codes {
        let section = Selector::parse(&format!("section#code-{code}")).unwrap();
        assert_eq!(doc.select(&section).count(), 1, "no section for {code}");
    }
    let servers: BTreeSet<&str> = failed
        .iter()
        .map(|r| r["server"].as_str().unwrap())
        .collect();
    let cells = Selector::parse("table.servers td").unwrap();
    let shown: BTreeSet<String> = doc
        .select(&cells)
        .map(|td| td.text().collect::<String>())
        .collect();
    for server in &servers {
        assert!(shown.contains(*server), "server {server} not in the table");
    }
    // Each server's profile names the suites its completed handshakes over TCP used
    // (up to the few listed; QUIC attempts do not feed server profiles).
    let rows = Selector::parse("table.servers tbody tr").unwrap();
    let td = Selector::parse("td").unwrap();
    let profiles: std::collections::BTreeMap<String, String> = doc
        .select(&rows)
        .map(|row| {
            let cells: Vec<String> = row.select(&td).map(|c| c.text().collect()).collect();
            (cells[0].clone(), cells.last().cloned().unwrap_or_default())
        })
        .collect();
    let mut cited = 0;
    for r in records
        .iter()
        .filter(|r| r["verdict"]["code"] == "ok" && r["transport"].is_null())
    {
        let (Some(server), Some(cipher)) = (r["server"].as_str(), r["cipher"].as_str()) else {
            continue;
        };
        if let Some(profile) = profiles.get(server).filter(|p| !p.contains('…')) {
            assert!(
                profile.contains(cipher),
                "{server}: {cipher} not in {profile:?}"
            );
            cited += 1;
        }
    }
    assert!(cited > 10, "{cited} suites checked in server profiles");
    // Each example is an anchor named by its handshake id, linked to itself.
    let examples = Selector::parse("article.example").unwrap();
    let ids: Vec<String> = doc
        .select(&examples)
        .map(|a| a.value().id().unwrap().to_string())
        .collect();
    assert!(ids.len() >= codes.len(), "{} examples", ids.len());
    let json_ids: BTreeSet<String> = records
        .iter()
        .filter_map(|r| r["handshake_id"].as_str())
        .map(|id| format!("hs-{id}"))
        .collect();
    for id in &ids {
        assert!(
            json_ids.contains(id) || id.starts_with("capture") && id.contains("-frame"),
            "{id} is no record's handshake_id"
        );
        assert!(page.contains(&format!("href=\"#{id}\"")), "{id} not linked");
    }
    // The ladders: one per example, failures marked in words, not by colour only.
    let ladders = Selector::parse("article.example svg.ladder").unwrap();
    assert_eq!(doc.select(&ladders).count(), ids.len());
    let bad = Selector::parse("g.msg.bad text.what").unwrap();
    assert!(doc
        .select(&bad)
        .all(|t| t.text().collect::<String>().starts_with("✗ ")));
}

/// A server name that is markup stays text: the page holds no element it would make,
/// and shows the name escaped.
#[test]
fn a_hostile_server_name_is_shown_as_text() {
    let capture = common::captures().join("sni_hostile.pcap");
    let dir = tempfile::tempdir().unwrap();
    let (page, records) = report(&[capture.to_str().unwrap()], dir.path());
    let sni = records
        .iter()
        .find_map(|r| r["sni"].as_str().filter(|s| s.contains('<')))
        .expect("a record with markup in its SNI")
        .to_string();
    let doc = Html::parse_document(&page);
    assert!(doc.errors.is_empty(), "{:?}", doc.errors);
    let scripts = Selector::parse("script").unwrap();
    assert_eq!(
        doc.select(&scripts).count(),
        1,
        "only the report's own script"
    );
    for tag in ["img", "iframe", "object", "embed"] {
        let sel = Selector::parse(tag).unwrap();
        assert_eq!(doc.select(&sel).count(), 0, "a <{tag}> from packet text");
    }
    assert!(!page.contains(&sni), "the raw name is in the page");
    let body = Selector::parse("body").unwrap();
    let text: String = doc.select(&body).next().unwrap().text().collect();
    assert!(text.contains(&sni), "the name is not shown as text");
}

/// Chromium, where installed.
fn chromium() -> Option<PathBuf> {
    let required =
        std::env::var_os("TLSWHY_REQUIRE_BROWSER").is_some_and(|v| !v.is_empty() && v != "0");
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(name).output() {
            if out.status.success() {
                let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
                return Some(PathBuf::from(path));
            }
        }
    }
    assert!(
        !required,
        "TLSWHY_REQUIRE_BROWSER is set but no chromium is installed (apt-get install chromium)"
    );
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED the headless browser test: no chromium on PATH (Debian: apt-get install chromium)"
    );
    None
}

/// Headless Chromium loads the report of `captures/` from a file: the rendered DOM
/// holds every failing code and server, the console logs no error, the filter in the
/// address (`?filter=`) hides what does not match, and a screenshot is written.
#[test]
fn chromium_renders_the_report_without_errors() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let captures = common::captures();
    let (_, records) = report(&[captures.to_str().unwrap()], dir.path());
    let url = format!("file://{}", dir.path().join("report.html").display());
    let profile = dir.path().join("profile");
    let run = |extra: &[&str]| {
        Command::new(&browser)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
                // Nothing leaves the machine even if the page asked for it.
                "--host-resolver-rules=MAP * ~NOTFOUND",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&url)
            .output()
            .expect("run chromium")
    };
    let dom = run(&["--dump-dom"]);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let rendered = String::from_utf8_lossy(&dom.stdout);
    let log = String::from_utf8_lossy(&dom.stderr);
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    for r in records.iter().filter(|r| r["verdict"]["code"] != "ok") {
        let code = r["verdict"]["code"].as_str().unwrap();
        let server = r["server"].as_str().unwrap();
        assert!(rendered.contains(code), "{code} not rendered");
        assert!(rendered.contains(server), "{server} not rendered");
    }
    // Opened as `?filter=cert_expired` (a link a ticket can carry), the page's script
    // hides the examples of every other code.
    let filtered = Command::new(&browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("{url}?filter=cert_expired"))
        .output()
        .expect("run chromium");
    let dom = Html::parse_document(&String::from_utf8_lossy(&filtered.stdout));
    let examples = Selector::parse("article.example").unwrap();
    let (mut shown, mut hidden) = (0, 0);
    for a in dom.select(&examples) {
        let matches = a
            .value()
            .attr("data-filter")
            .unwrap()
            .contains("cert_expired");
        assert_eq!(
            a.value().attr("hidden").is_none(),
            matches,
            "{:?}",
            a.value().id()
        );
        if matches {
            shown += 1;
        } else {
            hidden += 1;
        }
    }
    assert!(shown >= 1 && hidden > 10, "{shown} shown, {hidden} hidden");
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report.png");
    let _ = std::fs::remove_file(&shot);
    let out = run(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1280,2000",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

/// The page does not grow with the capture: the same example budget and server rows
/// as the text report, so five times the handshakes (from the benchmark's generator,
/// with its mix of failures) make a page of about the same size, well under the 5 MB
/// the 1 GB benchmark file may take.
#[test]
fn the_page_stays_small_as_the_capture_grows() {
    let dir = tempfile::tempdir().unwrap();
    let size = |connections: &str| {
        let pcap = dir.path().join(format!("{connections}.pcap"));
        let truth = dir.path().join(format!("{connections}.truth"));
        common::gen_capture(
            &[
                "--connections",
                connections,
                "--bulk-kb",
                "0-1",
                "--seed",
                "4",
            ],
            &pcap,
            &truth,
        );
        let sub = dir.path().join(connections);
        std::fs::create_dir(&sub).unwrap();
        let (page, records) = report(&[pcap.to_str().unwrap()], &sub);
        let failed = records
            .iter()
            .filter(|r| r["verdict"]["code"] != "ok")
            .count();
        assert!(failed > 30, "{failed} failures");
        let doc = Html::parse_document(&page);
        assert!(doc.errors.is_empty(), "{:?}", doc.errors);
        page.len()
    };
    let (small, large) = (size("600"), size("3000"));
    assert!(large < 1_000_000, "{large} bytes");
    assert!(
        (large as f64) < 1.5 * small as f64,
        "600 connections: {small} bytes, 3000: {large} bytes"
    );
}
