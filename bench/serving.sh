#!/usr/bin/env bash
# Model-serving benchmark: the same ONNX model served by `cairn serve`, by a deployment of `cairn server`
# (registered, deployed with `cairn deploy`, served at /serving-endpoints/iris/invocations) and by the peer:
# PEER=mlserver (default: Seldon MLServer 1.7 with its MLflow runtime, in its own pinned venv
# .venv-mlserver) or PEER=mlflow (`mlflow models serve`). Single-row requests to the MLflow scoring
# endpoint, one server at a time, ROUNDS alternating rounds, medians. The deployment logs every request
# (prediction logging's default); a second deployment with `--log-sample 0` gives logging's cost.
#
#   saturation   wrk, 2 threads × CONNECTIONS keep-alive connections, DURATION s: requests/s and latency
#   equal load   oha (built once into .bench-tools/ from crates.io), open loop at RATE requests/s (default:
#                half of the peer's median saturation throughput) over CONNECTIONS connections, with latency
#                correction (a request's latency counts from when it was due): p50/p99
#
# Usage: bench/serving.sh           (prints a Markdown table; raw output in bench/results/serving-<ts>/)
# Environment: PEER=mlserver ROUNDS=3 CONNECTIONS=32 DURATION=15 RATE= WORKERS=2 CAIRN_BIN (else cargo build
# --release)
# Needs: wrk (installed with apt when missing), oha (cargo install, once), the pinned venv (scripts/python-env.sh),
# libonnxruntime (scripts/onnxruntime.sh).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-3} CONNECTIONS=${CONNECTIONS:-32} DURATION=${DURATION:-15} WORKERS=${WORKERS:-2}
PEER=${PEER:-mlserver}
py="$repo/.venv/bin/python"
out="$repo/bench/results/serving-$(date -u +%Y%m%dT%H%M%SZ)"; mkdir -p "$out"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
oha="$repo/.bench-tools/bin/oha"
[ -x "$oha" ] || cargo install --locked --root "$repo/.bench-tools" oha@1.16.0
[ -x "$py" ] || "$repo/scripts/python-env.sh"
if [ "$PEER" = mlserver ]; then
  mls="$repo/.venv-mlserver"
  want=$(cat "$repo/bench/mlserver-requirements.txt" "$repo/bench/mlserver-constraints.txt" | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$mls/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
    python3 -m venv "$mls"
    "$mls/bin/pip" install --quiet --disable-pip-version-check -r "$repo/bench/mlserver-requirements.txt" \
      -c "$repo/bench/mlserver-constraints.txt"
    echo "$want" > "$mls/.requirements.sha256"
  fi
fi
"$repo/scripts/onnxruntime.sh" >/dev/null
if [ -z "${CAIRN_BIN:-}" ]; then
  (cd "$repo" && cargo build --release -p cairn-cli)
  CAIRN_BIN="$repo/target/release/cairn"
fi
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

# The model: 3-class logistic regression on iris (skl2onnx, zipmap off), as an MLflow ONNX-flavour folder
# whose signature names inputs and outputs (MLServer's MLflow runtime needs both).
"$py" - "$tmp/model" <<'PY'
import sys, numpy as np, mlflow.onnx, onnxruntime as ort
from mlflow.models import infer_signature
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True); X = X.astype(np.float32)
m = LogisticRegression(max_iter=300).fit(X, y)
onx = to_onnx(m, X[:1], options={"zipmap": False})
label, proba = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"X": X[:3]})
mlflow.onnx.save_model(onx, sys.argv[1], signature=infer_signature(X[:3], {"label": label, "probabilities": proba}))
PY
body='{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'
cat > "$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() {  # start <name> -> sets url
  local port; port=$(free_port)
  url="http://127.0.0.1:$port/invocations"
  case "$1" in
    cairn) "$CAIRN_BIN" serve --model "$tmp/model" --port "$port" --workers "$WORKERS" >"$out/$1.log" 2>&1 & ;;
    deployed|unlogged)
      sample=1; [ "$1" = unlogged ] && sample=0
      "$CAIRN_BIN" server --port "$port" --data-dir "$tmp/server-$port" --workers "$WORKERS" >"$out/$1.log" 2>&1 &
      for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
      "$py" - "http://127.0.0.1:$port" "$tmp/model" >>"$out/$1.log" 2>&1 <<'PY'
