"""Cairn's step runner on a Ray worker (shipped in every step's package as _cairn_step.py).

Runs the stage's commands like the local executor does: each in `sh -c`, in the stage's wdir inside
the unpacked package, in order, the first failure ending the step with its exit code (a command
killed by signal N ends it with 128 + N, as a shell reports it: 137 reads as OOM, 143 as preemption).
Each command is echoed as `$ cmd` into the log. Then it ships the declared outs back through the
tracking server's artifact proxy (PUT, one file at a time, then a manifest), where `cairn run` picks
them up. Python's standard library only: every Ray worker has Python, not necessarily anything else.

The step comes in the environment variable CAIRN_STEP (JSON: commands, wdir, outs, outs_url), so the
package itself holds only files and is shared by every attempt and every run of the same code.
"""

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request

# The runner reads this line in the log: outs that cannot be shipped are infrastructure, not the
# user's failure.
OUTS_FAILED = "cairn-step: could not ship the outs back:"
OUTS_FAILED_CODE = 70


def put(url, body, length):
    req = urllib.request.Request(url, data=body, method="PUT")
    req.add_header("Content-Length", str(length))
    req.add_header("Content-Type", "application/octet-stream")
    with urllib.request.urlopen(req, timeout=300) as resp:
        resp.read()


def ship(root, outs, base):
    """Uploads every file of every declared out, then the manifest naming them."""
    files, dirs = [], []
    for out in outs:
        full = os.path.join(root, out)
        if os.path.isdir(full):
            dirs.append(out)
            for here, subdirs, names in os.walk(full):
                subdirs.sort()
                for name in sorted(names):
                    path = os.path.join(here, name)
                    files.append(os.path.relpath(path, root).replace(os.sep, "/"))
        elif os.path.isfile(full):
            files.append(out)
    manifest = {"dirs": dirs, "files": []}
    for rel in files:
        full = os.path.join(root, rel)
        size = os.path.getsize(full)
        with open(full, "rb") as f:
            put(f"{base}/{urllib.parse.quote(rel)}", f, size)
        manifest["files"].append({"path": rel, "exec": os.access(full, os.X_OK), "size": size})
    body = json.dumps(manifest).encode()
    put(f"{base}.json", body, len(body))


def main():
    step = json.loads(os.environ.pop("CAIRN_STEP"))
    root = os.getcwd()
    cwd = os.path.join(root, step["wdir"])
    for cmd in step["commands"]:
        print(f"$ {cmd}", flush=True)
        code = subprocess.call(["sh", "-c", cmd], cwd=cwd)
        if code != 0:
            return 128 - code if code < 0 else code
    if step["outs"]:
        try:
            ship(root, step["outs"], step["outs_url"])
        except Exception as e:  # any failure to ship is reported the same way
            print(f"{OUTS_FAILED} {e}", flush=True)
            return OUTS_FAILED_CODE
    return 0


if __name__ == "__main__":
    sys.exit(main())
