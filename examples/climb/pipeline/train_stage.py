"""The pipeline's one stage: train.py's estimator and split (so the champion's recipe, reproducibly),
saved as an MLflow ONNX model in `model/` and scored into `eval.json` for the gates. Registration is
the pipeline's `promote:`, not this script's."""

import json

import mlflow.onnx
import numpy as np
import yaml
from mlflow.models import infer_signature
from skl2onnx import to_onnx
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split

from train import estimator

params = yaml.safe_load(open("params.yaml"))["train"]
X, y = load_wine(return_X_y=True, as_frame=True)
X.columns = [c.replace("/", "_") for c in X.columns]
X = X.astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=params["seed"], stratify=y)
est, _ = estimator(params["kind"], params["seed"])
est.fit(X_train, y_train)
accuracy = float((est.predict(X_test) == y_test).mean())
onx = to_onnx(est, X_train.values[:1], options={"zipmap": False})
mlflow.onnx.save_model(onx, "model", signature=infer_signature(X_train.head()))
json.dump({"test_accuracy": accuracy}, open("eval.json", "w"))
print(f"{params['kind']} seed {params['seed']}: test_accuracy={accuracy:.3f}")
