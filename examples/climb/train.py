"""Trains one classifier on scikit-learn's bundled wine data set and registers it as a new version.

    python train.py --model climb --kind logreg --seed 1

The run is tracked on the server named by MLFLOW_TRACKING_URI: the training data as a dataset input
(its digest is the lineage from data to deployment), the estimator's hyperparameters as params, the held-out accuracy as a metric, and the model itself in MLflow's `onnx` flavour (exported
with skl2onnx, ZipMap off, with an input signature so servers know the column order), registered under
--model in the same call. The last line printed is `version=N`, the version just registered.
"""

from __future__ import annotations

import argparse

import mlflow
import mlflow.onnx
import numpy as np
from mlflow.models import infer_signature
from skl2onnx import to_onnx
from sklearn.datasets import load_wine
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier


def estimator(kind: str, seed: int):
    """The estimator of a kind, with the hyperparameters worth logging."""
    if kind == "logreg":
        params = {"C": 1.0, "max_iter": 500}
        return make_pipeline(StandardScaler(), LogisticRegression(**params, random_state=seed)), params
    if kind == "forest":
        params = {"n_estimators": 50, "max_depth": 4}
        return RandomForestClassifier(**params, random_state=seed), params
    if kind == "gboost":
        params = {"n_estimators": 50, "max_depth": 2, "learning_rate": 0.1}
        return GradientBoostingClassifier(**params, random_state=seed), params
    if kind == "stump":
        # One split: a model that is clearly worse, for the climb's rejected retraining.
        params = {"max_depth": 1}
        return DecisionTreeClassifier(**params, random_state=seed), params
    raise SystemExit(f"unknown --kind {kind!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="climb", help="registered model name (default: climb)")
    ap.add_argument("--kind", choices=["logreg", "forest", "gboost", "stump"], default="logreg")
    ap.add_argument("--seed", type=int, default=1, help="seeds the train/test split and the estimator")
    ap.add_argument("--experiment", default=None, help="experiment name (default: the model name)")
    args = ap.parse_args()

    # 178 wines, 13 chemical measurements, 3 cultivars; shipped inside scikit-learn, nothing downloaded.
    X, y = load_wine(return_X_y=True, as_frame=True)
    X.columns = [c.replace("/", "_") for c in X.columns]  # od280/od315_of_diluted_wines -> od280_od315_…
    X = X.astype(np.float32)  # ONNX serving takes FP32 tensors
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=args.seed, stratify=y)

    est, params = estimator(args.kind, args.seed)
    mlflow.set_experiment(args.experiment or args.model)
    with mlflow.start_run(run_name=f"{args.kind}-seed{args.seed}") as run:
        mlflow.log_params({"kind": args.kind, "seed": args.seed, **params})
        # The training data, by content digest: the lineage from data to model to deployment.
        train_df = X_train.assign(target=y_train.values)
        mlflow.log_input(mlflow.data.from_pandas(train_df, name="wine-train", targets="target"), context="training")
        est.fit(X_train, y_train)
        accuracy = float((est.predict(X_test) == y_test).mean())
        mlflow.log_metric("test_accuracy", accuracy)
        onx = to_onnx(est, X_train.values[:1], options={"zipmap": False})
        info = mlflow.onnx.log_model(
            onx,
            name="model",
            registered_model_name=args.model,
            signature=infer_signature(X_train.head()),
        )
    print(f"run {run.info.run_id}: {args.kind} test_accuracy={accuracy:.3f}")
    print(f"version={info.registered_model_version}")


if __name__ == "__main__":
    main()
