//! The project's local state under `.cairn/`: what each stage last produced here (its manifest, key
//! and outs, so `status` can explain a miss as a diff), the stat memo, stage logs, and code-scope
//! trees.
//!
//! ```text
//! .cairn/state/stages/<stage>.json   last manifest, key and outs of the stage in this workspace
//! .cairn/state/memo.json             stat memo (see hashing)
//! .cairn/state/trees/<hash>          code-scope trees, to name the files that changed
//! .cairn/logs/<stage>.log            the stage's last log
//! .cairn/cache/                      the local output cache (see cache)
//! ```

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::manifest::Manifest;
use crate::outputs::OutRecord;

/// The state directory's name in the project root.
pub const STATE_DIR: &str = ".cairn";

/// Where things live under `.cairn/`.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub root: PathBuf,
}

impl StateDir {
    pub fn new(project_root: &Path) -> StateDir {
        StateDir {
            root: project_root.join(STATE_DIR),
        }
    }

    /// Creates the directory with a `.gitignore` of `*`, so the state never shows in `git status`.
    pub fn create(&self) -> io::Result<()> {
        let ignore = self.root.join(".gitignore");
        if !ignore.exists() {
            write_atomic(&ignore, b"# Cairn's local state and cache\n*\n")?;
        }
        Ok(())
    }

    pub fn memo_file(&self) -> PathBuf {
        self.root.join("state").join("memo.json")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    pub fn log_file(&self, stage: &str) -> PathBuf {
        self.root.join("logs").join(format!("{stage}.log"))
    }

    fn stage_file(&self, stage: &str) -> PathBuf {
        self.root
            .join("state")
            .join("stages")
            .join(format!("{stage}.json"))
    }

    fn tree_file(&self, hash: &str) -> PathBuf {
        self.root.join("state").join("trees").join(hash)
    }

    /// What the stage last produced here; `None` if it never ran (or the record is unreadable).
    pub fn stage(&self, stage: &str) -> Option<StageState> {
        let bytes = std::fs::read(self.stage_file(stage)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn save_stage(&self, stage: &str, state: &StageState) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(state).map_err(io::Error::other)?;
        write_atomic(&self.stage_file(stage), &bytes)
    }

    /// Keeps a code-scope tree (encoded) by its hash.
    pub fn save_tree(&self, hash: &str, encoded: &[u8]) -> io::Result<()> {
        let path = self.tree_file(hash);
        if path.exists() {
            return Ok(());
        }
        write_atomic(&path, encoded)
    }

    pub fn tree(&self, hash: &str) -> Option<Vec<u8>> {
        std::fs::read(self.tree_file(hash)).ok()
    }
}

/// A stage's last result in this workspace.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageState {
    pub key: String,
    pub manifest: Manifest,
    /// The outs as they were left: path → content.
    pub outs: BTreeMap<String, OutRecord>,
    /// The MLflow run that produced the outs (the stage's own run when it ran; when restored, the
    /// run that first computed them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_run_id: Option<String>,
}

/// A fresh temporary path in `path`'s directory (unique across processes and threads).
pub fn temp_beside(path: &Path) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("f");
    path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Writes a file whole or not at all: a temporary file beside it, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("no parent directory"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = temp_beside(path);
    std::fs::File::create(&tmp)?.write_all(bytes)?;
    std::fs::rename(&tmp, path)
}
