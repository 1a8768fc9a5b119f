//! Drift of a current window against a reference, per column and per dataset, as Evidently 0.7.23's
//! `DataDriftPreset` computes it by default (its column types, automatic test choice, thresholds and
//! `share >= drift_share` verdict), with optional multiple-testing control for the dataset verdict.
//!
//! Evidently's automatic choice (`_get_default_stattest`), with `n` the reference's non-missing values and
//! `u` the distinct values of both windows together:
//! - `n <= 1000`: numerical → `ks` if `u > 5`, else `chisquare` if `u > 2`, else `z`;
//!   categorical → `chisquare` if `u > 2`, else `z`.
//! - `n > 1000`: numerical → `wasserstein` if `u > 5`, else `jensenshannon`; categorical → `jensenshannon`.
//!
//! Column types follow Evidently's `infer_column_type` on the current window: floats are numerical;
//! integers are categorical with at most 10 distinct values, else numerical; text is categorical
//! (Evidently calls text with more distinct values than half its rows "text" and runs a text-content
//! test; Cairn treats it as categorical).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::report::{ColumnDrift, ColumnType, DatasetDrift, Histogram, Report, Skipped};
use crate::sorted::{finite_sorted, merge_stats, n_unique};
use crate::stattests::binning::{Binned, bin_categories, bin_numeric, present};
use crate::stattests::categorical::{chisquare_one_sample, chisquare_two_sample, z_test};
use crate::stattests::distance::{jensenshannon, psi, wasserstein_normed};
use crate::stattests::ks::{KsMethod, ks_2samp_pvalue};
use crate::stattests::{Direction, Method};
use crate::table::{Column, MISSING, Table, Values};
use crate::{InputError, quality};

/// Evidently's integer cardinality limit: integer columns with at most this many values are categorical.
pub const INTEGER_CARDINALITY_LIMIT: usize = 10;

/// Categories shown per column in the report's histogram (the rest summed as `other`).
pub const MAX_HISTOGRAM_LEVELS: usize = 20;

/// Multiple-testing control over the columns' p-values for the dataset verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Correction {
    Bonferroni,
    /// Benjamini–Hochberg (false discovery rate).
    Bh,
}

