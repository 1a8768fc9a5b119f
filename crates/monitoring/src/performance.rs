//! Model performance once labels arrive: classification (accuracy, precision, recall, F1 — the positive
//! class for two classes, macro averages for more — ROC AUC and log loss from scores, the confusion
//! matrix) and regression (MAE, RMSE, MAPE, R²), with scikit-learn's definitions. Callers join logged
//! predictions with their delayed labels and pass aligned slices.

use serde::{Deserialize, Serialize};

use crate::InputError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    pub count: usize,
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// `binary` (the positive class's figures) or `macro` (the unweighted mean over classes).
    pub average: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positive_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roc_auc: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_loss: Option<f64>,
    /// Sorted class labels; `confusion_matrix[i][j]` counts true `labels[i]` predicted as `labels[j]`.
    pub labels: Vec<String>,
    pub confusion_matrix: Vec<Vec<u64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    pub count: usize,
    pub mae: f64,
    pub rmse: f64,
    /// scikit-learn's MAPE: a fraction (not %), `|y - ŷ| / max(|y|, ε)`.
    pub mape: f64,
    pub r2: f64,
}

/// Scores for ROC AUC and log loss.
#[derive(Debug, Clone, Copy)]
pub enum Scores<'a> {
    /// Two classes: the probability of the positive class, one a row.
    Positive(&'a [f64]),
    /// Any number of classes: one probability vector a row, in `classes` order.
    PerClass {
        classes: &'a [String],
        probabilities: &'a [Vec<f64>],
    },
}

fn bad(reason: impl Into<String>) -> InputError {
    InputError::Malformed {
        what: "performance input".into(),
        reason: reason.into(),
    }
}

