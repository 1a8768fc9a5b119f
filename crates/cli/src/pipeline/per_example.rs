//! The per-example scores of confidence gates: the candidate's read from its out (with the digest of
//! the dataset they score), the baseline's from the run of its registered version (where promotion
//! keeps them), and the two paired when they scored the same data.

use std::collections::BTreeMap;

use cairn_pipelines::Project;
use cairn_pipelines::gates::Paired;
use cairn_pipelines::spec::GateRule;
use cairn_pipelines::tracker::TrackerError;

use super::mlflow::{MlflowTracker, Pinned};

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

/// The candidate's per-example scores of every confidence gate (read from its out, the dataset hashed)
/// and, where the gate's alias has a pinned version, the baseline's (from that version's run), paired.
pub(super) async fn per_example(
    project: &Project,
    tracker: &MlflowTracker,
    pins: &BTreeMap<String, Option<Pinned>>,
) -> Result<(BTreeMap<String, Paired>, Vec<Scores>), TrackerError> {
    let mut paired = BTreeMap::new();
    let mut all = Vec::new();
    for g in &project.pipeline.gates {
        let (Some(c), GateRule::CompareTo { alias, .. }) = (&g.confidence, &g.rule) else {
            continue;
        };
        let read =
            |path: &str| std::fs::read(project.root.join(path)).map_err(|e| format!("{path}: {e}"));
        let candidate = read(&c.per_example.path).and_then(|bytes| {
            serde_json::from_slice::<Vec<f64>>(&bytes).map_err(|e| {
                format!(
                    "per_example {}: not a JSON list of numbers ({e})",
                    c.per_example.path
                )
            })
        });
        let digest =
            read(&c.dataset.path).map(|bytes| cairn_pipelines::confidence::dataset_digest(&bytes));
        let (values, digest) = match (candidate, digest) {
            (Ok(v), Ok(d)) => (v, d),
            (Err(why), _) | (_, Err(why)) => {
                paired.insert(g.name.clone(), Paired::Unpaired(why));
                continue;
            }
        };
        let mine = Scores {
            per_example: c.per_example.path.clone(),
            dataset_digest: digest.clone(),
            values,
        };
        all.push(mine.clone());
        let Some(run) = pins.get(alias).cloned().flatten().and_then(|p| p.run_id) else {
            continue; // no baseline: the comparison is skipped
        };
        let theirs = match tracker
            .get_artifact(&run, &scores_artifact(&c.per_example.path))
            .await?
        {
            Some(bytes) => serde_json::from_slice::<Scores>(&bytes).ok(),
            None => None,
        };
        let entry = match theirs {
            Some(t) if t.dataset_digest == digest => Paired::Scores {
                candidate: mine.values,
                baseline: t.values,
                dataset_digest: digest,
            },
            Some(t) => Paired::Unpaired(format!(
                "baseline not evaluated on dataset {digest} ({} was; it scored {})",
                c.dataset.path, t.dataset_digest
            )),
            None => Paired::Unpaired(format!(
                "baseline not evaluated on dataset {digest}: @{alias} has no per-example scores of {}",
                c.per_example.path
            )),
        };
        paired.insert(g.name.clone(), entry);
    }
    Ok((paired, all))
}
