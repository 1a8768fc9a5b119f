//! Where a drift report's columns come from: a [`Table`] in memory, or a Parquet file read one column at
//! a time. A report needs a column pair only while it tests it, so a Parquet file's columns are decoded
//! by the workers as they reach them and dropped after: a report over two 20-column files of a million
//! rows holds a few columns at once instead of all forty, and the memory it touches (each fresh page a
//! fault, a large share of its CPU time) shrinks with it.

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ArrowReaderMetadata;

use crate::table::{Column, Table};
use crate::{InputError, parquet_read};

/// Columns by name, loaded when asked for.
pub trait Source: Sync {
    /// The columns, in order.
    fn names(&self) -> Vec<String>;
    fn rows(&self) -> usize;
    /// One column (`None`: no such column).
    fn column(&self, name: &str) -> Result<Option<Cow<'_, Column>>, InputError>;
}

impl Source for Table {
    fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    fn rows(&self) -> usize {
        Table::rows(self)
    }

    fn column(&self, name: &str) -> Result<Option<Cow<'_, Column>>, InputError> {
        Ok(Table::column(self, name).map(Cow::Borrowed))
    }
}

/// A Parquet file whose columns are decoded when asked for.
pub struct ParquetFile {
    path: PathBuf,
    what: String,
    meta: ArrowReaderMetadata,
    names: Vec<String>,
}

impl ParquetFile {
    pub fn open(path: &Path) -> Result<Self, InputError> {
        let what = path.display().to_string();
        let file = File::open(path).map_err(|e| unreadable(path, &e))?;
        let meta = parquet_read::metadata(&file, &what)?;
        let names = parquet_read::readable_columns(&meta);
        Ok(ParquetFile {
            path: path.to_owned(),
            what,
            meta,
            names,
        })
    }
}

impl Source for ParquetFile {
    fn names(&self) -> Vec<String> {
        self.names.clone()
    }

    fn rows(&self) -> usize {
        if self.names.is_empty() {
            return 0; // as a table of no columns has no rows
        }
        self.meta.metadata().file_metadata().num_rows().max(0) as usize
    }

    fn column(&self, name: &str) -> Result<Option<Cow<'_, Column>>, InputError> {
        if !self.names.iter().any(|n| n == name) {
            return Ok(None);
        }
        let file = File::open(&self.path).map_err(|e| unreadable(&self.path, &e))?;
        Ok(parquet_read::read_column(file, &self.meta, &self.what, name)?.map(Cow::Owned))
    }
}

fn unreadable(path: &Path, e: &std::io::Error) -> InputError {
    InputError::Unreadable {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// A CSV or Parquet file as a [`Source`] (Parquet by its `PAR1` magic, read lazily; CSV read whole),
/// refusing files over `limit` bytes.
pub fn open_path(path: &Path, limit: u64) -> Result<Box<dyn Source + Send>, InputError> {
    if Table::is_parquet_within(path, limit)? {
        Ok(Box::new(ParquetFile::open(path)?))
    } else {
        Ok(Box::new(Table::read_path_limited(path, limit)?))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;

    use super::*;
    use crate::{DriftOptions, drift_report};

    fn write(path: &Path, shift: f64) {
        let n = 20_000;
        let x: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % n) as f64 / 1000.0 + shift)
            .collect();
        let k: Vec<i64> = (0..n).map(|i| ((i * 31) % 4) as i64).collect();
        let t: Vec<Option<&str>> = (0..n)
            .map(|i| [Some("a"), Some("b"), None][i as usize % 3])
            .collect();
        let batch = RecordBatch::try_from_iter([
            ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
            ("k", Arc::new(Int64Array::from(k)) as ArrayRef),
            ("t", Arc::new(StringArray::from(t)) as ArrayRef),
        ])
        .unwrap();
        let mut w =
            ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    #[test]
    fn a_parquet_file_read_a_column_at_a_time_reports_as_the_whole_table() {
        let dir = tempfile::tempdir().unwrap();
        let (r, c) = (dir.path().join("r.parquet"), dir.path().join("c.parquet"));
        write(&r, 0.0);
        write(&c, 2.0);
        let lazy = (
            open_path(&r, u64::MAX).unwrap(),
            open_path(&c, u64::MAX).unwrap(),
        );
        assert_eq!(lazy.0.names(), ["x", "k", "t"]);
        assert_eq!(lazy.0.rows(), 20_000);
        assert!(lazy.0.column("nope").unwrap().is_none());
        let whole = (Table::read_path(&r).unwrap(), Table::read_path(&c).unwrap());
        let opts = DriftOptions::default();
        let from_files = drift_report(lazy.0.as_ref(), lazy.1.as_ref(), &opts).unwrap();
        let from_tables = drift_report(&whole.0, &whole.1, &opts).unwrap();
        assert_eq!(from_files, from_tables);
        assert!(from_files.column("x").unwrap().drifted);
    }
}
