//! Data quality of a window against its reference: per column the missing share, values outside the
//! reference range, categories the reference never had, and a column whose type changed (numbers in
//! the reference, text now, or the reverse); per dataset the columns missing or extra, and the rows.
//! Works from the reference's columns or from its stored [`Profile`].

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::profile::{ColumnProfile, Profile};
use crate::report::ColumnType;
use crate::table::{Column, MISSING, Table, Values};

/// How many new category names a column lists (their share counts them all).
pub const MAX_NEW_CATEGORIES_LISTED: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    pub reference_rows: usize,
    pub current_rows: usize,
    /// In the reference, absent from the current window.
    pub missing_columns: Vec<String>,
    /// In the current window, absent from the reference.
    pub extra_columns: Vec<String>,
    pub columns: Vec<ColumnQuality>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnQuality {
    pub column: String,
    /// The reference's type.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// Share of the current rows with no value.
    pub missing_share: f64,
    pub reference_missing_share: f64,
    /// Numbers: share of the current rows outside the reference's [min, max].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_range_share: Option<f64>,
    /// Categories: share of the current rows holding a level the reference never had, and (some of) those
    /// levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_category_share: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_categories: Vec<String>,
    /// Numbers in one window and text in the other.
    pub type_mismatch: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What quality needs of a reference column.
struct RefColumn<'a> {
    name: &'a str,
    numeric: bool,
    min: f64,
    max: f64,
    levels: HashSet<&'a str>,
    missing_share: f64,
}

impl Quality {
    pub fn column(&self, name: &str) -> Option<&ColumnQuality> {
        self.columns.iter().find(|c| c.column == name)
    }
}

/// One column's quality against its reference column (`*_rows`: each window's rows).
pub fn column(
    reference: &Column,
    reference_rows: usize,
    current: &Column,
    current_rows: usize,
) -> ColumnQuality {
    column_quality(
        &ref_column(reference, reference_rows),
        current,
        current_rows,
    )
}

/// A window's quality from its common columns' (in the reference's order) and both windows' column
/// names.
pub fn from_columns(
    reference_rows: usize,
    current_rows: usize,
    reference_names: &[String],
    current_names: &[String],
    columns: Vec<ColumnQuality>,
) -> Quality {
    let only = |a: &[String], b: &[String]| {
        let b: HashSet<&str> = b.iter().map(String::as_str).collect();
        a.iter()
            .filter(|n| !b.contains(n.as_str()))
            .cloned()
            .collect()
    };
    Quality {
        reference_rows,
        current_rows,
        missing_columns: only(reference_names, current_names),
        extra_columns: only(current_names, reference_names),
        columns,
    }
}

/// Quality of `current` against a stored reference profile.
pub fn check_profile(reference: &Profile, current: &Table) -> Quality {
    let refs = reference
        .columns
        .iter()
        .map(|c| ref_from_profile(c, reference.rows))
        .collect();
    assemble(refs, reference.rows, current)
}

fn share(n: usize, of: usize) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

fn ref_column(c: &Column, rows: usize) -> RefColumn<'_> {
    match &c.values {
        Values::Numeric(v) => {
            let (min, max, missing) = finite_range_and_missing(v);
            RefColumn {
                name: &c.name,
                numeric: true,
                min,
                max,
                levels: HashSet::new(),
                missing_share: share(missing, rows),
            }
        }
        Values::Categorical(cats) => {
            let counts = cats.level_counts();
            let levels = cats
                .levels
                .iter()
                .zip(counts)
                .filter(|(_, n)| *n > 0)
                .map(|(l, _)| l.as_str())
                .collect();
            let missing = cats.codes.iter().filter(|&&x| x == MISSING).count();
            RefColumn {
                name: &c.name,
                numeric: false,
                min: f64::NAN,
                max: f64::NAN,
                levels,
                missing_share: share(missing, rows),
            }
        }
    }
}

