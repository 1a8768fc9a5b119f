//! A reference profile, computed once and stored: per column its type, counts, range, moments,
//! quantiles, a histogram and category frequencies. Small whatever the row count; quality checks run
//! against it ([`crate::quality::check_profile`]) and the UI draws from it.

use serde::{Deserialize, Serialize};

use crate::report::{ColumnType, nan_as_null};
use crate::sorted::{finite_sorted, n_unique};
use crate::stattests::binning::{hist_counts, sturges_edges};
use crate::stattests::distance::{pairwise_sum, std_ddof0};
use crate::table::{Table, Values};

/// The quantiles a profile keeps.
pub const QUANTILES: [f64; 11] = [0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0];

/// Category frequencies kept per column (the rest are summed in `other_count`).
pub const MAX_CATEGORIES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub rows: usize,
    pub columns: Vec<ColumnProfile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub column: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    pub integer: bool,
    /// Rows with a (finite, for numbers) value.
    pub count: usize,
    pub missing: usize,
    pub n_unique: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Population standard deviation (ddof 0, as Evidently norms Wasserstein).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quantiles: Vec<Quantile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<ProfileHistogram>,
    /// Most frequent levels first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<(String, u64)>,
    #[serde(default)]
    pub other_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantile {
    pub q: f64,
    #[serde(with = "nan_as_null")]
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileHistogram {
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
}

impl Profile {
    pub fn of(table: &Table) -> Profile {
        let rows = table.rows();
        let columns = table
            .columns
            .iter()
            .map(|c| match &c.values {
                Values::Numeric(v) => numeric(&c.name, v, c.integer),
                Values::Categorical(cats) => {
                    let counts = cats.level_counts();
                    let mut freq: Vec<(String, u64)> = cats
                        .levels
                        .iter()
                        .cloned()
                        .zip(counts)
                        .filter(|(_, n)| *n > 0)
                        .collect();
                    freq.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                    let count: u64 = freq.iter().map(|(_, n)| n).sum();
                    let n_unique = freq.len();
                    let other_count = freq.iter().skip(MAX_CATEGORIES).map(|(_, n)| n).sum();
                    freq.truncate(MAX_CATEGORIES);
                    ColumnProfile {
                        column: c.name.clone(),
                        column_type: ColumnType::Categorical,
                        integer: false,
                        count: count as usize,
                        missing: cats.len() - count as usize,
                        n_unique,
                        min: None,
                        max: None,
                        mean: None,
                        std: None,
                        quantiles: vec![],
                        histogram: None,
                        categories: freq,
                        other_count,
                    }
                }
            })
            .collect();
        Profile { rows, columns }
    }

    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.column == name)
    }
}

fn numeric(name: &str, values: &[f64], integer: bool) -> ColumnProfile {
    let sorted = finite_sorted(values);
    let count = sorted.len();
    let (min, max, mean, std, quantiles, histogram) = if count == 0 {
        (None, None, None, None, vec![], None)
    } else {
        let edges = sturges_edges(sorted[0], sorted[count - 1], count, integer);
        let counts = hist_counts(&sorted, &edges);
        (
            sorted.first().copied(),
            sorted.last().copied(),
            Some(pairwise_sum(&sorted) / count as f64),
            Some(std_ddof0(&sorted)),
            QUANTILES
                .iter()
                .map(|&q| Quantile {
                    q,
                    value: quantile(&sorted, q),
                })
                .collect(),
            Some(ProfileHistogram { edges, counts }),
        )
    };
    ColumnProfile {
        column: name.to_owned(),
        column_type: ColumnType::Numerical,
        integer,
        count,
        missing: values.len() - count,
        n_unique: n_unique(&sorted),
        min,
        max,
        mean,
        std,
        quantiles,
        histogram,
        categories: vec![],
        other_count: 0,
    }
}

/// numpy's default (`linear`, Hyndman–Fan 7) quantile of sorted values.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let g = h - lo as f64;
    sorted[lo] + g * (sorted[hi] - sorted[lo])
}
