//! The maturity tracker: which of the six MLOps maturity levels a registered model stands on, computed
//! from stored evidence only (never from a declared tag). Levels are cumulative: level N needs 1..N−1.
//!
//! The service gathers [`Evidence`] from the stores; [`assess`] turns it into a [`Maturity`]: each rung
//! reached or not, the evidence found, what is missing, and the one next step.

/// One rung of the ladder: its number, name, automation and outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub level: u8,
    pub name: &'static str,
    pub automation: &'static str,
    pub outcome: &'static str,
}

pub const LEVELS: [Level; 6] = [
    Level {
        level: 1,
        name: "Manual Model Building",
        automation: "None",
        outcome: "Slow, error-prone",
    },
    Level {
        level: 2,
        name: "Manual Deployment",
        automation: "Low",
        outcome: "Inconsistent deployments",
    },
    Level {
        level: 3,
        name: "Automated Deployment",
        automation: "Medium",
        outcome: "Faster, repeatable deployments",
    },
    Level {
        level: 4,
        name: "CI/CD Pipelines",
        automation: "High",
        outcome: "Reliable, frequent updates",
    },
    Level {
        level: 5,
        name: "Continuous Training & Monitoring",
        automation: "Very High",
        outcome: "Adaptive models, early issue detection",
    },
    Level {
        level: 6,
        name: "Full Automation & Governance",
        automation: "Full",
        outcome: "Robust, compliant, scalable MLOps",
    },
];

/// A version of the model and the run it came from, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedVersion {
    pub version: i64,
    pub run_id: Option<String>,
    /// Params and metrics the run logged (0 when there is no run, or it was not found).
    pub params: usize,
    pub metrics: usize,
}

/// A live deployment serving a version of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentEvidence {
    pub name: String,
    /// The alias of this model its primary follows, if it follows one.
    pub follows_alias: Option<String>,
    pub serving_version: i64,
    /// Alias moves this deployment rolled out by itself since it was created: (the deployment's revision
    /// after the roll-out, version).
    pub rollouts: Vec<(i64, i64)>,
}

/// A pipeline run that registered a version of the model (its report's `promotion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelinePromotion {
    /// The pipeline run's MLflow run.
    pub run_id: String,
    pub pipeline: String,
    pub version: i64,
    /// The aliases the run set on the version.
    pub aliases: Vec<String>,
    /// The gates it evaluated, and how many passed.
    pub gates: usize,
    pub gates_passed: usize,
    /// `cairn run`'s exit code (0: every stage and gate passed).
    pub exit_code: Option<i32>,
    /// The trigger that started the run, and the kind of its cause (`cron`, `watch`, `alert`,
    /// `registry`, `manual`); none for a run started by `cairn run`.
    pub trigger: Option<(String, String)>,
}

/// A monitor of a deployment serving the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorEvidence {
    pub name: String,
    pub deployment: String,
    pub rules: usize,
    /// Its snapshots, and when the newest was taken.
    pub snapshots: usize,
    pub last_snapshot_ms: Option<i64>,
    /// Alerts its rules fired.
    pub alerts: usize,
}

/// A promotion request that moved a protected alias of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedPromotion {
    pub id: String,
    pub version: i64,
    pub alias: String,
    pub requested_by: String,
    /// Distinct approvers, none of them the requester.
    pub approvers: Vec<String>,
    /// Every approver and the requester is a user account (authenticated, not a claimed name).
    pub accounts: bool,
    pub decision_id: Option<String>,
    /// The change-log entry that applied it.
    pub seq: i64,
    pub timestamp_ms: i64,
}

/// Governance evidence about one model (level 6).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GovernanceEvidence {
    /// Aliases of this model that a protection rule covers.
    pub protected_aliases: Vec<String>,
    pub applied: Vec<AppliedPromotion>,
    /// Versions whose training run logged datasets with digests (data lineage).
    pub data_lineage: Vec<i64>,
    /// Versions with a model card: (version, status).
    pub cards: Vec<(i64, String)>,
    /// The audit chain: entries, and whether it verified intact (`None`: not checked).
    pub audit: Option<(u64, bool)>,
}

