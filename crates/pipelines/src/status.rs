//! `cairn pipeline status` and `cairn run --dry-run`: what a run would do with each stage and why,
//! without running or changing anything.

use std::collections::HashMap;

use serde::Serialize;

use crate::cache::OutputCache;
use crate::error::PipelineError;
use crate::outputs::OutRecord;
use crate::plan::{Decision, PlanError, Planner};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Planned {
    /// Its outs are in the workspace for its current key.
    UpToDate,
    /// Its outs for the current key are in the cache: a run puts them back.
    Restore,
    /// A run runs it.
    Run,
    /// It reads outs an upstream stage rebuilds first: a run decides after that (identical outs
    /// make it a hit).
    Pending,
    /// A dep is missing: a run fails it.
    Blocked,
}

impl Planned {
    pub fn as_str(self) -> &'static str {
        match self {
            Planned::UpToDate => "up to date",
            Planned::Restore => "restore",
            Planned::Run => "run",
            Planned::Pending => "pending",
            Planned::Blocked => "blocked",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StageLine {
    pub name: String,
    pub status: Planned,
    pub reason: String,
}

/// Plans `selected` (indexes, in topological order) as a run would see them.
pub async fn status(
    planner: &Planner,
    cache: &dyn OutputCache,
    selected: &[usize],
    force: bool,
) -> Result<Vec<StageLine>, PipelineError> {
    let project = planner.project.clone();
    // Upstream outs that change before a stage runs: `Some` restored to, `None` rebuilt.
    let mut expected: HashMap<String, Option<OutRecord>> = HashMap::new();
    let mut lines = Vec::new();
    for &i in selected {
        let stage = &project.pipeline.stages[i];
        let line = |status, reason: String| StageLine {
            name: stage.name.clone(),
            status,
            reason,
        };
        let rebuilt = |expected: &mut HashMap<_, _>| {
            for o in &stage.outs {
                expected.insert(o.path.clone(), None);
            }
        };
        match planner.plan(stage, &expected) {
            Err(PlanError::Fatal(e)) => return Err(e),
            Err(PlanError::Missing(why)) => {
                rebuilt(&mut expected);
                lines.push(line(Planned::Blocked, why));
            }
            Err(PlanError::Pending(dep)) => {
                let by = project
                    .pipeline
                    .stages
                    .iter()
                    .find(|s| s.outs.iter().any(|o| crate::paths::overlap(&o.path, &dep)))
                    .map_or("an upstream stage", |s| s.name.as_str());
                rebuilt(&mut expected);
                lines.push(line(
                    Planned::Pending,
                    format!("dep {dep} is rebuilt by {by} first"),
                ));
            }
            Ok(plan) => match planner.decide(stage, &plan, cache, force).await? {
                Decision::UpToDate { why } => lines.push(line(Planned::UpToDate, why)),
                Decision::Restore { entry, stale, why } => {
                    for path in stale {
                        expected.insert(path.clone(), entry.outs.get(&path).cloned());
                    }
                    lines.push(line(Planned::Restore, why));
                }
                Decision::Run { why } => {
                    rebuilt(&mut expected);
                    lines.push(line(Planned::Run, why));
                }
            },
        }
    }
    Ok(lines)
}
