//! A loaded project: the pipeline file parsed, its params loaded (with overrides), the DAG built, and
//! where its local state lives.

use std::path::{Path, PathBuf};

use crate::dag::Dag;
use crate::error::{PipelineError, Result};
use crate::params::{Override, Params};
use crate::parse;
use crate::spec::Pipeline;
use crate::state::StateDir;

/// The pipeline files looked for when none is named, in order.
pub const DEFAULT_FILES: &[&str] = &["cairn.yaml", "dvc.yaml"];

#[derive(Debug, Clone)]
pub struct Project {
    /// The directory holding the pipeline file (absolute): paths in the file are relative to it.
    pub root: PathBuf,
    /// The pipeline file as the user named it, for messages.
    pub file: PathBuf,
    /// The pipeline file relative to the root.
    pub file_name: String,
    pub pipeline: Pipeline,
    pub params: Params,
    pub dag: Dag,
    pub state: StateDir,
}

impl Project {
    /// The pipeline file to use: `explicit`, else `cairn.yaml`, else `dvc.yaml` in the current
    /// directory.
    pub fn find_file(explicit: Option<&Path>) -> Result<PathBuf> {
        if let Some(f) = explicit {
            return Ok(f.to_path_buf());
        }
        DEFAULT_FILES
            .iter()
            .map(PathBuf::from)
            .find(|f| f.is_file())
            .ok_or_else(|| {
                PipelineError::Usage(
                    "no cairn.yaml (or dvc.yaml) here: run in the project's directory or pass --file"
                        .into(),
                )
            })
    }

    pub fn load(file: &Path, overrides: &[Override]) -> Result<Project> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            PipelineError::Usage(format!(
                "cannot read the pipeline file {}: {e}",
                file.display()
            ))
        })?;
        let full = std::fs::canonicalize(file).map_err(|e| PipelineError::io(file, e))?;
        let root = full
            .parent()
            .expect("a file has a parent directory")
            .to_path_buf();
        let file_name = full
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        crate::params_guard::recover(&root);
        let (pipeline, params) = parse::parse(file, &root, &text, overrides)?;
        let dag = Dag::build(file, &pipeline)?;
        Ok(Project {
            state: StateDir::new(&root),
            root,
            file: file.to_path_buf(),
            file_name,
            pipeline,
            params,
            dag,
        })
    }

    /// Stage indexes for names given on the command line; `train` also names every `train@…` of a
    /// foreach.
    pub fn stage_indexes(&self, names: &[String]) -> Result<Vec<usize>> {
        let mut out = Vec::new();
        for name in names {
            let found: Vec<usize> = self
                .pipeline
                .stages
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    s.name == *name
                        || s.name
                            .strip_prefix(name.as_str())
                            .is_some_and(|r| r.starts_with('@'))
                })
                .map(|(i, _)| i)
                .collect();
            if found.is_empty() {
                let known: Vec<&str> = self
                    .pipeline
                    .stages
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect();
                return Err(PipelineError::Usage(format!(
                    "no stage '{name}' in {} (stages: {})",
                    self.file.display(),
                    known.join(", ")
                )));
            }
            out.extend(found);
        }
        Ok(out)
    }
}
