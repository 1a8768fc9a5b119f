//! Evidently's `get_binned_data`: a numeric column with more than 20 distinct reference values is cut into
//! `numpy.histogram_bin_edges(concat(ref, cur), 'sturges')` bins; anything else is counted per level
//! (the union of both windows' values). The same bins feed PSI, Jensen–Shannon, the two-sample chi² and
//! the report's histograms.

use std::collections::HashMap;

use crate::sorted::{finite_sorted, merged_values};
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

/// How Evidently bins a numeric column: counted per value, or Sturges edges still to count values into.
pub enum NumericBins {
    Counted(Binned),
    Edges(Vec<f64>),
}

/// Evidently's bins for two samples of finite values (any order, both within `range`): `as_levels`
/// forces level counts (Evidently's categorical type); `levels` are both samples' values counted, when
/// they have few.
pub fn numeric_bins(
    reference: &[f64],
    current: &[f64],
    range: (f64, f64),
    integer: bool,
    as_levels: bool,
    levels: Option<&Levels>,
) -> NumericBins {
    let size = reference.len() + current.len();
    match levels {
        Some(l) if as_levels || l.reference_distinct() <= MAX_LEVELS_AS_BINS => {
            NumericBins::Counted(l.binned())
        }
        Some(l) => {
            // Few values: each level's count lands in its bin at once.
            let edges = sturges_edges(l.values[0], l.values[l.len() - 1], size, integer);
            let (mut r, mut c) = (vec![0; edges.len() - 1], vec![0; edges.len() - 1]);
            let per_unit = (edges.len() - 1) as f64 / (edges[edges.len() - 1] - edges[0]);
            for (k, &x) in l.values.iter().enumerate() {
                let bin = bin_of(x, &edges, per_unit);
                r[bin] += l.reference[k];
                c[bin] += l.current[k];
            }
            NumericBins::Counted(edges_binned(edges, r, c))
        }
        None if !as_levels && Levels::count(&[reference], MAX_LEVELS_AS_BINS).is_none() => {
            NumericBins::Edges(sturges_edges(range.0, range.1, size, integer))
        }
        // Many values in one window, few in the other, counted per value: rare, so sorted.
        None => NumericBins::Counted(numeric_levels(
            &finite_sorted(reference),
            &finite_sorted(current),
        )),
    }
}

/// Counts over histogram edges, labelled `[lo, hi)`.
pub fn edges_binned(edges: Vec<f64>, reference: Vec<u64>, current: Vec<u64>) -> Binned {
    let labels = edges
        .windows(2)
        .map(|w| format!("[{}, {})", short(w[0]), short(w[1])))
        .collect();
    Binned {
        edges: Some(edges),
        labels,
        reference,
        current,
    }
}

