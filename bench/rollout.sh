#!/usr/bin/env bash
# Roll-out delay after an alias move: how long after `champion` moves (MLflow REST API, 200 answered) the
# deployment following it answers with the new version, on `cairn server`'s embedded serving and on a
# `cairn serve --deployment` replica. Client: bench/rollout_bench.py (its docstring has the details).
#
# Per round (ROUNDS, default 3; a fresh server each round):
#   fresh data dir -> `cairn server` on a free loopback port -> two ONNX versions of `iris` logged with the
#   mlflow client, alias champion -> 1 -> `cairn deploy create iris-prod --model models:/iris@champion`
#   -> replica `cairn serve --deployment iris-prod --server URL --port P` -> MOVES alias moves (1 <-> 2),
#   each timed on both endpoints by tight-loop OIP pollers (one thread each) -> stop everything.
# Prints a Markdown table (per round p50/p90/max, and the median over rounds) and writes everything to
# bench/results/rollout-<timestamp>/ (gitignored).
#
# Environment:
#   ROUNDS=3 MOVES=30 GAP=0.5    rounds; alias moves per round; pause between moves, s (+ up to 50% jitter)
#   WORKERS=2                    --workers of the server and the replica
#   CAIRN_BIN                    use this binary instead of `cargo build --release -p cairn-cli`
#   CAIRN_VENV                   venv made by scripts/python-env.sh (default <repo>/.venv)
#   KEEP_DATA=0                  1 keeps the temp dir (path is logged)
# Needs: the pinned venv (scripts/python-env.sh), libonnxruntime (scripts/onnxruntime.sh, run here).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-3} MOVES=${MOVES:-30} GAP=${GAP:-0.5} WORKERS=${WORKERS:-2} KEEP_DATA=${KEEP_DATA:-0}
py=${CAIRN_VENV:-$repo/.venv}/bin/python
client=$repo/bench/rollout_bench.py
log() { printf '[rollout-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $MOVES =~ ^[1-9][0-9]*$ ]] || die "ROUNDS and MOVES must be positive integers"
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost,::1"
[ -x "$py" ] || bash "$repo/scripts/python-env.sh" >&2
"$repo/scripts/onnxruntime.sh" >/dev/null
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$repo/.onnxruntime/libonnxruntime.so}
user_bin=""
if [ -z "${CAIRN_BIN:-}" ]; then
  log "building Cairn (cargo build --release -p cairn-cli)"
  (cd "$repo" && cargo build --release -p cairn-cli) >&2
  CAIRN_BIN=$repo/target/release/cairn
  bin_note="built here from commit $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- crates Cargo.lock || echo ' with uncommitted changes')"
else
  bin_note="CAIRN_BIN=$CAIRN_BIN" user_bin=$CAIRN_BIN
