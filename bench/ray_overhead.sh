#!/usr/bin/env bash
# Per-step overhead of Cairn's Ray executor against Ray's own client (issue 12: "within 0.2 s of Ray's
# own"). One local Ray head (the pinned ray[default] of the test venv; free ports, never 6379) and one
# `cairn server` (the tracking server `cairn run` records into), then ROUNDS times each, wall clock:
#   ray    `ray job submit --address <head> -- echo hi`            (submit, wait, print the logs)
#   rest   the Jobs REST API bare: curl POST /api/jobs/, then GET the status every 50 ms until
#          SUCCEEDED — the floor any client of a head can reach
#   cairn  `cairn run --executor ray --force` of one stage `echo hi` (package check, submit, poll, logs
#          copied, plus the stage's MLflow runs and log artifact)
# after one warm-up of each. Prints the medians and cairn minus each; a Markdown table to stdout.
#
# Environment:
#   ROUNDS=5
#   CAIRN_BIN   the binary to time (default: target/release/cairn if built, else target/debug/cairn)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-5}
if [ -z "${CAIRN_BIN:-}" ]; then
  CAIRN_BIN=$repo/target/release/cairn
  [ -x "$CAIRN_BIN" ] || CAIRN_BIN=$repo/target/debug/cairn
fi
[ -x "$CAIRN_BIN" ] || { echo "ray-overhead: no cairn binary at $CAIRN_BIN (set CAIRN_BIN)" >&2; exit 1; }
log() { printf '[ray-overhead %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

"$repo/scripts/python-env.sh"
venv=$repo/.venv
export PATH="$venv/bin:$PATH" RAY_USAGE_STATS_ENABLED=0
unset RAY_ADDRESS MLFLOW_TRACKING_URI MLFLOW_RUN_ID

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
pick() { local p; p=$(free_port); while [ "$p" = 6379 ]; do p=$(free_port); done; echo "$p"; }
gcs=$(pick); dash=$(pick); agent=$(pick); rclient=$(pick); server_port=$(pick)
tmp=$(mktemp -d /tmp/rb-XXXXXX)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  ray stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

log "ray start (gcs $gcs, dashboard $dash)"
ray start --head --num-cpus=1 --port="$gcs" --dashboard-port="$dash" --dashboard-host=127.0.0.1 \
  --dashboard-agent-listen-port="$agent" --ray-client-server-port="$rclient" --disable-usage-stats \
  --temp-dir="$tmp/ray" >"$tmp/ray-start.log" 2>&1
head_url=http://127.0.0.1:$dash
"$CAIRN_BIN" server --host 127.0.0.1 --port "$server_port" --data-dir "$tmp/data" >"$tmp/server.log" 2>&1 &
server_pid=$!
server=http://127.0.0.1:$server_port
for _ in $(seq 300); do
  curl -sf "$server/health" >/dev/null && curl -sf "$head_url/api/version" >/dev/null && break
  sleep 0.1
done

mkdir -p "$tmp/proj"
printf 'stages:\n  hi:\n    cmd: echo hi\n' >"$tmp/proj/cairn.yaml"

now() { date +%s.%N; }
time_ray() {
  local t0; t0=$(now)
  ray job submit --address "$head_url" -- echo hi >>"$tmp/ray-submit.log" 2>&1
  echo "$(now) - $t0" | bc
}
time_rest() {
  # A fresh submission id each time (this runs in a subshell: no counter survives it).
  local t0 id status; t0=$(now); id="bench-rest-$(date +%s%N)"
  curl -sf -X POST "$head_url/api/jobs/" -H 'Content-Type: application/json' \
    -d "{\"entrypoint\": \"echo hi\", \"submission_id\": \"$id\"}" >/dev/null
  while :; do
    status=$(curl -sf "$head_url/api/jobs/$id" | grep -o '"status": "[A-Z]*"' | head -1 | cut -d'"' -f4)
    case $status in SUCCEEDED) break ;; FAILED|STOPPED) echo "ray-overhead: job $id $status" >&2; exit 1 ;; esac
    sleep 0.05
  done
  echo "$(now) - $t0" | bc
}
time_cairn() {
  local t0; t0=$(now)
  (cd "$tmp/proj" && "$CAIRN_BIN" run --executor ray --ray-address "$head_url" --server "$server" \
    --force >>"$tmp/cairn-run.log" 2>&1)
  echo "$(now) - $t0" | bc
}

log "warm-up"
time_ray >/dev/null
time_rest >/dev/null
time_cairn >/dev/null
ray_times=(); rest_times=(); cairn_times=()
for r in $(seq "$ROUNDS"); do
  ray_times+=("$(time_ray)")
  rest_times+=("$(time_rest)")
  cairn_times+=("$(time_cairn)")
  log "round $r: ray ${ray_times[-1]} s, rest ${rest_times[-1]} s, cairn ${cairn_times[-1]} s"
done

python3 - "$CAIRN_BIN" "${ray_times[*]}" "${rest_times[*]}" "${cairn_times[*]}" <<'EOF'
import statistics, sys
binary = sys.argv[1]
ray, rest, cairn = ([float(x) for x in a.split()] for a in sys.argv[2:5])
mr, ms, mc = statistics.median(ray), statistics.median(rest), statistics.median(cairn)
print(f"| per step (`echo hi`), median of {len(ray)} | seconds |")
print("|---|---|")
print(f"| `ray job submit -- echo hi` | {mr:.2f} |")
print(f"| Jobs REST API bare (curl, 50 ms polls) | {ms:.2f} |")
print(f"| `cairn run --executor ray` (one stage, tracked) | {mc:.2f} |")
print(f"| cairn − `ray job submit` | {mc - mr:+.2f} |")
print(f"| cairn − bare REST | {mc - ms:+.2f} |")
runs = lambda xs: " ".join(f"{x:.2f}" for x in xs)
print(f"\nbinary: {binary}; ray: {runs(ray)}; rest: {runs(rest)}; cairn: {runs(cairn)}")
EOF