import sys, mlflow, mlflow.onnx, onnx
from mlflow.models import Model
mlflow.set_tracking_uri(sys.argv[1])
with mlflow.start_run():
    mlflow.onnx.log_model(onnx.load(f"{sys.argv[2]}/model.onnx"), name="model", registered_model_name="iris",
                          signature=Model.load(sys.argv[2]).signature)
PY
      "$CAIRN_BIN" deploy create iris --model models:/iris/1 --log-sample "$sample" --server "http://127.0.0.1:$port" >>"$out/$1.log" 2>&1
      url="http://127.0.0.1:$port/serving-endpoints/iris/invocations" ;;
    mlflow) PATH="$repo/.venv/bin:$PATH" "$repo/.venv/bin/mlflow" models serve -m "$tmp/model" --env-manager local --port "$port" \
              --workers "$WORKERS" >"$out/$1.log" 2>&1 & ;;
    mlserver)
      # parallel_workers 0 (inference in the server process) is MLServer's faster setting on 2 cores here:
      # ~710 req/s against ~480 with 2 inference worker processes.
      d="$tmp/mlserver-$port"; mkdir -p "$d"
      printf '{"http_port": %s, "grpc_port": %s, "metrics_port": %s, "parallel_workers": 0}' \
        "$port" "$(free_port)" "$(free_port)" >"$d/settings.json"
      printf '{"name": "iris", "implementation": "mlserver_mlflow.MLflowRuntime", "parameters": {"uri": "%s"}}' \
        "$tmp/model" >"$d/model-settings.json"
      (cd "$d" && exec "$repo/.venv-mlserver/bin/mlserver" start "$d") >"$out/$1.log" 2>&1 & ;;
  esac
  pids+=($!); pid=$!
  for _ in $(seq 1 600); do
    curl -sf -XPOST -H 'content-type: application/json' -d "$body" "$url" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "$1 did not start; log:" >&2; cat "$out/$1.log" >&2; exit 1
}
stop() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }

declare -A sat lat
for r in $(seq 1 "$ROUNDS"); do
  for s in $PEER cairn deployed unlogged; do
    start "$s"
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$tmp/post.lua" "$url" >"$out/$s-wrk-r$r.txt"
    sat[$s]+="$(awk '/Requests\/sec/ {print $2}' "$out/$s-wrk-r$r.txt") "
    stop
    echo "round $r $s: $(awk '/Requests\/sec/ {print $2}' "$out/$s-wrk-r$r.txt") req/s" >&2
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_sat=$(echo "${sat[$PEER]}" | median); c_sat=$(echo "${sat[cairn]}" | median); d_sat=$(echo "${sat[deployed]}" | median)
RATE=${RATE:-$(awk -v m="$m_sat" 'BEGIN {printf "%d", m/2}')}
for r in $(seq 1 "$ROUNDS"); do
  for s in $PEER cairn deployed unlogged; do
    start "$s"
    "$oha" -q "$RATE" -z "${DURATION}s" -w -c "$CONNECTIONS" --latency-correction --no-tui --output-format json \
      -m POST -H 'content-type: application/json' -d "$body" "$url" >"$out/$s-oha-r$r.json"
    # One line per round: p50/p99 in ms and errors (transport errors and non-200 answers; not the requests
    # oha itself cuts off at the deadline).
    "$py" -c 'import json, sys
d = json.load(open(sys.argv[1])); p = d["latencyPercentiles"]; codes = d.get("statusCodeDistribution", {})
cut = "aborted due to deadline"
bad = sum(n for e, n in d.get("errorDistribution", {}).items() if e != cut)
bad += sum(n for c, n in codes.items() if c != "200")
print(json.dumps({"p50_ms": round(p["p50"] * 1000, 3), "p99_ms": round(p["p99"] * 1000, 3), "errors": bad}))' \
      "$out/$s-oha-r$r.json" >"$out/$s-load-r$r.json"
    stop
  done
