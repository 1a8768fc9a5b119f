//! Params files (`params.yaml` by dvc's convention), key paths into them, and `-P key=value`
//! overrides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{PipelineError, Pos, Result};
use crate::yaml::{self, Kind, Node};

/// The default params file, relative to the project root.
pub const DEFAULT_PARAMS_FILE: &str = "params.yaml";

/// `-P [file:]key.path=value`: a value replacing (or adding) one key for this run. The value is read
/// as YAML, so `0.5` is a number and `abc` a string.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Project-relative params file; `None` is the default file.
    pub file: Option<String>,
    pub key: String,
    pub value: Value,
}

impl Override {
    pub fn parse(text: &str) -> Result<Override> {
        let (lhs, rhs) = text
            .split_once('=')
            .ok_or_else(|| PipelineError::Usage(format!("-P {text}: expected key=value")))?;
        let (file, key) = match lhs.rsplit_once(':') {
            Some((f, k)) => (Some(f.to_owned()), k),
            None => (None, lhs),
        };
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(PipelineError::Usage(format!(
                "-P {text}: '{key}' is not a key path like train.C"
            )));
        }
        let value = yaml::parse(Path::new("-P"), rhs)
            .map_err(|_| PipelineError::Usage(format!("-P {text}: cannot read the value as YAML")))?
            .to_json();
        Ok(Override {
            file,
            key: key.to_owned(),
            value,
        })
    }
}

/// One loaded params file.
#[derive(Debug, Clone)]
pub struct ParamsFile {
    /// Project-relative path.
    pub path: String,
    /// The file's content with the overrides applied (an empty mapping when the file is missing), in
    /// file order (a `foreach` over a params mapping keeps it).
    pub tree: Node,
    pub exists: bool,
    /// The file's bytes before overrides, when an override changed it (written back after the run).
    pub original: Option<Vec<u8>>,
}

/// The params files a pipeline reads, loaded once.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub root: PathBuf,
    pub default_file: String,
    pub files: BTreeMap<String, ParamsFile>,
}

impl Params {
    /// Loads `files` (project-relative) under `root` and applies `overrides`.
    pub fn load(
        root: &Path,
        default_file: &str,
        files: &[String],
        overrides: &[Override],
    ) -> Result<Params> {
        let mut params = Params {
            root: root.to_path_buf(),
            default_file: default_file.to_owned(),
            files: BTreeMap::new(),
        };
        params.ensure(default_file)?;
        for f in files {
            params.ensure(f)?;
        }
        for o in overrides {
            let file = o.file.clone().unwrap_or_else(|| default_file.to_owned());
            params.ensure(&file)?;
            let pf = params.files.get_mut(&file).expect("just loaded");
            if pf.original.is_none() {
                pf.original = Some(if pf.exists {
                    std::fs::read(root.join(&file))
                        .map_err(|e| PipelineError::io(Path::new(&file), e))?
                } else {
                    Vec::new()
                });
            }
            let value = Node::from_json(&o.value, pf.tree.pos);
            pf.tree
                .set_path(&o.key, value)
                .map_err(|why| PipelineError::Usage(format!("-P {}: {why}", o.key)))?;
        }
        Ok(params)
    }

    /// Loads a params file if it is not loaded yet.
    pub fn ensure(&mut self, file: &str) -> Result<()> {
        if self.files.contains_key(file) {
            return Ok(());
        }
        let full = self.root.join(file);
        let (tree, exists) = if full.is_file() {
            let node = yaml::load(&full, Path::new(file))?;
            match node.kind {
                Kind::Map(_) => (node, true),
                Kind::Null => (Node::empty_map(node.pos), true),
                _ => {
                    return Err(PipelineError::config(
                        Path::new(file),
                        node.pos,
                        "a params file must be a mapping of names to values",
                    ));
                }
            }
        } else {
            (Node::empty_map(Pos { line: 1, col: 1 }), false)
        };
        self.files.insert(
            file.to_owned(),
            ParamsFile {
                path: file.to_owned(),
                tree,
                exists,
                original: None,
            },
        );
        Ok(())
    }

    /// The value at a key path of a loaded file.
    pub fn get(&self, file: &str, key: &str) -> Option<Value> {
        self.files.get(file)?.tree.lookup(key).map(Node::to_json)
    }

    /// A loaded file's values (an empty mapping for a file not loaded).
    pub fn values(&self, file: &str) -> Value {
        self.files
            .get(file)
            .map_or_else(|| Value::Object(Map::new()), |f| f.tree.to_json())
    }

    /// The default file's tree: the interpolation context dvc gives every stage.
    pub fn default_tree(&self) -> &Node {
        &self.files[&self.default_file].tree
    }

    /// The files an override changed, with their new and old content.
    pub fn overridden(&self) -> impl Iterator<Item = &ParamsFile> {
        self.files.values().filter(|f| f.original.is_some())
    }
}

/// Every leaf of a value under `prefix` (`train` → `train.C`, `train.max_iter`); lists are leaves.
pub fn flatten(prefix: &str, value: &Value) -> Vec<(String, Value)> {
    match value {
        Value::Object(map) if !map.is_empty() => map
            .iter()
            .flat_map(|(k, v)| {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v)
            })
            .collect(),
        _ => vec![(prefix.to_owned(), value.clone())],
    }
}

/// A param value as text for people and for MLflow params: strings bare, everything else as JSON
/// (`1.0`, `true`, `[1, 2]`).
pub fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn overrides_parse_as_yaml_values() {
        let o = Override::parse("train.C=0.5").unwrap();
        assert_eq!(
            (o.file, o.key.as_str(), o.value),
            (None, "train.C", json!(0.5))
        );
        let o = Override::parse("other.yaml:model.kind=tree").unwrap();
        assert_eq!(o.file.as_deref(), Some("other.yaml"));
        assert_eq!(o.value, json!("tree"));
        assert!(Override::parse("novalue").is_err());
        assert!(Override::parse("a..b=1").is_err());
    }

    #[test]
    fn overrides_apply_and_keep_the_original_bytes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("params.yaml"), "train:\n  C: 1.0\n").unwrap();
        let p = Params::load(
            dir.path(),
            DEFAULT_PARAMS_FILE,
            &[],
            &[
                Override::parse("train.C=0.25").unwrap(),
                Override::parse("new.k=3").unwrap(),
            ],
        )
        .unwrap();
        assert_eq!(p.get("params.yaml", "train.C"), Some(json!(0.25)));
        assert_eq!(p.get("params.yaml", "new.k"), Some(json!(3)));
        let f = p.overridden().next().unwrap();
        assert_eq!(f.original.as_deref(), Some(&b"train:\n  C: 1.0\n"[..]));
    }

    #[test]
    fn flatten_lists_leaves_with_key_paths() {
        let v = json!({"train": {"C": 1.0, "opt": {"lr": 0.1}}, "seed": 7});
        let flat: Vec<String> = flatten("", &v).into_iter().map(|(k, _)| k).collect();
        assert_eq!(flat, ["seed", "train.C", "train.opt.lr"]);
        assert_eq!(display(&json!(1.0)), "1.0");
        assert_eq!(display(&json!("x")), "x");
    }
}
