//! Gate rules on the run's metrics: absolute (`accuracy >= 0.8`) and against the model behind an
//! alias (`cand >= base + min_delta`). A missing or NaN candidate metric fails; a comparison with no
//! baseline yet (no such alias, or its run lacks the metric) is skipped — passed, with the reason.

use std::collections::BTreeMap;

use crate::confidence::Verdict;
use crate::report::GateResult;
use crate::spec::{Gate, GateRule};

/// One rule's verdict. A comparison with no baseline yet is `Skipped`, which does not fail the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed,
    Skipped,
    Inconclusive,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// A gate's result and, for people, why.
#[derive(Debug, Clone)]
pub struct Evaluated {
    pub result: GateResult,
    pub metric: String,
    /// The rule as written: `>= 0.8`, `>= @champion + 0.002`.
    pub rule: String,
    pub outcome: Outcome,
    pub note: String,
    /// A confidence rule's interval of Δ (lower, upper).
    pub interval: Option<(f64, f64)>,
}

/// The rule of a gate as people read it.
pub fn rule_text(gate: &Gate) -> String {
    let text = match &gate.rule {
        GateRule::Absolute { op, value } => format!("{} {value}", op.as_str()),
        GateRule::CompareTo { alias, min_delta } => format!(">= @{alias} + {min_delta}"),
    };
    match &gate.confidence {
        Some(c) => format!("{text} @{} %", c.level * 100.0),
        None => text,
    }
}

/// A confidence gate's per-example scores, as the caller found them.
#[derive(Debug, Clone)]
pub enum Paired {
    /// Both models' scores on one dataset.
    Scores {
        candidate: Vec<f64>,
        baseline: Vec<f64>,
        dataset_digest: String,
    },
    /// They cannot be paired (the baseline was not scored on this dataset, …): the rule fails.
    Unpaired(String),
}

/// A comparison decided by a paired bootstrap: (passed, inconclusive, why, the interval).
fn with_confidence(
    g: &Gate,
    level: f64,
    min_delta: f64,
    paired: Option<&Paired>,
) -> (bool, bool, String, Option<(f64, f64)>) {
    let (candidate, baseline, digest) = match paired {
        Some(Paired::Scores {
            candidate,
            baseline,
            dataset_digest,
        }) => (candidate, baseline, dataset_digest),
        Some(Paired::Unpaired(why)) => return (false, false, why.clone(), None),
        None => return (false, false, "no per-example scores to pair".into(), None),
    };
    let seed = crate::confidence::seed(digest, &g.name);
    match crate::confidence::paired_bootstrap(candidate, baseline, level, seed) {
        Err(why) => (false, false, why, None),
        Ok(i) => {
            let verdict = i.verdict(min_delta);
            let note = format!(
                "Δ {:+.4}, {} % interval [{:+.4}, {:+.4}] vs required {min_delta:+}{}",
                i.delta,
                level * 100.0,
                i.lower,
                i.upper,
                match verdict {
                    Verdict::Inconclusive => ": inconclusive (within noise)",
                    _ => "",
                }
            );
            (
                verdict == Verdict::Passed,
                verdict == Verdict::Inconclusive,
                note,
                Some((i.lower, i.upper)),
            )
        }
    }
}

