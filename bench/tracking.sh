#!/usr/bin/env bash
# Tracking-API benchmark: Cairn vs `mlflow server`, driven by the same shared MLflow client.
#
# Usage: bench/tracking.sh [--update-docs] [--help]
#
# Per round (ROUNDS, default 3), for each server in SERVERS order (A B A B ...; one server at a time):
#   fresh temp dir (and, for BACKEND=postgres, a fresh database) -> spawn the server on 127.0.0.1 ->
#   cold start = spawn -> first 200 from GET /health -> idle RSS at start (process tree) ->
#   shared client (mlflow_client_bench.py) -> idle RSS after run -> raw HTTP phases (bench/raw_http_bench.py,
#   bare requests.Session: server-side cost without the mlflow client) -> SIGTERM (SIGKILL fallback) -> clean up.
# Then prints a Markdown table of medians and ratios to stdout and writes everything to
# bench/results/<timestamp>/ (gitignored). --update-docs also rewrites the results section of
# docs/benchmarks.md between <!-- tracking-results:start --> and <!-- tracking-results:end -->.
#
# Environment:
#   ROUNDS=3                  rounds per server
#   SERVERS=mlflow,cairn      which servers and in which order within a round (e.g. SERVERS=mlflow)
#   BACKEND=sqlite            sqlite | postgres
#   PG_URL=postgresql://postgres@127.0.0.1:5432/postgres
#                             (BACKEND=postgres) admin URL on a loopback server; a database
#                             cairn_bench_<...> is created and dropped (WITH FORCE) per server per round
#   BENCH_CLIENT_ARGS=""      extra args for the client, e.g.
#                             "--n-log-metric 100 --n-batch-calls 5 --n-runs 100 --n-search-calls 3"
#   RAW_HTTP=1                0 skips bench/raw_http_bench.py (the "raw HTTP (server-side)" rows show "—")
#   RAW_HTTP_ARGS=""          extra args for it, e.g. "--n-batch-calls 10 --n-search-calls 5 --n-get-run 100"
#   CAIRN_BIN                 use this binary instead of `cargo build --release -p cairn-cli`
#   CAIRN_SHARED_DIR          default <repo>/../shared (client: $CAIRN_SHARED_DIR/bench/mlflow_client_bench.py)
#   CAIRN_VENV                venv made by scripts/python-env.sh (default <repo>/.venv)
#   START_TIMEOUT=120 STOP_TIMEOUT=60 CLIENT_TIMEOUT=3600   seconds
#   IDLE_SETTLE_S=2           pause before each idle-RSS sample
#   KEEP_DATA=0               1 keeps the servers' temp data dirs (path is logged)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${CAIRN_SHARED_DIR:-$repo/../shared}
client=$shared/bench/mlflow_client_bench.py
helper=$repo/bench/compare.py
raw_bench=$repo/bench/raw_http_bench.py
doc=$repo/docs/benchmarks.md

ROUNDS=${ROUNDS:-3}
SERVERS=${SERVERS:-mlflow,cairn}
BACKEND=${BACKEND:-sqlite}
PG_URL=${PG_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
BENCH_CLIENT_ARGS=${BENCH_CLIENT_ARGS:-}
RAW_HTTP=${RAW_HTTP:-1}
RAW_HTTP_ARGS=${RAW_HTTP_ARGS:-}
START_TIMEOUT=${START_TIMEOUT:-120}
STOP_TIMEOUT=${STOP_TIMEOUT:-60}
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-3600}
IDLE_SETTLE_S=${IDLE_SETTLE_S:-2}
KEEP_DATA=${KEEP_DATA:-0}

log() { printf '[tracking-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

update_docs=0
for arg in "$@"; do
  case $arg in
    --update-docs) update_docs=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"
IFS=',' read -r -a servers <<< "$SERVERS"
[ ${#servers[@]} -gt 0 ] || die "SERVERS is empty"
for s in "${servers[@]}"; do
  case $s in mlflow|cairn) ;; *) die "SERVERS: unknown server '$s' (mlflow, cairn)" ;; esac