/// Classification metrics of `predicted` against `actual`. `positive` names the positive class for two
/// classes (default: `1`, `true` or `True` when present, else the second label in sorted order).
pub fn classification<S: AsRef<str>>(
    actual: &[S],
    predicted: &[S],
    scores: Option<Scores<'_>>,
    positive: Option<&str>,
) -> Result<ClassificationMetrics, InputError> {
    if actual.len() != predicted.len() {
        return Err(bad(format!(
            "{} labels but {} predictions",
            actual.len(),
            predicted.len()
        )));
    }
    if actual.is_empty() {
        return Err(bad("no labelled predictions in the window"));
    }
    let mut labels: Vec<String> = actual
        .iter()
        .chain(predicted)
        .map(|s| s.as_ref().to_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if let Some(p) = positive
        && !labels.iter().any(|l| l == p)
    {
        labels.push(p.to_owned());
        labels.sort();
    }
    let idx = |s: &str| labels.binary_search_by(|l| l.as_str().cmp(s)).unwrap_or(0);
    let k = labels.len();
    let mut cm = vec![vec![0u64; k]; k];
    for (a, p) in actual.iter().zip(predicted) {
        cm[idx(a.as_ref())][idx(p.as_ref())] += 1;
    }
    let n = actual.len();
    let correct: u64 = (0..k).map(|i| cm[i][i]).sum();
    let per_class = |c: usize| {
        let tp = cm[c][c] as f64;
        let predicted_c: u64 = (0..k).map(|i| cm[i][c]).sum();
        let actual_c: u64 = cm[c].iter().sum();
        let precision = if predicted_c == 0 {
            0.0
        } else {
            tp / predicted_c as f64
        };
        let recall = if actual_c == 0 {
            0.0
        } else {
            tp / actual_c as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        (precision, recall, f1)
    };
    let binary = k <= 2;
    let (precision, recall, f1, positive_label) = if binary {
        let pos = positive.map(str::to_owned).unwrap_or_else(|| {
            ["1", "true", "True", "1.0"]
                .iter()
                .find(|c| labels.iter().any(|l| l == *c))
                .map(|c| (*c).to_owned())
                .unwrap_or_else(|| labels[k - 1].clone())
        });
        let (p, r, f) = per_class(idx(&pos));
        (p, r, f, Some(pos))
    } else {
        let all: Vec<_> = (0..k).map(per_class).collect();
        let mean = |f: fn(&(f64, f64, f64)) -> f64| all.iter().map(f).sum::<f64>() / k as f64;
        (mean(|x| x.0), mean(|x| x.1), mean(|x| x.2), None)
    };
    let (roc_auc, log_loss) = match scores {
        None => (None, None),
        Some(s) => score_metrics(actual, s, positive_label.as_deref())?,
    };
    Ok(ClassificationMetrics {
        count: n,
        accuracy: correct as f64 / n as f64,
        precision,
        recall,
        f1,
        average: if binary { "binary" } else { "macro" }.into(),
        positive_label,
        roc_auc,
        log_loss,
        labels,
        confusion_matrix: cm,
    })
}

fn score_metrics<S: AsRef<str>>(
    actual: &[S],
    scores: Scores<'_>,
    positive: Option<&str>,
) -> Result<(Option<f64>, Option<f64>), InputError> {
    let eps = f64::EPSILON;
    match scores {
        Scores::Positive(p) => {
            if p.len() != actual.len() {
                return Err(bad(format!(
                    "{} labels but {} scores",
                    actual.len(),
                    p.len()
                )));
            }
            let pos =
                positive.ok_or_else(|| bad("scores for a positive class need two classes"))?;
            let is_pos: Vec<bool> = actual.iter().map(|a| a.as_ref() == pos).collect();
            let ll = is_pos
                .iter()
                .zip(p)
                .map(|(&y, &q)| {
                    let q = q.clamp(eps, 1.0 - eps);
                    -(if y { q.ln() } else { (1.0 - q).ln() })
                })
                .sum::<f64>()
                / p.len() as f64;
            Ok((roc_auc(p, &is_pos), Some(ll)))
        }
        Scores::PerClass {
            classes,
            probabilities,
        } => {
            if probabilities.len() != actual.len() {
                return Err(bad(format!(
                    "{} labels but {} score rows",
                    actual.len(),
                    probabilities.len()
                )));
            }
            if probabilities.iter().any(|r| r.len() != classes.len()) {
                return Err(bad(format!(
                    "every score row needs {} probabilities",
                    classes.len()
                )));
            }
            let mut ll = 0.0;
            for (a, row) in actual.iter().zip(probabilities) {
                let j = classes
                    .iter()
                    .position(|c| c == a.as_ref())
                    .ok_or_else(|| {
                        bad(format!(
                            "label {:?} is not among the scored classes",
                            a.as_ref()
                        ))
                    })?;
                let total: f64 = row.iter().sum();
                ll -= (row[j] / total).clamp(eps, 1.0 - eps).ln();
            }
            let aucs: Vec<f64> = (0..classes.len())
                .filter_map(|j| {
                    let s: Vec<f64> = probabilities.iter().map(|r| r[j]).collect();
                    let y: Vec<bool> = actual.iter().map(|a| a.as_ref() == classes[j]).collect();
                    roc_auc(&s, &y)
                })
                .collect();
            let auc = if classes.len() == 2 {
                let j = positive
                    .and_then(|p| classes.iter().position(|c| c == p))
                    .unwrap_or(1);
                let s: Vec<f64> = probabilities.iter().map(|r| r[j]).collect();
                let y: Vec<bool> = actual.iter().map(|a| a.as_ref() == classes[j]).collect();
                roc_auc(&s, &y)
            } else if aucs.len() == classes.len() {
                Some(aucs.iter().sum::<f64>() / aucs.len() as f64) // one-vs-rest, macro
            } else {
                None
            };
            Ok((auc, Some(ll / actual.len() as f64)))
        }
    }
}

/// Area under the ROC curve by the rank-sum (ties share their mean rank); `None` with one class only.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mean_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += mean_rank * order[i..=j].iter().filter(|&&k| positive[k]).count() as f64;
        i = j + 1;
    }
    let np = n_pos as f64;
    Some((rank_sum - np * (np + 1.0) / 2.0) / (np * n_neg as f64))
}

