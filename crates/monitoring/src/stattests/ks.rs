//! SciPy's two-sample Kolmogorov–Smirnov p-value (`ks_2samp`, two-sided): `method='auto'` is exact when
//! both samples have at most 10 000 values (Hodges' lattice-path counts, as SciPy computes them), else
//! the asymptotic `kstwo.sf(d, round(m n / (m + n)))`.

use super::kolmogorov::kolmogn_sf;

/// Largest sample for which `auto` computes the exact p-value (SciPy's `MAX_AUTO_N`).
pub const MAX_AUTO_N: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KsMethod {
    Auto,
    Exact,
    Asymp,
}

#[derive(Debug, Clone, Copy)]
pub struct Ks {
    /// As SciPy returns it: rounded to the lattice (`h / lcm`) when the exact method ran.
    pub statistic: f64,
    pub p_value: f64,
}

/// The p-value for statistic `d` (from [`crate::sorted::merge_stats`]) of samples sized `n1`, `n2`.
pub fn ks_2samp_pvalue(d: f64, n1: usize, n2: usize, method: KsMethod) -> Ks {
    let mut d = d;
    let exact = match method {
        KsMethod::Auto => n1.max(n2) <= MAX_AUTO_N,
        KsMethod::Exact => {
            let g = gcd(n1, n2);
            ((n1 / g) as f64) < (i32::MAX as f64) / ((n2 / g) as f64)
        }
        KsMethod::Asymp => false,
    };
    if exact {
        let (ok, dd, p) = attempt_exact(n1, n2, d);
        d = dd;
        if ok {
            return Ks {
                statistic: d,
                p_value: p.clamp(0.0, 1.0),
            };
        }
    }
    let (m, n) = if n1 >= n2 {
        (n1 as f64, n2 as f64)
    } else {
        (n2 as f64, n1 as f64)
    };
    let en = m * n / (m + n);
    let p = kolmogn_sf(en.round_ties_even() as u64, d);
    Ks {
        statistic: d,
        p_value: p.clamp(0.0, 1.0),
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// SciPy's `_attempt_exact_2kssamp` (two-sided): (success, d on the lattice, p).
fn attempt_exact(n1: usize, n2: usize, d: f64) -> (bool, f64, f64) {
    let g = gcd(n1, n2);
    let lcm = (n1 / g) as u64 * n2 as u64;
    let h = (d * lcm as f64).round_ties_even() as u64;
    let d = h as f64 / lcm as f64;
    if h == 0 {
        return (true, d, 1.0);
    }
    let p = if n1 == n2 {
        prob_outside_square(n1 as u64, h)
    } else {
        outer_prob_inside(n1 as u64, n2 as u64, g as u64, h)
    };
    if !(0.0..=1.0).contains(&p) || !p.is_finite() {
        return (false, d, p);
    }
    (true, d, p)
}

/// `Pr(D_{n,n} >= h/n)` by SciPy's Horner-like alternating sum.
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let mut p = 0.0;
    let (n, h) = (n as i64, h as i64);
    let mut k = n / h;
    while k >= 0 {
        let mut p1 = 1.0;
        for j in 0..h {
            p1 = (n - k * h - j) as f64 * p1 / (n + k * h + j + 1) as f64;
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// `1 - Pr(paths stay strictly inside |x/m - y/n| < h/lcm)`, Viehmann's stable recursion as SciPy has it.
fn outer_prob_inside(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n {
        (n as i64, m as i64)
    } else {
        (m as i64, n as i64)
    };
    let (g, h) = (g as i64, h as i64);
    let mg = m / g;
    let ng = n / g;
    let mut minj: i64 = 0;
    let mut maxj: i64 = ((h as f64 / mg as f64).ceil() as i64).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len_a];
    a[minj as usize..maxj as usize]
        .iter_mut()
        .for_each(|x| *x = 0.0);
    for i in 1..=m {
        let (lastminj, lastlen) = (minj, curlen);
        minj = ((((ng * i - h) as f64 / mg as f64).floor() as i64) + 1).max(0);
        minj = minj.min(n);
        maxj = (((ng * i + h) as f64 / mg as f64).ceil() as i64).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            val = (a[(jj + minj - lastminj) as usize] * i as f64 + val * j as f64) / (i + j) as f64;
            a[jj as usize] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let from = (maxj - minj) as usize;
            let to = (from + (lastlen - curlen) as usize).min(a.len());
            a[from..to].iter_mut().for_each(|x| *x = 1.0);
        }
    }
    a[(maxj - minj - 1) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    // scipy 1.17.1: ks_2samp p-values for given (d, n1, n2).
    #[test]
    fn exact_and_asymptotic_match_scipy() {
        let cases = [
            (0.3, 20, 20, KsMethod::Auto, 0.33559098126008213),
            (0.25, 40, 60, KsMethod::Auto, 0.08833076749129548),
            (0.1, 300, 200, KsMethod::Auto, 0.17313583335670987),
            (0.0185, 10_000, 10_000, KsMethod::Asymp, 0.06445237012374239),
        ];
        for (d, n1, n2, m, want) in cases {
            let got = ks_2samp_pvalue(d, n1, n2, m).p_value;
            assert!(
                ((got - want) / want).abs() < 1e-9,
                "d={d} n1={n1} n2={n2}: {got} vs {want}"
            );
        }
    }
}
