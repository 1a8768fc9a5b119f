#!/usr/bin/env bash
# Runs `cairn server` on its embedded default (SQLite + a local artifact folder, in ./cairn-data), with the
# ONNX Runtime library its deployments are served on (fetched once into ./.onnxruntime/ from the pinned
# onnxruntime wheel). Extra arguments go to `cairn server`, e.g. scripts/server.sh --port 5001.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/onnxruntime.sh" >/dev/null \
  || echo "warning: ONNX Runtime could not be fetched; the server runs, but cannot serve deployments" >&2
exec cargo run --release --manifest-path "$root/Cargo.toml" -p cairn-cli -- server "$@"
