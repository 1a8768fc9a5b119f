#!/usr/bin/env bash
# runs/search at scale: Cairn vs FastTrackML 0.6.0, the same bare-HTTP client (bench/search_bench.py).
#
# Usage: bench/search.sh [--help]
#
# For each size in SIZES and each server in SERVERS (one server at a time, each on a fresh temp dir and,
# for cairn-pg, a fresh database): start it on 127.0.0.1 -> wait for experiments/get-by-name to answer ->
# bench/search_bench.py populates one experiment with N runs (runs/create + runs/log-batch, 8 threads,
# same seeded data for every server) and times runs/search (filter + order_by, max_results=100, first
# page; p50/p95 over CALLS timed calls after 3 warm-up calls, one keep-alive connection) -> SIGTERM.
# Populating 100,000 runs over HTTP takes minutes per server, so each server is populated once per size.
# Writes every JSON to bench/results/search-<timestamp>/ (gitignored) and prints a Markdown table.
#
# Environment:
#   SIZES=10000,100000        runs per experiment
#   SERVERS=fasttrackml,cairn,cairn-pg
#   CALLS=30                  timed calls per query (search_bench.py --calls)
#   CAIRN_BIN                 default <repo>/target/release/cairn ($CARGO_TARGET_DIR honoured)
#   FML_VENV                  venv with fasttrackml==0.6.0 (default <repo>/.venv-fasttrackml; created
#                             with `pip install fasttrackml==0.6.0` if missing)
#   CAIRN_VENV                venv whose python has `requests` (default <repo>/.venv)
#   PG_URL=postgresql://postgres@127.0.0.1:5432/postgres   (cairn-pg) admin URL on a loopback server
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case ${1:-} in -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac

SIZES=${SIZES:-10000,100000}
SERVERS=${SERVERS:-fasttrackml,cairn,cairn-pg}
CALLS=${CALLS:-30}
PG_URL=${PG_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
target=${CARGO_TARGET_DIR:-$repo/target}
CAIRN_BIN=${CAIRN_BIN:-$target/release/cairn}
FML_VENV=${FML_VENV:-$repo/.venv-fasttrackml}
py=${CAIRN_VENV:-$repo/.venv}/bin/python
export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"

log() { printf '[search-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -x "$py" ] || die "no python at $py (set CAIRN_VENV)"
if [[ ",$SERVERS," == *",cairn"* ]]; then
  [ -x "$CAIRN_BIN" ] || die "no Cairn binary at $CAIRN_BIN (cargo build --release -p cairn-cli, or set CAIRN_BIN)"
fi
if [[ ",$SERVERS," == *",fasttrackml,"* ]] && [ ! -x "$FML_VENV/bin/fml" ]; then
  log "creating $FML_VENV with fasttrackml==0.6.0"
  python3 -m venv "$FML_VENV" && "$FML_VENV/bin/pip" install -q fasttrackml==0.6.0
fi

ts=$(date -u +%Y%m%dT%H%M%SZ)
out=$repo/bench/results/search-$ts
mkdir -p "$out"
pid="" work="" db=""

stop() {
  if [ -n "$pid" ]; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
  if [ -n "$db" ]; then
    psql "$PG_URL" -qAtX -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null || true
    db=""
  fi
  [ -z "$work" ] || rm -rf -- "$work"
  work=""
}
trap stop EXIT INT TERM

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_one() {
  local side=$1 n=$2 port cmd
  work=$(mktemp -d "${TMPDIR:-/tmp}/search-bench-$side.XXXXXX")
  port=$(free_port)
  case $side in
    fasttrackml) cmd=("$FML_VENV/bin/fml" server --listen-address "127.0.0.1:$port"
                      --database-uri "sqlite://$work/fml.db" --default-artifact-root "$work/artifacts") ;;
    cairn) cmd=("$CAIRN_BIN" server --host 127.0.0.1 --port "$port" --data-dir "$work/data") ;;
    cairn-pg)
      db="cairn_search_bench_${ts,,}_$n"
      psql "$PG_URL" -v ON_ERROR_STOP=1 -qAtX -c "CREATE DATABASE \"$db\"" >/dev/null
      cmd=("$CAIRN_BIN" server --host 127.0.0.1 --port "$port" --data-dir "$work/data"
           --backend-store-uri "${PG_URL%/*}/$db") ;;
    *) die "unknown server $side" ;;
  esac
  log "$side, $n runs: starting on 127.0.0.1:$port"
  ( cd "$work" && exec setsid "${cmd[@]}" ) >"$out/$side-$n.server.log" 2>&1 &
  pid=$!
  local url="http://127.0.0.1:$port/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default"
  for _ in $(seq 1 240); do
    curl -sf -o /dev/null "$url" && break
    kill -0 "$pid" 2>/dev/null || die "$side exited; see $out/$side-$n.server.log"
    sleep 0.5
  done
  "$py" "$repo/bench/search_bench.py" --tracking-uri "http://127.0.0.1:$port" --runs "$n" \
    --calls "$CALLS" --out "$out/$side-$n.json" | tee "$out/$side-$n.log" >&2
  stop
}

IFS=',' read -r -a sizes <<< "$SIZES"
IFS=',' read -r -a servers <<< "$SERVERS"
for n in "${sizes[@]}"; do
  for s in "${servers[@]}"; do
    run_one "$s" "$n"
  done
done

"$py" - "$out" <<'EOF'
import glob, json, os, sys
out = sys.argv[1]
rows = {}
for f in sorted(glob.glob(os.path.join(out, "*.json"))):
    side, n = os.path.basename(f)[:-5].rsplit("-", 1)
    for p in json.load(open(f))["phases"]:
        rows.setdefault((int(n), p["phase"]), {})[side] = p
print("| runs | query | server | p50 ms | p95 ms | calls/s | rows | answer (sha1 of run names) |")
print("|---|---|---|---|---|---|---|---|")
for (n, q), by in sorted(rows.items()):
    for side, p in by.items():
        print(f"| {n:,} | {q} | {side} | {p['lat_ms_p50']} | {p['lat_ms_p95']} | {p['calls_per_s']} "
              f"| {p['rows']} | {p['names_sha1']} |")
    if "fasttrackml" in by and "cairn" in by:
        ratio = by["cairn"]["calls_per_s"] / by["fasttrackml"]["calls_per_s"]
        print(f"| {n:,} | {q} | **cairn / fasttrackml** | | | **{ratio:.1f}×** | | |")
EOF
log "results -> $out"
