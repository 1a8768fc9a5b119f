//! The DVC trap, checked: Python modules a stage's script imports that live in the project but are
//! neither among the stage's deps nor in its code scope — a change to them would not rerun the stage.
//!
//! A plain scanner, not a Python parser: `import a.b, c as d` and `from a.b import x, y` (and relative
//! `from . import x`) at any indentation, outside strings only as far as line starts go. Modules
//! resolve against the importing file's directory (relative imports), then the stage's wdir and the
//! project root, as `a/b.py` or `a/b/__init__.py`. Imports of resolved project modules are followed.

use std::collections::{BTreeSet, VecDeque};
use std::path::Path;

use crate::paths;
use crate::spec::Stage;

/// One finding: `script` imports `module`, found at `file`, outside the stage's deps and code scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFinding {
    pub stage: String,
    /// The project file holding the import.
    pub importer: String,
    pub module: String,
    /// The project file the module resolves to.
    pub file: String,
}

/// The Python scripts a stage's commands run (`python x.py`, `python3 -u x.py`, `python -m pkg.mod`),
/// as project-relative paths that exist.
pub fn scripts(root: &Path, stage: &Stage) -> Vec<String> {
    let mut out = Vec::new();
    for cmd in &stage.cmd {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        for (i, w) in words.iter().enumerate() {
            let name = w.rsplit('/').next().unwrap_or(w);
            if !(name.starts_with("python")
                && name[6..].chars().all(|c| c.is_ascii_digit() || c == '.'))
            {
                continue;
            }
            let mut rest = words[i + 1..].iter();
            while let Some(arg) = rest.next() {
                if *arg == "-m" {
                    if let Some(m) = rest.next() {
                        let base = stage.wdir.clone();
                        if let Some(f) = resolve_module(root, &[base], m) {
                            out.push(f);
                        }
                    }
                    break;
                }
                if arg.starts_with('-') {
                    continue;
                }
                if arg.ends_with(".py")
                    && let Ok(p) = paths::resolve(&stage.wdir, arg)
                    && root.join(&p).is_file()
                {
                    out.push(p);
                }
                break;
            }
        }
    }
    out
}

/// Modules named by the import statements of Python source, with the number of leading dots of a
/// relative import (`from ..a import b` → (2, "a"), and (2, "a.b") as a possible submodule).
pub fn imports(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for line in source.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(rest) = line.strip_prefix("import ") {
            for part in rest.split(',') {
                let name = part.split_whitespace().next().unwrap_or("");
                if !name.is_empty() {
                    out.push((0, name.to_owned()));
                }
            }
        } else if let Some(rest) = line.strip_prefix("from ") {
            let Some((module, names)) = rest.split_once(" import ") else {
                continue;
            };
            let module = module.trim();
            let dots = module.chars().take_while(|c| *c == '.').count();
            let base = &module[dots..];
            if !base.is_empty() {
                out.push((dots, base.to_owned()));
            }
            // `from a import b` may import the submodule a.b.
            for n in names.trim_matches(|c| c == '(' || c == ')').split(',') {
                let n = n.split_whitespace().next().unwrap_or("");
                if !n.is_empty() && n != "*" {
                    let full = if base.is_empty() {
                        n.to_owned()
                    } else {
                        format!("{base}.{n}")
                    };
                    out.push((dots.max(usize::from(base.is_empty())), full));
                }
            }
        }
    }
    out
}

/// `a.b` as `a/b.py` or `a/b/__init__.py` under the first of `bases` that has it.
fn resolve_module(root: &Path, bases: &[String], module: &str) -> Option<String> {
    let rel = module.replace('.', "/");
    for base in bases {
        for candidate in [format!("{rel}.py"), format!("{rel}/__init__.py")] {
            if let Ok(p) = paths::resolve(base, &candidate)
                && root.join(&p).is_file()
            {
                return Some(p);
            }
        }
    }
    None
}

/// Follows the imports of `stage`'s scripts through the project; reports each project module that is
/// outside the stage's deps and not in `in_scope` (the stage's code-scope files).
pub fn check(root: &Path, stage: &Stage, in_scope: &BTreeSet<String>) -> Vec<ImportFinding> {
    let covered =
        |f: &str| in_scope.contains(f) || stage.deps.iter().any(|d| paths::within(f, &d.path));
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut queue: VecDeque<String> = scripts(root, stage).into();
    let mut findings = Vec::new();
    while let Some(file) = queue.pop_front() {
        if !seen.insert(file.clone()) {
            continue;
        }
        let Ok(source) = std::fs::read_to_string(root.join(&file)) else {
            continue;
        };
        let dir = match file.rsplit_once('/') {
            Some((d, _)) => d.to_owned(),
            None => ".".to_owned(),
        };
        for (dots, module) in imports(&source) {
            let bases: Vec<String> = if dots > 0 {
                let mut base = dir.clone();
                for _ in 1..dots {
                    base = paths::resolve(&base, "..").unwrap_or_else(|_| ".".into());
                }
                vec![base]
            } else {
                vec![dir.clone(), stage.wdir.clone(), ".".to_owned()]
            };
            let Some(found) = resolve_module(root, &bases, &module) else {
                continue; // not a project module: the standard library or an installed package
            };
            if !covered(&found) && !findings.iter().any(|f: &ImportFinding| f.file == found) {
                findings.push(ImportFinding {
                    stage: stage.name.clone(),
                    importer: file.clone(),
                    module: module.clone(),
                    file: found.clone(),
                });
            }
            queue.push_back(found);
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_forms() {
        let src = "import os, helpers.io as hio\nfrom pkg.mod import a, b  # c\n    from . import sib\nx = 'import nope'\n";
        let got = imports(src);
        assert!(got.contains(&(0, "os".into())));
        assert!(got.contains(&(0, "helpers.io".into())));
        assert!(got.contains(&(0, "pkg.mod".into())));
        assert!(got.contains(&(0, "pkg.mod.a".into())));
        assert!(got.contains(&(1, "sib".into())));
        assert!(!got.iter().any(|(_, m)| m == "nope"));
    }

    #[test]
    fn follows_project_modules_and_reports_those_out_of_scope() {
        let dir = tempfile::tempdir().unwrap();
        crate::testutil::write(
            dir.path(),
            &[
                (
                    "src/train.py",
                    "import numpy\nfrom pkg import util\nimport helpers\n",
                ),
                ("src/helpers.py", "from . import sibling\n"),
                ("src/sibling.py", ""),
                ("pkg/__init__.py", ""),
                ("pkg/util.py", "from .deep import x\n"),
                ("pkg/deep.py", "x = 1\n"),
            ],
        );
        let yaml = "stages:\n  t:\n    cmd: python -u src/train.py --fast\n    deps: [src/train.py, pkg/util.py]\n";
        crate::testutil::write(dir.path(), &[("cairn.yaml", yaml)]);
        let p = crate::Project::load(&dir.path().join("cairn.yaml"), &[]).unwrap();
        let stage = &p.pipeline.stages[0];
        assert_eq!(scripts(dir.path(), stage), ["src/train.py"]);
        let scope = BTreeSet::from(["src/helpers.py".to_owned()]);
        let mut found: Vec<String> = check(dir.path(), stage, &scope)
            .into_iter()
            .map(|f| f.file)
            .collect();
        found.sort();
        // pkg/util.py is a dep and src/helpers.py in scope; what they import is not.
        assert_eq!(found, ["pkg/__init__.py", "pkg/deep.py", "src/sibling.py"]);
    }
}
