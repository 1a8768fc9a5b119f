//! Reading columns of any engine's rows by the handful of types the schema uses.

use std::fmt::Display;
use std::str::FromStr;

use cairn_store::{StoreError, StoreResult};
use sqlx::{ColumnIndex, Decode, Row, Type};

/// Typed access to a row's columns by position. Implemented for every [`sqlx::Row`] whose engine decodes
/// these types (SQLite and PostgreSQL both do), so that code generic over rows names its bounds once.
pub trait Columns: Send + 'static {
    fn str(&self, i: usize) -> &str;
    fn text(&self, i: usize) -> String;
    fn opt_text(&self, i: usize) -> Option<String>;
    fn int(&self, i: usize) -> i64;
    fn opt_int(&self, i: usize) -> Option<i64>;
    fn real(&self, i: usize) -> f64;
    fn opt_real(&self, i: usize) -> Option<f64>;
    fn flag(&self, i: usize) -> bool;

    /// A metric value stored as (value, is_nan): NaN has no portable column representation.
    fn metric_value(&self, value: usize, is_nan: usize) -> f64 {
        if self.flag(is_nan) {
            f64::NAN
        } else {
            self.real(value)
        }
    }

    /// A text column parsed into a domain enum; a bad value means a corrupt database.
    fn parsed<T: FromStr>(&self, i: usize) -> StoreResult<T>
    where
        T::Err: Display,
    {
        let s = self.str(i);
        s.parse()
            .map_err(|e| StoreError::Internal(format!("corrupt column value {s:?}: {e}")))
    }
}

impl<R> Columns for R
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> &'r str: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> f64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn str(&self, i: usize) -> &str {
        self.get(i)
    }
    fn text(&self, i: usize) -> String {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> Option<String> {
        self.get(i)
    }
    fn int(&self, i: usize) -> i64 {
        self.get(i)
    }
    fn opt_int(&self, i: usize) -> Option<i64> {
        self.get(i)
    }
    fn real(&self, i: usize) -> f64 {
        self.get(i)
    }
    fn opt_real(&self, i: usize) -> Option<f64> {
        self.get(i)
    }
    fn flag(&self, i: usize) -> bool {
        self.get(i)
    }
}
