"""tlswhy on Spark: every TLS handshake of a folder (or table) of captures, diagnosed on
the cluster's workers with the `tlswhy` Python package, written as Parquet.

    spark-submit examples/spark/tlswhy_spark.py --out verdicts.parquet captures/ more/*.pcap
    spark-submit examples/spark/tlswhy_spark.py --out verdicts.parquet --table paths.parquet

The records are those of `tlswhy analyze --merge-profiles --format json` on all the files
at once (the same columns as `--parquet`), because the job runs in two stages:

1. Each capture is analyzed on some worker (`mapInArrow`) and its records are written,
   but for the verdicts that cite server profiles (what the server's other connections
   showed: "for other clients it picked TLS_RSA_WITH_AES_128_CBC_SHA"). Its server
   profiles come back to the driver as bytes, through an accumulator.
2. The profiles of all the captures are merged by server (in path order), broadcast, and
   the captures that held verdicts are analyzed again with them: their verdicts, which
   now draw on every file (a server's other connections may sit in another file of a
   ring buffer), are appended to the output.

`--per-file-profiles` skips the second stage: each capture's profiles are its own, as
with `tlswhy analyze` without `--merge-profiles` (captures of unrelated tests).

Paths are local paths or URIs: `file:` URIs and plain paths are read in place (the path
must be there on every worker: a shared file system); any other URI (hdfs://, s3://,
gs://, …) is read through pyarrow's file systems into memory on the worker.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Iterator, List

import pyarrow as pa
import tlswhy

#: The records' schema: the columns of `tlswhy analyze --parquet`.
RECORD = tlswhy.schema()

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz")


def capture_paths(args: List[str]) -> List[str]:
    """Files and folders (walked for capture files, as `tlswhy analyze` walks them),
    sorted; URIs as given."""
    out = []
    for arg in args:
        if "://" in arg and not arg.startswith("file:"):
            out.append(arg)
        elif os.path.isdir(arg):
            for root, dirs, files in os.walk(arg):
                dirs.sort()
                out.extend(
                    os.path.join(root, f) for f in sorted(files) if f.endswith(CAPTURE_SUFFIXES)
                )
        else:
            out.append(arg)
    return sorted(out)


def _analysis(path: str, **options) -> tlswhy.Analysis:
    """The analysis of one capture, its records named after `path`."""
    if "://" in path and not path.startswith("file:"):
        import pyarrow.fs

        fs, inner = pyarrow.fs.FileSystem.from_uri(path)
        with fs.open_input_stream(inner) as f:
            data = f.read()
        return tlswhy.Analysis([data], name=path, **options)
    local = path[len("file:"):] if path.startswith("file:") else path
    if local.startswith("//"):
        local = local[2:]
    return tlswhy.Analysis([local], name=path, **options)


def _profiles_found():
    """An accumulator parameter: a list of (path, profiles, held) the workers add to."""
    from pyspark.accumulators import AccumulatorParam

    class Found(AccumulatorParam):
        def zero(self, value):
            return []

        def addInPlace(self, a, b):
            a.extend(b)
            return a

    return Found()


def first_stage(options: dict, per_file: bool, found):
    """Stage 1, on the workers: batches of paths in, records out; each capture's
    profiles and held verdicts added to `found` (an accumulator)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for path in batch.column("path").to_pylist():
                if per_file:
                    yield from pa.RecordBatchReader.from_stream(_analysis(path, **options))
                    continue
                analysis = _analysis(path, keep_profiles=True, cites_profiles=False, **options)
                yield from pa.RecordBatchReader.from_stream(analysis)
                found.add([(path, analysis.profiles or b"", analysis.held)])

    return run


def second_stage(profiles, options: dict):
    """Stage 2, on the workers: the captures that held verdicts, analyzed again with
    the merged profiles (a broadcast); only those verdicts out."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for path in batch.column("path").to_pylist():
                analysis = _analysis(
                    path, server_profiles=profiles.value, cites_profiles=True, **options
                )
                yield from pa.RecordBatchReader.from_stream(analysis)

    return run


def run_job(spark, paths, out: str, per_file: bool = False, **options) -> dict:
    """Runs both stages over `paths` (a DataFrame with a `path` column) and writes the
    records to `out` (Parquet, replaced). Returns counts."""
    from pyspark.sql.pandas.types import from_arrow_schema

    options.setdefault("threads", 1)
    captures = paths.count()
    partitions = max(1, min(captures, spark.sparkContext.defaultParallelism * 4))
    paths = paths.select("path").repartition(partitions)
    schema = from_arrow_schema(RECORD)
    found = spark.sparkContext.accumulator([], _profiles_found())
    paths.mapInArrow(first_stage(options, per_file, found), schema).write.mode("overwrite").parquet(out)
    held_paths: List[str] = []
    if not per_file:
        # A task run twice (a retry) adds its captures twice: one entry per path.
        by_path = {path: (profiles, held) for path, profiles, held in found.value}
        if len(by_path) != captures:
            raise RuntimeError(f"profiles of {len(by_path)} of {captures} captures came back")
        # Merged in path order, as `tlswhy analyze --merge-profiles` merges in input order.
        merged = tlswhy.merge_profiles([p for _, (p, _) in sorted(by_path.items()) if p])
        held_paths = sorted(path for path, (_, held) in by_path.items() if held > 0)
        if held_paths:
            profiles = spark.sparkContext.broadcast(merged)
            again = spark.createDataFrame([(p,) for p in held_paths], "path string")
            again = again.repartition(max(1, min(len(held_paths), partitions)))
            cited = again.mapInArrow(second_stage(profiles, options), schema)
            cited.write.mode("append").parquet(out)
    return {"captures": captures, "reanalyzed": len(held_paths)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="capture files, folders or URIs")
    parser.add_argument("--table", help="a table of capture paths (Parquet, or CSV/text with a `path` column)")
    parser.add_argument("--out", required=True, help="the Parquet output (a folder)")
    parser.add_argument("--master", default=None, help="Spark master (default: spark-submit's, else local[*])")
    parser.add_argument("--per-file-profiles", action="store_true", help="each capture's server profiles are its own")
    parser.add_argument("--detail", default="compact", choices=["compact", "full"])
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)

    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("tlswhy")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    if args.table:
        if args.table.endswith((".csv", ".txt")):
            paths = spark.read.option("header", True).csv(args.table)
        else:
            paths = spark.read.parquet(args.table)
    else:
        found = capture_paths(args.paths)
        if not found:
            print("tlswhy_spark: no capture files given", file=sys.stderr)
            return 2
        paths = spark.createDataFrame([(p,) for p in found], "path string")
    counts = run_job(
        spark,
        paths,
        args.out,
        per_file=args.per_file_profiles,
        detail=args.detail,
        timeout=args.timeout,
    )
    print(f"tlswhy_spark: {counts['captures']} capture(s), {counts['reanalyzed']} analyzed again with merged profiles → {args.out}", file=sys.stderr)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
