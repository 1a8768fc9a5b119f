//! Prediction logging: what a deployment saw and answered, for monitoring. A request hands its inputs and
//! outputs to a bounded queue and returns (when the queue is full the record is dropped and counted —
//! inference never waits); one background task turns records into rows, batches them per deployment and
//! writes each batch as a Parquet file through a [`PredictionSink`] — the server's artifact store, or a
//! replica's control plane — at `monitoring/<deployment>/date=YYYY-MM-DD/<flush ms>-<uuid>.parquet`, so
//! pandas, DuckDB or Polars read a deployment's log as one hive-partitioned dataset.
//!
//! Each row: `request_id`, `row` (its index in the request), `timestamp` (UTC, ms), `deployment`, `model`,
//! `model_version`, `latency_ms`, then one column per input feature (the signature's column names for a
//! model taking one matrix, else `<input>` or `<input>_<j>`) and per output value (`<output>` or
//! `<output>_<j>`, e.g. `label`, `probabilities_0`…).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use async_trait::async_trait;
use cairn_onnx::{Tensor, TensorData};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use tokio::sync::mpsc;

/// Where batches of logged predictions go.
#[async_trait]
pub trait PredictionSink: Send + Sync + 'static {
    /// Stores one Parquet file of `deployment`'s log at `file` (`date=YYYY-MM-DD/<name>.parquet`).
    async fn write(&self, deployment: &str, file: &str, parquet: Vec<u8>) -> anyhow::Result<()>;
}

/// The meta columns every logged row carries, before the model's own.
pub const META_COLUMNS: [&str; 7] = [
    "request_id",
    "row",
    "timestamp",
    "deployment",
    "model",
    "model_version",
    "latency_ms",
];

/// One request to log.
pub struct Record {
    pub deployment: String,
    pub model: String,
    pub version: String,
    pub request_id: String,
    pub timestamp_ms: i64,
    pub latency_ms: f64,
    pub inputs: Vec<Tensor>,
    pub outputs: Vec<Tensor>,
    /// The signature's column names, for a model taking one matrix.
    pub columns: Option<Arc<[String]>>,
}

/// Settings, from the environment: `CAIRN_PREDICTION_QUEUE` (records waiting, default 10 000),
/// `CAIRN_PREDICTION_FLUSH_MS` (default 2 000) and `CAIRN_PREDICTION_FLUSH_ROWS` (default 50 000).
#[derive(Debug, Clone, Copy)]
pub struct LogSettings {
    pub queue: usize,
    pub flush: Duration,
    pub flush_rows: usize,
}

impl LogSettings {
    pub fn from_env() -> Self {
        let var = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|v| *v > 0)
                .unwrap_or(default)
        };
        LogSettings {
            queue: var("CAIRN_PREDICTION_QUEUE", 10_000) as usize,
            flush: Duration::from_millis(var("CAIRN_PREDICTION_FLUSH_MS", 2_000)),
            flush_rows: var("CAIRN_PREDICTION_FLUSH_ROWS", 50_000) as usize,
        }
    }
}

/// The queue's sending end, shared by every request.
#[derive(Clone)]
pub struct PredictionLog {
    tx: mpsc::Sender<Record>,
}

impl PredictionLog {
    /// Starts the writer task.
    pub fn start(sink: Arc<dyn PredictionSink>, settings: LogSettings) -> Self {
        let (tx, rx) = mpsc::channel(settings.queue.max(1));
        tokio::spawn(write_loop(rx, sink, settings));
        PredictionLog { tx }
    }

    /// Queues `record`, or drops and counts it when the queue is full.
    pub fn record(&self, record: Record) {
        if let Err(e) = self.tx.try_send(record) {
            let deployment = match &e {
                mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => {
                    r.deployment.clone()
                }
            };
            metrics::counter!("cairn_prediction_log_dropped_total", "deployment" => deployment)
                .increment(1);
        }
    }
}

