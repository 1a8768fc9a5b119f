//! A stage's cache manifest — everything its result depends on — its key (BLAKE3 of the manifest's
//! canonical JSON), and the explanation of a miss as the difference between two manifests.
//!
//! In the key: the commands after interpolation, the wdir, every dep's content hash, the declared
//! params' values, the declared env vars' values (hashed: the state on disk must not hold secrets), the
//! lock file's hash, the code scope's tree hash and the declared out paths. Not in it: run ids, times,
//! the host, the executor — so a result computed anywhere satisfies a run anywhere.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hashing::{Tree, hash_bytes};
use crate::params::display;

/// Bumped when the manifest's meaning changes, so old cache entries stop matching.
pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRef {
    pub path: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRef {
    /// The tree hash of the code scope's files.
    pub hash: String,
    pub files: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub v: u32,
    pub cmd: Vec<String>,
    pub wdir: String,
    /// Project-relative dep path → content hash.
    pub deps: BTreeMap<String, String>,
    /// Param (`train.C`, or `file:key` for another file) → value.
    pub params: BTreeMap<String, Value>,
    /// Env var → hash of its value (`None`: unset).
    pub env: BTreeMap<String, Option<String>>,
    pub lock: Option<LockRef>,
    pub code: CodeRef,
    pub outs: Vec<String>,
}

impl Manifest {
    /// The cache key.
    pub fn key(&self) -> String {
        let value = serde_json::to_value(self).expect("a manifest is JSON");
        let mut text = String::from("cairn-stage-key\n");
        canonical_json(&value, &mut text);
        hash_bytes(text.as_bytes())
    }
}

/// The hash an env var's value is kept as.
pub fn env_value_hash(value: &str) -> String {
    hash_bytes(format!("cairn-env\n{value}").as_bytes())
}

/// JSON with object keys sorted at every level and no whitespace: one text per value.
pub fn canonical_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Why `new` misses where `old` was: one line per differing component, in manifest order
/// (`cmd changed`, `dep prepared.csv changed`, `params.train.C 1.0 → 0.5`, `code changed: util.py`).
/// `tree` looks up a code-scope tree by hash, to name the files that changed.
pub fn explain(old: &Manifest, new: &Manifest, tree: impl Fn(&str) -> Option<Tree>) -> Vec<String> {
    let mut why = Vec::new();
    if old.v != new.v {
        why.push(format!("cache format changed (v{} → v{})", old.v, new.v));
    }
    if old.cmd != new.cmd {
        why.push("cmd changed".to_owned());
    }
    if old.wdir != new.wdir {
        why.push(format!("wdir {} → {}", old.wdir, new.wdir));
    }
    for path in union(old.deps.keys(), new.deps.keys()) {
        match (old.deps.get(path), new.deps.get(path)) {
            (Some(a), Some(b)) if a != b => why.push(format!("dep {path} changed")),
            (None, Some(_)) => why.push(format!("dep {path} added")),
            (Some(_), None) => why.push(format!("dep {path} removed")),
            _ => {}
        }
    }
    for key in union(old.params.keys(), new.params.keys()) {
        match (old.params.get(key), new.params.get(key)) {
            (Some(a), Some(b)) if a != b => {
                why.push(format!("params.{key} {} → {}", display(a), display(b)));
            }
            (None, Some(b)) => why.push(format!("params.{key} added ({})", display(b))),
            (Some(_), None) => why.push(format!("params.{key} removed")),
            _ => {}
        }
    }
    for name in union(old.env.keys(), new.env.keys()) {
        match (old.env.get(name), new.env.get(name)) {
            (Some(a), Some(b)) if a == b => {}
            (_, Some(None)) => why.push(format!("env {name} unset")),
            (None, Some(_)) => why.push(format!("env {name} declared")),
            (Some(_), None) => why.push(format!("env {name} no longer declared")),
            _ => why.push(format!("env {name} changed")),
        }
    }
    match (&old.lock, &new.lock) {
        (Some(a), Some(b)) if a.path == b.path && a.hash != b.hash => {
            why.push(format!("lock {} changed", b.path));
        }
        (a, b) if a != b => why.push("lock file changed".to_owned()),
        _ => {}
    }
    if old.code.hash != new.code.hash {
        why.push(code_change(
            tree(&old.code.hash).as_ref(),
            tree(&new.code.hash).as_ref(),
        ));
    }
    if old.outs != new.outs {
        why.push("outs changed".to_owned());
    }
    why
}

fn union<'a>(
    a: impl Iterator<Item = &'a String>,
    b: impl Iterator<Item = &'a String>,
) -> BTreeSet<&'a String> {
    a.chain(b).collect()
}

