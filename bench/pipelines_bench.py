#!/usr/bin/env python3
"""The pipelines benchmark's driver: one 10-stage dvc.yaml under `cairn run --file dvc.yaml` and
`dvc repro`, interleaved, medians of N rounds (see bench/pipelines.sh for the whole method).

Stdlib only. Two identical projects (proj-cairn, proj-dvc: git repos, `dvc init` in the DVC one), the
1 GiB dependency directory generated once and hard-linked into both, so each tool has its own state
and outputs and never sees the other's.

Writes <out>/results.json (every sample, medians, ratios) and <out>/summary.md, and prints the summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time

# --- the pipeline ----------------------------------------------------------------------------------

PARAMS = """\
prepare:
  seed: 7
featurize:
  dim: 16
train:
  C: 1.0
  epochs: 3
"""

# 10 stages: prepare -> feat_{a,b,c} -> train -> evaluate -> {report, plot}; prepare -> stats -> report;
# train -> export. Only `prepare` reads the 1 GiB directory `data` (as a dep: both tools hash it; the
# command only lists it).
DVC_YAML = """\
stages:
  prepare:
    cmd: python3 src/prepare.py ${prepare.seed}
    deps: [src/prepare.py, src/common.py, data]
    params: [prepare.seed]
    outs: [prepared.json]
  feat_a:
    cmd: python3 src/featurize.py a ${featurize.dim}
    deps: [src/featurize.py, src/common.py, prepared.json]
    params: [featurize.dim]
    outs: [features_a.json]
  feat_b:
    cmd: python3 src/featurize.py b ${featurize.dim}
    deps: [src/featurize.py, src/common.py, prepared.json]
    params: [featurize.dim]
    outs: [features_b.json]
  feat_c:
    cmd: python3 src/featurize.py c ${featurize.dim}
    deps: [src/featurize.py, src/common.py, prepared.json]
    params: [featurize.dim]
    outs: [features_c.json]
  stats:
    cmd: python3 src/stats.py
    deps: [src/stats.py, src/common.py, prepared.json]
    outs: [stats.json]
  train:
    cmd: python3 src/train.py ${train.C} ${train.epochs}
    deps: [src/train.py, src/common.py, features_a.json, features_b.json, features_c.json]
    params: [train.C, train.epochs]
    outs: [model]
  evaluate:
    cmd: python3 src/evaluate.py
    deps: [src/evaluate.py, src/common.py, model, features_c.json]
    metrics: [eval.json]
  report:
    cmd: python3 src/report.py
    deps: [src/report.py, src/common.py, eval.json, stats.json]
    outs: [report.md]
  plot:
    cmd: python3 src/plot.py
    deps: [src/plot.py, src/common.py, eval.json]
    outs: [plot.json]
  export:
    cmd: python3 src/export.py
    deps: [src/export.py, src/common.py, model]
    outs: [export.bin]
"""
STAGES = ["prepare", "feat_a", "feat_b", "feat_c", "stats", "train", "evaluate", "report", "plot", "export"]
# What a change of train.C reruns.
DOWNSTREAM_OF_TRAIN = {"train", "evaluate", "report", "plot", "export"}

SCRIPTS = {
    "common.py": """\
import json, os, sys

def load(path):
    with open(path) as f:
        return json.load(f)

def dump(path, obj):
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
""",
    "prepare.py": """\
import os, sys
from common import dump
seed = int(sys.argv[1])
files = sorted(os.listdir("data"))
sizes = [os.path.getsize(os.path.join("data", f)) for f in files]
dump("prepared.json", {"seed": seed, "files": len(files), "bytes": sum(sizes),
                        "rows": [(seed * 31 + i * 17) % 1000 / 1000 for i in range(200)]})
""",
    "featurize.py": """\
import sys
from common import load, dump
part, dim = sys.argv[1], int(sys.argv[2])
rows = load("prepared.json")["rows"]
off = {"a": 0.1, "b": 0.2, "c": 0.3}[part]
dump(f"features_{part}.json", [[(r + off) * (k + 1) % 1 for k in range(dim)] for r in rows])
""",
    "stats.py": """\
