//! Columnar tables as the statistics see them: numeric columns as `f64` (NaN = missing) and categorical
//! columns dictionary-encoded (a level list and one `u32` code a row), so a million-row window costs
//! 8 or 4 bytes a cell and comparing categories is comparing integers.

use std::collections::HashMap;
use std::path::Path;

use crate::InputError;

/// Files larger than this are refused by [`Table::read_path`] (2 GiB); see [`Table::read_path_limited`].
pub const DEFAULT_SIZE_LIMIT: u64 = 2 << 30;

/// The code of a missing categorical value.
pub const MISSING: u32 = u32::MAX;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub values: Values,
    /// Integer-typed at the source (a CSV column of integers with no missing cell, a Parquet integer column
    /// without nulls), as pandas would type it `int64`. Evidently treats such a column with at most 10
    /// distinct values as categorical.
    pub integer: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// NaN is missing.
    Numeric(Vec<f64>),
    Categorical(Categories),
}

/// Dictionary-encoded text: `codes[i]` indexes `levels`, or is [`MISSING`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Categories {
    pub levels: Vec<String>,
    pub codes: Vec<u32>,
}

impl Categories {
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    pub fn get(&self, row: usize) -> Option<&str> {
        match self.codes[row] {
            MISSING => None,
            c => Some(self.levels[c as usize].as_str()),
        }
    }

    /// Encodes plain values (`None` = missing).
    pub fn from_values<S: AsRef<str>>(values: impl IntoIterator<Item = Option<S>>) -> Categories {
        let mut b = CategoriesBuilder::default();
        for v in values {
            b.push(v.as_ref().map(|s| s.as_ref()));
        }
        b.finish()
    }

    /// How many rows hold each level (missing rows are not counted).
    pub fn level_counts(&self) -> Vec<u64> {
        let mut counts = vec![0u64; self.levels.len()];
        for &c in &self.codes {
            if c != MISSING {
                counts[c as usize] += 1;
            }
        }
        counts
    }
}

/// Builds [`Categories`] one value at a time, interning levels.
#[derive(Debug, Default)]
pub struct CategoriesBuilder {
    index: HashMap<String, u32>,
    out: Categories,
}

impl CategoriesBuilder {
    pub fn push(&mut self, value: Option<&str>) {
        let code = match value {
            None => MISSING,
            Some(v) => self.code_of(v),
        };
        self.out.codes.push(code);
    }

    pub fn code_of(&mut self, v: &str) -> u32 {
        if let Some(&c) = self.index.get(v) {
            return c;
        }
        let c = self.out.levels.len() as u32;
        self.out.levels.push(v.to_owned());
        self.index.insert(v.to_owned(), c);
        c
    }

    pub fn push_code(&mut self, code: u32) {
        self.out.codes.push(code);
    }

    pub fn finish(self) -> Categories {
        self.out
    }
}

impl Column {
    pub fn numeric(name: impl Into<String>, values: Vec<f64>) -> Column {
        Column {
            name: name.into(),
            values: Values::Numeric(values),
            integer: false,
        }
    }

    /// Integer-typed numbers (see [`Column::integer`]).
    pub fn integer(name: impl Into<String>, values: Vec<f64>) -> Column {
        Column {
            name: name.into(),
            values: Values::Numeric(values),
            integer: true,
        }
    }

    pub fn categorical<S: AsRef<str>>(
        name: impl Into<String>,
        values: impl IntoIterator<Item = Option<S>>,
    ) -> Column {
        Column {
            name: name.into(),
            values: Values::Categorical(Categories::from_values(values)),
            integer: false,
        }
    }

    pub fn len(&self) -> usize {
        match &self.values {
            Values::Numeric(v) => v.len(),
            Values::Categorical(c) => c.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self.values, Values::Numeric(_))
    }

    /// Rows whose value is missing (NaN, or no category).
    pub fn missing(&self) -> usize {
        match &self.values {
            Values::Numeric(v) => v.iter().filter(|x| x.is_nan()).count(),
            Values::Categorical(c) => c.codes.iter().filter(|&&c| c == MISSING).count(),
        }
    }
}

impl Table {
    pub fn new(columns: Vec<Column>) -> Table {
        Table { columns }
    }

    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// Reads a CSV or Parquet file (Parquet by its `PAR1` magic, else CSV), refusing files over
    /// [`DEFAULT_SIZE_LIMIT`].
    pub fn read_path(path: &Path) -> Result<Table, InputError> {
        Table::read_path_limited(path, DEFAULT_SIZE_LIMIT)
    }

