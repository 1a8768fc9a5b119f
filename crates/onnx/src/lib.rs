//! Cairn's inference engine: runs ONNX models on ONNX Runtime, through the `ort` crate.
//!
//! [`Runtime::init`] finds and loads the ONNX Runtime shared library once per process (`scripts/onnxruntime.sh`
//! puts one in `.onnxruntime/`). [`Model::load`] opens a model with one session per worker thread;
//! [`Model::infer`] is async, checks a request against the model's [`Signature`] and runs it on those threads,
//! never on the async runtime (ONNX Runtime's `run` blocks, and takes its session exclusively). Requests and
//! answers are the engine's own [`Tensor`]s; every failure is one [`EngineError`].
//!
//! Outputs that are not tensors, such as the sequence of maps of skl2onnx's ZipMap, make [`Model::load`] fail
//! with [`EngineError::UnsupportedOutput`] telling how to re-export: a server answers in tensors, so failing at
//! load beats failing every request.
//!
//! This crate knows nothing of HTTP, of the Open Inference Protocol's or MLflow's wire formats, or of where
//! models are stored: the model server converts to and from [`Tensor`] and maps [`EngineError`] to statuses.

mod convert;
mod error;
mod model;
mod runtime;
mod tensor;

pub use error::EngineError;
pub use model::{Model, ModelOptions};
pub use runtime::Runtime;
pub use tensor::{ElementType, Signature, Tensor, TensorData, TensorSpec};