done
case $BACKEND in sqlite|postgres) ;; *) die "BACKEND must be sqlite or postgres (got '$BACKEND')" ;; esac
read -r -a client_args <<< "$BENCH_CLIENT_ARGS"
case $RAW_HTTP in 0|1) ;; *) die "RAW_HTTP must be 0 or 1 (got '$RAW_HTTP')" ;; esac
read -r -a raw_args <<< "$RAW_HTTP_ARGS"
[ -f "$client" ] || die "shared client not found: $client (set CAIRN_SHARED_DIR)"
[ ! "$update_docs" = 1 ] || [ -f "$doc" ] || die "--update-docs: $doc not found"

# Loopback only: never let a proxy variable route benchmark traffic elsewhere.
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

# --- toolchain -------------------------------------------------------------------------------
log "preparing the pinned Python venv (scripts/python-env.sh)"
bash "$repo/scripts/python-env.sh" >&2
venv=${CAIRN_VENV:-$repo/.venv}
py=$venv/bin/python
mlflow_bin=$venv/bin/mlflow
mlflow_version=$("$py" -c 'import mlflow; print(mlflow.__version__)')

want() { [[ ",$SERVERS," == *",$1,"* ]]; }

if want cairn; then
  if [ -z "${CAIRN_BIN:-}" ]; then
    log "building Cairn (cargo build --release -p cairn-cli)"
    (cd "$repo" && cargo build --release -p cairn-cli) >&2
    CAIRN_BIN=$repo/target/release/cairn
  fi
  [ -x "$CAIRN_BIN" ] || die "Cairn binary not executable: $CAIRN_BIN"
  cairn_version=$(timeout 10 "$CAIRN_BIN" --version 2>/dev/null | head -n1 || true)
  cairn_version=${cairn_version:-unknown}
else
  cairn_version="not run"
fi

pg_version=""
if [ "$BACKEND" = postgres ]; then
  command -v psql >/dev/null || die "BACKEND=postgres needs psql on PATH"
  pg_host=$("$py" -c 'import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).hostname or "")' "$PG_URL")
  case $pg_host in
    ""|127.*|localhost|::1) ;;
    *) die "PG_URL must point at a loopback PostgreSQL (host '$pg_host')" ;;
  esac
  psql_admin() { psql "$PG_URL" -v ON_ERROR_STOP=1 -qAtX -c "$1"; }
  pg_version=$(psql_admin 'SHOW server_version') || die "cannot connect to PG_URL=$PG_URL"
  pg_version="PostgreSQL $pg_version"
  if want mlflow; then
    # SQLAlchemy 2.1 maps postgresql:// to psycopg 3 (not psycopg2).
    "$py" -c 'import psycopg' 2>/dev/null ||
      die "mlflow needs psycopg 3 for postgresql:// URIs: add psycopg[binary] to tests/e2e/requirements.txt"
  fi
fi

# --- results dir & metadata ------------------------------------------------------------------
ts=$(date -u +%Y%m%dT%H%M%SZ)
out=$repo/bench/results/$ts
mkdir -p "$out"
ln -sfn "$ts" "$repo/bench/results/latest"

cmdline="ROUNDS=$ROUNDS"
[ "$SERVERS" = mlflow,cairn ] || cmdline+=" SERVERS=$SERVERS"
[ "$BACKEND" = sqlite ] || cmdline+=" BACKEND=$BACKEND PG_URL=$PG_URL"
[ -z "$BENCH_CLIENT_ARGS" ] || cmdline+=" BENCH_CLIENT_ARGS='$BENCH_CLIENT_ARGS'"
[ "$RAW_HTTP" = 1 ] || cmdline+=" RAW_HTTP=0"
[ -z "$RAW_HTTP_ARGS" ] || cmdline+=" RAW_HTTP_ARGS='$RAW_HTTP_ARGS'"
[ -z "${CAIRN_BIN+x}" ] || ! want cairn || [ "$CAIRN_BIN" = "$repo/target/release/cairn" ] ||
  cmdline+=" CAIRN_BIN=$CAIRN_BIN"