/// Evaluates `gates` in order. `baselines` holds, per (alias, metric), the baseline's value as the
/// caller resolved it when the gates started (`None`: no baseline); `paired`, per gate name, the
/// per-example scores of the gates with `confidence`.
pub fn evaluate(
    gates: &[Gate],
    metrics: &BTreeMap<String, f64>,
    baselines: &BTreeMap<(String, String), Option<f64>>,
    paired: &BTreeMap<String, Paired>,
) -> Vec<Evaluated> {
    gates
        .iter()
        .map(|g| {
            let observed = metrics.get(&g.metric).copied();
            let valid = observed.filter(|v| v.is_finite());
            let mut skipped = false;
            let mut inconclusive = false;
            let mut interval = None;
            let (passed, threshold, baseline, note) = match &g.rule {
                GateRule::Absolute { op, value } => {
                    let passed = valid.is_some_and(|o| op.holds(o, *value));
                    let note = match observed {
                        None => format!("metric {} was not logged by any stage", g.metric),
                        Some(o) if !o.is_finite() => format!("{} is {o}", g.metric),
                        Some(o) => format!("{o} {} {value}", op.as_str()),
                    };
                    (passed, Some(*value), None, note)
                }
                GateRule::CompareTo { alias, min_delta } => {
                    match baselines
                        .get(&(alias.clone(), g.metric.clone()))
                        .copied()
                        .flatten()
                    {
                        None => (
                            {
                                skipped = valid.is_some();
                                valid.is_some()
                            },
                            None,
                            None,
                            match valid {
                                Some(_) => format!(
                                    "skipped: no baseline yet (@{alias} has no {})",
                                    g.metric
                                ),
                                None => format!("metric {} missing or not a number", g.metric),
                            },
                        ),
                        Some(base) => {
                            let threshold = base + min_delta;
                            let (passed, note) = match &g.confidence {
                                Some(c) => {
                                    let (passed, unsure, note, ci) = with_confidence(
                                        g,
                                        c.level,
                                        *min_delta,
                                        paired.get(&g.name),
                                    );
                                    inconclusive = unsure;
                                    interval = ci;
                                    (passed, note)
                                }
                                None => (
                                    valid.is_some_and(|o| o >= threshold),
                                    format!(
                                        "{} vs @{alias} {base} + {min_delta}",
                                        observed.map_or("missing".to_owned(), |o| o.to_string())
                                    ),
                                ),
                            };
                            (passed, Some(threshold), Some(base), note)
                        }
                    }
                }
            };
            let outcome = match (passed, skipped, inconclusive) {
                (true, true, _) => Outcome::Skipped,
                (true, false, _) => Outcome::Passed,
                (false, _, true) => Outcome::Inconclusive,
                (false, _, false) => Outcome::Failed,
            };
            Evaluated {
                result: GateResult {
                    name: g.name.clone(),
                    passed,
                    observed,
                    threshold,
                    baseline,
                    inconclusive,
                },
                metric: g.metric.clone(),
                rule: rule_text(g),
                outcome,
                note,
                interval,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Pos;
    use crate::spec::Op;

    fn gate(metric: &str, rule: GateRule) -> Gate {
        Gate {
            name: metric.into(),
            metric: metric.into(),
            rule,
            confidence: None,
            pos: Pos::default(),
        }
    }

    #[test]
    fn absolute_and_comparison_rules() {
        let gates = [
            gate(
                "acc",
                GateRule::Absolute {
                    op: Op::Ge,
                    value: 0.8,
                },
            ),
            gate(
                "loss",
                GateRule::Absolute {
                    op: Op::Le,
                    value: 0.1,
                },
            ),
            gate(
                "missing",
                GateRule::Absolute {
                    op: Op::Ge,
                    value: 0.0,
                },
            ),
            gate(
                "nan",
                GateRule::Absolute {
                    op: Op::Ge,
                    value: 0.0,
                },
            ),
            gate(
                "acc",
                GateRule::CompareTo {
                    alias: "champion".into(),
                    min_delta: 0.05,
                },
            ),
            gate(
                "acc",
                GateRule::CompareTo {
                    alias: "first".into(),
                    min_delta: 0.0,
                },
            ),
        ];
        let metrics = BTreeMap::from([
            ("acc".to_owned(), 0.9),
            ("loss".to_owned(), 0.2),
            ("nan".to_owned(), f64::NAN),
        ]);
        let baselines = BTreeMap::from([
            (("champion".to_owned(), "acc".to_owned()), Some(0.88)),
            (("first".to_owned(), "acc".to_owned()), None),
        ]);
        let got: Vec<bool> = evaluate(&gates, &metrics, &baselines, &BTreeMap::new())
            .iter()
            .map(|e| e.result.passed)
            .collect();
        assert_eq!(got, [true, false, false, false, false, true]);
        let outcomes: Vec<Outcome> = evaluate(&gates, &metrics, &baselines, &BTreeMap::new())
            .iter()
            .map(|e| e.outcome)
            .collect();
        use Outcome::*;
        assert_eq!(outcomes, [Passed, Failed, Failed, Failed, Failed, Skipped]);
        let e = &evaluate(&gates, &metrics, &baselines, &BTreeMap::new())[4];
        assert_eq!(e.rule, ">= @champion + 0.05");
        assert_eq!(
            (e.result.baseline, e.result.threshold),
            (Some(0.88), Some(0.88 + 0.05))
        );
    }

    #[test]
    fn confidence_decides_a_comparison_by_its_interval() {
        use crate::spec::{Confidence, PathRef};
        let mut g = gate(
            "acc",
            GateRule::CompareTo {
                alias: "champion".into(),
                min_delta: 0.0,
            },
        );
        let path = |p: &str| PathRef {
            path: p.into(),
            pos: Pos::default(),
        };
        g.confidence = Some(Confidence {
            level: 0.95,
            dataset: path("test.csv"),
            scoring: crate::spec::Scoring::PerExample(path("scores.json")),
        });
        let metrics = BTreeMap::from([("acc".to_owned(), 0.6)]);
        let baselines = BTreeMap::from([(("champion".to_owned(), "acc".to_owned()), Some(0.5))]);
        let base: Vec<f64> = (0..400).map(|i| f64::from(i % 2 == 0)).collect();
        let run = |candidate: Vec<f64>| {
            let paired = BTreeMap::from([(
                "acc".to_owned(),
                Paired::Scores {
                    candidate,
                    baseline: base.clone(),
                    dataset_digest: "d".into(),
                },
            )]);
            evaluate(std::slice::from_ref(&g), &metrics, &baselines, &paired).remove(0)
        };
        let clear = run((0..400).map(|i| f64::from(i % 10 != 0)).collect());
        assert_eq!(clear.outcome, Outcome::Passed, "{}", clear.note);
        assert_eq!(clear.rule, ">= @champion + 0 @95 %");
        let mut noisy = base.clone();
        (noisy[1], noisy[3], noisy[5], noisy[0], noisy[2]) = (1.0, 1.0, 1.0, 0.0, 0.0);
        let unsure = run(noisy);
        assert_eq!(unsure.outcome, Outcome::Inconclusive, "{}", unsure.note);
        let (lower, upper) = unsure.interval.expect("an interval");
        assert!(lower < 0.0 && upper > 0.0, "{lower} {upper}");
        assert!(!unsure.result.passed && unsure.result.inconclusive);
        let worse = run((0..400).map(|i| f64::from(i % 10 == 0)).collect());
        assert_eq!(worse.outcome, Outcome::Failed, "{}", worse.note);
        let unpaired = BTreeMap::from([(
            "acc".to_owned(),
            Paired::Unpaired("baseline not evaluated on dataset d".into()),
        )]);
        let e = evaluate(std::slice::from_ref(&g), &metrics, &baselines, &unpaired).remove(0);
        assert_eq!(
            (e.outcome, e.note.as_str()),
            (Outcome::Failed, "baseline not evaluated on dataset d")
        );
    }
}
