//! The engine's own tensor and signature types, and the check of a request against a signature.
//! `ort`'s types stay inside the crate, so callers (and their wire formats) never depend on `ort`.

use std::fmt;

use crate::EngineError;

/// Element types the engine can feed to a model and read back; others are carried by name for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElementType {
    F32,
    F64,
    I64,
    I32,
    Bool,
    String,
    /// ONNX's name for a type this engine does not convert (e.g. `float16`); a model whose inputs or outputs
    /// have one is refused at load, so this appears only in error messages.
    Unsupported(String),
}

impl fmt::Display for ElementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::F32 => "f32",
            Self::F64 => "f64",
            Self::I64 => "i64",
            Self::I32 => "i32",
            Self::Bool => "bool",
            Self::String => "string",
            Self::Unsupported(name) => name,
        })
    }
}

/// One input or output of a model, as a server needs it to describe the model and check requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub element_type: ElementType,
    /// One entry per dimension: `Some(n)` is fixed, `None` is dynamic (typically the batch).
    pub shape: Vec<Option<i64>>,
}

/// A model's inputs and outputs, each in the model's order (the order outputs are returned in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
}

/// A named, row-major tensor: what callers send and receive (OIP v2's tensor, without its wire names).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<i64>,
    pub data: TensorData,
}

/// A tensor's values, flat and row-major; the variant is the element type (no implicit casts).
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    Bool(Vec<bool>),
    String(Vec<String>),
}

impl TensorData {
    /// The element type, to compare with a [`TensorSpec`] before converting a request.
    pub fn element_type(&self) -> ElementType {
        match self {
            Self::F32(_) => ElementType::F32,
            Self::F64(_) => ElementType::F64,
            Self::I64(_) => ElementType::I64,
            Self::I32(_) => ElementType::I32,
            Self::Bool(_) => ElementType::Bool,
            Self::String(_) => ElementType::String,
        }
    }

    /// Number of values, to check against the product of the shape.
    pub fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::F64(v) => v.len(),
            Self::I64(v) => v.len(),
            Self::I32(v) => v.len(),
            Self::Bool(v) => v.len(),
            Self::String(v) => v.len(),
        }
    }

    /// True when there are no values (a zero-sized tensor).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Per model input and axis, the name the model gives a dynamic dimension (`batch`, `N`), if any.
pub(crate) type DimNames = Vec<Vec<Option<String>>>;

/// Checks `inputs` against `signature` and returns them in the model's input order. Every mismatch is an
/// `InvalidInput` naming the input, what the model expects and what was sent. Dimensions that `dim_names`
/// names alike must be equal in every input (ONNX Runtime would otherwise fail inside a kernel, or not at all).
pub(crate) fn validate(
    signature: &Signature,
    dim_names: &[Vec<Option<String>>],
    inputs: Vec<Tensor>,
) -> Result<Vec<Tensor>, EngineError> {
    let specs = &signature.inputs;
    let mut slots: Vec<Option<Tensor>> = specs.iter().map(|_| None).collect();
    for tensor in inputs {
        let Some(index) = specs.iter().position(|s| s.name == tensor.name) else {
            return Err(invalid(format!(
                "unknown input '{}'; the model's inputs are {}",
                tensor.name,
                describe_all(specs)
            )));
        };
        check(&specs[index], &tensor)?;
        if slots[index].replace(tensor).is_some() {
            return Err(invalid(format!(
                "input '{}' is given more than once",
                specs[index].name
            )));
        }
    }
    let missing: Vec<&TensorSpec> = specs
        .iter()
        .zip(&slots)
        .filter(|(_, t)| t.is_none())
        .map(|(s, _)| s)
        .collect();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|s| describe(s)).collect();
        let noun = if missing.len() == 1 {
            "input"
        } else {
            "inputs"
        };
        return Err(invalid(format!("missing {noun} {}", names.join(", "))));
    }
    let ordered: Vec<Tensor> = slots.into_iter().flatten().collect();
    check_named_dims(dim_names, &ordered)?;
    Ok(ordered)
}