cmdline+=" bench/tracking.sh"
[ "$update_docs" = 0 ] || cmdline+=" --update-docs"

order_json=$(printf '"%s",' "${servers[@]}"); order_json="[${order_json%,}]"
"$py" "$helper" meta "$out/meta.json" \
  "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  "nproc=$(nproc)" \
  "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)" \
  "mem_total=$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)" \
  "kernel=$(uname -r)" \
  "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)" \
  "mlflow_version=$mlflow_version" \
  "cairn_version=$cairn_version" \
  "git_commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo none)" \
  "backend=$BACKEND" \
  "pg_version=$pg_version" \
  "rounds=$ROUNDS" \
  "order=$order_json" \
  "client_args=$BENCH_CLIENT_ARGS" \
  "raw_http=$RAW_HTTP" \
  "raw_http_args=$RAW_HTTP_ARGS" \
  "client=$client" \
  "command=$cmdline"
log "results -> $out"

# --- one server, one round -------------------------------------------------------------------
cur_pid="" cur_client="" cur_work="" cur_db="" cur_huey=""

# Long steps run in the background and are waited for, so that INT/TERM reach the trap at once
# (bash defers traps until a foreground child exits).
bg_wait() { "$@" & wait $!; }

cleanup_current() {
  if [ -n "$cur_client" ]; then
    kill -TERM -- "-$cur_client" 2>/dev/null || true
    wait "$cur_client" 2>/dev/null || true
    cur_client=""
  fi
  if [ -n "$cur_pid" ]; then
    "$py" "$helper" stop "$cur_pid" "$STOP_TIMEOUT" >/dev/null || true
    wait "$cur_pid" 2>/dev/null || true
    cur_pid=""
  fi
  if [ -n "$cur_huey" ]; then
    # mlflow's job runner keeps its queue in a mkdtemp dir (usually under /dev/shm) it does not remove.
    case $cur_huey in /dev/shm/tmp*|/tmp/tmp*|"${TMPDIR:-/tmp}"/tmp*) rm -rf -- "$cur_huey" ;; esac
    cur_huey=""
  fi
  if [ -n "$cur_db" ]; then
    psql_admin "DROP DATABASE IF EXISTS \"$cur_db\" WITH (FORCE)" >/dev/null || log "could not drop $cur_db"
    cur_db=""
  fi
  if [ -n "$cur_work" ]; then
    if [ "$KEEP_DATA" = 1 ]; then log "kept data dir $cur_work"; else rm -rf -- "$cur_work"; fi
    cur_work=""
  fi
}
trap 'rc=$?; cleanup_current; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

