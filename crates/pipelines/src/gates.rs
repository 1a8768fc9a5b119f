//! Gate rules on the run's metrics: absolute (`accuracy >= 0.8`) and against the model behind an
//! alias (`cand >= base + min_delta`). A missing or NaN candidate metric fails; a comparison with no
//! baseline yet (no such alias, or its run lacks the metric) is skipped — passed, with the reason.

use std::collections::BTreeMap;

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
}

/// The rule of a gate as people read it.
pub fn rule_text(rule: &GateRule) -> String {
    match rule {
        GateRule::Absolute { op, value } => format!("{} {value}", op.as_str()),
        GateRule::CompareTo { alias, min_delta } => format!(">= @{alias} + {min_delta}"),
    }
}

/// Evaluates `gates` in order. `baselines` holds, per (alias, metric), the baseline's value as the
/// caller resolved it when the gates started (`None`: no baseline).
pub fn evaluate(
    gates: &[Gate],
    metrics: &BTreeMap<String, f64>,
    baselines: &BTreeMap<(String, String), Option<f64>>,
) -> Vec<Evaluated> {
    gates
        .iter()
        .map(|g| {
            let observed = metrics.get(&g.metric).copied();
            let valid = observed.filter(|v| v.is_finite());
            let mut skipped = false;
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
                            let passed = valid.is_some_and(|o| o >= threshold);
                            let note = format!(
                                "{} vs @{alias} {base} + {min_delta}",
                                observed.map_or("missing".to_owned(), |o| o.to_string())
                            );
                            (passed, Some(threshold), Some(base), note)
                        }
                    }
                }
            };
            let outcome = match (passed, skipped) {
                (true, true) => Outcome::Skipped,
                (true, false) => Outcome::Passed,
                (false, _) => Outcome::Failed,
            };
            Evaluated {
                result: GateResult {
                    name: g.name.clone(),
                    passed,
                    observed,
                    threshold,
                    baseline,
                    inconclusive: false,
                },
                metric: g.metric.clone(),
                rule: rule_text(&g.rule),
                outcome,
                note,
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
        let got: Vec<bool> = evaluate(&gates, &metrics, &baselines)
            .iter()
            .map(|e| e.result.passed)
            .collect();
        assert_eq!(got, [true, false, false, false, false, true]);
        let outcomes: Vec<Outcome> = evaluate(&gates, &metrics, &baselines)
            .iter()
            .map(|e| e.outcome)
            .collect();
        use Outcome::*;
        assert_eq!(outcomes, [Passed, Failed, Failed, Failed, Failed, Skipped]);
        let e = &evaluate(&gates, &metrics, &baselines)[4];
        assert_eq!(
            (e.result.baseline, e.result.threshold),
            (Some(0.88), Some(0.88 + 0.05))
        );
    }
}
