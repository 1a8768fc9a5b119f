//! Two samples' empirical distribution functions compared without sorting them: the two-sample KS
//! statistic (SciPy's `ks_2samp`) and the Wasserstein-1 distance (SciPy's `wasserstein_distance`), equal
//! to what one merge pass over both sorted samples gives ([`crate::sorted::merge_stats`]) — the KS
//! statistic to the bit, the distance to rounding.
//!
//! Sorting two million values was most of a column's drift. Instead the values' range is cut into
//! buckets sized to the values' density (equal slices, each split by its share of a sample of the values),
//! and one pass per sample counts and sums each bucket's values. Walking the buckets in order
//! gives `D = F_ref - F_cur` exactly at each bucket's edges and bounds it inside: a bucket holding `ca`
//! and `cb` values keeps `D` within `[D_lo - cb/n_b, D_lo + ca/n_a]`. Where that interval does not cross
//! zero, `|D|`'s integral over the bucket is the absolute value of `D`'s, which the counts and sums give
//! in closed form (`∫F_a = F_a(lo)·w + Σ(hi - a_i)/n_a`); where it cannot hold a new extreme of `D`, the
//! KS statistic needs nothing from inside it. Only the remaining buckets — where `D` is near zero, or
//! near its extremes — are gathered and sorted, a few percent of the values for two samples of one
//! distribution and fewer the more they differ.

use crate::sorted::{finite_sorted, merge_stats, merged_values};
use crate::stattests::binning::SliceBins;

/// Samples this small are sorted and merged: the buckets' fixed costs would dominate.
const SMALL: usize = 4096;

/// Values a bucket holds at most, roughly: small enough to sort in cache, and the smaller it is the fewer
/// buckets `D` crosses zero in.
const PER_BUCKET: usize = 32;
/// Equal slices of the range, counted first so that buckets follow the values' density: a skewed column
/// (exponential, log-normal) would crowd most values into a few equal-width buckets.
const SLICES: usize = 1024;
/// Values per sample the slices' densities are estimated from.
const DENSITY_SAMPLE: usize = 1 << 16;

/// The two-sample KS statistic and the Wasserstein-1 distance of two samples of finite values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Distances {
    pub ks_statistic: f64,
    pub wasserstein: f64,
}

/// [`Distances`], and each sample's counts over histogram edges when they were asked for and counted on
/// the way (`None`: count them with [`crate::stattests::binning::hist_counts`]).
pub struct Compared {
    pub distances: Distances,
    pub histogram: Option<(Vec<u64>, Vec<u64>)>,
}

/// Compares `a` with `b` (finite values, any order, neither empty), both within `(lo, hi)` (their
/// [`range_of_both`]); counts them over `edges` (spanning `[lo, hi]`) on the way when it can.
pub fn distances(a: &[f64], b: &[f64], (lo, hi): (f64, f64), edges: Option<&[f64]>) -> Compared {
    let plain = |distances| Compared {
        distances,
        histogram: None,
    };
    if a.len() + b.len() <= SMALL {
        return plain(sorted_distances(a, b));
    }
    let span = hi - lo;
    if span == 0.0 {
        // One value in both samples: the distributions are equal.
        return plain(Distances {
            ks_statistic: 0.0,
            wasserstein: 0.0,
        });
    }
    if !span.is_finite() {
        return plain(sorted_distances(a, b));
    }
    let spanned = edges.filter(|e| e.len() >= 2 && e[0] == lo && e[e.len() - 1] == hi);
    let bins = spanned.map(|e| SliceBins::new(e, lo, hi, SLICES));
    Buckets::new(lo, hi, a, b).distances(a, b, bins.as_ref())
}

fn sorted_distances(a: &[f64], b: &[f64]) -> Distances {
    let m = merge_stats(&finite_sorted(a), &finite_sorted(b));
    Distances {
        ks_statistic: m.ks_statistic,
        wasserstein: m.wasserstein,
    }
}

/// The smallest and largest value of two samples together (`None` when both are empty).
pub fn range_of_both(a: &[f64], b: &[f64]) -> Option<(f64, f64)> {
    match (range(a), range(b)) {
        (Some(x), Some(y)) => Some((x.0.min(y.0), x.1.max(y.1))),
        (x, y) => x.or(y),
    }
}

