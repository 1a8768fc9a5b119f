//! Prediction logging: what a deployment saw and answered, for monitoring. A request hands its inputs and
//! outputs to a bounded queue and returns (when the queue is full the record is dropped and counted —
//! inference never waits, and no task is woken per request); one background task takes what is queued
//! every 50 ms, turns records into rows, batches them per deployment and
//! writes each batch as a Parquet file through a [`PredictionSink`] — the server's artifact store, or a
//! replica's control plane — at `monitoring/<deployment>/date=YYYY-MM-DD/<flush ms>-<uuid>.parquet`, so
//! pandas, DuckDB or Polars read a deployment's log as one hive-partitioned dataset.
//!
//! Each row: `request_id`, `row` (its index in the request), `timestamp` (UTC, ms), `deployment`, `model`,
//! `model_version`, `latency_ms`, then one column per input feature (the signature's column names for a
//! model taking one matrix, else `<input>` or `<input>_<j>`) and per output value (`<output>` or
//! `<output>_<j>`, e.g. `label`, `probabilities_0`…).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
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
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

/// Where batches of logged predictions go.
#[async_trait]
pub trait PredictionSink: Send + Sync + 'static {
    /// Stores one Parquet file of `deployment`'s log at `file` (`date=YYYY-MM-DD/<name>.parquet`).
    async fn write(&self, deployment: &str, file: &str, parquet: Vec<u8>) -> anyhow::Result<()>;
}

/// The meta columns every logged row carries, before the model's own.
pub use cairn_domain::monitor::PREDICTION_META_COLUMNS as META_COLUMNS;

/// Which model answered, as the log names it: shared by every record of a loaded model, so the hot path
/// clones a pointer, not strings.
#[derive(Debug)]
pub struct Origin {
    pub model: String,
    pub version: String,
    /// The signature's column names, for a model taking one matrix.
    pub columns: Option<Arc<[String]>>,
}

