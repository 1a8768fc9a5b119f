#!/usr/bin/env bash
# The whole test suite, on both engine sets:
#   1. embedded default — SQLite metadata, local artifact folder;
#   2. scale-out — PostgreSQL metadata (a fresh database per server) and S3-compatible artifacts (a local
#      moto server started here).
# Each pass runs the Rust black-box HTTP tests and the end-to-end suite that drives the official mlflow
# client (and, for the web UI, Chromium) against the same `cairn` binary; one dev-profile build serves every step. Before them: formatting,
# clippy and the dependency directions; between them, the suite's MLflow-parity tests against a real
# `mlflow server`, which checks the tests themselves.
# PostgreSQL: CAIRN_TEST_PG_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CAIRN_TEST_PG_ADMIN_URL=${CAIRN_TEST_PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
py="$root/.venv/bin/python"

# What the suite drives besides the binary, from Debian's packages when missing: psql (scratch
# databases), curl (the local S3 bucket), npm (the web UI's pinned assets, `npm ci` in the build) and
# Chromium (the web UI tests; Playwright drives /usr/bin/chromium, never a browser of its own).
missing=()
command -v psql >/dev/null || missing+=(postgresql-client)
command -v curl >/dev/null || missing+=(curl)
command -v npm >/dev/null || missing+=(npm)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "== formatting"
cargo fmt --all -- --check

echo "== dependency directions"
scripts/check-deps.sh

echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== Python environment (pinned)"
scripts/python-env.sh

echo "== PostgreSQL at $CAIRN_TEST_PG_ADMIN_URL"
psql "$CAIRN_TEST_PG_ADMIN_URL" -qtAc "select 1" >/dev/null \
  || { echo "PostgreSQL is not reachable at $CAIRN_TEST_PG_ADMIN_URL" >&2; exit 1; }

echo "== Rust tests (unit, store conformance on SQLite and PostgreSQL, HTTP on the embedded default)"
cargo test --workspace --locked
# The HTTP tests above ran this very binary (cargo builds it for them); a separate `cargo build` would
# resolve features without dev-dependencies and compile much of the tree a second time.
export CAIRN_BIN="$root/target/debug/cairn"
[ -x "$CAIRN_BIN" ] || { echo "expected $CAIRN_BIN from cargo test" >&2; exit 1; }

echo "== End-to-end suite, embedded default (SQLite + local artifacts)"
"$py" -m pytest tests/e2e -q -p no:cacheprovider

# Every test not marked cairn_only claims MLflow's behaviour: it must pass against mlflow server too.
echo "== End-to-end suite, reference mode: the parity tests against a real mlflow server"
CAIRN_E2E_REFERENCE=mlflow "$py" -m pytest tests/e2e -q -p no:cacheprovider -m "not cairn_only"

echo "== Local S3-compatible server (moto)"
moto_port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"${TMPDIR:-/tmp}/cairn-moto-$moto_port.log" 2>&1 &
moto_pid=$!
e2e_db=""
cleanup() {
  kill "$moto_pid" 2>/dev/null || true
  if [ -n "$e2e_db" ]; then psql "$CAIRN_TEST_PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $e2e_db WITH (FORCE)" || true; fi
}
trap cleanup EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$moto_port/" >/dev/null && break; sleep 0.2; done
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
curl -sf -X PUT "$AWS_ENDPOINT_URL/cairn-test" >/dev/null

echo "== Rust HTTP tests, scale-out engines (PostgreSQL + S3)"
CAIRN_TEST_ENGINE=postgres CAIRN_TEST_S3_BUCKET=cairn-test cargo test --locked -p cairn-cli --test http

echo "== End-to-end suite, scale-out engines (PostgreSQL + S3)"
e2e_db="cairn_e2e_$$_$(date +%s)"
psql "$CAIRN_TEST_PG_ADMIN_URL" -qc "CREATE DATABASE $e2e_db"
CAIRN_E2E_BACKEND_STORE_URI="${CAIRN_TEST_PG_ADMIN_URL%/*}/$e2e_db" \
CAIRN_E2E_ARTIFACTS_DESTINATION="s3://cairn-test/e2e-$$" \
  "$py" -m pytest tests/e2e -q -p no:cacheprovider