/// The smallest and largest value (`None` for no values).
pub fn range(x: &[f64]) -> Option<(f64, f64)> {
    // Eight independent lanes: the compiler vectorizes them (a single fold is one dependency chain).
    let mut lo = [f64::INFINITY; 8];
    let mut hi = [f64::NEG_INFINITY; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            lo[k] = if c[k] < lo[k] { c[k] } else { lo[k] };
            hi[k] = if c[k] > hi[k] { c[k] } else { hi[k] };
        }
    }
    let lo = rest
        .iter()
        .chain(&lo)
        .copied()
        .fold(f64::INFINITY, f64::min);
    let hi = rest
        .iter()
        .chain(&hi)
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    (lo <= hi).then_some((lo, hi))
}

/// Buckets over `[lo, hi]`: [`SLICES`] equal slices, each cut into as many equal buckets as its share of
/// the values asks for.
struct Buckets {
    lo: f64,
    hi: f64,
    /// Slices per unit of value.
    scale: f64,
    slices: Vec<Slice>,
    n: usize,
}

#[derive(Clone, Copy)]
struct Slice {
    /// Buckets in the slice, as a float for the index arithmetic.
    width: f64,
    first: u32,
    /// `width - 1`.
    last: u32,
}

/// One sample's count and sum of values per bucket, each value's bucket when they fit in 16 bits, and
/// its histogram when asked for.
struct Tally {
    count: Vec<u32>,
    sum: Vec<f64>,
    at: Vec<u16>,
    histogram: Option<Vec<u64>>,
}

impl Buckets {
    /// Buckets for `a` and `b`, sized from a sample of their values (the sizes only steer how many
    /// buckets are walked exactly, never the result).
    fn new(lo: f64, hi: f64, a: &[f64], b: &[f64]) -> Self {
        let scale = SLICES as f64 / (hi - lo);
        let slice = |x: f64| (((x - lo) * scale) as i64).clamp(0, SLICES as i64 - 1) as usize;
        let mut per_slice = vec![0usize; SLICES];
        for sample in [a, b] {
            let step = (sample.len() / DENSITY_SAMPLE).max(1);
            sample
                .iter()
                .step_by(step)
                .for_each(|&x| per_slice[slice(x)] += step);
        }
        let mut slices = Vec::with_capacity(SLICES);
        let mut n = 0u32;
        for &count in &per_slice {
            let k = count.div_ceil(PER_BUCKET).max(1) as u32;
            slices.push(Slice {
                width: f64::from(k),
                first: n,
                last: k - 1,
            });
            n += k;
        }
        Buckets {
            lo,
            hi,
            scale,
            slices,
            n: n as usize,
        }
    }

    /// The bucket of `x`: monotone in `x` (rounded subtraction and multiplication by a positive number
    /// never reverse an order, and `t - s` is exact for `t` in `[s, s + 1)`), so buckets in index order
    /// hold values in ascending order.
    #[inline]
    fn of(&self, x: f64) -> (usize, usize) {
        let t = (x - self.lo) * self.scale;
        // Through i64: one instruction each way, where usize's saturating conversion takes several.
        let s = (t as i64).clamp(0, SLICES as i64 - 1);
        let slice = self.slices[s as usize];
        let k = (((t - s as f64) * slice.width) as i64).clamp(0, i64::from(slice.last)) as u32;
        ((slice.first + k) as usize, s as usize)
    }

    /// Every bucket's lower edge, and `hi` last.
    fn edges(&self) -> Vec<f64> {
        let mut e = Vec::with_capacity(self.n + 1);
        for (s, slice) in self.slices.iter().enumerate() {
            for j in 0..=slice.last {
                e.push(self.lo + (s as f64 + f64::from(j) / slice.width) / self.scale);
            }
        }
        e.push(self.hi);
        e
    }

    /// Counts and sums `x`'s values per bucket, and over `bins` when given.
    fn tally(&self, x: &[f64], bins: Option<&SliceBins>) -> Tally {
        let mut t = Tally {
            count: vec![0; self.n],
            sum: vec![0.0; self.n],
            at: Vec::new(),
            histogram: bins.map(|b| vec![0; b.len()]),
        };
        let keep = self.n <= usize::from(u16::MAX) + 1;
        if keep {
            t.at = vec![0; x.len()];
        }
        let at = &mut t.at;
        for (i, &v) in x.iter().enumerate() {
            let (k, s) = self.of(v);
            t.count[k] += 1;
            t.sum[k] += v;
            if keep {
                at[i] = k as u16;
            }
            if let (Some(h), Some(bins)) = (&mut t.histogram, bins)
                && let Some(bin) = bins.bin(v, s)
            {
                h[bin] += 1;
            }
        }
        t
    }

