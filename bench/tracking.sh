#!/usr/bin/env bash
# Tracking-API benchmark: Cairn vs `mlflow server` and FastTrackML (`fml server`), driven by the same
# shared MLflow client and the same bare-HTTP client.
#
# Usage: bench/tracking.sh [--update-docs] [--help]
#
# Per round (ROUNDS, default 3), for each server in SERVERS order (A B C A B C ...; one server at a time):
#   fresh temp dir (and, for BACKEND=postgres, a fresh database) -> spawn the server on 127.0.0.1 ->
#   cold start = spawn -> first 200 from GET /health (FastTrackML: GET
#   /api/2.0/mlflow/experiments/get-by-name?experiment_name=Default, as bench/search.sh) -> idle RSS at
#   start (process tree) -> shared client (mlflow_client_bench.py) -> idle RSS after run -> raw HTTP phases
#   (bench/raw_http_bench.py, bare requests.Session: server-side cost without the mlflow client) ->
#   SIGTERM (SIGKILL fallback) -> clean up.
# Then prints a Markdown table of medians and ratios (Cairn/MLflow and Cairn/FastTrackML, for the servers
# that ran) to stdout and writes everything to bench/results/<timestamp>/ (gitignored). --update-docs also
# rewrites the results section of docs/benchmarks.md between <!-- tracking-results:start --> and
# <!-- tracking-results:end --> (a run with fasttrackml but not mlflow: tracking-results-fasttrackml:start
# / :end; BACKEND=postgres appends -postgres to the marker names).
#
# Servers (SERVERS):
#   mlflow       `mlflow server --workers 1` from the pinned venv (CAIRN_VENV)
#   cairn        `cairn server` (CAIRN_BIN, or built)
#   fasttrackml  FastTrackML 0.6.0, `fml server --listen-address 127.0.0.1:P --database-uri sqlite://DIR/fml.db
#                --default-artifact-root DIR/artifacts` from FML_VENV (BACKEND=postgres: the database's
#                postgresql:// URI). It serves the MLflow REST API under /api/2.0/mlflow/ and runs every phase
#                of both clients; a phase a server cannot answer would make its client fail, and a phase
#                left out (client args) shows "—" in the table.
#
# Environment:
#   ROUNDS=3                  rounds per server
#   SERVERS=fasttrackml,mlflow,cairn
#                             which servers and in which order within a round (e.g. SERVERS=fasttrackml,cairn)
#   AUTH=0                    1: the "cairn" side runs `cairn server --auth` and both clients send an API
#                             token (MLFLOW_TRACKING_TOKEN); with SERVERS=cairn-open,cairn the table is the
#                             cost of authentication (cairn-open: the same server without --auth)
#   BACKEND=sqlite            sqlite | postgres
#   PG_URL=postgresql://postgres@127.0.0.1:5432/postgres
#                             (BACKEND=postgres) admin URL on a loopback server; a database
#                             cairn_bench_<...> is created and dropped (WITH FORCE) per server per round
#   BENCH_CLIENT_ARGS=""      extra args for the client, e.g.
#                             "--n-log-metric 100 --n-batch-calls 5 --n-runs 100 --n-search-calls 3"
#   RAW_HTTP=1                0 skips bench/raw_http_bench.py (the "raw HTTP (server-side)" rows show "—")
#   RAW_HTTP_ARGS=""          extra args for it, e.g.
#                             "--n-log-metric 100 --n-batch-calls 10 --n-search-calls 5 --n-get-run 100"
#   CAIRN_BIN                 use this binary instead of `cargo build --release -p cairn-cli`
#   CAIRN_SHARED_DIR          default <repo>/../shared (client: $CAIRN_SHARED_DIR/bench/mlflow_client_bench.py)
#   CAIRN_VENV                venv made by scripts/python-env.sh (default <repo>/.venv)
#   FML_VENV                  venv with fasttrackml==0.6.0 (default <repo>/.venv-fasttrackml; created with
#                             `python3 -m venv` + `pip install -q fasttrackml==0.6.0` if it has no bin/fml)
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
bench_name=tracking-bench
bench_server_kinds="fasttrackml mlflow cairn-open cairn"
bench_default_servers=fasttrackml,mlflow,cairn
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"

bench_common_env
BENCH_CLIENT_ARGS=${BENCH_CLIENT_ARGS:-}
RAW_HTTP=${RAW_HTTP:-1}
RAW_HTTP_ARGS=${RAW_HTTP_ARGS:-}

update_docs=0
for arg in "$@"; do
  case $arg in
    --update-docs) update_docs=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done

bench_validate_common
read -r -a client_args <<< "$BENCH_CLIENT_ARGS"
case $RAW_HTTP in 0|1) ;; *) die "RAW_HTTP must be 0 or 1 (got '$RAW_HTTP')" ;; esac
read -r -a raw_args <<< "$RAW_HTTP_ARGS"
[ -f "$client" ] || die "shared client not found: $client (set CAIRN_SHARED_DIR)"
[ ! "$update_docs" = 1 ] || [ -f "$doc" ] || die "--update-docs: $doc not found"

bench_loopback_only

# --- toolchain -------------------------------------------------------------------------------
bench_toolchain 1

# --- results dir & metadata ------------------------------------------------------------------
bench_results_dir

bench_cmdline_start
[ -z "$BENCH_CLIENT_ARGS" ] || cmdline+=" BENCH_CLIENT_ARGS='$BENCH_CLIENT_ARGS'"
[ "$RAW_HTTP" = 1 ] || cmdline+=" RAW_HTTP=0"
[ -z "$RAW_HTTP_ARGS" ] || cmdline+=" RAW_HTTP_ARGS='$RAW_HTTP_ARGS'"
bench_cmdline_finish bench/tracking.sh

bench_meta \
  "client_args=$BENCH_CLIENT_ARGS" \
  "raw_http=$RAW_HTTP" \
  "raw_http_args=$RAW_HTTP_ARGS" \
  "client=$client" \
  "command=$cmdline"

# --- one server, one round -------------------------------------------------------------------
bench_traps

run_one() {
  local side=$1 r=$2 tag="$1-r$2" rss0 rss1
  bench_start_server "$side" "$r" cairn_bench
  bench_idle_rss rss0

  log "round $r/$ROUNDS: client -> $side"
  bench_run_logged "$out/$tag.client.log" "client against $side" \
    "$py" "$client" --tracking-uri "http://127.0.0.1:$cur_port" --out "$out/$tag.json" "${client_args[@]}"

  bench_idle_rss rss1

  # Server-side figures over bare HTTP, against the corpus the shared client just built. Run after the
  # idle-RSS sample, so that figure still reflects the shared client's workload alone.
  if [ "$RAW_HTTP" = 1 ]; then
    log "round $r/$ROUNDS: raw HTTP phases -> $side"
    bench_run_logged "$out/$tag.raw.log" "raw HTTP bench against $side" \
      "$py" "$raw_bench" --tracking-uri "http://127.0.0.1:$cur_port" --out "$out/$tag.raw.json" "${raw_args[@]}"
  fi

  bench_stop_server "$rss0" "$rss1"
}

for ((r = 1; r <= ROUNDS; r++)); do
  for s in "${servers[@]}"; do
    run_one "$s" "$r"
  done
done

bench_finish