fn check_named_dims(
    dim_names: &[Vec<Option<String>>],
    inputs: &[Tensor],
) -> Result<(), EngineError> {
    let mut seen: Vec<(&str, &Tensor, usize)> = Vec::new(); // (dimension name, first input, its axis)
    for (names, tensor) in dim_names.iter().zip(inputs) {
        for (axis, name) in names.iter().enumerate() {
            let Some(name) = name.as_deref() else {
                continue;
            };
            match seen.iter().find(|(seen_name, ..)| *seen_name == name) {
                None => seen.push((name, tensor, axis)),
                Some(&(_, first, first_axis)) if first.shape[first_axis] != tensor.shape[axis] => {
                    return Err(invalid(format!(
                        "inputs '{}' and '{}' must agree on dimension '{name}': '{}' has {} (axis {first_axis}), \
                         '{}' has {} (axis {axis})",
                        first.name,
                        tensor.name,
                        first.name,
                        first.shape[first_axis],
                        tensor.name,
                        tensor.shape[axis]
                    )));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

fn check(spec: &TensorSpec, tensor: &Tensor) -> Result<(), EngineError> {
    let name = &spec.name;
    let got_type = tensor.data.element_type();
    if got_type != spec.element_type {
        return Err(invalid(format!(
            "input '{name}' must be {}, got {got_type}",
            spec.element_type
        )));
    }
    let got = &tensor.shape;
    if got.iter().any(|&d| d < 0) {
        return Err(invalid(format!(
            "input '{name}': shape {got:?} has a negative dimension"
        )));
    }
    if got.len() != spec.shape.len() {
        return Err(invalid(format!(
            "input '{name}' must have {} dimensions (shape {}), got {} (shape {got:?})",
            spec.shape.len(),
            shape_text(&spec.shape),
            got.len()
        )));
    }
    for (axis, (want, &got_dim)) in spec.shape.iter().zip(got).enumerate() {
        if let Some(want) = *want
            && want != got_dim
        {
            return Err(invalid(format!(
                "input '{name}': dimension {axis} must be {want}, got {got_dim} (expected shape {}, got {got:?})",
                shape_text(&spec.shape)
            )));
        }
    }
    let needed = got
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?));
    let Some(needed) = needed else {
        return Err(invalid(format!(
            "input '{name}': shape {got:?} is too large"
        )));
    };
    if let TensorData::String(values) = &tensor.data
        && let Some(index) = values.iter().position(|v| v.contains('\0'))
    {
        return Err(invalid(format!(
            "input '{name}': value {index} contains a NUL character, which ONNX Runtime strings cannot hold"
        )));
    }
    if needed != tensor.data.len() {
        return Err(invalid(format!(
            "input '{name}': shape {got:?} needs {needed} values, got {}",
            tensor.data.len()
        )));
    }
    Ok(())
}

fn invalid(message: String) -> EngineError {
    EngineError::InvalidInput(message)
}

/// `'X' (f32 [?, 4])`: a spec as error messages show it.
fn describe(spec: &TensorSpec) -> String {
    format!(
        "'{}' ({} {})",
        spec.name,
        spec.element_type,
        shape_text(&spec.shape)
    )
}

fn describe_all(specs: &[TensorSpec]) -> String {
    specs.iter().map(describe).collect::<Vec<_>>().join(", ")
}

/// `[?, 4]`: `?` marks a dynamic dimension.
pub(crate) fn shape_text(shape: &[Option<i64>]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| d.map_or_else(|| "?".to_owned(), |d| d.to_string()))
        .collect();
    format!("[{}]", dims.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signature() -> Signature {
        let spec = |name: &str, element_type, shape: Vec<Option<i64>>| TensorSpec {
            name: name.to_owned(),
            element_type,
            shape,
        };
        Signature {
            inputs: vec![
                spec("x", ElementType::F32, vec![None, Some(4)]),
                spec("k", ElementType::I64, vec![None]),
            ],
            outputs: vec![],
        }
    }

    fn x(shape: Vec<i64>, n: usize) -> Tensor {
        Tensor {
            name: "x".into(),
            shape,
            data: TensorData::F32(vec![0.0; n]),
        }
    }

    fn k(n: i64) -> Tensor {
        Tensor {
            name: "k".into(),
            shape: vec![n],
            data: TensorData::I64(vec![0; n as usize]),
        }
    }

    fn message(result: Result<Vec<Tensor>, EngineError>) -> String {
        match result {
            Err(EngineError::InvalidInput(m)) => m,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn returns_inputs_in_model_order() {
        let ordered = validate(&signature(), &[], vec![k(2), x(vec![2, 4], 8)]).unwrap();
        let names: Vec<&str> = ordered.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["x", "k"]);
    }

    #[test]
    fn zero_rows_are_valid() {
        validate(&signature(), &[], vec![x(vec![0, 4], 0), k(0)]).unwrap();
    }

    #[test]
    fn each_mismatch_names_the_input_and_both_sides() {
        let sig = signature();
        let m = message(validate(&sig, &[], vec![x(vec![1, 4], 4)]));
        assert_eq!(m, "missing input 'k' (i64 [?])");
        let m = message(validate(&sig, &[], vec![x(vec![1, 4], 4), k(1), k(1)]));
        assert_eq!(m, "input 'k' is given more than once");
        let m = message(validate(&sig, &[], vec![x(vec![-1, 4], 4), k(1)]));
        assert!(m.contains("negative"), "{m}");
        let m = message(validate(&sig, &[], vec![x(vec![i64::MAX, 4], 4), k(1)]));
        assert!(m.contains("too large"), "{m}");
    }

    #[test]
    fn dimensions_named_alike_must_agree_across_inputs() {
        let names = [vec![Some("N".to_owned()), None], vec![Some("N".to_owned())]];
        validate(&signature(), &names, vec![x(vec![3, 4], 12), k(3)]).unwrap();
        let m = message(validate(
            &signature(),
            &names,
            vec![x(vec![3, 4], 12), k(2)],
        ));
        assert_eq!(
            m,
            "inputs 'x' and 'k' must agree on dimension 'N': 'x' has 3 (axis 0), 'k' has 2 (axis 0)"
        );
    }

    #[test]
    fn strings_with_nul_are_refused_before_they_reach_onnx_runtime() {
        let sig = Signature {
            inputs: vec![TensorSpec {
                name: "s".into(),
                element_type: ElementType::String,
                shape: vec![None],
            }],
            outputs: vec![],
        };
        let s = Tensor {
            name: "s".into(),
            shape: vec![2],
            data: TensorData::String(vec!["ok".into(), "a\0b".into()]),
        };
        let m = message(validate(&sig, &[], vec![s]));
        assert_eq!(
            m,
            "input 's': value 1 contains a NUL character, which ONNX Runtime strings cannot hold"
        );
    }
}
