//! The Open Inference Protocol v2 (KServe v2, Triton's HTTP/REST API) messages and their translation to
//! and from engine tensors.

use cairn_onnx::{ElementType, Signature, Tensor, TensorSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::values::{flatten, json_values, tensor};

/// The protocol's name for an element type.
pub fn datatype(t: &ElementType) -> &'static str {
    match t {
        ElementType::F32 => "FP32",
        ElementType::F64 => "FP64",
        ElementType::I64 => "INT64",
        ElementType::I32 => "INT32",
        ElementType::Bool => "BOOL",
        ElementType::String => "BYTES",
        ElementType::Unsupported(_) => "UNSUPPORTED",
    }
}

#[derive(Debug, Deserialize)]
pub struct InferRequest {
    #[serde(default)]
    pub id: Option<String>,
    pub inputs: Vec<RequestInput>,
    #[serde(default)]
    pub outputs: Vec<RequestOutput>,
}

#[derive(Debug, Deserialize)]
pub struct RequestInput {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    pub data: Value,
}

#[derive(Debug, Deserialize)]
pub struct RequestOutput {
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct InferResponse {
    pub model_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub outputs: Vec<ResponseOutput>,
}

#[derive(Debug, Serialize)]
pub struct ResponseOutput {
    pub name: String,
    pub datatype: &'static str,
    pub shape: Vec<i64>,
    pub data: Vec<Value>,
}

#[derive(Debug, Serialize)]
pub struct TensorMetadata {
    pub name: String,
    pub datatype: &'static str,
    /// `-1` marks a dynamic dimension.
    pub shape: Vec<i64>,
}

#[derive(Debug, Serialize)]
pub struct ModelMetadata {
    pub name: String,
    pub versions: Vec<String>,
    pub platform: &'static str,
    pub inputs: Vec<TensorMetadata>,
    pub outputs: Vec<TensorMetadata>,
}

fn meta(spec: &TensorSpec) -> TensorMetadata {
    TensorMetadata {
        name: spec.name.clone(),
        datatype: datatype(&spec.element_type),
        shape: spec.shape.iter().map(|d| d.unwrap_or(-1)).collect(),
    }
}

pub fn metadata(name: &str, version: Option<&str>, sig: &Signature) -> ModelMetadata {
    ModelMetadata {
        name: name.to_owned(),
        versions: version.map(|v| vec![v.to_owned()]).unwrap_or_default(),
        platform: "onnxruntime_onnx",
        inputs: sig.inputs.iter().map(meta).collect(),
        outputs: sig.outputs.iter().map(meta).collect(),
    }
}

/// The request's inputs as engine tensors; datatypes must be the model's (the protocol types its data).
pub fn inputs(req: &InferRequest, sig: &Signature) -> Result<Vec<Tensor>, String> {
    req.inputs
        .iter()
        .map(|input| {
            let spec = sig
                .inputs
                .iter()
                .find(|s| s.name == input.name)
                .ok_or_else(|| {
                    let names: Vec<&str> = sig.inputs.iter().map(|s| s.name.as_str()).collect();
                    format!(
                        "unknown input '{}'; the model's inputs are {names:?}",
                        input.name
                    )
                })?;
            let want = datatype(&spec.element_type);
            if !input.datatype.eq_ignore_ascii_case(want) {
                return Err(format!(
                    "input '{}' has datatype {}, the model expects {want}",
                    input.name, input.datatype
                ));
            }
            let (_, flat) =
                flatten(&input.data).map_err(|e| format!("input '{}': {e}", input.name))?;
            let expected: i64 = input.shape.iter().product();
            if input.shape.iter().any(|d| *d < 0)
                || usize::try_from(expected).ok() != Some(flat.len())
            {
                return Err(format!(
                    "input '{}': shape {:?} needs {expected} values, got {}",
                    input.name,
                    input.shape,
                    flat.len()
                ));
            }
            tensor(spec, input.shape.clone(), &flat)
        })
        .collect()
}

/// The response, with only the outputs the request names (all when it names none).
pub fn response(
    req: &InferRequest,
    model_name: &str,
    version: Option<&str>,
    outputs: Vec<Tensor>,
) -> Result<InferResponse, String> {
    for wanted in &req.outputs {
        if !outputs.iter().any(|o| o.name == wanted.name) {
            return Err(format!("unknown output '{}'", wanted.name));
        }
    }
    Ok(InferResponse {
        model_name: model_name.to_owned(),
        model_version: version.map(str::to_owned),
        id: req.id.clone(),
        outputs: outputs
            .into_iter()
            .filter(|o| req.outputs.is_empty() || req.outputs.iter().any(|w| w.name == o.name))
            .map(|o| ResponseOutput {
                name: o.name.clone(),
                datatype: datatype(&o.data.element_type()),
                shape: o.shape.clone(),
                data: json_values(&o.data),
            })
            .collect(),
    })
}
