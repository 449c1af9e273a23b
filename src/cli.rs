//! Command-line definitions (clap). Wiring only: the work is in the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Says, for every TLS handshake in packet captures, whether it worked and exactly why not.
#[derive(Debug, Parser)]
#[command(name = "tlswhy", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyze capture files or folders (pcap, pcapng, optionally gzipped; `-` for stdin).
    Analyze(AnalyzeArgs),
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files or folders (recursed), or `-` for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Show successful handshakes too (text output).
    #[arg(long)]
    pub all: bool,

    /// Output format: a human report, or JSON Lines (one object per handshake attempt).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Exit with status 1 when a handshake matches: `failed` (any code but ok) or a
    /// comma-separated list of verdict codes.
    #[arg(long, value_name = "CODES|failed")]
    pub fail_on: Option<String>,

    /// Also treat connections to this port as TLS attempts even without a ClientHello
    /// (repeatable).
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,

    /// Colour: auto (only on a terminal), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Seconds of silence after a SYN or a ClientHello that count as a timeout.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    pub timeout: f64,

    /// No warnings on standard error (errors are still printed).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
