//! Command-line definitions (clap). Wiring only: the work is in the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tlswhy::limits::Limits;

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
    /// Capture on a network interface and print each verdict as the handshake resolves.
    Live(LiveArgs),
}

/// Options shared by `analyze` and `live`.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format: a human report, or JSON Lines (one object per handshake attempt).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// What each JSON record carries: the verdict and the key facts (compact), or also
    /// the whole hellos, certificates, TCP events and messages (full).
    #[arg(long, value_enum, default_value_t = Detail::Compact)]
    pub detail: Detail,

    /// Show successful handshakes too (text output).
    #[arg(long)]
    pub all: bool,

    /// Exit with status 1 when a handshake matches: `failed` (any code but ok) or a
    /// comma-separated list of verdict codes and warnings ("ok, but": old_version,
    /// insecure_cipher, rsa_key_exchange, certificate_expires_soon,
    /// name_mismatch_accepted).
    #[arg(long, value_name = "CODES|failed")]
    pub fail_on: Option<String>,

    /// Also treat connections to this port as TLS attempts even without a ClientHello
    /// (repeatable).
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,

    /// Seconds of silence after a SYN or a ClientHello that count as a timeout.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    pub timeout: f64,

    /// Save the packets of every failing handshake (whole connections, up to the
    /// verdict) to this pcap file.
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// Limit: connections tracked at once (the least active are closed and reported
    /// as incomplete_capture past it).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_flows)]
    pub max_flows: usize,

    /// Limit: bytes of one handshake message (a certificate chain) reassembled per
    /// connection and direction.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_handshake_message)]
    pub max_handshake_bytes: usize,

    /// Limit: out-of-order bytes buffered per connection and direction while waiting
    /// for a missing segment.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_pending_bytes)]
    pub max_pending_bytes: usize,

    /// Limit: certificates of a chain that are parsed and kept.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_chain)]
    pub max_chain: usize,

    /// Limit: TLS records examined per connection and direction before giving up.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_records)]
    pub max_records: u64,

    /// Limit: seconds (capture time) a connection may stay silent before it is
    /// considered over, diagnosed and freed; a later packet starts a new connection.
    #[arg(long, value_name = "SECONDS", default_value_t = Limits::default().flow_idle_timeout.as_secs_f64())]
    pub flow_idle_timeout: f64,

    /// Colour: auto (only on a terminal), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// No warnings on standard error (errors are still printed).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files or folders (recursed), or `-` for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Worker threads (default: all cores, or RAYON_NUM_THREADS). Several files are
    /// analyzed side by side; one large file is split between the workers by flow.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Read capture files through a memory map instead of 1 MiB read() calls
    /// (standard input and gzip are always read in chunks).
    #[arg(long)]
    pub mmap: bool,

    /// Exit with status 2 when a capture is truncated or damaged (it is still analyzed
    /// up to the damage).
    #[arg(long)]
    pub strict: bool,

    /// Write a JUnit XML report (a test suite per capture, a test case per handshake).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Append a short Markdown summary (counts by code, each failure's cause) to this
    /// file, created if missing (as `$GITHUB_STEP_SUMMARY` expects).
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Interface to capture on (e.g. `lo`, `eth0`; `any` on Linux).
    #[arg(
        long,
        short,
        value_name = "IFACE",
        required_unless_present = "list_interfaces"
    )]
    pub interface: Option<String>,

    /// A BPF capture filter, as for tcpdump (e.g. `tcp port 443`).
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,

    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,

    /// Stop after this many handshake verdicts.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// List the interfaces that can be captured on, and exit.
    #[arg(long)]
    pub list_interfaces: bool,

    /// Drop privileges to this user once the capture is open (as tcpdump -Z).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Detail {
    Compact,
    Full,
}

impl From<Detail> for tlswhy::record::DetailLevel {
    fn from(d: Detail) -> Self {
        match d {
            Detail::Compact => Self::Compact,
            Detail::Full => Self::Full,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
