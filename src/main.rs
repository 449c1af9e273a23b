//! The `tlswhy` binary: parses arguments, runs the library over the inputs (files in
//! parallel, output in input order) or a live interface, prints the report and sets the
//! exit status: 0 nothing matched `--fail-on`, 1 a handshake matched, 2 bad usage or
//! unreadable input. A closed pipe (`tlswhy … | head`) is not an error.

mod cli;
mod junit;
mod lines_out;
mod meter;
mod outputs;
mod pages;
mod parquet_out;
mod terminal;

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use rayon::prelude::*;

use cli::{AnalyzeArgs, Cli, Command, Format, OutputArgs};
use lines_out::LinesOut;
use outputs::OutputFile;
use tlswhy::capture::Source;
use tlswhy::diagnose::{self, Code, Warning};
use tlswhy::inputs;
use tlswhy::pipeline;
use tlswhy::pipeline::Settings;
use tlswhy::record::CaptureReport;
use tlswhy::report;
use tlswhy::report::collect::{Collector, Keep};
use tlswhy::report::pcap::PcapWriter;
use tlswhy::sanitize::escape;

/// mimalloc: the analysis makes and frees many small objects per connection, on
/// several threads; glibc's allocator spends a third of the run on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Analyze(args) => run_analyze(&args),
        Command::Live(args) => run_live(&args),
        Command::Completions { shell } => pages::completions(shell, &mut io::stdout()),
        Command::Man => pages::man(&mut io::stdout()),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tlswhy: {e}");
            ExitCode::from(2)
        }
    }
}

/// Failing handshakes of one code that the text report details per capture; the rest
/// are counted ("… and N more"), and `--format json` lists every one.
const EXAMPLES_PER_CODE: usize = 100;

/// Which verdicts make the exit status 1.
enum FailOn {
    Never,
    AnyFailure,
    Codes(Vec<Code>, Vec<Warning>),
}

impl FailOn {
    fn parse(spec: Option<&str>) -> Result<FailOn, String> {
        let Some(spec) = spec else {
            return Ok(FailOn::Never);
        };
        if spec.trim() == "failed" {
            return Ok(FailOn::AnyFailure);
        }
        let (mut codes, mut warnings) = (Vec::new(), Vec::new());
        for name in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match (name.parse::<Code>(), name.parse::<Warning>()) {
                (Ok(code), _) => codes.push(code),
                (_, Ok(warning)) => warnings.push(warning),
                (Err(e), Err(_)) => return Err(e),
            }
        }
        if codes.is_empty() && warnings.is_empty() {
            return Err("--fail-on needs 'failed' or a list of verdict codes or warnings".into());
        }
        Ok(FailOn::Codes(codes, warnings))
    }

    fn matches(&self, code: Code) -> bool {
        match self {
            FailOn::Never => false,
            FailOn::AnyFailure => code != Code::Ok,
            FailOn::Codes(codes, _) => codes.contains(&code),
        }
    }

    fn matches_warning(&self, warning: Warning) -> bool {
        matches!(self, FailOn::Codes(_, warnings) if warnings.contains(&warning))
    }
}

/// What `analyze` and `live` share: validated options.
struct Common {
    fail_on: FailOn,
    settings: Settings,
    color: bool,
}

