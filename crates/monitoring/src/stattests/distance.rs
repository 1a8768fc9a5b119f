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

/// numpy's `std(ddof=0)` (two-pass).
pub fn std_ddof0(x: &[f64]) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    let n = x.len() as f64;
    let mean = pairwise_sum(x) / n;
    let sq: Vec<f64> = Vec::new();
    drop(sq);
    let mut acc = 0.0;
    let mut comp = 0.0;
    for &v in x {
        // Kahan: keeps a million-term sum within a few ulps, as numpy's pairwise sum does.
        let d = (v - mean) * (v - mean) - comp;
        let t = acc + d;
        comp = (t - acc) - d;
        acc = t;
    }
    (acc / n).sqrt()
}

/// Summation with error like numpy's pairwise sum (Kahan-compensated).
pub fn pairwise_sum(x: &[f64]) -> f64 {
    let mut acc = 0.0;
    let mut comp = 0.0;
    for &v in x {
        let d = v - comp;
        let t = acc + d;
        comp = (t - acc) - d;
        acc = t;
    }
    acc
}
