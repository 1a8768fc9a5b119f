//! CSV to [`Table`] with pandas' type inference: a column is numeric when every non-missing cell parses as
//! a number (integer-typed when every cell is an integer and none is missing), else text. Missing cells
//! are pandas' default NA strings.

use std::io::Read;

use crate::InputError;
use crate::table::{CategoriesBuilder, Column, Table, Values};

/// pandas' default `na_values`.
const NA: &[&str] = &[
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

fn is_na(cell: &str) -> bool {
    NA.contains(&cell)
}

enum Builder {
    Numeric { values: Vec<f64>, integer: bool },
    Text(CategoriesBuilder),
}

/// Reads CSV from `open()`; `open` is called a second time only when a column turns out to be text after
/// numeric cells (so those cells keep their exact text).
pub fn read<R: Read>(
    open: impl Fn() -> std::io::Result<R>,
    what: &str,
) -> Result<Table, InputError> {
    let text_cols = match parse(open_reader(&open, what)?, what, None)? {
        Parsed::Done(t) => return Ok(t),
        Parsed::Retry(text_cols) => text_cols,
    };
    match parse(open_reader(&open, what)?, what, Some(&text_cols))? {
        Parsed::Done(t) => Ok(t),
        Parsed::Retry(_) => unreachable!("a second pass knows every text column up front"),
    }
}

fn open_reader<R: Read>(
    open: &impl Fn() -> std::io::Result<R>,
    what: &str,
) -> Result<R, InputError> {
    open().map_err(|e| InputError::Unreadable {
        path: what.into(),
        reason: e.to_string(),
    })
}

enum Parsed {
    Done(Table),
    Retry(Vec<bool>),
}

fn parse<R: Read>(source: R, what: &str, text_cols: Option<&[bool]>) -> Result<Parsed, InputError> {
    let malformed = |reason: String| InputError::Malformed {
        what: what.into(),
        reason,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(source);
    let headers = rdr.headers().map_err(|e| malformed(e.to_string()))?.clone();
    if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
        return Err(InputError::Empty { which: "input" });
    }
    let mut seen = std::collections::HashSet::new();
    for h in &headers {
        if !seen.insert(h) {
            return Err(malformed(format!(
                "column '{h}' appears twice in the header"
            )));
        }
    }
    let mut builders: Vec<Builder> = (0..headers.len())
        .map(|i| match text_cols {
            Some(t) if t[i] => Builder::Text(CategoriesBuilder::default()),
            _ => Builder::Numeric {
                values: Vec::new(),
                integer: true,
            },
        })
        .collect();
    let mut retry = vec![false; headers.len()];
    let mut record = csv::StringRecord::new();
    let mut rows = 0usize;
    loop {
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(malformed(e.to_string())),
        }
        for (i, cell) in record.iter().enumerate() {
            match &mut builders[i] {
                Builder::Numeric { values, integer } => {
                    if is_na(cell) {
                        values.push(f64::NAN);
                        *integer = false;
                    } else if let Ok(x) = cell.trim().parse::<f64>() {
                        *integer &= cell.trim().parse::<i64>().is_ok();
                        values.push(x);
                    } else {
                        // Text after numbers: keep going as text; the numbers' exact text needs a second pass.
                        if values.iter().any(|v| !v.is_nan()) {
                            retry[i] = true;
                        }
                        let mut b = CategoriesBuilder::default();
                        (0..values.len()).for_each(|_| b.push(None));
                        b.push(Some(cell));
                        builders[i] = Builder::Text(b);
                    }
                }
                Builder::Text(b) => b.push((!is_na(cell)).then_some(cell)),
            }
        }
        rows += 1;
    }
    if retry.iter().any(|&r| r) {
        let text: Vec<bool> = builders
            .iter()
            .map(|b| matches!(b, Builder::Text(_)))
            .collect();
        return Ok(Parsed::Retry(text));
    }
    let columns = headers
        .iter()
        .zip(builders)
        .map(|(name, b)| match b {
            Builder::Numeric { values, integer } => Column {
                name: name.to_owned(),
                integer: integer && rows > 0,
                values: Values::Numeric(values),
            },
            Builder::Text(b) => Column {
                name: name.to_owned(),
                values: Values::Categorical(b.finish()),
                integer: false,
            },
        })
        .collect();
    Ok(Parsed::Done(Table { columns }))
}