/// The settings both commands share. `keys`: read the `--keylog` files into the
/// settings (`live` follows them itself, reading them once).
fn common(args: &OutputArgs, keys: bool) -> Result<Common, String> {
    let fail_on = FailOn::parse(args.fail_on.as_deref()).map_err(|e| {
        let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        let warnings: Vec<&str> = Warning::ALL.iter().map(|w| w.as_str()).collect();
        format!(
            "{e} (codes: failed, {}; warnings: {})",
            codes.join(", "),
            warnings.join(", ")
        )
    })?;
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err("--timeout must be a positive number of seconds".into());
    }
    if !(args.flow_idle_timeout.is_finite()
        && args.flow_idle_timeout >= args.timeout
        && args.flow_idle_timeout <= 1e9)
    {
        return Err(
            "--flow-idle-timeout must be a number of seconds no smaller than --timeout".into(),
        );
    }
    let limits = tlswhy::limits::Limits {
        max_flows: args.max_flows.max(1),
        max_handshake_message: args.max_handshake_bytes,
        max_pending_bytes: args.max_pending_bytes,
        max_chain: args.max_chain,
        max_records: args.max_records,
        flow_idle_timeout: std::time::Duration::from_secs_f64(args.flow_idle_timeout),
        ..Default::default()
    };
    let mut settings = Settings {
        diagnosis: diagnose::Settings {
            response_timeout: args.timeout,
            limits,
            ..Default::default()
        },
        keep_failing_packets: args.write.is_some(),
        detail: args.detail.into(),
        ..Settings::default()
    };
    settings
        .diagnosis
        .tls_ports
        .extend(args.ports.iter().copied());
    if keys && !args.keylog.is_empty() {
        let keys = tlswhy::keys::KeyLog::new();
        for path in &args.keylog {
            keys.add_file(path)
                .map_err(|e| format!("--keylog {}: {e}", path.display()))?;
        }
        settings.keys = Some(std::sync::Arc::new(keys));
    }
    let color = terminal::color(
        args.color,
        io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
        std::env::var_os("TERM").as_deref(),
    );
    Ok(Common {
        fail_on,
        settings,
        color,
    })
}