from common import load, dump
p = load("prepared.json")
rows = p["rows"]
dump("stats.json", {"n": len(rows), "mean": sum(rows) / len(rows), "files": p["files"], "bytes": p["bytes"]})
""",
    "train.py": """\
import sys
from common import load, dump
C, epochs = float(sys.argv[1]), int(sys.argv[2])
X = [row for part in "abc" for row in load(f"features_{part}.json")]
w = [0.0] * len(X[0])
for _ in range(epochs):
    for row in X:
        for k, x in enumerate(row):
            w[k] += C * 0.001 * (x - w[k])
dump("model/model.json", {"C": C, "epochs": epochs, "w": w})
dump("model/MLmodel.json", {"flavor": "toy", "inputs": len(w)})
""",
    "evaluate.py": """\
from common import load, dump
w = load("model/model.json")["w"]
X = load("features_c.json")
score = sum(sum(a * b for a, b in zip(w, row)) for row in X) / len(X)
dump("eval.json", {"accuracy": round(0.5 + (score % 0.5), 6), "rows": len(X)})
""",
    "report.py": """\
from common import load
e, s = load("eval.json"), load("stats.json")
with open("report.md", "w") as f:
    f.write(f"# Report\\n\\naccuracy {e['accuracy']} on {e['rows']} rows; data {s['files']} files, {s['bytes']} bytes\\n")
""",
    "plot.py": """\
from common import load, dump
e = load("eval.json")
dump("plot.json", {"x": [0, 1], "y": [0, e["accuracy"]]})
""",
    "export.py": """\
import struct
from common import load
m = load("model/model.json")
with open("export.bin", "wb") as f:
    f.write(struct.pack(f"<{len(m['w'])}d", *m["w"]))
""",
}

TOOLS = ("cairn", "dvc")


# --- helpers ---------------------------------------------------------------------------------------

def log(msg):
    print(f"[pipelines-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else None


def proc_cpu_s(pid):
    """utime + stime of a live process (and its waited-for children), in seconds; None if gone."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        return ticks / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None


