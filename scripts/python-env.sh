#!/usr/bin/env bash
# Creates (or reuses) the pinned Python venv used by the end-to-end suite and the benchmarks.
# Idempotent: a venv whose requirements stamp matches is reused as it is.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="${CAIRN_VENV:-$root/.venv}"
req="$root/tests/e2e/requirements.txt"
# Every transitive version, frozen from a working venv, so a fresh machine gets the same environment.
constraints="$root/tests/e2e/constraints.txt"
stamp="$venv/.requirements.sha256"
want=$(cat "$req" "$constraints" | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" -c "$constraints"
echo "$want" > "$stamp"
