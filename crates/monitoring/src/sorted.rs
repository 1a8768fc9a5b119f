//! Sorted finite values of a numeric column, and what one merge pass over two of them yields. Sorting is
//! an LSD radix sort on the IEEE bits (a few linear passes, no comparisons), the dominant cost of a
//! column's drift at a million rows.

/// The finite values of `values` (NaN and ±inf dropped, as Evidently drops them), sorted ascending, with
/// `-0.0` written as `0.0` so equal numbers have equal bits.
pub fn finite_sorted(values: &[f64]) -> Vec<f64> {
    let mut out: Vec<f64> = values
        .iter()
        .filter(|x| x.is_finite())
        .map(|&x| if x == 0.0 { 0.0 } else { x })
        .collect();
    sort(&mut out);
    out
}

/// Sorts finite, non-negative-zero values ascending.
pub fn sort(v: &mut [f64]) {
    if v.len() < 2048 {
        v.sort_unstable_by(f64::total_cmp);
        return;
    }
    let mut keys: Vec<u64> = v.iter().map(|x| key(*x)).collect();
    radix_sort(&mut keys);
    for (x, k) in v.iter_mut().zip(&keys) {
        *x = unkey(*k);
    }
}

/// Order-preserving map from f64 bits to u64.
fn key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

fn unkey(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

fn radix_sort(keys: &mut Vec<u64>) {
    const BITS: usize = 11;
    const BUCKETS: usize = 1 << BITS;
    const PASSES: usize = 64usize.div_ceil(BITS);
    let mut counts = vec![[0usize; BUCKETS]; PASSES];
    for &k in keys.iter() {
        for (p, c) in counts.iter_mut().enumerate() {
            c[((k >> (p * BITS)) as usize) & (BUCKETS - 1)] += 1;
        }
    }
    let n = keys.len();
    let mut buf = vec![0u64; n];
    for (p, c) in counts.iter().enumerate() {
        if c.iter().any(|&x| x == n) {
            continue; // every key has the same digit here
        }
        let mut offsets = [0usize; BUCKETS];
        let mut sum = 0;
        for (o, &x) in offsets.iter_mut().zip(c.iter()) {
            *o = sum;
            sum += x;
        }
        for &k in keys.iter() {
            let d = ((k >> (p * BITS)) as usize) & (BUCKETS - 1);
            buf[offsets[d]] = k;
            offsets[d] += 1;
        }
        std::mem::swap(keys, &mut buf);
    }
}

/// Distinct values in a sorted slice.
pub fn n_unique(sorted: &[f64]) -> usize {
    if sorted.is_empty() {
        return 0;
    }
    1 + sorted.windows(2).filter(|w| w[0] != w[1]).count()
}

/// What one pass over two sorted samples gives: the two-sample KS statistic (SciPy's `ks_2samp`), the
/// Wasserstein-1 distance (SciPy's `wasserstein_distance`) and the distinct values of both together.
#[derive(Debug, Clone, Copy)]
pub struct MergeStats {
    pub ks_statistic: f64,
    pub wasserstein: f64,
    pub n_unique_union: usize,
}

pub fn merge_stats(a: &[f64], b: &[f64]) -> MergeStats {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut max_d, mut min_d) = (f64::NEG_INFINITY, f64::INFINITY);
    let mut w = 0.0;
    let mut unique = 0usize;
    while i < a.len() || j < b.len() {
        let x = match (a.get(i), b.get(j)) {
            (Some(&p), Some(&q)) => p.min(q),
            (Some(&p), None) => p,
            (None, Some(&q)) => q,
            (None, None) => unreachable!(),
        };
        while i < a.len() && a[i] == x {
            i += 1;
        }
        while j < b.len() && b[j] == x {
            j += 1;
        }
        unique += 1;
        // SciPy: searchsorted(side='right') / n, then the difference.
        let d = i as f64 / na - j as f64 / nb;
        max_d = max_d.max(d);
        min_d = min_d.min(d);
        let next = match (a.get(i), b.get(j)) {
            (Some(&p), Some(&q)) => Some(p.min(q)),
            (Some(&p), None) => Some(p),
            (None, Some(&q)) => Some(q),
            (None, None) => None,
        };
        if let Some(y) = next {
            w += d.abs() * (y - x);
        }
    }
    let min_s = (-min_d).clamp(0.0, 1.0);
    let ks_statistic = if min_s > max_d { min_s } else { max_d };
    MergeStats {
        ks_statistic,
        wasserstein: w,
        n_unique_union: unique,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_matches_a_comparison_sort() {
        let mut x: Vec<f64> = (0..10_000)
            .map(|i| ((i * 7919) % 10_007) as f64 * 1.5 - 7000.0)
            .collect();
        x.extend([0.0, 1e-300, -1e-300, 1e300, -1e300]);
        let mut want = x.clone();
        want.sort_by(f64::total_cmp);
        sort(&mut x);
        assert_eq!(x, want);
    }

    #[test]
    fn merge_stats_of_small_samples() {
        // scipy: ks_2samp([0,1,3],[5,6,8]).statistic = 1.0; wasserstein_distance = 5.0
        let m = merge_stats(&[0.0, 1.0, 3.0], &[5.0, 6.0, 8.0]);
        assert_eq!(m.ks_statistic, 1.0);
        assert!((m.wasserstein - 5.0).abs() < 1e-12);
        assert_eq!(m.n_unique_union, 6);
        let m = merge_stats(&[1.0, 2.0, 2.0], &[2.0, 3.0]);
        assert!((m.ks_statistic - 0.5).abs() < 1e-15);
    }
}
