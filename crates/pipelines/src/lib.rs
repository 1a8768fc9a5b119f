//! Cairn's pipelines, without HTTP: the pipeline file (`cairn.yaml`, or a `dvc.yaml` as it is), the DAG
//! its outs and deps make, cache keys that cover everything a stage's result depends on, outputs kept
//! content-addressed, and the scheduler that runs what changed.
//!
//! - [`project::Project`] loads a file: [`parse`] (positions from [`yaml`], `${}` from
//!   [`interpolate`], params from [`params`]) into a [`spec::Pipeline`], then [`dag::Dag`].
//! - [`plan::Planner`] computes a stage's [`manifest::Manifest`] from the workspace ([`hashing`] with
//!   its stat memo, [`code_scope`]) and decides: up to date, restore from the [`cache::OutputCache`],
//!   or run — with the reason, a diff of manifests.
//! - [`runner::Runner`] runs the DAG on an [`executor::Executor`] ([`local::LocalExecutor`] here; the
//!   Ray executor is the CLI's, as it speaks HTTP), recording every stage through a
//!   [`tracker::Tracker`] (MLflow runs, implemented by the CLI).
//! - [`status`] and [`imports`] answer `cairn pipeline status` and `validate`.
//!
//! Depends on no HTTP client or server: the CLI brings MLflow REST, the server (later) the API.

pub mod cache;
pub mod ci_report;
pub mod code_scope;
pub mod confidence;
pub mod dag;
pub mod error;
pub mod executor;
pub mod gates;
pub mod hashing;
pub mod imports;
pub mod interpolate;
pub mod local;
pub mod manifest;
pub mod metrics;
pub mod outputs;
pub mod params;
pub mod params_guard;
pub mod parse;
pub mod paths;
pub mod plan;
pub mod project;
pub mod report;
pub mod run_policy;
pub mod runner;
pub mod snapshot;
pub mod spec;
mod stage_run;
pub mod state;
pub mod status;
pub mod tracker;
mod triggers_and_gates;
pub mod yaml;

pub use error::{PipelineError, Result};
pub use project::Project;

#[cfg(test)]
pub(crate) mod testutil {
    use std::path::Path;

    /// A project in a temporary directory: `files` written (path, content), then `cairn.yaml` loaded.
    pub fn project(files: &[(&str, &str)]) -> (tempfile::TempDir, crate::Result<crate::Project>) {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), files);
        let p = crate::Project::load(&dir.path().join("cairn.yaml"), &[]);
        (dir, p)
    }

    pub fn write(root: &Path, files: &[(&str, &str)]) {
        for (path, content) in files {
            let full = root.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, content).unwrap();
        }
    }

    /// The error of loading `yaml` as cairn.yaml, with the temporary directory cut from the path.
    pub fn error(yaml: &str, files: &[(&str, &str)]) -> String {
        let mut all = vec![("cairn.yaml", yaml)];
        all.extend_from_slice(files);
        let (dir, p) = project(&all);
        let text = p.expect_err("the file should be refused").to_string();
        text.replace(&format!("{}/", dir.path().display()), "")
    }
}
