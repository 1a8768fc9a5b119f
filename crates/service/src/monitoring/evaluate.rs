//! One evaluation of a monitor: the window's logged predictions against the reference — drift, data
//! quality, prediction and target drift, performance where labels arrived — stored as a snapshot with
//! the alerts it fires. The statistics run on a blocking thread.

use std::collections::{BTreeMap, HashMap};

use cairn_domain::monitor::{Alert, Monitor, NewSnapshot, Snapshot, Window, firing};
use cairn_domain::time::now_millis;
use cairn_monitoring::{Correction, DriftOptions, Profile, Table, Values, drift_report};
use cairn_store::Label;
use serde_json::{Map, Value, json};

use super::labels::number_text;
use super::{Monitors, change};
use crate::{ServiceError, ServiceResult};

use cairn_domain::monitor::PREDICTION_META_COLUMNS as META_COLUMNS;

fn invalid(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::InvalidArgument(e.to_string())
}

/// A CSV or Parquet table (told apart by Parquet's magic bytes).
pub(super) fn parse_table(bytes: &[u8], what: &str) -> ServiceResult<Table> {
    let table = if bytes.starts_with(b"PAR1") {
        Table::from_parquet_bytes(bytes::Bytes::copy_from_slice(bytes))
    } else {
        Table::from_csv_bytes(bytes)
    };
    table.map_err(|e| ServiceError::InvalidArgument(format!("{what}: {e}")))
}

/// The row count a Parquet file's footer declares (0 when unreadable: it is then refused on parsing).
pub(super) fn parquet_rows(bytes: &[u8]) -> u64 {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    SerializedFileReader::new(bytes::Bytes::copy_from_slice(bytes))
        .map(|r| r.metadata().file_metadata().num_rows().max(0) as u64)
        .unwrap_or(0)
}

pub(super) fn profile(table: &Table) -> ServiceResult<Value> {
    serde_json::to_value(Profile::of(table)).map_err(|e| ServiceError::Internal(e.to_string()))
}

/// A column's values as milliseconds since the epoch (a timestamp column read as numbers or as text).
pub(super) fn timestamps_ms(values: &Values) -> Vec<f64> {
    match values {
        Values::Numeric(v) => v.clone(),
        Values::Categorical(v) => (0..v.len())
            .map(|i| {
                v.get(i)
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .map_or(f64::NAN, |t| t.timestamp_millis() as f64)
            })
            .collect(),
    }
}

/// The rows at `keep`, in that order.
pub(super) fn take(table: &Table, keep: &[usize]) -> Table {
    let columns = table
        .columns
        .iter()
        .map(|c| {
            let values = match &c.values {
                Values::Numeric(v) => Values::Numeric(keep.iter().map(|&i| v[i]).collect()),
                Values::Categorical(v) => Values::Categorical(cairn_monitoring::Categories {
                    levels: v.levels.clone(),
                    codes: keep.iter().map(|&i| v.codes[i]).collect(),
                }),
            };
            cairn_monitoring::Column {
                name: c.name.clone(),
                values,
                integer: c.integer,
            }
        })
        .collect();
    Table { columns }
}

pub(super) fn column<'a>(table: &'a Table, name: &str) -> Option<&'a Values> {
    table
        .columns
        .iter()
        .find(|c| c.name == name)
        .map(|c| &c.values)
}

/// A cell as text (what labels' keys and request ids are matched by).
pub(super) fn cell_text(values: &Values, i: usize) -> Option<String> {
    match values {
        Values::Numeric(v) => (!v[i].is_nan()).then(|| number_text(v[i])),
        Values::Categorical(v) => v.get(i).map(str::to_owned),
    }
}

/// What the blocking part needs.
struct Inputs {
    monitor: Monitor,
    reference: Table,
    files: Vec<Vec<u8>>,
    window_start_ms: i64,
    end_ms: i64,
    labels: Vec<Label>,
}

/// What it gives back.
struct Evaluated {
    rows: usize,
    report: Value,
    values: BTreeMap<String, f64>,
    versions: Vec<(String, i64)>,
}

