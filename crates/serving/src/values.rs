//! JSON values to and from engine tensors: flattening nested arrays row-major, typing values as the model
//! input needs them, and nesting outputs back by their shape.

use cairn_onnx::{ElementType, Tensor, TensorData, TensorSpec};
use serde_json::Value;

/// Flattens a scalar or (nested) array of scalars row-major, and returns its shape.
pub fn flatten(v: &Value) -> Result<(Vec<i64>, Vec<&Value>), String> {
    fn walk<'a>(
        v: &'a Value,
        depth: usize,
        shape: &mut Vec<i64>,
        out: &mut Vec<&'a Value>,
    ) -> Result<(), String> {
        match v {
            Value::Array(items) => {
                let n = i64::try_from(items.len()).unwrap_or(i64::MAX);
                if shape.len() == depth {
                    shape.push(n);
                } else if shape[depth] != n {
                    return Err("ragged array: rows have different lengths".into());
                }
                for item in items {
                    walk(item, depth + 1, shape, out)?;
                }
                Ok(())
            }
            scalar => {
                if shape.len() > depth {
                    return Err("ragged array: a value where a row was expected".into());
                }
                out.push(scalar);
                Ok(())
            }
        }
    }
    let mut shape = Vec::new();
    let mut out = Vec::new();
    walk(v, 0, &mut shape, &mut out)?;
    Ok((shape, out))
}

fn number(v: &Value, what: &str) -> Result<f64, String> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| format!("{what}: {n} is not a number")),
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        Value::Null => Err(format!("{what}: missing value (null)")),
        other => Err(format!("{what}: expected a number, got {other}")),
    }
}

fn integer(v: &Value, what: &str) -> Result<i64, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| format!("{what}: expected an integer, got {n}")),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Null => Err(format!("{what}: missing value (null)")),
        other => Err(format!("{what}: expected an integer, got {other}")),
    }
}

/// Types flat JSON values as `ty` wants them. JSON numbers carry no width, so any number fits a float
/// input and any integral number an integer input; strings fit only string inputs.
pub fn typed(values: &[&Value], ty: &ElementType, what: &str) -> Result<TensorData, String> {
    Ok(match ty {
        ElementType::F32 => TensorData::F32(
            values
                .iter()
                .map(|v| number(v, what).map(|x| x as f32))
                .collect::<Result<_, _>>()?,
        ),
        ElementType::F64 => TensorData::F64(
            values
                .iter()
                .map(|v| number(v, what))
                .collect::<Result<_, _>>()?,
        ),
        ElementType::I64 => TensorData::I64(
            values
                .iter()
                .map(|v| integer(v, what))
                .collect::<Result<_, _>>()?,
        ),
        ElementType::I32 => TensorData::I32(
            values
                .iter()
                .map(|v| {
                    integer(v, what).and_then(|i| {
                        i32::try_from(i).map_err(|_| format!("{what}: {i} does not fit int32"))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
        ElementType::Bool => TensorData::Bool(
            values
                .iter()
                .map(|v| match v {
                    Value::Bool(b) => Ok(*b),
                    other => integer(other, what).map(|i| i != 0),
                })
                .collect::<Result<_, _>>()?,
        ),
        ElementType::String => TensorData::String(
            values
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(format!("{what}: expected a string, got {other}")),
                })
                .collect::<Result<_, _>>()?,
        ),
        ElementType::Unsupported(name) => {
            return Err(format!("{what}: unsupported element type {name}"));
        }
    })
}

/// A model input built from flat values and a shape.
pub fn tensor(spec: &TensorSpec, shape: Vec<i64>, values: &[&Value]) -> Result<Tensor, String> {
    Ok(Tensor {
        name: spec.name.clone(),
        data: typed(
            values,
            &spec.element_type,
            &format!("input '{}'", spec.name),
        )?,
        shape,
    })
}

/// A tensor's values as flat JSON values.
pub fn json_values(data: &TensorData) -> Vec<Value> {
    fn num(x: f64) -> Value {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
    match data {
        TensorData::F32(v) => v.iter().map(|x| num(f64::from(*x))).collect(),
        TensorData::F64(v) => v.iter().map(|x| num(*x)).collect(),
        TensorData::I64(v) => v.iter().map(|x| Value::from(*x)).collect(),
        TensorData::I32(v) => v.iter().map(|x| Value::from(*x)).collect(),
        TensorData::Bool(v) => v.iter().map(|x| Value::from(*x)).collect(),
        TensorData::String(v) => v.iter().map(|x| Value::from(x.as_str())).collect(),
    }
}

/// Splits a tensor into its rows (first axis), each nested by the remaining shape: `[N]` gives scalars,
/// `[N, K]` lists of K.
pub fn rows(t: &Tensor) -> Vec<Value> {
    let flat = json_values(&t.data);
    let n = t.shape.first().copied().unwrap_or(1).max(0) as usize;
    if n == 0 {
        return Vec::new();
    }
    let per = flat.len() / n.max(1);
    flat.chunks(per.max(1))
        .map(|chunk| nest(chunk, &t.shape[1.min(t.shape.len())..]))
        .collect()
}

/// Nests flat values by `shape` (row-major).
pub fn nest(flat: &[Value], shape: &[i64]) -> Value {
    match shape.split_first() {
        None => flat.first().cloned().unwrap_or(Value::Null),
        Some((&n, rest)) => {
            let n = n.max(1) as usize;
            let per = flat.len() / n;
            Value::Array(flat.chunks(per.max(1)).map(|c| nest(c, rest)).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattening() {
        let v = json!([[1, 2], [3, 4], [5, 6]]);
        let (shape, flat) = flatten(&v).unwrap();
        assert_eq!(shape, [3, 2]);
        assert_eq!(flat.len(), 6);
        assert!(flatten(&json!([[1, 2], [3]])).is_err());
        assert_eq!(flatten(&json!(7)).unwrap().0, Vec::<i64>::new());
    }

    #[test]
    fn typing_and_nesting() {
        let v = json!([1, 2.5, true]);
        let (_, flat) = flatten(&v).unwrap();
        assert_eq!(
            typed(&flat, &ElementType::F32, "x").unwrap(),
            TensorData::F32(vec![1.0, 2.5, 1.0])
        );
        assert!(typed(&flat, &ElementType::I64, "x").is_err());
        assert!(typed(&flat, &ElementType::String, "x").is_err());
        let t = Tensor {
            name: "p".into(),
            shape: vec![2, 2],
            data: TensorData::I64(vec![1, 2, 3, 4]),
        };
        assert_eq!(rows(&t), vec![json!([1, 2]), json!([3, 4])]);
        let t = Tensor {
            name: "l".into(),
            shape: vec![2],
            data: TensorData::I64(vec![7, 8]),
        };
        assert_eq!(rows(&t), vec![json!(7), json!(8)]);
        assert_eq!(
            nest(&[json!(1), json!(2), json!(3), json!(4)], &[2, 2]),
            json!([[1, 2], [3, 4]])
        );
    }
}
