//! The command line's conventions as parsed: every short flag means what its long
//! option means, and inputs given with `-r` keep their place among the arguments.

use super::*;

fn parsed(args: &[&str]) -> String {
    let cli = Cli::parse_from(std::iter::once("tlswhy").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    format!("{cli:?}")
}

#[test]
fn analyze_short_flags_parse_as_the_long_ones() {
    let short = parsed(&[
        "analyze", "-r", "a.pcap", "-o", "json", "-a", "-w", "f.pcap", "-q", "-j", "2", "b.pcap",
    ]);
    let long = parsed(&[
        "analyze",
        "--read",
        "a.pcap",
        "--format",
        "json",
        "--all",
        "--write",
        "f.pcap",
        "--quiet",
        "--threads",
        "2",
        "b.pcap",
    ]);
    assert_eq!(short, long);
    // `-r PATH` is the same as giving PATH as an argument.
    let positional = parsed(&[
        "analyze", "-o", "json", "-a", "-w", "f.pcap", "-q", "-j", "2", "a.pcap", "b.pcap",
    ]);
    assert_eq!(short, positional);
    assert!(short.contains("format: Json") && short.contains("threads: Some(2)"));
}

#[test]
fn live_short_flags_parse_as_the_long_ones() {
    let short = parsed(&[
        "live",
        "-i",
        "lo",
        "-f",
        "tcp port 443",
        "-c",
        "5",
        "-Z",
        "nobody",
        "-w",
        "x.pcap",
        "-o",
        "json",
        "-q",
    ]);
    let long = parsed(&[
        "live",
        "--interface",
        "lo",
        "--filter",
        "tcp port 443",
        "--count",
        "5",
        "--user",
        "nobody",
        "--write",
        "x.pcap",
        "--format",
        "json",
        "--quiet",
    ]);
    assert_eq!(short, long);
    assert_eq!(
        parsed(&["live", "-D"]),
        parsed(&["live", "--list-interfaces"])
    );
}

#[test]
fn inputs_keep_their_order_whichever_way_given() {
    let Command::Analyze(args) = Cli::parse_from([
        "tlswhy",
        "analyze",
        "one.pcap",
        "-r",
        "two.pcap",
        "three.pcap",
        "--read",
        "four",
    ])
    .unwrap()
    .command
    else {
        panic!("not analyze");
    };
    let names: Vec<_> = args.paths.iter().map(|p| p.to_str().unwrap()).collect();
    assert_eq!(names, ["one.pcap", "two.pcap", "three.pcap", "four"]);
    assert!(args.read.is_empty());
}

#[test]
fn analyze_needs_an_input_either_way() {
    let e = Cli::parse_from(["tlswhy", "analyze", "-o", "json"]).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(Cli::parse_from(["tlswhy", "analyze", "-r", "x.pcap"]).is_ok());
}

#[test]
fn the_definitions_are_consistent() {
    Cli::command().debug_assert();
}