    fn distances(&self, a: &[f64], b: &[f64], bins: Option<&SliceBins>) -> Compared {
        let (ta, tb) = (self.tally(a, bins), self.tally(b, bins));
        let edges = self.edges();
        let (na, nb) = (a.len() as f64, b.len() as f64);
        // `D` after every value up to a bucket's end, as the merge computes it at that bucket's last value.
        let d_at = |i: u64, j: u64| i as f64 / na - j as f64 / nb;

        // First walk: `D` at the end of each non-empty bucket — values of `D` the statistic takes.
        let (mut max_end, mut min_end) = (f64::NEG_INFINITY, f64::INFINITY);
        let (mut i, mut j) = (0u64, 0u64);
        for k in 0..self.n {
            let (ca, cb) = (u64::from(ta.count[k]), u64::from(tb.count[k]));
            i += ca;
            j += cb;
            if ca + cb > 0 {
                let d = d_at(i, j);
                max_end = max_end.max(d);
                min_end = min_end.min(d);
            }
        }

        // Second walk: closed forms where they hold, the rest marked for an exact pass.
        let mut exact = Vec::new();
        let mut w = 0.0;
        let (mut i, mut j) = (0u64, 0u64);
        for k in 0..self.n {
            let (ca, cb) = (u64::from(ta.count[k]), u64::from(tb.count[k]));
            let (e0, e1) = (edges[k], edges[k + 1]);
            let d_lo = d_at(i, j);
            // Bounds of `D` at this bucket's values, computed as `D` is, so comparisons are exact.
            let (upper, lower) = (d_at(i + ca, j), d_at(i, j + cb));
            let one_sign = lower >= 0.0 || upper <= 0.0;
            if ca + cb > 0 && (!one_sign || upper > max_end || lower < min_end) {
                exact.push(Exact {
                    bucket: k,
                    i,
                    j,
                    edges: (e0, e1),
                });
            } else {
                let integral = d_lo * (e1 - e0) + (ca as f64 * e1 - ta.sum[k]) / na
                    - (cb as f64 * e1 - tb.sum[k]) / nb;
                w += integral.abs();
            }
            i += ca;
            j += cb;
        }

        let (ga, gb) = (self.gather(a, &exact, &ta), self.gather(b, &exact, &tb));
        let (mut max_d, mut min_d) = (max_end, min_end);
        for (x, (sa, sb)) in exact.iter().zip(ga.into_iter().zip(gb)) {
            let r = exact_bucket(x, &sa, &sb, d_at);
            max_d = max_d.max(r.max_d);
            min_d = min_d.min(r.min_d);
            w += r.w;
        }
        // SciPy's two-sided statistic from the largest excursions either way.
        let min_s = (-min_d).clamp(0.0, 1.0);
        Compared {
            distances: Distances {
                ks_statistic: if min_s > max_d { min_s } else { max_d },
                wasserstein: w,
            },
            histogram: ta.histogram.zip(tb.histogram),
        }
    }

    /// The values of `x` in the marked buckets, one sorted run per bucket.
    fn gather(&self, x: &[f64], exact: &[Exact], t: &Tally) -> Vec<Vec<f64>> {
        // Which buckets are marked (a byte each, so the table stays in L1), and each one's slot.
        let mut marked = vec![false; self.n];
        let mut slot = vec![0u32; self.n];
        let mut runs: Vec<Vec<f64>> = exact
            .iter()
            .enumerate()
            .map(|(s, e)| {
                marked[e.bucket] = true;
                slot[e.bucket] = s as u32;
                Vec::with_capacity(t.count[e.bucket] as usize)
            })
            .collect();
        if !runs.is_empty() {
            let mut take = |v: f64, k: usize| {
                if marked[k] {
                    runs[slot[k] as usize].push(v);
                }
            };
            if t.at.len() == x.len() {
                x.iter()
                    .zip(&t.at)
                    .for_each(|(&v, &k)| take(v, usize::from(k)));
            } else {
                x.iter().for_each(|&v| take(v, self.of(v).0));
            }
        }
        for r in &mut runs {
            crate::sorted::sort(r);
        }
        runs
    }
}

/// A bucket walked value by value: its index and the values of each sample below it.
struct Exact {
    bucket: usize,
    i: u64,
    j: u64,
    edges: (f64, f64),
}

