//! The engine against real models and the real ONNX Runtime, compared with onnxruntime-python's answers.
//!
//! The fixtures (`tests/fixtures/*.onnx` and their `.json` references) come from `make_fixtures.py`. The
//! library is found the way users find it: `Runtime::init(None)` and the default locations, so run
//! `scripts/onnxruntime.sh` (or have the e2e venv, `.venv`) first.

use std::path::Path;
use std::time::Instant;

use cairn_onnx::{
    ElementType, EngineError, Model, ModelOptions, Runtime, Signature, Tensor, TensorData,
    TensorSpec,
};
use serde_json::Value;

const FIXTURES: [&str; 5] = ["logreg", "forest", "gbr", "pipeline", "multi_io"];

fn runtime() -> Runtime {
    Runtime::init(None).unwrap_or_else(|e| panic!("{e}"))
}

fn model_bytes(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.onnx"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(name: &str, workers: usize) -> Model {
    Model::load(
        &runtime(),
        &model_bytes(name),
        ModelOptions {
            workers,
            intra_threads: 1,
        },
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A fixture's reference: the signature, five input rows and onnxruntime-python's outputs for them.
struct Reference {
    signature: Signature,
    rows: Vec<Tensor>,
    expected: Vec<Tensor>,
}

fn reference(name: &str) -> Reference {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let specs =
        |key: &str| -> Vec<TensorSpec> { doc[key].as_array().unwrap().iter().map(spec).collect() };
    let signature = Signature {
        inputs: specs("inputs"),
        outputs: specs("outputs"),
    };
    let tensors = |key: &str, specs: &[TensorSpec]| -> Vec<Tensor> {
        let values = doc[key].as_array().unwrap();
        values
            .iter()
            .zip(specs)
            .map(|(v, s)| tensor(v, &s.element_type))
            .collect()
    };
    Reference {
        rows: tensors("rows", &signature.inputs),
        expected: tensors("expected", &signature.outputs),
        signature,
    }
}

fn spec(v: &Value) -> TensorSpec {
    let element_type = match v["type"].as_str().unwrap() {
        "F32" => ElementType::F32,
        "I64" => ElementType::I64,
        "Bool" => ElementType::Bool,
        "String" => ElementType::String,
        other => panic!("fixture type {other}"),
    };
    let shape = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::as_i64)
        .collect();
    TensorSpec {
        name: v["name"].as_str().unwrap().to_owned(),
        element_type,
        shape,
    }
}

fn tensor(v: &Value, element_type: &ElementType) -> Tensor {
    let data = v["data"].as_array().unwrap();
    let data = match element_type {
        ElementType::F32 => {
            TensorData::F32(data.iter().map(|x| x.as_f64().unwrap() as f32).collect())
        }
        ElementType::I64 => TensorData::I64(data.iter().map(|x| x.as_i64().unwrap()).collect()),
        ElementType::Bool => TensorData::Bool(data.iter().map(|x| x.as_bool().unwrap()).collect()),
        ElementType::String => TensorData::String(
            data.iter()
                .map(|x| x.as_str().unwrap().to_owned())
                .collect(),
        ),
        other => panic!("fixture type {other}"),
    };
    let shape = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_i64().unwrap())
        .collect();
    Tensor {
        name: v["name"].as_str().unwrap().to_owned(),
        shape,
        data,
    }
}

/// Row `r` of a batch-first tensor, as a batch of one.
fn row(t: &Tensor, r: usize) -> Tensor {
    let width: usize = t.shape[1..].iter().map(|&d| d as usize).product();
    let range = r * width..(r + 1) * width;
    let data = match &t.data {
        TensorData::F32(v) => TensorData::F32(v[range].to_vec()),
        TensorData::F64(v) => TensorData::F64(v[range].to_vec()),
        TensorData::I64(v) => TensorData::I64(v[range].to_vec()),
        TensorData::I32(v) => TensorData::I32(v[range].to_vec()),
        TensorData::Bool(v) => TensorData::Bool(v[range].to_vec()),
        TensorData::String(v) => TensorData::String(v[range].to_vec()),
    };
    let mut shape = t.shape.clone();
    shape[0] = 1;
    Tensor {
        name: t.name.clone(),
        shape,
        data,
    }
}