fi
[ -x "$CAIRN_BIN" ] || die "Cairn binary not executable: $CAIRN_BIN"
out=$repo/bench/results/rollout-$(date -u +%Y%m%dT%H%M%SZ); mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-rollout.XXXXXX"); pids=()
cleanup() {
  local k
  for ((k = ${#pids[@]} - 1; k >= 0; k--)); do kill "${pids[k]}" 2>/dev/null || true; wait "${pids[k]}" 2>/dev/null || true; done
  pids=()
  if [ "$KEEP_DATA" = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ok() {  # wait_ok URL PID WHAT
  local i
  for i in $(seq 1 600); do
    curl -sf "$1" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  die "$3 did not start; see $out"
}
dep=iris-prod model=iris
for r in $(seq 1 "$ROUNDS"); do
  sport=$(free_port); rport=$(free_port); url=http://127.0.0.1:$sport
  "$CAIRN_BIN" server --host 127.0.0.1 --port "$sport" --data-dir "$tmp/data-r$r" --workers "$WORKERS" \
    >"$out/server-r$r.log" 2>&1 &
  pids+=($!); wait_ok "$url/health" $! "cairn server"
  log "round $r/$ROUNDS: server on $url; logging two versions of $model"
  "$py" "$client" setup --server "$url" --model "$model" >"$out/setup-r$r.log" 2>&1 || die "setup failed; see $out/setup-r$r.log"
  "$CAIRN_BIN" deploy create "$dep" --model "models:/$model@champion" --server "$url" >>"$out/setup-r$r.log" 2>&1 ||
    die "deploy create failed; see $out/setup-r$r.log"
  "$CAIRN_BIN" serve --deployment "$dep" --server "$url" --host 127.0.0.1 --port "$rport" --workers "$WORKERS" \
    >"$out/replica-r$r.log" 2>&1 &
  pids+=($!); wait_ok "http://127.0.0.1:$rport/v2/models/$dep/ready" $! "the replica"
  log "round $r/$ROUNDS: replica on :$rport; $MOVES alias moves"
  "$py" "$client" measure --server "$url" --replica "http://127.0.0.1:$rport" --deployment "$dep" --model "$model" \
    --n "$MOVES" --gap "$GAP" --out "$out/r$r.json" >"$out/measure-r$r.log" 2>&1 || die "measure failed; see $out/measure-r$r.log"
  tail -n1 "$out/measure-r$r.log" >&2
  # The replica first: a server waits for open requests on shutdown, and the replica's long poll is one.
  for ((k = ${#pids[@]} - 1; k >= 0; k--)); do kill "${pids[k]}" 2>/dev/null || true; wait "${pids[k]}" 2>/dev/null || true; done
  pids=()
done
{
  echo "### Roll-out delay after an alias move — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- Machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)), $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r); loadavg at end \`$(cut -d' ' -f1-3 /proc/loadavg)\`"
  echo "- Cairn: $("$CAIRN_BIN" --version | head -n1) ($bin_note); \`cairn server --workers $WORKERS\` (SQLite) and one replica \`cairn serve --deployment $dep --workers $WORKERS\`, same machine"
  echo "- Command: \`ROUNDS=$ROUNDS MOVES=$MOVES GAP=$GAP${user_bin:+ CAIRN_BIN=$user_bin} bench/rollout.sh\`; $ROUNDS rounds × $MOVES moves, a fresh server each round"
  echo
  "$py" - "$out" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
docs = [json.load(open(f"{out}/r{r}.json")) for r in range(1, rounds + 1)]
def pct(xs, q):
    s = sorted(xs); return s[max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))]
print("| Endpoint | " + " | ".join(f"r{r} p50 / p90 / max" for r in range(1, rounds + 1))
      + " | median over rounds: p50 / p90 / max | all moves pooled: p50 / p90 / max | timeouts | Target |")
print("|---|" + "--:|" * rounds + "--:|--:|--:|---|")
for k, label in (("server", "`cairn server` (embedded serving), ms"), ("replica", "replica `cairn serve --deployment`, ms")):
    per = [d["summary"][k] for d in docs]
    pooled = [m[k + "_ms"] for d in docs for m in d["moves"] if m[k + "_ms"] is not None]
    med = [statistics.median(s[f] for s in per) for f in ("p50_ms", "p90_ms", "max_ms")]
    to = sum(s["timeouts"] for s in per)
    fmt = lambda t: " / ".join(f"{x:.1f}" for x in t)
    met = "met" if med[0] <= 100 else "**missed**"
    print(f"| {label} | " + " | ".join(fmt((s["p50_ms"], s["p90_ms"], s["max_ms"])) for s in per)
          + f" | **{fmt(med)}** | {fmt((statistics.median(pooled), pct(pooled, 90), max(pooled)))} | {to} | p50 ≤ 100 ms {met} |")
PY
  echo
  echo 'Context, **not measured**: before the change log, a replica checked the control plane every 1 s (`--poll-ms`, default 1000), so its expected delay was a uniform wait in [0, 1 s] — mean ≈ 500 ms, max ≈ 1 s — plus loading the new version.'
} | tee "$out/results.md"