struct ExactResult {
    max_d: f64,
    min_d: f64,
    w: f64,
}

/// The merge of [`crate::sorted::merge_stats`] over one bucket's sorted values, from its lower edge to
/// its upper one.
fn exact_bucket(at: &Exact, a: &[f64], b: &[f64], d_at: impl Fn(u64, u64) -> f64) -> ExactResult {
    let (e0, e1) = at.edges;
    let (mut max_d, mut min_d) = (f64::NEG_INFINITY, f64::INFINITY);
    let mut d = d_at(at.i, at.j);
    let mut w = 0.0;
    let mut prev = e0;
    for (x, i, j) in merged_values(a, b) {
        // `D` holds from the previous value (or the edge) up to this one.
        w += d.abs() * (x - prev);
        d = d_at(at.i + i as u64, at.j + j as u64);
        max_d = max_d.max(d);
        min_d = min_d.min(d);
        prev = x;
    }
    w += d.abs() * (e1 - prev);
    ExactResult { max_d, min_d, w }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn check(a: &[f64], b: &[f64]) {
        let got = distances(a, b, range_of_both(a, b).unwrap(), None).distances;
        let m = merge_stats(&finite_sorted(a), &finite_sorted(b));
        assert_eq!(
            got.ks_statistic,
            m.ks_statistic,
            "ks of {} vs {}",
            a.len(),
            b.len()
        );
        let rel = (got.wasserstein - m.wasserstein).abs() / m.wasserstein.abs().max(1e-300);
        assert!(
            rel < 1e-11 || got.wasserstein == m.wasserstein,
            "wasserstein {} vs {} (rel {rel:e})",
            got.wasserstein,
            m.wasserstein
        );
    }

    fn sample(rng: &mut StdRng, n: usize, f: impl Fn(&mut StdRng) -> f64) -> Vec<f64> {
        (0..n).map(|_| f(rng)).collect()
    }

    fn normal(rng: &mut StdRng) -> f64 {
        // Box–Muller: enough for a test's shapes.
        let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    #[test]
    fn equals_the_merge_on_same_and_shifted_distributions() {
        let mut rng = StdRng::seed_from_u64(7);
        for (n_a, n_b) in [(50_000, 50_000), (100_000, 30_000), (5_000, 200_000)] {
            for shift in [0.0, 0.01, 0.2, 3.0] {
                let a = sample(&mut rng, n_a, normal);
                let b = sample(&mut rng, n_b, |r| normal(r) * 1.1 + shift);
                check(&a, &b);
            }
        }
    }

    #[test]
    fn equals_the_merge_on_skewed_tied_and_outlying_values() {
        let mut rng = StdRng::seed_from_u64(11);
        // Heavy tail: most values in a few buckets.
        let a = sample(&mut rng, 60_000, |r| normal(r).exp().powi(3));
        let b = sample(&mut rng, 60_000, |r| (normal(r) + 0.1).exp().powi(3));
        check(&a, &b);
        // Integers: every value repeated thousands of times, each its own bucket.
        let a = sample(&mut rng, 80_000, |r| (normal(r) * 7.0 + 50.0).round());
        let b = sample(&mut rng, 80_000, |r| (normal(r) * 7.0 + 51.0).round());
        check(&a, &b);
        // One far outlier: nearly everything in the first bucket.
        let mut a = sample(&mut rng, 40_000, normal);
        a.push(1e12);
        let b = sample(&mut rng, 40_000, normal);
        check(&a, &b);
        // Disjoint supports, negative zero and signs.
        let a = sample(&mut rng, 30_000, |r| -normal(r).abs());
        let mut b = sample(&mut rng, 30_000, |r| normal(r).abs());
        b.extend([-0.0, 0.0, -0.0]);
        check(&a, &b);
        // Both samples one value, and a range too wide for f64.
        let same = distances(&[2.0; 5000], &[2.0; 5000], (2.0, 2.0), None);
        assert_eq!(same.distances.wasserstein, 0.0);
        check(&[-1e308; 3000], &[1e308; 3000]);
    }

    #[test]
    fn range_of_values() {
        assert_eq!(range(&[]), None);
        assert_eq!(range(&[3.0]), Some((3.0, 3.0)));
        let x: Vec<f64> = (0..1001)
            .map(|i| ((i * 37) % 1001) as f64 - 500.0)
            .collect();
        assert_eq!(range(&x), Some((-500.0, 500.0)));
    }
}
