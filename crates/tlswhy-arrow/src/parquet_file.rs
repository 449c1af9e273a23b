//! Record batches to a Parquet file.

use std::io::Write;

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::schema::record_schema;
use crate::Error;

/// Rows per row group: Spark, DuckDB and pyarrow read a row group at a time; a few
/// tens of thousands of compact records are a few MB.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;

/// A Parquet file of records being written. Row groups are written as they fill, so
/// memory holds one row group, not the file.
pub struct ParquetSink<W: Write + Send> {
    writer: ArrowWriter<W>,
}

impl<W: Write + Send> ParquetSink<W> {
    /// Starts a file of [`record_schema`] rows, zstd-compressed.
    pub fn create(out: W) -> Result<ParquetSink<W>, Error> {
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("tlswhy {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = ArrowWriter::try_new(out, record_schema(), Some(properties))?;
        Ok(ParquetSink { writer })
    }

    /// Adds a batch of rows.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        self.writer.write(batch)?;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> i64 {
        self.writer
            .flushed_row_groups()
            .iter()
            .map(|g| g.num_rows())
            .sum::<i64>()
            + self.writer.in_progress_rows() as i64
    }

    /// Writes the last row group and the footer; the output back.
    pub fn finish(self) -> Result<W, Error> {
        Ok(self.writer.into_inner()?)
    }
}