/// The smallest and largest finite value and the NaN count, in one pass of eight independent lanes
/// (selects, not branches: one chain of them would wait on itself at every value).
fn finite_range_and_missing(v: &[f64]) -> (f64, f64, usize) {
    let (mut lo, mut hi, mut nan) = ([f64::INFINITY; 8], [f64::NEG_INFINITY; 8], [0usize; 8]);
    let mut lane = |k: usize, x: f64| {
        nan[k] += usize::from(x.is_nan());
        let finite = x.is_finite();
        let (l, h) = if finite {
            (x, x)
        } else {
            (f64::INFINITY, f64::NEG_INFINITY)
        };
        lo[k] = if l < lo[k] { l } else { lo[k] };
        hi[k] = if h > hi[k] { h } else { hi[k] };
    };
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (k, &x) in c.iter().enumerate() {
            lane(k, x);
        }
    }
    rest.iter().for_each(|&x| lane(0, x));
    (
        lo.iter().copied().fold(f64::INFINITY, f64::min),
        hi.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        nan.iter().sum(),
    )
}

fn ref_from_profile(c: &ColumnProfile, rows: usize) -> RefColumn<'_> {
    RefColumn {
        name: &c.column,
        numeric: c.column_type == ColumnType::Numerical,
        min: c.min.unwrap_or(f64::NAN),
        max: c.max.unwrap_or(f64::NAN),
        levels: c.categories.iter().map(|(l, _)| l.as_str()).collect(),
        missing_share: share(c.missing, rows),
    }
}

fn assemble(refs: Vec<RefColumn>, reference_rows: usize, current: &Table) -> Quality {
    let rows = current.rows();
    let columns = refs
        .iter()
        .filter_map(|r| current.column(r.name).map(|c| column_quality(r, c, rows)))
        .collect();
    let reference_names: Vec<String> = refs.iter().map(|r| r.name.to_owned()).collect();
    let current_names: Vec<String> = current.columns.iter().map(|c| c.name.clone()).collect();
    from_columns(
        reference_rows,
        rows,
        &reference_names,
        &current_names,
        columns,
    )
}

fn column_quality(r: &RefColumn, c: &Column, rows: usize) -> ColumnQuality {
    let mut q = ColumnQuality {
        column: r.name.to_owned(),
        column_type: if r.numeric {
            ColumnType::Numerical
        } else {
            ColumnType::Categorical
        },
        missing_share: share(c.missing(), rows),
        reference_missing_share: r.missing_share,
        out_of_range_share: None,
        new_category_share: None,
        new_categories: vec![],
        type_mismatch: false,
        detail: None,
    };
    match (&c.values, r.numeric) {
        (Values::Numeric(v), true) => {
            let out = if r.min.is_nan() {
                0
            } else {
                // NaN compares false both ways, so missing values are never out of range.
                v.iter().map(|&x| usize::from(x < r.min || x > r.max)).sum()
            };
            q.out_of_range_share = Some(share(out, rows));
        }
        (Values::Categorical(cats), false) => {
            let counts = cats.level_counts();
            let mut new_rows = 0u64;
            for (level, n) in cats.levels.iter().zip(counts) {
                if n > 0 && !r.levels.contains(level.as_str()) {
                    new_rows += n;
                    if q.new_categories.len() < MAX_NEW_CATEGORIES_LISTED {
                        q.new_categories.push(level.clone());
                    }
                }
            }
            q.new_category_share = Some(share(new_rows as usize, rows));
        }
        (Values::Categorical(cats), true) => {
            q.type_mismatch = true;
            let example = cats
                .codes
                .iter()
                .find(|&&x| x != MISSING)
                .map(|&x| cats.levels[x as usize].clone());
            q.detail = Some(format!(
                "numbers in the reference, text in the current window{}",
                example
                    .map(|e| format!(" (e.g. {e:?})"))
                    .unwrap_or_default()
            ));
        }
        (Values::Numeric(_), false) => {
            q.type_mismatch = true;
            q.detail = Some("text in the reference, numbers in the current window".into());
        }
    }
    q
}
