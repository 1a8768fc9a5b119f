"""Drift benchmark driver (bench/drift.sh): `cairn drift` against Evidently 0.7.23's DataDriftPreset on the
same generated files, each tool in its own process, measured from outside.

    drift_bench.py run --cairn BIN --rows 100000,1000000 --rounds 3 --work DIR --out DIR [--html]
    drift_bench.py evidently REF CUR JSON [HTML]     (the Evidently child; run by `run`)

Data: 20 columns, the same for both tools, written once per row count as Parquet (reference and current,
N rows each): 14 float columns of five shapes (the even ones drifted by a known magnitude), one wide
integer column (numerical to Evidently), one integer column with 6 values (categorical to Evidently,
drifted), four text columns with 3-8 levels (two drifted, one with a new level).

Per row count and round, the tools run in alternating order, each under GNU time (/usr/bin/time): its CPU
seconds (user + sys, threads included) and peak RSS (ru_maxrss of the tool's own process). The Evidently child
also reports the CPU of Report.run alone (process_time), to separate it from Python's and Evidently's
import. Medians over the rounds. Then every column's score and method and the dataset verdict of the
two reports are compared (relative difference <= 1e-9). Writes results.json and summary.md to --out and
prints the summary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REL_TOL = 1e-9
SEED = 20240611
TIME = "/usr/bin/time"  # GNU time (Debian package `time`)


# --- data ---------------------------------------------------------------------------------------------
def make_frame(n: int, window: int):
    """One window (0 = reference, 1 = current); each column from its own seeded stream."""
    import numpy as np
    import pandas as pd

    cols = {}
    shapes = ["normal", "lognormal", "uniform", "exponential", "bimodal"]
    mags = [0.2, 0.35, 0.5, 0.75, 1.0]
    for i in range(14):
        rng = np.random.default_rng([SEED, window, 0, i])
        m = mags[(i // 2) % 5] if (i % 2 == 0 and window == 1) else 0.0
        shape = shapes[i % 5]
        if shape == "normal":
            sd = 1.0 + 0.1 * i
            x = rng.normal(i + m * sd, sd, n)
        elif shape == "lognormal":
            x = 3.0 * np.exp(rng.normal(0.5 * m, 0.5, n))
        elif shape == "uniform":
            lo = m * 10.0 / np.sqrt(12.0)
            x = rng.uniform(lo, lo + 10.0, n)
        elif shape == "exponential":
            x = rng.exponential(2.0 * (1.0 + m), n)
        else:
            right = rng.random(n) < 0.5 + min(0.5 * m, 0.4)
            x = np.where(right, 2.0, -2.0) + rng.normal(0.0, 1.0, n)
        cols[f"f{i:02d}"] = x
    rng = np.random.default_rng([SEED, window, 1, 0])
    cols["visits"] = rng.poisson(50, n).astype("int64")
    rng = np.random.default_rng([SEED, window, 1, 1])
    p = [0.3, 0.25, 0.2, 0.12, 0.08, 0.05]
    cols["rating"] = rng.choice(6, n, p=p[::-1] if window == 1 else p).astype("int64")
    for j in range(4):
        rng = np.random.default_rng([SEED, window, 2, j])
        k = 3 + j + (j // 2)
        levels = [f"level_{j}_{v}" for v in range(k)]
        w = 1.0 / np.arange(1, k + 1)
        if window == 1 and j % 2 == 0:
            w = w[::-1]
        if window == 1 and j == 0:
            levels = levels + ["NEW"]
            w = np.append(w, w.sum() / 19)
        cols[f"c{j}"] = np.array(levels, dtype=object)[rng.choice(len(levels), n, p=w / w.sum())]
    return pd.DataFrame(cols)


def ensure_data(work: Path, n: int) -> tuple[Path, Path]:
    d = work / f"data-{n}"
    ref, cur = d / "reference.parquet", d / "current.parquet"
    if not (ref.exists() and cur.exists()):
        d.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        make_frame(n, 0).to_parquet(ref, index=False)
        make_frame(n, 1).to_parquet(cur, index=False)
        log(f"generated {n} rows x 20 columns in {time.time() - t0:.1f} s ({ref.stat().st_size >> 20} + "
            f"{cur.stat().st_size >> 20} MiB Parquet)")
    return ref, cur


# --- children -----------------------------------------------------------------------------------------
def evidently_child(ref: str, cur: str, json_out: str, html_out: str | None) -> None:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    t0 = time.process_time()
    reference, current = pd.read_parquet(ref), pd.read_parquet(cur)
    t1 = time.process_time()
    snapshot = Report([DataDriftPreset()]).run(current, reference)
    t2 = time.process_time()
    snapshot.save_json(json_out)
    if html_out:
        snapshot.save_html(html_out)
    t3 = time.process_time()
    print(json.dumps({"read_cpu_s": t1 - t0, "run_cpu_s": t2 - t1, "save_cpu_s": t3 - t2}))


def measure(cmd: list[str], log_path: Path) -> dict:
    """Runs cmd under GNU time: its wall time, CPU (user + sys, all threads) and peak RSS.

    Not os.wait4 from here: a child spawned by this (large) Python process inherits its RSS high-water
    mark across exec, so ru_maxrss would report the driver's memory, not the tool's. GNU time forks the
    tool from a process of a few MB.
    """
    stats = log_path.with_suffix(".time")
    with open(log_path, "w") as logf:
        t0 = time.perf_counter()
        rc = subprocess.run([TIME, "-f", "%U %S %M", "-o", str(stats), *cmd], stdout=logf,
                            stderr=subprocess.STDOUT).returncode
        wall = time.perf_counter() - t0
    # With a non-zero exit GNU time writes "Command exited with non-zero status N" first.
    user, sys_, maxrss_kb = stats.read_text().strip().splitlines()[-1].split()
    return {
        "exit": rc,
        "wall_s": wall,
        "cpu_s": float(user) + float(sys_),
        "peak_mb": int(maxrss_kb) / 1024,
    }


# --- comparison ---------------------------------------------------------------------------------------
def evidently_scores(path: Path) -> tuple[dict, dict]:
    snap = json.loads(path.read_text())
    cols, dataset = {}, {}
    for m in snap["metrics"]:
        cfg = m["config"]
        if cfg["type"].endswith("ValueDrift"):
            cols[cfg["column"]] = (cfg["method"], float(m["value"]), float(cfg["threshold"]))
        elif cfg["type"].endswith("DriftedColumnsCount"):
            dataset = {"drifted_columns": int(m["value"]["count"]), "share": float(m["value"]["share"])}
    return cols, dataset


def compare(cairn_json: Path, evidently_json: Path) -> dict:
    report = json.loads(cairn_json.read_text())
    ev_cols, ev_dataset = evidently_scores(evidently_json)
    ours = {c["column"]: c for c in report["columns"]}
    problems, max_rel = [], 0.0
    if set(ours) != set(ev_cols):
        problems.append(f"columns differ: cairn-only {sorted(set(ours) - set(ev_cols))}, "
                        f"evidently-only {sorted(set(ev_cols) - set(ours))}")
    for name in sorted(set(ours) & set(ev_cols)):
        method, score, threshold = ev_cols[name]
        c = ours[name]
        if c["stattest_name"] != method:
            problems.append(f"{name}: method {c['stattest_name']!r} vs Evidently's {method!r}")
        if c["threshold"] != threshold:
            problems.append(f"{name}: threshold {c['threshold']} vs {threshold}")
        got = c["score"]
        rel = abs(got - score) / abs(score) if score else abs(got)
        max_rel = max(max_rel, rel)
        if not rel <= REL_TOL:
            problems.append(f"{name}: score {got!r} vs Evidently's {score!r} (relative {rel:.2e})")
    d = report["dataset"]
    if ev_dataset and (d["drifted_columns"], d["share"]) != (ev_dataset["drifted_columns"], ev_dataset["share"]):
        problems.append(f"dataset: {d['drifted_columns']} drifted (share {d['share']}) vs Evidently's "
                        f"{ev_dataset['drifted_columns']} (share {ev_dataset['share']})")
    return {"agree": not problems, "max_rel": max_rel, "problems": problems, "columns": len(ours),
            "drifted_columns": d["drifted_columns"], "dataset_drifted": d["drifted"]}


# --- driver -------------------------------------------------------------------------------------------
def log(msg: str) -> None:
    print(f"[drift-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> None:
    work, out = Path(args.work), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for n in args.rows:
        ref, cur = ensure_data(work, n)
        samples: dict[str, list[dict]] = {"evidently": [], "cairn": []}
        for r in range(1, args.rounds + 1):
            order = ["evidently", "cairn"] if r % 2 else ["cairn", "evidently"]
            for tool in order:
                tag = f"{n}-{tool}-r{r}"
                json_out = out / f"{tag}.json"
                html_out = out / f"{tag}.html" if args.html else None
                if tool == "cairn":
                    cmd = [args.cairn, "drift", "--reference", str(ref), "--current", str(cur),
                           "--json", str(json_out)] + (["--html", str(html_out)] if html_out else [])
                else:
                    cmd = [sys.executable, __file__, "evidently", str(ref), str(cur), str(json_out)] + (
                        [str(html_out)] if html_out else [])
                m = measure(cmd, out / f"{tag}.log")
                # Exit 1 is Cairn's "dataset drift", not a failure.
                ok = m["exit"] == 0 or (tool == "cairn" and m["exit"] == 1)
                if not ok:
                    sys.exit(f"{tool} failed at {n} rows (exit {m['exit']}); see {out / f'{tag}.log'}")
                m["json_bytes"] = json_out.stat().st_size
                m["html_bytes"] = html_out.stat().st_size if html_out else None
                if tool == "evidently":
                    inner = (out / f"{tag}.log").read_text().strip().splitlines()[-1]
                    m.update(json.loads(inner))
                samples[tool].append(m)
                log(f"{n} rows, round {r}, {tool}: {m['cpu_s']:.2f} CPU s, {m['wall_s']:.2f} s wall, "
                    f"{m['peak_mb']:.0f} MB peak")
        agreement = compare(out / f"{n}-cairn-r1.json", out / f"{n}-evidently-r1.json")
        if agreement["problems"]:
            log(f"{n} rows: scores differ: " + "; ".join(agreement["problems"]))
        results.append({"rows": n, "samples": samples, "agreement": agreement,
                        "median": {t: med(s) for t, s in samples.items()}})
    (out / "results.json").write_text(json.dumps(results, indent=1))
    summary = render(results, args)
    (out / "summary.md").write_text(summary)
    print(summary)


def med(samples: list[dict]) -> dict:
    keys = [k for k, v in samples[0].items() if isinstance(v, (int, float)) and k != "exit"]
    return {k: statistics.median(s[k] for s in samples) for k in keys}


def size(b: float | None) -> str:
    if b is None:
        return ""
    return f"{b / 1024:.0f} KB" if b < 1 << 20 else f"{b / (1 << 20):.1f} MB"


def render(results: list[dict], args: argparse.Namespace) -> str:
    html = args.html
    lines = [
        f"20 columns; reference and current of N rows each, Parquet; median of {args.rounds} round(s) per tool, "
        "alternating order. CPU = user + sys of the tool's process (all threads), imports and file reading "
        "included; \"Report.run\" = Evidently's CPU inside `Report.run` alone.",
        "",
        "| rows | tool | CPU s | Report.run CPU s | wall s | peak MB | JSON | " + ("HTML | " if html else "")
        + "scores agree with Evidently |",
        "|---:|---|---:|---:|---:|---:|---:|" + ("---:|" if html else "") + "---|",
    ]
    for r in results:
        a = r["agreement"]
        agree = (f"yes: {a['columns']} columns, max relative difference {a['max_rel']:.1e}; "
                 f"{a['drifted_columns']} drifted") if a["agree"] else "NO: " + "; ".join(a["problems"])
        for tool in ("evidently", "cairn"):
            m = r["median"][tool]
            run_cpu = f"{m['run_cpu_s']:.2f}" if "run_cpu_s" in m else ""
            name = "Evidently 0.7.23" if tool == "evidently" else "`cairn drift`"
            lines.append(
                f"| {r['rows']:,} | {name} | {m['cpu_s']:.2f} | {run_cpu} | {m['wall_s']:.2f} | "
                f"{m['peak_mb']:.0f} | {size(m['json_bytes'])} | "
                + (f"{size(m['html_bytes'])} | " if html else "") + (agree if tool == "cairn" else "") + " |"
            )
    lines += ["", "| rows | CPU, Evidently / Cairn | wall, Evidently / Cairn | peak memory, Cairn / Evidently |",
              "|---:|---:|---:|---:|"]
    for r in results:
        e, c = r["median"]["evidently"], r["median"]["cairn"]
        lines.append(f"| {r['rows']:,} | {e['cpu_s'] / c['cpu_s']:.0f}× | {e['wall_s'] / c['wall_s']:.0f}× | "
                     f"{c['peak_mb'] / e['peak_mb']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--cairn", required=True)
    r.add_argument("--rows", type=lambda s: [int(x) for x in s.split(",")], default=[100_000, 1_000_000])
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--work", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--html", action="store_true", help="both tools also write their HTML report")
    e = sub.add_parser("evidently")
    e.add_argument("ref")
    e.add_argument("cur")
    e.add_argument("json_out")
    e.add_argument("html_out", nargs="?")
    args = p.parse_args()
    if args.cmd == "evidently":
        evidently_child(args.ref, args.cur, args.json_out, args.html_out)
    else:
        run(args)


if __name__ == "__main__":
    main()