async fn write_loop(
    mut rx: mpsc::Receiver<Record>,
    sink: Arc<dyn PredictionSink>,
    settings: LogSettings,
) {
    let mut batches: HashMap<String, Batch> = HashMap::new();
    let mut tick = tokio::time::interval(settings.flush);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            received = rx.recv() => {
                let Some(record) = received else { break };
                let deployment = record.deployment.clone();
                let batch = batches.entry(deployment.clone()).or_default();
                batch.push(record);
                if batch.rows >= settings.flush_rows {
                    let full = std::mem::take(batch);
                    flush(&sink, deployment, full);
                }
            }
            _ = tick.tick() => {
                for (deployment, batch) in batches.drain() {
                    if batch.rows > 0 {
                        flush(&sink, deployment, batch);
                    }
                }
            }
        }
    }
    for (deployment, batch) in batches.drain() {
        if batch.rows > 0 {
            flush(&sink, deployment, batch);
        }
    }
}

/// Encodes and writes a batch off the receiving task (encoding is CPU work; the write is I/O).
fn flush(sink: &Arc<dyn PredictionSink>, deployment: String, batch: Batch) {
    let sink = sink.clone();
    tokio::spawn(async move {
        let rows = batch.rows;
        let now = chrono::Utc::now();
        let file = format!(
            "date={}/{:013}-{}.parquet",
            now.format("%Y-%m-%d"),
            now.timestamp_millis(),
            uuid::Uuid::new_v4().simple()
        );
        let encoded = tokio::task::spawn_blocking(move || batch.to_parquet()).await;
        let result = match encoded {
            Ok(Ok(bytes)) => sink.write(&deployment, &file, bytes).await,
            Ok(Err(e)) => Err(e),
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(()) => {
                metrics::counter!("cairn_prediction_log_rows_total", "deployment" => deployment)
                    .increment(rows as u64);
            }
            Err(e) => {
                tracing::warn!(deployment = %deployment, rows, error = %format!("{e:#}"), "writing logged predictions");
                metrics::counter!("cairn_prediction_log_dropped_total", "deployment" => deployment)
                    .increment(rows as u64);
            }
        }
    });
}

/// A column under construction: typed, `None` where a row has no value.
enum Cells {
    Float(Vec<Option<f64>>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Text(Vec<Option<String>>),
}

impl Cells {
    fn pad(&mut self, to: usize) {
        match self {
            Cells::Float(v) => v.resize(to, None),
            Cells::Int(v) => v.resize(to, None),
            Cells::Bool(v) => v.resize(to, None),
            Cells::Text(v) => v.resize(to, None),
        }
    }

    /// A column that got values of two types becomes text.
    fn into_text(self) -> Vec<Option<String>> {
        match self {
            Cells::Float(v) => v.into_iter().map(|x| x.map(|x| x.to_string())).collect(),
            Cells::Int(v) => v.into_iter().map(|x| x.map(|x| x.to_string())).collect(),
            Cells::Bool(v) => v.into_iter().map(|x| x.map(|x| x.to_string())).collect(),
            Cells::Text(v) => v,
        }
    }
}

/// One deployment's rows since its last flush.
#[derive(Default)]
struct Batch {
    rows: usize,
    request_id: Vec<String>,
    row: Vec<i64>,
    timestamp: Vec<i64>,
    model: Vec<String>,
    version: Vec<String>,
    latency: Vec<f64>,
    deployment: String,
    /// The model's columns, in first-seen order.
    columns: Vec<(String, Cells)>,
}

impl Batch {
    fn push(&mut self, r: Record) {
        let rows = r
            .inputs
            .first()
            .map_or(0, |t| t.shape.first().copied().unwrap_or(1).max(0) as usize);
        if rows == 0 {
            return;
        }
        let start = self.rows;
        self.deployment = r.deployment;
        for i in 0..rows {
            self.request_id.push(r.request_id.clone());
            self.row.push(i as i64);
            self.timestamp.push(r.timestamp_ms);
            self.model.push(r.model.clone());
            self.version.push(r.version.clone());
            self.latency.push(r.latency_ms);
        }
        self.rows += rows;
        let single_matrix = r.inputs.len() == 1;
        for t in &r.inputs {
            let names = if single_matrix {
                r.columns.as_deref()
            } else {
                None
            };
            self.add_tensor(t, rows, start, names);
        }
        for t in &r.outputs {
            self.add_tensor(t, rows, start, None);
        }
        for (_, cells) in &mut self.columns {
            cells.pad(self.rows);
        }
    }