impl Correction {
    pub fn parse(s: &str) -> Option<Correction> {
        match s {
            "bonferroni" => Some(Correction::Bonferroni),
            "bh" | "benjamini-hochberg" => Some(Correction::Bh),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Correction::Bonferroni => "bonferroni",
            Correction::Bh => "bh",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DriftOptions {
    /// One test for every column (an Evidently name, or `chisquare_2sample`); `None` = Evidently's choice.
    pub method: Option<String>,
    /// Overrides the test's default threshold.
    pub threshold: Option<f64>,
    /// Only these columns (each must be in both tables); `None` = every common column.
    pub columns: Option<Vec<String>>,
    /// Dataset drift when at least this share of columns drifted (Evidently's 0.5).
    pub drift_share: f64,
    /// Dataset verdict by multiple-testing control instead of the share rule.
    pub correction: Option<Correction>,
    /// Columns that cannot be tested (all values missing, numbers vs text, a method that does not apply)
    /// are listed in `Report::skipped` instead of failing the report.
    pub skip_invalid_columns: bool,
    /// Worker threads for the columns (0 = available parallelism).
    pub threads: usize,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            method: None,
            threshold: None,
            columns: None,
            drift_share: 0.5,
            correction: None,
            skip_invalid_columns: false,
            threads: 0,
        }
    }
}

/// Compares `current` with `reference`: every common column (or `opts.columns`), the dataset verdict,
/// and data quality.
pub fn drift_report(
    reference: &Table,
    current: &Table,
    opts: &DriftOptions,
) -> Result<Report, InputError> {
    let method = match &opts.method {
        Some(m) => Some(Method::parse(m).ok_or_else(|| InputError::UnknownMethod(m.clone()))?),
        None => None,
    };
    if !(opts.drift_share > 0.0 && opts.drift_share <= 1.0) {
        return Err(InputError::InvalidOption(format!(
            "drift share must be in (0, 1], got {}",
            opts.drift_share
        )));
    }
    if let Some(t) = opts.threshold
        && !(t.is_finite() && t >= 0.0)
    {
        return Err(InputError::InvalidOption(format!(
            "threshold must be a non-negative number, got {t}"
        )));
    }
    let names = column_names(reference, current, opts)?;
    if reference.rows() == 0 {
        return Err(InputError::Empty { which: "reference" });
    }
    if current.rows() == 0 {
        return Err(InputError::Empty { which: "current" });
    }
    let results = run_columns(
        reference,
        current,
        &names,
        method,
        opts.threshold,
        opts.threads,
    );
    let mut columns = Vec::with_capacity(names.len());
    let mut skipped = Vec::new();
    for (name, r) in names.iter().zip(results) {
        match r {
            Ok(c) => columns.push(c),
            Err(e) if opts.skip_invalid_columns && skippable(&e) => skipped.push(Skipped {
                column: name.clone(),
                reason: e.to_string(),
            }),
            Err(e) => return Err(e),
        }
    }
    if columns.is_empty() {
        return Err(InputError::InvalidOption(format!(
            "no column could be tested: {}",
            skipped
                .iter()
                .map(|s| s.reason.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    let dataset = dataset_verdict(&mut columns, opts, method);
    let quality = quality::check(reference, current);
    Ok(Report {
        columns,
        dataset,
        quality,
        skipped,
    })
}

fn skippable(e: &InputError) -> bool {
    matches!(
        e,
        InputError::EmptyColumn { .. }
            | InputError::TypeMismatch { .. }
            | InputError::MethodNotApplicable { .. }
    )
}

fn column_names(
    reference: &Table,
    current: &Table,
    opts: &DriftOptions,
) -> Result<Vec<String>, InputError> {
    if let Some(cols) = &opts.columns {
        for c in cols {
            for (t, which) in [(reference, "reference"), (current, "current")] {
                if t.column(c).is_none() {
                    return Err(InputError::MissingColumn {
                        column: c.clone(),
                        which,
                    });
                }
            }
        }
        if cols.is_empty() {
            return Err(InputError::InvalidOption("no column selected".into()));
        }
        return Ok(cols.clone());
    }
    let common: Vec<String> = reference
        .columns
        .iter()
        .filter(|c| current.column(&c.name).is_some())
        .map(|c| c.name.clone())
        .collect();
    if common.is_empty() {
        let list = |t: &Table| {
            let n = t.names();
            if n.is_empty() {
                "none".to_owned()
            } else {
                n.join(", ")
            }
        };
        return Err(InputError::NoCommonColumns {
            reference: list(reference),
            current: list(current),
        });
    }
    Ok(common)
}

/// Tests the columns on worker threads, each taking the next column when done (statistics are CPU-bound).
fn run_columns(
    reference: &Table,
    current: &Table,
    names: &[String],
    method: Option<Method>,
    threshold: Option<f64>,
    threads: usize,
) -> Vec<Result<ColumnDrift, InputError>> {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    let threads = threads.min(names.len()).max(1);
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Result<ColumnDrift, InputError>>>> =
        Mutex::new((0..names.len()).map(|_| None).collect());
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(name) = names.get(i) else { break };
            let (r, c) = (reference.column(name), current.column(name));
            let result = match (r, c) {
                (Some(r), Some(c)) => column_drift(r, c, method, threshold),
                _ => Err(InputError::MissingColumn {
                    column: name.clone(),
                    which: "current",
                }),
            };
            if let Ok(mut o) = out.lock() {
                o[i] = Some(result);
            }
        }
    };
    if threads == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(work);
            }
        });
    }
    out.into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(InputError::InvalidOption(
                    "a column's worker stopped".into(),
                ))
            })
        })
        .collect()
}

/// Evidently's type of the current column.
fn evidently_type(c: &Column) -> ColumnType {
    match &c.values {
        Values::Numeric(v) if c.integer => {
            if n_unique(&finite_sorted(v)) <= INTEGER_CARDINALITY_LIMIT {
                ColumnType::Categorical
            } else {
                ColumnType::Numerical
            }
        }
        Values::Numeric(_) => ColumnType::Numerical,
        Values::Categorical(_) => ColumnType::Categorical,
    }
}

/// Evidently's automatic choice (see the module doc).
pub fn auto_method(column_type: ColumnType, n_reference: usize, n_unique_both: usize) -> Method {
    match (n_reference <= 1000, column_type) {
        (true, ColumnType::Numerical) if n_unique_both > 5 => Method::Ks,
        (true, _) if n_unique_both > 2 => Method::Chisquare,
        (true, _) => Method::Z,
        (false, ColumnType::Numerical) if n_unique_both > 5 => Method::Wasserstein,
        (false, _) => Method::Jensenshannon,
    }
}

