#!/usr/bin/env bash
# Maturity-tracker benchmark: GET /api/cairn/v1/maturity (every model) and /api/cairn/v1/maturity/<model>
# on a `cairn server` holding MODELS registered models, each with a version registered from a run that
# logged a param and a metric, DEPLOYED of them deployed (following alias champion, rolled out once).
# Client: bench/maturity_bench.py (its docstring has the details).
#
# Per round (ROUNDS, default 3): fresh data dir (and, for BACKEND=postgres, a fresh database) ->
#   `cairn server` on a free loopback port -> seed over the REST API -> timed GETs -> stop, clean up.
# Prints a Markdown table (per round p50 / p90, the median over rounds) and writes everything to
# bench/results/maturity-<timestamp>/ (gitignored).
#
# Environment:
#   ROUNDS=3 MODELS=1000 DEPLOYED=100
#   BACKEND=sqlite               sqlite | postgres
#   PG_URL=postgresql://postgres@127.0.0.1:5432/postgres
#                                (BACKEND=postgres) admin URL on a loopback server; a database
#                                cairn_matbench_<ts>_r<n> is created and dropped (WITH FORCE) per round
#   MATURITY_ARGS=""             extra args for bench/maturity_bench.py (e.g. "--n-overview 20 --n-one 50")
#   CAIRN_BIN                    use this binary instead of `cargo build --release -p cairn-cli`
#   CAIRN_VENV                   venv made by scripts/python-env.sh (default <repo>/.venv)
#   KEEP_DATA=0                  1 keeps the temp dir (path is logged)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-3} MODELS=${MODELS:-1000} DEPLOYED=${DEPLOYED:-100} BACKEND=${BACKEND:-sqlite}
PG_URL=${PG_URL:-postgresql://postgres@127.0.0.1:5432/postgres} MATURITY_ARGS=${MATURITY_ARGS:-}
KEEP_DATA=${KEEP_DATA:-0}
py=${CAIRN_VENV:-$repo/.venv}/bin/python
client=$repo/bench/maturity_bench.py
log() { printf '[maturity-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
case $BACKEND in sqlite|postgres) ;; *) die "BACKEND must be sqlite or postgres" ;; esac
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost,::1"
[ -x "$py" ] || bash "$repo/scripts/python-env.sh" >&2
"$repo/scripts/onnxruntime.sh" >/dev/null   # the deployments are served inside the server
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$repo/.onnxruntime/libonnxruntime.so}
psql_admin() { psql "$PG_URL" -v ON_ERROR_STOP=1 -qAtX -c "$1"; }
pg_version=""
if [ "$BACKEND" = postgres ]; then
  pg_version=$(psql_admin 'SHOW server_version') || die "cannot connect to PG_URL=$PG_URL"
fi
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
ts=$(date -u +%Y%m%dT%H%M%SZ)
out=$repo/bench/results/maturity-$ts; mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-maturity.XXXXXX"); pid="" db=""
stop_round() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi
  if [ -n "$db" ]; then psql_admin "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null || log "could not drop $db"; db=""; fi
}
cleanup() { stop_round; if [ "$KEEP_DATA" = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
read -r -a extra <<< "$MATURITY_ARGS"
for r in $(seq 1 "$ROUNDS"); do
  port=$(free_port); url=http://127.0.0.1:$port
  cmd=("$CAIRN_BIN" server --host 127.0.0.1 --port "$port" --data-dir "$tmp/data-r$r")
  if [ "$BACKEND" = postgres ]; then
    db="cairn_matbench_${ts,,}_r$r"
    psql_admin "CREATE DATABASE \"$db\"" >/dev/null
    cmd+=(--backend-store-uri "${PG_URL%/*}/$db")
  fi
  "${cmd[@]}" >"$out/server-r$r.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    curl -sf "$url/health" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || die "the server exited; see $out/server-r$r.log"
    sleep 0.1
  done
  log "round $r/$ROUNDS: server on $url ($BACKEND); seeding $MODELS models, $DEPLOYED deployed"
  "$py" "$client" --server "$url" --out "$out/r$r.json" --models "$MODELS" --deployed "$DEPLOYED" "${extra[@]}" \
    > >(tee "$out/client-r$r.log" >&2) 2>&1 || die "client failed; see $out/client-r$r.log"
  stop_round
done
{
  echo "### Maturity tracker at $MODELS models — $BACKEND — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- Machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)), $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r); loadavg at end \`$(cut -d' ' -f1-3 /proc/loadavg)\`"
  echo "- Cairn: $("$CAIRN_BIN" --version | head -n1) ($bin_note); \`cairn server\` on $BACKEND${pg_version:+ (PostgreSQL $pg_version, a fresh database per round)}"
  echo "- Data: $MODELS registered models, each one version from a run with 1 param + 1 metric; $DEPLOYED of them ONNX, deployed following \`@champion\` and rolled out once (version 2)"
  cmdline="ROUNDS=$ROUNDS"
  [ "$MODELS" = 1000 ] || cmdline+=" MODELS=$MODELS"
  [ "$DEPLOYED" = 100 ] || cmdline+=" DEPLOYED=$DEPLOYED"
  [ "$BACKEND" = sqlite ] || cmdline+=" BACKEND=$BACKEND"
  [ -z "$MATURITY_ARGS" ] || cmdline+=" MATURITY_ARGS='$MATURITY_ARGS'"
  [ -z "$user_bin" ] || cmdline+=" CAIRN_BIN=$user_bin"
  echo "- Command: \`$cmdline bench/maturity.sh\`; $ROUNDS rounds, a fresh server each; latencies client-side over loopback (one keep-alive \`requests.Session\`), an upper bound of the server-side time"
  echo
  "$py" - "$out" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
docs = [json.load(open(f"{out}/r{r}.json")) for r in range(1, rounds + 1)]
labels = {"overview": "`GET /api/cairn/v1/maturity` (all models)",
          "one_deployed": "`GET /api/cairn/v1/maturity/mat-0` (deployed, with history)",
          "one_plain": "`GET /api/cairn/v1/maturity/mat-<last>` (not deployed)"}
print("| Request | calls/round | " + " | ".join(f"r{r} p50 / p90" for r in range(1, rounds + 1))
      + " | **median p50** | **median p90** | response | Target |")
print("|---|--:|" + "--:|" * rounds + "--:|--:|--:|---|")
for ph, label in labels.items():
    per = [next(p for p in d["phases"] if p["phase"] == ph) for d in docs]
    p50 = statistics.median(p["p50_ms"] for p in per); p90 = statistics.median(p["p90_ms"] for p in per)
    met = "met" if p90 <= 100 else ("p50 met, p90 **missed**" if p50 <= 100 else "**missed**")
    print(f"| {label} | {per[0]['calls']} | " + " | ".join(f"{p['p50_ms']:.1f} / {p['p90_ms']:.1f}" for p in per)
          + f" | **{p50:.1f} ms** | **{p90:.1f} ms** | {per[0]['response_bytes'] / 1024:.0f} KiB | ≤ 100 ms {met} |")
seed = [d["seed_s"] for d in docs]
c = docs[0]["check"]
print()
print(f"Seeding (info, 4 client threads): median {statistics.median(seed):.1f} s per round. "
      f"Levels found (round 1): `per_level` = {c['per_level']}; mat-0 at level {c['one_deployed_level']}.")
PY
} | tee "$out/results.md"
