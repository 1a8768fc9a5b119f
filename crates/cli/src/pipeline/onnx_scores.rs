//! Scoring a model on a dataset with Cairn's own runtime, for confidence gates with `label:`: the
//! dataset is a CSV with a header; its label column is the truth and every other column a feature
//! (a number). The model (ONNX) gets the features as one `[rows, features]` batch; a row scores 1 when
//! its predicted label equals the truth, else 0 — per example, so that two models' scores pair up.

use cairn_onnx::{ElementType, Model, ModelOptions, Runtime, Tensor, TensorData};

/// Features (row-major) and labels of a CSV dataset.
#[derive(Debug)]
struct Dataset {
    features: Vec<f64>,
    width: usize,
    labels: Vec<String>,
}

fn parse(csv: &str, label: &str) -> Result<Dataset, String> {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or("the dataset is empty")?
        .split(',')
        .map(str::trim)
        .collect();
    let at = header.iter().position(|h| *h == label).ok_or_else(|| {
        format!(
            "the dataset has no column '{label}' (it has {})",
            header.join(", ")
        )
    })?;
    let mut d = Dataset {
        features: Vec::new(),
        width: header.len() - 1,
        labels: Vec::new(),
    };
    for (row, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != header.len() {
            return Err(format!(
                "dataset row {} has {} columns, the header {}",
                row + 2,
                cells.len(),
                header.len()
            ));
        }
        for (i, cell) in cells.iter().enumerate() {
            if i == at {
                d.labels.push((*cell).to_owned());
            } else {
                d.features.push(cell.parse().map_err(|_| {
                    format!(
                        "dataset row {}, column {}: '{cell}' is not a number",
                        row + 2,
                        header[i]
                    )
                })?);
            }
        }
    }
    if d.labels.is_empty() {
        return Err("the dataset has no rows".into());
    }
    Ok(d)
}

/// A predicted label as text, to compare with the dataset's.
fn labels_of(t: &Tensor, rows: usize) -> Option<Vec<String>> {
    let argmax = |v: Vec<f64>| -> Option<Vec<String>> {
        let classes = v.len() / rows.max(1);
        if classes < 2 || classes * rows != v.len() {
            return None;
        }
        Some(
            v.chunks(classes)
                .map(|c| {
                    let best = (0..classes)
                        .max_by(|a, b| c[*a].total_cmp(&c[*b]))
                        .unwrap_or(0);
                    best.to_string()
                })
                .collect(),
        )
    };
    match &t.data {
        TensorData::I64(v) if v.len() == rows => Some(v.iter().map(i64::to_string).collect()),
        TensorData::I32(v) if v.len() == rows => Some(v.iter().map(i32::to_string).collect()),
        TensorData::String(v) if v.len() == rows => Some(v.clone()),
        TensorData::Bool(v) if v.len() == rows => {
            Some(v.iter().map(|b| u8::from(*b).to_string()).collect())
        }
        TensorData::F32(v) => argmax(v.iter().map(|x| f64::from(*x)).collect()),
        TensorData::F64(v) => argmax(v.clone()),
        _ => None,
    }
}

/// 1 per row the model predicts right, 0 per row it gets wrong.
pub async fn score(
    runtime: &Runtime,
    model: Vec<u8>,
    csv: &str,
    label: &str,
) -> Result<Vec<f64>, String> {
    let d = parse(csv, label)?;
    let rows = d.labels.len();
    let runtime = runtime.clone();
    let model =
        tokio::task::spawn_blocking(move || Model::load(&runtime, &model, ModelOptions::default()))
            .await
            .map_err(|e| format!("loading the model: {e}"))?
            .map_err(|e| format!("loading the model: {e}"))?;
    let input = model
        .signature()
        .inputs
        .first()
        .ok_or("the model has no input")?
        .clone();
    let data = match input.element_type {
        ElementType::F32 => TensorData::F32(d.features.iter().map(|x| *x as f32).collect()),
        ElementType::F64 => TensorData::F64(d.features),
        other => {
            return Err(format!(
                "the model's input {} takes {other:?}, not numbers",
                input.name
            ));
        }
    };
    let outputs = model
        .infer(vec![Tensor {
            name: input.name.clone(),
            shape: vec![rows as i64, d.width as i64],
            data,
        }])
        .await
        .map_err(|e| format!("scoring the model: {e}"))?;
    // skl2onnx names the predicted class `label`; otherwise the first output that reads as labels.
    let predicted = outputs
        .iter()
        .find(|t| t.name == "label")
        .and_then(|t| labels_of(t, rows))
        .or_else(|| outputs.iter().find_map(|t| labels_of(t, rows)))
        .ok_or("the model's outputs are not labels or class scores")?;
    Ok(predicted
        .iter()
        .zip(&d.labels)
        .map(|(p, truth)| {
            let same = p == truth
                || matches!((p.parse::<f64>(), truth.parse::<f64>()), (Ok(a), Ok(b)) if a == b);
            f64::from(u8::from(same))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasets_parse_with_the_label_anywhere() {
        let d = parse("x1, y ,x2\n1,0,2\n3,1,4\n", "y").unwrap();
        assert_eq!(
            (d.features, d.width, d.labels),
            (
                vec![1.0, 2.0, 3.0, 4.0],
                2,
                vec!["0".to_owned(), "1".to_owned()]
            )
        );
        assert!(
            parse("x,y\n1,a\n", "z")
                .unwrap_err()
                .contains("no column 'z'")
        );
        assert!(
            parse("x,y\nq,1\n", "y")
                .unwrap_err()
                .contains("'q' is not a number")
        );
        assert!(
            parse("x,y\n1\n", "y")
                .unwrap_err()
                .contains("row 2 has 1 columns")
        );
    }

    #[test]
    fn predictions_read_as_labels_or_class_scores() {
        let t = |data| Tensor {
            name: "o".into(),
            shape: vec![],
            data,
        };
        assert_eq!(
            labels_of(&t(TensorData::I64(vec![1, 0])), 2),
            Some(vec!["1".into(), "0".into()])
        );
        assert_eq!(
            labels_of(&t(TensorData::F32(vec![0.2, 0.8, 0.9, 0.1])), 2),
            Some(vec!["1".into(), "0".into()])
        );
        assert_eq!(labels_of(&t(TensorData::F32(vec![0.2, 0.8, 0.9])), 2), None);
    }
}