/// What the stores hold about one model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    pub versions: Vec<TrackedVersion>,
    pub deployments: Vec<DeploymentEvidence>,
    pub promotions: Vec<PipelinePromotion>,
    pub monitors: Vec<MonitorEvidence>,
    pub governance: GovernanceEvidence,
}

/// One rung, assessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rung {
    pub level: Level,
    /// Its own evidence is there and every rung below is reached.
    pub reached: bool,
    pub evidence: Vec<String>,
    pub missing: Vec<String>,
}

/// A model's place on the ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maturity {
    pub model: String,
    /// 0–6: the highest rung reached with every rung below it.
    pub level: u8,
    /// What to do to reach the next level; empty at the top.
    pub next_step: String,
    pub rungs: Vec<Rung>,
}

impl Maturity {
    /// The reached level's description; `None` at level 0.
    pub fn current(&self) -> Option<Level> {
        (self.level > 0).then(|| LEVELS[usize::from(self.level) - 1])
    }
}

/// What a rung found: evidence lines, or what is missing and the step that would provide it.
struct Finding {
    evidence: Vec<String>,
    missing: Vec<String>,
    step: String,
}

fn level1(e: &Evidence, model: &str) -> Finding {
    let evidence: Vec<String> = e
        .versions
        .iter()
        .filter(|v| v.params > 0 && v.metrics > 0)
        .filter_map(|v| {
            v.run_id.as_ref().map(|run| {
                format!(
                    "version {} comes from run {run} ({} params, {} metrics)",
                    v.version, v.params, v.metrics
                )
            })
        })
        .collect();
    let missing = if evidence.is_empty() {
        vec![if e.versions.is_empty() {
            format!("model '{model}' has no version")
        } else {
            "no version comes from a tracked run that logged at least one param and one metric"
                .into()
        }]
    } else {
        vec![]
    };
    Finding {
        evidence,
        missing,
        step: format!(
            "Train in a tracked run (mlflow.start_run) that logs a param and a metric, and register its \
             model as a version of '{model}'"
        ),
    }
}

fn level2(e: &Evidence, model: &str) -> Finding {
    let evidence: Vec<String> = e
        .deployments
        .iter()
        .map(|d| format!("deployment {} serves version {}", d.name, d.serving_version))
        .collect();
    let missing = if evidence.is_empty() {
        vec![format!("no deployment serves a version of '{model}'")]
    } else {
        vec![]
    };
    Finding {
        evidence,
        missing,
        step: format!("Deploy a version: cairn deploy create NAME --model models:/{model}/VERSION"),
    }
}

fn level3(e: &Evidence, model: &str) -> Finding {
    let following: Vec<&DeploymentEvidence> = e
        .deployments
        .iter()
        .filter(|d| d.follows_alias.is_some())
        .collect();
    let evidence: Vec<String> = following
        .iter()
        .flat_map(|d| {
            let alias = d.follows_alias.as_deref().unwrap_or_default();
            d.rollouts.iter().map(move |(revision, v)| {
                format!(
                    "deployment {} follows @{alias} and rolled out version {v} by itself (revision {revision})",
                    d.name
                )
            })
        })
        .collect();
    let (missing, step) = match (following.first(), evidence.is_empty()) {
        (_, false) => (vec![], String::new()),
        (None, true) => (
            vec![format!("no deployment follows an alias of '{model}'")],
            format!(
                "Make a deployment follow an alias: cairn deploy update NAME --model models:/{model}@champion, \
                 then move the alias to a new version"
            ),
        ),
        (Some(d), true) => (
            vec![format!(
                "deployment {} follows @{} but has not rolled out an alias move yet",
                d.name,
                d.follows_alias.as_deref().unwrap_or_default()
            )],
            format!(
                "Move the alias @{} of '{model}' to a new version; deployment {} rolls it out by itself",
                d.follows_alias.as_deref().unwrap_or_default(),
                d.name
            ),
        ),
    };
    Finding {
        evidence,
        missing,
        step,
    }
}