fn run_analyze(args: &AnalyzeArgs) -> io::Result<ExitCode> {
    let out_args = &args.output;
    let Common {
        fail_on,
        settings,
        color,
    } = match common(out_args, true) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tlswhy: {e}");
            return Ok(ExitCode::from(2));
        }
    };

    // Unreadable inputs: reported, remembered for JUnit/summary, exit status 2.
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut sources = Vec::new();
    for item in inputs::expand_inputs(&args.paths) {
        match item {
            Ok(s) => sources.push(s),
            Err(e) => errors.push((e.split(':').next().unwrap_or("").to_string(), e)),
        }
    }
    if sources.is_empty() && errors.is_empty() {
        eprintln!("tlswhy: no capture files found in the given folders");
        return Ok(ExitCode::from(2));
    }
    let parquet_to_stdout = out_args.format == Format::Parquet;
    if parquet_to_stdout && io::stdout().is_terminal() {
        eprintln!(
            "tlswhy: --format parquet writes binary data to standard output, which is a terminal: \
             redirect it to a file, or give --parquet FILE"
        );
        return Ok(ExitCode::from(2));
    }
    let parquet_path = args.parquet.as_deref().map(parquet_out::destination);
    // An output that is an input would destroy it: refused before anything is read.
    let output_files: Vec<(&str, &std::path::Path)> = [
        ("--parquet", parquet_path.as_deref()),
        ("--write", out_args.write.as_deref()),
        ("--junit", args.junit.as_deref()),
        ("--html", args.html.as_deref()),
        ("--summary", args.summary.as_deref()),
    ]
    .into_iter()
    .filter_map(|(option, path)| Some((option, path?)))
    .collect();
    if settings.keys.as_ref().is_some_and(|k| k.is_empty()) {
        eprintln!(
            "tlswhy: --keylog: no TLS secrets in {} (NSS key log lines such as CLIENT_RANDOM \
             or CLIENT_HANDSHAKE_TRAFFIC_SECRET)",
            out_args
                .keylog
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(ExitCode::from(2));
    }
    // Key logs are inputs too.
    let inputs: Vec<Source> = sources
        .iter()
        .cloned()
        .chain(out_args.keylog.iter().cloned().map(Source::File))
        .collect();
    if let Err(e) = outputs::check(&output_files, &args.paths, &inputs, out_args.force) {
        eprintln!("tlswhy: {e}");
        return Ok(ExitCode::from(2));
    }
    if !out_args.quiet {
        if let Some(note) = terminal::stdin_note(&args.paths, io::stdin().is_terminal()) {
            eprintln!("tlswhy: {note}");
        }
    }
    if let Some(n) = args.threads {
        // Only fails when the pool already exists, which it does not here.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
    let mut settings = settings;
    settings.memory_map = args.mmap;
    settings.threads = if sources.len() == 1 {
        rayon::current_num_threads()
    } else {
        1
    };
    let keep = if args.junit.is_some() {
        Keep::All
    } else {
        Keep::Examples {
            per_code: EXAMPLES_PER_CODE,
            ok: out_args.all,
        }
    };
    // A progress line on a terminal for long runs (it shows after a second).
    let meter = (io::stderr().is_terminal() && !out_args.quiet).then(|| {
        let progress = std::sync::Arc::new(tlswhy::progress::Progress::default());
        settings.progress = Some(std::sync::Arc::clone(&progress));
        let sizes: Option<u64> = sources
            .iter()
            .map(|s| match s {
                Source::File(p) if !inputs::is_gzip_name(p) => {
                    std::fs::metadata(p).ok().map(|m| m.len())
                }
                _ => None,
            })
            .sum();
        meter::Meter::start(progress, sizes)
    });
    let json = out_args.format == Format::Json;
    let parquet = parquet_to_stdout || parquet_path.is_some();
    let mut parquet_out = match (&parquet_path, parquet_to_stdout) {
        (Some(path), _) => Some(parquet_out::ParquetOut::to_file(path)?),
        (None, true) => Some(parquet_out::ParquetOut::to_stdout()?),
        (None, false) => None,
    };
    settings.render_json = json || parquet;
    // JSON Lines alone: the records themselves are only read by the summary and JUnit.
    settings.json_only = (json || parquet_to_stdout)
        && args.junit.is_none()
        && args.summary.is_none()
        && args.html.is_none();
    // The text report without --all only counts successes; JUnit lists them.
    settings.ok_records = json || parquet || out_args.all || args.junit.is_some();
    // JSON Lines stream out as the records are made: straight to standard output for
    // one input (see `lines_out`), through a buffer per file (printed in input order)
    // for several.
    let mut lines_out =
        (json && sources.len() == 1).then(|| LinesOut::new(io::stdout(), settings.threads));
    let mut stdout = BufWriter::with_capacity(1 << 16, io::stdout());
    let mut write_error: Option<io::Error> = None;
    let merge = args.merge_profiles && sources.len() > 1;
    if merge && sources.iter().any(|s| matches!(s, Source::Stdin)) {
        eprintln!(
            "tlswhy: --merge-profiles reads the files whose verdicts cite profiles twice; \
             standard input cannot be read twice"
        );
        return Ok(ExitCode::from(2));
    }
    settings.keep_profiles = merge;
    // The text report shows some failures of each code: the others need no text.
    let settings_for = |kept: &Collector| Settings {
        examples: kept.budget(),
        ..settings.clone()
    };
    let results: Vec<(Result<CaptureReport, _>, Vec<u8>)> = if sources.len() == 1 {
        let mut kept = Collector::new(keep);
        let settings = settings_for(&kept);
        let result = pipeline::analyze_source_into(&sources[0], &settings, &mut |mut f| {
            if let Some(line) = &mut f.json_line {
                if let Some(p) = &mut parquet_out {
                    p.push_lines(line);
                }
                // The line may move to the writing thread; the record then keeps an
                // empty one (the collector reads only that it had a line).
                if let (Some(out), None) = (&mut lines_out, &write_error) {
                    if let Err(e) = out.push(line) {
                        write_error = Some(e);
                    }
                }
            }
            kept.add(f);
        });
        vec![(result.map(|r| kept.into_report(r)), Vec::new())]
    } else {
        // With --merge-profiles, the verdicts that cite profiles are left out of the
        // first pass and made in a second one, from every file's profiles merged.
        let firsts: Vec<FirstPass> = sources
            .par_iter()
            .map(|source| {
                let mut kept = Collector::new(keep);
                let settings = settings_for(&kept);
                let mut lines = Vec::new();
                let mut held = false;
                let result = pipeline::analyze_source_into(source, &settings, &mut |f| {
                    if merge && f.cites_profiles {
                        held = true;
                        return;
                    }
                    if let Some(line) = &f.json_line {
                        lines.extend_from_slice(line);
                    }
                    kept.add(f);
                });
                FirstPass {
                    result,
                    lines,
                    kept,
                    held,
                }
            })
            .collect();
        if merge {
            second_pass(&sources, firsts, &settings_for)
        } else {
            firsts
                .into_iter()
                .map(|f| (f.result.map(|r| f.kept.into_report(r)), f.lines))
                .collect()
        }
    };
    if let Some(m) = meter {
        m.finish();
    }
    if let Some(e) = write_error {
        return Err(e);
    }
    // Several files: their records become Arrow batches side by side; the Parquet
    // file takes them in input order.
    let mut batches: Vec<Option<parquet_out::Batches>> = match &parquet_out {
        Some(_) if sources.len() > 1 => results
            .par_iter()
            .map(|(_, lines)| Some(parquet_out::batches_of(lines)))
            .collect(),
        _ => Vec::new(),
    };
    let mut reports: Vec<CaptureReport> = Vec::new();
    for (i, (source, (result, lines))) in sources.iter().zip(results).enumerate() {
        if json {
            stdout.write_all(&lines)?;
        }
        if let Some(p) = &mut parquet_out {
            match batches.get_mut(i).and_then(Option::take) {
                Some(made) => p.push_batches(made),
                None => p.push_lines(&lines),
            }
        }
        match result {
            Ok(r) => {
                // With --strict the damage decides the exit status: then it is an error,
                // which --quiet does not hide.
                match &r.damage {
                    Some(d) if args.strict => eprintln!(
                        "tlswhy: {}: capture damaged {d}; analyzed up to there, exit status 2 (--strict)",
                        escape(&r.name)
                    ),
                    Some(d) if !out_args.quiet => eprintln!(
                        "tlswhy: warning: {}: capture damaged {d}; analyzed up to there",
                        escape(&r.name)
                    ),
                    _ => {}
                }
                if r.stats.evicted_connections > 0 && !out_args.quiet {
                    eprintln!(
                        "tlswhy: warning: {}: {} connection(s) closed early at the flow table limit (--max-flows {}); they are reported",
                        escape(&r.name),
                        r.stats.evicted_connections,
                        settings.diagnosis.limits.max_flows
                    );
                }
                if let (Some(shortfall), false) = (r.keys.shortfall(), out_args.quiet) {
                    eprintln!("tlswhy: warning: {}: {shortfall}", escape(&r.name));
                }
                if let (Some(dtls), false) = (r.stats.dtls_not_analyzed(), out_args.quiet) {
                    eprintln!("tlswhy: warning: {}: {dtls}", escape(&r.name));
                }
                for (what, n) in &r.stats.undecoded_encapsulations {
                    if !out_args.quiet {
                        eprintln!(
                            "tlswhy: warning: {}: {n} packet(s) inside {what} were not decoded; TLS in them is not analyzed",
                            escape(&r.name)
                        );
                    }
                }
                for (lt, n) in &r.stats.unsupported_link_types {
                    let message =
                        format!("{n} packet(s) of unsupported link type {lt} were not analyzed");
                    errors.push((r.name.clone(), message));
                }
                reports.push(r);
            }
            Err(e) => errors.push((source.display_name(), e.to_string())),
        }
    }
    for (name, message) in &errors {
        if message.starts_with(name.as_str()) {
            eprintln!("tlswhy: {}", escape(message));
        } else {
            eprintln!("tlswhy: {}: {}", escape(name), escape(message));
        }
    }

    let mut out = stdout;
    if out_args.format == Format::Text {
        let opts = report::text::Options {
            show_ok: out_args.all,
            style: report::text::Style { color },
        };
        report::text::write_report(&mut out, &reports, opts)?;
    }
    if let Some(mut lines) = lines_out {
        lines.flush()?;
    }
    out.flush()?;

    // Every output is made complete first (the files beside their destination, the
    // summary in memory), then put in place: a failure before leaves none of them.
    let junit = match &args.junit {
        Some(path) => {
            let out = OutputFile::create(path)?;
            let mut w = BufWriter::new(out.file()?);
            junit::write(&mut w, &reports, &errors)
                .and_then(|()| w.flush())
                .map_err(|e| outputs::about(path, e))?;
            Some(out)
        }
        None => None,
    };
    let html = match &args.html {
        Some(path) => {
            let out = OutputFile::create(path)?;
            let mut w = BufWriter::new(out.file()?);
            report::html::write_html(&mut w, &reports)
                .and_then(|()| w.flush())
                .map_err(|e| outputs::about(path, e))?;
            Some(out)
        }
        None => None,
    };
    let pcap = match &out_args.write {
        Some(path) => {
            let out = OutputFile::create(path)?;
            let write = || {
                let mut writer = PcapWriter::create(out.path())?;
                for r in &reports {
                    writer.write(&r.failing_packets)?;
                }
                let end = reports.iter().map(|r| r.end).max().unwrap_or_default();
                writer.finish(end)
            };
            write().map_err(|e| outputs::about(path, e))?;
            Some(out)
        }
        None => None,
    };
    let parquet_file = match parquet_out {
        Some(p) => p.finish()?,
        None => None,
    };
    let summary = match &args.summary {
        Some(path) => {
            let mut text = Vec::new();
            report::summary::write(&mut text, &reports, &errors)?;
            Some((path, text))
        }
        None => None,
    };
    for out in [junit, html, pcap, parquet_file].into_iter().flatten() {
        out.commit()?;
    }
    if let Some((path, text)) = summary {
        // Appended, as to $GITHUB_STEP_SUMMARY, which other steps write to as well.
        outputs::append(path, &text)?;
    }

    let matched = reports
        .iter()
        .flat_map(|r| r.counts.keys())
        .any(|&code| fail_on.matches(code))
        || reports
            .iter()
            .flat_map(|r| r.warning_counts.keys())
            .any(|&w| fail_on.matches_warning(w));
    let damaged = args.strict && reports.iter().any(|r| r.damage.is_some());
    // The process ends here: freeing every record one by one would only cost time.
    std::mem::forget(reports);
    Ok(if !errors.is_empty() || damaged {
        ExitCode::from(2)
    } else if matched {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One file after the first pass: its report, its JSON lines, the records kept so far,
/// and whether verdicts citing server profiles were left for the second pass.
struct FirstPass {
    result: Result<CaptureReport, tlswhy::capture::CaptureError>,
    lines: Vec<u8>,
    kept: Collector,
    held: bool,
}

/// `--merge-profiles`: merges every file's server profiles (in input order) and analyzes
/// again the files that had verdicts citing them, keeping only those verdicts, now drawn
/// from all the files. Each file's lines are then its first pass's, followed by these
/// (where a single pass puts them too: verdicts that cite profiles come last).
fn second_pass(
    sources: &[Source],
    mut firsts: Vec<FirstPass>,
    settings_for: &(dyn Fn(&Collector) -> Settings + Sync),
) -> Vec<(
    Result<CaptureReport, tlswhy::capture::CaptureError>,
    Vec<u8>,
)> {
    let mut merged = diagnose::Profiles::default();
    for first in &mut firsts {
        if let Ok(report) = &mut first.result {
            if let Some(p) = report.profiles.take() {
                merged.merge(p);
            }
        }
    }
    let merged = std::sync::Arc::new(merged);
    sources
        .par_iter()
        .zip(firsts)
        .map(|(source, first)| {
            let FirstPass {
                result,
                mut lines,
                mut kept,
                held,
            } = first;
            let Ok(report) = result else {
                return (result, lines);
            };
            if held {
                let settings = Settings {
                    server_profiles: Some(std::sync::Arc::clone(&merged)),
                    keep_profiles: false,
                    progress: None,
                    ..settings_for(&kept)
                };
                let again = pipeline::analyze_source_into(source, &settings, &mut |f| {
                    if !f.cites_profiles {
                        return;
                    }
                    if let Some(line) = &f.json_line {
                        lines.extend_from_slice(line);
                    }
                    kept.add(f);
                });
                if let Err(e) = again {
                    return (Err(e), lines);
                }
            }
            (Ok(kept.into_report(report)), lines)
        })
        .collect()
}

#[cfg(not(feature = "live"))]
fn run_live(_args: &cli::LiveArgs) -> io::Result<ExitCode> {
    eprintln!(
        "tlswhy: this build has no live capture; rebuild with `cargo install --path . --features live` \
         (needs libpcap: `apt-get install libpcap-dev` on Debian/Ubuntu)"
    );
    Ok(ExitCode::from(2))
}

#[cfg(feature = "live")]
fn run_live(args: &cli::LiveArgs) -> io::Result<ExitCode> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    use tlswhy::live::{self, LiveOptions};

    if args.list_interfaces {
        match live::interfaces() {
            Ok(list) => {
                for (name, desc) in list {
                    println!(
                        "{name}{}",
                        desc.map(|d| format!("\t{d}")).unwrap_or_default()
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => {
                eprintln!("tlswhy: {e}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    let out_args = &args.output;
    let Common {
        fail_on,
        settings,
        color,
    } = match common(out_args, false) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tlswhy: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if out_args.format == Format::Parquet {
        eprintln!(
            "tlswhy: live writes text or JSON Lines as verdicts come; Parquet is for analyze"
        );
        return Ok(ExitCode::from(2));
    }
    if let Some(d) = args.duration {
        if !(d.is_finite() && d > 0.0) {
            eprintln!("tlswhy: --duration must be a positive number of seconds");
            return Ok(ExitCode::from(2));
        }
    }
    let keylog = match out_args.keylog.as_slice() {
        [] => None,
        paths => match tlswhy::keys::KeyLogFollower::open(paths) {
            Ok(follower) => Some(follower),
            Err(e) => {
                eprintln!("tlswhy: --keylog: {e}");
                return Ok(ExitCode::from(2));
            }
        },
    };
    let opts = LiveOptions {
        interface: args.interface.clone().unwrap_or_default(),
        filter: args.filter.clone(),
        duration: args.duration.map(Duration::from_secs_f64),
        count: args.count,
        keylog,
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
    }
    let live_outputs: Vec<(&str, &std::path::Path)> = [
        ("--write", out_args.write.as_deref()),
        ("--html", args.html.as_deref()),
    ]
    .into_iter()
    .filter_map(|(option, path)| Some((option, path?)))
    .collect();
    if let Err(e) = outputs::check(&live_outputs, &[], &[], out_args.force) {
        eprintln!("tlswhy: {e}");
        return Ok(ExitCode::from(2));
    }
    // Unlike `analyze`, written in place as the packets come (as tcpdump -w): a live
    // capture has no end to wait for, what it caught before a stop or an error is
    // wanted, and after `--user` the directory may no longer take a new file.
    let mut writer = match &out_args.write {
        Some(path) => Some(PcapWriter::create(path)?),
        None => None,
    };
    let style = report::text::Style { color };
    let mut matched = false;
    let mut handshakes = Vec::new();
    // --html: the verdicts so far, as `analyze` would keep them, rendered now and then.
    let html = args.html.as_ref().map(|path| {
        LiveHtml::start(
            path.clone(),
            format!(
                "live capture on {}",
                args.interface.as_deref().unwrap_or("")
            ),
            Keep::Examples {
                per_code: EXAMPLES_PER_CODE,
                ok: out_args.all,
            },
            out_args.quiet,
        )
    });
    let stdout = io::stdout();
    let quiet = out_args.quiet;
    let interface = opts.interface.clone();
    let result = live::run(
        opts,
        &settings,
        &stop,
        |opened| {
            // As tcpdump: on standard error, so standard output stays the report.
            if !quiet {
                eprintln!(
                    "tlswhy: listening on {} (link type {}, snap length {} bytes)",
                    escape(&interface),
                    opened.link_type.name(),
                    opened.snaplen
                );
            }
            match &args.user {
                Some(user) => drop_privileges(user),
                None => Ok(()),
            }
        },
        |h, packets| {
            matched |= fail_on.matches(h.verdict.code)
                || h.warnings.iter().any(|&w| fail_on.matches_warning(w));
            let mut out = stdout.lock();
            match out_args.format {
                Format::Json | Format::Parquet => {
                    report::json::write_lines(&mut out, [h], settings.detail)?
                }
                Format::Text if out_args.all || h.verdict.code != Code::Ok => {
                    report::text::write_handshake_line(&mut out, h, style)?;
                }
                Format::Text => {}
            }
            out.flush()?;
            if let Some(w) = writer.as_mut() {
                w.write(packets)?;
            }
            handshakes.push(h.verdict.code);
            if let Some(html) = &html {
                html.add(h.clone());
            }
            Ok(())
        },
        |warning| {
            if !quiet {
                eprintln!("tlswhy: warning: {warning}");
            }
        },
    );
    let stats = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tlswhy: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if let Some(html) = html {
        html.finish();
    }
    if let Some(w) = writer {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        w.finish(tlswhy::capture::Timestamp(now.as_nanos() as i64))?;
    }
    let failed = handshakes.iter().filter(|c| **c != Code::Ok).count();
    let counts = report::count_codes(handshakes.iter().copied());
    let summary = format!(
        "summary: {} packets, {} TCP connections, {} TLS handshake attempts, {} failed{}; libpcap received {}, dropped {}, interface dropped {}",
        stats.engine.packets,
        stats.engine.connections,
        stats.handshakes,
        failed,
        if counts.is_empty() { String::new() } else { format!(" ({counts})") },
        stats.received,
        stats.dropped,
        stats.if_dropped
    );
    // Keep standard output pure JSON Lines in JSON mode.
    if out_args.format == Format::Json {
        eprintln!("{summary}");
    } else {
        println!("{summary}");
    }
    if stats.packets_not_kept > 0 && !quiet {
        eprintln!(
            "tlswhy: warning: --write left out {} packet(s) over its caps",
            stats.packets_not_kept
        );
    }
    Ok(if matched {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `live --html`: a thread of its own keeps the records, as `analyze` keeps them, and
/// writes the report whole (a new file renamed over the old) once a verdict came, at
/// most every [`LiveHtml::EVERY`] — also when no verdict follows — and at the end.
#[cfg(feature = "live")]
struct LiveHtml {
    records: std::sync::mpsc::Sender<tlswhy::record::Handshake>,
    writer: std::thread::JoinHandle<()>,
}

#[cfg(feature = "live")]
impl LiveHtml {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(2);

    fn start(path: std::path::PathBuf, name: String, keep: Keep, quiet: bool) -> LiveHtml {
        use std::sync::mpsc::RecvTimeoutError;
        use std::time::{Duration, Instant};
        let (records, received) = std::sync::mpsc::channel::<tlswhy::record::Handshake>();
        let writer = std::thread::spawn(move || {
            let mut kept = Collector::new(keep);
            let mut written: Option<Instant> = None;
            let mut pending = false;
            let mut failed = false;
            let mut write = |kept: &Collector| {
                let report = kept.snapshot(&name, Default::default());
                let result = OutputFile::create(&path).and_then(|out| {
                    let mut w = BufWriter::new(out.file()?);
                    report::html::write_html(&mut w, std::slice::from_ref(&report))?;
                    w.flush()?;
                    drop(w);
                    out.commit()
                });
                if let Err(e) = result {
                    // Said once; later writes are still tried.
                    if !failed && !quiet {
                        eprintln!("tlswhy: warning: --html {}: {e}", path.display());
                    }
                    failed = true;
                }
            };
            loop {
                let wait = match (pending, written) {
                    (true, Some(at)) => Self::EVERY.saturating_sub(at.elapsed()),
                    (true, None) => Duration::ZERO,
                    (false, _) => Duration::from_secs(3600),
                };
                match received.recv_timeout(wait) {
                    Ok(h) => {
                        kept.add(tlswhy::record::Finished::of_record(h));
                        pending = true;
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        write(&kept);
                        return;
                    }
                }
                if pending && written.is_none_or(|at| at.elapsed() >= Self::EVERY) {
                    write(&kept);
                    written = Some(Instant::now());
                    pending = false;
                }
            }
        });
        LiveHtml { records, writer }
    }

    /// Hands a verdict to the writer.
    fn add(&self, h: tlswhy::record::Handshake) {
        // The writer only stops when this side does.
        let _ = self.records.send(h);
    }

    /// Writes the report of every verdict, and waits for it.
    fn finish(self) {
        drop(self.records);
        let _ = self.writer.join();
    }
}

#[cfg(feature = "live")]
/// Switches to `user` (its uid, gid and supplementary groups) after the capture opened.
fn drop_privileges(user: &str) -> Result<(), tlswhy::live::LiveError> {
    use nix::unistd::{initgroups, setgid, setuid, User};
    let err = |message: String| tlswhy::live::LiveError::User {
        user: user.to_string(),
        message,
    };
    let entry = User::from_name(user)
        .map_err(|e| err(e.to_string()))?
        .ok_or_else(|| err("no such user".into()))?;
    let name = std::ffi::CString::new(user).map_err(|e| err(e.to_string()))?;
    initgroups(&name, entry.gid).map_err(|e| err(format!("initgroups: {e}")))?;
    setgid(entry.gid).map_err(|e| err(format!("setgid: {e}")))?;
    setuid(entry.uid).map_err(|e| err(format!("setuid: {e}")))?;
    Ok(())
}
