#!/usr/bin/env bash
# Drift benchmark: `cairn drift` against Evidently 0.7.23's DataDriftPreset (`Report([DataDriftPreset()])
# .run(current, reference)`, in its own pinned venv) on the same generated files, driven by
# bench/drift_bench.py.
#
# Usage: bench/drift.sh [--help]
#
# Per row count in ROWS: a reference and a current Parquet file of N rows x 20 columns (14 float columns
# of five shapes, half of them drifted; a wide integer column; a 6-value integer column; four text columns
# with 3-8 levels, two drifted), generated once into a temp dir. Each tool runs in its own process, in
# alternating order over ROUNDS rounds: Evidently reads the files with pandas, runs the preset and saves
# its JSON snapshot; Cairn runs `cairn drift --reference … --current … --json …`. Measured from outside
# (GNU time, /usr/bin/time: installed with apt when missing): CPU seconds (user + sys, all threads) and
# peak RSS of the tool's process; medians reported. Every
# column's score, method and threshold and the dataset verdict are compared between the two reports
# (relative difference <= 1e-9). Writes results.json, summary.md, meta.json, both reports and one log per
# run to bench/results/drift-<timestamp>/ (gitignored) and prints the summary.
#
# Environment:
#   ROWS=100000,1000000     row counts (each window)
#   ROUNDS=3                rounds per row count
#   HTML=0                  1: both tools also write their HTML report (sizes in the table; the CPU then
#                           includes rendering it)
#   CAIRN_BIN               default <repo>/target/release/cairn ($CARGO_TARGET_DIR honoured), built first
#                           with `cargo build --release -p cairn-cli` (a no-op when up to date)
#   EVIDENTLY_VENV          default <repo>/.venv-evidently; created with `python3 -m venv` +
#                           `pip install -r bench/evidently-requirements.txt` when missing or when that file
#                           changed (hash in EVIDENTLY_VENV/.bench-pin)
#   KEEP_WORK=0             1 keeps the temp dir with the generated data (path is logged)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case ${1:-} in -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
[ $# -eq 0 ] || { echo "unknown argument: $1 (see --help)" >&2; exit 2; }

ROWS=${ROWS:-100000,1000000}
ROUNDS=${ROUNDS:-3}
HTML=${HTML:-0}
target=${CARGO_TARGET_DIR:-$repo/target}
EVIDENTLY_VENV=${EVIDENTLY_VENV:-$repo/.venv-evidently}
KEEP_WORK=${KEEP_WORK:-0}

log() { printf '[drift-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"
[[ $ROWS =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "ROWS must be comma-separated positive integers (got '$ROWS')"
case $HTML in 0|1) ;; *) die "HTML must be 0 or 1 (got '$HTML')" ;; esac

if [ -z "${CAIRN_BIN:-}" ]; then
  # As bench/lib.sh: build (a no-op when fresh), so the figures are never those of a stale binary.
  log "building Cairn (cargo build --release -p cairn-cli)"
  (cd "$repo" && cargo build --release -p cairn-cli) >&2
  CAIRN_BIN=$target/release/cairn
fi
[ -x "$CAIRN_BIN" ] || die "no Cairn binary at $CAIRN_BIN (cargo build --release -p cairn-cli, or set CAIRN_BIN)"
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; } || die "GNU time is needed (apt-get install time)"

# --- Evidently's pinned venv ------------------------------------------------------------------------
req=$repo/bench/evidently-requirements.txt
want=$(sha256sum < "$req" | cut -d' ' -f1)
if [ ! -x "$EVIDENTLY_VENV/bin/python" ] || [ "$(cat "$EVIDENTLY_VENV/.bench-pin" 2>/dev/null)" != "$want" ]; then
  log "creating $EVIDENTLY_VENV (bench/evidently-requirements.txt)"
  rm -rf -- "$EVIDENTLY_VENV"
  python3 -m venv "$EVIDENTLY_VENV"
  "$EVIDENTLY_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  echo "$want" > "$EVIDENTLY_VENV/.bench-pin"
fi
py=$EVIDENTLY_VENV/bin/python
evidently_version=$("$py" -c 'import evidently; print(evidently.__version__)')
cairn_version=$("$CAIRN_BIN" --version 2>/dev/null | head -n1 || echo unknown)

# --- results, work dir ------------------------------------------------------------------------------
ts=$(date -u +%Y%m%dT%H%M%SZ)
out=$repo/bench/results/drift-$ts
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/drift-bench.XXXXXX")
drv_pid=""
cleanup() {
  # The driver and the tool it is measuring: one process group.
  if [ -n "$drv_pid" ]; then kill -TERM -- "-$drv_pid" 2>/dev/null || true; wait "$drv_pid" 2>/dev/null || true; fi
  if [ "$KEEP_WORK" = 1 ]; then log "kept $work"; else rm -rf -- "$work"; fi
}
trap 'rc=$?; cleanup; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cmdline="ROWS=$ROWS ROUNDS=$ROUNDS"
[ "$HTML" = 0 ] || cmdline+=" HTML=1"
[ "$CAIRN_BIN" = "$target/release/cairn" ] || cmdline+=" CAIRN_BIN=$CAIRN_BIN"
cmdline+=" bench/drift.sh"
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
  "evidently_version": "$evidently_version",
  "python": "$("$py" -c 'import sys; print(sys.version.split()[0])')",
  "git_commit": "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo none)",
}, open(sys.argv[1], "w"), indent=1)
EOF
log "results -> $out"

setsid "$py" "$repo/bench/drift_bench.py" run --cairn "$CAIRN_BIN" --rows "$ROWS" --rounds "$ROUNDS" \
  --work "$work" --out "$out" $([ "$HTML" = 0 ] || echo --html) &
drv_pid=$!
wait "$drv_pid"
drv_pid=""

"$py" - "$out/meta.json" <<EOF
import json, sys
m = json.load(open(sys.argv[1])); m["loadavg_end"] = "$(cut -d' ' -f1-3 /proc/loadavg)"
m["finished"] = "$(date -u +%Y-%m-%dT%H:%M:%SZ)"; json.dump(m, open(sys.argv[1], "w"), indent=1)
EOF
log "wrote $out/summary.md and results.json"
