//! The drift report: the JSON the `cairn drift` command writes and a monitor stores as a snapshot, in the
//! issue's shape (`columns[]`, `dataset`, `quality`) plus what the HTML needs (pre-binned reference and
//! current histograms, small at any row count). It deserializes back, so a stored snapshot renders later.

use serde::{Deserialize, Serialize};

use crate::quality::Quality;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub columns: Vec<ColumnDrift>,
    pub dataset: DatasetDrift,
    pub quality: Quality,
    /// Columns left out of drift (only with `skip_invalid_columns`), each with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Numerical,
    Categorical,
}

impl ColumnType {
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::Numerical => "numerical",
            ColumnType::Categorical => "categorical",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    pub column: String,
    /// Evidently's column type (inferred from the current window, as Evidently infers it).
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// The test, named as Evidently names it.
    pub method: String,
    /// Evidently's display name of the test (e.g. `Wasserstein distance (normed)`).
    pub stattest_name: String,
    #[serde(with = "nan_as_null")]
    pub score: f64,
    pub threshold: f64,
    pub drifted: bool,
    /// A p-value for every column whatever the method (`ks` for continuous numbers, `chisquare_2sample`
    /// for levels), which the multiple-testing correction uses.
    #[serde(with = "nan_as_null")]
    pub p_value: f64,
    pub p_value_method: String,
    /// The column's verdict after the dataset's correction (present only with a correction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drifted_corrected: Option<bool>,
    /// Values compared (missing and infinite values dropped, as Evidently drops them).
    pub reference_values: u64,
    pub current_values: u64,
    pub histogram: Histogram,
}

/// Reference vs current counts over the test's bins (numbers: Evidently's Sturges bins, or one bin per
/// value; categories: the most frequent levels, the rest summed as `other`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edges: Option<Vec<f64>>,
    pub labels: Vec<String>,
    pub reference: Vec<u64>,
    pub current: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetDrift {
    /// Columns tested.
    pub columns: usize,
    pub drifted_columns: usize,
    /// `drifted_columns / columns`.
    pub share: f64,
    /// The verdict: Evidently's `share >= drift_share`, or, with a correction, any column rejected after it.
    pub drifted: bool,
    pub drift_share: f64,
    /// `bonferroni` or `bh` when the verdict is the multiple-testing one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_drifted_columns: Option<usize>,
    /// The family-wise (Bonferroni) or false-discovery (BH) level of the correction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub column: String,
    pub reason: String,
}

impl Report {
    pub fn column(&self, name: &str) -> Option<&ColumnDrift> {
        self.columns.iter().find(|c| c.column == name)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// JSON has no NaN: write it as `null` and read `null` back as NaN.
pub mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_finite() {
            s.serialize_f64(*x)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}
