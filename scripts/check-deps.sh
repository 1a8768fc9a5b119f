#!/usr/bin/env bash
# Dependency direction (README "Layout": domain ← store ← service ← mlflow / api ← server ← cli).
# Fails if a core crate reaches, directly or transitively through its normal (non-dev, non-build)
# dependencies, a web framework, a database driver or an HTTP client, or if the native API reaches the
# MLflow adapter. Each violation is printed with the chain that brings it in.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# crate: the packages it must not depend on
rules=(
  "cairn-domain: axum axum-core sqlx sqlx-core reqwest"
  "cairn-store: axum axum-core sqlx sqlx-core reqwest"
  "cairn-service: axum axum-core sqlx sqlx-core reqwest"
  "cairn-api: cairn-mlflow"
  "cairn-pipelines: axum axum-core sqlx sqlx-core reqwest"
)

failed=0
for rule in "${rules[@]}"; do
  crate=${rule%%:*}
  # Every package in the crate's normal dependency graph, one name a line.
  deps=$(cargo tree --locked --quiet -e normal -p "$crate" --prefix none -f '{p}' | awk '{print $1}' | sort -u)
  for banned in ${rule#*:}; do
    if grep -qx "$banned" <<<"$deps"; then
      echo "check-deps: $crate must not depend on $banned; it does through:" >&2
      cargo tree --locked --quiet -e normal -p "$crate" -i "$banned" >&2
      failed=1
    fi
  done
done
[ "$failed" -eq 0 ] && echo "check-deps: dependency directions hold"
exit "$failed"
