//! MLflow's scoring protocol (`POST /invocations`, what `mlflow models serve` speaks): the four payload
//! formats the client produces, turned into engine tensors, and predictions answered the way MLflow
//! answers them.
//!
//! - `dataframe_split` / `dataframe_records` (and `instances` as a list of objects) are tables: a model with
//!   one 2-D input takes the columns as features — in the order of the model's MLmodel signature when it
//!   has one (missing columns are an error naming them; extra ones are ignored), else as sent — and a
//!   model with several inputs takes each from the column of its name. Predictions are one record per row,
//!   `{output: value}` (MLflow's own ONNX flavour cannot answer classifiers here: it flattens every
//!   output to one column and fails on a per-row probability vector).
//! - `instances` / `inputs` as arrays or as `{input_name: array}` are tensors; predictions are
//!   `{output: nested array}`.
//! - A `text/csv` body (what pandas' `to_csv(index=False)` writes: a header row of column names, then
//!   one row per prediction) is a table too, read as `dataframe_split` is. Cells are typed as the model
//!   input of their column needs: text for string inputs, else numbers (`True`/`False` as booleans); an
//!   empty cell is a missing value, refused as a JSON `null` is.

use cairn_onnx::{ElementType, Signature, Tensor, TensorSpec};
use serde_json::{Map, Value};

use crate::values::{flatten, rows, tensor};

/// How predictions are shaped: per row (tables) or per output (tensors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Records,
    Columns,
}

const FORMATS: &str =
    "exactly one of 'dataframe_split', 'dataframe_records', 'instances', 'inputs'";

/// Parses a request body — CSV when `content_type` is `text/csv` (parameters such as `charset`
/// aside), else JSON — into the model's inputs.
pub fn parse(
    content_type: Option<&str>,
    body: &[u8],
    sig: &Signature,
    columns: Option<&[String]>,
) -> Result<(Vec<Tensor>, Answer), String> {
    let essence = content_type
        .and_then(|t| t.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    if essence.eq_ignore_ascii_case("text/csv") {
        return csv_inputs(body, sig, columns);
    }
    let body: Value = serde_json::from_slice(body)
        .map_err(|e| format!("Invalid input. The request body is not JSON: {e}"))?;
    inputs(&body, sig, columns)
}

/// A CSV table (header row, then rows) as the model's inputs, columns matched as `dataframe_split`'s.
pub fn csv_inputs(
    body: &[u8],
    sig: &Signature,
    columns: Option<&[String]>,
) -> Result<(Vec<Tensor>, Answer), String> {
    let invalid = |e: csv::Error| format!("Invalid CSV input: {e}");
    let mut reader = csv::ReaderBuilder::new().from_reader(body);
    let names: Vec<String> = reader
        .headers()
        .map_err(invalid)?
        .iter()
        .map(str::to_owned)
        .collect();
    if names.iter().all(String::is_empty) {
        return Err(
            "Invalid CSV input: the body has no header row. Send a row of column names, \
                    then one row of values per prediction."
                .into(),
        );
    }
    // Which columns feed a string input: their cells stay text, the others are numbers.
    let text: Vec<bool> = names
        .iter()
        .map(|name| {
            let spec = match &sig.inputs[..] {
                [one] if one.shape.len() == 2 => Some(one),
                many => many.iter().find(|s| &s.name == name),
            };
            spec.is_some_and(|s| s.element_type == ElementType::String)
        })
        .collect();
    let mut cells: Vec<Vec<Value>> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(invalid)?;
        cells.push(
            record
                .iter()
                .zip(&text)
                .map(|(raw, &text)| csv_cell(raw, text))
                .collect(),
        );
    }
    let rows_in: Vec<Vec<&Value>> = cells.iter().map(|r| r.iter().collect()).collect();
    table(sig, columns, &names, &rows_in).map(|t| (t, Answer::Records))
}