run_one() {
  local side=$1 r=$2 port backend_uri tag="$1-r$2"
  local -a cmd
  cur_work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-$tag.XXXXXX")
  port=$("$py" "$helper" free-port)

  if [ "$BACKEND" = postgres ]; then
    cur_db="cairn_bench_${ts,,}_${side}_r${r}"
    psql_admin "CREATE DATABASE \"$cur_db\"" >/dev/null
    backend_uri=$("$py" "$helper" pg-url "$PG_URL" "$cur_db")
  fi

  case $side in
    mlflow)
      [ "$BACKEND" = postgres ] || backend_uri="sqlite:///$cur_work/mlflow.db"
      cmd=("$mlflow_bin" server --workers 1 --backend-store-uri "$backend_uri"
           --artifacts-destination "$cur_work/artifacts" --host 127.0.0.1 --port "$port") ;;
    cairn)
      cmd=("$CAIRN_BIN" server --host 127.0.0.1 --port "$port" --data-dir "$cur_work/data")
      [ "$BACKEND" = sqlite ] || cmd+=(--backend-store-uri "$backend_uri") ;;
  esac

  log "round $r/$ROUNDS: starting $side on 127.0.0.1:$port"
  local t0 cold rss0 rss1 stop_ms
  t0=$(date +%s%N)
  # setsid: own process group (pgid == pid), so the whole tree can be signalled and measured.
  ( cd "$cur_work" && exec setsid "${cmd[@]}" ) >"$out/$tag.server.log" 2>&1 &
  cur_pid=$!
  if ! bg_wait "$py" "$helper" wait-health "http://127.0.0.1:$port/health" "$t0" "$cur_pid" "$START_TIMEOUT" \
      >"$out/$tag.cold_start_ms"; then
    log "$side did not become healthy; last lines of $out/$tag.server.log:"
    tail -n 30 "$out/$tag.server.log" >&2 || true
    exit 1
  fi
  cold=$(cat "$out/$tag.cold_start_ms"); rm -f "$out/$tag.cold_start_ms"
  log "$side healthy after ${cold} ms"
  [ "$side" != mlflow ] || cur_huey=$("$py" "$helper" huey-path "$cur_pid")

  bg_wait sleep "$IDLE_SETTLE_S"
  rss0=$("$py" "$helper" proc-stats "$cur_pid")

  log "round $r/$ROUNDS: client -> $side"
  # Own process group (setsid) so an interrupt can stop the client as a whole; output -> log + stderr.
  setsid timeout "$CLIENT_TIMEOUT" "$py" "$client" --tracking-uri "http://127.0.0.1:$port" \
    --out "$out/$tag.json" "${client_args[@]}" > >(tee "$out/$tag.client.log" >&2) 2>&1 &
  cur_client=$!
  local rc=0
  wait "$cur_client" || rc=$?
  cur_client=""
  [ "$rc" = 0 ] || die "client against $side failed (exit $rc); see $out/$tag.client.log"

  bg_wait sleep "$IDLE_SETTLE_S"
  rss1=$("$py" "$helper" proc-stats "$cur_pid")

  # Server-side figures over bare HTTP, against the corpus the shared client just built. Run after the
  # idle-RSS sample, so that figure still reflects the shared client's workload alone.
  if [ "$RAW_HTTP" = 1 ]; then
    log "round $r/$ROUNDS: raw HTTP phases -> $side"
    setsid timeout "$CLIENT_TIMEOUT" "$py" "$raw_bench" --tracking-uri "http://127.0.0.1:$port" \
      --out "$out/$tag.raw.json" "${raw_args[@]}" > >(tee "$out/$tag.raw.log" >&2) 2>&1 &
    cur_client=$!
    rc=0
    wait "$cur_client" || rc=$?
    cur_client=""
    [ "$rc" = 0 ] || die "raw HTTP bench against $side failed (exit $rc); see $out/$tag.raw.log"
  fi

  stop_ms=$("$py" "$helper" stop "$cur_pid" "$STOP_TIMEOUT")  # not interruptible: it is the cleanup
  wait "$cur_pid" 2>/dev/null || true
  cur_pid=""
  log "$side stopped in ${stop_ms} ms"
  "$py" "$helper" server-record "$out/$tag.server.json" --cold-start-ms "$cold" \
    --rss-start "$rss0" --rss-end "$rss1" --stop-ms "${stop_ms%% *}" -- "${cmd[@]}"
  cleanup_current
}

for ((r = 1; r <= ROUNDS; r++)); do
  for s in "${servers[@]}"; do
    run_one "$s" "$r"
  done
done

"$py" "$helper" meta "$out/meta.json" "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" "finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
"$py" "$helper" render "$out" > "$out/results.md"
if [ "$update_docs" = 1 ]; then
  "$py" "$helper" update-docs "$out" "$doc"
  log "updated $doc"
fi
log "wrote $out/results.md"
cat "$out/results.md"
