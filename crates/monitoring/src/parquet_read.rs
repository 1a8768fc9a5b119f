//! Parquet to [`Table`], batch by batch: numeric arrow types become numbers (nulls NaN; integer types
//! integer-typed when null-free, as pandas reads them), text, dictionary-encoded text and booleans
//! (`True`/`False`, as pandas prints them) become categories. Timestamps are left out, as Evidently leaves
//! datetime columns out of drift — unless asked for (a prediction log's `timestamp`, to slice a window),
//! then as milliseconds since the epoch. Other types (dates, nested) are left out.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, RecordBatchReader};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::reader::ChunkReader;

use crate::InputError;
use crate::table::{CategoriesBuilder, Column, MISSING, Table, Values};

enum Builder {
    Numeric { values: Vec<f64>, integer: bool },
    Text(CategoriesBuilder),
    Skip,
}

pub fn read<T: ChunkReader + 'static>(
    source: T,
    what: &str,
    timestamps: bool,
) -> Result<Table, InputError> {
    let meta = metadata(&source, what)?;
    read_with(source, meta, what, timestamps, None)
}

/// The file's metadata, with text columns to be read as dictionaries (see [`dictionary_hint`]).
pub fn metadata<T: ChunkReader>(source: &T, what: &str) -> Result<ArrowReaderMetadata, InputError> {
    let meta = ArrowReaderMetadata::load(source, ArrowReaderOptions::new())
        .map_err(|e| malformed(what, &e))?;
    match dictionary_hint(meta.schema()) {
        Some(hint) => ArrowReaderMetadata::try_new(
            meta.metadata().clone(),
            ArrowReaderOptions::new().with_schema(hint),
        )
        .map_err(|e| malformed(what, &e)),
        None => Ok(meta),
    }
}

/// The names of the columns [`read`] keeps (numbers and text; not dates or nested types).
pub fn readable_columns(meta: &ArrowReaderMetadata) -> Vec<String> {
    meta.schema()
        .fields()
        .iter()
        .filter(|f| !matches!(kind(f.data_type(), false), Kind::Skip))
        .map(|f| f.name().clone())
        .collect()
}

/// One top-level column of a file whose metadata was read with [`metadata`] (`None`: no such column, or
/// one [`read`] leaves out).
pub fn read_column<T: ChunkReader + 'static>(
    source: T,
    meta: &ArrowReaderMetadata,
    what: &str,
    name: &str,
) -> Result<Option<Column>, InputError> {
    let Some(root) = meta.schema().fields().iter().position(|f| f.name() == name) else {
        return Ok(None);
    };
    let mask = ProjectionMask::roots(meta.parquet_schema(), [root]);
    let t = read_with(source, meta.clone(), what, false, Some(mask))?;
    Ok(t.columns.into_iter().next())
}

fn malformed(what: &str, e: &dyn std::fmt::Display) -> InputError {
    InputError::Malformed {
        what: what.into(),
        reason: e.to_string(),
    }
}

fn read_with<T: ChunkReader + 'static>(
    source: T,
    meta: ArrowReaderMetadata,
    what: &str,
    timestamps: bool,
    projection: Option<ProjectionMask>,
) -> Result<Table, InputError> {
    let malformed = |e: &dyn std::fmt::Display| malformed(what, e);
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(source, meta);
    if let Some(mask) = projection {
        builder = builder.with_projection(mask);
    }
    let rows = builder.metadata().file_metadata().num_rows().max(0) as usize;
    let reader = builder
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| malformed(&e))?;
    let schema = reader.schema();
    let mut builders: Vec<Builder> = schema
        .fields()
        .iter()
        .map(|f| match kind(f.data_type(), timestamps) {
            Kind::Numeric(integer) => Builder::Numeric {
                values: Vec::with_capacity(rows),
                integer,
            },
            Kind::Text => Builder::Text(CategoriesBuilder::default()),
            Kind::Skip => Builder::Skip,
        })
        .collect();
    for batch in reader {
        let batch = batch.map_err(|e| malformed(&e))?;
        for (b, array) in builders.iter_mut().zip(batch.columns()) {
            append(b, array).map_err(|e| malformed(&e))?;
        }
    }
    let columns = schema
        .fields()
        .iter()
        .zip(builders)
        .filter_map(|(f, b)| {
            let name = f.name().clone();
            match b {
                Builder::Numeric { values, integer } => Some(Column {
                    name,
                    values: Values::Numeric(values),
                    integer,
                }),
                Builder::Text(b) => Some(Column {
                    name,
                    values: Values::Categorical(b.finish()),
                    integer: false,
                }),
                Builder::Skip => None,
            }
        })
        .collect();
    Ok(Table { columns })
}

/// The file's schema with text columns read as dictionaries: a dictionary-encoded column chunk (what
/// pyarrow and most writers produce for text) then arrives as keys into its few distinct values, so each
/// value is interned once per batch instead of once per row. `None` when there is no text column.
fn dictionary_hint(schema: &SchemaRef) -> Option<SchemaRef> {
    let is_text = |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8);
    if !schema.fields().iter().any(|f| is_text(f.data_type())) {
        return None;
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            t if is_text(t) => f.as_ref().clone().with_data_type(DataType::Dictionary(
                Box::new(DataType::Int32),
                Box::new(t.clone()),
            )),
            _ => f.as_ref().clone(),
        })
        .collect();
    Some(Arc::new(Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    )))
}

enum Kind {
    Numeric(bool),
    Text,
    Skip,
}