/// One CSV cell as the JSON value it stands for: text as is for a string input; else an integer, a
/// (finite) number or a boolean as pandas reads them, an empty cell as missing, anything else as text
/// (which a numeric input then refuses, naming it).
fn csv_cell(raw: &str, text: bool) -> Value {
    if text {
        return Value::String(raw.to_owned());
    }
    let t = raw.trim();
    if t.is_empty() {
        return Value::Null;
    }
    if let Ok(i) = t.parse::<i64>() {
        return Value::from(i);
    }
    if let Some(n) = t.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
        return Value::Number(n);
    }
    match t {
        "True" | "TRUE" | "true" => Value::Bool(true),
        "False" | "FALSE" | "false" => Value::Bool(false),
        _ => Value::String(raw.to_owned()),
    }
}

/// Parses a JSON request body into the model's inputs.
pub fn inputs(
    body: &Value,
    sig: &Signature,
    columns: Option<&[String]>,
) -> Result<(Vec<Tensor>, Answer), String> {
    let obj = body
        .as_object()
        .ok_or_else(|| format!("The request must be a JSON object with {FORMATS}."))?;
    let present: Vec<&str> = [
        "dataframe_split",
        "dataframe_records",
        "instances",
        "inputs",
    ]
    .into_iter()
    .filter(|k| obj.contains_key(*k))
    .collect();
    let [format] = present[..] else {
        return Err(format!(
            "The request must have {FORMATS}; it has {present:?}."
        ));
    };
    let v = &obj[format];
    match format {
        "dataframe_split" => {
            let split = v
                .as_object()
                .ok_or("'dataframe_split' must be an object with 'columns' and 'data'")?;
            let data = split
                .get("data")
                .and_then(Value::as_array)
                .ok_or("'dataframe_split' needs 'data', a list of rows")?;
            let names: Vec<String> = match split.get("columns") {
                Some(Value::Array(cols)) => cols
                    .iter()
                    .map(|c| {
                        c.as_str()
                            .map(str::to_owned)
                            .ok_or("column names must be strings")
                    })
                    .collect::<Result<_, _>>()?,
                None => columns.map(<[String]>::to_vec).unwrap_or_default(),
                Some(_) => return Err("'columns' must be a list of names".into()),
            };
            let mut rows_out = Vec::with_capacity(data.len());
            for (i, row) in data.iter().enumerate() {
                let cells = row
                    .as_array()
                    .ok_or_else(|| format!("row {i} of 'data' is not a list"))?;
                if !names.is_empty() && cells.len() != names.len() {
                    return Err(format!(
                        "row {i} has {} values for {} columns",
                        cells.len(),
                        names.len()
                    ));
                }
                rows_out.push(cells.iter().collect::<Vec<_>>());
            }
            table(sig, columns, &names, &rows_out).map(|t| (t, Answer::Records))
        }
        "dataframe_records" => records(v, sig, columns),
        "instances"
            if v.as_array()
                .is_some_and(|a| a.first().is_some_and(Value::is_object)) =>
        {
            records(v, sig, columns)
        }
        _ => tensors(v, sig).map(|t| (t, Answer::Columns)),
    }
}

