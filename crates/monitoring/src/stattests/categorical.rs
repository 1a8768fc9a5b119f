//! Tests on counts: Evidently's `chisquare` (SciPy's one-sample `chisquare(cur, ref * n_cur / n_ref)`,
//! which treats the reference as exact and so rejects too often), Evidently's `z` (two-proportion z-test
//! on the first level against the rest), and the two-sample chi² test of homogeneity that treats both
//! windows as samples.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

use super::binning::Binned;

fn chi2_sf(stat: f64, df: usize) -> f64 {
    if df == 0 {
        return 1.0; // a single level cannot differ
    }
    if stat.is_nan() {
        return f64::NAN;
    }
    if stat == f64::INFINITY {
        return 0.0;
    }
    ChiSquared::new(df as f64).map_or(f64::NAN, |d| d.sf(stat))
}

/// Evidently's `chisquare`: p-value of SciPy's one-sample chi² with expected = reference counts scaled to
/// the current size. A level absent from the reference gives an infinite statistic (p = 0), as in SciPy.
pub fn chisquare_one_sample(b: &Binned) -> f64 {
    let k_norm = b.n_current() as f64 / b.n_reference() as f64;
    let stat: f64 = b
        .reference
        .iter()
        .zip(&b.current)
        .map(|(&r, &c)| {
            let exp = r as f64 * k_norm;
            let d = c as f64 - exp;
            d * d / exp
        })
        .sum();
    chi2_sf(stat, b.labels.len().saturating_sub(1))
}

/// Two-sample chi² test of homogeneity on the 2 × k table (no continuity correction); bins empty in both
/// windows are left out.
pub fn chisquare_two_sample(b: &Binned) -> f64 {
    let (nr, nc) = (b.n_reference() as f64, b.n_current() as f64);
    let n = nr + nc;
    let mut stat = 0.0;
    let mut k = 0usize;
    for (&r, &c) in b.reference.iter().zip(&b.current) {
        let col = (r + c) as f64;
        if col == 0.0 {
            continue;
        }
        k += 1;
        let (er, ec) = (nr * col / n, nc * col / n);
        stat += (r as f64 - er).powi(2) / er + (c as f64 - ec).powi(2) / ec;
    }
    chi2_sf(stat, k.saturating_sub(1))
}

/// Evidently's `z`: the first level (in sorted order) against all others, two-sided,
/// `2 (1 - Φ(|z|))`; 1 when both windows hold the one same value.
pub fn z_test(b: &Binned) -> f64 {
    let present_ref = b.reference.iter().filter(|&&x| x > 0).count();
    let present_cur = b.current.iter().filter(|&&x| x > 0).count();
    if present_ref == 1
        && present_cur == 1
        && b.reference
            .iter()
            .zip(&b.current)
            .any(|(&r, &c)| r > 0 && c > 0)
    {
        return 1.0;
    }
    let (n1, n2) = (b.n_reference() as f64, b.n_current() as f64);
    let p1 = (b.n_reference() - b.reference[0]) as f64 / n1;
    let p2 = (b.n_current() - b.current[0]) as f64 / n2;
    let p = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (p * (1.0 - p) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let phi = Normal::standard().cdf(z.abs());
    2.0 * (1.0 - phi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(r: &[u64], c: &[u64]) -> Binned {
        Binned {
            edges: None,
            labels: (0..r.len()).map(|i| i.to_string()).collect(),
            reference: r.to_vec(),
            current: c.to_vec(),
        }
    }

    // scipy 1.17.1 values.
    #[test]
    fn match_scipy() {
        let b = levels(&[500, 300, 200], &[450, 330, 220]);
        let close = |a: f64, b: f64| ((a - b) / b).abs() < 1e-9;
        // scipy.stats.chisquare([450,330,220], [500,300,200]).pvalue
        assert!(
            close(chisquare_one_sample(&b), 0.006737946999085468),
            "{}",
            chisquare_one_sample(&b)
        );
        // scipy.stats.chi2_contingency([[500,300,200],[450,330,220]], correction=False).pvalue
        assert!(
            close(chisquare_two_sample(&b), 0.08157228949885938),
            "{}",
            chisquare_two_sample(&b)
        );
        let z = levels(&[600, 400], &[550, 450]);
        // Evidently 0.7.23: _z_stat_test on the same counts
        assert!(close(z_test(&z), 0.023718642632191367), "{}", z_test(&z));
    }
}
