"""The Python package and the Spark job against the command line's JSON records (run by
tests/python.rs, which builds nothing: the wheel is installed by .ci/run).

    check.py package CLI CAPTURES [CORPUS]
    check.py spark CLI WORK PATH...

Exits 0 when every record agrees, else prints the first difference and exits 1.
"""

import json
import os
import subprocess
import sys
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq
import tlswhy

JSON_TEXT = b"tlswhy.json_text"


def json_text_paths(schema: pa.Schema):
    """Dotted paths of the columns that hold JSON text."""
    out = []

    def walk(field: pa.Field, path):
        path = path + [field.name]
        if field.metadata and field.metadata.get(JSON_TEXT) == b"true":
            out.append(path)
            return
        t = field.type
        while pa.types.is_list(t):
            t = t.value_type
        if pa.types.is_struct(t):
            for i in range(t.num_fields):
                walk(t.field(i), path)

    for f in schema:
        walk(f, [])
    return out


TEXT_PATHS = json_text_paths(tlswhy.schema())


def parse_text(value, path):
    if isinstance(value, list):
        return [parse_text(v, path) for v in value]
    if not isinstance(value, dict) or not path:
        return value
    head, rest = path[0], path[1:]
    if head in value and value[head] is not None:
        if rest:
            value[head] = parse_text(value[head], rest)
        elif isinstance(value[head], str):
            value[head] = json.loads(value[head])
    return value