/// Labels, strings and flags exactly; floats within 1e-5 (relative beyond magnitude 1).
fn assert_same(context: &str, got: &[Tensor], want: &[Tensor]) {
    let names = |ts: &[Tensor]| ts.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(got), names(want), "{context}: output names and order");
    for (g, w) in got.iter().zip(want) {
        let context = format!("{context}, output '{}'", w.name);
        assert_eq!(g.shape, w.shape, "{context}: shape");
        match (&g.data, &w.data) {
            (TensorData::F32(g), TensorData::F32(w)) => {
                for (i, (a, b)) in g.iter().zip(w).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                        "{context}[{i}]: got {a}, want {b}"
                    );
                }
            }
            (g, w) => assert_eq!(g, w, "{context}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_matches_onnxruntime_python_in_batch_and_row_by_row() {
    for name in FIXTURES {
        let reference = reference(name);
        let model = load(name, 2);
        assert_eq!(model.signature(), &reference.signature, "{name}: signature");

        let got = model.infer(reference.rows.clone()).await.unwrap();
        assert_same(&format!("{name}, batch of 5"), &got, &reference.expected);

        // 64 single-row requests at once from as many tasks, sharing two workers.
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let (model, r) = (model.clone(), i % 5);
                let inputs: Vec<Tensor> = reference.rows.iter().map(|t| row(t, r)).collect();
                tokio::spawn(async move { (r, model.infer(inputs).await) })
            })
            .collect();
        for task in tasks {
            let (r, result) = task.await.unwrap();
            let want: Vec<Tensor> = reference.expected.iter().map(|t| row(t, r)).collect();
            assert_same(&format!("{name}, row {r} alone"), &result.unwrap(), &want);
        }
    }
}

#[tokio::test]
async fn inputs_may_come_in_any_order_must_agree_on_named_dims_and_may_be_empty() {
    let reference = reference("multi_io");
    let model = load("multi_io", 1);
    let reversed: Vec<Tensor> = reference.rows.iter().rev().cloned().collect();
    assert_same(
        "reversed inputs",
        &model.infer(reversed).await.unwrap(),
        &reference.expected,
    );
    // A run only borrows the inputs (the strings among them too): they come back, in the model's order.
    let reversed: Vec<Tensor> = reference.rows.iter().rev().cloned().collect();
    let (inputs, outputs) = model.infer_keeping_inputs(reversed).await.unwrap();
    assert_eq!(inputs, reference.rows);
    assert_same("kept inputs", &outputs, &reference.expected);

    // All three inputs call their first dimension "N" in the model: a batch must be the same on each.
    let mut short = reference.rows.clone();
    short[1] = Tensor {
        shape: vec![3],
        data: TensorData::I64(vec![1, 2, 3]),
        ..short[1].clone()
    };
    match model.infer(short).await {
        Err(EngineError::InvalidInput(m)) => assert_eq!(
            m,
            "inputs 'x' and 'k' must agree on dimension 'N': 'x' has 5 (axis 0), 'k' has 3 (axis 0)"
        ),
        other => panic!("expected InvalidInput, got {other:?}"),
    }

    let model = load("logreg", 1);
    let empty = Tensor {
        name: "X".into(),
        shape: vec![0, 4],
        data: TensorData::F32(vec![]),
    };
    let outputs = model.infer(vec![empty]).await.unwrap();
    assert_eq!(outputs[0].shape, [0]);
    assert_eq!(outputs[1].shape, [0, 3]);
    assert!(outputs.iter().all(|t| t.data.is_empty()));
}