/// Level 4: a version that a pipeline run registered after its gates passed, moved to an alias, and that
/// a deployment following that alias rolled out by itself.
fn level4(e: &Evidence, model: &str) -> Finding {
    let gated: Vec<&PipelinePromotion> = e
        .promotions
        .iter()
        .filter(|p| p.exit_code == Some(0) && p.gates > 0 && p.gates_passed == p.gates)
        .collect();
    let mut evidence = Vec::new();
    for p in &gated {
        for d in &e.deployments {
            let Some(alias) = d.follows_alias.as_deref() else {
                continue;
            };
            if !p.aliases.iter().any(|a| a == alias) {
                continue;
            }
            if let Some((revision, _)) = d.rollouts.iter().find(|(_, v)| *v == p.version) {
                evidence.push(format!(
                    "pipeline {} run {} passed its {} gates and moved @{alias} to version {}; \
                     deployment {} rolled it out (revision {revision})",
                    p.pipeline, p.run_id, p.gates, p.version, d.name
                ));
            }
        }
    }
    let (missing, step) = if !evidence.is_empty() {
        (vec![], String::new())
    } else if e.promotions.is_empty() {
        (
            vec![format!(
                "no pipeline run has registered a version of '{model}'"
            )],
            format!(
                "Add gates: and promote: {{model: …, name: {model}, alias: champion}} to cairn.yaml and run \
                 it with cairn ci (or cairn run) against this server"
            ),
        )
    } else if gated.is_empty() {
        (
            vec![format!(
                "no pipeline run that registered a version of '{model}' passed gates and moved an alias"
            )],
            "Define gates: in cairn.yaml; a run whose gates all pass moves the promote alias"
                .into(),
        )
    } else {
        (
            vec![format!(
                "no deployment following an alias a gated pipeline run moved has rolled out its version"
            )],
            format!(
                "Make a deployment follow the promoted alias: cairn deploy create NAME --model \
                 models:/{model}@{}",
                gated[0].aliases.first().map_or("champion", String::as_str)
            ),
        )
    };
    Finding {
        evidence,
        missing,
        step,
    }
}

