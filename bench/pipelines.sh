#!/usr/bin/env bash
# Pipelines benchmark: the same 10-stage dvc.yaml under `cairn run --file dvc.yaml` and `dvc repro`
# (DVC 3.67.1 from PyPI, in its own pinned venv), driven by bench/pipelines_bench.py.
#
# Usage: bench/pipelines.sh [--help]
#
# In a temp dir: DATA_MB of random bytes in DATA_FILES files (default 1 GiB = 64 x 16 MiB, generated
# once), two identical projects (proj-cairn, proj-dvc: git repos, `dvc init` in the DVC one, the data
# hard-linked into both as `data/`, so each tool keeps its own state and outputs) holding one dvc.yaml of
# 10 stages (prepare -> feat_a|feat_b|feat_c -> train -> evaluate -> report|plot, prepare -> stats ->
# report, train -> export; python stage commands, params in params.yaml, `prepare` depends on `data/`).
# One `cairn server` (fresh data dir) tracks every `cairn run`. Then, each tool in turn within a round
# (order alternating between rounds), ROUNDS rounds of each measure, medians reported:
#   first run      every stage runs (one sample, informational)
#   no-op run      nothing changed: `cairn run --file dvc.yaml --server URL` vs `dvc repro`
#                  (and `cairn run --dry-run`: the same decision without the server, nothing tracked)
#   no-op status   `cairn pipeline status --file dvc.yaml` vs `dvc status`
#   hash cold      status after deleting the stat memo (Cairn: .cairn/state/memo.json; DVC: its
#                  site_cache_dir, holding the state db hashes/local/cache.db) and dropping the OS page
#                  cache (sync; echo 3 > /proc/sys/vm/drop_caches: root only; recorded if it failed)
#   hash memo-cold the stat memo deleted again, page cache warm
#   hash warm      status again (memo kept); GB/s = data bytes / median wall time of the whole status
#   param change   train.C set to a value never used before: 5 of 10 stages rerun, 5 stay cached
# Wall time and CPU (the tool and its children) for every call; for `cairn run`, also the server's CPU.
# Writes results.json, summary.md and one log per call to bench/results/pipelines-<timestamp>/
# (gitignored) and prints the summary.
#
# Environment:
#   ROUNDS=5                  rounds per measure
#   DATA_MB=1024 DATA_FILES=64   size of the dependency directory
#   CAIRN_BIN                 default <repo>/target/release/cairn ($CARGO_TARGET_DIR honoured)
#   DVC_VENV                  default <repo>/.venv-dvc; created with `python3 -m venv` +
#                             `pip install -r bench/dvc-requirements.txt -c bench/dvc-constraints.txt`
#                             when missing or when those files changed (hash in DVC_VENV/.bench-pin)
#   DROP_CACHES=1             0: "cold" deletes the memo only and leaves the OS page cache (dropping it
#                             slows everything else on the machine for a moment)
#   KEEP_WORK=0               1 keeps the temp dir (projects, data, server data dir; path is logged)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case ${1:-} in -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
[ $# -eq 0 ] || { echo "unknown argument: $1 (see --help)" >&2; exit 2; }

ROUNDS=${ROUNDS:-5}
DATA_MB=${DATA_MB:-1024}
DATA_FILES=${DATA_FILES:-64}
target=${CARGO_TARGET_DIR:-$repo/target}
CAIRN_BIN=${CAIRN_BIN:-$target/release/cairn}
DVC_VENV=${DVC_VENV:-$repo/.venv-dvc}
KEEP_WORK=${KEEP_WORK:-0}
DROP_CACHES=${DROP_CACHES:-1}
export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"

log() { printf '[pipelines-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"
[[ $DATA_MB =~ ^[1-9][0-9]*$ && $DATA_FILES =~ ^[1-9][0-9]*$ ]] || die "DATA_MB and DATA_FILES must be positive integers"
case $DROP_CACHES in 0|1) ;; *) die "DROP_CACHES must be 0 or 1 (got '$DROP_CACHES')" ;; esac
[ -x "$CAIRN_BIN" ] || die "no Cairn binary at $CAIRN_BIN (cargo build --release -p cairn-cli, or set CAIRN_BIN)"
command -v git >/dev/null || die "git is needed (dvc works in a git repository)"

