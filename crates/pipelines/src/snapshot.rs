//! What `cairn pipeline register` sends: the project files a run needs, each with its content hash —
//! the default code scope's files (git-tracked and source files), the pipeline file, params and lock
//! files, and every dep that no stage writes (source data) — and the file's triggers as JSON. Outs are
//! products, not inputs: they are left out, as are Cairn's state and hidden directories.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::Project;
use crate::code_scope::project_files;
use crate::error::{PipelineError, Result};
use crate::hashing::FileHasher;
use crate::paths;
use crate::spec::Pipeline;

/// One file of the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotEntry {
    /// Project-relative, `/`-separated.
    pub path: String,
    pub absolute: PathBuf,
    /// BLAKE3, 64 hex digits.
    pub digest: String,
    pub size: u64,
    pub executable: bool,
}

/// The project's snapshot, sorted by path.
pub fn collect(project: &Project, hasher: &FileHasher) -> Result<Vec<SnapshotEntry>> {
    let p = &project.pipeline;
    let io = |e| PipelineError::io(&project.root, e);
    let is_out = |f: &str| {
        p.stages
            .iter()
            .any(|s| s.outs.iter().any(|o| paths::within(f, &o.path)))
    };
    let mut wanted: Vec<String> = project_files(&project.root).map_err(io)?;
    wanted.push(project.file_name.clone());
    wanted.push(p.params_file.clone());
    for s in &p.stages {
        wanted.extend(s.params.iter().map(|r| r.file.clone()));
        wanted.extend(s.lock.iter().map(|l| l.path.clone()));
        wanted.extend(s.deps.iter().map(|d| d.path.clone()));
    }
    let mut files: BTreeMap<String, SnapshotEntry> = BTreeMap::new();
    for rel in wanted {
        if is_out(&rel) || files.contains_key(&rel) {
            continue;
        }
        let Some(content) = hasher.content(&rel).map_err(io)? else {
            continue; // a params file or dep that does not exist (yet): a run reports it
        };
        match content {
            crate::hashing::Content::File(f) => {
                files.insert(rel.clone(), entry(project, &rel, f));
            }
            crate::hashing::Content::Dir(tree) => {
                for e in tree.entries {
                    let path = format!("{rel}/{}", e.path);
                    if !is_out(&path) {
                        files.insert(path.clone(), entry(project, &path, e.file));
                    }
                }
            }
        }
    }
    Ok(files.into_values().collect())
}

fn entry(project: &Project, rel: &str, f: crate::hashing::FileHash) -> SnapshotEntry {
    SnapshotEntry {
        path: rel.to_owned(),
        absolute: project.root.join(rel),
        digest: f.hash,
        size: f.size,
        executable: f.exec,
    }
}

/// The file's `triggers:` as the server stores them: `{name: {kind, …}}`.
pub fn triggers(p: &Pipeline) -> Value {
    Value::Object(
        p.triggers
            .iter()
            .map(|t| (t.name.clone(), t.spec.to_json()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use crate::testutil::project;

    #[test]
    fn snapshot_holds_inputs_not_outputs() {
        let (dir, p) = project(&[
            (
                "cairn.yaml",
                "stages:\n  prep:\n    cmd: python prep.py\n    deps: [prep.py, data/raw.csv]\n    \
                 params: [prep.scale]\n    outs: [out.csv]\ntriggers:\n  nightly: {cron: \"0 3 * * *\"}\n",
            ),
            ("params.yaml", "prep:\n  scale: 2\n"),
            ("prep.py", "print(1)\n"),
            ("helpers.py", "X = 1\n"),
            ("data/raw.csv", "a\n1\n"),
            ("out.csv", "stale\n"),
            ("notes.txt", "untracked, not source\n"),
            (".cairn/state/x", "state\n"),
        ]);
        let p = p.unwrap();
        let hasher = crate::hashing::FileHasher::open(dir.path(), &dir.path().join("memo"));
        let paths: Vec<String> = super::collect(&p, &hasher)
            .unwrap()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(
            paths,
            [
                "cairn.yaml",
                "data/raw.csv",
                "helpers.py",
                "params.yaml",
                "prep.py"
            ]
        );
        let t = super::triggers(&p.pipeline);
        assert_eq!(t["nightly"]["cron"], "0 3 * * *");
    }
}
