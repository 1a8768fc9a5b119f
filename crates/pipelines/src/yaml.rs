//! YAML loading with a position on every node.
//!
//! Why saphyr: configuration errors must name `file:line:col`, including errors found after parsing
//! (a dep that is not a string, an out two stages write, a cycle). serde_yaml is unmaintained; its
//! maintained forks (yaml_serde, serde_yaml_ng, serde_norway) only give a location for errors raised
//! while deserializing, not for nodes checked later. saphyr (the maintained successor of yaml-rust2,
//! pure Rust, YAML 1.2) loads a `MarkedYamlOwned` tree where every node carries its span, so every
//! check can point at the node it is about. We convert that tree once into [`Node`], our own small
//! type, so the rest of the crate does not depend on saphyr's API.

use std::path::Path;

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};
use serde_json::Value;

use crate::error::{PipelineError, Pos, Result};

/// A YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in file order, as strings (YAML allows other keys; a pipeline file never needs them).
    Map(Vec<(Key, Node)>),
}

/// A mapping key and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub pos: Pos,
    pub name: String,
}

impl Node {
    pub fn new(pos: Pos, kind: Kind) -> Self {
        Node { pos, kind }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// An empty mapping at `pos`.
    pub fn empty_map(pos: Pos) -> Node {
        Node::new(pos, Kind::Map(Vec::new()))
    }

    /// Looks up a key path (`a.b[0].c`).
    pub fn lookup(&self, path: &str) -> Option<&Node> {
        let mut cur = self;
        for part in path.split('.') {
            let (name, indexes) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !name.is_empty() {
                cur = cur.get(name)?;
            }
            let mut rest = indexes;
            while let Some(stripped) = rest.strip_prefix('[') {
                let end = stripped.find(']')?;
                let index: usize = stripped[..end].trim().parse().ok()?;
                match &cur.kind {
                    Kind::Seq(items) => cur = items.get(index)?,
                    _ => return None,
                }
                rest = &stripped[end + 1..];
            }
            if !rest.is_empty() {
                return None;
            }
        }
        Some(cur)
    }

    /// Sets `key` of a mapping (replacing it in place, or appending it).
    pub fn insert(&mut self, key: &str, value: Node) {
        if let Kind::Map(entries) = &mut self.kind {
            match entries.iter_mut().find(|(k, _)| k.name == key) {
                Some((_, v)) => *v = value,
                None => entries.push((
                    Key {
                        pos: value.pos,
                        name: key.to_owned(),
                    },
                    value,
                )),
            }
        }
    }

    /// Sets a dotted key path, creating mappings on the way.
    pub fn set_path(&mut self, path: &str, value: Node) -> Result<(), String> {
        let parts: Vec<&str> = path.split('.').collect();
        let mut cur = self;
        for (i, part) in parts.iter().enumerate() {
            if !matches!(cur.kind, Kind::Map(_)) {
                return Err(format!("'{}' is not a mapping", parts[..i].join(".")));
            }
            if i + 1 == parts.len() {
                cur.insert(part, value);
                return Ok(());
            }
            if cur.get(part).is_none() {
                cur.insert(part, Node::empty_map(value.pos));
            }
            let Kind::Map(entries) = &mut cur.kind else {
                unreachable!("checked above")
            };
            cur = &mut entries
                .iter_mut()
                .find(|(k, _)| k.name == *part)
                .expect("inserted above")
                .1;
        }
        Ok(())
    }

    /// What kind of value this is, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) | Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// A scalar as the text it stands for (`1.5`, `true`, `abc`); `None` for null and collections.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Bool(b) => Some(b.to_string()),
            Kind::Int(i) => Some(i.to_string()),
            Kind::Float(f) => Some(Value::from(*f).to_string()),
            Kind::Str(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// The node as JSON (positions dropped): params values and interpolation contexts.
    pub fn to_json(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            Kind::Float(f) => Value::from(*f),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// A JSON value as a node placed at `pos` (values interpolated whole from a context).
    pub fn from_json(value: &Value, pos: Pos) -> Node {
        let kind = match value {
            Value::Null => Kind::Null,
            Value::Bool(b) => Kind::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Kind::Int(i),
                None => Kind::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Kind::Str(s.clone()),
            Value::Array(items) => {
                Kind::Seq(items.iter().map(|v| Node::from_json(v, pos)).collect())
            }
            Value::Object(map) => Kind::Map(
                map.iter()
                    .map(|(k, v)| {
                        (
                            Key {
                                pos,
                                name: k.clone(),
                            },
                            Node::from_json(v, pos),
                        )
                    })
                    .collect(),
            ),
        };
        Node { pos, kind }
    }
}

/// Parses the first document of `text`; an empty file is a null node. Errors name `file:line:col`.
pub fn parse(file: &Path, text: &str) -> Result<Node> {
    let docs = MarkedYamlOwned::load_from_str(text).map_err(|e| {
        let m = e.marker();
        PipelineError::config(
            file,
            Pos {
                line: m.line(),
                col: m.col() + 1,
            },
            format!("invalid YAML: {}", e.info()),
        )
    })?;
    match docs.into_iter().next() {
        Some(doc) => convert(file, doc),
        None => Ok(Node::new(Pos { line: 1, col: 1 }, Kind::Null)),
    }
}

/// Reads and parses a YAML (or JSON) file.
pub fn load(file: &Path, shown_as: &Path) -> Result<Node> {
    let text = std::fs::read_to_string(file).map_err(|e| PipelineError::io(shown_as, e))?;
    parse(shown_as, &text)
}

fn pos_of(node: &MarkedYamlOwned) -> Pos {
    Pos {
        line: node.span.start.line(),
        col: node.span.start.col() + 1,
    }
}

fn convert(file: &Path, node: MarkedYamlOwned) -> Result<Node> {
    let pos = pos_of(&node);
    let kind = match node.data {
        YamlDataOwned::Value(scalar) => match scalar {
            ScalarOwned::Null => Kind::Null,
            ScalarOwned::Boolean(b) => Kind::Bool(b),
            ScalarOwned::Integer(i) => Kind::Int(i),
            ScalarOwned::FloatingPoint(f) => Kind::Float(f.into_inner()),
            ScalarOwned::String(s) => Kind::Str(s),
        },
        YamlDataOwned::Representation(s, _, _) => Kind::Str(s),
        YamlDataOwned::Sequence(items) => Kind::Seq(
            items
                .into_iter()
                .map(|n| convert(file, n))
                .collect::<Result<_>>()?,
        ),
        YamlDataOwned::Mapping(map) => {
            let mut entries = Vec::with_capacity(map.len());
            for (k, v) in map {
                let key_pos = pos_of(&k);
                let key = convert(file, k)?;
                let name = key.scalar_text().ok_or_else(|| {
                    PipelineError::config(
                        file,
                        key_pos,
                        format!("a mapping key must be a string, not {}", key.kind_name()),
                    )
                })?;
                entries.push((Key { pos: key_pos, name }, convert(file, v)?));
            }
            Kind::Map(entries)
        }
        YamlDataOwned::Tagged(_, inner) => return convert(file, *inner),
        YamlDataOwned::Alias(_) | YamlDataOwned::BadValue => {
            return Err(PipelineError::config(file, pos, "invalid YAML value"));
        }
    };
    Ok(Node { pos, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let n = parse(Path::new("f.yaml"), "a:\n  b: [1, x]\n").unwrap();
        let b = n.get("a").unwrap().get("b").unwrap();
        assert_eq!(b.pos, Pos { line: 2, col: 6 });
        let Kind::Seq(items) = &b.kind else { panic!() };
        assert_eq!(items[1].pos, Pos { line: 2, col: 10 });
        assert_eq!(items[1].as_str(), Some("x"));
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let err = parse(Path::new("cairn.yaml"), "stages:\n  a: [1, 2\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("cairn.yaml:"), "{text}");
        assert!(err.is_configuration());
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse(Path::new("x.yaml"), "a: 1\na: 2\n").unwrap_err();
        assert!(err.to_string().starts_with("x.yaml:2:"), "{err}");
    }

    #[test]
    fn json_round_trip_keeps_types() {
        let n = parse(Path::new("p.yaml"), "c: 1.0\nn: 3\ns: hi\nl: [true]\n").unwrap();
        let v = n.to_json();
        assert_eq!(v["c"], serde_json::json!(1.0));
        assert_eq!(v["n"], serde_json::json!(3));
        assert_eq!(v["l"][0], serde_json::json!(true));
    }
}
