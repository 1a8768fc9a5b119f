//! False-positive rates under no drift: reference and current drawn from the same distribution (seeded),
//! 200 trials per test, each trial one column of a wide table so one report runs them all. A p-value test
//! at α = 0.05 must reject within binomial tolerance of 5 %; Evidently's one-sample `chisquare` does not
//! (it treats the reference counts as exact, so on equal-size windows its statistic is about twice a χ²
//! and it rejects several times too often), while the two-sample test of homogeneity does. Distance tests
//! have thresholds, not levels: with large samples and no drift they must stay well below them.

use cairn_monitoring::{Column, Correction, DriftOptions, Table, drift_report};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TRIALS: usize = 200;
const ALPHA: f64 = 0.05;

/// 0.05 ± 3 binomial standard deviations over 200 trials: [0.0038, 0.0962].
fn tolerance() -> (f64, f64) {
    let sd = (ALPHA * (1.0 - ALPHA) / TRIALS as f64).sqrt();
    ((ALPHA - 3.0 * sd).max(0.0), ALPHA + 3.0 * sd)
}

fn normal(rng: &mut StdRng) -> f64 {
    // Box–Muller; 1 - u keeps the logarithm finite.
    let (u, v): (f64, f64) = (rng.random(), rng.random());
    (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// `draw(rng)` for every row: reference and current tables of `TRIALS` columns from one distribution.
fn tables(
    seed: u64,
    n_ref: usize,
    n_cur: usize,
    column: impl Fn(String, &mut StdRng, usize) -> Column,
) -> (Table, Table) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut make = |n| {
        Table::new(
            (0..TRIALS)
                .map(|i| column(format!("t{i:03}"), &mut rng, n))
                .collect(),
        )
    };
    let reference = make(n_ref);
    (reference, make(n_cur))
}

fn numeric(name: String, rng: &mut StdRng, n: usize) -> Column {
    Column::numeric(name, (0..n).map(|_| normal(rng)).collect())
}

/// Levels drawn with the given probabilities (labels `a`, `b`, …).
fn levels(probs: &'static [f64]) -> impl Fn(String, &mut StdRng, usize) -> Column {
    move |name, rng, n| {
        let labels: Vec<String> = (0..probs.len())
            .map(|i| char::from(b'a' + i as u8).to_string())
            .collect();
        let draw = |rng: &mut StdRng| {
            let u: f64 = rng.random();
            let mut acc = 0.0;
            for (p, l) in probs.iter().zip(&labels) {
                acc += p;
                if u < acc {
                    return l.as_str();
                }
            }
            labels[labels.len() - 1].as_str()
        };
        let values: Vec<Option<&str>> = (0..n).map(|_| Some(draw(rng))).collect();
        Column::categorical(name, values)
    }
}

/// Share of the trials (columns) the method flags at its default threshold (α = 0.05).
fn rejection_rate(reference: &Table, current: &Table, method: &str) -> f64 {
    let opts = DriftOptions {
        method: Some(method.into()),
        ..DriftOptions::default()
    };
    let report = drift_report(reference, current, &opts).unwrap();
    assert_eq!(report.columns.len(), TRIALS);
    assert!(report.columns.iter().all(|c| c.method == method));
    assert!(report.columns.iter().all(|c| c.threshold == ALPHA));
    report.dataset.drifted_columns as f64 / TRIALS as f64
}

fn assert_nominal(rate: f64, what: &str) {
    let (lo, hi) = tolerance();
    assert!(
        (lo..=hi).contains(&rate),
        "{what}: false-positive rate {rate:.3} outside [{lo:.4}, {hi:.4}] at α = {ALPHA}"
    );
}

const FOUR_LEVELS: &[f64] = &[0.4, 0.3, 0.2, 0.1];

#[test]
fn ks_exact_rejects_at_the_nominal_rate() {
    let (r, c) = tables(1, 400, 300, numeric);
    assert_nominal(rejection_rate(&r, &c, "ks"), "ks (exact, 400 vs 300)");
    let (r, c) = tables(2, 500, 500, numeric);
    assert_nominal(rejection_rate(&r, &c, "ks"), "ks (exact, 500 vs 500)");
}

#[test]
fn ks_asymptotic_rejects_at_the_nominal_rate() {
    // Past SciPy's 10 000-value limit for the exact method.
    let (r, c) = tables(3, 12_000, 10_500, numeric);
    assert_nominal(rejection_rate(&r, &c, "ks"), "ks (asymptotic)");
}

#[test]
fn two_sample_chisquare_rejects_at_the_nominal_rate() {
    let (r, c) = tables(4, 1000, 1000, levels(FOUR_LEVELS));
    assert_nominal(
        rejection_rate(&r, &c, "chisquare_2sample"),
        "chisquare_2sample (equal sizes)",
    );
    let (r, c) = tables(5, 2000, 500, levels(FOUR_LEVELS));
    assert_nominal(
        rejection_rate(&r, &c, "chisquare_2sample"),
        "chisquare_2sample (4:1 sizes)",
    );
}

#[test]
fn z_test_rejects_at_the_nominal_rate() {
    let (r, c) = tables(6, 1000, 1000, levels(&[0.3, 0.7]));
    assert_nominal(rejection_rate(&r, &c, "z"), "z");
}

/// Evidently's `chisquare` on equal-size windows: the statistic is about 2·χ²(3) under no drift, so it
/// rejects about P(χ²(3) > 7.81 / 2) ≈ 27 % of the time; the two-sample test on the same data stays at 5 %.
#[test]
fn evidently_chisquare_rejects_far_too_often_where_the_two_sample_test_does_not() {
    let (r, c) = tables(7, 1000, 1000, levels(FOUR_LEVELS));
    let evidently = rejection_rate(&r, &c, "chisquare");
    let ours = rejection_rate(&r, &c, "chisquare_2sample");
    assert!(
        evidently > 0.15,
        "Evidently's chisquare should reject far above 5 % under no drift, got {evidently:.3}"
    );
    assert_nominal(ours, "chisquare_2sample on the same data");
    assert!(evidently > 3.0 * ours, "{evidently:.3} vs {ours:.3}");
}

/// The dataset verdict under a correction: with 20 columns and no drift, Bonferroni keeps the chance of
/// any false alarm (family-wise) at or under α, where 20 independent tests at 5 % would alarm 64 % of
/// the time.
#[test]
fn bonferroni_keeps_dataset_false_alarms_at_alpha() {
    let mut rng = StdRng::seed_from_u64(8);
    let mut alarms = 0;
    for _ in 0..TRIALS {
        let mut make = |n| {
            Table::new(
                (0..20)
                    .map(|i| numeric(format!("f{i:02}"), &mut rng, n))
                    .collect(),
            )
        };
        let (r, c) = (make(300), make(300));
        let opts = DriftOptions {
            method: Some("ks".into()),
            correction: Some(Correction::Bonferroni),
            threads: 1,
            ..DriftOptions::default()
        };
        alarms += usize::from(drift_report(&r, &c, &opts).unwrap().dataset.drifted);
    }
    let rate = alarms as f64 / TRIALS as f64;
    let (_, hi) = tolerance();
    assert!(
        rate <= hi,
        "family-wise false-alarm rate {rate:.3} above {hi:.4}"
    );
}

/// Distance tests under no drift with large samples: every score far below the default threshold 0.1
/// (and the same tests do flag a shift, so the check has teeth).
#[test]
fn distance_tests_do_not_flag_same_distribution_data_at_scale() {
    const N: usize = 50_000;
    let mut rng = StdRng::seed_from_u64(9);
    let column = |name: &str, shift: f64, scale: f64, rng: &mut StdRng| {
        Column::numeric(name, (0..N).map(|_| shift + scale * normal(rng)).collect())
    };
    let reference = Table::new(vec![
        column("same", 0.0, 1.0, &mut rng),
        column("shifted", 0.0, 1.0, &mut rng),
    ]);
    let current = Table::new(vec![
        column("same", 0.0, 1.0, &mut rng),
        column("shifted", 0.5, 1.0, &mut rng),
    ]);
    let cat = levels(&[0.5, 0.3, 0.15, 0.05]);
    let (cat_r, cat_c) = (cat("c".into(), &mut rng, N), cat("c".into(), &mut rng, N));
    for method in ["wasserstein", "psi", "jensenshannon"] {
        let opts = DriftOptions {
            method: Some(method.into()),
            ..DriftOptions::default()
        };
        let report = drift_report(&reference, &current, &opts).unwrap();
        let same = report.column("same").unwrap();
        assert!(
            !same.drifted && same.score < same.threshold / 4.0,
            "{method} flags same-distribution data: score {} (threshold {})",
            same.score,
            same.threshold
        );
        assert!(
            report.column("shifted").unwrap().drifted,
            "{method} misses a 0.5 sd shift"
        );
        if method != "wasserstein" {
            let (r, c) = (
                Table::new(vec![cat_r.clone()]),
                Table::new(vec![cat_c.clone()]),
            );
            let col = &drift_report(&r, &c, &opts).unwrap().columns[0];
            assert!(
                !col.drifted && col.score < col.threshold / 4.0,
                "{method} flags same-distribution categories: score {}",
                col.score
            );
        }
    }
}
