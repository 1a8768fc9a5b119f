"""Sends wine traffic to a deployment, or writes the reference a monitor compares traffic with.

    python traffic.py reference OUT.csv
    python traffic.py send --server URL --deployment D [--requests 20] [--rows 10] [--shift 0] [--seed 1]

Rows are drawn from scikit-learn's bundled wine data (the columns `train.py` trains on); `--shift K` moves
every feature by K standard deviations, the drift a monitor should catch. Requests go to the deployment's
MLflow scoring endpoint, each with its own `x-request-id` (printed, so labels can be sent later).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import requests
from sklearn.datasets import load_wine


# With authentication on, the same credentials as the MLflow client (user + password or token).
AUTH = (
    (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ.get("MLFLOW_TRACKING_PASSWORD", ""))
    if os.environ.get("MLFLOW_TRACKING_USERNAME")
    else None
)


def wine():
    X, _ = load_wine(return_X_y=True, as_frame=True)
    X.columns = [c.replace("/", "_") for c in X.columns]
    return X.astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    ref = sub.add_parser("reference")
    ref.add_argument("out")
    send = sub.add_parser("send")
    send.add_argument("--server", required=True)
    send.add_argument("--deployment", required=True)
    send.add_argument("--requests", type=int, default=20)
    send.add_argument("--rows", type=int, default=10)
    send.add_argument("--shift", type=float, default=0.0)
    send.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    X = wine()
    if args.command == "reference":
        X.to_csv(args.out, index=False)
        print(f"reference: {len(X)} rows x {X.shape[1]} columns -> {args.out}")
        return
    rng = np.random.default_rng(args.seed)
    shifted = X + args.shift * X.std()
    url = f"{args.server.rstrip('/')}/serving-endpoints/{args.deployment}/invocations"
    for i in range(args.requests):
        rows = shifted.iloc[rng.integers(0, len(X), args.rows)]
        r = requests.post(url, json={"dataframe_split": rows.to_dict(orient="split", index=False)}, timeout=30, auth=AUTH)
        if r.status_code != 200:
            sys.exit(f"traffic.py: {url} answered {r.status_code}: {r.text}")
    print(f"sent {args.requests} requests x {args.rows} rows (shift {args.shift} sd) to {args.deployment}")


if __name__ == "__main__":
    main()
