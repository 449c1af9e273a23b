#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each and prints, per target,
# executions, coverage and what was found.
#
#   fuzz/run.sh SECONDS [TARGET...]
#
# Environment:
#   FUZZ_JOBS=N      targets run N at a time (default 1; the machine has 2 cores)
#   FUZZ_FORK=1      libFuzzer's fork mode (goes on past crashes; slower per execution)
#   FUZZ_CORPUS=DIR  extra captures for seeds (default ../shared/corpus when present)
#   TOOLCHAIN=+nightly   use a nightly toolchain instead of stable + RUSTC_BOOTSTRAP=1
#
# Seeds are (re)written by seeds.py into fuzz/seeds/<target>; the growing corpus is
# fuzz/corpus/<target>; crashes, timeouts and OOMs land in fuzz/artifacts/<target>/;
# libFuzzer's output is in fuzz/logs/<target>.log. See README.md.
set -euo pipefail
cd "$(dirname "$0")"

secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(capture_reader capture_stream packets_to_flows tls_conversation tls_keyed_conversation quic_attempt quic_keyed_attempt analyze)
jobs=${FUZZ_JOBS:-1}
toolchain=${TOOLCHAIN:-}
if [ -z "$toolchain" ]; then
    # libFuzzer and the sanitizer flags need unstable features: let stable allow them.
    export RUSTC_BOOTSTRAP=1
fi

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

corpus_dir=${FUZZ_CORPUS:-../../shared/corpus}
seed_args=()
[ -d "$corpus_dir" ] && seed_args=(--corpus "$corpus_dir")
python3 seeds.py "${seed_args[@]}" >/dev/null

# Release build with debug assertions (cargo-fuzz's default, spelled out): arithmetic
# overflow is a crash too. AddressSanitizer is on.
cargo $toolchain fuzz build -a 2>&1 | tail -n 1
bin_dir=target/x86_64-unknown-linux-gnu/release

max_len() {
    case "$1" in
        capture_reader | capture_stream | analyze) echo 65536 ;;
        packets_to_flows) echo 65536 ;;
        tls_conversation | tls_keyed_conversation) echo 32768 ;;
    esac
}

run_one() {
    local t=$1 deadline left began status
    mkdir -p "corpus/$t" "artifacts/$t" logs
    : >"logs/$t.log"
    deadline=$(($(date +%s) + secs))
    while :; do
        left=$((deadline - $(date +%s)))
        [ "$left" -gt 0 ] || break
        began=$(date +%s)
        status=0
        if [ "${FUZZ_FORK:-0}" = 1 ]; then
            # Fork mode: a crash, timeout or OOM is saved under artifacts/ and the run goes
            # on (slower per execution: each job reloads part of the corpus).
            "$bin_dir/$t" "corpus/$t" "seeds/$t" -max_total_time="$left" \
                -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
                -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
                -artifact_prefix="artifacts/$t/" >>"logs/$t.log" 2>&1 || true
            break
        fi
        "$bin_dir/$t" "corpus/$t" "seeds/$t" -max_total_time="$left" \
            -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="artifacts/$t/" \
            >>"logs/$t.log" 2>&1 || status=$?
        [ "$status" -ne 0 ] || break
        # A crash, timeout or OOM (saved under artifacts/): start again for the time
        # left. One that comes back at once (a seed hits it) switches to fork mode.
        echo "run.sh: $t stopped with status $status; restarting" >>"logs/$t.log"
        if [ $(($(date +%s) - began)) -lt 30 ]; then
            FUZZ_FORK=1
        fi
    done
}

pids=()
for t in "${targets[@]}"; do
    run_one "$t" &
    pids+=($!)
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
done
wait

# The summary reads logs whose lines may be missing: no -e or pipefail from here on.
set +e +o pipefail
printf '%-18s %12s %8s %8s %8s %s\n' target executions exec/s cov ft restarts
for t in "${targets[@]}"; do
    log=logs/$t.log
    # Executions: libFuzzer's final stats of each run (plus fork mode's last progress
    # line); coverage: the last "cov:" it printed.
    execs=$(
        {
            grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}'
            grep -E '^#[0-9]+: cov:' "$log" | tail -n1 | sed -E 's/^#([0-9]+):.*/\1/'
        } | awk '{s += $1} END {print s + 0}'
    )
    last=$(grep -E "^#[0-9]+:?[[:space:]].*cov: " "$log" | tail -n1)
    cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | awk '{print $2}')
    ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | awk '{print $2}')
    restarts=$(grep -c '^run.sh: .* restarting' "$log" || true)
    printf '%-18s %12s %8s %8s %8s %s\n' "$t" "$execs" "$((execs / secs))" "${cov:-?}" \
        "${ft:-?}" "$restarts"
done

# Triage: one line per distinct panic location (or sanitizer report) over all artifacts.
for t in "${targets[@]}"; do
    for a in artifacts/"$t"/crash-* artifacts/"$t"/timeout-* artifacts/"$t"/oom-*; do
        [ -e "$a" ] || continue
        out=$(timeout 60 "$bin_dir/$t" -timeout=10 -rss_limit_mb=2048 "$a" 2>&1 || true)
        where=$(grep -m1 -oE "panicked at [^ ]+|ERROR: (libFuzzer|AddressSanitizer): [a-z -]+" \
            <<<"$out" || echo "no longer reproduces")
        echo "$t|$where|$a"
    done
done | awk -F'|' '{k=$1": "$2; n[k]++; if (!(k in ex)) ex[k]=$3}
    END {for (k in n) printf "  %s (%d inputs, e.g. %s)\n", k, n[k], ex[k]}' | sort