fn short(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// `numpy.histogram_bin_edges(values, 'sturges')` for `size` values from `lo` to `hi`.
pub fn sturges_edges(lo: f64, hi: f64, size: usize, integer: bool) -> Vec<f64> {
    let (mut first_edge, mut last_edge) = (lo, hi);
    if first_edge == last_edge {
        first_edge -= 0.5;
        last_edge += 0.5;
    }
    let size = size as f64;
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

/// `numpy.histogram(values, edges)` counts (any order): `[e_k, e_{k+1})`, the last bin closed, values
/// outside the edges not counted.
pub fn hist_counts(values: &[f64], edges: &[f64]) -> Vec<u64> {
    const SLICES: usize = 4096;
    let bins = SliceBins::new(edges, edges[0], edges[edges.len() - 1], SLICES);
    let per_slice = SLICES as f64 / (edges[edges.len() - 1] - edges[0]);
    // Four tallies, summed at the end: consecutive values often share a bin, and one tally would make
    // each increment wait for the previous one's store.
    let mut lanes = vec![[0u64; 4]; edges.len() - 1];
    let chunks = values.chunks_exact(4);
    let rest = chunks.remainder();
    let mut add = |x: f64, lane: usize| {
        let slice = (((x - edges[0]) * per_slice) as i64).clamp(0, SLICES as i64 - 1) as usize;
        if let Some(k) = bins.bin(x, slice) {
            lanes[k][lane] += 1;
        }
    };
    for c in chunks {
        for (lane, &x) in c.iter().enumerate() {
            add(x, lane);
        }
    }
    rest.iter().for_each(|&x| add(x, 0));
    lanes.iter().map(|l| l.iter().sum()).collect()
}

/// The histogram bin of each of a number of equal slices of `[lo, hi]`, or that it straddles an edge:
/// a value's bin from its slice, and only values in straddling slices placed against the edges.
pub struct SliceBins<'e> {
    edges: &'e [f64],
    per_unit: f64,
    table: Vec<u16>,
}

impl<'e> SliceBins<'e> {
    const STRADDLES: u16 = u16::MAX;

    pub fn new(edges: &'e [f64], lo: f64, hi: f64, slices: usize) -> Self {
        let bins = edges.len() - 1;
        let per_unit = bins as f64 / (edges[bins] - edges[0]);
        let width = (hi - lo) / slices as f64;
        let table = (0..slices)
            .map(|j| {
                let (a, b) = (lo + j as f64 * width, lo + (j + 1) as f64 * width);
                let k = bin_of(a, edges, per_unit);
                // A slice's width of margin either side covers the rounding of a value's slice index;
                // the first and last slices also hold values clamped into them.
                let inside = j > 0
                    && j + 1 < slices
                    && a - width >= edges[0]
                    && b + width <= edges[bins]
                    && bin_of(a - width, edges, per_unit) == k
                    && bin_of(b + width, edges, per_unit) == k;
                if inside && k < Self::STRADDLES as usize {
                    k as u16
                } else {
                    Self::STRADDLES
                }
            })
            .collect();
        SliceBins {
            edges,
            per_unit,
            table,
        }
    }

    /// Bins.
    pub fn len(&self) -> usize {
        self.edges.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bin of `x`, found in slice `slice` (`None` outside the edges).
    #[inline]
    pub fn bin(&self, x: f64, slice: usize) -> Option<usize> {
        match self.table[slice] {
            Self::STRADDLES => {
                let (first, last) = (self.edges[0], self.edges[self.edges.len() - 1]);
                (x >= first && x <= last).then(|| bin_of(x, self.edges, self.per_unit))
            }
            k => Some(k as usize),
        }
    }
}

/// The bin of `x` within `[edges[0], edges[last]]`: a guess from the width, corrected against the edges
/// themselves (linspace's edges are not exactly equidistant), as numpy corrects its own.
#[inline]
fn bin_of(x: f64, edges: &[f64], per_unit: f64) -> usize {
    let bins = edges.len() - 1;
    let mut k = (((x - edges[0]) * per_unit) as usize).min(bins - 1);
    while k > 0 && x < edges[k] {
        k -= 1;
    }
    while k + 1 < bins && x >= edges[k + 1] {
        k += 1;
    }
    k
}

/// The distinct values of both windows with their counts, for a column of few values.
#[derive(Debug, Clone, PartialEq)]
pub struct Levels {
    /// Ascending, `-0.0` counted as `0.0`.
    pub values: Vec<f64>,
    pub reference: Vec<u64>,
    pub current: Vec<u64>,
}

/// Most distinct values of both windows counted as [`Levels`]; beyond, columns are bucketed.
pub const MAX_COUNTED_LEVELS: usize = 1024;

impl Levels {
    /// Counts the values of `samples` (the reference, then optionally the current window), or `None` as
    /// soon as there are more than `cap` distinct ones — a continuous column stops after `cap + 1` values.
    pub fn count(samples: &[&[f64]], cap: usize) -> Option<Levels> {
        let mut values: Vec<f64> = Vec::new();
        let mut counts: Vec<[u64; 2]> = Vec::new();
        // Open addressing on the value's bits (`-0.0` read as `0.0`): a probe or two a value, whatever
        // the number of levels.
        let size = (2 * cap + 2).next_power_of_two();
        let shift = 64 - size.trailing_zeros();
        let mut table: Vec<(u64, u32)> = vec![(0, u32::MAX); size];
        for (s, sample) in samples.iter().enumerate() {
            let mut last = (f64::NAN, 0usize);
            for &x in *sample {
                // Runs of one value are common (sorted or grouped data).
                let k = if x == last.0 {
                    last.1
                } else {
                    let bits = (x + 0.0).to_bits();
                    let mut h = (bits.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize;
                    loop {
                        let (key, at) = table[h];
                        if at == u32::MAX {
                            if values.len() == cap {
                                return None;
                            }
                            table[h] = (bits, values.len() as u32);
                            values.push(x + 0.0);
                            counts.push([0, 0]);
                            break values.len() - 1;
                        }
                        if key == bits {
                            break at as usize;
                        }
                        h = (h + 1) & (size - 1);
                    }
                };
                counts[k][s.min(1)] += 1;
                last = (x, k);
            }
        }
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        Some(Levels {
            values: order.iter().map(|&k| values[k]).collect(),
            reference: order.iter().map(|&k| counts[k][0]).collect(),
            current: order.iter().map(|&k| counts[k][1]).collect(),
        })
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Distinct values of the reference.
    pub fn reference_distinct(&self) -> usize {
        self.reference.iter().filter(|&&n| n > 0).count()
    }

    /// One bin per value.
    pub fn binned(&self) -> Binned {
        Binned {
            edges: None,
            labels: self
                .values
                .iter()
                .map(|&x| crate::format::number(x))
                .collect(),
            reference: self.reference.clone(),
            current: self.current.clone(),
        }
    }

    /// The KS statistic and Wasserstein-1 distance from the counts: the merge of
    /// [`crate::sorted::merge_stats`], a value at a time.
    pub fn distances(&self) -> crate::ecdf::Distances {
        let (na, nb) = (
            self.reference.iter().sum::<u64>() as f64,
            self.current.iter().sum::<u64>() as f64,
        );
        let (mut i, mut j) = (0u64, 0u64);
        let (mut max_d, mut min_d) = (f64::NEG_INFINITY, f64::INFINITY);
        let mut w = 0.0;
        for k in 0..self.values.len() {
            i += self.reference[k];
            j += self.current[k];
            let d = i as f64 / na - j as f64 / nb;
            max_d = max_d.max(d);
            min_d = min_d.min(d);
            if let Some(next) = self.values.get(k + 1) {
                w += d.abs() * (next - self.values[k]);
            }
        }
        let min_s = (-min_d).clamp(0.0, 1.0);
        crate::ecdf::Distances {
            ks_statistic: if min_s > max_d { min_s } else { max_d },
            wasserstein: w,
        }
    }
}

/// One bin per distinct value of either sample, ascending.
fn numeric_levels(a: &[f64], b: &[f64]) -> Binned {
    let mut out = Binned {
        edges: None,
        labels: vec![],
        reference: vec![],
        current: vec![],
    };
    let (mut i0, mut j0) = (0, 0);
    for (x, i, j) in merged_values(a, b) {
        out.labels.push(crate::format::number(x));
        out.reference.push((i - i0) as u64);
        out.current.push((j - j0) as u64);
        (i0, j0) = (i, j);
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
        let e = sturges_edges(0.0, 9.0, a.len() + b.len(), false);
        // n = 11 → log2(11)+1 = 4.459 → width 2.0183 → ceil(9/2.0183) = 5 bins
        assert_eq!(e.len(), 6);
        assert_eq!(e[0], 0.0);
        assert_eq!(e[5], 9.0);
        assert_eq!(hist_counts(&a, &e), vec![2, 2, 2, 2, 2]);
    }

    /// `numpy.histogram`'s definition, by sorting: the reference for the slice-table count.
    fn hist_by_sorting(values: &[f64], edges: &[f64]) -> Vec<u64> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
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

    #[test]
    fn hist_counts_equal_numpys_definition_on_and_near_the_edges() {
        // Values on every edge, a hair either side of it, and spread between (integers and fractions).
        let e = sturges_edges(-3.7, 12.9, 5000, false);
        let mut x: Vec<f64> = (0..5000)
            .map(|i| -3.7 + 16.6 * ((i * 7919) % 5000) as f64 / 4999.0)
            .collect();
        for &edge in &e {
            x.extend([edge, edge.next_down(), edge.next_up()]);
        }
        x.extend([-10.0, 20.0]); // outside: not counted
        assert_eq!(hist_counts(&x, &e), hist_by_sorting(&x, &e));
        let e = sturges_edges(0.0, 63.0, 1_000, true);
        let x: Vec<f64> = (0..1000).map(|i| ((i * 37) % 64) as f64).collect();
        assert_eq!(hist_counts(&x, &e), hist_by_sorting(&x, &e));
    }

    #[test]
    fn levels_count_values_and_give_the_merges_distances() {
        let a: Vec<f64> = (0..3000).map(|i| ((i * 7) % 13) as f64 - 0.0).collect();
        let mut b: Vec<f64> = (0..2000).map(|i| ((i * 5) % 17) as f64 * 0.5).collect();
        b.extend([-0.0, 0.0]);
        let l = Levels::count(&[&a, &b], 64).unwrap();
        let mut union: Vec<f64> = a.iter().chain(&b).map(|x| x + 0.0).collect();
        union.sort_by(f64::total_cmp);
        union.dedup();
        assert_eq!(l.values, union);
        assert_eq!(l.reference.iter().sum::<u64>(), 3000);
        assert_eq!(l.current.iter().sum::<u64>(), 2002);
        assert_eq!(l.reference_distinct(), 13);
        let m = crate::sorted::merge_stats(&finite_sorted(&a), &finite_sorted(&b));
        let d = l.distances();
        assert_eq!(d.ks_statistic, m.ks_statistic);
        assert!((d.wasserstein - m.wasserstein).abs() <= 1e-12 * m.wasserstein);
        // More distinct values than the cap: none counted.
        assert!(Levels::count(&[&a, &b], 20).is_none());
    }
}
