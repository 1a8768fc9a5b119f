#!/usr/bin/env bash
# Model-registry benchmark: Cairn vs `mlflow server`, driven by the same client (bench/registry_bench.py).
#
# Usage: bench/registry.sh [--update-docs] [--help]
#
# Per round (ROUNDS, default 3), for each server in SERVERS order (A B A B ...; one server at a time):
#   fresh temp dir (and, for BACKEND=postgres, a fresh database) -> spawn the server on 127.0.0.1 ->
#   first 200 from GET /health -> idle RSS -> bench/registry_bench.py (official mlflow client phases:
#   create_model_version, register_model, get_model_version_by_alias, search_model_versions over 1000
#   seeded versions (name filter, all pages, run_id filter), get_registered_model, search_registered_models;
#   plus raw-HTTP variants of the alias and search reads: bare requests.Session, server-side cost) ->
#   idle RSS after run -> SIGTERM (SIGKILL fallback) -> clean up.
# Then prints a Markdown table of medians and ratios to stdout and writes everything to
# bench/results/<timestamp>/ (gitignored). --update-docs also rewrites the results section of
# docs/benchmarks.md between <!-- registry-results:start --> and <!-- registry-results:end -->
# (BACKEND=postgres: <!-- registry-results-postgres:start --> ... :end -->).
#
# Environment:
#   ROUNDS=3                  rounds per server
#   SERVERS=mlflow,cairn      which servers and in which order within a round (e.g. SERVERS=mlflow)
#   BACKEND=sqlite            sqlite | postgres
#   PG_URL=postgresql://postgres@127.0.0.1:5432/postgres
#                             (BACKEND=postgres) admin URL on a loopback server; a database
#                             cairn_regbench_<...> is created and dropped (WITH FORCE) per server per round
#   REGISTRY_ARGS=""          extra args for bench/registry_bench.py, e.g. a quick try:
#                             "--n-create 30 --n-register 10 --n-alias 50 --versions-per-model 20
#                              --n-search 3 --n-search-all 2 --n-get-rm 50 --n-search-rm 5"
#   RAW_HTTP=1                0 skips the raw HTTP phases (the "raw HTTP (server-side)" block is left out)
#   CAIRN_BIN                 use this binary instead of `cargo build --release -p cairn-cli`
#   CAIRN_VENV                venv made by scripts/python-env.sh (default <repo>/.venv)
#   PYTHON_ENV=1              0: do not run scripts/python-env.sh first; use the venv as it is
#   START_TIMEOUT=120 STOP_TIMEOUT=60 CLIENT_TIMEOUT=3600   seconds
#   IDLE_SETTLE_S=2           pause before each idle-RSS sample
#   KEEP_DATA=0               1 keeps the servers' temp data dirs (path is logged)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
client=$repo/bench/registry_bench.py
helper=$repo/bench/compare.py
doc=$repo/docs/benchmarks.md
bench_name=registry-bench
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"

bench_common_env
REGISTRY_ARGS=${REGISTRY_ARGS:-}
RAW_HTTP=${RAW_HTTP:-1}
PYTHON_ENV=${PYTHON_ENV:-1}

update_docs=0
for arg in "$@"; do
  case $arg in
    --update-docs) update_docs=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done

bench_validate_common
read -r -a client_args <<< "$REGISTRY_ARGS"
case $RAW_HTTP in 0|1) ;; *) die "RAW_HTTP must be 0 or 1 (got '$RAW_HTTP')" ;; esac
[ "$RAW_HTTP" = 1 ] || client_args+=(--no-raw)
case $PYTHON_ENV in 0|1) ;; *) die "PYTHON_ENV must be 0 or 1 (got '$PYTHON_ENV')" ;; esac
[ ! "$update_docs" = 1 ] || [ -f "$doc" ] || die "--update-docs: $doc not found"

bench_loopback_only

# --- toolchain -------------------------------------------------------------------------------
bench_toolchain "$PYTHON_ENV"
# Fail early (before any server starts) if the client cannot even parse its arguments.
"$py" "$client" --help >/dev/null ||
  die "bench/registry_bench.py does not start"

# --- results dir & metadata ------------------------------------------------------------------
bench_results_dir

bench_cmdline_start
[ -z "$REGISTRY_ARGS" ] || cmdline+=" REGISTRY_ARGS='$REGISTRY_ARGS'"
[ "$RAW_HTTP" = 1 ] || cmdline+=" RAW_HTTP=0"
bench_cmdline_finish bench/registry.sh

bench_meta \
  "suite=registry" \
  "client_args=$REGISTRY_ARGS" \
  "raw_http=$RAW_HTTP" \
  "client=bench/registry_bench.py" \
  "command=$cmdline"

# --- one server, one round -------------------------------------------------------------------
bench_traps

run_one() {
  local side=$1 r=$2 tag="$1-r$2" rss0 rss1
  bench_start_server "$side" "$r" cairn_regbench
  bench_idle_rss rss0

  log "round $r/$ROUNDS: registry client -> $side"
  bench_run_logged "$out/$tag.client.log" "registry client against $side" \
    "$py" "$client" --tracking-uri "http://127.0.0.1:$cur_port" --out "$out/$tag.json" "${client_args[@]}"

  bench_idle_rss rss1
  bench_stop_server "$rss0" "$rss1"
}

for ((r = 1; r <= ROUNDS; r++)); do
  for s in "${servers[@]}"; do
    run_one "$s" "$r"
  done
done

bench_finish
