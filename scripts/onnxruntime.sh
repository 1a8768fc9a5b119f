#!/usr/bin/env bash
# Puts the ONNX Runtime shared library that cairn-onnx loads at <repo>/.onnxruntime/libonnxruntime.so.
# It comes from the pinned `onnxruntime` wheel on PyPI (the platform's wheel; the library needs only libc and
# libstdc++, not Python). Idempotent: a library already there at the pinned version is left alone.
# Prints the library's path. Use another Python with PYTHON=/path/to/python3.
set -euo pipefail
version=1.32.0
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.onnxruntime"
lib="$dest/libonnxruntime.so.$version"
link="$dest/libonnxruntime.so"
python="${PYTHON:-python3}"

if [ -f "$lib" ] && [ "$(readlink "$link" 2>/dev/null)" = "libonnxruntime.so.$version" ]; then
  echo "$link"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  "onnxruntime==$version" -d "$tmp" >&2
wheel=$(ls "$tmp"/onnxruntime-"$version"-*.whl)
mkdir -p "$dest"
# A wheel is a zip; Python's zipfile saves needing unzip on the machine.
"$python" - "$wheel" "$dest" "$version" <<'PY'
import os, sys, zipfile
wheel, dest, version = sys.argv[1:]
name = f"onnxruntime/capi/libonnxruntime.so.{version}"
with zipfile.ZipFile(wheel) as z:
    data = z.read(name)
tmp = f"{dest}/libonnxruntime.so.{version}.part"
with open(tmp, "wb") as f:
    f.write(data)
os.replace(tmp, f"{dest}/libonnxruntime.so.{version}")
PY
# Drop libraries of other versions so the default search cannot pick a stale one.
find "$dest" -maxdepth 1 -name 'libonnxruntime.so.*' ! -name "libonnxruntime.so.$version" -delete
ln -sfn "libonnxruntime.so.$version" "$link"
echo "$link"