fn column_drift(
    r: &Column,
    c: &Column,
    forced: Option<Method>,
    threshold: Option<f64>,
) -> Result<ColumnDrift, InputError> {
    let name = &r.name;
    let column_type = evidently_type(c);
    let empty = |which| InputError::EmptyColumn {
        column: name.clone(),
        which,
    };
    // Before the type check: an all-missing column reads as numbers from CSV whatever it was meant to
    // hold, and "no values" is the message that helps.
    for (col, which) in [(r, "reference"), (c, "current")] {
        if !has_values(col) {
            return Err(empty(which));
        }
    }
    match (&r.values, &c.values) {
        (Values::Numeric(rv), Values::Numeric(cv)) => {
            let rs = finite_sorted(rv);
            let cs = finite_sorted(cv);
            if rs.is_empty() {
                return Err(empty("reference"));
            }
            if cs.is_empty() {
                return Err(empty("current"));
            }
            let m = merge_stats(&rs, &cs);
            let method = pick(forced, column_type, rs.len(), m.n_unique_union, name)?;
            let as_levels = column_type == ColumnType::Categorical;
            let binned = bin_numeric(&rs, &cs, r.integer && c.integer, as_levels);
            let ks = |d| ks_2samp_pvalue(d, rs.len(), cs.len(), KsMethod::Auto).p_value;
            let score = match method {
                Method::Ks => ks(m.ks_statistic),
                Method::Wasserstein => wasserstein_normed(m.wasserstein, &rs),
                other => binned_score(other, &binned),
            };
            let continuous = !as_levels && m.n_unique_union > 5;
            let (p_value, p_method) = if continuous {
                (
                    if method == Method::Ks {
                        score
                    } else {
                        ks(m.ks_statistic)
                    },
                    Method::Ks,
                )
            } else {
                (chisquare_two_sample(&binned), Method::Chisquare2Sample)
            };
            Ok(finish(
                name,
                column_type,
                method,
                score,
                threshold,
                p_value,
                p_method,
                &binned,
                rs.len(),
                cs.len(),
            ))
        }
        (Values::Categorical(rc), Values::Categorical(cc)) => {
            let (nr, nc) = (present(rc), present(cc));
            if nr == 0 {
                return Err(empty("reference"));
            }
            if nc == 0 {
                return Err(empty("current"));
            }
            let binned = bin_categories(rc, cc);
            let method = pick(forced, column_type, nr, binned.labels.len(), name)?;
            let score = binned_score(method, &binned);
            let p_value = chisquare_two_sample(&binned);
            Ok(finish(
                name,
                column_type,
                method,
                score,
                threshold,
                p_value,
                Method::Chisquare2Sample,
                &binned,
                nr,
                nc,
            ))
        }
        (Values::Numeric(_), Values::Categorical(cc)) => Err(InputError::TypeMismatch {
            column: name.clone(),
            numeric_in: "reference",
            text_in: "current",
            example: first_text(cc),
        }),
        (Values::Categorical(rc), Values::Numeric(_)) => Err(InputError::TypeMismatch {
            column: name.clone(),
            numeric_in: "current",
            text_in: "reference",
            example: first_text(rc),
        }),
    }
}

fn has_values(c: &Column) -> bool {
    match &c.values {
        Values::Numeric(v) => v.iter().any(|x| x.is_finite()),
        Values::Categorical(cats) => cats.codes.iter().any(|&x| x != MISSING),
    }
}

/// The first value that is not a number (the one that made the column text), else the first value.
fn first_text(c: &crate::table::Categories) -> String {
    let present = || c.codes.iter().filter(|&&x| x != MISSING);
    present()
        .find(|&&x| c.levels[x as usize].trim().parse::<f64>().is_err())
        .or_else(|| present().next())
        .map(|&x| c.levels[x as usize].clone())
        .unwrap_or_default()
}

fn pick(
    forced: Option<Method>,
    t: ColumnType,
    n_ref: usize,
    n_unique: usize,
    name: &str,
) -> Result<Method, InputError> {
    let Some(m) = forced else {
        return Ok(auto_method(t, n_ref, n_unique));
    };
    let ok = match t {
        ColumnType::Numerical => m.applies_to_numerical(),
        ColumnType::Categorical => m.applies_to_categorical(),
    };
    if ok {
        Ok(m)
    } else {
        Err(InputError::MethodNotApplicable {
            method: m.name().into(),
            kind: t.as_str(),
            column: name.into(),
        })
    }
}