def normalized(v):
    """Nulls left out, numbers as floats: how a row and its JSON record compare."""
    if isinstance(v, dict):
        return {k: normalized(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [normalized(x) for x in v]
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    return v


def row_as_record(row):
    for path in TEXT_PATHS:
        row = parse_text(row, path)
    return normalized(row)


def cli_records(cli, args):
    out = subprocess.run([cli, "analyze", "-o", "json", *args], capture_output=True, check=False)
    if out.returncode not in (0, 1):
        sys.exit(f"tlswhy analyze {args}: exit {out.returncode}: {out.stderr.decode()[:500]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line]


def same(label, rows, records):
    rows = [row_as_record(r) for r in rows]
    records = [normalized(r) for r in records]
    if len(rows) != len(records):
        sys.exit(f"{label}: {len(rows)} rows, {len(records)} JSON records")
    for i, (a, b) in enumerate(zip(rows, records)):
        if a != b:
            diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
            sys.exit(f"{label}: row {i} differs from the JSON record: {json.dumps(diff)[:2000]}")
    print(f"{label}: {len(rows)} records agree")


def captures_in(folder):
    out = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        out.extend(os.path.join(root, f) for f in sorted(files) if f.endswith((".pcap", ".pcapng", ".cap", ".gz")))
    return out


def check_lock_released(path, data):
    """The analysis does not hold the interpreter lock: it reads a capture from a FIFO
    that only this Python thread writes. Holding the lock, it would wait forever."""
    import threading

    with tempfile.TemporaryDirectory() as work:
        fifo = os.path.join(work, "capture.fifo")
        os.mkfifo(fifo)
        got = {}
        reader = threading.Thread(
            target=lambda: got.update(rows=tlswhy.analyze(fifo, name=path, as_dicts=True)),
            daemon=True,
        )
        reader.start()
        with open(fifo, "wb") as w:
            for i in range(0, len(data), 512):
                w.write(data[i : i + 512])
                w.flush()
        reader.join(timeout=60)
        if reader.is_alive():
            sys.exit("analyze() kept the interpreter lock while reading: the writer could not run")
        if got["rows"] != tlswhy.analyze(path, as_dicts=True):
            sys.exit("a capture read from a FIFO gave other records")
    print("the interpreter lock is released while the analysis works")


def check_package(cli, captures, corpus=None):
    assert tlswhy.__version__ and tlswhy.SCHEMA_VERSION
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "..", "schema", "handshake.schema.json")) as f:
        if f.read() != tlswhy.json_schema():
            sys.exit("the installed package was built from another schema: rebuild the wheel")
    codes = [c["code"] for c in tlswhy.codes()]
    assert "no_shared_cipher" in codes and "ok" in codes, codes
    assert json.loads(tlswhy.json_schema())["properties"]["verdict"]
    assert "verdict" in tlswhy.schema().names
    folders = [captures] + ([corpus] if corpus else [])
    for folder in folders:
        files = captures_in(folder)
        expected = cli_records(cli, [folder])
        table = tlswhy.analyze_many(files, threads=2).read_all()
        same(f"analyze_many({folder})", table.to_pylist(), expected)
        dicts = tlswhy.analyze_many(files, threads=2, as_dicts=True)
        if dicts != expected:
            sys.exit(f"analyze_many({folder}, as_dicts=True) differs from the JSON records")
        print(f"analyze_many({folder}, as_dicts=True): {len(dicts)} dicts agree")
    one = os.path.join(captures, "no_shared_cipher.pcap")
    expected = cli_records(cli, ["--detail", "full", one])
    same("analyze(full)", tlswhy.analyze(one, detail="full").read_all().to_pylist(), expected)
    with open(one, "rb") as f:
        data = f.read()
    by_bytes = tlswhy.analyze(data, name=one, as_dicts=True)
    assert by_bytes == cli_records(cli, [one]), "bytes named as the file give the file's records"
    check_lock_released(one, data)
    try:
        tlswhy.analyze(os.path.join(captures, "no-such-file.pcap")).read_all()
        sys.exit("an unreadable capture did not raise")
    except OSError as e:
        assert "no-such-file" in str(e), e
    print("package: ok")


def check_spark(cli, work, paths):
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "..", "..", "examples", "spark"))
    import tlswhy_spark
    from pyspark.sql import SparkSession

    # Spark's log at errors only: log4j reads $SPARK_CONF_DIR/log4j2.properties when
    # the JVM starts.
    conf = os.path.join(work, "spark-conf")
    os.makedirs(conf, exist_ok=True)
    with open(os.path.join(conf, "log4j2.properties"), "w") as f:
        f.write(
            "rootLogger.level = error\n"
            "rootLogger.appenderRef.stderr.ref = console\n"
            "logger.repl.name = org.apache.spark.api.python.PythonGatewayServer\n"
            "logger.repl.level = error\n"
            "appender.console.type = Console\n"
            "appender.console.name = console\n"
            "appender.console.target = SYSTEM_ERR\n"
            "appender.console.layout.type = PatternLayout\n"
            "appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n\n"
        )
    os.environ["SPARK_CONF_DIR"] = conf
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("tlswhy-check")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    # The workers import the job's functions from its module.
    spark.sparkContext.addPyFile(tlswhy_spark.__file__)
    files = tlswhy_spark.capture_paths(paths)
    table = spark.createDataFrame([(p,) for p in files], "path string")
    out = os.path.join(work, "verdicts.parquet")
    counts = tlswhy_spark.run_job(spark, table, out)
    spark.stop()
    rows = pq.read_table(out).to_pylist()
    expected = cli_records(cli, ["--merge-profiles", *files])

    def key(r):
        return json.dumps(row_as_record(dict(r)), sort_keys=True)

    rows = sorted(rows, key=key)
    expected = sorted(expected, key=lambda r: json.dumps(normalized(r), sort_keys=True))
    same(f"spark job ({len(files)} captures, {counts['reanalyzed']} analyzed again)", rows, expected)
    if counts["reanalyzed"] == 0:
        sys.exit("no capture held verdicts for the merged profiles: the second stage went untested")
    print("spark: ok")


def main():
    what, cli = sys.argv[1], sys.argv[2]
    if what == "package":
        check_package(cli, sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    elif what == "spark":
        check_spark(cli, sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
