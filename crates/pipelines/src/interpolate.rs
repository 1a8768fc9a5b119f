//! `${…}` interpolation, as dvc.yaml has it: `${train.C}`, `${models[0].name}`, `${item}`, `${key}`.
//!
//! A string that is exactly one `${…}` takes the value itself (a number stays a number, a list a list),
//! so `foreach: ${regions}` works; inside a longer string the value must be a scalar. `\${` is a
//! literal `${`. Mapping keys are not interpolated (dvc does not either).

use std::path::Path;

use crate::error::{PipelineError, Result};
use crate::yaml::{Kind, Node};

/// Does the string use interpolation at all?
pub fn has_placeholder(s: &str) -> bool {
    s.contains("${")
}

/// Interpolates every string in `node` (recursively) from `ctx`.
pub fn node(file: &Path, n: &Node, ctx: &Node) -> Result<Node> {
    let kind = match &n.kind {
        Kind::Str(s) if has_placeholder(s) => return string(file, n, s, ctx),
        Kind::Seq(items) => Kind::Seq(
            items
                .iter()
                .map(|i| node(file, i, ctx))
                .collect::<Result<_>>()?,
        ),
        Kind::Map(entries) => Kind::Map(
            entries
                .iter()
                .map(|(k, v)| Ok((k.clone(), node(file, v, ctx)?)))
                .collect::<Result<_>>()?,
        ),
        other => other.clone(),
    };
    Ok(Node::new(n.pos, kind))
}

fn string(file: &Path, n: &Node, s: &str, ctx: &Node) -> Result<Node> {
    let err = |message: String| PipelineError::config(file, n.pos, message);
    // A whole-string placeholder keeps the value's type.
    if let Some(inner) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}'))
        && !inner.contains("${")
        && !inner.contains('}')
    {
        let key = inner.trim();
        let value = ctx
            .lookup(key)
            .ok_or_else(|| err(format!("cannot interpolate '{s}': '{key}' is not defined")))?;
        return Ok(Node::new(n.pos, value.kind.clone()));
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        if rest[..i].ends_with('\\') {
            out.push_str(&rest[..i - 1]);
            out.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| err(format!("unclosed '${{' in '{s}'")))?;
        let key = after[..end].trim();
        let value = ctx
            .lookup(key)
            .ok_or_else(|| err(format!("cannot interpolate '{s}': '{key}' is not defined")))?;
        match &value.kind {
            Kind::Null => {}
            Kind::Seq(_) | Kind::Map(_) => {
                return Err(err(format!(
                    "cannot interpolate '{key}' into '{s}': it is a list or mapping (use it as the whole value)"
                )));
            }
            _ => out.push_str(&value.scalar_text().unwrap_or_default()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Node::new(n.pos, Kind::Str(out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Pos;
    use serde_json::json;

    fn s(text: &str) -> Node {
        Node::new(Pos { line: 3, col: 7 }, Kind::Str(text.into()))
    }

    fn ctx(v: serde_json::Value) -> Node {
        Node::from_json(&v, Pos::default())
    }

    #[test]
    fn key_paths_and_indexes() {
        let ctx = ctx(json!({"train": {"C": 0.5}, "models": [{"name": "a"}, {"name": "b"}]}));
        let get = |k: &str| ctx.lookup(k).map(Node::to_json);
        assert_eq!(get("train.C"), Some(json!(0.5)));
        assert_eq!(get("models[1].name"), Some(json!("b")));
        assert_eq!(get("models[2]"), None);
        assert_eq!(get("train.D"), None);
    }

    #[test]
    fn strings_are_interpolated_and_whole_values_keep_their_type() {
        let ctx = ctx(json!({"train": {"C": 0.5, "n": 3}, "regions": ["us", "eu"], "item": "us"}));
        let f = Path::new("cairn.yaml");
        let n = node(
            f,
            &s("python train.py --C ${train.C} --n ${ train.n }"),
            &ctx,
        )
        .unwrap();
        assert_eq!(n.as_str(), Some("python train.py --C 0.5 --n 3"));
        let n = node(f, &s("${regions}"), &ctx).unwrap();
        assert_eq!(n.to_json(), json!(["us", "eu"]));
        let n = node(f, &s("${train.n}"), &ctx).unwrap();
        assert_eq!(n.kind, Kind::Int(3));
        let n = node(f, &s(r"echo \${HOME} ${item}"), &ctx).unwrap();
        assert_eq!(n.as_str(), Some("echo ${HOME} us"));
    }

    #[test]
    fn unknown_keys_are_errors_at_the_string() {
        let err = node(Path::new("cairn.yaml"), &s("x ${nope.y}"), &ctx(json!({}))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cairn.yaml:3:7: cannot interpolate 'x ${nope.y}': 'nope.y' is not defined"
        );
        let err = node(
            Path::new("cairn.yaml"),
            &s("x ${regions}"),
            &ctx(json!({"regions": [1]})),
        )
        .unwrap_err();
        assert!(err.to_string().contains("list or mapping"), "{err}");
    }
}
