//! `-P key=value` for unchanged scripts: while the run lasts, each overridden params file holds the
//! overridden values (written as JSON, which every YAML reader reads), and the original bytes go back
//! when the run ends — also when it fails. A copy of the original waits in `.cairn/params-backup/`
//! so a run killed outright can be undone by the next one.

use std::path::{Path, PathBuf};

use crate::error::{PipelineError, Result};
use crate::project::Project;

/// Puts the overridden params files back on drop.
#[derive(Debug)]
pub struct ParamsGuard {
    restore: Vec<(PathBuf, Option<Vec<u8>>, PathBuf)>,
}

impl ParamsGuard {
    /// Writes this run's overrides.
    pub fn write(project: &Project) -> Result<ParamsGuard> {
        let backups = backup_dir(&project.root);
        let mut restore = Vec::new();
        for f in project.params.overridden().filter(|f| f.exists) {
            let path = project.root.join(&f.path);
            let original = f.original.clone().unwrap_or_default();
            let backup = backups.join(f.path.replace('/', "%2F"));
            crate::state::write_atomic(&backup, &original)
                .map_err(|e| PipelineError::io(&backup, e))?;
            let text = serde_json::to_vec_pretty(&f.tree.to_json()).expect("params are JSON");
            crate::state::write_atomic(&path, &text).map_err(|e| PipelineError::io(&path, e))?;
            restore.push((path, Some(original), backup));
        }
        Ok(ParamsGuard { restore })
    }
}

impl Drop for ParamsGuard {
    fn drop(&mut self) {
        for (path, original, backup) in &self.restore {
            let put_back = match original {
                Some(bytes) => crate::state::write_atomic(path, bytes),
                None => std::fs::remove_file(path),
            };
            match put_back {
                Ok(()) => {
                    let _ = std::fs::remove_file(backup);
                }
                Err(e) => tracing::error!(
                    "could not put {} back ({e}); its original is in {}",
                    path.display(),
                    backup.display()
                ),
            }
        }
    }
}

fn backup_dir(root: &Path) -> PathBuf {
    root.join(crate::state::STATE_DIR).join("params-backup")
}

/// Puts back params files from backups a killed run left (called before the params are read).
pub fn recover(root: &Path) {
    let Ok(entries) = std::fs::read_dir(backup_dir(root)) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().replace("%2F", "/");
        if name.starts_with('.') {
            continue; // a temporary file of an interrupted write
        }
        if let Ok(bytes) = std::fs::read(e.path())
            && crate::state::write_atomic(&root.join(&name), &bytes).is_ok()
        {
            tracing::warn!("put {name} back from a run that did not finish");
            let _ = std::fs::remove_file(e.path());
        }
    }
}