/// Level 5: a monitor watching a deployment that serves the model, evaluated at least once, with an
/// alert rule (the monitoring half); and a trigger that fired on its own (not by hand) and started a
/// pipeline run that registered a version of the model (the training half).
fn level5(e: &Evidence, model: &str) -> Finding {
    let serving: Vec<&str> = e.deployments.iter().map(|d| d.name.as_str()).collect();
    let watching: Vec<&MonitorEvidence> = e
        .monitors
        .iter()
        .filter(|m| serving.contains(&m.deployment.as_str()))
        .collect();
    let ready: Vec<&&MonitorEvidence> = watching
        .iter()
        .filter(|m| m.snapshots > 0 && m.rules > 0)
        .collect();
    let evidence: Vec<String> = ready
        .iter()
        .map(|m| {
            format!(
                "monitor {} watches deployment {}: {} snapshot(s), {} alert rule(s), {} alert(s) fired",
                m.name, m.deployment, m.snapshots, m.rules, m.alerts
            )
        })
        .collect();
    let mut evidence = evidence;
    let retrained: Vec<&PipelinePromotion> = e
        .promotions
        .iter()
        .filter(|p| p.trigger.as_ref().is_some_and(|(_, kind)| kind != "manual"))
        .collect();
    evidence.extend(retrained.iter().map(|p| {
        let (trigger, kind) = p.trigger.clone().unwrap_or_default();
        format!(
            "trigger {trigger} of pipeline {} fired on its own ({kind}) and its run {} registered version {}",
            p.pipeline, p.run_id, p.version
        )
    }));
    let mut missing = Vec::new();
    let mut step = String::new();
    if ready.is_empty() {
        let deployment = serving.first().copied().unwrap_or("DEPLOYMENT");
        if watching.is_empty() {
            missing.push(format!("no monitor watches a deployment serving '{model}'"));
            step = format!(
                "Monitor the deployment: cairn monitor create {model}-drift --deployment {deployment} \
                 --reference training.csv, then cairn monitor alert {model}-drift drift --when \
                 'dataset.share >= 0.5'"
            );
        } else {
            let m = watching[0];
            if m.rules == 0 {
                missing.push(format!("monitor {} has no alert rule", m.name));
                step = format!(
                    "Add an alert rule: cairn monitor alert {} drift --when 'dataset.share >= 0.5'",
                    m.name
                );
            }
            if m.snapshots == 0 {
                missing.push(format!("monitor {} has not been evaluated", m.name));
                if step.is_empty() {
                    step = format!(
                        "Evaluate it: cairn monitor run {} (or give it --schedule)",
                        m.name
                    );
                }
            }
        }
    }
    if retrained.is_empty() {
        missing.push(format!(
            "no trigger has fired on its own and started a pipeline run that registered a version of '{model}'"
        ));
        if step.is_empty() {
            let monitor = ready.first().map_or("MONITOR", |m| m.name.as_str());
            step = format!(
                "Close the loop: add `triggers: {{retrain: {{alert: {monitor}}}}}` to the training \
                 pipeline's cairn.yaml and run cairn pipeline register NAME"
            );
        }
    }
    Finding {
        evidence,
        missing,
        step,
    }
}

/// Level 6: a deployment serves the model through a protected alias; the version it serves got there
/// by a promotion request approved by someone other than its requester (user accounts, not claimed
/// names); the audit chain verifies; the served version has data lineage and a model card.
fn level6(e: &Evidence, model: &str) -> Finding {
    let g = &e.governance;
    let mut evidence = Vec::new();
    let mut missing = Vec::new();
    let mut step = String::new();
    let mut need = |m: String, s: String, step: &mut String| {
        missing.push(m);
        if step.is_empty() {
            *step = s;
        }
    };
    let guarded: Vec<&DeploymentEvidence> = e
        .deployments
        .iter()
        .filter(|d| {
            d.follows_alias
                .as_ref()
                .is_some_and(|a| g.protected_aliases.contains(a))
        })
        .collect();
    let alias = e
        .deployments
        .iter()
        .find_map(|d| d.follows_alias.clone())
        .unwrap_or_else(|| "production".to_owned());
    match guarded.first() {
        Some(d) => evidence.push(format!(
            "deployment {} follows @{}, a protected alias",
            d.name,
            d.follows_alias.as_deref().unwrap_or("")
        )),
        None => need(
            format!("no deployment of '{model}' follows a protected alias"),
            format!(
                "Protect the serving alias: cairn protect set {model} --alias {alias} --approvals 2 \
                 (and serve with cairn server --auth)"
            ),
            &mut step,
        ),
    }
    let served: Vec<i64> = guarded.iter().map(|d| d.serving_version).collect();
    let four_eyes = g.applied.iter().find(|p| {
        served.contains(&p.version)
            && p.accounts
            && !p.approvers.is_empty()
            && !p.approvers.contains(&p.requested_by)
    });
    match four_eyes {
        Some(p) => evidence.push(format!(
            "promotion {} moved @{} to version {}: requested by {}, approved by {}{}",
            p.id,
            p.alias,
            p.version,
            p.requested_by,
            p.approvers.join(", "),
            p.decision_id
                .as_deref()
                .map_or(String::new(), |d| format!(", policy decision {d}"))
        )),
        None => need(
            "the served version did not reach its alias through an approved promotion request"
                .into(),
            format!(
                "Promote through four eyes: cairn promote request {model} VERSION --alias {alias} \
                 --reason TEXT, then another user runs cairn promote approve ID"
            ),
            &mut step,
        ),
    }
    match g.audit {
        Some((n, true)) => evidence.push(format!("audit chain intact ({n} entries verified)")),
        Some((_, false)) => need(
            "the audit chain does not verify".into(),
            "Investigate: cairn audit verify --server URL".into(),
            &mut step,
        ),
        None => need(
            "the audit chain was not verified".into(),
            "Verify it: cairn audit verify --server URL".into(),
            &mut step,
        ),
    }
    let lineage: Vec<i64> = served
        .iter()
        .copied()
        .filter(|v| g.data_lineage.contains(v))
        .collect();
    match lineage.first() {
        Some(v) => evidence.push(format!("version {v}'s training data is recorded with digests")),
        None => need(
            "the served version's run logged no dataset (no data lineage)".into(),
            "Log the training data: mlflow.log_input(mlflow.data.from_pandas(df), context='training')"
                .into(),
            &mut step,
        ),
    }
    match g.cards.iter().find(|(v, _)| served.contains(v)) {
        Some((v, status)) => evidence.push(format!("version {v} has a model card ({status})")),
        None => need(
            "the served version has no model card".into(),
            format!(
                "Write its card: cairn card edit {model} VERSION --set intended_use=… --set \
                 limitations=…"
            ),
            &mut step,
        ),
    }
    Finding {
        evidence,
        missing,
        step,
    }
}

