# Shared shell for the Cairn-vs-`mlflow server` benchmarks (bench/tracking.sh, bench/registry.sh).
# Sourced, never run. The caller sets `set -euo pipefail` and these variables first:
#   bench_name   log prefix (e.g. tracking-bench)
#   repo         repository root
#   helper       bench/compare.py (process helpers, meta.json, rendering)
# and may set (before bench_common_env):
#   bench_server_kinds     server kinds SERVERS may name (default "mlflow cairn"; the tracking bench adds
#                          fasttrackml: FastTrackML's `fml server`, from the venv FML_VENV)
#   bench_default_servers  SERVERS when unset (default mlflow,cairn)
# and then calls, in this order:
#   bench_common_env; <its own knobs>; bench_validate_common; <its own checks>
#   bench_loopback_only; bench_toolchain RUN_PYTHON_ENV; bench_results_dir
#   bench_cmdline_start; <its own knobs>; bench_cmdline_finish SCRIPT
#   bench_meta <its own KEY=VALUE...>; bench_traps
#   per server and round: bench_start_server SIDE ROUND DB_PREFIX ... bench_stop_server RSS0 RSS1
#   bench_finish
# Conventions: one server at a time, each in its own process group (setsid) and fresh temp dir (and,
# for BACKEND=postgres, a fresh database); INT/TERM/exit stop whatever is running and clean up.

