//! What Cairn reads from an MLflow `MLmodel` file: the ONNX flavour's model file and the signature's
//! input columns. The one place that decides whether a model is ONNX — deployments check it before they
//! accept a version, serving before it loads one.

use serde_json::Value;

use crate::DomainError;

/// The parts of an MLmodel file serving needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlModel {
    /// The ONNX flavour's model file, relative to the MLmodel's folder; `None` without the onnx flavour.
    pub onnx_data: Option<String>,
    /// The input signature's column names, in order, when it is column-based.
    pub columns: Option<Vec<String>>,
}

/// Why a model without the onnx flavour cannot be served.
pub const NOT_ONNX: &str = "it has no onnx flavour, and Cairn serves ONNX models (log them with \
                            mlflow.onnx.log_model; skl2onnx converts scikit-learn models)";

impl MlModel {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let doc: Value = yaml_serde::from_str(text)
            .map_err(|e| DomainError::invalid(format!("MLmodel is not valid YAML: {e}")))?;
        let onnx_data = doc["flavors"]["onnx"]["data"].as_str().map(str::to_owned);
        let columns = doc["signature"]["inputs"]
            .as_str()
            .and_then(|s| serde_json::from_str::<Vec<Value>>(s).ok())
            .map(|specs| {
                specs
                    .iter()
                    .filter(|s| s["type"] != "tensor")
                    .filter_map(|s| s["name"].as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .filter(|c| !c.is_empty());
        Ok(MlModel { onnx_data, columns })
    }
}

#[cfg(test)]
mod tests {
    use super::MlModel;

    #[test]
    fn onnx_flavour_and_columns() {
        let text = "artifact_path: model\nflavors:\n  onnx:\n    data: model.onnx\n  python_function:\n    \
                    loader_module: mlflow.onnx\nsignature:\n  inputs: '[{\"type\": \"double\", \"name\": \
                    \"a\"}, {\"type\": \"double\", \"name\": \"b\"}]'\n";
        let m = MlModel::parse(text).unwrap();
        assert_eq!(m.onnx_data.as_deref(), Some("model.onnx"));
        assert_eq!(m.columns.unwrap(), ["a", "b"]);
        // An `onnx:` key elsewhere than under flavors is not the flavour.
        let sklearn = "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n  sklearn:\n    \
                       pickled_model: model.pkl\nonnx:\n  data: x\n";
        assert_eq!(MlModel::parse(sklearn).unwrap().onnx_data, None);
        assert!(MlModel::parse("flavors: [").is_err());
    }
}