impl Monitors {
    /// Evaluates the monitor now (or for a schedule's `slot`), stores the snapshot and the alerts it
    /// fires, and hands the alerts to the sink. An empty window is refused, with nothing stored.
    pub async fn run(
        &self,
        name: &str,
        slot_ms: Option<i64>,
        actor: &str,
    ) -> ServiceResult<(Snapshot, Vec<Alert>)> {
        let monitor = self.store.get_monitor(name).await?;
        let end_ms = slot_ms.unwrap_or_else(now_millis);
        let reference = self
            .read_table(&monitor.spec.reference.path, &monitor.spec.reference.uri)
            .await?;
        let raw = self
            .window_files(&monitor.spec.deployment, &monitor.spec.window, end_ms)
            .await?;
        if raw.files.is_empty() {
            return Err(ServiceError::InvalidArgument(format!(
                "monitor '{name}': the window ({}) holds no logged predictions of deployment '{}'",
                monitor.spec.window.describe(),
                monitor.spec.deployment
            )));
        }
        let window_start_ms = match monitor.spec.window {
            Window::Duration { ms } => end_ms - ms,
            // Labels of a rows window can be as old as its files' day; the cut is exact later.
            Window::Rows { .. } => end_ms - 400 * 86_400_000,
        };
        let labels = self
            .store
            .labels_since(&monitor.spec.deployment, window_start_ms)
            .await?;
        let inputs = Inputs {
            monitor: monitor.clone(),
            reference,
            files: raw.files,
            window_start_ms,
            end_ms,
            labels,
        };
        let mut done = tokio::task::spawn_blocking(move || evaluate(inputs))
            .await
            .map_err(|e| ServiceError::Internal(format!("evaluating: {e}")))??;
        self.add_training_metrics(&mut done).await;
        let Evaluated {
            rows,
            report,
            values,
            ..
        } = done;
        let window_start = report["window"]["start_ms"]
            .as_i64()
            .unwrap_or(window_start_ms);
        let earlier: Vec<BTreeMap<String, f64>> = self
            .store
            .list_snapshots(name, 1000.min(max_for(&monitor)), None)
            .await?
            .into_iter()
            .map(|s| s.values)
            .collect();
        let mut last_fired = BTreeMap::new();
        for a in self.store.list_alerts(Some(name), 1000).await? {
            last_fired.entry(a.rule).or_insert(a.fired_ms);
        }
        let now = now_millis();
        let alerts = firing(&monitor.spec.rules, &values, &earlier, &last_fired, now);
        let snapshot = NewSnapshot {
            monitor: name.to_owned(),
            taken_ms: now,
            window_start_ms: window_start,
            window_end_ms: end_ms,
            slot_ms,
            rows: rows as i64,
            values,
            report,
        };
        let (snapshot, alerts) = self
            .store
            .record_snapshot(&snapshot, &alerts, &change(actor))
            .await?;
        if !alerts.is_empty() {
            self.sink.deliver(&monitor, alerts.clone());
        }
        Ok((snapshot, alerts))
    }

    /// The training run's own metrics beside the live ones, for each model version the window saw.
    async fn add_training_metrics(&self, done: &mut Evaluated) {
        let mut training = Map::new();
        for (model, version) in &done.versions {
            let Ok(v) = self
                .registry
                .get_model_version(model, &version.to_string())
                .await
            else {
                continue;
            };
            let Some(run_id) = v.run_id.as_deref().filter(|r| !r.is_empty()) else {
                continue;
            };
            let Ok(run) = self.tracking.get_run(run_id).await else {
                continue;
            };
            let metrics: Map<String, Value> = run
                .data
                .metrics
                .iter()
                .map(|m| (m.key.clone(), json!(m.value)))
                .collect();
            training.insert(
                format!("{model}/{version}"),
                json!({"run_id": run_id, "metrics": metrics}),
            );
        }
        if let Some(obj) = done.report.as_object_mut() {
            obj.insert("training".into(), Value::Object(training));
        }
    }
}

/// How many earlier snapshots the rules look back over.
fn max_for(monitor: &Monitor) -> usize {
    monitor
        .spec
        .rules
        .iter()
        .map(|r| r.for_windows as usize)
        .max()
        .unwrap_or(1)
}