    /// Spreads a `[rows, …]` tensor over columns: one per value of a row.
    fn add_tensor(&mut self, t: &Tensor, rows: usize, start: usize, names: Option<&[String]>) {
        if t.data.len() % rows != 0 {
            return;
        }
        let width = t.data.len() / rows;
        for j in 0..width {
            let name = match names {
                Some(n) if n.len() == width => n[j].clone(),
                _ if width == 1 => t.name.clone(),
                _ => format!("{}_{j}", t.name),
            };
            let at = (0..rows).map(|i| i * width + j);
            let fresh = match &t.data {
                TensorData::F32(v) => Cells::Float(at.map(|k| Some(f64::from(v[k]))).collect()),
                TensorData::F64(v) => Cells::Float(at.map(|k| Some(v[k])).collect()),
                TensorData::I64(v) => Cells::Int(at.map(|k| Some(v[k])).collect()),
                TensorData::I32(v) => Cells::Int(at.map(|k| Some(i64::from(v[k]))).collect()),
                TensorData::Bool(v) => Cells::Bool(at.map(|k| Some(v[k])).collect()),
                TensorData::String(v) => Cells::Text(at.map(|k| Some(v[k].clone())).collect()),
            };
            self.append(name, fresh, start);
        }
    }

    /// Appends `fresh` (this request's values) to column `name`, starting at row `start`.
    fn append(&mut self, name: String, fresh: Cells, start: usize) {
        let Some(i) = self.columns.iter().position(|(n, _)| *n == name) else {
            let mut cells = match fresh {
                Cells::Float(_) => Cells::Float(Vec::new()),
                Cells::Int(_) => Cells::Int(Vec::new()),
                Cells::Bool(_) => Cells::Bool(Vec::new()),
                Cells::Text(_) => Cells::Text(Vec::new()),
            };
            cells.pad(start);
            self.columns.push((name, cells));
            return self.append_at(self.columns.len() - 1, fresh, start);
        };
        self.append_at(i, fresh, start);
    }

    fn append_at(&mut self, i: usize, fresh: Cells, start: usize) {
        let cells = &mut self.columns[i].1;
        cells.pad(start);
        match (cells, fresh) {
            (Cells::Float(a), Cells::Float(b)) => a.extend(b),
            (Cells::Int(a), Cells::Int(b)) => a.extend(b),
            (Cells::Bool(a), Cells::Bool(b)) => a.extend(b),
            (Cells::Text(a), Cells::Text(b)) => a.extend(b),
            (Cells::Float(a), Cells::Int(b)) => {
                a.extend(b.into_iter().map(|x| x.map(|x| x as f64)))
            }
            (cells, fresh) => {
                let old = std::mem::replace(cells, Cells::Text(Vec::new()));
                let mut text = old.into_text();
                text.extend(fresh.into_text());
                *cells = Cells::Text(text);
            }
        }
    }

    fn to_parquet(self) -> anyhow::Result<Vec<u8>> {
        let n = self.rows;
        let mut fields = vec![
            Field::new("request_id", DataType::Utf8, false),
            Field::new("row", DataType::Int64, false),
            Field::new(
                "timestamp",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                false,
            ),
            Field::new("deployment", DataType::Utf8, false),
            Field::new("model", DataType::Utf8, false),
            Field::new("model_version", DataType::Utf8, false),
            Field::new("latency_ms", DataType::Float64, false),
        ];
        let text = |v: &[String]| -> ArrayRef {
            let mut b = StringBuilder::with_capacity(v.len(), v.len() * 8);
            v.iter().for_each(|s| b.append_value(s));
            Arc::new(b.finish())
        };
        let mut timestamps = TimestampMillisecondBuilder::with_capacity(n);
        timestamps.append_slice(&self.timestamp);
        let mut arrays: Vec<ArrayRef> = vec![
            text(&self.request_id),
            Arc::new(arrow_array::Int64Array::from(self.row)),
            Arc::new(timestamps.finish().with_timezone("UTC")),
            text(&vec![self.deployment.clone(); n]),
            text(&self.model),
            text(&self.version),
            Arc::new(arrow_array::Float64Array::from(self.latency)),
        ];
        for (name, cells) in self.columns {
            if META_COLUMNS.contains(&name.as_str()) {
                continue;
            }
            let (data_type, array): (DataType, ArrayRef) = match cells {
                Cells::Float(v) => {
                    let mut b = Float64Builder::with_capacity(v.len());
                    v.into_iter().for_each(|x| b.append_option(x));
                    (DataType::Float64, Arc::new(b.finish()))
                }
                Cells::Int(v) => {
                    let mut b = Int64Builder::with_capacity(v.len());
                    v.into_iter().for_each(|x| b.append_option(x));
                    (DataType::Int64, Arc::new(b.finish()))
                }
                Cells::Bool(v) => {
                    let mut b = BooleanBuilder::with_capacity(v.len());
                    v.into_iter().for_each(|x| b.append_option(x));
                    (DataType::Boolean, Arc::new(b.finish()))
                }
                Cells::Text(v) => {
                    let mut b = StringBuilder::new();
                    v.into_iter().for_each(|x| b.append_option(x));
                    (DataType::Utf8, Arc::new(b.finish()))
                }
            };
            fields.push(Field::new(name, data_type, true));
            arrays.push(array);
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), arrays)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let mut out = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut out, schema, Some(props))?;
        writer.write(&batch)?;
        writer.close()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(name: &str, shape: Vec<i64>, data: TensorData) -> Tensor {
        Tensor {
            name: name.into(),
            shape,
            data,
        }
    }