    pub fn read_path_limited(path: &Path, limit: u64) -> Result<Table, InputError> {
        let what = path.display().to_string();
        let unreadable = |e: std::io::Error| InputError::Unreadable {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        if Table::is_parquet_within(path, limit)? {
            let f = std::fs::File::open(path).map_err(unreadable)?;
            crate::parquet_read::read(f, &what, false)
        } else {
            crate::csv_read::read(|| std::fs::File::open(path), &what)
        }
    }

    /// Whether `path` is a Parquet file (by its `PAR1` magic), once it is known to be a readable file of
    /// at most `limit` bytes.
    pub(crate) fn is_parquet_within(path: &Path, limit: u64) -> Result<bool, InputError> {
        let unreadable = |e: std::io::Error| InputError::Unreadable {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let meta = std::fs::metadata(path).map_err(unreadable)?;
        if meta.is_dir() {
            return Err(InputError::Unreadable {
                path: path.to_owned(),
                reason: "it is a directory".into(),
            });
        }
        if meta.len() > limit {
            return Err(InputError::TooLarge {
                path: path.to_owned(),
                size: meta.len(),
                limit,
            });
        }
        use std::io::Read;
        let mut magic = [0u8; 4];
        let mut f = std::fs::File::open(path).map_err(unreadable)?;
        Ok(f.read(&mut magic).map_err(unreadable)? == 4 && &magic == b"PAR1")
    }

    pub fn from_csv_bytes(bytes: &[u8]) -> Result<Table, InputError> {
        crate::csv_read::read(|| Ok(bytes), "CSV data")
    }

    pub fn from_parquet_bytes(bytes: bytes::Bytes) -> Result<Table, InputError> {
        crate::parquet_read::read(bytes, "Parquet data", false)
    }

    /// A Parquet file with its timestamp columns as milliseconds since the epoch (a prediction log, whose
    /// `timestamp` cuts the window).
    pub fn from_parquet_bytes_with_timestamps(bytes: bytes::Bytes) -> Result<Table, InputError> {
        crate::parquet_read::read(bytes, "Parquet data", true)
    }

    /// Stacks tables (e.g. a window's Parquet files) by column name, in first-seen column order; a column
    /// absent from a table is missing for its rows. A column numeric in one table and text in another
    /// becomes text (numbers written as text).
    pub fn concat(tables: Vec<Table>) -> Table {
        if tables.len() == 1 {
            return tables.into_iter().next().unwrap_or_default();
        }
        let mut order: Vec<(String, bool)> = Vec::new(); // name, numeric everywhere
        for t in &tables {
            for c in &t.columns {
                match order.iter_mut().find(|(n, _)| *n == c.name) {
                    Some((_, numeric)) => *numeric &= c.is_numeric(),
                    None => order.push((c.name.clone(), c.is_numeric())),
                }
            }
        }
        let mut columns = Vec::with_capacity(order.len());
        for (name, numeric) in order {
            let mut integer = true;
            if numeric {
                let mut out = Vec::new();
                for t in &tables {
                    match t.column(&name) {
                        Some(c) => {
                            integer &= c.integer;
                            if let Values::Numeric(v) = &c.values {
                                out.extend_from_slice(v);
                            }
                        }
                        None => {
                            integer = false;
                            out.extend(std::iter::repeat_n(f64::NAN, t.rows()));
                        }
                    }
                }
                columns.push(Column {
                    name,
                    values: Values::Numeric(out),
                    integer,
                });
            } else {
                let mut b = CategoriesBuilder::default();
                for t in &tables {
                    match t.column(&name).map(|c| &c.values) {
                        Some(Values::Categorical(cats)) => {
                            let map: Vec<u32> = cats.levels.iter().map(|l| b.code_of(l)).collect();
                            for &c in &cats.codes {
                                b.push_code(if c == MISSING {
                                    MISSING
                                } else {
                                    map[c as usize]
                                });
                            }
                        }
                        Some(Values::Numeric(v)) => {
                            for x in v {
                                b.push((!x.is_nan()).then(|| crate::format::number(*x)).as_deref());
                            }
                        }
                        None => (0..t.rows()).for_each(|_| b.push_code(MISSING)),
                    }
                }
                columns.push(Column {
                    name,
                    values: Values::Categorical(b.finish()),
                    integer: false,
                });
            }
        }
        Table { columns }
    }

    /// The named columns, in the order given; an unknown name is an error.
    pub fn select(&self, names: &[&str]) -> Result<Table, InputError> {
        let mut columns = Vec::with_capacity(names.len());
        for n in names {
            let c = self.column(n).ok_or_else(|| InputError::MissingColumn {
                column: (*n).into(),
                which: "input",
            })?;
            columns.push(c.clone());
        }
        Ok(Table { columns })
    }
}
