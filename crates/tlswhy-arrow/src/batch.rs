//! JSON records in, Arrow record batches out.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_json::reader::Decoder;
use arrow_schema::{DataType, Field, Fields, SchemaRef};
use serde_json::Value;

use crate::schema::{record_schema, JSON_TEXT};
use crate::Error;

/// Gathers records (JSON lines as the analysis renders them) into record batches of
/// [`record_schema`], `rows` at a time.
pub struct RecordBatcher {
    schema: SchemaRef,
    decoder: Decoder,
    rows: usize,
    pending: usize,
}

impl RecordBatcher {
    /// A batcher that hands on a batch every `rows` records.
    pub fn new(rows: usize) -> Result<RecordBatcher, Error> {
        let rows = rows.max(1);
        let schema = record_schema();
        let decoder = arrow_json::ReaderBuilder::new(Arc::clone(&schema))
            .with_batch_size(rows)
            .build_decoder()?;
        Ok(RecordBatcher {
            schema,
            decoder,
            rows,
            pending: 0,
        })
    }

    /// The schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Adds one record (a JSON object, with or without its newline); a batch when
    /// `rows` records have gathered.
    pub fn push_line(&mut self, line: &[u8]) -> Result<Option<RecordBatch>, Error> {
        let mut record: Value = serde_json::from_slice(line)?;
        fit(&mut record, self.schema.fields());
        self.decoder.serialize(std::slice::from_ref(&record))?;
        self.pending += 1;
        if self.pending >= self.rows {
            return self.flush();
        }
        Ok(None)
    }

    /// Adds every line of `lines` (JSON Lines), appending the batches made to `out`.
    pub fn push_lines(&mut self, lines: &[u8], out: &mut Vec<RecordBatch>) -> Result<(), Error> {
        for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            out.extend(self.push_line(line)?);
        }
        Ok(())
    }

    /// The records gathered so far, if any, as a batch.
    pub fn flush(&mut self) -> Result<Option<RecordBatch>, Error> {
        self.pending = 0;
        Ok(self.decoder.flush()?)
    }
}

/// Turns the values of JSON-text columns into their text, in place.
fn fit(value: &mut Value, fields: &Fields) {
    let Value::Object(object) = value else {
        return;
    };
    for field in fields {
        if let Some(v) = object.get_mut(field.name()) {
            fit_field(v, field);
        }
    }
}

fn fit_field(value: &mut Value, field: &Field) {
    if value.is_null() {
        return;
    }
    if field.metadata().contains_key(JSON_TEXT) {
        *value = Value::String(value.to_string());
        return;
    }
    match field.data_type() {
        DataType::Struct(fields) => fit(value, fields),
        DataType::List(item) => {
            if let Value::Array(items) = value {
                for v in items {
                    fit_field(v, item);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, StringArray, StructArray};

    #[test]
    fn records_become_rows_and_variant_fields_their_json_text() {
        let mut batcher = RecordBatcher::new(2).unwrap();
        let a = br#"{"capture":"a.pcap","ts":1.5,"client_port":51000,"established":false,"verdict":{"code":"no_shared_cipher","details":[{"kind":"client_hello","suites":12},{"kind":"profile_suites_picked","suites":[{"name":"TLS_RSA_WITH_AES_128_CBC_SHA","code":47}]}]}}"#;
        let b = br#"{"capture":"b.pcap","ts":2.5,"established":true,"verdict":{"code":"ok"},"unknown_field":1}"#;
        assert!(batcher.push_line(a).unwrap().is_none());
        let batch = batcher
            .push_line(b)
            .unwrap()
            .expect("two rows make a batch");
        assert_eq!(batch.num_rows(), 2);
        let capture = batch
            .column_by_name("capture")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(capture.value(1), "b.pcap");
        let verdict = batch
            .column_by_name("verdict")
            .unwrap()
            .as_any()
            .downcast_ref::<StructArray>()
            .unwrap();
        let details = verdict.column_by_name("details").unwrap();
        let details = details
            .as_any()
            .downcast_ref::<arrow_array::ListArray>()
            .unwrap();
        let first = details.value(0);
        let first = first.as_any().downcast_ref::<StructArray>().unwrap();
        let suites = first
            .column_by_name("suites")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(suites.value(0), "12");
        let text: Value = serde_json::from_str(suites.value(1)).unwrap();
        assert_eq!(
            text,
            serde_json::json!([{"name": "TLS_RSA_WITH_AES_128_CBC_SHA", "code": 47}])
        );
        assert!(details.is_null(1), "no details: null");
        assert!(batcher.flush().unwrap().is_none());
    }

    #[test]
    fn a_line_that_is_not_a_record_is_an_error() {
        let mut batcher = RecordBatcher::new(8).unwrap();
        assert!(batcher.push_line(b"{\"ts\":").is_err());
        // A number where a struct goes: refused when the batch is made.
        let bad = batcher
            .push_line(br#"{"verdict":5}"#)
            .and_then(|_| batcher.flush());
        assert!(bad.is_err());
    }
}
