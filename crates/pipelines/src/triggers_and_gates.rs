//! The top-level `gates:`, `promote:` and `triggers:` sections, parsed into types (gates and
//! promotion are evaluated after the stages; triggers by the server).

use crate::error::Result;
use crate::parse::Parser;
use crate::paths;
use crate::spec::{Confidence, Gate, GateRule, Op, PathRef, Promote, Scoring, Stage, Trigger};
use crate::yaml::{Kind, Node};

/// `gates:` — a list; each item is `{metric, op, value}` or `{metric, compare_to, min_delta}` (the
/// latter optionally with `confidence`, `per_example` and `dataset`), with an optional `name`.
pub(crate) fn gates(p: &Parser<'_>, n: &Node, stages: &[Stage]) -> Result<Vec<Gate>> {
    let items = match &n.kind {
        Kind::Seq(items) => items.as_slice(),
        Kind::Null => &[],
        _ => return Err(p.err(n.pos, "gates must be a list of rules")),
    };
    let mut out: Vec<Gate> = Vec::new();
    for item in items {
        let m = p.map(item, "a gate")?;
        p.unknown_keys(
            m,
            &[
                "name",
                "metric",
                "op",
                "value",
                "compare_to",
                "min_delta",
                "confidence",
                "per_example",
                "dataset",
                "label",
            ],
            &[],
            "a gate",
        )?;
        let metric = match item.get("metric") {
            Some(m) => p.string(m, "metric")?,
            None => return Err(p.err(item.pos, "a gate needs `metric:`")),
        };
        let rule = match (item.get("op"), item.get("value"), item.get("compare_to")) {
            (Some(op), Some(value), None) => {
                let op_text = p.string(op, "op")?;
                let op = Op::parse(&op_text).ok_or_else(|| {
                    p.err(
                        op.pos,
                        format!("op '{op_text}' is not one of >=, >, <=, <, ==, !="),
                    )
                })?;
                GateRule::Absolute {
                    op,
                    value: p.number(value, "value")?,
                }
            }
            (None, None, Some(alias)) => GateRule::CompareTo {
                alias: p.string(alias, "compare_to")?,
                min_delta: item
                    .get("min_delta")
                    .map(|d| p.number(d, "min_delta"))
                    .transpose()?
                    .unwrap_or(0.0),
            },
            (_, _, Some(c)) => {
                return Err(p.err(c.pos, "a gate takes either op and value, or compare_to"));
            }
            _ => {
                return Err(p.err(
                    item.pos,
                    "a gate needs `op:` and `value:` (absolute) or `compare_to:` (an alias)",
                ));
            }
        };
        if matches!(rule, GateRule::Absolute { .. })
            && let Some(d) = item.get("min_delta")
        {
            return Err(p.err(d.pos, "min_delta goes with compare_to"));
        }
        let confidence = confidence(p, item, &rule, stages)?;
        let name = match item.get("name") {
            Some(n) => p.string(n, "name")?,
            None => match &rule {
                GateRule::Absolute { op, value } => {
                    format!(
                        "{metric} {} {}",
                        op.as_str(),
                        serde_json::Value::from(*value)
                    )
                }
                GateRule::CompareTo { alias, min_delta } => {
                    format!(
                        "{metric} vs @{alias} (min_delta {})",
                        serde_json::Value::from(*min_delta)
                    )
                }
            },
        };
        if out.iter().any(|g| g.name == name) {
            return Err(p.err(item.pos, format!("two gates are named '{name}'")));
        }
        out.push(Gate {
            name,
            metric,
            rule,
            confidence,
            pos: item.pos,
        });
    }
    Ok(out)
}