fn binned_score(method: Method, b: &Binned) -> f64 {
    match method {
        Method::Psi => psi(b),
        Method::Jensenshannon => jensenshannon(b),
        Method::Chisquare => chisquare_one_sample(b),
        Method::Z => z_test(b),
        Method::Chisquare2Sample => chisquare_two_sample(b),
        Method::Ks | Method::Wasserstein => f64::NAN, // computed from the samples, never binned
    }
}

#[allow(clippy::too_many_arguments)]
fn finish(
    name: &str,
    column_type: ColumnType,
    method: Method,
    score: f64,
    threshold: Option<f64>,
    p_value: f64,
    p_method: Method,
    binned: &Binned,
    n_ref: usize,
    n_cur: usize,
) -> ColumnDrift {
    let threshold = threshold.unwrap_or(method.default_threshold());
    ColumnDrift {
        column: name.to_owned(),
        column_type,
        method: method.name().into(),
        stattest_name: method.display_name().into(),
        score,
        threshold,
        drifted: method.drifted(score, threshold),
        p_value,
        p_value_method: p_method.name().into(),
        drifted_corrected: None,
        reference_values: n_ref as u64,
        current_values: n_cur as u64,
        histogram: histogram(binned),
    }
}

/// The report's histogram: numeric bins as they are; levels capped to the most frequent.
fn histogram(b: &Binned) -> Histogram {
    if b.edges.is_some() || b.labels.len() <= MAX_HISTOGRAM_LEVELS {
        return Histogram {
            edges: b.edges.clone(),
            labels: b.labels.clone(),
            reference: b.reference.clone(),
            current: b.current.clone(),
        };
    }
    let mut order: Vec<usize> = (0..b.labels.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(b.reference[i] + b.current[i]));
    let keep = &order[..MAX_HISTOGRAM_LEVELS - 1];
    let rest = &order[MAX_HISTOGRAM_LEVELS - 1..];
    let mut h = Histogram {
        edges: None,
        labels: keep.iter().map(|&i| b.labels[i].clone()).collect(),
        reference: keep.iter().map(|&i| b.reference[i]).collect(),
        current: keep.iter().map(|&i| b.current[i]).collect(),
    };
    h.labels.push(format!("other ({} levels)", rest.len()));
    h.reference.push(rest.iter().map(|&i| b.reference[i]).sum());
    h.current.push(rest.iter().map(|&i| b.current[i]).sum());
    h
}

fn dataset_verdict(
    columns: &mut [ColumnDrift],
    opts: &DriftOptions,
    method: Option<Method>,
) -> DatasetDrift {
    let n = columns.len();
    let drifted_columns = columns.iter().filter(|c| c.drifted).count();
    let share = drifted_columns as f64 / n as f64;
    let mut d = DatasetDrift {
        columns: n,
        drifted_columns,
        share,
        drifted: share >= opts.drift_share,
        drift_share: opts.drift_share,
        correction: None,
        corrected_drifted_columns: None,
        alpha: None,
    };
    if let Some(corr) = opts.correction {
        let alpha = match method {
            Some(m) if m.direction() == Direction::PValue => {
                opts.threshold.unwrap_or(m.default_threshold())
            }
            _ => 0.05,
        };
        let p: Vec<f64> = columns
            .iter()
            .map(|c| if c.p_value.is_nan() { 1.0 } else { c.p_value })
            .collect();
        let rejected = reject(&p, alpha, corr);
        for (c, r) in columns.iter_mut().zip(&rejected) {
            c.drifted_corrected = Some(*r);
        }
        let k = rejected.iter().filter(|r| **r).count();
        d.correction = Some(corr.name().into());
        d.corrected_drifted_columns = Some(k);
        d.alpha = Some(alpha);
        d.drifted = k > 0;
    }
    d
}

/// Which hypotheses are rejected at level `alpha` under the correction.
pub fn reject(p: &[f64], alpha: f64, correction: Correction) -> Vec<bool> {
    let m = p.len() as f64;
    match correction {
        Correction::Bonferroni => p.iter().map(|&x| x <= alpha / m).collect(),
        Correction::Bh => {
            let mut order: Vec<usize> = (0..p.len()).collect();
            order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
            let mut cutoff = 0;
            for (rank, &i) in order.iter().enumerate() {
                if p[i] <= (rank + 1) as f64 / m * alpha {
                    cutoff = rank + 1;
                }
            }
            let mut out = vec![false; p.len()];
            order[..cutoff].iter().for_each(|&i| out[i] = true);
            out
        }
    }
}
