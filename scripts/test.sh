#!/usr/bin/env bash
# The whole test suite: Rust unit and black-box HTTP tests, then the end-to-end suite that drives the
# official mlflow client against the same `cairn` binary (one dev-profile build serves both).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

echo "== formatting"
cargo fmt --all -- --check

echo "== Python environment for the end-to-end suite"
scripts/python-env.sh

echo "== Rust tests"
cargo test --workspace --locked

echo "== End-to-end suite (official mlflow client)"
cargo build --locked -p cairn-cli --bin cairn
CAIRN_BIN="$root/target/debug/cairn" .venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider
