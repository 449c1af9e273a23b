//! Command-line definitions (clap). Wiring only: the work is in the library.
//!
//! Short flags follow the tools the options come from: `-r FILE` reads and `-w FILE`
//! writes a capture (tcpdump, tshark); `-i`, `-f BPF`, `-c N`, `-D` and `-Z USER` are
//! tcpdump's for live capture; `-o json` picks the output format (as `kubectl -o json`:
//! tlswhy's report always goes to standard output, so `-o` names no file); `-j N` sets
//! the threads (make, cargo); `-a` shows all handshakes, `-q` is quiet.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use tlswhy::limits::Limits;

/// Says, for every TLS handshake in packet captures, whether it worked and exactly why not.
#[derive(Debug, Parser)]
#[command(name = "tlswhy", version = env!("TLSWHY_VERSION"), about, long_about = None)]
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
    /// Print a completion script for a shell (e.g. `tlswhy completions bash >
    /// /etc/bash_completion.d/tlswhy`).
    Completions {
        /// The shell: bash, zsh, fish, elvish, powershell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to standard output (e.g. `tlswhy man | man -l -`).
    Man,
}

impl Cli {
    /// Parses `args` (the program name first). The inputs of `analyze`, given as
    /// arguments and with `-r`, are kept in the order they were given.
    pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        if let (Command::Analyze(args), Some(("analyze", sub))) =
            (&mut cli.command, matches.subcommand())
        {
            args.paths = inputs_in_order(sub);
            args.read.clear();
        }
        Ok(cli)
    }
}

/// `analyze`'s positional paths and `-r` paths merged in command-line order.
fn inputs_in_order(matches: &ArgMatches) -> Vec<PathBuf> {
    let mut all: Vec<(usize, PathBuf)> = Vec::new();
    for id in ["paths", "read"] {
        if let (Some(indices), Some(values)) =
            (matches.indices_of(id), matches.get_many::<PathBuf>(id))
        {
            all.extend(indices.zip(values.cloned()));
        }
    }
    all.sort_by_key(|(index, _)| *index);
    all.into_iter().map(|(_, path)| path).collect()
}

/// Options shared by `analyze` and `live`.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format: a human report, JSON Lines (one object per handshake attempt), or
    /// Parquet (the same records; `analyze` only).
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// What each JSON record carries: the verdict and the key facts (compact), or also
    /// the whole hellos, certificates, TCP events and messages (full).
    #[arg(long, value_enum, default_value_t = Detail::Compact)]
    pub detail: Detail,

    /// Show successful handshakes too (text output).
    #[arg(short, long)]
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

    /// NSS key log (SSLKEYLOGFILE of curl, browsers, OpenSSL -keylogfile, Python, Go,
    /// Node): the handshakes it holds secrets for are decrypted and their verdicts rest
    /// on the decrypted messages. Repeatable. A pcapng's Decryption Secrets Blocks are
    /// used without it. Secrets are never printed or written.
    #[arg(long, value_name = "FILE")]
    pub keylog: Vec<PathBuf>,

    /// Seconds of silence after a SYN or a ClientHello that count as a timeout.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    pub timeout: f64,

    /// Save the packets of every failing handshake (whole connections, up to the
    /// verdict) to this pcap file.
    #[arg(short, long, value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// Replace an output file that holds a capture (refused without it, so that a
    /// capture is not lost to a mistyped `-w`). An output that is an input is refused
    /// even so.
    #[arg(long)]
    pub force: bool,

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

    /// No warnings, notes or progress line on standard error (errors, and the reason for
    /// exit status 2, are still printed).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files or folders (recursed), or `-` for standard input.
    #[arg(value_name = "PATH", required_unless_present = "read")]
    pub paths: Vec<PathBuf>,

    /// A capture file or folder to read, as tcpdump -r (repeatable; the same as giving
    /// it as an argument, in the order given).
    #[arg(short, long, value_name = "PATH")]
    pub read: Vec<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Worker threads (default: all cores, or RAYON_NUM_THREADS). Several files are
    /// analyzed side by side; one large file is split between the workers by flow.
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,

    /// Read capture files through a memory map instead of 1 MiB read() calls
    /// (standard input and gzip are always read in chunks).
    #[arg(long)]
    pub mmap: bool,

    /// Server profiles span the input files (rolling captures of one network, split by
    /// size or time): each server's profile is drawn from all of them, and the verdicts
    /// that cite it ("for other clients the server picked …") are made once every file
    /// is read — the files with such verdicts are read a second time. Without it each
    /// capture's profiles are its own (captures of unrelated tests may share an address).
    #[arg(long)]
    pub merge_profiles: bool,

    /// Exit with status 2 when a capture is truncated or damaged (it is still analyzed
    /// up to the damage).
    #[arg(long)]
    pub strict: bool,

    /// Write a JUnit XML report (a test suite per capture, a test case per handshake).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write the report as one self-contained HTML file (charts, servers, each failure
    /// group's evidence and ladder diagram; no external resources), besides any other
    /// output.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Write every record to a Parquet file as well (zstd; columns as the JSON record's
    /// fields, nested where it nests; for Spark, DuckDB, pandas), besides any other
    /// output. A folder gets `part-00000.parquet` in it. `--format parquet` writes it
    /// to standard output instead.
    #[arg(long, value_name = "FILE|DIR")]
    pub parquet: Option<PathBuf>,

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
    #[arg(short, long, value_name = "BPF")]
    pub filter: Option<String>,

    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,

    /// Stop after this many handshake verdicts.
    #[arg(short, long, value_name = "N")]
    pub count: Option<u64>,

    /// List the interfaces that can be captured on, and exit.
    #[arg(short = 'D', long)]
    pub list_interfaces: bool,

    /// Drop privileges to this user once the capture is open (as tcpdump -Z).
    #[arg(short = 'Z', long, value_name = "NAME")]
    pub user: Option<String>,

    /// Keep an HTML report of the verdicts so far in this file, rewritten whole (a
    /// new file renamed over it) at most every 2 seconds as verdicts arrive, and at
    /// the end.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// Parquet to standard output (not a terminal); see `--parquet`.
    Parquet,
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

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