/// Assesses a model from its evidence.
pub fn assess(model: &str, e: &Evidence) -> Maturity {
    let mut rungs = Vec::with_capacity(LEVELS.len());
    let mut level = 0;
    let mut next_step = String::new();
    for info in LEVELS {
        let finding = match info.level {
            1 => level1(e, model),
            2 => level2(e, model),
            3 => level3(e, model),
            4 => level4(e, model),
            5 => level5(e, model),
            _ => level6(e, model),
        };
        let below = level + 1 == info.level;
        let own = finding.missing.is_empty();
        if own && below {
            level = info.level;
        } else if next_step.is_empty() {
            next_step = finding.step;
        }
        let mut missing = finding.missing;
        if !below {
            missing.push(format!("needs level {} first", info.level - 1));
        }
        rungs.push(Rung {
            level: info,
            reached: own && below,
            evidence: finding.evidence,
            missing,
        });
    }
    Maturity {
        model: model.to_owned(),
        level,
        next_step,
        rungs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(v: i64, params: usize, metrics: usize) -> TrackedVersion {
        TrackedVersion {
            version: v,
            run_id: Some(format!("run{v}")),
            params,
            metrics,
        }
    }

    fn deployment(alias: Option<&str>, rollouts: Vec<(i64, i64)>) -> DeploymentEvidence {
        DeploymentEvidence {
            name: "d".into(),
            follows_alias: alias.map(Into::into),
            serving_version: 1,
            rollouts,
        }
    }

    #[test]
    fn nothing_is_level_zero() {
        let m = assess("m", &Evidence::default());
        assert_eq!(m.level, 0);
        assert!(m.current().is_none());
        assert_eq!(m.rungs.len(), 6);
        assert!(m.rungs.iter().all(|r| !r.reached));
        assert!(m.next_step.contains("tracked run"));
    }

    #[test]
    fn a_run_without_metrics_is_not_evidence() {
        let e = Evidence {
            versions: vec![version(1, 2, 0)],
            ..Default::default()
        };
        assert_eq!(assess("m", &e).level, 0);
    }

    #[test]
    fn levels_climb_with_evidence() {
        let mut e = Evidence {
            versions: vec![version(1, 1, 1)],
            ..Default::default()
        };
        let m = assess("m", &e);
        assert_eq!(m.level, 1);
        assert!(m.rungs[0].evidence[0].contains("run1"));
        assert!(m.next_step.contains("cairn deploy create"));

        e.deployments.push(deployment(None, vec![]));
        assert_eq!(assess("m", &e).level, 2);

        e.deployments[0].follows_alias = Some("champion".into());
        let m = assess("m", &e);
        assert_eq!(m.level, 2);
        assert!(m.next_step.contains("@champion"));

        e.deployments[0].rollouts.push((7, 2));
        let m = assess("m", &e);
        assert_eq!(m.level, 3);
        assert!(m.rungs[2].evidence[0].contains("revision 7"));
        assert!(m.rungs[3].missing[0].starts_with("no pipeline run"));
        assert!(m.next_step.contains("cairn ci"));
        assert_eq!(m.current().unwrap().automation, "Medium");

        // A pipeline run that promoted v2 to @champion, but whose gate failed: still level 3.
        let mut p = PipelinePromotion {
            run_id: "p1".into(),
            pipeline: "churn".into(),
            version: 2,
            aliases: vec!["champion".into()],
            gates: 2,
            gates_passed: 1,
            exit_code: Some(1),
            trigger: None,
        };
        e.promotions.push(p.clone());
        assert_eq!(assess("m", &e).level, 3);
        // Gates passed, but v3 was promoted and the deployment rolled out v2 only.
        p.gates_passed = 2;
        p.exit_code = Some(0);
        p.version = 3;
        e.promotions = vec![p.clone()];
        let m = assess("m", &e);
        assert_eq!(m.level, 3);
        assert!(m.rungs[3].missing[0].contains("rolled out"));
        // The deployment rolls v3 out: level 4, and level 5 is what is missing next.
        e.deployments[0].rollouts.push((8, 3));
        let m = assess("m", &e);
        assert_eq!(m.level, 4);
        assert!(m.rungs[3].evidence[0].contains("moved @champion to version 3"));
        assert!(m.rungs[3].evidence[0].contains("revision 8"));
        assert!(m.rungs[4].missing[0].starts_with("no monitor watches"));
        assert!(m.next_step.contains("cairn monitor create"));
        // A monitor with a rule, evaluated: the monitoring half is there; retraining is still missing.
        e.monitors.push(MonitorEvidence {
            name: "m-drift".into(),
            deployment: e.deployments[0].name.clone(),
            snapshots: 2,
            last_snapshot_ms: Some(9),
            rules: 1,
            alerts: 1,
        });
        let m = assess("m", &e);
        assert_eq!(m.level, 4);
        assert!(m.rungs[4].evidence[0].contains("monitor m-drift watches"));
        assert_eq!(m.rungs[4].missing.len(), 1);
        assert!(m.rungs[4].missing[0].starts_with("no trigger has fired"));
        assert!(m.next_step.contains("alert: m-drift"));
        // Fired by hand is not the loop closing by itself.
        let mut retrained = p.clone();
        retrained.version = 4;
        retrained.trigger = Some(("retrain".into(), "manual".into()));
        e.promotions.push(retrained.clone());
        assert_eq!(assess("m", &e).level, 4);
        // An alert fired the trigger and its run registered v4: level 5.
        retrained.trigger = Some(("retrain".into(), "alert".into()));
        e.promotions.push(retrained);
        let m = assess("m", &e);
        assert_eq!(m.level, 5);
        assert!(
            m.rungs[4]
                .evidence
                .iter()
                .any(|l| l.contains("trigger retrain of pipeline churn fired on its own (alert)"))
        );
    }

    #[test]
    fn a_rung_needs_the_ones_below() {
        // A deployment that rolled out, but no tracked version: level 0, rungs 2 and 3 not reached.
        let e = Evidence {
            versions: vec![version(1, 0, 0)],
            deployments: vec![deployment(Some("a"), vec![(3, 2)])],
            ..Default::default()
        };
        let m = assess("m", &e);
        assert_eq!(m.level, 0);
        assert!(!m.rungs[1].reached && !m.rungs[2].reached);
        assert!(
            m.rungs[1]
                .missing
                .iter()
                .any(|s| s == "needs level 1 first")
        );
    }
}
