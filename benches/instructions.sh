#!/usr/bin/env bash
# Instructions, not seconds: the text report and JSON Lines of the same capture counted
# by valgrind (cachegrind, no cache simulation), for comparisons that a busy or shared
# machine cannot blur. The counts of one build differ by about 0.1% from one run to the
# next (the hash tables' seeds are random), where wall-clock series of one build differ
# by several percent on a shared machine. They leave out what instructions do not show:
# cache misses, the kernel's work (the output's copy into the page cache), waiting for
# locks; and under valgrind the CPU has no SHA extensions, so the Community ID's SHA-1
# runs in software (~1,400 instructions a record more than on a CPU with SHA-NI).
#
# usage: benches/instructions.sh [PCAP]
#   without PCAP: the reference generator's handshake-heavy file of 20 000 connections
#   (../shared/bench/gen_bench_pcap.py --connections 20000 --bulk-kb 0-1 --resume-ratio 0.3
#   --seed 2, made once in $WORK; the Rust generator's, examples/gen_capture, when the
#   reference generator is not beside the checkout).
#   BASE=path/to/an/earlier/tlswhy: the same counts for that binary and this build's over
#   the base's.
#   THREADS=N: analyze with N workers (default 1; valgrind runs them one at a time, and
#   with more than one the counts include the time spent spinning for locks).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/tlswhy-bench}
THREADS=${THREADS:-1}
PYGEN=${PYGEN:-../shared/bench/gen_bench_pcap.py}
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
mkdir -p "$WORK"

cargo build --release --quiet --bin tlswhy --example gen_capture
BIN=target/release/tlswhy

pcap=${1:-}
if [ -z "$pcap" ]; then
    args=(--connections 20000 --bulk-kb 0-1 --resume-ratio 0.3 --seed 2)
    if [ -f "$PYGEN" ]; then
        pcap=$WORK/instructions-reference-20k.pcap
        [ -f "$pcap" ] || python3 "$PYGEN" "${args[@]}" --out "$pcap.part" \
            --truth "$WORK/instructions-reference-20k.truth.jsonl" >/dev/null 2>&1
    else
        pcap=$WORK/instructions-rust-20k.pcap
        [ -f "$pcap" ] || target/release/examples/gen_capture "${args[@]}" --out "$pcap.part" \
            --truth "$WORK/instructions-rust-20k.truth.jsonl" >/dev/null 2>&1
    fi
    [ -f "$pcap.part" ] && mv "$pcap.part" "$pcap"
fi
[ -f "$pcap" ] || { echo "no such capture: $pcap" >&2; exit 2; }

# count BIN ARGS...: the instructions the analysis of $pcap took.
count() {
    local bin=$1; shift
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        "$bin" analyze --threads "$THREADS" "$@" "$pcap" 2>&1 >/dev/null |
        awk '/I *refs:/ { gsub(",", "", $NF); print $NF }'
}

echo "== $pcap, $THREADS thread(s): instructions (millions)"
declare -A n
for build in this ${BASE:+base}; do
    bin=$BIN
    [ "$build" = base ] && bin=$BASE
    n[$build-text]=$(count "$bin" -q)
    n[$build-json]=$(count "$bin" --format json)
    n[$build-full]=$(count "$bin" --format json --detail full)
    awk -v b="$build" -v t="${n[$build-text]}" -v j="${n[$build-json]}" -v f="${n[$build-full]}" 'BEGIN {
        printf "%-5s text %8.1fM  JSON %8.1fM  JSON --detail full %8.1fM  text/JSON %.3f\n",
            b, t / 1e6, j / 1e6, f / 1e6, t / j }'
done
if [ -n "${BASE:-}" ]; then
    awk -v t="${n[this-text]}" -v j="${n[this-json]}" -v f="${n[this-full]}" \
        -v bt="${n[base-text]}" -v bj="${n[base-json]}" -v bf="${n[base-full]}" 'BEGIN {
        printf "this/base: text %.4f  JSON %.4f  JSON --detail full %.4f\n", t / bt, j / bj, f / bf }'
fi