fn evaluate(inputs: Inputs) -> ServiceResult<Evaluated> {
    let Inputs {
        monitor,
        reference,
        files,
        window_start_ms,
        end_ms,
        labels,
    } = inputs;
    let tables = files
        .iter()
        .map(|f| {
            Table::from_parquet_bytes_with_timestamps(bytes::Bytes::copy_from_slice(f))
                .map_err(|e| invalid(format!("a logged-predictions file: {e}")))
        })
        .collect::<ServiceResult<Vec<_>>>()?;
    let all = Table::concat(tables);
    let stamps = column(&all, "timestamp")
        .map(timestamps_ms)
        .ok_or_else(|| invalid("the logged predictions have no 'timestamp' column"))?;
    let mut keep: Vec<usize> = (0..stamps.len())
        .filter(|&i| stamps[i] <= end_ms as f64)
        .collect();
    match monitor.spec.window {
        Window::Duration { .. } => keep.retain(|&i| stamps[i] > window_start_ms as f64),
        Window::Rows { rows } => {
            keep.sort_by(|&a, &b| stamps[b].total_cmp(&stamps[a]));
            keep.truncate(rows as usize);
            keep.reverse();
        }
    }
    if keep.is_empty() {
        return Err(invalid(format!(
            "monitor '{}': the window ({}) holds no logged predictions",
            monitor.name,
            monitor.spec.window.describe()
        )));
    }
    let current = take(&all, &keep);
    let first = keep
        .iter()
        .map(|&i| stamps[i])
        .fold(f64::INFINITY, f64::min);
    let drift_columns: Vec<String> = match &monitor.spec.drift.columns {
        Some(c) => c.clone(),
        None => {
            let logged: Vec<&str> = all.names();
            let common: Vec<String> = reference
                .columns
                .iter()
                .map(|c| c.name.clone())
                .filter(|n| !META_COLUMNS.contains(&n.as_str()) && logged.contains(&n.as_str()))
                .collect();
            if common.is_empty() {
                return Err(invalid(format!(
                    "monitor '{}': the reference ({}) and the logged predictions ({}) have no column in \
                     common",
                    monitor.name,
                    reference.names().join(", "),
                    logged
                        .iter()
                        .filter(|n| !META_COLUMNS.contains(n))
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            common
        }
    };
    let settings = &monitor.spec.drift;
    let opts = DriftOptions {
        method: settings.method.clone(),
        threshold: settings.threshold,
        columns: Some(drift_columns),
        drift_share: settings.drift_share.unwrap_or(0.5),
        correction: match settings.correction.as_deref() {
            None => None,
            Some(c) => Some(Correction::parse(c).ok_or_else(|| {
                invalid(format!("unknown correction '{c}': use bonferroni or bh"))
            })?),
        },
        // A column that cannot be tested (all missing, numbers against text) is listed as skipped
        // in the snapshot rather than failing the whole evaluation.
        skip_invalid_columns: true,
        ..DriftOptions::default()
    };
    let report = drift_report(&reference, &current, &opts).map_err(invalid)?;
    let mut report =
        serde_json::to_value(&report).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let rows = current.rows();
    let (performance, labelled) = performance(&monitor, &current, &labels);
    let versions = model_versions(&current);
    let obj = report
        .as_object_mut()
        .ok_or_else(|| ServiceError::Internal("the drift report is not an object".into()))?;
    obj.insert(
        "window".into(),
        json!({"start_ms": first as i64, "end_ms": end_ms, "rows": rows, "labelled_rows": labelled}),
    );
    obj.insert("performance".into(), performance);
    let values = flatten(&report, rows, labelled);
    Ok(Evaluated {
        rows,
        report,
        values,
        versions,
    })
}

/// The (model, version) pairs the window's rows were answered by.
fn model_versions(current: &Table) -> Vec<(String, i64)> {
    let (Some(models), Some(versions)) =
        (column(current, "model"), column(current, "model_version"))
    else {
        return Vec::new();
    };
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..current.rows() {
        if let (Some(m), Some(v)) = (cell_text(models, i), cell_text(versions, i))
            && let Ok(v) = v.parse::<i64>()
        {
            seen.insert((m, v));
        }
    }
    seen.into_iter().collect()
}

/// Joins labels to the window's rows (by request id and row, or by key column) and scores the
/// predictions: classification when labels are text or whole numbers that predictions match in kind,
/// regression otherwise. `null` until a label arrives.
pub(super) fn performance(monitor: &Monitor, current: &Table, labels: &[Label]) -> (Value, usize) {
    let Some(predictions) = column(current, monitor.spec.prediction_column()) else {
        return (Value::Null, 0);
    };
    let mut by_request: HashMap<(&str, i64), &Value> = HashMap::new();
    let mut by_key: HashMap<(&str, &str), &Value> = HashMap::new();
    for l in labels {
        match (&l.request_id, &l.key_column, &l.key) {
            (Some(id), _, _) => {
                by_request.insert((id, l.row), &l.label);
            }
            (None, Some(col), Some(key)) => {
                by_key.insert((col, key), &l.label);
            }
            _ => {}
        }
    }
    let ids = column(current, "request_id");
    let row_index = column(current, "row");
    let key_columns: Vec<(&str, &Values)> = by_key
        .keys()
        .map(|(c, _)| *c)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter_map(|c| column(current, c).map(|v| (c, v)))
        .collect();
    let mut truth: Vec<&Value> = Vec::new();
    let mut predicted: Vec<usize> = Vec::new();
    for i in 0..current.rows() {
        let by_id = ids.and_then(|ids| {
            let id = cell_text(ids, i)?;
            let row = row_index
                .and_then(|r| cell_text(r, i))
                .and_then(|r| r.parse::<i64>().ok())
                .unwrap_or(0);
            by_request.get(&(id.as_str(), row)).copied()
        });
        let label = by_id.or_else(|| {
            key_columns.iter().find_map(|(c, v)| {
                let key = cell_text(v, i)?;
                by_key.get(&(*c, key.as_str())).copied()
            })
        });
        if let Some(l) = label {
            truth.push(l);
            predicted.push(i);
        }
    }
    if truth.is_empty() {
        return (Value::Null, 0);
    }
    let n = truth.len();
    let numeric: Option<Vec<f64>> = truth
        .iter()
        .map(|v| match v {
            Value::Number(x) => x.as_f64(),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        })
        .collect();
    let report = match (numeric, predictions) {
        (Some(y), Values::Numeric(p)) => {
            let pred: Vec<f64> = predicted.iter().map(|&i| p[i]).collect();
            let whole = |v: &[f64]| v.iter().all(|x| x.fract() == 0.0);
            if whole(&y) && whole(&pred) {
                let text = |v: &[f64]| v.iter().map(|x| number_text(*x)).collect::<Vec<_>>();
                classification(&text(&y), &text(&pred))
            } else {
                cairn_monitoring::performance::regression(&y, &pred)
                    .ok()
                    .and_then(|m| serde_json::to_value(m).ok())
                    .unwrap_or(Value::Null)
            }
        }
        _ => {
            let y: Vec<String> = truth
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            let pred: Vec<String> = predicted
                .iter()
                .map(|&i| cell_text(predictions, i).unwrap_or_default())
                .collect();
            classification(&y, &pred)
        }
    };
    (report, n)
}

fn classification(y: &[String], pred: &[String]) -> Value {
    cairn_monitoring::performance::classification(y, pred, None, None)
        .ok()
        .and_then(|m| serde_json::to_value(m).ok())
        .unwrap_or(Value::Null)
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// The flat values rules and gauges read: `dataset.<field>`, `column.<name>.<field>` (drift and
/// quality), `missing_share` (the largest column's), the performance metrics by name, `rows`,
/// `labelled_rows`.
fn flatten(report: &Value, rows: usize, labelled: usize) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    out.insert("rows".into(), rows as f64);
    out.insert("labelled_rows".into(), labelled as f64);
    if let Some(dataset) = report["dataset"].as_object() {
        for (k, v) in dataset {
            if let Some(x) = number(v) {
                out.insert(format!("dataset.{k}"), x);
            }
        }
    }
    let mut per_column = |list: &Value| {
        for c in list.as_array().into_iter().flatten() {
            let Some(name) = c["column"].as_str() else {
                continue;
            };
            for (k, v) in c.as_object().into_iter().flatten() {
                if let Some(x) = number(v) {
                    out.insert(format!("column.{name}.{k}"), x);
                }
            }
        }
    };
    per_column(&report["columns"]);
    per_column(&report["quality"]["columns"]);
    if let Some(quality) = report["quality"].as_object() {
        for (k, v) in quality {
            if let Some(x) = number(v) {
                out.insert(format!("quality.{k}"), x);
            } else if let Some(list) = v.as_array().filter(|_| k != "columns") {
                out.insert(format!("quality.{k}"), list.len() as f64);
            }
        }
    }
    let missing = out
        .iter()
        .filter(|(k, _)| k.starts_with("column.") && k.ends_with(".missing_share"))
        .map(|(_, v)| *v)
        .fold(f64::NAN, f64::max);
    if !missing.is_nan() {
        out.insert("missing_share".into(), missing);
    }
    if let Some(perf) = report["performance"].as_object() {
        for (k, v) in perf {
            if let Some(x) = number(v).filter(|x| x.is_finite()) {
                out.insert(k.clone(), x);
            }
        }
    }
    out.retain(|_, v| v.is_finite());
    out
}
