//! Parquet output (`--parquet`, `--format parquet`): read back, every row is the JSON
//! record of the same attempt, field for field — on `captures/` (compact and full
//! records) and on the third-party corpus.

mod common;

use std::path::Path;

use serde_json::Value;

/// The rows of a Parquet file as JSON objects (nulls left out, as Arrow's JSON writer
/// does), JSON-text columns read back into values.
fn rows_of(path: &Path) -> Vec<Value> {
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut out = Vec::new();
    let mut writer = arrow_json::LineDelimitedWriter::new(&mut out);
    for batch in reader {
        writer.write(&batch.unwrap()).unwrap();
    }
    writer.finish().unwrap();
    let columns = tlswhy_arrow::schema::json_text_columns(&tlswhy_arrow::schema::record_schema());
    common::json_lines(&out)
        .into_iter()
        .map(|mut row| {
            for column in &columns {
                let path: Vec<&str> = column.split('.').collect();
                parse_text_at(&mut row, &path);
            }
            row
        })
        .collect()
}

fn parse_text_at(v: &mut Value, path: &[&str]) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| parse_text_at(i, path)),
        Value::Object(m) => {
            let Some((first, rest)) = path.split_first() else {
                return;
            };
            if let Some(inner) = m.get_mut(*first) {
                if rest.is_empty() {
                    if let Value::String(text) = inner {
                        *inner = serde_json::from_str(text).unwrap();
                    }
                } else {
                    parse_text_at(inner, rest);
                }
            }
        }
        _ => {}
    }
}

/// A record as the Parquet row says it: nulls left out (absent and null are one in
/// Arrow), numbers as f64 (a float column prints 2.0 where JSON printed 2).
fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        Value::Number(n) => serde_json::json!(n.as_f64().unwrap()),
        other => other.clone(),
    }
}

/// Runs `analyze` on `inputs` with JSON Lines and with Parquet beside it and compares.
fn same_records(inputs: &[&str], extra: &[&str]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("out.parquet");
    let mut args = vec![
        "analyze",
        "-o",
        "json",
        "--parquet",
        parquet.to_str().unwrap(),
    ];
    args.extend(extra);
    args.extend(inputs);
    let out = common::tlswhy(&args, None);
    assert!(
        out.status.code().is_some_and(|c| c < 2) || !out.stdout.is_empty(),
        "{out:?}"
    );
    let json: Vec<Value> = common::json_lines(&out.stdout);
    let rows = rows_of(&parquet);
    assert_eq!(rows.len(), json.len(), "a row per record");
    for (row, record) in rows.iter().zip(&json) {
        assert_eq!(
            normalized(row),
            normalized(record),
            "{}",
            record["handshake_id"]
        );
    }
    rows.len()
}

#[test]
fn parquet_rows_are_the_json_records_of_the_bundled_captures() {
    let captures = common::captures();
    let n = same_records(&[captures.to_str().unwrap()], &[]);
    assert!(n > 200, "{n}");
    same_records(&[captures.to_str().unwrap()], &["--detail", "full"]);
}

#[test]
fn parquet_rows_are_the_json_records_of_the_corpus() {
    let Some(dir) = common::corpus_if_present("tests/parquet.rs corpus") else {
        return;
    };
    let n = same_records(&[dir.to_str().unwrap()], &[]);
    assert!(n > 0);
}

#[test]
fn parquet_to_standard_output_and_into_a_folder() {
    let capture = common::captures().join("no_shared_cipher.pcap");
    let capture = capture.to_str().unwrap();
    let out = common::tlswhy(&["analyze", "--format", "parquet", capture], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(&out.stdout[..4], b"PAR1", "Parquet on standard output");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stdout.parquet");
    std::fs::write(&file, &out.stdout).unwrap();
    assert_eq!(rows_of(&file).len(), 3);
    // A folder gets a part file, as Spark writes datasets.
    let out = common::tlswhy(
        &[
            "analyze",
            "--parquet",
            dir.path().to_str().unwrap(),
            capture,
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    let rows = rows_of(&dir.path().join("part-00000.parquet"));
    assert_eq!(rows[2]["verdict"]["code"], "no_shared_cipher");
}

#[test]
fn a_parquet_output_that_names_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("in.pcap");
    std::fs::copy(common::captures().join("no_shared_cipher.pcap"), &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let c = copy.to_str().unwrap();
    let out = common::tlswhy(&["analyze", "--parquet", c, c], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--parquet"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        before,
        "the input is unchanged"
    );
}