    fn record(id: &str, x: Vec<f32>, label: Vec<i64>) -> Record {
        let rows = label.len() as i64;
        Record {
            deployment: "d".into(),
            model: "m".into(),
            version: "1".into(),
            request_id: id.into(),
            timestamp_ms: 1_700_000_000_000,
            latency_ms: 1.5,
            inputs: vec![tensor("X", vec![rows, 2], TensorData::F32(x))],
            outputs: vec![tensor("label", vec![rows], TensorData::I64(label))],
            columns: Some(vec!["a".to_owned(), "b".to_owned()].into()),
        }
    }

    #[test]
    fn rows_spread_over_named_columns_and_read_back() {
        let mut batch = Batch::default();
        batch.push(record("r1", vec![1.0, 2.0, 3.0, 4.0], vec![0, 1]));
        batch.push(record("r2", vec![5.0, 6.0], vec![2]));
        assert_eq!(batch.rows, 3);
        let bytes = batch.to_parquet().unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(bytes),
        )
        .unwrap()
        .build()
        .unwrap();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        let b = &batches[0];
        let names: Vec<&str> = b
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(
            names,
            [META_COLUMNS.as_slice(), &["a", "b", "label"]].concat()
        );
        use arrow_array::cast::AsArray;
        let a = b
            .column(7)
            .as_primitive::<arrow_array::types::Float64Type>();
        assert_eq!(a.values().to_vec(), vec![1.0, 3.0, 5.0]);
        let rows = b.column(1).as_primitive::<arrow_array::types::Int64Type>();
        assert_eq!(rows.values().to_vec(), vec![0, 1, 0]);
        let ids = b.column(0).as_string::<i32>();
        assert_eq!(ids.value(2), "r2");
    }

    #[test]
    fn a_column_seen_late_is_missing_before_and_mixed_types_become_text() {
        let mut batch = Batch::default();
        batch.push(record("r1", vec![1.0, 2.0], vec![0]));
        let mut second = record("r2", vec![3.0, 4.0], vec![1]);
        second.outputs.push(tensor(
            "label",
            vec![1],
            TensorData::String(vec!["x".into()]),
        ));
        second.outputs[1].name = "extra".into();
        batch.push(second);
        let extra = batch.columns.iter().find(|(n, _)| n == "extra").unwrap();
        match &extra.1 {
            Cells::Text(v) => assert_eq!(v, &vec![None, Some("x".to_owned())]),
            _ => panic!("expected text"),
        }
        let mut mixed = Batch::default();
        mixed.push(record("r1", vec![1.0, 2.0], vec![0]));
        let mut m = record("r2", vec![3.0, 4.0], vec![1]);
        m.outputs[0].data = TensorData::String(vec!["cat".into()]);
        mixed.push(m);
        let label = mixed.columns.iter().find(|(n, _)| n == "label").unwrap();
        match &label.1 {
            Cells::Text(v) => assert_eq!(v, &vec![Some("0".into()), Some("cat".into())]),
            _ => panic!("expected text"),
        }
    }
}
