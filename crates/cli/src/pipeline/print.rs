//! What `cairn run` and `cairn pipeline status|validate` print for people.

use std::collections::BTreeSet;

use cairn_pipelines::report::{RunReport, StageStatus};
use cairn_pipelines::status::StageLine;
use cairn_pipelines::{PipelineError, Project, code_scope, imports};

/// Lines of the log shown for a failed stage.
const LOG_TAIL: usize = 20;

fn width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(str::len).max().unwrap_or(5).max(5)
}

/// One line a stage: name, what a run would do, why.
pub fn status_table(lines: &[StageLine], dry_run: bool) -> String {
    let w = width(lines.iter().map(|l| l.name.as_str()));
    let mut out = String::new();
    if dry_run {
        out.push_str("dry run: nothing runs\n");
    }
    for l in lines {
        let reason = if l.reason == l.status.as_str() {
            ""
        } else {
            l.reason.as_str()
        };
        let line = format!("{:w$}  {:10}  {reason}", l.name, l.status.as_str());
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One line a stage: name, status, time, why; then the pipeline run.
pub fn run_table(report: &RunReport) -> String {
    let w = width(report.stages.iter().map(|s| s.name.as_str()));
    let mut out = String::new();
    for s in &report.stages {
        let time = if s.duration_ms < 1000 {
            format!("{} ms", s.duration_ms)
        } else {
            format!("{:.1} s", s.duration_ms as f64 / 1000.0)
        };
        out.push_str(&format!(
            "{:w$}  {:7}  {time:>9}  {}\n",
            s.name,
            s.status.as_str(),
            s.reason
        ));
    }
    for g in &report.gates {
        let mark = if g.passed { "passed" } else { "FAILED" };
        out.push_str(&format!("gate {}: {mark}\n", g.name));
    }
    if let Some(id) = &report.pipeline_run_id {
        out.push_str(&format!("pipeline run {id}\n"));
    }
    out
}

/// The tail of each failed stage's log, on stderr.
pub fn failed_logs(project: &Project, report: &RunReport) {
    for s in report
        .stages
        .iter()
        .filter(|s| s.status == StageStatus::Failed)
    {
        let path = project.state.log_file(&s.name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(LOG_TAIL)..];
        eprintln!(
            "--- stage {} failed: {} (last {} lines of {}) ---",
            s.name,
            s.reason,
            tail.len(),
            path.display()
        );
        for l in tail {
            eprintln!("{l}");
        }
    }
}

/// What `validate` reports beyond the file's own errors: deps nothing produces and that do not
/// exist, and project modules imported from outside a stage's deps and code scope.
pub fn validation_problems(project: &Project) -> Result<Vec<String>, PipelineError> {
    let files = code_scope::project_files(&project.root)
        .map_err(|e| PipelineError::io(&project.root, e))?;
    let mut problems = Vec::new();
    for stage in &project.pipeline.stages {
        for d in &stage.deps {
            let produced = project.pipeline.stages.iter().any(|s| {
                s.outs
                    .iter()
                    .any(|o| cairn_pipelines::paths::overlap(&o.path, &d.path))
            });
            if !produced && !project.root.join(&d.path).exists() {
                problems.push(format!(
                    "{}:{}: stage '{}': dep {} does not exist and no stage produces it",
                    d.pos.line, d.pos.col, stage.name, d.path
                ));
            }
        }
        let scope: BTreeSet<String> =
            code_scope::scope(&project.pipeline, &project.file_name, stage, &files)
                .map_err(|e| PipelineError::Usage(format!("code globs: {e}")))?
                .into_iter()
                .collect();
        for f in imports::check(&project.root, stage, &scope) {
            problems.push(format!(
                "{}:{}: stage '{}': {} imports {} ({}), which is neither a dep nor in the stage's code scope: \
                 changing it would not rerun the stage (add it to deps or code)",
                stage.pos.line, stage.pos.col, f.stage, f.importer, f.module, f.file
            ));
        }
    }
    Ok(problems)
}
