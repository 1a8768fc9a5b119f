//! Evidently's `get_binned_data`: a numeric column with more than 20 distinct reference values is cut into
//! `numpy.histogram_bin_edges(concat(ref, cur), 'sturges')` bins; anything else is counted per level
//! (the union of both windows' values). The same bins feed PSI, Jensen–Shannon, the two-sample chi² and
//! the report's histograms.

use std::collections::HashMap;

use crate::sorted::n_unique;
use crate::table::{Categories, MISSING};

/// Counts of both windows over the same bins or levels.
#[derive(Debug, Clone, PartialEq)]
pub struct Binned {
    /// Histogram edges (`bins + 1`), or `None` when the bins are levels.
    pub edges: Option<Vec<f64>>,
    /// One label a bin: the level, or `[lo, hi)`.
    pub labels: Vec<String>,
    pub reference: Vec<u64>,
    pub current: Vec<u64>,
}

impl Binned {
    pub fn n_reference(&self) -> u64 {
        self.reference.iter().sum()
    }

    pub fn n_current(&self) -> u64 {
        self.current.iter().sum()
    }
}

/// Evidently's threshold: more distinct reference values than this → histogram bins.
pub const MAX_LEVELS_AS_BINS: usize = 20;

/// Bins two sorted finite samples as Evidently does (`as_levels` forces level counts: Evidently's
/// categorical type).
pub fn bin_numeric(reference: &[f64], current: &[f64], integer: bool, as_levels: bool) -> Binned {
    if !as_levels && n_unique(reference) > MAX_LEVELS_AS_BINS {
        let edges = sturges_edges(reference, current, integer);
        let reference_counts = hist_counts(reference, &edges);
        let current_counts = hist_counts(current, &edges);
        let labels = edges
            .windows(2)
            .map(|w| format!("[{}, {})", short(w[0]), short(w[1])))
            .collect();
        Binned {
            edges: Some(edges),
            labels,
            reference: reference_counts,
            current: current_counts,
        }
    } else {
        numeric_levels(reference, current)
    }
}

fn short(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// `numpy.histogram_bin_edges(concat(a, b), 'sturges')` for sorted, non-empty `a` and `b`.
pub fn sturges_edges(a: &[f64], b: &[f64], integer: bool) -> Vec<f64> {
    let lo = first(a).min(first(b));
    let hi = last(a).max(last(b));
    let (mut first_edge, mut last_edge) = (lo, hi);
    if first_edge == last_edge {
        first_edge -= 0.5;
        last_edge += 0.5;
    }
    let size = (a.len() + b.len()) as f64;
    let mut width = (hi - lo) / (size.log2() + 1.0);
    let n_bins = if width != 0.0 {
        if integer && width < 1.0 {
            width = 1.0;
        }
        ((last_edge - first_edge) / width).ceil() as usize
    } else {
        1
    };
    linspace(first_edge, last_edge, n_bins + 1)
}

fn first(s: &[f64]) -> f64 {
    s.first().copied().unwrap_or(f64::INFINITY)
}

fn last(s: &[f64]) -> f64 {
    s.last().copied().unwrap_or(f64::NEG_INFINITY)
}

/// `numpy.linspace(start, stop, num)` with the endpoint, as numpy computes it (`i * step + start`).
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let div = (num - 1) as f64;
    let delta = stop - start;
    let step = delta / div;
    let mut y: Vec<f64> = (0..num)
        .map(|i| {
            if step == 0.0 {
                i as f64 / div * delta + start
            } else {
                i as f64 * step + start
            }
        })
        .collect();
    if let Some(l) = y.last_mut() {
        *l = stop;
    }
    y
}

/// `numpy.histogram(sorted, edges)` counts: `[e_k, e_{k+1})`, the last bin closed.
pub fn hist_counts(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    let last = edges.len() - 1;
    let cum: Vec<usize> = edges
        .iter()
        .enumerate()
        .map(|(i, &e)| {
            if i == last {
                sorted.partition_point(|&x| x <= e)
            } else {
                sorted.partition_point(|&x| x < e)
            }
        })
        .collect();
    cum.windows(2).map(|w| (w[1] - w[0]) as u64).collect()
}

/// One bin per distinct value of either sample, ascending.
fn numeric_levels(a: &[f64], b: &[f64]) -> Binned {
    let (mut i, mut j) = (0, 0);
    let mut out = Binned {
        edges: None,
        labels: vec![],
        reference: vec![],
        current: vec![],
    };
    while i < a.len() || j < b.len() {
        let x = match (a.get(i), b.get(j)) {
            (Some(&p), Some(&q)) => p.min(q),
            (Some(&p), None) => p,
            (None, Some(&q)) => q,
            (None, None) => break,
        };
        let (i0, j0) = (i, j);
        while i < a.len() && a[i] == x {
            i += 1;
        }
        while j < b.len() && b[j] == x {
            j += 1;
        }
        out.labels.push(crate::format::number(x));
        out.reference.push((i - i0) as u64);
        out.current.push((j - j0) as u64);
    }
    out
}

/// One bin per level present in either window, in string order (Evidently's z-test takes the first).
pub fn bin_categories(reference: &Categories, current: &Categories) -> Binned {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut labels: Vec<&str> = Vec::new();
    let mut ref_counts = Vec::new();
    let mut cur_counts = Vec::new();
    for (cats, which) in [(reference, 0), (current, 1)] {
        let counts = cats.level_counts();
        for (level, &n) in cats.levels.iter().zip(&counts) {
            if n == 0 {
                continue;
            }
            let k = *index.entry(level.as_str()).or_insert_with(|| {
                labels.push(level.as_str());
                ref_counts.push(0);
                cur_counts.push(0);
                labels.len() - 1
            });
            if which == 0 {
                ref_counts[k] += n;
            } else {
                cur_counts[k] += n;
            }
        }
    }
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&x, &y| labels[x].cmp(labels[y]));
    Binned {
        edges: None,
        labels: order.iter().map(|&k| labels[k].to_owned()).collect(),
        reference: order.iter().map(|&k| ref_counts[k]).collect(),
        current: order.iter().map(|&k| cur_counts[k]).collect(),
    }
}

/// Rows with a value, per window (missing codes excluded).
pub fn present(c: &Categories) -> usize {
    c.codes.iter().filter(|&&x| x != MISSING).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sturges_edges_match_numpy() {
        // numpy.histogram_bin_edges([0,1,2,...,9, 2.5], 'sturges')
        let a: Vec<f64> = (0..10).map(f64::from).collect();
        let b = [2.5];
        let e = sturges_edges(&a, &b, false);
        // n = 11 → log2(11)+1 = 4.459 → width 2.0183 → ceil(9/2.0183) = 5 bins
        assert_eq!(e.len(), 6);
        assert_eq!(e[0], 0.0);
        assert_eq!(e[5], 9.0);
        assert_eq!(hist_counts(&a, &e), vec![2, 2, 2, 2, 2]);
    }
}
