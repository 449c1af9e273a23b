//! JSON records in, Arrow record batches out: arrow-json's tape decoder reads the lines
//! as they are, and the columns that hold JSON text ([`crate::schema::JSON_TEXT`]) get a
//! decoder of their own that writes the value back as text.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_json::reader::{
    ArrayDecoder, Decoder, DecoderContext, DecoderFactory, Tape, TapeElement,
};
use arrow_schema::{ArrowError, FieldRef, SchemaRef};

use crate::schema::{record_schema, JSON_TEXT};
use crate::Error;

/// Gathers records (JSON lines as the analysis renders them) into record batches of
/// [`record_schema`], `rows` at a time.
pub struct RecordBatcher {
    schema: SchemaRef,
    decoder: Decoder,
    rows: usize,
}

impl RecordBatcher {
    /// A batcher that hands on a batch every `rows` records.
    pub fn new(rows: usize) -> Result<RecordBatcher, Error> {
        let rows = rows.max(1);
        let schema = record_schema();
        let decoder = arrow_json::ReaderBuilder::new(Arc::clone(&schema))
            .with_batch_size(rows)
            .with_decoder_factory(Arc::new(JsonTextColumns))
            .build_decoder()?;
        Ok(RecordBatcher {
            schema,
            decoder,
            rows,
        })
    }

    /// The schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Adds one record (a JSON object, with or without its newline); a batch when
    /// `rows` records have gathered.
    pub fn push_line(&mut self, line: &[u8]) -> Result<Option<RecordBatch>, Error> {
        let mut batches = Vec::new();
        self.push_lines(line, &mut batches)?;
        // One line makes at most one batch.
        Ok(batches.pop())
    }

    /// Adds every line of `lines` (JSON Lines), appending the batches made to `out`.
    pub fn push_lines(
        &mut self,
        mut lines: &[u8],
        out: &mut Vec<RecordBatch>,
    ) -> Result<(), Error> {
        while !lines.is_empty() {
            let read = self.decoder.decode(lines)?;
            lines = &lines[read..];
            if self.decoder.len() >= self.rows {
                out.extend(self.decoder.flush()?);
            } else if read == 0 {
                break;
            }
        }
        Ok(())
    }

    /// The records gathered so far, if any, as a batch.
    pub fn flush(&mut self) -> Result<Option<RecordBatch>, Error> {
        if self.decoder.has_partial_record() {
            // A last line cut short: decoding it is refused, not guessed.
            self.decoder.decode(b"\n")?;
        }
        Ok(self.decoder.flush()?)
    }
}

/// Gives the columns marked [`JSON_TEXT`] a [`JsonText`] decoder.
#[derive(Debug)]
struct JsonTextColumns;

impl DecoderFactory for JsonTextColumns {
    fn make_default_decoder(
        &self,
        _ctx: &DecoderContext,
        field: &FieldRef,
        _is_nullable: bool,
    ) -> Result<Option<Box<dyn ArrayDecoder>>, ArrowError> {
        Ok(field
            .metadata()
            .contains_key(JSON_TEXT)
            .then(|| Box::new(JsonText) as Box<dyn ArrayDecoder>))
    }
}

/// Any JSON value, as its text (a null as a null).
struct JsonText;

impl ArrayDecoder for JsonText {
    fn decode(&mut self, tape: &Tape<'_>, pos: &[u32]) -> Result<ArrayRef, ArrowError> {
        let mut text = String::new();
        let values: Vec<Option<String>> = pos
            .iter()
            .map(|&p| {
                if tape.get(p) == TapeElement::Null {
                    return Ok(None);
                }
                text.clear();
                write_value(tape, p, &mut text)?;
                Ok(Some(text.clone()))
            })
            .collect::<Result<_, ArrowError>>()?;
        Ok(Arc::new(StringArray::from(values)))
    }
}

/// Writes the value at `p` as JSON text; the index after it.
fn write_value(tape: &Tape<'_>, p: u32, out: &mut String) -> Result<u32, ArrowError> {
    match tape.get(p) {
        TapeElement::StartObject(end) => write_items(tape, (p, end), ('{', '}'), true, out),
        TapeElement::StartList(end) => write_items(tape, (p, end), ('[', ']'), false, out),
        TapeElement::String(i) => {
            write_string(tape.get_string(i), out);
            Ok(p + 1)
        }
        TapeElement::Number(i) => {
            out.push_str(tape.get_string(i));
            Ok(p + 1)
        }
        TapeElement::True => {
            out.push_str("true");
            Ok(p + 1)
        }
        TapeElement::False => {
            out.push_str("false");
            Ok(p + 1)
        }
        TapeElement::Null => {
            out.push_str("null");
            Ok(p + 1)
        }
        _ => Err(tape.error(p, "a JSON value")),
    }
}

/// The members of an object (`pairs`: key, value) or the items of a list between tape
/// indexes `start` and `end`, in `brackets`; the index after them.
fn write_items(
    tape: &Tape<'_>,
    (start, end): (u32, u32),
    (open, close): (char, char),
    pairs: bool,
    out: &mut String,
) -> Result<u32, ArrowError> {
    out.push(open);
    let mut at = start + 1;
    while at < end {
        if at > start + 1 {
            out.push(',');
        }
        if pairs {
            at = write_value(tape, at, out)?;
            out.push(':');
        }
        at = write_value(tape, at, out)?;
    }
    out.push(close);
    Ok(end + 1)
}

/// A string as JSON writes it.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
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
        let text: serde_json::Value = serde_json::from_str(suites.value(1)).unwrap();
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
        // A number where a struct goes: refused when the batch is made.
        let bad = batcher
            .push_line(br#"{"verdict":5}"#)
            .and_then(|_| batcher.flush());
        assert!(bad.is_err());
        let mut batcher = RecordBatcher::new(8).unwrap();
        let cut = batcher
            .push_line(br#"{"capture":"a.pcap","ts":"#)
            .and_then(|_| batcher.flush());
        assert!(cut.is_err(), "a record cut short");
    }

    #[test]
    fn json_text_keeps_strings_escaped_and_numbers_as_written() {
        let mut batcher = RecordBatcher::new(1).unwrap();
        let line =
            br#"{"verdict":{"remedy":{"client":{"a":"q\"\\\n","b":[1.50,-2,true,null,{}]}}}}"#;
        let batch = batcher.push_line(line).unwrap().expect("a batch of one");
        let verdict = batch
            .column_by_name("verdict")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::StructArray>()
            .unwrap();
        let remedy = verdict
            .column_by_name("remedy")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::StructArray>()
            .unwrap();
        let client = remedy
            .column_by_name("client")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(
            client.value(0),
            r#"{"a":"q\"\\\n","b":[1.50,-2,true,null,{}]}"#
        );
    }
}
