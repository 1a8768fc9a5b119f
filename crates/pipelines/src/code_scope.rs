//! A stage's code scope: the project files, besides its deps, that its result depends on.
//!
//! The project's files, for the default scope, are those git tracks (`git ls-files`, when the project
//! is in a repository) and, tracked or not, every source file git would not ignore (`.py`, `.R`, `.sh`,
//! `.ipynb`, … — `.gitignore` and the excludes are honoured with or without a repository), minus
//! hidden files and directories (`.git`, `.cairn`, `.venv`) and byte-code caches (`__pycache__`,
//! `*.pyc`). Untracked files that are not source code (a report a CI job writes, a log, a counter) are
//! not in it, so they cannot make every stage miss. The default scope ([`CodeScope::Project`]) is all
//! of those except what the key already covers another way: any stage's declared deps (through the
//! DAG), any stage's outs, the params files and the pipeline file. So an undeclared helper module is
//! in every stage's key by default — the DVC trap closed — while declaring deps still lets a change
//! stay local to the stages that read them. `code:` globs replace the default with the files they
//! match.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

use globset::{Glob, GlobSetBuilder};

use crate::paths;
use crate::spec::{CodeScope, Pipeline, Stage};

/// Extensions of source files, counted in the default scope even when git does not track them.
const SOURCE: &[&str] = &[
    "py", "pyx", "pxd", "ipynb", "r", "jl", "sh", "bash", "zsh", "sql", "scala", "java", "kt",
    "go", "rs", "js", "mjs", "ts", "rb", "pl", "lua", "c", "h", "cc", "cpp", "hpp", "cu", "m",
    "swift", "cs", "php",
];

fn is_source(path: &Path) -> bool {
    path.extension()
        .and_then(|x| x.to_str())
        .is_some_and(|x| SOURCE.contains(&x.to_ascii_lowercase().as_str()))
}

/// Left out even when tracked: our state, hidden directories, byte code.
fn never(rel: &str) -> bool {
    rel.split('/')
        .any(|part| part.starts_with('.') || part == "__pycache__")
        || rel.ends_with(".pyc")
}

/// The files git tracks under `root`, relative to it; empty outside a repository (or without git).
fn git_tracked(root: &Path) -> Vec<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z", "--cached"])
        .stderr(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => o
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .filter_map(|p| std::str::from_utf8(p).ok().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Every project file the default scope can hold, project-relative and sorted.
pub fn project_files(root: &Path) -> io::Result<Vec<String>> {
    let mut out: BTreeSet<String> = git_tracked(root)
        .into_iter()
        .filter(|f| !never(f))
        .collect();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(true)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(true)
        .require_git(false)
        .parents(true)
        .follow_links(false)
        .filter_entry(|e| e.file_name() != "__pycache__")
        .build();
    for entry in walker {
        let entry = entry.map_err(io::Error::other)?;
        if entry.file_type().is_some_and(|t| t.is_file()) && is_source(entry.path()) {
            out.insert(crate::hashing::relative(entry.path(), root)?);
        }
    }
    Ok(out.into_iter().collect())
}

/// The files of `stage`'s code scope among the project's `files`.
pub fn scope(
    pipeline: &Pipeline,
    pipeline_file: &str,
    stage: &Stage,
    files: &[String],
) -> Result<Vec<String>, globset::Error> {
    let is_out = |f: &str| {
        pipeline
            .stages
            .iter()
            .any(|s| s.outs.iter().any(|o| paths::within(f, &o.path)))
    };
    match &stage.code {
        CodeScope::Project => {
            let mut params_files: Vec<&str> = vec![pipeline.params_file.as_str()];
            for s in &pipeline.stages {
                params_files.extend(s.params.iter().map(|p| p.file.as_str()));
            }
            let excluded = |f: &str| {
                f == pipeline_file
                    || f == "dvc.lock"
                    || params_files.contains(&f)
                    || is_out(f)
                    || pipeline.stages.iter().any(|s| {
                        s.deps.iter().any(|d| paths::within(f, &d.path))
                            || s.lock.as_ref().is_some_and(|l| l.path == f)
                    })
            };
            Ok(files.iter().filter(|f| !excluded(f)).cloned().collect())
        }
        CodeScope::Globs(globs) => {
            let mut set = GlobSetBuilder::new();
            for g in globs {
                match g.strip_suffix('/') {
                    Some(dir) => set.add(Glob::new(&format!("{dir}/**"))?),
                    None => {
                        set.add(Glob::new(g)?);
                        set.add(Glob::new(&format!("{g}/**"))?)
                    }
                };
            }
            let set = set.build()?;
            Ok(files
                .iter()
                .filter(|f| {
                    set.is_match(f.as_str())
                        && !is_out(f)
                        && !stage.deps.iter().any(|d| paths::within(f, &d.path))
                })
                .cloned()
                .collect())
        }
    }
}
