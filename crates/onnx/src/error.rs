use thiserror::Error;

/// Everything that can go wrong in the engine. A server maps these in one place: `InvalidInput` is the
/// caller's fault (400); `RuntimeMissing` and `InvalidModel` are deployment problems reported at load time;
/// `UnsupportedOutput` means the model needs re-exporting; `Internal` is ours or ONNX Runtime's (500).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The ONNX Runtime shared library could not be found or loaded; the message says how to get it.
    #[error("ONNX Runtime is not available: {0}")]
    RuntimeMissing(String),
    /// The bytes are not a model ONNX Runtime can load, or it takes inputs this engine cannot feed.
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// The request does not fit the model's signature; the message names the input and what was expected.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The model has an output that is not a tensor of a supported type (e.g. skl2onnx's ZipMap).
    #[error("unsupported model output: {0}")]
    UnsupportedOutput(String),
    /// ONNX Runtime failed while running a valid request, or a worker is gone.
    #[error("internal inference error: {0}")]
    Internal(String),
}
