#!/usr/bin/env bash
# Web UI benchmark in headless Chromium: bench/ui_bench.py (its docstring lists the measures) against a
# fresh `cairn server` (release build) on SQLite, and the MLflow UI's page weight from a fresh
# `mlflow server` of the pinned venv, started once Cairn's measures are done. Results:
# bench/results/ui-<timestamp>/ui.json and ui-mlflow.json (gitignored).
#
# Environment:
#   UI_ARGS=""     extra args for bench/ui_bench.py, e.g. "--runs 10000 --chart-points 100000 --repeats 5"
#   CAIRN_BIN      use this binary instead of `cargo build --release -p cairn-cli`
#   MLFLOW=1       0 skips the MLflow UI page-weight measure
#   DATA_DIR       keep Cairn's data here (seeded once, reused by later runs of the same sizes) instead of
#                  a fresh temp dir
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py=${CAIRN_VENV:-$repo/.venv}/bin/python
log() { printf '[ui-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
export NO_PROXY="127.0.0.1,localhost,::1" no_proxy="127.0.0.1,localhost,::1"
bash "$repo/scripts/python-env.sh" >&2
[ -x /usr/bin/chromium ] || { log "needs /usr/bin/chromium (apt-get install --no-install-recommends chromium)"; exit 1; }
if [ -z "${CAIRN_BIN:-}" ]; then
  log "building cairn (release)"
  cargo build --release --locked --manifest-path "$repo/Cargo.toml" -p cairn-cli >&2
  CAIRN_BIN=$repo/target/release/cairn
fi
out=$repo/bench/results/ui-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
tmp=$(mktemp -d)
port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 600); do curl -sf "$1" >/dev/null && return 0; sleep 0.2; done; return 1; }
pids=()
trap 'for p in "${pids[@]}"; do kill -- "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
cport=$(port)
"$CAIRN_BIN" server --host 127.0.0.1 --port "$cport" --data-dir "${DATA_DIR:-$tmp/cairn}" >"$out/cairn.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$cport/health" || { log "cairn did not start"; exit 1; }
log "cairn $("$CAIRN_BIN" --version 2>/dev/null || true) on :$cport; results in $out"
# Cairn's measures first, with no mlflow server running (its background workers take CPU even idle).
# shellcheck disable=SC2086
"$py" "$repo/bench/ui_bench.py" --server "http://127.0.0.1:$cport" --out "$out/ui.json" ${UI_ARGS:-}
if [ "${MLFLOW:-1}" = 1 ]; then
  mport=$(port)
  # Its own process group: `mlflow server` leaves job runners and huey consumers behind its own pid.
  (cd "$tmp" && exec setsid "$repo/.venv/bin/mlflow" server --host 127.0.0.1 --port "$mport" \
    --backend-store-uri "sqlite:///$tmp/mlflow.db" >"$out/mlflow.log" 2>&1) &
  pids+=(-$!)
  wait_up "http://127.0.0.1:$mport/health" || { log "mlflow server did not start"; exit 1; }
  # shellcheck disable=SC2086
  "$py" "$repo/bench/ui_bench.py" --server "http://127.0.0.1:$cport" --mlflow-url "http://127.0.0.1:$mport" \
    --peer-only --out "$out/ui-mlflow.json" ${UI_ARGS:-}
fi
