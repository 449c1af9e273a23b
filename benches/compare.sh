#!/usr/bin/env bash
# End-to-end comparison, side by side in one run: tlswhy (1 and 2 threads), the
# header-only walk (examples/walk.rs, the lower bound), tshark extracting SNI, suites and
# alerts (with out-of-order reassembly), and ssldump when installed. Prints MB/s,
# handshakes/s and peak RSS (median of RUNS runs) and tlswhy's agreement with the
# generator's truth file.
#
# usage: benches/compare.sh [PCAP TRUTH]...
#   without arguments, generates two inputs (bulk-heavy and handshake-heavy; SIZE=small|full,
#   default small: 2k / 20k connections, full: 20k / 200k, about 1 GB each) with
#   GEN=rust (default): examples/gen_capture/, or
#   GEN=python: ../shared/bench/gen_bench_pcap.py (another path with PYGEN=...).
#   Generated inputs are kept in $WORK and reused while the generator's source and
#   arguments are the same.
#   BASE=path/to/an/earlier/tlswhy: A/B — the same tlswhy runs with that binary too
#   (rows base-*, in the same rounds) and a line of ratios base / this build.
#   KEYS=1: decryption with keys. The inputs are generated with --keylog (GEN=rust only;
#   named *-keys, their NSS key log *.keys kept beside the pcap and the truth file; with
#   PCAP TRUTH arguments, PCAP without .pcap + .keys), and rows keys-1t and keys-2t run
#   the text report with --keylog on 1 and 2 threads, next to text-1t and text-2t on the
#   same file; a line gives keys-2t's speed over text-2t's, and the agreement with the
#   truth file is checked with the keys too.
#   QUIC=1: a third input of QUIC attempts only (gen_capture --quic-ratio 1, as many as
#   the handshake-heavy one; GEN=rust only): Initials sealed for real, 10% failing
#   (alpn_mismatch, udp_blocked), tshark's row decrypting the Initials too.
#   TOOLS="text-2t null-2t ...": only these rows (default: all). Row html-2t is the
#   text report with --html beside it (a line gives its time over text-2t's and the
#   HTML file's size). Row store is no analysis: dd copies tlswhy-2t's JSON Lines (made
#   once before the rounds) into a file the way the JSON rows write theirs, what storing
#   those bytes costs this machine alone; a line sets it beside what writing to a file
#   added to the JSON run (tlswhy-2t's time less null-2t's, per round).
#   Besides the medians, lines of per-round ratios: JSON's speed over the text report's
#   and, with BASE, this build's time over the base's, each the median over the rounds
#   of the two runs made in the same round (the machine's speed may drift between
#   rounds; these ratios see through it), on the wall clock and on CPU time.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
WORK=${WORK:-/tmp/tlswhy-bench}
GEN=${GEN:-rust}
PYGEN=${PYGEN:-../shared/bench/gen_bench_pcap.py}
SIZE=${SIZE:-small}
KEYS=${KEYS:-}
QUIC=${QUIC:-}
case "$GEN" in
    *.py) PYGEN=$GEN; GEN=python ;; # GEN used to be the Python generator's path
    rust | python) ;;
    *) echo "GEN must be rust or python, not '$GEN'" >&2; exit 2 ;;
esac
case "$SIZE" in
    small | full) ;;
    *) echo "SIZE must be small or full, not '$SIZE'" >&2; exit 2 ;;
esac
case "$KEYS" in
    "" | 0) KEYS= ;;
    1) [ "$GEN" = rust ] || [ $# -gt 0 ] || { echo "KEYS=1 needs GEN=rust (the Python generator writes no key log)" >&2; exit 2; } ;;
    *) echo "KEYS must be 1 or unset, not '$KEYS'" >&2; exit 2 ;;
esac
mkdir -p "$WORK"

cargo build --release --quiet --bin tlswhy --example walk --example gen_capture
BIN=target/release/tlswhy
WALK=target/release/examples/walk

# generate NAME ARGS...: $WORK/$GEN-$SIZE-NAME.pcap and its truth file (KEYS=1: NAME-keys,
# with its key log), unless they are there and were made by the same generator source with
# the same arguments (a rebuild of the generator alone, which any change to the library
# causes, does not count).
generate() {
    local name=$1; shift
    local out="$WORK/$GEN-$SIZE-$name" gen=target/release/examples/gen_capture
    local sources=(examples/gen_capture/*.rs) keylog=()
    [ "$GEN" = python ] && gen=$PYGEN && sources=("$PYGEN")
    [ -n "$KEYS" ] && out+=-keys && keylog=(--keylog "$out.part.keys")
    local stamp
    stamp="$(cat "${sources[@]}" | sha256sum | cut -d' ' -f1) $*${KEYS:+ --keylog}"
    if [ -f "$out.truth.jsonl" ] && [ -f "$out.pcap" ] && { [ -z "$KEYS" ] || [ -f "$out.keys" ]; } &&
        [ "$(cat "$out.made-by" 2>/dev/null)" = "$stamp" ]; then
        return
    fi
    if [ "$GEN" = rust ]; then
        "$gen" "$@" --out "$out.part.pcap" --truth "$out.part.truth.jsonl" "${keylog[@]}"
    else
        python3 "$gen" "$@" --out "$out.part.pcap" --truth "$out.part.truth.jsonl"
    fi
    [ -n "$KEYS" ] && mv "$out.part.keys" "$out.keys"
    mv "$out.part.truth.jsonl" "$out.truth.jsonl"
    mv "$out.part.pcap" "$out.pcap"
    echo "$stamp" >"$out.made-by"
}

if [ $# -eq 0 ]; then
    if [ "$SIZE" = full ]; then bulk=20000; hs=200000; else bulk=2000; hs=20000; fi
    generate bulk --connections $bulk --bulk-kb 20-70 --seed 1
    generate hs --connections $hs --bulk-kb 0-1 --resume-ratio 0.3 --seed 2
    k=${KEYS:+-keys}
    set -- "$WORK/$GEN-$SIZE-bulk$k.pcap" "$WORK/$GEN-$SIZE-bulk$k.truth.jsonl" \
        "$WORK/$GEN-$SIZE-hs$k.pcap" "$WORK/$GEN-$SIZE-hs$k.truth.jsonl"
    if [ -n "$QUIC" ]; then
        [ "$GEN" = rust ] || { echo "QUIC=1 needs GEN=rust" >&2; exit 2; }
        generate quic --connections $hs --bulk-kb 0-1 --quic-ratio 1 --seed 3
        set -- "$@" "$WORK/$GEN-$SIZE-quic$k.pcap" "$WORK/$GEN-$SIZE-quic$k.truth.jsonl"
    fi
fi

# once NAME CMD...: runs CMD once; appends "wall-seconds peak-RSS-KiB" to $WORK/NAME.runs
# and keeps its output in $WORK/NAME.out. Wall time from the shell's microsecond clock
# (GNU time rounds to 10 ms, 4% of a 0.25 s run); peak RSS from GNU time.
once() {
    local name=$1; shift
    # Emptied and synced before the clock starts: dropping the last run's output and
    # writing back the earlier ones (900 MB of JSON each on the large inputs) would
    # otherwise take the kernel's time during this run.
    : >"$WORK/$name.out"
    sync
    local start=$EPOCHREALTIME
    /usr/bin/time -f "%M %U %S" -o "$WORK/time" "$@" >>"$WORK/$name.out" 2>/dev/null || true
    local end=$EPOCHREALTIME
    echo "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }') $(cat "$WORK/time")" >>"$WORK/$name.runs"
}

# paired A B: the median over the rounds of A's time over B's, the two timed in the
# same round: steadier than a ratio of medians when the machine's speed drifts between
# rounds (both runs of a round see the same machine). Nothing when either did not run.
# PAIRED=cpu: their CPU times (user + system) instead of the wall clock; PAIRED=minus:
# A's time less B's instead of their ratio; SPREAD=1: the middle half of the rounds'
# values ("q1-q3", the first and third quartiles) instead of their median, to judge
# how far the median may be trusted.
paired() {
    [ -s "$WORK/$1.runs" ] && [ -s "$WORK/$2.runs" ] || return 0
    local time='{ print $1 }' pair='$2 > 0 { print $1 / $2 }'
    [ "${PAIRED:-}" = cpu ] && time='{ print $3 + $4 }'
    [ "${PAIRED:-}" = minus ] && pair='{ printf "%.4f\n", $1 - $2 }'
    paste -d' ' <(awk "$time" "$WORK/$1.runs") <(awk "$time" "$WORK/$2.runs") |
        awk "$pair" | sort -g |
        awk -v spread="${SPREAD:-}" '{ r[NR] = $1 } END {
            if (!NR) exit
            if (spread) printf "%.3f-%.3f", r[int((NR + 3) / 4)], r[int((3 * NR + 3) / 4)]
            else printf "%.3f", r[int((NR + 1) / 2)]
        }'
}

# median NAME: "NAME seconds RSS-KiB", the medians over its runs.
median() {
    local f="$WORK/$1.runs" mid=$(( (RUNS + 1) / 2 ))
    echo "$1 $(cut -d' ' -f1 "$f" | sort -g | sed -n "${mid}p") $(cut -d' ' -f2 "$f" | sort -g | sed -n "${mid}p")"
}

while [ $# -ge 2 ]; do
    pcap=$1 truth=$2; shift 2
    keys=${pcap%.pcap}.keys
    if [ -n "$KEYS" ] && [ ! -f "$keys" ]; then
        echo "KEYS=1: no key log $keys beside $pcap" >&2
        exit 2
    fi
    bytes=$(stat -c %s "$pcap")
    conns=$(wc -l <"$truth")
    echo "== $pcap: $((bytes / 1000000)) MB, $conns connections"
    # The tools, each run once per round, RUNS rounds: a machine whose speed drifts
    # during the run (a shared VM) slows every tool alike instead of whichever ran then.
    # Besides JSON output to a file: the same to /dev/null and the default text report
    # (failures only), to see what output costs; a memory map; standard input.
    names=(walk walk-mmap tlswhy-1t tlswhy-2t null-1t null-2t store text-1t text-2t html-2t)
    [ -n "$KEYS" ] && names+=(keys-1t keys-2t)
    names+=(mmap-2t stdin-2t)
    command -v tshark >/dev/null && names+=(tshark)
    command -v ssldump >/dev/null && names+=(ssldump)
    if [ -n "${TOOLS:-}" ]; then read -r -a names <<<"$TOOLS"; fi
    if [ -z "$KEYS" ] && [[ " ${names[*]} " == *" keys-"* ]]; then
        echo "the keys-* rows need KEYS=1" >&2
        exit 2
    fi
    if [ -n "${BASE:-}" ]; then
        for name in "${names[@]}"; do
            case $name in tlswhy-* | null-* | text-* | keys-* | mmap-* | stdin-*) names+=("base-$name") ;; esac
            # (html-2t has no base row: an earlier build may not have --html.)
        done
    fi
    rm -f "$WORK"/*.runs
    if [[ " ${names[*]} " == *" store "* ]]; then
        target/release/tlswhy analyze --threads 2 --format json "$pcap" >"$WORK/store.in"
    fi
    for round in $(seq "$RUNS"); do
        # Every other round runs the tools in the opposite order: a slow spell of the
        # machine within a round, or what the run before leaves behind (memory to clear,
        # pages to write back), does not always fall on the same tool.
        order=("${names[@]}")
        if [ $((round % 2)) = 0 ]; then
            order=()
            for ((i = ${#names[@]} - 1; i >= 0; i--)); do order+=("${names[i]}"); done
        fi
        for name in "${order[@]}"; do
            BIN=target/release/tlswhy
            case $name in base-*) BIN=$BASE ;; esac
            case ${name#base-} in
                walk) once walk "$WALK" "$pcap" ;;
                walk-mmap) once walk-mmap "$WALK" --mmap "$pcap" ;;
                tlswhy-1t) once "$name" "$BIN" analyze --threads 1 --format json "$pcap" ;;
                tlswhy-2t) once "$name" "$BIN" analyze --threads 2 --format json "$pcap" ;;
                null-1t) once "$name" sh -c '"$0" analyze --threads 1 --format json "$1" >/dev/null' "$BIN" "$pcap" ;;
                null-2t) once "$name" sh -c '"$0" analyze --threads 2 --format json "$1" >/dev/null' "$BIN" "$pcap" ;;
                store) once store dd if="$WORK/store.in" bs=2M status=none ;;
                text-1t) once "$name" "$BIN" analyze --threads 1 -q "$pcap" ;;
                text-2t) once "$name" "$BIN" analyze --threads 2 -q "$pcap" ;;
                html-2t) once "$name" "$BIN" analyze --threads 2 -q --html "$WORK/report.html" "$pcap" ;;
                keys-1t) once "$name" "$BIN" analyze --threads 1 -q --keylog "$keys" "$pcap" ;;
                keys-2t) once "$name" "$BIN" analyze --threads 2 -q --keylog "$keys" "$pcap" ;;
                mmap-2t) once "$name" "$BIN" analyze --threads 2 --mmap --format json "$pcap" ;;
                stdin-2t) once "$name" sh -c '"$0" analyze --threads 2 --format json - <"$1"' "$BIN" "$pcap" ;;
                tshark) once tshark tshark -r "$pcap" -o tcp.reassemble_out_of_order:TRUE \
                    -Y 'tls.handshake.type==1 || tls.handshake.type==2 || tls.alert_message' \
                    -T fields -e frame.number -e tls.handshake.extensions_server_name \
                    -e tls.handshake.ciphersuite -e tls.alert_message.desc ;;
                ssldump) once ssldump ssldump -n -r "$pcap" ;;
            esac
        done
    done
    results=()
    for name in "${names[@]}"; do results+=("$(median "$name")"); done
    walk_t=$(printf '%s\n' "${results[@]}" | awk '$1=="walk"{print $2}')
    tshark_t=$(printf '%s\n' "${results[@]}" | awk '$1=="tshark"{print $2}')
    printf '%-10s %9s %10s %14s %10s %10s %10s\n' tool seconds MB/s handshakes/s "RSS MiB" "vs walk" "vs tshark"
    for r in "${results[@]}"; do
        read -r name t m <<<"$r"
        [ "$name" = store ] && continue # no analysis: its own line below
        awk -v n="$name" -v t="$t" -v m="$m" -v b="$bytes" -v c="$conns" -v w="$walk_t" -v ts="${tshark_t:-0}" 'BEGIN {
            t = (t > 0) ? t : 0.001
            printf "%-10s %9.3f %10.0f %14.0f %10.0f %10.2f %10s\n", n, t, b / t / 1e6, c / t, m / 1024, w / t, (ts > 0 ? sprintf("%.1fx", ts / t) : "-")
        }'
    done
    # Two threads over one, per output.
    printf '%s\n' "${results[@]}" | awk '{ t[$1] = $2 } END {
        if (t["tlswhy-1t"] > 0 && t["null-1t"] > 0 && t["text-1t"] > 0 &&
            t["tlswhy-2t"] > 0 && t["null-2t"] > 0 && t["text-2t"] > 0)
            printf "2 threads / 1 thread: JSON to a file %.2f, JSON to /dev/null %.2f, text report %.2f\n",
                t["tlswhy-1t"] / t["tlswhy-2t"], t["null-1t"] / t["null-2t"], t["text-1t"] / t["text-2t"]
        if (t["keys-2t"] > 0 && t["text-2t"] > 0)
            printf "with keys / without, text report, 2 threads: speed %.2f (keys-2t %.3f s, text-2t %.3f s)\n",
                t["text-2t"] / t["keys-2t"], t["keys-2t"], t["text-2t"]
        if (t["html-2t"] > 0 && t["text-2t"] > 0)
            printf "with --html / text report alone, 2 threads: time %.3f (html-2t %.3f s, text-2t %.3f s)\n",
                t["html-2t"] / t["text-2t"], t["html-2t"], t["text-2t"]
        for (n in t) if (n ~ /^base-/ && (substr(n, 6) in t))
            printf "A/B %s: base %.3f s, this build %.3f s, this/base %.3f\n", substr(n, 6), t[n], t[substr(n, 6)], t[substr(n, 6)] / t[n]
    }'
    # Per round: JSON's speed against the text report's, and this build's time against
    # the base's.
    # The same on CPU time (user + system, every thread): what the output costs the
    # machine, less swayed by other work on a shared one than the wall clock.
    for json in tlswhy-2t null-2t; do
        r=$(paired text-2t "$json")
        q=$(SPREAD=1 paired text-2t "$json")
        c=$(PAIRED=cpu paired text-2t "$json")
        [ -n "$r" ] && echo "$json speed / text-2t speed, median of the $RUNS rounds' ratios: $r (middle half $q; CPU time: $c)"
    done
    if [ -s "$WORK/store.runs" ] && [ -f "$WORK/store.in" ]; then
        d=$(PAIRED=minus paired tlswhy-2t null-2t)
        echo "storing the $(($(stat -c %s "$WORK/store.in") / 1000000)) MB of JSON Lines alone (store): median $(median store | cut -d' ' -f2) s${d:+; tlswhy-2t's time less null-2t's, median of the rounds: $d s}"
        rm -f "$WORK/store.in"
    fi
    for name in "${names[@]}"; do
        case $name in base-*) ;; *) continue ;; esac
        r=$(paired "${name#base-}" "$name")
        q=$(SPREAD=1 paired "${name#base-}" "$name")
        c=$(PAIRED=cpu paired "${name#base-}" "$name")
        [ -n "$r" ] && echo "A/B ${name#base-} per round: this/base median $r (middle half $q; CPU time: $c)"
    done
    if [ -f "$WORK/report.html" ]; then
        echo "HTML report: $(stat -c %s "$WORK/report.html") bytes"
        rm -f "$WORK/report.html"
    fi
    # Agreement of tlswhy's facts with the truth file, from a full-detail record (the
    # negotiated suite's code is in server_hello), outside the timed rounds.
    target/release/tlswhy analyze --threads 2 --format json --detail full "$pcap" >"$WORK/agreement.out"
    python3 benches/truth_agreement.py "$truth" "$WORK/agreement.out"
    if [ -n "$KEYS" ]; then
        target/release/tlswhy analyze --threads 2 --format json --detail full --keylog "$keys" "$pcap" \
            >"$WORK/agreement.out" 2>/dev/null
        printf 'with --keylog, %s records decrypted; ' "$(grep -c '"proof":"decrypted"' "$WORK/agreement.out" || true)"
        python3 benches/truth_agreement.py "$truth" "$WORK/agreement.out"
    fi
done