/// One request to log.
pub struct Record {
    pub deployment: Arc<str>,
    pub origin: Arc<Origin>,
    pub request_id: String,
    pub timestamp_ms: i64,
    pub latency_ms: f64,
    pub inputs: Vec<Tensor>,
    pub outputs: Vec<Tensor>,
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

/// The queue between requests and the writer: a few mutex-guarded buffers a request appends to (a
/// short, rarely contended lock; no task is woken), drained by the writer every [`DRAIN`].
struct Queue {
    shards: Vec<Mutex<Vec<Record>>>,
    /// Records each shard may hold before new ones are dropped.
    per_shard: usize,
}

/// How often the writer takes what requests queued.
const DRAIN: Duration = Duration::from_millis(50);
const SHARDS: usize = 8;

/// The sending end, shared by every request.
#[derive(Clone)]
pub struct PredictionLog {
    queue: Arc<Queue>,
}

impl PredictionLog {
    /// Starts the writer task.
    pub fn start(sink: Arc<dyn PredictionSink>, settings: LogSettings) -> Self {
        let queue = Arc::new(Queue {
            shards: (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
            per_shard: settings.queue.div_ceil(SHARDS).max(1),
        });
        tokio::spawn(write_loop(Arc::downgrade(&queue), sink, settings));
        PredictionLog { queue }
    }

    /// Queues `record`, or drops and counts it when the queue is full.
    pub fn record(&self, record: Record) {
        let shard = &self.queue.shards[rand::random_range(0..SHARDS)];
        let mut records = shard.lock().unwrap_or_else(|p| p.into_inner());
        if records.len() < self.queue.per_shard {
            records.push(record);
            return;
        }
        drop(records);
        metrics::counter!("cairn_prediction_log_dropped_total", "deployment" => record.deployment.to_string())
            .increment(1);
    }
}

/// Drains the queue every [`DRAIN`] into per-deployment batches, flushed every `settings.flush` or at
/// `settings.flush_rows`; ends (flushing what it holds) when the log is dropped.
async fn write_loop(queue: Weak<Queue>, sink: Arc<dyn PredictionSink>, settings: LogSettings) {
    let mut batches: HashMap<Arc<str>, Batch> = HashMap::new();
    let mut drain = tokio::time::interval(DRAIN);
    drain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_flush = tokio::time::Instant::now();
    let mut taken = Vec::new();
    loop {
        drain.tick().await;
        let Some(queue) = queue.upgrade() else { break };
        for shard in &queue.shards {
            let mut records = shard.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::swap(&mut *records, &mut taken);
            drop(records);
            for record in taken.drain(..) {
                let batch = batches
                    .entry(record.deployment.clone())
                    .or_insert_with(|| Batch::new(record.deployment.clone()));
                batch.push(record);
                if batch.rows >= settings.flush_rows {
                    let full = std::mem::replace(batch, Batch::new(batch.deployment.clone()));
                    flush(&sink, full);
                }
            }
        }
        drop(queue);
        if last_flush.elapsed() >= settings.flush {
            last_flush = tokio::time::Instant::now();
            batches.retain(|_, b| b.rows > 0);
            for batch in batches.values_mut() {
                let full = std::mem::replace(batch, Batch::new(batch.deployment.clone()));
                flush(&sink, full);
            }
        }
    }
    for (_, batch) in batches.drain() {
        if batch.rows > 0 {
            flush(&sink, batch);
        }
    }
}

/// Encodes and writes a batch off the receiving task (encoding is CPU work; the write is I/O).
fn flush(sink: &Arc<dyn PredictionSink>, batch: Batch) {
    let sink = sink.clone();
    tokio::spawn(async move {
        let rows = batch.rows;
        let deployment = batch.deployment.to_string();
        let now = chrono::Utc::now();
        let file = format!(
            "date={}/{:013}-{}.parquet",
            now.format("%Y-%m-%d"),
            now.timestamp_millis(),
            uuid::Uuid::new_v4().simple()
        );
        let encoded = tokio::task::spawn_blocking(move || batch.into_parquet()).await;
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

fn text_at(data: &TensorData, k: usize) -> String {
    match data {
        TensorData::F32(v) => v[k].to_string(),
        TensorData::F64(v) => v[k].to_string(),
        TensorData::I64(v) => v[k].to_string(),
        TensorData::I32(v) => v[k].to_string(),
        TensorData::Bool(v) => v[k].to_string(),
        TensorData::String(v) => v[k].clone(),
    }
}

/// A column under construction: typed, `None` where a row has no value.
enum Cells {
    Float(Vec<Option<f64>>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Text(Vec<Option<String>>),
}

impl Cells {
    fn empty_like(data: &TensorData) -> Cells {
        match data {
            TensorData::F32(_) | TensorData::F64(_) => Cells::Float(Vec::new()),
            TensorData::I64(_) | TensorData::I32(_) => Cells::Int(Vec::new()),
            TensorData::Bool(_) => Cells::Bool(Vec::new()),
            TensorData::String(_) => Cells::Text(Vec::new()),
        }
    }

    /// Appends `data` at `at`; values of another type than the column's turn it into text.
    fn append(&mut self, data: &TensorData, at: impl Iterator<Item = usize>) {
        match (&mut *self, data) {
            (Cells::Float(a), TensorData::F32(v)) => a.extend(at.map(|k| Some(f64::from(v[k])))),
            (Cells::Float(a), TensorData::F64(v)) => a.extend(at.map(|k| Some(v[k]))),
            (Cells::Float(a), TensorData::I64(v)) => a.extend(at.map(|k| Some(v[k] as f64))),
            (Cells::Float(a), TensorData::I32(v)) => a.extend(at.map(|k| Some(f64::from(v[k])))),
            (Cells::Int(a), TensorData::I64(v)) => a.extend(at.map(|k| Some(v[k]))),
            (Cells::Int(a), TensorData::I32(v)) => a.extend(at.map(|k| Some(i64::from(v[k])))),
            (Cells::Bool(a), TensorData::Bool(v)) => a.extend(at.map(|k| Some(v[k]))),
            (Cells::Text(a), data) => a.extend(at.map(|k| Some(text_at(data, k)))),
            (cells, data) => {
                let mut text = std::mem::replace(cells, Cells::Text(Vec::new())).into_text();
                text.extend(at.map(|k| Some(text_at(data, k))));
                *cells = Cells::Text(text);
            }
        }
    }

    /// Missing values up to row `to` (never shortens).
    fn pad(&mut self, to: usize) {
        fn grow<T: Clone>(v: &mut Vec<Option<T>>, to: usize) {
            if v.len() < to {
                v.resize(to, None);
            }
        }
        match self {
            Cells::Float(v) => grow(v, to),
            Cells::Int(v) => grow(v, to),
            Cells::Bool(v) => grow(v, to),
            Cells::Text(v) => grow(v, to),
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

/// Where one tensor's values go: a column per value of a row, found once per request shape.
struct Layout {
    tensor: String,
    width: usize,
    /// Named by the signature's columns (a model's only input).
    named: bool,
    columns: Vec<usize>,
}

/// One deployment's rows since its last flush. Values are appended straight into typed columns; model
/// names and versions are kept once and referenced by index, so a logged request costs no allocation
/// beyond its request id once the batch has seen its shape.
struct Batch {
    deployment: Arc<str>,
    rows: usize,
    request_id: Vec<String>,
    row: Vec<i64>,
    timestamp: Vec<i64>,
    /// Index into `served` (model name, version) per row.
    served_at: Vec<u32>,
    served: Vec<(String, String)>,
    latency: Vec<f64>,
    /// The model's columns, in first-seen order.
    columns: Vec<(String, Cells)>,
    layouts: Vec<Layout>,
}

impl Batch {
    fn new(deployment: Arc<str>) -> Self {
        Batch {
            deployment,
            rows: 0,
            request_id: Vec::new(),
            row: Vec::new(),
            timestamp: Vec::new(),
            served_at: Vec::new(),
            served: Vec::new(),
            latency: Vec::new(),
            columns: Vec::new(),
            layouts: Vec::new(),
        }
    }

    fn push(&mut self, r: Record) {
        let rows = r
            .inputs
            .first()
            .map_or(0, |t| t.shape.first().copied().unwrap_or(1).max(0) as usize);
        if rows == 0 {
            return;
        }
        let start = self.rows;
        let o = &r.origin;
        let at = match self
            .served
            .iter()
            .rposition(|(m, v)| *m == o.model && *v == o.version)
        {
            Some(i) => i,
            None => {
                self.served.push((o.model.clone(), o.version.clone()));
                self.served.len() - 1
            }
        } as u32;
        for i in 0..rows {
            self.row.push(i as i64);
        }
        self.request_id
            .extend(std::iter::repeat_n(r.request_id, rows));
        self.timestamp
            .extend(std::iter::repeat_n(r.timestamp_ms, rows));
        self.served_at.extend(std::iter::repeat_n(at, rows));
        self.latency.extend(std::iter::repeat_n(r.latency_ms, rows));
        self.rows += rows;
        let names = (r.inputs.len() == 1)
            .then(|| r.origin.columns.as_deref())
            .flatten();
        for t in &r.inputs {
            self.add_tensor(t, rows, start, names);
        }
        for t in &r.outputs {
            self.add_tensor(t, rows, start, None);
        }
        for (_, cells) in &mut self.columns {
            cells.pad(self.rows);
        }
    }

    /// The columns a `[rows, width]` tensor spreads over, created the first time its shape is seen.
    fn layout(&mut self, t: &Tensor, width: usize, names: Option<&[String]>) -> usize {
        let named = names.is_some_and(|n| n.len() == width);
        if let Some(i) = self
            .layouts
            .iter()
            .position(|l| l.tensor == t.name && l.width == width && l.named == named)
        {
            return i;
        }
        let columns = (0..width)
            .map(|j| {
                let name = match names {
                    Some(n) if named => n[j].clone(),
                    _ if width == 1 => t.name.clone(),
                    _ => format!("{}_{j}", t.name),
                };
                match self.columns.iter().position(|(n, _)| *n == name) {
                    Some(i) => i,
                    None => {
                        self.columns.push((name, Cells::empty_like(&t.data)));
                        self.columns.len() - 1
                    }
                }
            })
            .collect();
        self.layouts.push(Layout {
            tensor: t.name.clone(),
            width,
            named,
            columns,
        });
        self.layouts.len() - 1
    }

    /// Appends a `[rows, …]` tensor's values: one column per value of a row.
    fn add_tensor(&mut self, t: &Tensor, rows: usize, start: usize, names: Option<&[String]>) {
        if !t.data.len().is_multiple_of(rows) {
            return;
        }
        let width = t.data.len() / rows;
        let l = self.layout(t, width, names);
        for j in 0..width {
            let c = self.layouts[l].columns[j];
            let cells = &mut self.columns[c].1;
            cells.pad(start);
            cells.append(&t.data, (0..rows).map(|i| i * width + j));
        }
    }

    fn into_parquet(self) -> anyhow::Result<Vec<u8>> {
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
        // Strings are copied from where they are kept, never cloned a row at a time.
        fn text<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
            let mut b = StringBuilder::new();
            values.for_each(|s| b.append_value(s));
            Arc::new(b.finish())
        }
        let mut timestamps = TimestampMillisecondBuilder::with_capacity(n);
        timestamps.append_slice(&self.timestamp);
        let mut arrays: Vec<ArrayRef> = vec![
            text(self.request_id.iter().map(String::as_str)),
            Arc::new(arrow_array::Int64Array::from(self.row)),
            Arc::new(timestamps.finish().with_timezone("UTC")),
            text(std::iter::repeat_n(&*self.deployment, n)),
            text(
                self.served_at
                    .iter()
                    .map(|&i| self.served[i as usize].0.as_str()),
            ),
            text(
                self.served_at
                    .iter()
                    .map(|&i| self.served[i as usize].1.as_str()),
            ),
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
        // Dictionaries only where values repeat (request ids and measurements rarely do: trying costs a
        // hash per value); statistics per column chunk, enough for readers to prune by time.
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_dictionary_enabled(false)
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_column_dictionary_enabled(ColumnPath::from("deployment"), true)
            .set_column_dictionary_enabled(ColumnPath::from("model"), true)
            .set_column_dictionary_enabled(ColumnPath::from("model_version"), true)
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
            origin: Arc::new(Origin {
                model: "m".into(),
                version: "1".into(),
                columns: Some(vec!["a".to_owned(), "b".to_owned()].into()),
            }),
            request_id: id.into(),
            timestamp_ms: 1_700_000_000_000,
            latency_ms: 1.5,
            inputs: vec![tensor("X", vec![rows, 2], TensorData::F32(x))],
            outputs: vec![tensor("label", vec![rows], TensorData::I64(label))],
        }
    }

    #[test]
    fn rows_spread_over_named_columns_and_read_back() {
        let mut batch = Batch::new("d".into());
        batch.push(record("r1", vec![1.0, 2.0, 3.0, 4.0], vec![0, 1]));
        batch.push(record("r2", vec![5.0, 6.0], vec![2]));
        assert_eq!(batch.rows, 3);
        let bytes = batch.into_parquet().unwrap();
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
        let mut batch = Batch::new("d".into());
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
        let mut mixed = Batch::new("d".into());
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
