//! Every monitor's latest snapshot as Prometheus gauges, read from the store at each scrape (so every
//! server of a cluster exports the same values, and Grafana and Alertmanager work unchanged):
//! `dataset.share` → `cairn_monitor_dataset_share{monitor,deployment}`, `column.f3.score` →
//! `cairn_monitor_column_score{monitor,deployment,column="f3"}`, `accuracy` →
//! `cairn_monitor_accuracy{…}`; plus the snapshot's time and the alerts fired per rule.

use std::collections::BTreeMap;
use std::fmt::Write;

use cairn_domain::monitor::{Alert, Monitor, Snapshot};

/// A Prometheus metric name from a value's name: letters, digits and `_` only.
fn metric_name(parts: &[&str]) -> String {
    let mut name = String::from("cairn_monitor");
    for p in parts {
        name.push('_');
        name.extend(
            p.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    name
}

/// A label value, escaped as the exposition format wants.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub(super) fn render(monitors: &[Monitor], latest: &[Snapshot], alerts: &[Alert]) -> String {
    let deployment: BTreeMap<&str, &str> = monitors
        .iter()
        .map(|m| (m.name.as_str(), m.spec.deployment.as_str()))
        .collect();
    // metric name → lines, so each metric's samples sit together under one TYPE line.
    let mut metrics: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in latest {
        let Some(dep) = deployment.get(s.monitor.as_str()) else {
            continue;
        };
        let base = format!(
            "monitor=\"{}\",deployment=\"{}\"",
            label(&s.monitor),
            label(dep)
        );
        metrics
            .entry(metric_name(&["snapshot_timestamp_seconds"]))
            .or_default()
            .push(format!("{{{base}}} {}", s.taken_ms as f64 / 1000.0));
        for (key, value) in &s.values {
            let (name, labels) = match key.strip_prefix("column.") {
                Some(rest) => match rest.rsplit_once('.') {
                    Some((column, field)) => (
                        metric_name(&["column", field]),
                        format!("{base},column=\"{}\"", label(column)),
                    ),
                    None => continue,
                },
                None => (
                    metric_name(&key.split('.').collect::<Vec<_>>()),
                    base.clone(),
                ),
            };
            metrics
                .entry(name)
                .or_default()
                .push(format!("{{{labels}}} {value}"));
        }
    }
    let mut fired: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for a in alerts {
        *fired.entry((&a.monitor, &a.rule)).or_default() += 1;
    }
    for ((monitor, rule), n) in fired {
        metrics
            .entry(metric_name(&["alerts_fired"]))
            .or_default()
            .push(format!(
                "{{monitor=\"{}\",rule=\"{}\"}} {n}",
                label(monitor),
                label(rule)
            ));
    }
    let mut out = String::new();
    for (name, lines) in metrics {
        let _ = writeln!(out, "# TYPE {name} gauge");
        for l in lines {
            let _ = writeln!(out, "{name}{l}");
        }
    }
    out
}