/// A gate's `confidence: 0.95` with `per_example: <an out>` and `dataset: <a file>`, on a comparison.
fn confidence(
    p: &Parser<'_>,
    item: &Node,
    rule: &GateRule,
    stages: &[Stage],
) -> Result<Option<Confidence>> {
    let Some(level_node) = item.get("confidence") else {
        for k in ["per_example", "dataset", "label"] {
            if let Some(n) = item.get(k) {
                return Err(p.err(n.pos, format!("{k} goes with confidence")));
            }
        }
        return Ok(None);
    };
    if !matches!(rule, GateRule::CompareTo { .. }) {
        return Err(p.err(
            level_node.pos,
            "confidence goes with compare_to (it decides a comparison)",
        ));
    }
    let level = p.number(level_node, "confidence")?;
    if !(level > 0.0 && level < 1.0) {
        return Err(p.err(
            level_node.pos,
            format!("confidence must be between 0 and 1 (e.g. 0.95), got {level}"),
        ));
    }
    let path = |k: &str, what: &str| -> Result<PathRef> {
        let n = item
            .get(k)
            .ok_or_else(|| p.err(item.pos, format!("confidence needs `{k}:` ({what})")))?;
        let text = p.string(n, k)?;
        let path = paths::resolve(".", &text).map_err(|why| p.err(n.pos, why))?;
        Ok(PathRef { path, pos: n.pos })
    };
    let scoring = match (item.get("per_example"), item.get("label")) {
        (Some(_), Some(label)) => {
            return Err(p.err(
                label.pos,
                "a confidence gate takes per_example (the stages score) or label (Cairn scores), not both",
            ));
        }
        (None, Some(label)) => Scoring::Onnx {
            label: p.string(label, "label")?,
        },
        _ => {
            let per_example = path(
                "per_example",
                "an out: a JSON list of per-example scores; or `label:` for Cairn to score both models",
            )?;
            if !stages.iter().any(|s| {
                s.outs
                    .iter()
                    .any(|o| paths::within(&per_example.path, &o.path))
            }) {
                return Err(p.err(
                    per_example.pos,
                    format!(
                        "per_example '{}' is not an out of any stage",
                        per_example.path
                    ),
                ));
            }
            Scoring::PerExample(per_example)
        }
    };
    Ok(Some(Confidence {
        level,
        dataset: path("dataset", "the file the examples come from")?,
        scoring,
    }))
}

/// `promote:` — `{model: <an out>, name, alias?, candidate_alias?}`.
pub(crate) fn promote(p: &Parser<'_>, n: &Node, stages: &[Stage]) -> Result<Promote> {
    let m = p.map(n, "promote")?;
    p.unknown_keys(
        m,
        &["model", "name", "alias", "candidate_alias"],
        &[],
        "promote",
    )?;
    let model_node = n
        .get("model")
        .ok_or_else(|| p.err(n.pos, "promote needs `model:` (the out holding the model)"))?;
    let text = p.string(model_node, "promote: model")?;
    let path = paths::resolve(".", &text).map_err(|why| p.err(model_node.pos, why))?;
    if !stages
        .iter()
        .any(|s| s.outs.iter().any(|o| paths::within(&path, &o.path)))
    {
        return Err(p.err(
            model_node.pos,
            format!("promote: model '{path}' is not an out of any stage"),
        ));
    }
    let name = n
        .get("name")
        .ok_or_else(|| p.err(n.pos, "promote needs `name:` (the registered model)"))?;
    let opt = |k: &str| n.get(k).map(|v| p.string(v, k)).transpose();
    let (alias, candidate_alias) = (opt("alias")?, opt("candidate_alias")?);
    if let (Some(a), Some(c), Some(node)) = (&alias, &candidate_alias, n.get("candidate_alias"))
        && a == c
    {
        // The candidate alias is set before the gated move, which would then find it moved.
        return Err(p.err(
            node.pos,
            format!("candidate_alias '{c}' must differ from alias '{a}'"),
        ));
    }
    Ok(Promote {
        model: PathRef {
            path,
            pos: model_node.pos,
        },
        name: p.string(name, "promote: name")?,
        alias,
        candidate_alias,
        pos: n.pos,
    })
}

/// `triggers:` — a mapping of names to `{cron, timezone, catchup}`, `{watch, debounce}`,
/// `{alert: MONITOR[/RULE], cooldown}`, `{registry: {model, event}}` or `{}` (by hand only), each
/// with `concurrency`, `max_active_runs` and `params`; read by the domain's one definition.
pub(crate) fn triggers(p: &Parser<'_>, n: &Node) -> Result<Vec<Trigger>> {
    let mut out = Vec::new();
    for (key, body) in p.map(n, "triggers")? {
        let spec = cairn_domain::trigger::TriggerSpec::from_json(&key.name, &body.to_json())
            .map_err(|e| p.err(body.pos, e.to_string()))?;
        out.push(Trigger {
            name: key.name.clone(),
            spec,
            pos: key.pos,
        });
    }
    Ok(out)
}