# --- DVC's pinned venv ------------------------------------------------------------------------------
req=$repo/bench/dvc-requirements.txt
con=$repo/bench/dvc-constraints.txt
want=$(cat "$req" "$con" | sha256sum | cut -d' ' -f1)
if [ ! -x "$DVC_VENV/bin/dvc" ] || [ "$(cat "$DVC_VENV/.bench-pin" 2>/dev/null)" != "$want" ]; then
  log "creating $DVC_VENV (dvc-requirements.txt + dvc-constraints.txt)"
  rm -rf -- "$DVC_VENV"
  python3 -m venv "$DVC_VENV"
  "$DVC_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req" -c "$con" >&2
  echo "$want" > "$DVC_VENV/.bench-pin"
fi
py=$DVC_VENV/bin/python
dvc_version=$("$DVC_VENV/bin/dvc" --version)
cairn_version=$("$CAIRN_BIN" --version 2>/dev/null | head -n1 || echo unknown)
# Stage commands run `python3`; the real interpreter, not a pyenv shim (a shell script: ~50 ms a call).
stage_python=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')

# --- results, work dir, server ----------------------------------------------------------------------
ts=$(date -u +%Y%m%dT%H%M%SZ)
out=$repo/bench/results/pipelines-$ts
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/pipelines-bench.XXXXXX")
srv_pid="" drv_pid=""

cleanup() {
  if [ -n "$drv_pid" ]; then kill -TERM "$drv_pid" 2>/dev/null || true; wait "$drv_pid" 2>/dev/null || true; fi
  if [ -n "$srv_pid" ]; then
    kill -TERM -- "-$srv_pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
  fi
  if [ "$KEEP_WORK" = 1 ]; then log "kept $work"; else rm -rf -- "$work"; fi
}
trap 'rc=$?; cleanup; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log "starting cairn server on 127.0.0.1:$port"
( cd "$work" && exec setsid "$CAIRN_BIN" server --host 127.0.0.1 --port "$port" --data-dir "$work/server-data" ) \
  >"$out/server.log" 2>&1 &
srv_pid=$!
for _ in $(seq 1 240); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break
  kill -0 "$srv_pid" 2>/dev/null || { tail -n 20 "$out/server.log" >&2; die "cairn server exited"; }
  sleep 0.25
done
curl -sf -o /dev/null "http://127.0.0.1:$port/health" || die "cairn server not healthy; see $out/server.log"

cmdline="ROUNDS=$ROUNDS"
[ "$DATA_MB" = 1024 ] || cmdline+=" DATA_MB=$DATA_MB"
[ "$DATA_FILES" = 64 ] || cmdline+=" DATA_FILES=$DATA_FILES"
[ "$DROP_CACHES" = 1 ] || cmdline+=" DROP_CACHES=0"
[ "$CAIRN_BIN" = "$repo/target/release/cairn" ] || cmdline+=" CAIRN_BIN=$CAIRN_BIN"
cmdline+=" bench/pipelines.sh"
"$py" - "$out/meta.json" <<EOF
import json, sys
json.dump({
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "command": "$cmdline",
  "nproc": "$(nproc)",
  "cpu_model": "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)",
  "mem_total": "$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)",
  "kernel": "$(uname -r)",
  "loadavg_start": "$(cut -d' ' -f1-3 /proc/loadavg)",
  "cairn_version": "$cairn_version",
  "cairn_bin": "$CAIRN_BIN",
  "dvc_version": "$dvc_version",
  "stage_python": "$stage_python",
  "git_commit": "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo none)",
}, open(sys.argv[1], "w"), indent=1)
EOF
log "results -> $out"

"$py" "$repo/bench/pipelines_bench.py" --cairn "$CAIRN_BIN" --dvc "$DVC_VENV/bin/dvc" \
  --server "http://127.0.0.1:$port" --server-pid "$srv_pid" --work "$work" --out "$out" \
  --rounds "$ROUNDS" --data-mb "$DATA_MB" --data-files "$DATA_FILES" --stage-python "$stage_python" \
  $([ "$DROP_CACHES" = 1 ] || echo --no-drop-caches) &
drv_pid=$!
wait "$drv_pid"
drv_pid=""

"$py" - "$out/meta.json" <<EOF
import json, sys
m = json.load(open(sys.argv[1])); m["loadavg_end"] = "$(cut -d' ' -f1-3 /proc/loadavg)"
m["finished"] = "$(date -u +%Y-%m-%dT%H:%M:%SZ)"; json.dump(m, open(sys.argv[1], "w"), indent=1)
EOF
log "wrote $out/summary.md and results.json"
