//! Every numeric column of `tests/fixtures/drift/reference_values_numeric.json` (computed with SciPy and
//! Evidently 0.7.23 on data from `drift_data.py`) reproduced to 1e-9 relative. The CSVs are generated at
//! test time by the fixture's own generator with the project venv's Python (`scripts/python-env.sh`;
//! `CAIRN_PYTHON` overrides the interpreter).

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_monitoring::sorted::{finite_sorted, merge_stats};
use cairn_monitoring::stattests::binning::Binned;
use cairn_monitoring::stattests::distance::{jensenshannon, psi};
use cairn_monitoring::stattests::ks::{KsMethod, ks_2samp_pvalue};
use cairn_monitoring::{DriftOptions, Table, Values, drift_report};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The shared drift fixtures, vendored beside the tests (`tests/fixtures/drift`, a copy of the round's
/// `shared/fixtures/drift`), so that a clean clone anywhere runs them.
fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drift")
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("CAIRN_PYTHON") {
        return p.into();
    }
    let venv = std::env::var_os("CAIRN_VENV").map_or_else(|| repo().join(".venv"), PathBuf::from);
    venv.join("bin/python")
}

/// Writes `reference.csv` and `current.csv` (10 000 rows × 20 numeric columns) into `dir`.
fn generate(dir: &Path) {
    let script = format!(
        "import sys; sys.path.insert(0, {fx:?}); import drift_data as d\n\
         r, c = d.make_pair(10000, 20, 0, d.DEFAULT_SEED)\n\
         r.to_csv({r:?}, index=False); c.to_csv({c:?}, index=False)",
        fx = fixture_dir().display().to_string(),
        r = dir.join("reference.csv").display().to_string(),
        c = dir.join("current.csv").display().to_string(),
    );
    let py = python();
    let out = Command::new(&py).arg("-c").arg(&script).output().unwrap_or_else(|e| {
        panic!("cannot run {} ({e}): run scripts/python-env.sh or set CAIRN_PYTHON to a Python with numpy+pandas", py.display())
    });
    assert!(
        out.status.success(),
        "drift_data.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn close(got: f64, want: f64, what: &str) {
    let rel = if want == 0.0 {
        got.abs()
    } else {
        ((got - want) / want).abs()
    };
    assert!(
        rel <= 1e-9,
        "{what}: got {got:e}, want {want:e} (relative error {rel:e})"
    );
}

fn numbers(t: &Table, name: &str) -> Vec<f64> {
    match &t.column(name).unwrap().values {
        Values::Numeric(v) => v.clone(),
        Values::Categorical(_) => panic!("{name} should be numeric"),
    }
}

/// The fixture's q10 bins: interior edges = reference deciles; bin = number of edges <= x.
fn q10(reference: &[f64], current: &[f64], edges: &[f64]) -> Binned {
    let count = |xs: &[f64]| {
        let mut c = vec![0u64; edges.len() + 1];
        xs.iter()
            .for_each(|x| c[edges.partition_point(|e| e <= x)] += 1);
        c
    };
    Binned {
        edges: None,
        labels: vec![String::new(); edges.len() + 1],
        reference: count(reference),
        current: count(current),
    }
}

#[test]
fn numeric_fixture_values_match_scipy_and_evidently() {
    let fx: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture_dir().join("reference_values_numeric.json")).unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let reference = Table::read_path(&dir.path().join("reference.csv")).unwrap();
    let current = Table::read_path(&dir.path().join("current.csv")).unwrap();
    let features = fx["features"].as_object().unwrap();
    assert_eq!(features.len(), 20);

    let mut per_method = std::collections::HashMap::new();
    for m in ["ks", "wasserstein", "psi", "jensenshannon"] {
        let opts = DriftOptions {
            method: Some(m.into()),
            ..DriftOptions::default()
        };
        per_method.insert(m, drift_report(&reference, &current, &opts).unwrap());
    }
    let default = drift_report(&reference, &current, &DriftOptions::default()).unwrap();

    for (name, f) in features {
        let num = |k: &str| f[k].as_f64().unwrap_or_else(|| panic!("{name}.{k}"));
        let (r, c) = (
            finite_sorted(&numbers(&reference, name)),
            finite_sorted(&numbers(&current, name)),
        );
        let m = merge_stats(&r, &c);
        let auto = ks_2samp_pvalue(m.ks_statistic, r.len(), c.len(), KsMethod::Auto);
        close(
            auto.statistic,
            num("ks_statistic"),
            &format!("{name} ks_statistic"),
        );
        close(
            auto.p_value,
            num("ks_pvalue_auto"),
            &format!("{name} ks_pvalue_auto"),
        );
        let asymp = ks_2samp_pvalue(m.ks_statistic, r.len(), c.len(), KsMethod::Asymp);
        close(
            asymp.p_value,
            num("ks_pvalue_asymp"),
            &format!("{name} ks_pvalue_asymp"),
        );
        close(
            m.wasserstein,
            num("wasserstein"),
            &format!("{name} wasserstein"),
        );
        let edges: Vec<f64> = f["q10_edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let b = q10(&r, &c, &edges);
        let counts = |k: &str| {
            f[k].as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            b.reference,
            counts("q10_ref_counts"),
            "{name} q10 reference counts"
        );
        assert_eq!(
            b.current,
            counts("q10_cur_counts"),
            "{name} q10 current counts"
        );
        close(psi(&b), num("psi_q10"), &format!("{name} psi_q10"));
        close(jensenshannon(&b), num("js_q10"), &format!("{name} js_q10"));

        for (m, report) in &per_method {
            let want = &f[format!("evidently_{m}")];
            let col = report.column(name).unwrap();
            assert_eq!(col.method, *m);
            close(
                col.score,
                want["score"].as_f64().unwrap(),
                &format!("{name} evidently_{m}"),
            );
            assert_eq!(
                col.drifted,
                want["drift"].as_bool().unwrap(),
                "{name} evidently_{m} drift"
            );
            assert_eq!(
                col.threshold,
                want["threshold"].as_f64().unwrap(),
                "{name} evidently_{m} threshold"
            );
        }
        let want = &f["evidently_default"];
        let col = default.column(name).unwrap();
        assert_eq!(
            col.method,
            want["method"].as_str().unwrap(),
            "{name} default method"
        );
        assert_eq!(
            col.stattest_name,
            want["display_name"].as_str().unwrap(),
            "{name} display name"
        );
        close(
            col.score,
            want["score"].as_f64().unwrap(),
            &format!("{name} evidently_default"),
        );
        assert_eq!(
            col.drifted,
            want["drift"].as_bool().unwrap(),
            "{name} default drift"
        );
        close(
            col.score,
            num("wasserstein_normed"),
            &format!("{name} wasserstein_normed"),
        );
    }
    let s = &fx["dataset_summary"];
    assert_eq!(
        default.dataset.columns,
        s["n_columns"].as_u64().unwrap() as usize
    );
    assert_eq!(
        default.dataset.drifted_columns,
        s["evidently_default_drifted"].as_u64().unwrap() as usize
    );
    assert_eq!(default.dataset.share, s["share"].as_f64().unwrap());
    assert_eq!(
        default.dataset.drifted,
        s["dataset_drift(share>=0.5)"].as_bool().unwrap()
    );
}