/// Regression metrics; pairs where either value is NaN are left out.
pub fn regression(actual: &[f64], predicted: &[f64]) -> Result<RegressionMetrics, InputError> {
    if actual.len() != predicted.len() {
        return Err(bad(format!(
            "{} labels but {} predictions",
            actual.len(),
            predicted.len()
        )));
    }
    let pairs: Vec<(f64, f64)> = actual
        .iter()
        .zip(predicted)
        .filter(|(a, p)| !a.is_nan() && !p.is_nan())
        .map(|(a, p)| (*a, *p))
        .collect();
    if pairs.is_empty() {
        return Err(bad("no labelled predictions in the window"));
    }
    let n = pairs.len() as f64;
    let mae = pairs.iter().map(|(a, p)| (a - p).abs()).sum::<f64>() / n;
    let mse = pairs.iter().map(|(a, p)| (a - p).powi(2)).sum::<f64>() / n;
    let mape = pairs
        .iter()
        .map(|(a, p)| (a - p).abs() / a.abs().max(f64::EPSILON))
        .sum::<f64>()
        / n;
    let mean = pairs.iter().map(|(a, _)| a).sum::<f64>() / n;
    let ss_tot: f64 = pairs.iter().map(|(a, _)| (a - mean).powi(2)).sum();
    let ss_res = mse * n;
    // scikit-learn's force_finite: a constant target scores 1 when predicted exactly, else 0.
    let r2 = if ss_tot == 0.0 {
        if ss_res == 0.0 { 1.0 } else { 0.0 }
    } else {
        1.0 - ss_res / ss_tot
    };
    Ok(RegressionMetrics {
        count: pairs.len(),
        mae,
        rmse: mse.sqrt(),
        mape,
        r2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values by scikit-learn's definitions, computed independently in Python.
    #[test]
    fn binary_classification() {
        let y = ["0", "1", "1", "0", "1", "0", "1", "1"];
        let p = ["0", "1", "0", "0", "1", "1", "1", "1"];
        let s = [0.1, 0.9, 0.4, 0.2, 0.8, 0.6, 0.7, 0.95];
        let m = classification(&y, &p, Some(Scores::Positive(&s)), None).unwrap();
        assert_eq!(m.accuracy, 0.75);
        assert_eq!(m.precision, 0.8);
        assert_eq!(m.recall, 0.8);
        assert!((m.f1 - 0.8).abs() < 1e-12);
        assert_eq!(m.confusion_matrix, vec![vec![2, 1], vec![1, 4]]);
        assert!((m.roc_auc.unwrap() - 0.9333333333333333).abs() < 1e-12);
        assert!(
            (m.log_loss.unwrap() - 0.3621947295023331).abs() < 1e-12,
            "{:?}",
            m.log_loss
        );
    }

    #[test]
    fn multiclass_is_macro_averaged() {
        let y = ["a", "b", "c", "a", "b", "c"];
        let p = ["a", "b", "b", "a", "c", "c"];
        let m = classification(&y, &p, None, None).unwrap();
        assert_eq!(m.average, "macro");
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        assert!((m.precision - (1.0 + 0.5 + 0.5) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn regression_metrics() {
        let m = regression(&[3.0, -0.5, 2.0, 7.0], &[2.5, 0.0, 2.0, 8.0]).unwrap();
        assert!((m.mae - 0.5).abs() < 1e-12);
        assert!((m.rmse - 0.375f64.sqrt()).abs() < 1e-12);
        assert!((m.r2 - 0.9486081370449679).abs() < 1e-12);
        assert!((m.mape - 0.3273809523809524).abs() < 1e-12);
    }

    #[test]
    fn mismatched_or_empty_input_is_refused() {
        assert!(classification(&["a"], &["a", "b"], None, None).is_err());
        assert!(regression(&[], &[]).is_err());
    }
}
