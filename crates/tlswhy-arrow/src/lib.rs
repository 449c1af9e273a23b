//! tlswhy's handshake records as Arrow data: one row per handshake attempt, columns
//! nested where the JSON record nests (the verdict, its details and remedy, alerts,
//! warnings, the QUIC facts…).
//!
//! The JSON record is the contract; this crate follows it rather than a second
//! description. [`schema`] derives the Arrow schema from `schema/handshake.schema.json`,
//! and [`RecordBatcher`] decodes the JSON lines the analysis renders into record
//! batches of that schema, so JSON, Arrow and Parquet say the same thing by
//! construction. [`ParquetSink`] writes the batches to a Parquet file, zstd-compressed,
//! a row group at a time.
//!
//! ```no_run
//! # fn lines() -> Vec<Vec<u8>> { Vec::new() }
//! let mut batcher = tlswhy_arrow::RecordBatcher::new(8192)?;
//! let mut sink = tlswhy_arrow::ParquetSink::create(std::fs::File::create("out.parquet")?)?;
//! for line in lines() {
//!     if let Some(batch) = batcher.push_line(&line)? {
//!         sink.write(&batch)?;
//!     }
//! }
//! if let Some(batch) = batcher.flush()? {
//!     sink.write(&batch)?;
//! }
//! sink.finish()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod batch;
mod parquet_file;
pub mod schema;

pub use arrow_array::RecordBatch;
pub use batch::RecordBatcher;
pub use parquet_file::ParquetSink;

/// What can go wrong turning records into Arrow data or Parquet.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("a record is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a record does not fit the Arrow schema: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}
