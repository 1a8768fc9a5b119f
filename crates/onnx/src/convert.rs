//! Between `ort`'s types and the engine's: signatures at load, tensors in and out of each run.

use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Outlet, TensorElementType, ValueType};

use crate::tensor::{DimNames, shape_text};
use crate::{ElementType, EngineError, Signature, Tensor, TensorData, TensorSpec};

/// Reads a session's signature, refusing inputs the engine cannot feed and outputs it cannot return; with
/// it, the names of the inputs' dynamic dimensions, which `validate` checks across inputs.
pub(crate) fn signature(session: &Session) -> Result<(Signature, DimNames), EngineError> {
    let inputs: Vec<TensorSpec> = session
        .inputs()
        .iter()
        .map(|outlet| {
            spec(outlet).map_err(|kind| {
                EngineError::InvalidModel(format!(
                    "input '{}' is {kind}; cairn-onnx feeds only tensors of f32, f64, i64, i32, bool or string",
                    outlet.name()
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let outputs = session
        .outputs()
        .iter()
        .map(|outlet| spec(outlet).map_err(|kind| unsupported_output(outlet.name(), &kind)))
        .collect::<Result<_, _>>()?;
    let dim_names = session
        .inputs()
        .iter()
        .zip(&inputs)
        .map(|(outlet, spec)| dim_names(outlet, spec))
        .collect();
    Ok((Signature { inputs, outputs }, dim_names))
}

/// For each axis, the name of a dynamic dimension (`batch`, `N`), or `None` (fixed, or dynamic unnamed).
fn dim_names(outlet: &Outlet, spec: &TensorSpec) -> Vec<Option<String>> {
    let ValueType::Tensor {
        dimension_symbols, ..
    } = outlet.dtype()
    else {
        return Vec::new();
    };
    spec.shape
        .iter()
        .zip(dimension_symbols.iter())
        .map(|(dim, name)| (dim.is_none() && !name.is_empty()).then(|| name.clone()))
        .collect()
}

fn unsupported_output(name: &str, kind: &str) -> EngineError {
    EngineError::UnsupportedOutput(if kind.starts_with("a sequence of maps") {
        format!(
            "output '{name}' is {kind}, as skl2onnx's ZipMap makes; re-export the classifier with \
             options={{id(model): {{'zipmap': False}}}} to get the probabilities as a tensor"
        )
    } else {
        format!(
            "output '{name}' is {kind}; cairn-onnx returns only tensors of f32, f64, i64, i32, bool or string"
        )
    })
}

/// The spec of a tensor of a supported type; otherwise a description of what the outlet is.
fn spec(outlet: &Outlet) -> Result<TensorSpec, String> {
    match outlet.dtype() {
        ValueType::Tensor { ty, shape, .. } => {
            let element_type = element_type(*ty);
            let shape: Vec<Option<i64>> = shape.iter().map(|&d| (d >= 0).then_some(d)).collect();
            if let ElementType::Unsupported(name) = &element_type {
                return Err(format!("a tensor of {name} {}", shape_text(&shape)));
            }
            Ok(TensorSpec {
                name: outlet.name().to_owned(),
                element_type,
                shape,
            })
        }
        ValueType::Sequence(inner) if matches!(**inner, ValueType::Map { .. }) => {
            Err(format!("a sequence of maps ({})", outlet.dtype()))
        }
        other => Err(format!("not a tensor ({other})")),
    }
}

fn element_type(ty: TensorElementType) -> ElementType {
    match ty {
        TensorElementType::Float32 => ElementType::F32,
        TensorElementType::Float64 => ElementType::F64,
        TensorElementType::Int64 => ElementType::I64,
        TensorElementType::Int32 => ElementType::I32,
        TensorElementType::Bool => ElementType::Bool,
        TensorElementType::String => ElementType::String,
        other => ElementType::Unsupported(other.to_string()),
    }
}

/// A validated request tensor as an `ort` input: numeric data is lent to the run without a copy (so the
/// request keeps its tensors, e.g. to log them); strings are copied, as ONNX Runtime keeps its own.
pub(crate) fn to_ort(tensor: &Tensor) -> Result<SessionInputValue<'_>, EngineError> {
    fn view<'a, T: ort::value::PrimitiveTensorElementType + std::fmt::Debug + Clone + 'static>(
        shape: &'a [i64],
        data: &'a [T],
    ) -> ort::Result<SessionInputValue<'a>> {
        ort::value::TensorRef::from_array_view((shape, data)).map(SessionInputValue::from)
    }
    let shape = tensor.shape.as_slice();
    let value = match &tensor.data {
        TensorData::F32(v) => view(shape, v),
        TensorData::F64(v) => view(shape, v),
        TensorData::I64(v) => view(shape, v),
        TensorData::I32(v) => view(shape, v),
        TensorData::Bool(v) => view(shape, v),
        TensorData::String(v) => ort::value::Tensor::from_string_array((shape, v.as_slice()))
            .map(|t| SessionInputValue::from(t.into_dyn())),
    };
    value.map_err(|e| {
        EngineError::Internal(format!("cannot build input tensor '{}': {e}", tensor.name))
    })
}

/// Copies one output out of `ort`'s buffer into an engine tensor named after the model's output.
pub(crate) fn from_ort(spec: &TensorSpec, value: &DynValue) -> Result<Tensor, EngineError> {
    let fail =
        |e: ort::Error| EngineError::Internal(format!("cannot read output '{}': {e}", spec.name));
    let (shape, data) = match spec.element_type {
        ElementType::F32 => value
            .try_extract_tensor::<f32>()
            .map(|(s, d)| (s, TensorData::F32(d.to_vec()))),
        ElementType::F64 => value
            .try_extract_tensor::<f64>()
            .map(|(s, d)| (s, TensorData::F64(d.to_vec()))),
        ElementType::I64 => value
            .try_extract_tensor::<i64>()
            .map(|(s, d)| (s, TensorData::I64(d.to_vec()))),
        ElementType::I32 => value
            .try_extract_tensor::<i32>()
            .map(|(s, d)| (s, TensorData::I32(d.to_vec()))),
        ElementType::Bool => value
            .try_extract_tensor::<bool>()
            .map(|(s, d)| (s, TensorData::Bool(d.to_vec()))),
        ElementType::String => value
            .try_extract_strings()
            .map(|(s, d)| (s, TensorData::String(d))),
        ElementType::Unsupported(_) => unreachable!("refused at load"),
    }
    .map_err(fail)?;
    Ok(Tensor {
        name: spec.name.clone(),
        shape: shape.to_vec(),
        data,
    })
}