log() { printf '[%s %s] %s\n' "$bench_name" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Knobs every benchmark shares (documented in each script's header).
bench_common_env() {
  ROUNDS=${ROUNDS:-3}
  bench_server_kinds=${bench_server_kinds:-mlflow cairn}
  bench_default_servers=${bench_default_servers:-mlflow,cairn}
  SERVERS=${SERVERS:-$bench_default_servers}
  BACKEND=${BACKEND:-sqlite}
  PG_URL=${PG_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
  START_TIMEOUT=${START_TIMEOUT:-120}
  STOP_TIMEOUT=${STOP_TIMEOUT:-60}
  CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-3600}
  IDLE_SETTLE_S=${IDLE_SETTLE_S:-2}
  KEEP_DATA=${KEEP_DATA:-0}
  FML_VENV=${FML_VENV:-$repo/.venv-fasttrackml}
}

bench_validate_common() {
  [[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"
  IFS=',' read -r -a servers <<< "$SERVERS"
  [ ${#servers[@]} -gt 0 ] || die "SERVERS is empty"
  local s kinds
  kinds=${bench_server_kinds// /, }
  for s in "${servers[@]}"; do
    [[ " $bench_server_kinds " == *" $s "* ]] || die "SERVERS: unknown server '$s' ($kinds)"
  done
  case $BACKEND in sqlite|postgres) ;; *) die "BACKEND must be sqlite or postgres (got '$BACKEND')" ;; esac
}

# Loopback only: never let a proxy variable route benchmark traffic elsewhere.
bench_loopback_only() {
  export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
  export no_proxy="$NO_PROXY"
}

want() { [[ ",$SERVERS," == *",$1,"* ]]; }

fml_pin=0.6.0  # FastTrackML release the benchmarks compare against (PyPI fasttrackml, Go binary `fml`)

psql_admin() { psql "$PG_URL" -v ON_ERROR_STOP=1 -qAtX -c "$1"; }

# venv + mlflow, the Cairn binary (built unless CAIRN_BIN is set; only if SERVERS has cairn), FastTrackML
# (if SERVERS has fasttrackml: FML_VENV, created with `pip install fasttrackml==$fml_pin` if it has no
# `fml`), PostgreSQL checks.
# $1 = 1: run scripts/python-env.sh first (create or reuse the pinned venv); 0: use the venv as it is.
bench_toolchain() {
  if [ "${1:-1}" = 1 ]; then
    log "preparing the pinned Python venv (scripts/python-env.sh)"
    bash "$repo/scripts/python-env.sh" >&2
  fi
  venv=${CAIRN_VENV:-$repo/.venv}
  py=$venv/bin/python
  mlflow_bin=$venv/bin/mlflow
  [ -x "$py" ] || die "no Python in the venv $venv (run scripts/python-env.sh)"
  mlflow_version=$("$py" -c 'import mlflow; print(mlflow.__version__)')

  if want cairn || want cairn-open; then
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

  fml_version="not run"
  if want fasttrackml; then
    fml_bin=$FML_VENV/bin/fml
    if [ ! -x "$fml_bin" ]; then
      log "creating $FML_VENV with fasttrackml==$fml_pin"
      python3 -m venv "$FML_VENV" && "$FML_VENV/bin/pip" install -q "fasttrackml==$fml_pin" >&2 ||
        die "could not install fasttrackml==$fml_pin into $FML_VENV"
    fi
    [ -x "$fml_bin" ] || die "FastTrackML binary not executable: $fml_bin"
    fml_version=$(timeout 10 "$fml_bin" --version 2>/dev/null | head -n1 || true)
    fml_version=${fml_version#FastTrackML version }
    fml_version=${fml_version:-unknown}
    [ "$fml_version" = "$fml_pin" ] || log "warning: $fml_bin is FastTrackML $fml_version, not $fml_pin"
  fi

  pg_version=""
  if [ "$BACKEND" = postgres ]; then
    command -v psql >/dev/null || die "BACKEND=postgres needs psql on PATH"
    local pg_host
    pg_host=$("$py" -c 'import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).hostname or "")' "$PG_URL")
    case $pg_host in
      ""|127.*|localhost|::1) ;;
      *) die "PG_URL must point at a loopback PostgreSQL (host '$pg_host')" ;;
    esac
    pg_version=$(psql_admin 'SHOW server_version') || die "cannot connect to PG_URL=$PG_URL"
    pg_version="PostgreSQL $pg_version"
    if want mlflow; then
      # SQLAlchemy 2.1 maps postgresql:// to psycopg 3 (not psycopg2).
      "$py" -c 'import psycopg' 2>/dev/null ||
        die "mlflow needs psycopg 3 for postgresql:// URIs: add psycopg[binary] to tests/e2e/requirements.txt"
    fi
  fi
}

# bench/results/<timestamp>/ (gitignored), bench/results/latest -> it.
bench_results_dir() {
  ts=$(date -u +%Y%m%dT%H%M%SZ)
  out=$repo/bench/results/$ts
  mkdir -p "$out"
  ln -sfn "$ts" "$repo/bench/results/latest"
}

# The reproducible command line recorded in meta.json: common knobs, then the caller's own
# (appended to $cmdline), then bench_cmdline_finish.
bench_cmdline_start() {
  cmdline="ROUNDS=$ROUNDS"
  [ "$SERVERS" = "$bench_default_servers" ] || cmdline+=" SERVERS=$SERVERS"
  [ "$BACKEND" = sqlite ] || cmdline+=" BACKEND=$BACKEND PG_URL=$PG_URL"
}

bench_cmdline_finish() {
  [ -z "${CAIRN_BIN+x}" ] || ! want cairn || [ "$CAIRN_BIN" = "$repo/target/release/cairn" ] ||
    cmdline+=" CAIRN_BIN=$CAIRN_BIN"
  cmdline+=" $1"
  [ "$update_docs" = 0 ] || cmdline+=" --update-docs"
}

# meta.json: machine, versions, backend, rounds/order, then the caller's KEY=VALUE pairs.
bench_meta() {
  local order_json
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
    "fml_version=$fml_version" \
    "git_commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo none)" \
    "backend=$BACKEND" \
    "pg_version=$pg_version" \
    "rounds=$ROUNDS" \
    "order=$order_json" \
    "$@"
  log "results -> $out"
}

# --- one server at a time ----------------------------------------------------------------------
cur_pid="" cur_client="" cur_work="" cur_db="" cur_huey=""
cur_side="" cur_tag="" cur_port="" cur_cold=""
cur_cmd=()

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

bench_traps() {
  trap 'rc=$?; cleanup_current; exit $rc' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# bench_start_server SIDE ROUND DB_PREFIX: fresh temp dir (+ database <DB_PREFIX>_<ts>_<side>_r<n>), spawn
# the server on a free loopback port in its own process group, wait for 200 on its readiness URL: /health
# (mlflow, cairn), GET experiments/get-by-name?experiment_name=Default (fasttrackml, as bench/search.sh:
# the first MLflow API answer, after its migrations and default experiment).
# Sets cur_side cur_tag cur_port cur_cold (ms) cur_cmd cur_pid cur_work (cur_db, cur_huey).
bench_start_server() {
  local side=$1 r=$2 db_prefix=$3 backend_uri="" ready_path=/health
  cur_side=$side cur_tag="$1-r$2"
  cur_work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-$cur_tag.XXXXXX")
  cur_port=$("$py" "$helper" free-port)

  if [ "$BACKEND" = postgres ]; then
    cur_db="${db_prefix}_${ts,,}_${side}_r${r}"
    psql_admin "CREATE DATABASE \"$cur_db\"" >/dev/null
    backend_uri=$("$py" "$helper" pg-url "$PG_URL" "$cur_db")
  fi

  case $side in
    mlflow)
      [ "$BACKEND" = postgres ] || backend_uri="sqlite:///$cur_work/mlflow.db"
      cur_cmd=("$mlflow_bin" server --workers 1 --backend-store-uri "$backend_uri"
               --artifacts-destination "$cur_work/artifacts" --host 127.0.0.1 --port "$cur_port") ;;
    cairn | cairn-open)
      cur_cmd=("$CAIRN_BIN" server --host 127.0.0.1 --port "$cur_port" --data-dir "$cur_work/data")
      [ "$BACKEND" = sqlite ] || cur_cmd+=(--backend-store-uri "$backend_uri")
      # AUTH=1: "cairn" authenticates every request (an API token), "cairn-open" is the same server without.
      if [ "${AUTH:-0}" = 1 ] && [ "$side" = cairn ]; then
        cur_cmd=(env CAIRN_ADMIN_USERNAME=bench CAIRN_ADMIN_PASSWORD=bench-password "${cur_cmd[@]}" --auth)
      fi ;;
    fasttrackml)
      [ "$BACKEND" = postgres ] || backend_uri="sqlite://$cur_work/fml.db"
      cur_cmd=("$fml_bin" server --listen-address "127.0.0.1:$cur_port" --database-uri "$backend_uri"
               --default-artifact-root "$cur_work/artifacts")
      ready_path="/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default" ;;
  esac

  log "round $r/$ROUNDS: starting $side on 127.0.0.1:$cur_port"
  local t0
  t0=$(date +%s%N)
  # setsid: own process group (pgid == pid), so the whole tree can be signalled and measured.
  ( cd "$cur_work" && exec setsid "${cur_cmd[@]}" ) >"$out/$cur_tag.server.log" 2>&1 &
  cur_pid=$!
  if ! bg_wait "$py" "$helper" wait-health "http://127.0.0.1:$cur_port$ready_path" "$t0" "$cur_pid" \
      "$START_TIMEOUT" >"$out/$cur_tag.cold_start_ms"; then
    log "$side did not become healthy; last lines of $out/$cur_tag.server.log:"
    tail -n 30 "$out/$cur_tag.server.log" >&2 || true
    exit 1
  fi
  cur_cold=$(cat "$out/$cur_tag.cold_start_ms"); rm -f "$out/$cur_tag.cold_start_ms"
  log "$side healthy after ${cur_cold} ms"
  unset MLFLOW_TRACKING_TOKEN
  if [ "${AUTH:-0}" = 1 ] && [ "$side" = cairn ]; then
    MLFLOW_TRACKING_TOKEN=$(curl -sS -f -u bench:bench-password -H 'content-type: application/json' \
      -d '{"name": "bench"}' "http://127.0.0.1:$cur_port/api/cairn/v1/tokens" \
      | "$py" -c 'import json, sys; print(json.load(sys.stdin)["token"]["secret"])')
    export MLFLOW_TRACKING_TOKEN
  fi
  [ "$side" != mlflow ] || cur_huey=$("$py" "$helper" huey-path "$cur_pid")
}

# bench_run_logged LOG WHAT CMD...: run CMD (under CLIENT_TIMEOUT) in its own process group (setsid) so
# an interrupt can stop it as a whole; its output goes to LOG and stderr; die naming WHAT if it fails.
bench_run_logged() {
  local logf=$1 what=$2 rc=0
  shift 2
  setsid timeout "$CLIENT_TIMEOUT" "$@" > >(tee "$logf" >&2) 2>&1 &
  cur_client=$!
  wait "$cur_client" || rc=$?
  cur_client=""
  [ "$rc" = 0 ] || die "$what failed (exit $rc); see $logf"
}

# bench_idle_rss VAR: pause IDLE_SETTLE_S, then store the RSS sample (JSON) of the current server's
# process tree in VAR.
bench_idle_rss() {
  local stats
  bg_wait sleep "$IDLE_SETTLE_S"
  stats=$("$py" "$helper" proc-stats "$cur_pid")
  printf -v "$1" '%s' "$stats"
}

# bench_stop_server RSS_START RSS_END: SIGTERM (SIGKILL fallback), write <tag>.server.json, clean up.
bench_stop_server() {
  local stop_ms
  stop_ms=$("$py" "$helper" stop "$cur_pid" "$STOP_TIMEOUT")  # not interruptible: it is the cleanup
  wait "$cur_pid" 2>/dev/null || true
  cur_pid=""
  log "$cur_side stopped in ${stop_ms} ms"
  "$py" "$helper" server-record "$out/$cur_tag.server.json" --cold-start-ms "$cur_cold" \
    --rss-start "$1" --rss-end "$2" --stop-ms "${stop_ms%% *}" -- "${cur_cmd[@]}"
  cleanup_current
}

# Finish meta.json, render results.md (and the docs section with --update-docs), print it.
bench_finish() {
  "$py" "$helper" meta "$out/meta.json" "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" "finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  "$py" "$helper" render "$out" > "$out/results.md"
  if [ "$update_docs" = 1 ]; then
    "$py" "$helper" update-docs "$out" "$doc"
    log "updated $doc"
  fi
  log "wrote $out/results.md"
  cat "$out/results.md"
}
