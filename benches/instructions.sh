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
#   CACHE=1: simulate the caches too (four times slower): the misses of the level-1
#   instruction and data caches and of the last level (LL, given as 32 MiB 16-way: what
#   valgrind reads of this machine's is not what it has), and cachegrind's estimate of
#   cycles, instructions + 10 per level-1 miss + 100 per LL miss. The estimate moves
#   ~0.3% between runs of one build; it showed what instructions alone did not, that
#   JSON Lines missed the instruction cache 2.3 times as often as the text report.
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

# count BIN ARGS...: the instructions the analysis of $pcap took (CACHE=1: the
# estimated cycles), and with CACHE=1 a line of cache misses on stderr.
count() {
    local bin=$1; shift
    local sim=(--cache-sim=no)
    [ -n "${CACHE:-}" ] && sim=(--cache-sim=yes --LL=33554432,16,64)
    valgrind --tool=cachegrind "${sim[@]}" --cachegrind-out-file=/dev/null \
        "$bin" analyze --threads "$THREADS" "$@" "$pcap" 2>&1 >/dev/null |
        awk -v what="$*" '
            / I +refs:/ { gsub(",", "", $4); ir = $4 }
            / I1 +misses:/ { gsub(",", "", $4); i1 = $4 }
            / D1 +misses:/ { gsub(",", "", $4); d1 = $4 }
            / LL misses:/ { gsub(",", "", $4); ll = $4 }
            END {
                if (i1 == "") { printf "%.0f\n", ir; exit }
                printf "  %-28s I1 misses %6.2fM  D1 misses %6.2fM  LL misses %6.3fM  instructions %7.1fM\n",
                    what, i1 / 1e6, d1 / 1e6, ll / 1e6, ir / 1e6 > "/dev/stderr"
                printf "%.0f\n", ir + 10 * (i1 + d1) + 100 * ll
            }'
}

echo "== $pcap, $THREADS thread(s): ${CACHE:+estimated cycles, from }instructions${CACHE:+ and cache misses} (millions)"
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
