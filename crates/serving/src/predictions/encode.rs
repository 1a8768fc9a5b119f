//! A batch as a Parquet file. The batch's buffers are lent to Arrow arrays without copying and taken
//! back once the file is written, so the next batch fills the same memory.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow_buffer::{
    ArrowNativeType, BooleanBufferBuilder, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::META_COLUMNS;
use super::batch::{Batch, Strings, Values};

/// `v`'s values as an Arrow buffer, and the buffer to take back with [`repay`] once the arrays built
/// on it are gone.
fn lend<T: ArrowNativeType>(v: &mut Vec<T>) -> (ScalarBuffer<T>, Buffer) {
    let len = v.len();
    let buffer = Buffer::from_vec(std::mem::take(v));
    (ScalarBuffer::new(buffer.clone(), 0, len), buffer)
}

/// Puts a lent buffer back into `v` (it stays empty if something still holds the buffer).
fn repay<T: ArrowNativeType>(buffer: Buffer, v: &mut Vec<T>) {
    if let Ok(back) = buffer.into_vec::<T>() {
        *v = back;
    }
}

/// A lent [`Strings`].
struct StringsLoan {
    offsets: Buffer,
    bytes: Buffer,
}

impl StringsLoan {
    fn repay(self, s: &mut Strings) {
        repay(self.offsets, &mut s.offsets);
        repay(self.bytes, &mut s.bytes);
        if s.offsets.is_empty() {
            s.offsets.push(0);
        }
    }
}

fn lend_strings(
    s: &mut Strings,
    nulls: Option<NullBuffer>,
) -> anyhow::Result<(ArrayRef, StringsLoan)> {
    let (offsets, offsets_loan) = lend(&mut s.offsets);
    let bytes = Buffer::from_vec(std::mem::take(&mut s.bytes));
    let array = StringArray::try_new(OffsetBuffer::new(offsets), bytes.clone(), nulls)?;
    let loan = StringsLoan {
        offsets: offsets_loan,
        bytes,
    };
    Ok((Arc::new(array), loan))
}

/// Validity from the rows without a value; none when every row has one.
fn nulls(missing: &[Range<usize>], n: usize) -> Option<NullBuffer> {
    if missing.is_empty() {
        return None;
    }
    let mut valid = BooleanBufferBuilder::new(n);
    let mut at = 0;
    for r in missing {
        valid.append_n(r.start - at, true);
        valid.append_n(r.len(), false);
        at = r.end;
    }
    valid.append_n(n - at, true);
    Some(NullBuffer::new(valid.finish()))
}

/// What a model column lent.
enum ColumnLoan {
    Numbers(Buffer),
    Text(StringsLoan),
    Nothing,
}

/// Encodes `b`'s rows as one Parquet file; `b` keeps its rows (and its buffers) for [`Batch::clear`].
pub(super) fn to_parquet(b: &mut Batch) -> anyhow::Result<Vec<u8>> {
    let n = b.rows;
    let [deployments, models, versions] = &mut b.repeated;
    for &i in &b.served_at {
        let (model, version) = &b.served[i as usize];
        deployments.push(&b.deployment);
        models.push(model);
        versions.push(version);
    }
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
    let (ids, ids_loan) = lend_strings(&mut b.request_id, None)?;
    let (row, row_loan) = lend(&mut b.row);
    let (timestamp, timestamp_loan) = lend(&mut b.timestamp);
    let (deployment, deployment_loan) = lend_strings(&mut b.repeated[0], None)?;
    let (model, model_loan) = lend_strings(&mut b.repeated[1], None)?;
    let (version, version_loan) = lend_strings(&mut b.repeated[2], None)?;
    let (latency, latency_loan) = lend(&mut b.latency);
    let mut arrays: Vec<ArrayRef> = vec![
        ids,
        Arc::new(Int64Array::new(row, None)),
        Arc::new(TimestampMillisecondArray::new(timestamp, None).with_timezone("UTC")),
        deployment,
        model,
        version,
        Arc::new(Float64Array::new(latency, None)),
    ];
    let mut loans = Vec::with_capacity(b.columns.len());
    for i in 0..b.columns.len() {
        let (name, cells) = &b.columns[i];
        if META_COLUMNS.contains(&name.as_str()) || b.unseen(cells) {
            loans.push(ColumnLoan::Nothing);
            continue;
        }
        let valid = nulls(&cells.missing, n);
        let (name, cells) = &mut b.columns[i];
        let (data_type, array, loan): (DataType, ArrayRef, ColumnLoan) = match &mut cells.values {
            Values::Float(v) => {
                let (values, loan) = lend(v);
                let array = Arc::new(Float64Array::new(values, valid));
                (DataType::Float64, array, ColumnLoan::Numbers(loan))
            }
            Values::Int(v) => {
                let (values, loan) = lend(v);
                let array = Arc::new(Int64Array::new(values, valid));
                (DataType::Int64, array, ColumnLoan::Numbers(loan))
            }
            Values::Bool(v) => {
                let array = Arc::new(BooleanArray::new(v.iter().copied().collect(), valid));
                (DataType::Boolean, array, ColumnLoan::Nothing)
            }
            Values::Text(s) => {
                let (array, loan) = lend_strings(s, valid)?;
                (DataType::Utf8, array, ColumnLoan::Text(loan))
            }
        };
        fields.push(Field::new(name.clone(), data_type, true));
        arrays.push(array);
        loans.push(loan);
    }
    let out = write(fields, arrays, b.encoded_size);
    ids_loan.repay(&mut b.request_id);
    repay(row_loan, &mut b.row);
    repay(timestamp_loan, &mut b.timestamp);
    deployment_loan.repay(&mut b.repeated[0]);
    model_loan.repay(&mut b.repeated[1]);
    version_loan.repay(&mut b.repeated[2]);
    repay(latency_loan, &mut b.latency);
    for ((_, cells), loan) in b.columns.iter_mut().zip(loans) {
        match (&mut cells.values, loan) {
            (Values::Float(v), ColumnLoan::Numbers(l)) => repay(l, v),
            (Values::Int(v), ColumnLoan::Numbers(l)) => repay(l, v),
            (Values::Text(s), ColumnLoan::Text(l)) => l.repay(s),
            _ => {}
        }
    }
    let out = out?;
    b.encoded_size = out.len();
    Ok(out)
}

/// The file; the arrays (and their hold on the lent buffers) are gone when it returns.
fn write(fields: Vec<Field>, arrays: Vec<ArrayRef>, size_hint: usize) -> anyhow::Result<Vec<u8>> {
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
    let mut out = Vec::with_capacity(size_hint + size_hint / 4);
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(props))?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(out)
}
