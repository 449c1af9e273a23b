//! Parquet output (`--parquet FILE|DIR`, `--format parquet` to standard output): the
//! JSON records the analysis renders, decoded into Arrow batches of the records'
//! schema and written a row group at a time (`tlswhy_arrow`).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tlswhy_arrow::{ParquetSink, RecordBatch, RecordBatcher};

use crate::outputs::{self, OutputFile};

/// Records gathered per Arrow batch.
const BATCH_ROWS: usize = 8192;

/// One file's records as Arrow batches, made beside the other files'.
pub type Batches = Result<Vec<RecordBatch>, tlswhy_arrow::Error>;

/// The batches of `lines` (JSON Lines): what [`ParquetOut::push_lines`] would make, on
/// whichever thread calls it.
pub fn batches_of(lines: &[u8]) -> Batches {
    let mut batcher = RecordBatcher::new(BATCH_ROWS)?;
    let mut batches = Vec::new();
    batcher.push_lines(lines, &mut batches)?;
    batches.extend(batcher.flush()?);
    Ok(batches)
}

/// The file `--parquet PATH` writes: PATH, or `PATH/part-00000.parquet` when PATH is a
/// folder (as Spark names the files of a dataset, so `read.parquet(PATH)` finds it).
pub fn destination(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("part-00000.parquet")
    } else {
        path.to_path_buf()
    }
}

/// A Parquet output being written.
pub struct ParquetOut {
    file: Option<OutputFile>,
    batcher: RecordBatcher,
    sink: ParquetSink<Box<dyn Write + Send>>,
    /// Where errors are said to be.
    label: PathBuf,
    failed: Option<io::Error>,
}

fn io_error(e: tlswhy_arrow::Error) -> io::Error {
    io::Error::other(e)
}

impl ParquetOut {
    /// Starts the file, beside its destination until [`ParquetOut::finish`].
    pub fn to_file(path: &Path) -> io::Result<ParquetOut> {
        let file = OutputFile::create(path)?;
        let out: Box<dyn Write + Send> =
            Box::new(io::BufWriter::with_capacity(1 << 20, file.file()?));
        ParquetOut::new(out, Some(file), path)
    }

    /// Parquet to standard output.
    pub fn to_stdout() -> io::Result<ParquetOut> {
        ParquetOut::new(
            Box::new(io::BufWriter::with_capacity(1 << 20, io::stdout())),
            None,
            Path::new("standard output"),
        )
    }

    fn new(
        out: Box<dyn Write + Send>,
        file: Option<OutputFile>,
        label: &Path,
    ) -> io::Result<ParquetOut> {
        let about = |e| outputs::about(label, io_error(e));
        Ok(ParquetOut {
            file,
            batcher: RecordBatcher::new(BATCH_ROWS).map_err(about)?,
            sink: ParquetSink::create(out).map_err(about)?,
            label: label.to_path_buf(),
            failed: None,
        })
    }

    /// Adds JSON lines (records); the first error is kept for [`ParquetOut::finish`].
    pub fn push_lines(&mut self, lines: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        let mut batches = Vec::new();
        let result = self
            .batcher
            .push_lines(lines, &mut batches)
            .and_then(|()| batches.iter().try_for_each(|b| self.sink.write(b)));
        if let Err(e) = result {
            self.failed = Some(outputs::about(&self.label, io_error(e)));
        }
    }

    /// Adds batches made by [`batches_of`] (after the rows pushed so far, which must
    /// not leave a partial batch: only one way is used per output).
    pub fn push_batches(&mut self, batches: Batches) {
        if self.failed.is_some() {
            return;
        }
        let result = batches.and_then(|b| b.iter().try_for_each(|b| self.sink.write(b)));
        if let Err(e) = result {
            self.failed = Some(outputs::about(&self.label, io_error(e)));
        }
    }

    /// Writes the last rows and the footer. The file, to commit with the other outputs.
    pub fn finish(mut self) -> io::Result<Option<OutputFile>> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let about = |e| outputs::about(&self.label, io_error(e));
        if let Some(batch) = self.batcher.flush().map_err(about)? {
            self.sink.write(&batch).map_err(about)?;
        }
        let mut out = self.sink.finish().map_err(about)?;
        out.flush().map_err(|e| outputs::about(&self.label, e))?;
        Ok(self.file)
    }
}