fn records(
    v: &Value,
    sig: &Signature,
    columns: Option<&[String]>,
) -> Result<(Vec<Tensor>, Answer), String> {
    let list = v.as_array().ok_or("records must be a list of objects")?;
    let mut names: Vec<String> = Vec::new();
    for r in list {
        let r = r.as_object().ok_or("records must be a list of objects")?;
        for k in r.keys() {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    static NULL: Value = Value::Null;
    let rows_out: Vec<Vec<&Value>> = list
        .iter()
        .map(|r| {
            names
                .iter()
                .map(|n| r.get(n.as_str()).unwrap_or(&NULL))
                .collect()
        })
        .collect();
    table(sig, columns, &names, &rows_out).map(|t| (t, Answer::Records))
}

/// A table (column names, rows of cells) as model inputs.
fn table(
    sig: &Signature,
    columns: Option<&[String]>,
    names: &[String],
    rows_in: &[Vec<&Value>],
) -> Result<Vec<Tensor>, String> {
    let n = i64::try_from(rows_in.len()).unwrap_or(i64::MAX);
    let col = |name: &str| names.iter().position(|c| c == name);
    if let [spec] = &sig.inputs[..]
        && spec.shape.len() == 2
    {
        // One feature matrix: pick and order the columns.
        let order: Vec<usize> = match columns {
            Some(wanted) if !wanted.is_empty() => {
                let missing: Vec<&String> = wanted.iter().filter(|w| col(w).is_none()).collect();
                if !missing.is_empty() {
                    return Err(format!(
                        "missing columns {missing:?}; the model's signature needs {wanted:?}"
                    ));
                }
                wanted.iter().filter_map(|w| col(w)).collect()
            }
            _ => (0..names.len().max(rows_in.first().map_or(0, Vec::len))).collect(),
        };
        let flat: Vec<&Value> = rows_in
            .iter()
            .flat_map(|r| order.iter().map(move |&i| r[i]))
            .collect();
        let width = i64::try_from(order.len()).unwrap_or(i64::MAX);
        return Ok(vec![tensor(spec, vec![n, width], &flat)?]);
    }
    // Several inputs: each from its own column.
    sig.inputs
        .iter()
        .map(|spec: &TensorSpec| {
            let i = col(&spec.name).ok_or_else(|| {
                format!(
                    "missing column '{}' for the model input of that name",
                    spec.name
                )
            })?;
            let flat: Vec<&Value> = rows_in.iter().map(|r| r[i]).collect();
            let shape = if spec.shape.len() == 2 {
                vec![n, 1]
            } else {
                vec![n]
            };
            tensor(spec, shape, &flat)
        })
        .collect()
}

/// `instances`/`inputs` as tensors: an array for a one-input model, or `{input: array}`.
fn tensors(v: &Value, sig: &Signature) -> Result<Vec<Tensor>, String> {
    match v {
        Value::Object(map) => sig
            .inputs
            .iter()
            .map(|spec| {
                let value = map
                    .get(&spec.name)
                    .ok_or_else(|| format!("missing input '{}'", spec.name))?;
                let (shape, flat) =
                    flatten(value).map_err(|e| format!("input '{}': {e}", spec.name))?;
                tensor(spec, shape, &flat)
            })
            .collect(),
        Value::Array(_) => {
            let [spec] = &sig.inputs[..] else {
                let names: Vec<&str> = sig.inputs.iter().map(|s| s.name.as_str()).collect();
                return Err(format!(
                    "this model has several inputs {names:?}: send an object keyed by input name"
                ));
            };
            let (shape, flat) = flatten(v).map_err(|e| format!("input '{}': {e}", spec.name))?;
            Ok(vec![tensor(spec, shape, &flat)?])
        }
        _ => Err("'instances'/'inputs' must be an array or an object of arrays".into()),
    }
}

/// The `{"predictions": …}` answer.
pub fn predictions(outputs: &[Tensor], answer: Answer) -> Value {
    let body = match answer {
        Answer::Columns => Value::Object(
            outputs
                .iter()
                .map(|t| {
                    (
                        t.name.clone(),
                        crate::values::nest(&crate::values::json_values(&t.data), &t.shape),
                    )
                })
                .collect::<Map<_, _>>(),
        ),
        Answer::Records => {
            let per_output: Vec<Vec<Value>> = outputs.iter().map(rows).collect();
            let n = per_output.iter().map(Vec::len).max().unwrap_or(0);
            Value::Array(
                (0..n)
                    .map(|i| {
                        Value::Object(
                            outputs
                                .iter()
                                .zip(&per_output)
                                .map(|(t, r)| {
                                    (t.name.clone(), r.get(i).cloned().unwrap_or(Value::Null))
                                })
                                .collect(),
                        )
                    })
                    .collect(),
            )
        }
    };
    serde_json::json!({ "predictions": body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_onnx::{ElementType, TensorData};
    use serde_json::json;

    fn sig() -> Signature {
        Signature {
            inputs: vec![TensorSpec {
                name: "X".into(),
                element_type: ElementType::F32,
                shape: vec![None, Some(2)],
            }],
            outputs: vec![],
        }
    }

    #[test]
    fn tables_follow_the_signature_columns() {
        let cols = ["a".to_owned(), "b".to_owned()];
        let body = json!({"dataframe_split": {"columns": ["b", "a", "extra"], "data": [[2, 1, 9], [4, 3, 9]]}});
        let (t, answer) = inputs(&body, &sig(), Some(&cols)).unwrap();
        assert_eq!(answer, Answer::Records);
        assert_eq!(t[0].shape, [2, 2]);
        assert_eq!(t[0].data, TensorData::F32(vec![1.0, 2.0, 3.0, 4.0]));
        let body = json!({"dataframe_records": [{"a": 1, "b": 2}]});
        assert_eq!(
            inputs(&body, &sig(), Some(&cols)).unwrap().0[0].data,
            TensorData::F32(vec![1.0, 2.0])
        );
        let err = inputs(
            &json!({"dataframe_records": [{"a": 1}]}),
            &sig(),
            Some(&cols),
        )
        .unwrap_err();
        assert!(err.contains("missing columns [\"b\"]"), "{err}");
    }

    #[test]
    fn tensors_and_formats() {
        let (t, answer) = inputs(&json!({"inputs": [[1, 2]]}), &sig(), None).unwrap();
        assert_eq!((answer, t[0].shape.clone()), (Answer::Columns, vec![1, 2]));
        let (t, _) = inputs(&json!({"instances": {"X": [[1, 2], [3, 4]]}}), &sig(), None).unwrap();
        assert_eq!(t[0].shape, [2, 2]);
        assert!(inputs(&json!({"rows": []}), &sig(), None).is_err());
        assert!(inputs(&json!({"inputs": [[1]], "instances": [[1]]}), &sig(), None).is_err());
        assert!(inputs(&json!({"inputs": [["a", "b"]]}), &sig(), None).is_err());
    }

    #[test]
    fn csv_is_a_table_matched_by_column_name() {
        let cols = ["a".to_owned(), "b".to_owned()];
        let csv = |body: &str| {
            parse(
                Some("text/csv; charset=utf-8"),
                body.as_bytes(),
                &sig(),
                Some(&cols),
            )
        };
        let (t, answer) = csv("b,a,extra\n2,1,x\n4.5,3,y\n").unwrap();
        assert_eq!(answer, Answer::Records);
        assert_eq!(t[0].shape, [2, 2]);
        assert_eq!(t[0].data, TensorData::F32(vec![1.0, 2.0, 3.0, 4.5]));
        for (body, want) in [
            ("", "no header row"),
            ("a,b\n1,2\n3\n", "found record with 1 field"),
            ("a\n1\n", "missing columns [\"b\"]"),
            ("a,b\n1,\n", "missing value"),
            ("a,b\n1,abc\n", "expected a number, got \"abc\""),
        ] {
            let err = csv(body).unwrap_err();
            assert!(err.contains(want), "{body:?}: {err}");
        }
        // Anything but text/csv is JSON.
        assert!(
            parse(None, b"a,b\n1,2\n", &sig(), Some(&cols))
                .unwrap_err()
                .contains("not JSON")
        );
    }

    #[test]
    fn csv_cells_of_string_inputs_stay_text() {
        let sig = Signature {
            inputs: vec![
                TensorSpec {
                    name: "city".into(),
                    element_type: ElementType::String,
                    shape: vec![None, Some(1)],
                },
                TensorSpec {
                    name: "n".into(),
                    element_type: ElementType::I64,
                    shape: vec![None, Some(1)],
                },
            ],
            outputs: vec![],
        };
        let (t, _) = csv_inputs(b"n,city\n3,007\nTrue,Paris\n", &sig, None).unwrap();
        assert_eq!(
            t[0].data,
            TensorData::String(vec!["007".into(), "Paris".into()])
        );
        assert_eq!(t[1].data, TensorData::I64(vec![3, 1]));
    }

    #[test]
    fn predictions_per_row_and_per_output() {
        let outs = vec![
            Tensor {
                name: "label".into(),
                shape: vec![2],
                data: TensorData::I64(vec![1, 0]),
            },
            Tensor {
                name: "p".into(),
                shape: vec![2, 2],
                data: TensorData::F32(vec![0.25, 0.75, 1.0, 0.0]),
            },
        ];
        assert_eq!(
            predictions(&outs, Answer::Records),
            json!({"predictions": [{"label": 1, "p": [0.25, 0.75]}, {"label": 0, "p": [1.0, 0.0]}]})
        );
        assert_eq!(
            predictions(&outs, Answer::Columns),
            json!({"predictions": {"label": [1, 0], "p": [[0.25, 0.75], [1.0, 0.0]]}})
        );
    }
}
