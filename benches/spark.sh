#!/usr/bin/env bash
# The Spark job (examples/spark/tlswhy_spark.py, local[THREADS]) against the command line
# on the same folder of generated captures, side by side in one run: wall time and MB/s
# (median of RUNS runs) of
#   cli-json     tlswhy analyze -j THREADS --merge-profiles -o json DIR > /dev/null
#   cli-parquet  tlswhy analyze -j THREADS --merge-profiles --parquet OUT DIR
#   spark        the job, both stages, Parquet out
# and whether the job's verdicts equal the command line's (codes counted by DuckDB).
#
# usage: benches/spark.sh     (FILES=200 CONNS=1500 BULK_KB=0-10 THREADS=2 RUNS=3; PYTHON=python with
#        tlswhy, pyspark, pandas and duckdb, e.g. .ci/run's venv /tmp/tlswhy-venv/bin/python)
# The folder (FILES captures of CONNS connections each with BULK_KB of server data,
# gen_capture seeds 1..FILES; about 12 MB per file with the defaults) is
# kept in $WORK and reused while the generator and the arguments are the same.
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${FILES:-200}
CONNS=${CONNS:-1500}
BULK_KB=${BULK_KB:-0-10}
THREADS=${THREADS:-2}
RUNS=${RUNS:-3}
WORK=${WORK:-/tmp/tlswhy-bench}
PYTHON=${PYTHON:-python3}

cargo build --release --quiet --bin tlswhy --example gen_capture
BIN=target/release/tlswhy
DIR=$WORK/spark-$FILES-$CONNS-$BULK_KB
made_by="$(sha256sum target/release/examples/gen_capture | cut -c1-16) $FILES $CONNS $BULK_KB"
if [ "$(cat "$DIR.made-by" 2>/dev/null)" != "$made_by" ]; then
    rm -rf "$DIR"
    mkdir -p "$DIR"
    for i in $(seq 1 "$FILES"); do
        target/release/examples/gen_capture --connections "$CONNS" --bulk-kb "$BULK_KB" --seed "$i" --out "$DIR/cap-$(printf %04d "$i").pcap" > /dev/null
    done
    echo "$made_by" > "$DIR.made-by"
fi
MB=$(du -sm "$DIR" | cut -f1)
echo "folder: $DIR, $FILES captures, $MB MB"

OUT=$WORK/spark-out
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_of() { # NAME COMMAND...: seconds of one run, appended to $WORK/NAME.spark-runs
    local name=$1
    shift
    local t0 t1
    t0=$(date +%s.%N)
    "$@" > /dev/null 2> "$WORK/$name.spark-err" || { echo "$name failed:"; tail -5 "$WORK/$name.spark-err"; exit 1; }
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc >> "$WORK/$name.spark-runs"
}
spark_job() {
    rm -rf "$OUT/spark"
    SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON="$PYTHON" "$PYTHON" examples/spark/tlswhy_spark.py \
        --master "local[$THREADS]" --out "$OUT/spark" "$DIR"
}
mkdir -p "$OUT"
rm -f "$WORK"/*.spark-runs
for _ in $(seq 1 "$RUNS"); do
    time_of cli-json "$BIN" analyze -j "$THREADS" -q --merge-profiles -o json "$DIR"
    rm -f "$OUT/cli.parquet"
    time_of cli-parquet "$BIN" analyze -j "$THREADS" -q --merge-profiles -o json --parquet "$OUT/cli.parquet" "$DIR"
    time_of spark spark_job
done
printf '%-12s %9s %9s\n' row seconds MB/s
for name in cli-json cli-parquet spark; do
    s=$(median < "$WORK/$name.spark-runs")
    printf '%-12s %9.2f %9.1f\n' "$name" "$s" "$(echo "$MB / $s" | bc -l)"
done
"$PYTHON" - "$OUT/cli.parquet" "$OUT/spark" <<'PY'
import sys, duckdb
q = "SELECT verdict.code, count(*) FROM read_parquet('{}') GROUP BY 1 ORDER BY 1"
cli = duckdb.sql(q.format(sys.argv[1])).fetchall()
spark = duckdb.sql(q.format(sys.argv[2] + "/*.parquet")).fetchall()
print("verdict codes equal:", cli == spark, f"({sum(n for _, n in cli)} records)")
PY