def drop_page_cache():
    """sync + drop the page cache (needs root and a writable /proc/sys/vm); True when it worked."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


class Bench:
    def __init__(self, a):
        self.a = a
        self.out = a.out
        self.logdir = os.path.join(a.out, "logs")
        os.makedirs(self.logdir, exist_ok=True)
        self.samples = {}  # measure -> tool -> [sample]
        self.notes = []
        self.seq = 0
        self.proj = {t: os.path.join(a.work, f"proj-{t}") for t in TOOLS}
        self.dvc_site = os.path.join(a.work, "dvc-site-cache")
        # Stage commands run `python3`: put the real interpreter first (a pyenv shim costs ~50 ms a call).
        self.env = dict(os.environ)
        self.env["PATH"] = os.path.dirname(a.stage_python) + os.pathsep + self.env["PATH"]
        self.env["DVC_NO_ANALYTICS"] = "1"
        self.env["GIT_TERMINAL_PROMPT"] = "0"
        self.env.pop("MLFLOW_TRACKING_URI", None)
        self.env.pop("MLFLOW_EXPERIMENT_ID", None)

    # --- running and timing ---

    def sh(self, cmd, cwd, check=True):
        r = subprocess.run(cmd, cwd=cwd, env=self.env, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} (in {cwd}) failed with {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r

    def timed(self, measure, tool, cmd, cwd, record=True, extra=None):
        """Run cmd, time its wall clock and its (and its children's) CPU; the server's CPU for cairn run."""
        self.seq += 1
        logf = os.path.join(self.logdir, f"{self.seq:04d}-{measure}-{tool}.log")
        srv0 = proc_cpu_s(self.a.server_pid)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run(cmd, cwd=cwd, env=self.env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        srv1 = proc_cpu_s(self.a.server_pid)
        with open(logf, "w") as f:
            f.write(f"$ {' '.join(cmd)}\n# cwd {cwd}\n# exit {r.returncode}, wall {wall:.4f} s\n")
            f.write(r.stdout)
            f.write(r.stderr)
        if r.returncode != 0:
            raise SystemExit(f"{measure}/{tool}: {' '.join(cmd)} exited {r.returncode}; see {logf}\n"
                             f"{r.stdout[-2000:]}{r.stderr[-2000:]}")
        s = {"wall_s": round(wall, 4),
             "cpu_s": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 4),
             "log": os.path.relpath(logf, self.out)}
        if tool == "cairn" and measure in ("noop_run", "param_change"):
            if srv0 is not None and srv1 is not None:
                s["server_cpu_s"] = round(srv1 - srv0, 4)
        if extra:
            s.update(extra)
        if record:
            self.samples.setdefault(measure, {}).setdefault(tool, []).append(s)
        log(f"{measure:<18} {tool:<6} {wall * 1000:9.1f} ms")
        return s, r

    def cairn_run(self, measure, record=True, extra_args=()):
        jf = os.path.join(self.a.work, "cairn-run.json")
        if os.path.exists(jf):
            os.unlink(jf)
        cmd = [self.a.cairn, "run", "--file", "dvc.yaml", "--server", self.a.server, "--json", jf, *extra_args]
        s, r = self.timed(measure, "cairn", cmd, self.proj["cairn"], record)
        rep = json.load(open(jf))
        s["ran"] = sorted(x["name"] for x in rep["stages"] if x["status"] == "ran")
        s["cached"] = sorted(x["name"] for x in rep["stages"] if x["status"] == "cached")
        return s

    def dvc_repro(self, measure, record=True):
        s, r = self.timed(measure, "dvc", [self.a.dvc, "repro"], self.proj["dvc"], record)
        ran = []
        for line in (r.stdout + r.stderr).splitlines():
            if line.startswith("Running stage '"):
                ran.append(line.split("'")[1])
        s["ran"] = sorted(ran)
        return s

    def status(self, measure, tool, record=True, extra=None):
        if tool == "cairn":
            s, r = self.timed(measure, tool, [self.a.cairn, "pipeline", "status", "--file", "dvc.yaml"],
                              self.proj[tool], record, extra)
            s["up_to_date"] = all(" up to date" in ln or "up_to_date" in ln for ln in r.stdout.splitlines() if ln.strip())
        else:
            s, r = self.timed(measure, tool, [self.a.dvc, "status"], self.proj[tool], record, extra)
            s["up_to_date"] = "up to date" in r.stdout
        return s

    def disk_read(self, dropped_first):
        files = sorted(os.path.join(self.proj["cairn"], "data", f)
                       for f in os.listdir(os.path.join(self.proj["cairn"], "data")))
        ok = drop_page_cache() if dropped_first else False
        t0 = time.perf_counter()
        subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)
        wall = time.perf_counter() - t0
        self.samples.setdefault("disk_read_cold", {}).setdefault("cat", []).append(
            {"wall_s": round(wall, 4), "cpu_s": 0, "page_cache_dropped": ok})
        log(f"{'disk_read_cold':<18} {'cat':<6} {wall * 1000:9.1f} ms")

    def order(self, rnd):
        return TOOLS if rnd % 2 == 0 else TOOLS[::-1]

    # --- set-up ---

    def make_data(self):
        src = os.path.join(self.a.work, "data-src")
        os.makedirs(src, exist_ok=True)
        per = self.a.data_mb * 1024 * 1024 // self.a.data_files
        log(f"generating {self.a.data_files} x {per / 1048576:.1f} MiB of random bytes in {src}")
        chunk = 1 << 20
        for i in range(self.a.data_files):
            with open(os.path.join(src, f"part-{i:03d}.bin"), "wb") as f:
                left = per
                while left > 0:
                    n = min(chunk, left)
                    f.write(os.urandom(n))
                    left -= n
        os.sync()
        self.data_bytes = per * self.a.data_files
        return src

    def make_projects(self, src):
        for t in TOOLS:
            p = self.proj[t]
            os.makedirs(os.path.join(p, "src"))
            os.makedirs(os.path.join(p, "data"))
            for f in sorted(os.listdir(src)):
                os.link(os.path.join(src, f), os.path.join(p, "data", f))
            for name, text in SCRIPTS.items():
                with open(os.path.join(p, "src", name), "w") as f:
                    f.write(text)
            with open(os.path.join(p, "dvc.yaml"), "w") as f:
                f.write(DVC_YAML)
            with open(os.path.join(p, "params.yaml"), "w") as f:
                f.write(PARAMS)
            with open(os.path.join(p, ".gitignore"), "w") as f:
                f.write("/data\n__pycache__/\n")
            self.sh(["git", "init", "-q"], p)
            self.sh(["git", "config", "user.email", "bench@example.invalid"], p)
            self.sh(["git", "config", "user.name", "bench"], p)
            if t == "dvc":
                self.sh([self.a.dvc, "init", "-q"], p)
                self.sh([self.a.dvc, "config", "core.analytics", "false"], p)
                self.sh([self.a.dvc, "config", "core.autostage", "false"], p)
                # The state db (DVC's stat memo, hashes/local/cache.db) lives here: known, and deletable.
                self.sh([self.a.dvc, "config", "core.site_cache_dir", self.dvc_site], p)
            self.sh(["git", "add", "-A"], p)
            self.sh(["git", "commit", "-q", "-m", "pipeline"], p)

    def set_param_C(self, tool, value):
        path = os.path.join(self.proj[tool], "params.yaml")
        text = PARAMS.replace("C: 1.0", f"C: {value}")
        with open(path, "w") as f:
            f.write(text)

    def drop_memo(self, tool):
        if tool == "cairn":
            memo = os.path.join(self.proj["cairn"], ".cairn", "state", "memo.json")
            if os.path.exists(memo):
                os.unlink(memo)
            else:
                raise SystemExit(f"no Cairn stat memo at {memo}")
        else:
            if os.path.isdir(self.dvc_site):
                shutil.rmtree(self.dvc_site)
            else:
                raise SystemExit(f"no DVC site cache dir (state db) at {self.dvc_site}")

    # --- the measures ---

    def run(self):
        a = self.a
        src = self.make_data()
        self.make_projects(src)
        # The stat memo distrusts entries taken < 1 s after a file's mtime: let the data age first.
        time.sleep(1.5)

        log("first runs (every stage runs; informational)")
        for rnd, tool in enumerate(TOOLS):
            if tool == "cairn":
                s = self.cairn_run("first_run")
            else:
                s = self.dvc_repro("first_run")
            if s["ran"] != sorted(STAGES):
                raise SystemExit(f"first run of {tool} ran {s['ran']}, not all 10 stages")
        time.sleep(1.5)  # outs age past the racy window too
        # Warm-up: one no-op each, not recorded (settles memos, imports, the server's caches).
        for tool in TOOLS:
            self.status("warmup", tool, record=False)
        self.cairn_run("warmup", record=False)
        self.dvc_repro("warmup", record=False)

        log(f"no-op: {a.rounds} rounds, interleaved")
        for rnd in range(a.rounds):
            for tool in self.order(rnd):
                if tool == "cairn":
                    s = self.cairn_run("noop_run")
                    if s["ran"]:
                        raise SystemExit(f"no-op cairn run ran {s['ran']}")
                    self.status("noop_status", "cairn")
                    self.timed("noop_dry_run", "cairn",
                               [a.cairn, "run", "--file", "dvc.yaml", "--dry-run"], self.proj["cairn"])
                else:
                    s = self.dvc_repro("noop_run")
                    if s["ran"]:
                        raise SystemExit(f"no-op dvc repro ran {s['ran']}")
                    self.status("noop_status", "dvc")

        log(f"hashing {self.data_bytes / 2**30:.2f} GiB of deps: cold (memo"
            f"{' and page cache' if a.drop_caches else ''} dropped), memo-cold (page cache warm), warm; "
            f"{a.rounds} rounds")
        self.page_cache_dropped = None
        for rnd in range(a.rounds):
            for tool in self.order(rnd):
                self.drop_memo(tool)
                dropped = drop_page_cache() if self.a.drop_caches else False
                self.page_cache_dropped = dropped if self.page_cache_dropped is None else (self.page_cache_dropped and dropped)
                self.status("hash_cold", tool, extra={"page_cache_dropped": dropped})
                self.drop_memo(tool)
                self.status("hash_memo_cold", tool)
                self.status("hash_warm", tool)
            # What the disk gives one sequential reader, as the tools read: `cat` of every file after
            # dropping the page cache (a bound for any single-threaded cold hash).
            if self.a.drop_caches:
                self.disk_read(dropped_first=True)

        log(f"one changed param (train.C): {a.rounds} rounds")
        for rnd in range(a.rounds):
            value = f"{1.0 + (rnd + 1) * 0.125:.3f}"  # a value never seen: no cache can answer
            for tool in self.order(rnd):
                self.set_param_C(tool, value)
                if tool == "cairn":
                    s = self.cairn_run("param_change")
                else:
                    s = self.dvc_repro("param_change")
                s["train.C"] = value
                if set(s["ran"]) != DOWNSTREAM_OF_TRAIN:
                    self.notes.append(f"param change round {rnd + 1}: {tool} ran {s['ran']}")
                    log(f"warning: {tool} ran {s['ran']} after train.C -> {value}")

        return self.report()

    # --- results ---

    def report(self):
        a = self.a
        med = {}
        for m, by in self.samples.items():
            med[m] = {}
            for t, ss in by.items():
                med[m][t] = {"wall_s": median([s["wall_s"] for s in ss]),
                             "cpu_s": median([s["cpu_s"] for s in ss])}
                srv = [s["server_cpu_s"] for s in ss if "server_cpu_s" in s]
                if srv:
                    med[m][t]["server_cpu_s"] = median(srv)

        def ratio(m, key="wall_s"):
            try:
                return med[m]["dvc"][key] / med[m]["cairn"][key]
            except (KeyError, ZeroDivisionError, TypeError):
                return None

        gbps = {}
        for m in ("hash_cold", "hash_memo_cold", "hash_warm", "disk_read_cold"):
            for t in (*TOOLS, "cat"):
                w = med.get(m, {}).get(t, {}).get("wall_s")
                if w:
                    gbps.setdefault(m, {})[t] = self.data_bytes / 1e9 / w
        ratios = {m: ratio(m) for m in med if m not in ("noop_dry_run", "disk_read_cold")}
        ratios["noop_run_vs_dry_run"] = (med["noop_run"]["dvc"]["wall_s"] / med["noop_dry_run"]["cairn"]["wall_s"]
                                         if "noop_dry_run" in med else None)
        targets = {
            "noop_run_10x": (ratios.get("noop_run") or 0) >= 10,
            "hash_warm_1GBps": gbps.get("hash_warm", {}).get("cairn", 0) >= 1,
            "hash_cold_1GBps": gbps.get("hash_cold", {}).get("cairn", 0) >= 1,
            "hash_memo_cold_1GBps": gbps.get("hash_memo_cold", {}).get("cairn", 0) >= 1,
            "status_warm_under_50ms": (med.get("hash_warm", {}).get("cairn", {}).get("wall_s") or 1) < 0.05,
        }
        res = {
            "rounds": a.rounds,
            "stages": len(STAGES),
            "data_bytes": self.data_bytes,
            "data_files": a.data_files,
            "page_cache_dropped": self.page_cache_dropped,
            "medians": med,
            "ratios_dvc_over_cairn": ratios,
            "gb_per_s": gbps,
            "targets": targets,
            "notes": self.notes,
            "samples": self.samples,
            "meta": {
                "cairn_bin": a.cairn, "dvc_bin": a.dvc, "server": a.server,
                "stage_python": a.stage_python, "python": platform.python_version(),
            },
        }
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump(res, f, indent=1)
        md = render(res)
        with open(os.path.join(self.out, "summary.md"), "w") as f:
            f.write(md)
        print(md)
        return res


def render(res):
    med, rat, gb = res["medians"], res["ratios_dvc_over_cairn"], res["gb_per_s"]
    gib = res["data_bytes"] / 2**30

    def ms(m, t, key="wall_s"):
        v = med.get(m, {}).get(t, {}).get(key)
        return "—" if v is None else f"{v * 1000:.0f}"

    def rx(m):
        v = rat.get(m)
        return "—" if v is None else f"**{v:.1f}×**"

    rows = [
        ("noop_run", "no-op run: `cairn run --file dvc.yaml` (tracked) vs `dvc repro`"),
        ("noop_status", "no-op status: `cairn pipeline status` vs `dvc status`"),
        ("hash_cold", f"cold status, {gib:.2f} GiB of deps ("
                      + ("memo + page cache dropped)" if res["page_cache_dropped"] else "memo dropped, page cache NOT)")),
        ("hash_memo_cold", f"status, memo dropped, page cache warm"),
        ("hash_warm", "warm status (memo kept)"),
        ("param_change", "one changed param (train.C): 5 of 10 stages rerun"),
        ("first_run", "first run, every stage (1 sample)"),
    ]
    out = [f"Medians of {res['rounds']} interleaved rounds; {res['stages']} stages; "
           f"deps {res['data_files']} files, {res['data_bytes']:,} bytes. Ratio = DVC / Cairn (> 1: Cairn faster).", "",
           "| measure | Cairn ms | DVC ms | ratio | Cairn CPU ms | DVC CPU ms |",
           "|---|---|---|---|---|---|"]
    for m, label in rows:
        if m not in med:
            continue
        out.append(f"| {label} | {ms(m, 'cairn')} | {ms(m, 'dvc')} | {rx(m)} | {ms(m, 'cairn', 'cpu_s')} "
                   f"| {ms(m, 'dvc', 'cpu_s')} |")
    if "noop_dry_run" in med:
        d = med["noop_dry_run"]["cairn"]["wall_s"]
        out.append(f"| no-op `cairn run --dry-run` (no server, nothing tracked) vs `dvc repro` | {d * 1000:.0f} "
                   f"| {ms('noop_run', 'dvc')} | **{rat['noop_run_vs_dry_run']:.1f}×** "
                   f"| {ms('noop_dry_run', 'cairn', 'cpu_s')} | |")
    out.append("")
    srv = med.get("noop_run", {}).get("cairn", {}).get("server_cpu_s")
    if srv is not None:
        out.append(f"`cairn server` CPU per no-op run (median): {srv * 1000:.0f} ms; per param-change run: "
                   f"{med.get('param_change', {}).get('cairn', {}).get('server_cpu_s', 0) * 1000:.0f} ms.")
        out.append("")
    out.append("| hashing | Cairn GB/s | DVC GB/s |")
    out.append("|---|---|---|")
    for m, label in (("hash_cold", "cold (memo + page cache dropped)" if res["page_cache_dropped"]
                      else "cold (memo dropped; page cache NOT dropped)"),
                     ("hash_memo_cold", "memo dropped, page cache warm"), ("hash_warm", "warm (stat memo)")):
        if m in gb:
            out.append(f"| {label} | {gb[m].get('cairn', 0):.2f} | {gb[m].get('dvc', 0):.2f} |")
    if "disk_read_cold" in gb:
        out.append(f"| (the disk: `cat` of the files, page cache dropped) | {gb['disk_read_cold']['cat']:.2f} | |")
    out.append("")
    out.append("Targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in res["targets"].items()))
    for n in res["notes"]:
        out.append(f"- note: {n}")
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cairn", required=True)
    p.add_argument("--dvc", required=True)
    p.add_argument("--server", required=True, help="tracking server URL for cairn run")
    p.add_argument("--server-pid", type=int, default=0, help="its pid, to read its CPU time")
    p.add_argument("--work", required=True, help="an empty temp dir")
    p.add_argument("--out", required=True)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--data-mb", type=int, default=1024)
    p.add_argument("--data-files", type=int, default=64)
    p.add_argument("--no-drop-caches", dest="drop_caches", action="store_false",
                   help="cold = memo deleted only; leave the OS page cache alone")
    p.add_argument("--stage-python", default=sys.executable, help="the python3 stage commands run")
    a = p.parse_args()
    Bench(a).run()


if __name__ == "__main__":
    main()