done
p() { cat "$out/$1"-load-r*.json | "$py" -c "import sys,json,statistics as st; print(st.median(json.loads(l)['$2'] for l in sys.stdin))"; }
m50=$(p "$PEER" p50_ms); c50=$(p cairn p50_ms); m99=$(p "$PEER" p99_ms); c99=$(p cairn p99_ms)
d50=$(p deployed p50_ms); d99=$(p deployed p99_ms)
u50=$(p unlogged p50_ms); u99=$(p unlogged p99_ms); u_sat=$(echo "${sat[unlogged]}" | median)
merr=$(p "$PEER" errors); cerr=$(p cairn errors); derr=$(p deployed errors)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f×", a/b}'; }
{
  case "$PEER" in
    mlserver) peer_name="MLServer"; peer_desc="MLServer $("$repo/.venv-mlserver/bin/python" -c 'import mlserver; print(mlserver.__version__)') with its MLflow runtime (\`mlserver_mlflow.MLflowRuntime\`, \`parallel_workers: 0\`)" ;;
    mlflow) peer_name="MLflow"; peer_desc="\`mlflow models serve --env-manager local --workers $WORKERS\` (MLflow $("$py" -c 'import mlflow; print(mlflow.__version__)'))" ;;
  esac
  echo "### Model serving: Cairn vs $peer_name — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- Model: iris logistic regression, skl2onnx (zipmap off), MLflow ONNX flavour; single-row \`POST /invocations\` \`$body\`"
  echo "- Servers: \`cairn serve --workers $WORKERS\`; \`cairn server --workers $WORKERS\` serving the model registered and deployed (\`cairn deploy create iris --model models:/iris/1\`) at \`/serving-endpoints/iris/invocations\`; and $peer_desc, one at a time, $ROUNDS alternating rounds, medians; loadavg at end \`$(cut -d' ' -f1-3 /proc/loadavg)\` on $(nproc) CPUs"
  echo
  echo "| Metric | $peer_name | \`cairn serve\` | advantage | \`cairn server\` deployment | advantage | Target |"
  echo "|---|--:|--:|--:|--:|--:|---|"
  echo "| saturation throughput, wrk 2 threads × $CONNECTIONS connections, req/s | $m_sat | $c_sat | $(ratio "$c_sat" "$m_sat") | $d_sat | $(ratio "$d_sat" "$m_sat") | ≥ 20× |"
  echo "| p50 at equal offered load ($RATE req/s, oha open loop, $CONNECTIONS connections), ms | $m50 | $c50 | $(ratio "$m50" "$c50") | $d50 | $(ratio "$m50" "$d50") | |"
  echo "| p99 at equal offered load ($RATE req/s, oha open loop, $CONNECTIONS connections), ms | $m99 | $c99 | $(ratio "$m99" "$c99") | $d99 | $(ratio "$m99" "$d99") | ≤ 1/10 of the peer's |"
  echo "| errors at equal load (median per round) | $merr | $cerr | | $derr | | |"
  echo
  echo "Prediction logging's cost: the same deployment logging every request (\`--log-sample 1\`, the default) vs none (\`--log-sample 0\`)"
  echo
  echo "| Metric | not logged | logged | cost | Target |"
  echo "|---|--:|--:|--:|---|"
  echo "| saturation throughput, req/s | $u_sat | $d_sat | $(awk -v a="$d_sat" -v b="$u_sat" 'BEGIN {printf "%+.1f %%", (a/b-1)*100}') | ≥ −5 % |"
  echo "| p99 at equal offered load, ms | $u99 | $d99 | $(awk -v a="$d99" -v b="$u99" 'BEGIN {printf "%+.1f %%", (a/b-1)*100}') | ≤ +5 % |"
  echo "| p50 at equal offered load, ms | $u50 | $d50 | $(awk -v a="$d50" -v b="$u50" 'BEGIN {printf "%+.1f %%", (a/b-1)*100}') | |"
} | tee "$out/results.md"
