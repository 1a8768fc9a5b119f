//! The per-example scores of confidence gates, paired: either read from an out (the candidate's; the
//! baseline's from the run of its registered version, where promotion keeps them; paired when both
//! scored data of one digest), or computed by Cairn for both models on the dataset (`label:`).

use std::collections::BTreeMap;

use cairn_pipelines::Project;
use cairn_pipelines::gates::Paired;
use cairn_pipelines::spec::{GateRule, Scoring};
use cairn_pipelines::tracker::TrackerError;

use super::mlflow::{MlflowTracker, Pinned};
use super::onnx_scores;

/// A confidence gate's per-example scores, as kept beside a registered version (so that it can be
/// paired with the next candidate's when it is the baseline).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Scores {
    pub per_example: String,
    pub dataset_digest: String,
    pub values: Vec<f64>,
}

/// Where a version's scores of `per_example` are kept, in its run's artifacts.
pub(super) fn scores_artifact(per_example: &str) -> String {
    format!("cairn-per-example/{per_example}.json")
}

/// What the confidence gates found: per gate, the scores paired (or why not); the scores to keep with
/// the candidate's version; the dataset digest (of the first such gate) for the gate record.
#[derive(Default)]
pub(super) struct Found {
    pub paired: BTreeMap<String, Paired>,
    pub keep: Vec<Scores>,
    pub dataset_digest: Option<String>,
}

/// For every confidence gate: the candidate's per-example scores (read from its out, or computed by
/// Cairn with `label:`), and — where the gate's alias has a pinned version — the baseline's (kept with
/// that version's run, or computed by Cairn from its ONNX model on the same dataset), paired.
pub(super) async fn per_example(
    project: &Project,
    tracker: &MlflowTracker,
    pins: &BTreeMap<String, Option<Pinned>>,
) -> Result<Found, TrackerError> {
    let mut found = Found::default();
    for g in &project.pipeline.gates {
        let (Some(c), GateRule::CompareTo { alias, .. }) = (&g.confidence, &g.rule) else {
            continue;
        };
        let read =
            |path: &str| std::fs::read(project.root.join(path)).map_err(|e| format!("{path}: {e}"));
        let dataset = match read(&c.dataset.path) {
            Ok(bytes) => bytes,
            Err(why) => {
                found.paired.insert(g.name.clone(), Paired::Unpaired(why));
                continue;
            }
        };
        let digest = cairn_pipelines::confidence::dataset_digest(&dataset);
        found.dataset_digest.get_or_insert_with(|| digest.clone());
        let pin = pins.get(alias).cloned().flatten();
        let entry = match &c.scoring {
            Scoring::PerExample(out) => {
                let candidate = read(&out.path).and_then(|bytes| {
                    serde_json::from_slice::<Vec<f64>>(&bytes).map_err(|e| {
                        format!("per_example {}: not a JSON list of numbers ({e})", out.path)
                    })
                });
                let values = match candidate {
                    Ok(v) => v,
                    Err(why) => {
                        found.paired.insert(g.name.clone(), Paired::Unpaired(why));
                        continue;
                    }
                };
                found.keep.push(Scores {
                    per_example: out.path.clone(),
                    dataset_digest: digest.clone(),
                    values: values.clone(),
                });
                let Some(run) = pin.and_then(|p| p.run_id) else {
                    continue; // no baseline: the comparison is skipped
                };
                let theirs = match tracker
                    .get_artifact(&run, &scores_artifact(&out.path))
                    .await?
                {
                    Some(bytes) => serde_json::from_slice::<Scores>(&bytes).ok(),
                    None => None,
                };
                match theirs {
                    Some(t) if t.dataset_digest == digest => Paired::Scores {
                        candidate: values,
                        baseline: t.values,
                        dataset_digest: digest,
                    },
                    Some(t) => Paired::Unpaired(format!(
                        "baseline not evaluated on dataset {digest} ({} was; it scored {})",
                        c.dataset.path, t.dataset_digest
                    )),
                    None => Paired::Unpaired(format!(
                        "baseline not evaluated on dataset {digest}: @{alias} has no per-example scores of {}",
                        out.path
                    )),
                }
            }
            Scoring::Onnx { label } => {
                let Some(pin) = pin else {
                    continue; // no baseline: the comparison is skipped
                };
                let name = project.pipeline.promote.as_ref().map(|p| p.name.as_str());
                let model = project
                    .pipeline
                    .promote
                    .as_ref()
                    .map(|p| p.model.path.clone());
                let (Some(name), Some(model)) = (name, model) else {
                    continue; // a comparison needs promote: (checked when parsing)
                };
                let csv = String::from_utf8_lossy(&dataset).into_owned();
                let runtime = match cairn_onnx::Runtime::init(None) {
                    Ok(r) => r,
                    Err(e) => {
                        return Err(TrackerError(format!(
                            "gate {}: Cairn scores both models with ONNX Runtime: {e}",
                            g.name
                        )));
                    }
                };
                let local = project.root.join(&model);
                let candidate = if local.is_dir() {
                    local.join("model.onnx")
                } else {
                    local
                };
                let candidate = match std::fs::read(&candidate) {
                    Ok(bytes) => onnx_scores::score(&runtime, bytes, &csv, label).await,
                    Err(e) => Err(format!("the candidate {}: {e}", candidate.display())),
                };
                let baseline = match tracker.version_onnx(name, pin.version).await? {
                    Ok(bytes) => onnx_scores::score(&runtime, bytes, &csv, label).await,
                    Err(why) => Err(why),
                };
                match (candidate, baseline) {
                    (Ok(candidate), Ok(baseline)) => Paired::Scores {
                        candidate,
                        baseline,
                        dataset_digest: digest,
                    },
                    (Err(why), _) => Paired::Unpaired(format!(
                        "scoring the candidate on {}: {why}",
                        c.dataset.path
                    )),
                    (_, Err(why)) => Paired::Unpaired(format!(
                        "baseline not evaluated on dataset {digest}: scoring @{alias} (v{}): {why}",
                        pin.version
                    )),
                }
            }
        };
        found.paired.insert(g.name.clone(), entry);
    }
    Ok(found)
}
