//! Prediction logging: what a deployment saw and answered, for monitoring. A request hands its inputs and
//! outputs to a bounded queue and returns (when the queue is full the record is dropped and counted —
//! inference never waits, and no thread is woken per request); a writer thread takes what is queued
//! every 50 ms, turns records into rows in per-deployment batches whose buffers it reuses, and
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
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cairn_onnx::Tensor;

mod batch;
mod encode;

use batch::Batch;

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
/// short, rarely contended lock; no thread is woken), drained by the writer every [`DRAIN`].
struct Queue {
    shards: Vec<Mutex<Vec<Record>>>,
    /// Records each shard may hold before new ones are dropped.
    per_shard: usize,
}

/// How often the writer takes what requests queued.
const DRAIN: Duration = Duration::from_millis(50);
const SHARDS: usize = 8;
/// Text a batch may hold before it is flushed, far below Arrow's 2 GiB of 32-bit string offsets.
const FLUSH_TEXT_BYTES: usize = 256 << 20;

/// The sending end, shared by every request.
#[derive(Clone)]
pub struct PredictionLog {
    queue: Arc<Queue>,
}

impl PredictionLog {
    /// Starts the writer thread; files are written through `sink` on the current Tokio runtime.
    pub fn start(sink: Arc<dyn PredictionSink>, settings: LogSettings) -> Self {
        let queue = Arc::new(Queue {
            shards: (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
            per_shard: settings.queue.div_ceil(SHARDS).max(1),
        });
        let writer = Writer {
            queue: Arc::downgrade(&queue),
            sink,
            settings,
            runtime: tokio::runtime::Handle::current(),
            batches: HashMap::new(),
        };
        // Without its thread nothing drains the queue: records are then dropped and counted.
        if let Err(e) = std::thread::Builder::new()
            .name("cairn-prediction-log".into())
            .spawn(move || writer.run())
        {
            tracing::error!(error = %e, "starting the prediction log's writer: predictions are not logged");
        }
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

/// The writer: a thread of its own, so batching and encoding take no turn on the async runtime and
/// each deployment's batch (and its buffers) lives from one flush to the next.
struct Writer {
    queue: Weak<Queue>,
    sink: Arc<dyn PredictionSink>,
    settings: LogSettings,
    runtime: tokio::runtime::Handle,
    batches: HashMap<Arc<str>, Batch>,
}

impl Writer {
    /// Drains the queue every [`DRAIN`] into per-deployment batches, flushed every `settings.flush` or
    /// at `settings.flush_rows`; ends (flushing what it holds) when the log is dropped.
    fn run(mut self) {
        let mut last_flush = Instant::now();
        let mut taken = Vec::new();
        loop {
            std::thread::sleep(DRAIN);
            let Some(queue) = self.queue.upgrade() else {
                break;
            };
            for shard in &queue.shards {
                let mut records = shard.lock().unwrap_or_else(|p| p.into_inner());
                std::mem::swap(&mut *records, &mut taken);
                drop(records);
                for record in taken.drain(..) {
                    let batch = self
                        .batches
                        .entry(record.deployment.clone())
                        .or_insert_with(|| Batch::new(record.deployment.clone()));
                    batch.push(&record);
                    if batch.rows >= self.settings.flush_rows
                        || batch.text_bytes() >= FLUSH_TEXT_BYTES
                    {
                        flush(&self.sink, &self.runtime, batch);
                    }
                }
            }
            drop(queue);
            if last_flush.elapsed() >= self.settings.flush {
                last_flush = Instant::now();
                // A deployment that logged nothing for a whole period gives its buffers back.
                self.batches.retain(|_, b| b.rows > 0);
                for batch in self.batches.values_mut() {
                    flush(&self.sink, &self.runtime, batch);
                }
            }
        }
        for batch in self.batches.values_mut() {
            if batch.rows > 0 {
                flush(&self.sink, &self.runtime, batch);
            }
        }
    }
}

/// Encodes `batch` here, hands the file to the sink on the runtime (the write is I/O) and empties the
/// batch for its next rows.
fn flush(sink: &Arc<dyn PredictionSink>, runtime: &tokio::runtime::Handle, batch: &mut Batch) {
    let rows = batch.rows;
    let deployment = batch.deployment.to_string();
    let encoded = encode::to_parquet(batch);
    batch.clear();
    let bytes = match encoded {
        Ok(bytes) => bytes,
        Err(e) => return failed(&deployment, rows, &e),
    };
    let now = chrono::Utc::now();
    let file = format!(
        "date={}/{:013}-{}.parquet",
        now.format("%Y-%m-%d"),
        now.timestamp_millis(),
        uuid::Uuid::new_v4().simple()
    );
    let sink = sink.clone();
    runtime.spawn(async move {
        match sink.write(&deployment, &file, bytes).await {
            Ok(()) => {
                metrics::counter!("cairn_prediction_log_rows_total", "deployment" => deployment)
                    .increment(rows as u64);
            }
            Err(e) => failed(&deployment, rows, &e),
        }
    });
}

fn failed(deployment: &str, rows: usize, e: &anyhow::Error) {
    tracing::warn!(deployment = %deployment, rows, error = %format!("{e:#}"), "writing logged predictions");
    metrics::counter!("cairn_prediction_log_dropped_total", "deployment" => deployment.to_owned())
        .increment(rows as u64);
}

#[cfg(test)]
mod tests {
    use super::batch::Values;
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};
    use arrow_array::{Array, RecordBatch};
    use cairn_onnx::TensorData;

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

    /// Encodes the batch, reads the file back and empties the batch, as a flush does.
    fn flushed(batch: &mut Batch) -> RecordBatch {
        let bytes = encode::to_parquet(batch).unwrap();
        batch.clear();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(bytes),
        )
        .unwrap()
        .build()
        .unwrap();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert_eq!(batches.len(), 1);
        batches.into_iter().next().unwrap()
    }

    fn names(b: &RecordBatch) -> Vec<String> {
        b.schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    #[test]
    fn rows_spread_over_named_columns_and_read_back() {
        let mut batch = Batch::new("d".into());
        batch.push(&record("r1", vec![1.0, 2.0, 3.0, 4.0], vec![0, 1]));
        batch.push(&record("r2", vec![5.0, 6.0], vec![2]));
        assert_eq!(batch.rows, 3);
        let b = flushed(&mut batch);
        assert_eq!(
            names(&b),
            [META_COLUMNS.as_slice(), &["a", "b", "label"]].concat()
        );
        let a = b.column(7).as_primitive::<Float64Type>();
        assert_eq!(a.values().to_vec(), vec![1.0, 3.0, 5.0]);
        assert_eq!(a.null_count(), 0);
        let rows = b.column(1).as_primitive::<Int64Type>();
        assert_eq!(rows.values().to_vec(), vec![0, 1, 0]);
        let ids = b.column(0).as_string::<i32>();
        assert_eq!(ids.value(2), "r2");
        let models = b.column(4).as_string::<i32>();
        assert_eq!((models.value(0), b.column(3).len()), ("m", 3));
    }

    #[test]
    fn a_batch_reuses_its_buffers_and_the_next_file_holds_only_its_own_rows() {
        let mut batch = Batch::new("d".into());
        for i in 0..100 {
            batch.push(&record(&format!("first-{i}"), vec![i as f32, 0.5], vec![i]));
        }
        let first = flushed(&mut batch);
        assert_eq!(first.num_rows(), 100);
        // The buffers came back from Arrow: the next rows fill the same memory.
        assert!(batch.row.capacity() >= 100 && batch.latency.capacity() >= 100);
        assert!(batch.request_id.bytes.capacity() >= 100 * "first-0".len());
        let a = &batch.columns[0].1.values;
        assert!(matches!(a, Values::Float(v) if v.is_empty() && v.capacity() >= 100));
        batch.push(&record("second", vec![7.0, 8.0, 9.0, 10.0], vec![1, 2]));
        let second = flushed(&mut batch);
        assert_eq!(second.num_rows(), 2);
        let ids = second.column(0).as_string::<i32>();
        assert_eq!((ids.value(0), ids.value(1)), ("second", "second"));
        let b = second.column(8).as_primitive::<Float64Type>();
        assert_eq!(b.values().to_vec(), vec![8.0, 10.0]);
        let label = second.column(9).as_primitive::<Int64Type>();
        assert_eq!(label.values().to_vec(), vec![1, 2]);
    }

    #[test]
    fn a_column_seen_late_is_missing_before_and_mixed_types_become_text() {
        let mut batch = Batch::new("d".into());
        batch.push(&record("r1", vec![1.0, 2.0], vec![0]));
        let mut second = record("r2", vec![3.0, 4.0], vec![1]);
        second.outputs.push(tensor(
            "extra",
            vec![1],
            TensorData::String(vec!["x".into()]),
        ));
        batch.push(&second);
        batch.push(&record("r3", vec![5.0, 6.0], vec![2]));
        let b = flushed(&mut batch);
        let extra = b.column(10).as_string::<i32>();
        assert_eq!(names(&b)[10], "extra");
        let values: Vec<Option<&str>> = extra.iter().collect();
        assert_eq!(values, vec![None, Some("x"), None]);
        // The next file has no column its rows never had.
        batch.push(&record("r4", vec![7.0, 8.0], vec![3]));
        let next = flushed(&mut batch);
        assert_eq!(
            names(&next),
            [META_COLUMNS.as_slice(), &["a", "b", "label"]].concat()
        );

        let mut mixed = Batch::new("d".into());
        mixed.push(&record("r1", vec![1.0, 2.0], vec![0]));
        let mut m = record("r2", vec![3.0, 4.0], vec![1]);
        m.outputs[0].data = TensorData::String(vec!["cat".into()]);
        mixed.push(&m);
        let b = flushed(&mut mixed);
        let label = b.column(9).as_string::<i32>();
        let values: Vec<Option<&str>> = label.iter().collect();
        assert_eq!(values, vec![Some("0"), Some("cat")]);
    }
}