/// `code changed: a.py, util/x.py (+3 more)`, or just `code changed` without both trees.
fn code_change(old: Option<&Tree>, new: Option<&Tree>) -> String {
    let (Some(old), Some(new)) = (old, new) else {
        return "code changed".to_owned();
    };
    let index = |t: &Tree| -> BTreeMap<String, String> {
        t.entries
            .iter()
            .map(|e| (e.path.clone(), e.file.hash.clone()))
            .collect()
    };
    let (a, b) = (index(old), index(new));
    let mut changed: Vec<String> = Vec::new();
    for path in union(a.keys(), b.keys()) {
        match (a.get(path), b.get(path)) {
            (Some(x), Some(y)) if x != y => changed.push(path.clone()),
            (None, Some(_)) => changed.push(format!("{path} (new)")),
            (Some(_), None) => changed.push(format!("{path} (deleted)")),
            _ => {}
        }
    }
    const SHOWN: usize = 3;
    let more = changed.len().saturating_sub(SHOWN);
    changed.truncate(SHOWN);
    let mut text = format!("code changed: {}", changed.join(", "));
    if more > 0 {
        text.push_str(&format!(" (+{more} more)"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashing::{FileHash, TreeEntry};
    use serde_json::json;

    pub(crate) fn manifest() -> Manifest {
        Manifest {
            v: MANIFEST_VERSION,
            cmd: vec!["python train.py".into()],
            wdir: ".".into(),
            deps: BTreeMap::from([
                ("prepared.csv".into(), "aa".into()),
                ("train.py".into(), "bb".into()),
            ]),
            params: BTreeMap::from([("train.C".into(), json!(1.0))]),
            env: BTreeMap::from([("SEED".into(), Some(env_value_hash("7")))]),
            lock: Some(LockRef {
                path: "uv.lock".into(),
                hash: "cc".into(),
            }),
            code: CodeRef {
                hash: "dd".into(),
                files: 2,
            },
            outs: vec!["model".into()],
        }
    }

    #[test]
    fn every_component_changes_the_key() {
        let base = manifest();
        let k = base.key();
        assert_eq!(k, manifest().key(), "the key is deterministic");
        type Change = Box<dyn Fn(&mut Manifest)>;
        let changes: Vec<(&str, Change)> = vec![
            ("cmd", Box::new(|m| m.cmd[0].push_str(" --fast"))),
            ("wdir", Box::new(|m| m.wdir = "src".into())),
            (
                "dep",
                Box::new(|m| *m.deps.get_mut("prepared.csv").unwrap() = "ab".into()),
            ),
            (
                "param",
                Box::new(|m| *m.params.get_mut("train.C").unwrap() = json!(0.5)),
            ),
            (
                "param type",
                Box::new(|m| *m.params.get_mut("train.C").unwrap() = json!("1.0")),
            ),
            (
                "env",
                Box::new(|m| *m.env.get_mut("SEED").unwrap() = Some(env_value_hash("8"))),
            ),
            (
                "env unset",
                Box::new(|m| *m.env.get_mut("SEED").unwrap() = None),
            ),
            (
                "lock",
                Box::new(|m| m.lock.as_mut().unwrap().hash = "cd".into()),
            ),
            ("code", Box::new(|m| m.code.hash = "de".into())),
            ("outs", Box::new(|m| m.outs.push("eval.json".into()))),
        ];
        for (what, change) in changes {
            let mut m = manifest();
            change(&mut m);
            assert_ne!(m.key(), k, "{what} must change the key");
        }
    }

    #[test]
    fn explanations_name_what_changed() {
        let old = manifest();
        let mut new = manifest();
        *new.params.get_mut("train.C").unwrap() = json!(0.5);
        *new.deps.get_mut("prepared.csv").unwrap() = "ff".into();
        assert_eq!(
            explain(&old, &new, |_| None),
            ["dep prepared.csv changed", "params.train.C 1.0 → 0.5"]
        );
        let mut new = manifest();
        new.cmd = vec!["python train.py --x".into()];
        *new.env.get_mut("SEED").unwrap() = Some(env_value_hash("9"));
        assert_eq!(
            explain(&old, &new, |_| None),
            ["cmd changed", "env SEED changed"]
        );
        assert!(explain(&old, &manifest(), |_| None).is_empty());
    }

    #[test]
    fn code_changes_name_the_files() {
        let file = |h: &str| FileHash {
            hash: h.into(),
            size: 1,
            exec: false,
        };
        let t1 = Tree {
            entries: vec![
                TreeEntry {
                    path: "a.py".into(),
                    file: file("1"),
                },
                TreeEntry {
                    path: "util.py".into(),
                    file: file("2"),
                },
            ],
        };
        let t2 = Tree {
            entries: vec![
                TreeEntry {
                    path: "a.py".into(),
                    file: file("1"),
                },
                TreeEntry {
                    path: "util.py".into(),
                    file: file("3"),
                },
                TreeEntry {
                    path: "new.py".into(),
                    file: file("4"),
                },
            ],
        };
        let mut old = manifest();
        old.code.hash = t1.hash();
        let mut new = manifest();
        new.code.hash = t2.hash();
        let trees = [t1, t2];
        let why = explain(&old, &new, |h| {
            trees.iter().find(|t| t.hash() == h).cloned()
        });
        assert_eq!(why, ["code changed: new.py (new), util.py"]);
    }
}
