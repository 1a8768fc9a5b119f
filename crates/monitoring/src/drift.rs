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

use std::borrow::Cow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::ecdf::{distances, range_of_both};
use crate::quality::ColumnQuality;
use crate::report::{ColumnDrift, ColumnType, DatasetDrift, Histogram, Report, Skipped};
use crate::source::Source;
use crate::stattests::binning::{
    Binned, Levels, MAX_COUNTED_LEVELS, NumericBins, bin_categories, edges_binned, hist_counts,
    numeric_bins, present,
};
use crate::stattests::categorical::{chisquare_one_sample, chisquare_two_sample, z_test};
use crate::stattests::distance::{jensenshannon, psi, wasserstein_normed};
use crate::stattests::ks::{KsMethod, ks_2samp_pvalue};
use crate::stattests::{Direction, Method};
use crate::table::{Column, MISSING, Values};
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
/// and data quality. Columns are loaded from the sources as the workers reach them.
pub fn drift_report(
    reference: &dyn Source,
    current: &dyn Source,
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
    let (reference_names, current_names) = (reference.names(), current.names());
    let names = column_names(&reference_names, &current_names, opts)?;
    let (reference_rows, current_rows) = (reference.rows(), current.rows());
    if reference_rows == 0 {
        return Err(InputError::Empty { which: "reference" });
    }
    if current_rows == 0 {
        return Err(InputError::Empty { which: "current" });
    }
    // Quality covers every common column, drift the chosen ones: one pass over the union.
    let common: Vec<&String> = reference_names
        .iter()
        .filter(|n| current_names.contains(n))
        .collect();
    let mut work: Vec<Work> = common
        .iter()
        .map(|n| Work {
            name: n.as_str(),
            drift: names.contains(n),
        })
        .collect();
    for n in &names {
        if !common.contains(&n) {
            work.push(Work {
                name: n.as_str(),
                drift: true,
            });
        }
    }
    let sides = Sides {
        reference,
        current,
        reference_rows,
        current_rows,
    };
    let results = run_columns(&sides, &work, method, opts.threshold, opts.threads)?;
    let mut drifts: Vec<(&str, Result<ColumnDrift, InputError>)> = Vec::new();
    let mut qualities = Vec::new();
    for (w, r) in work.iter().zip(results) {
        if let Some(q) = r.quality {
            qualities.push(q);
        }
        if let Some(d) = r.drift {
            drifts.push((w.name, d));
        }
    }
    // The report lists columns in the order they were asked for.
    drifts.sort_by_key(|(n, _)| names.iter().position(|m| m == n));
    let mut columns = Vec::with_capacity(names.len());
    let mut skipped = Vec::new();
    for (name, r) in drifts {
        match r {
            Ok(c) => columns.push(c),
            Err(e) if opts.skip_invalid_columns && skippable(&e) => skipped.push(Skipped {
                column: name.to_owned(),
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
    let quality = quality::from_columns(
        reference_rows,
        current_rows,
        &reference_names,
        &current_names,
        qualities,
    );
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
    reference: &[String],
    current: &[String],
    opts: &DriftOptions,
) -> Result<Vec<String>, InputError> {
    if let Some(cols) = &opts.columns {
        for c in cols {
            for (t, which) in [(reference, "reference"), (current, "current")] {
                if !t.contains(c) {
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
        .iter()
        .filter(|c| current.contains(c))
        .cloned()
        .collect();
    if common.is_empty() {
        let list = |n: &[String]| {
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

struct Sides<'a> {
    reference: &'a dyn Source,
    current: &'a dyn Source,
    reference_rows: usize,
    current_rows: usize,
}

/// A column to load: for its quality (when both windows have it) and, when chosen, its drift.
struct Work<'a> {
    name: &'a str,
    drift: bool,
}

#[derive(Default)]
struct Done {
    drift: Option<Result<ColumnDrift, InputError>>,
    quality: Option<ColumnQuality>,
}

/// Tests the columns on worker threads, each loading and taking the next column when done (statistics
/// are CPU-bound). A column that cannot be read fails the report.
fn run_columns(
    sides: &Sides,
    work: &[Work],
    method: Option<Method>,
    threshold: Option<f64>,
    threads: usize,
) -> Result<Vec<Done>, InputError> {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    let threads = threads.min(work.len()).max(1);
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Result<Done, InputError>>>> =
        Mutex::new((0..work.len()).map(|_| None).collect());
    let run = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(w) = work.get(i) else { break };
            let result = one_column(sides, w, method, threshold);
            if let Ok(mut o) = out.lock() {
                o[i] = Some(result);
            }
        }
    };
    if threads == 1 {
        run();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(run);
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

fn one_column(
    sides: &Sides,
    w: &Work,
    method: Option<Method>,
    threshold: Option<f64>,
) -> Result<Done, InputError> {
    let (r, c) = (
        sides.reference.column(w.name)?,
        sides.current.column(w.name)?,
    );
    let (Some(r), Some(c)) = (r, c) else {
        return Ok(Done {
            drift: w.drift.then(|| {
                Err(InputError::MissingColumn {
                    column: w.name.to_owned(),
                    which: "current",
                })
            }),
            quality: None,
        });
    };
    Ok(Done {
        drift: w.drift.then(|| column_drift(&r, &c, method, threshold)),
        quality: Some(quality::column(
            &r,
            sides.reference_rows,
            &c,
            sides.current_rows,
        )),
    })
}

/// Evidently's type of the current column.
fn evidently_type(c: &Column) -> ColumnType {
    match &c.values {
        Values::Numeric(v) if c.integer => {
            if Levels::count(&[&finite(v)], INTEGER_CARDINALITY_LIMIT).is_some() {
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
            let (rs, cs) = (finite(rv), finite(cv));
            if rs.is_empty() {
                return Err(empty("reference"));
            }
            if cs.is_empty() {
                return Err(empty("current"));
            }
            // A column of few values is counted per value; any other is compared through buckets.
            let levels = Levels::count(&[&rs, &cs], MAX_COUNTED_LEVELS);
            let n_unique_union = levels.as_ref().map_or(usize::MAX, Levels::len);
            let method = pick(forced, column_type, rs.len(), n_unique_union, name)?;
            let as_levels = column_type == ColumnType::Categorical;
            let range = range_of_both(&rs, &cs).unwrap_or_default();
            let integer = r.integer && c.integer;
            let bins = numeric_bins(&rs, &cs, range, integer, as_levels, levels.as_ref());
            let edges = match &bins {
                NumericBins::Edges(e) => Some(e.as_slice()),
                NumericBins::Counted(_) => None,
            };
            let (m, histogram) = match &levels {
                Some(l) => (l.distances(), None),
                None => {
                    let c = distances(&rs, &cs, range, edges);
                    (c.distances, c.histogram)
                }
            };
            let binned = match bins {
                NumericBins::Counted(b) => b,
                NumericBins::Edges(e) => {
                    let (r, c) =
                        histogram.unwrap_or_else(|| (hist_counts(&rs, &e), hist_counts(&cs, &e)));
                    edges_binned(e, r, c)
                }
            };
            let ks = |d| ks_2samp_pvalue(d, rs.len(), cs.len(), KsMethod::Auto).p_value;
            let score = match method {
                Method::Ks => ks(m.ks_statistic),
                Method::Wasserstein => wasserstein_normed(m.wasserstein, &rs),
                other => binned_score(other, &binned),
            };
            let continuous = !as_levels && n_unique_union > 5;
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

/// The finite values (NaN and ±inf dropped, as Evidently drops them), borrowed when all are.
fn finite(v: &[f64]) -> Cow<'_, [f64]> {
    // In blocks without an early exit inside, so the check vectorizes.
    if v.chunks(1024)
        .all(|c| c.iter().fold(true, |all, x| all & x.is_finite()))
    {
        Cow::Borrowed(v)
    } else {
        Cow::Owned(v.iter().copied().filter(|x| x.is_finite()).collect())
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