fn kind(t: &DataType, timestamps: bool) -> Kind {
    use DataType::*;
    match t {
        Float16 | Float32 | Float64 => Kind::Numeric(false),
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => Kind::Numeric(true),
        Timestamp(_, _) if timestamps => Kind::Numeric(false),
        Utf8 | LargeUtf8 | Utf8View | Boolean => Kind::Text,
        Dictionary(_, v) if matches!(**v, Utf8 | LargeUtf8 | Utf8View) => Kind::Text,
        _ => Kind::Skip,
    }
}

fn append(b: &mut Builder, array: &ArrayRef) -> Result<(), String> {
    match b {
        Builder::Skip => Ok(()),
        Builder::Numeric { values, integer } => {
            if array.null_count() > 0 {
                *integer = false;
            }
            match array.data_type() {
                DataType::Float64 => push_num::<Float64Type>(values, array),
                DataType::Float32 => push_num::<Float32Type>(values, array),
                DataType::Int8 => push_num::<Int8Type>(values, array),
                DataType::Int16 => push_num::<Int16Type>(values, array),
                DataType::Int32 => push_num::<Int32Type>(values, array),
                DataType::Int64 => push_num::<Int64Type>(values, array),
                DataType::UInt8 => push_num::<UInt8Type>(values, array),
                DataType::UInt16 => push_num::<UInt16Type>(values, array),
                DataType::UInt32 => push_num::<UInt32Type>(values, array),
                DataType::UInt64 => push_num::<UInt64Type>(values, array),
                DataType::Timestamp(unit, _) => {
                    let start = values.len();
                    let per_ms = match unit {
                        TimeUnit::Second => {
                            push_num::<TimestampSecondType>(values, array);
                            1e-3
                        }
                        TimeUnit::Millisecond => {
                            push_num::<TimestampMillisecondType>(values, array);
                            1.0
                        }
                        TimeUnit::Microsecond => {
                            push_num::<TimestampMicrosecondType>(values, array);
                            1e3
                        }
                        TimeUnit::Nanosecond => {
                            push_num::<TimestampNanosecondType>(values, array);
                            1e6
                        }
                    };
                    if per_ms != 1.0 {
                        values[start..].iter_mut().for_each(|v| *v /= per_ms);
                    }
                    *integer = false;
                }
                other => return Err(format!("unsupported numeric type {other}")),
            }
            Ok(())
        }
        Builder::Text(b) => push_text(b, array),
    }
}

fn push_num<T: ArrowPrimitiveType>(out: &mut Vec<f64>, array: &ArrayRef)
where
    T::Native: ToF64,
{
    let a = array.as_primitive::<T>();
    if a.null_count() == 0 {
        out.extend(a.values().iter().map(|v| v.to_f64()));
    } else {
        out.extend(a.iter().map(|v| v.map_or(f64::NAN, |v| v.to_f64())));
    }
}

/// Lossless-enough widening to `f64` for every primitive Parquet hands us.
trait ToF64: Copy {
    fn to_f64(self) -> f64;
}
macro_rules! to_f64 {
    ($($t:ty),*) => { $(impl ToF64 for $t { fn to_f64(self) -> f64 { self as f64 } })* };
}
to_f64!(f32, f64, i8, i16, i32, i64, u8, u16, u32, u64);

fn push_text(b: &mut CategoriesBuilder, array: &ArrayRef) -> Result<(), String> {
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().for_each(|v| b.push(v)),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().for_each(|v| b.push(v)),
        DataType::Utf8View => array.as_string_view().iter().for_each(|v| b.push(v)),
        DataType::Boolean => array
            .as_boolean()
            .iter()
            .for_each(|v| b.push(v.map(|x| if x { "True" } else { "False" }))),
        DataType::Dictionary(k, _) => {
            let d = array.as_any_dictionary();
            let dict_values = d.values().clone();
            let mut codes = CategoriesBuilder::default();
            push_text(&mut codes, &dict_values)?;
            let local = codes.finish();
            let map: Vec<u32> = local
                .codes
                .iter()
                .map(|&c| {
                    if c == MISSING {
                        MISSING
                    } else {
                        b.code_of(&local.levels[c as usize])
                    }
                })
                .collect();
            let keys = d.normalized_keys();
            for (row, key) in keys.into_iter().enumerate() {
                b.push_code(if d.keys().is_null(row) {
                    MISSING
                } else {
                    map.get(key).copied().unwrap_or(MISSING)
                });
            }
            let _ = k;
        }
        other => return Err(format!("unsupported text type {other}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use arrow_array::{Float64Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    use super::*;

    fn parquet(dictionary: bool) -> bytes::Bytes {
        let text = StringArray::from(vec![Some("b"), None, Some("a"), Some("b"), Some("c")]);
        let num = Float64Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        let batch = RecordBatch::try_from_iter([
            ("t", Arc::new(text) as ArrayRef),
            ("x", Arc::new(num) as ArrayRef),
        ])
        .unwrap();
        let props = WriterProperties::builder()
            .set_dictionary_enabled(dictionary)
            .set_max_row_group_row_count(Some(3))
            .build();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        out.into()
    }

    #[test]
    fn text_reads_the_same_dictionary_encoded_or_plain() {
        for dictionary in [true, false] {
            let t = read(parquet(dictionary), "test", false).unwrap();
            let Values::Categorical(c) = &t.column("t").unwrap().values else {
                panic!("text should be categorical");
            };
            let got: Vec<Option<&str>> = (0..c.len()).map(|i| c.get(i)).collect();
            assert_eq!(got, [Some("b"), None, Some("a"), Some("b"), Some("c")]);
            assert!(t.column("x").unwrap().is_numeric());
        }
    }
}
