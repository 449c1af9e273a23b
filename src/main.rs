//! The `tlswhy` binary: parses arguments, runs the library over the inputs (in
//! parallel, output in input order), prints the report and sets the exit status:
//! 0 nothing matched `--fail-on`, 1 a handshake matched, 2 bad usage or unreadable input.

mod cli;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use rayon::prelude::*;

use cli::{AnalyzeArgs, Cli, ColorChoice, Command, Format};
use tlswhy::analyze::{self, CaptureReport};
use tlswhy::diagnose::{Code, Settings};
use tlswhy::report;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Analyze(args) => match run_analyze(&args) {
            Ok(code) => code,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tlswhy: {e}");
                ExitCode::from(2)
            }
        },
    }
}

/// Which verdicts make the exit status 1.
enum FailOn {
    Never,
    AnyFailure,
    Codes(Vec<Code>),
}

impl FailOn {
    fn parse(spec: Option<&str>) -> Result<FailOn, String> {
        let Some(spec) = spec else {
            return Ok(FailOn::Never);
        };
        if spec.trim() == "failed" {
            return Ok(FailOn::AnyFailure);
        }
        let codes = spec
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse::<Code>)
            .collect::<Result<Vec<_>, _>>()?;
        if codes.is_empty() {
            return Err("--fail-on needs 'failed' or a list of verdict codes".into());
        }
        Ok(FailOn::Codes(codes))
    }

    fn matches(&self, code: Code) -> bool {
        match self {
            FailOn::Never => false,
            FailOn::AnyFailure => code != Code::Ok,
            FailOn::Codes(codes) => codes.contains(&code),
        }
    }
}

fn run_analyze(args: &AnalyzeArgs) -> io::Result<ExitCode> {
    let fail_on = match FailOn::parse(args.fail_on.as_deref()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "tlswhy: {e} (codes: failed, {})",
                Code::ALL
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Ok(ExitCode::from(2));
        }
    };
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        eprintln!("tlswhy: --timeout must be a positive number of seconds");
        return Ok(ExitCode::from(2));
    }
    let mut settings = Settings {
        response_timeout: args.timeout,
        ..Settings::default()
    };
    settings.tls_ports.extend(args.ports.iter().copied());

    let mut input_error = false;
    let mut sources = Vec::new();
    for item in analyze::expand_inputs(&args.paths) {
        match item {
            Ok(s) => sources.push(s),
            Err(e) => {
                eprintln!("tlswhy: {e}");
                input_error = true;
            }
        }
    }
    if sources.is_empty() && !input_error {
        eprintln!("tlswhy: no capture files found in the given folders");
        return Ok(ExitCode::from(2));
    }
    let results: Vec<_> = sources
        .par_iter()
        .map(|s| analyze::analyze_source(s, &settings))
        .collect();
    let mut reports: Vec<CaptureReport> = Vec::new();
    for result in results {
        match result {
            Ok(r) => {
                if let Some(d) = &r.damage {
                    if !args.quiet {
                        eprintln!(
                            "tlswhy: warning: {}: capture damaged {d}; analyzed up to there",
                            r.name
                        );
                    }
                }
                for (lt, n) in &r.stats.unsupported_link_types {
                    eprintln!(
                        "tlswhy: {}: {n} packet(s) of unsupported link type {lt} were not analyzed",
                        r.name
                    );
                    input_error = true;
                }
                reports.push(r);
            }
            Err(e) => {
                eprintln!("tlswhy: {e}");
                input_error = true;
            }
        }
    }

    let stdout = io::stdout();
    let is_tty = stdout.is_terminal();
    let mut out = io::BufWriter::new(stdout.lock());
    match args.format {
        Format::Json => {
            report::json::write_lines(&mut out, reports.iter().flat_map(|r| r.handshakes.iter()))?
        }
        Format::Text => {
            let color = match args.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => is_tty && std::env::var_os("NO_COLOR").is_none(),
            };
            let opts = report::text::Options {
                show_ok: args.all,
                style: report::text::Style { color },
            };
            report::text::write_report(&mut out, &reports, opts)?;
        }
    }
    out.flush()?;

    let matched = reports
        .iter()
        .flat_map(|r| r.handshakes.iter())
        .any(|h| fail_on.matches(h.verdict.code));
    Ok(if input_error {
        ExitCode::from(2)
    } else if matched {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
