//! Evidently's distance tests over [`Binned`] counts: PSI (zero proportions filled as Evidently fills
//! them) and the Jensen–Shannon distance (SciPy's, natural log, no filling). Normed Wasserstein needs the
//! raw samples and lives in [`crate::sorted::merge_stats`] plus [`wasserstein_normed`].

use super::binning::Binned;

fn proportions(counts: &[u64], n: u64) -> Vec<f64> {
    counts.iter().map(|&c| c as f64 / n as f64).collect()
}

/// Evidently's `feel_zeroes`: zeros become min(non-zero)/1e6 when that minimum is <= 1e-4, else 1e-4.
fn fill_zeros(p: &mut [f64]) {
    let min = p
        .iter()
        .copied()
        .filter(|&x| x != 0.0)
        .fold(f64::INFINITY, f64::min);
    if !min.is_finite() {
        return;
    }
    let fill = if min <= 0.0001 { min / 1e6 } else { 0.0001 };
    p.iter_mut().filter(|x| **x == 0.0).for_each(|x| *x = fill);
}

/// Population Stability Index: `sum (r - c) ln(r / c)`.
pub fn psi(b: &Binned) -> f64 {
    let mut r = proportions(&b.reference, b.n_reference());
    let mut c = proportions(&b.current, b.n_current());
    fill_zeros(&mut r);
    fill_zeros(&mut c);
    r.iter().zip(&c).map(|(r, c)| (r - c) * (r / c).ln()).sum()
}

/// `scipy.spatial.distance.jensenshannon(r, c)` (base e): the square root of the JS divergence.
pub fn jensenshannon(b: &Binned) -> f64 {
    let r = proportions(&b.reference, b.n_reference());
    let c = proportions(&b.current, b.n_current());
    let (sr, sc): (f64, f64) = (r.iter().sum(), c.iter().sum());
    let mut left = 0.0;
    let mut right = 0.0;
    for (r, c) in r.iter().zip(&c) {
        let (p, q) = (r / sr, c / sc);
        let m = (p + q) / 2.0;
        left += rel_entr(p, m);
        right += rel_entr(q, m);
    }
    ((left + right) / 2.0).sqrt()
}

/// `scipy.special.rel_entr`.
fn rel_entr(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// Evidently's normed Wasserstein: `W1 / max(std(ref, ddof=0), 0.001)`.
pub fn wasserstein_normed(w1: f64, reference: &[f64]) -> f64 {
    w1 / std_ddof0(reference).max(0.001)
}

/// numpy's `std(ddof=0)`: the mean, then the mean squared deviation, each summed as numpy sums.
pub fn std_ddof0(x: &[f64]) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    let n = x.len() as f64;
    let mean = pairwise_sum(x) / n;
    (pairwise_sum_of(x, |v| (v - mean) * (v - mean)) / n).sqrt()
}

/// numpy's pairwise summation (`pairwise_sum_DOUBLE`): blocks of at most 128 values summed with 8
/// accumulators, longer runs halved recursively. Its error grows as O(log n) ulps, like numpy's, and the
/// 8 independent accumulators vectorize (a compensated sum is one long dependency chain).
pub fn pairwise_sum(x: &[f64]) -> f64 {
    pairwise_sum_of(x, |v| v)
}

fn pairwise_sum_of(x: &[f64], f: impl Fn(f64) -> f64 + Copy) -> f64 {
    const BLOCK: usize = 128;
    let n = x.len();
    if n < 8 {
        x.iter().fold(0.0, |acc, &v| acc + f(v))
    } else if n <= BLOCK {
        let mut r = [0.0; 8];
        r.iter_mut().zip(&x[..8]).for_each(|(r, &v)| *r = f(v));
        let whole = n - n % 8;
        for chunk in x[8..whole].chunks_exact(8) {
            r.iter_mut().zip(chunk).for_each(|(r, &v)| *r += f(v));
        }
        let mut sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        x[whole..].iter().for_each(|&v| sum += f(v));
        sum
    } else {
        let half = n / 2;
        let half = half - half % 8;
        pairwise_sum_of(&x[..half], f) + pairwise_sum_of(&x[half..], f)
    }
}