#[tokio::test]
async fn bad_inputs_are_invalid_input_naming_the_input_and_both_sides() {
    let model = load("logreg", 1);
    let x = |shape: Vec<i64>, n: usize| Tensor {
        name: "X".into(),
        shape,
        data: TensorData::F32(vec![1.0; n]),
    };
    let cases: Vec<(&str, Vec<Tensor>, &str)> = vec![
        ("missing input", vec![], "missing input 'X' (f32 [?, 4])"),
        (
            "wrong name",
            vec![Tensor {
                name: "x".into(),
                ..x(vec![1, 4], 4)
            }],
            "unknown input 'x'; the model's inputs are 'X' (f32 [?, 4])",
        ),
        (
            "wrong element type",
            vec![Tensor {
                data: TensorData::F64(vec![1.0; 4]),
                ..x(vec![1, 4], 4)
            }],
            "input 'X' must be f32, got f64",
        ),
        (
            "wrong rank",
            vec![x(vec![4], 4)],
            "input 'X' must have 2 dimensions (shape [?, 4]), got 1 (shape [4])",
        ),
        (
            "wrong feature count",
            vec![x(vec![1, 3], 3)],
            "input 'X': dimension 1 must be 4, got 3 (expected shape [?, 4], got [1, 3])",
        ),
        (
            "data length mismatch",
            vec![x(vec![2, 4], 7)],
            "input 'X': shape [2, 4] needs 8 values, got 7",
        ),
        (
            "extra input",
            vec![x(vec![1, 4], 4), x(vec![1, 4], 4)],
            "input 'X' is given more than once",
        ),
    ];
    for (case, inputs, want) in cases {
        match model.infer(inputs).await {
            Err(EngineError::InvalidInput(message)) => assert_eq!(message, want, "{case}"),
            other => panic!("{case}: expected InvalidInput, got {other:?}"),
        }
    }
    // The model still serves after refusing all that.
    model.infer(vec![x(vec![1, 4], 4)]).await.unwrap();
}

#[test]
fn garbage_is_invalid_model() {
    for bytes in [
        &b"not an onnx model"[..],
        &[],
        &model_bytes("logreg")[..100],
    ] {
        match Model::load(&runtime(), bytes, ModelOptions::default()) {
            Err(EngineError::InvalidModel(message)) => assert!(!message.is_empty()),
            other => panic!("expected InvalidModel, got {other:?}"),
        }
    }
}

#[test]
fn zipmap_output_is_refused_at_load_with_how_to_re_export() {
    match Model::load(
        &runtime(),
        &model_bytes("logreg_zipmap"),
        ModelOptions::default(),
    ) {
        Err(EngineError::UnsupportedOutput(message)) => {
            assert!(
                message.contains("output 'output_probability' is a sequence of maps"),
                "{message}"
            );
            assert!(message.contains("'zipmap': False"), "{message}");
        }
        other => panic!("expected UnsupportedOutput, got {other:?}"),
    }
}

#[test]
fn runtime_init_with_a_bad_path_says_how_to_get_the_library() {
    match Runtime::init(Some(Path::new("/nonexistent/libonnxruntime.so"))) {
        Err(e @ EngineError::RuntimeMissing(_)) => {
            let message = e.to_string();
            assert!(
                message.contains("/nonexistent/libonnxruntime.so"),
                "{message}"
            );
            assert!(message.contains("run scripts/onnxruntime.sh"), "{message}");
            assert!(message.contains("ORT_DYLIB_PATH"), "{message}");
        }
        other => panic!("expected RuntimeMissing, got {other:?}"),
    }
}

#[test]
fn runtime_init_twice_is_the_same_runtime() {
    let (a, b) = (runtime(), runtime());
    assert_eq!(a.library_path(), b.library_path());
    let again = Runtime::init(Some(a.library_path())).unwrap();
    assert_eq!(again.library_path(), a.library_path());
}

/// Informational: `cargo test -p cairn-onnx --release -- --ignored --nocapture single_row_latency`.
#[tokio::test]
#[ignore]
async fn single_row_latency() {
    for name in ["logreg", "forest", "gbr", "pipeline"] {
        let model = load(name, 1);
        let input = row(&reference(name).rows[0], 0);
        let mut times = Vec::new();
        for _ in 0..5000 {
            let start = Instant::now();
            model.infer(vec![input.clone()]).await.unwrap();
            times.push(start.elapsed());
        }
        times.sort();
        let (p50, p99) = (times[times.len() / 2], times[times.len() * 99 / 100]);
        println!("{name}: single row through infer(): p50 {p50:?}, p99 {p99:?}");
    }
}
