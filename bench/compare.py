#!/usr/bin/env python3
"""Helper for bench/tracking.sh and bench/registry.sh (stdlib only; run with the bench venv's python).

Subcommands
  free-port                         print a free TCP port on 127.0.0.1
  wait-health URL T0_NS PID TIMEOUT poll URL until HTTP 200; print ms since T0_NS (CLOCK_REALTIME ns,
                                    taken just before the server was spawned); exit 1 if PID dies or
                                    TIMEOUT seconds pass
  proc-stats PID                    print JSON: summed VmRSS / PSS (kB) and process count of PID's tree
  stop PID TIMEOUT                  SIGTERM PID's process group (or tree), wait up to TIMEOUT s for every
                                    process in it to exit, then SIGKILL what is left; print ms taken
  huey-path PID                     print mlflow's _MLFLOW_HUEY_STORAGE_PATH from PID's tree (or nothing)
  pg-url URL DBNAME                 print URL with its database name replaced by DBNAME
  server-record OUT --cold-start-ms N --rss-start JSON --rss-end JSON --stop-ms N -- CMD...
                                    write the per-server-per-round record
  meta OUT KEY=VALUE...             write meta.json (values written as JSON -- numbers, lists -- are stored
                                    as JSON, anything else as a string)
  render DIR                        print the Markdown results for a results directory (the suite --
                                    tracking or registry -- comes from its meta.json; the servers Cairn
                                    is compared with -- MLflow, FastTrackML -- from its "order")
  update-docs DIR DOC               replace DOC's text between the suite's results markers
                                    (<!-- <suite>-results[-fasttrackml][-<backend>]:start/end -->;
                                    -fasttrackml for a run with FastTrackML but not MLflow)
"""
import json
import os
import socket
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# Every server kind, in table column order; Cairn (last) is the one the ratios are about.
SIDES = [("mlflow", "MLflow"), ("fasttrackml", "FastTrackML"), ("cairn-open", "Cairn, auth off"), ("cairn", "Cairn")]
NAMES = dict(SIDES)


def _others(meta):
    """The servers Cairn is compared with, in column order: those the run had (meta.json "order"); MLflow
    when it had none (a Cairn-only run, or an older results directory), shown as "—"."""
    ran = set(meta.get("order") or [])
    return [s for s, _ in SIDES if s != "cairn" and s in ran] or ["mlflow"]


def _target_for(target, side):
    """A metric's target ratio against `side`: a number is the target against MLflow; a dict maps side -> ratio."""
    if isinstance(target, dict):
        return target.get(side)
    return target if side == "mlflow" else None

# --- process helpers -------------------------------------------------------------------------


def _children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            # field 4 (ppid) follows the ')' that closes the command name
            ppid = int(s[s.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def proc_tree(pid):
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if os.path.exists(f"/proc/{p}"):
            out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_stats(pid):
    pids = proc_tree(pid)
    rss = {p: _status_kb(p, "VmRSS") for p in pids}
    pss = [_pss_kb(p) for p in pids]
    names = []
    for p in pids:
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                names.append(f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:160])
        except OSError:
            names.append("?")
    return {
        "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "nprocs": len(pids),
        "rss_kb": sum(rss.values()),
        "pss_kb": sum(x for x in pss if x is not None) if all(x is not None for x in pss) else None,
        "max_single_rss_kb": max(rss.values()) if rss else 0,
        "procs": [{"pid": p, "rss_kb": rss[p], "cmd": n} for p, n in zip(pids, names)],
    }


def _pgid_members(pgid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            rest = s[s.rindex(")") + 2:].split()
            if int(rest[2]) == pgid and rest[0] != "Z":
                out.append(int(d))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _alive(pids):
    return [p for p in pids if os.path.exists(f"/proc/{p}") and not _is_zombie(p)]


def stop(pid, timeout):
    """SIGTERM the server's process group (it was started under setsid, so pgid == pid), wait, SIGKILL."""
    import signal
    t0 = time.time()
    tree = proc_tree(pid)
    own_group = False
    try:
        own_group = os.getpgid(pid) == pid
    except OSError:
        pass

    def targets():
        return sorted(set(_alive(tree)) | set(_pgid_members(pid) if own_group else []))

    def send(sig):
        if own_group:
            try:
                os.killpg(pid, sig)
            except OSError:
                pass
        for p in _alive(tree):
            try:
                os.kill(p, sig)
            except OSError:
                pass

    send(signal.SIGTERM)
    killed = False
    while targets():
        if time.time() - t0 > timeout:
            print(f"processes {targets()} still alive {timeout}s after SIGTERM; sending SIGKILL", file=sys.stderr)
            send(signal.SIGKILL)
            killed = True
            time.sleep(0.5)
            break
        time.sleep(0.05)
    print(round((time.time() - t0) * 1000, 1), "sigkill" if killed else "")
    return 0


def huey_path(pid):
    for p in proc_tree(pid):
        try:
            with open(f"/proc/{p}/environ", "rb") as f:
                for kv in f.read().split(b"\0"):
                    if kv.startswith(b"_MLFLOW_HUEY_STORAGE_PATH="):
                        return kv.split(b"=", 1)[1].decode()
        except OSError:
            continue
    return ""


def wait_health(url, t0_ns, pid, timeout):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy
    deadline = t0_ns / 1e9 + timeout
    while True:
        try:
            with opener.open(url, timeout=2) as r:
                if r.status == 200:
                    print(round((time.time_ns() - t0_ns) / 1e6, 1))
                    return 0
        except (urllib.error.URLError, OSError, ValueError):
            pass
        try:
            wpid, _ = os.waitpid(pid, os.WNOHANG)  # not our child normally -> ChildProcessError
        except ChildProcessError:
            wpid = 0
        if wpid == pid or not os.path.exists(f"/proc/{pid}") or _is_zombie(pid):
            print(f"server process {pid} exited before {url} answered 200", file=sys.stderr)
            return 1
        if time.time() > deadline:
            print(f"timeout after {timeout}s waiting for 200 from {url}", file=sys.stderr)
            return 1
        time.sleep(0.02)


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return s[s.rindex(")") + 2] == "Z"
    except (OSError, ValueError, IndexError):
        return True


# --- results ---------------------------------------------------------------------------------


def _phase(client, prefix):
    for p in client.get("phases", []):
        if p["phase"] == prefix or p["phase"].startswith(prefix + " "):
            return p
    return None


def _get(field):
    def f(client, server):
        if client is None:
            return None
        ph = _phase(client, field[0])
        return None if ph is None else ph.get(field[1])
    return f


def _srv(fn):
    return lambda client, server: None if server is None else fn(server)


def _kb_to_mib(kb):
    return None if kb is None else kb / 1024.0


def _loadavg_max(client, server):
    xs = [p.get("loadavg_1m_at_end") for p in (client or {}).get("phases", [])]
    xs = [x for x in xs if x is not None]
    return max(xs) if xs else None


# (label, getter, higher_is_better, target_ratio, unit)
METRICS = [
    ("a_log_metric_single: calls/s", _get(("a_log_metric_single", "calls_per_s")), True, 10, "calls/s"),
    ("a_log_metric_single: p50 latency", _get(("a_log_metric_single", "lat_ms_p50")), False, None, "ms"),
    ("r_raw_http_log_metric: calls/s", _get(("r_raw_http_log_metric", "calls_per_s")), True, None, "calls/s"),
    ("r_raw_http_log_metric: p50 latency", _get(("r_raw_http_log_metric", "lat_ms_p50")), False, None, "ms"),
    ("b_log_batch: metrics/s", _get(("b_log_batch", "metrics_per_s")), True, 20, "metrics/s"),
    ("c_search_runs_max100: calls/s", _get(("c_search_runs_max100", "calls_per_s")), True, 20, "calls/s"),
    ("c_search_runs_max100: p50 latency", _get(("c_search_runs_max100", "lat_ms_p50")), False, None, "ms"),
    ("c_search_runs_max1000: calls/s", _get(("c_search_runs_max1000", "calls_per_s")), True, 20, "calls/s"),
    ("c_search_runs_max1000: p50 latency", _get(("c_search_runs_max1000", "lat_ms_p50")), False, None, "ms"),
    ("setup_runs: runs/s", _get(("setup_runs", "calls_per_s")), True, None, "runs/s"),
    ("cold start (spawn → first 200 on /health)", _srv(lambda s: s.get("cold_start_ms")), False, None, "ms"),
    ("idle RSS at start (sum VmRSS, process tree)",
     _srv(lambda s: _kb_to_mib(s["rss_start"]["rss_kb"])), False, None, "MiB"),
    ("idle RSS after run (sum VmRSS, process tree)",
     _srv(lambda s: _kb_to_mib(s["rss_end"]["rss_kb"])), False, None, "MiB"),
    ("idle PSS after run (process tree; info)",
     _srv(lambda s: _kb_to_mib(s["rss_end"].get("pss_kb"))), False, None, "MiB"),
    ("processes in server tree after run (info)",
     _srv(lambda s: s["rss_end"]["nprocs"]), False, None, "procs"),
    ("machine loadavg 1m, max over client phases (info)", _loadavg_max, False, None, "load"),
]

# Server-side rows from bench/raw_http_bench.py (<side>-r<n>.raw.json); getters take that file's JSON.
# Same format as METRICS. The MLflow targets belong to the client-measured rows above; the FastTrackML ones
# (issue: log_batch >= 3x, log_metric >= 1.5x, with the same bare-HTTP client) to these rows.
RAW_PREFIX = "raw HTTP (server-side): "
FML_TARGET_LOG_BATCH = 3
FML_TARGET_LOG_METRIC = 1.5
RAW_METRICS = [
    (RAW_PREFIX + "log_metric calls/s", _get(("raw_log_metric", "calls_per_s")), True,
     {"fasttrackml": FML_TARGET_LOG_METRIC}, "calls/s"),
    (RAW_PREFIX + "log_metric p50 latency", _get(("raw_log_metric", "lat_ms_p50")), False, None, "ms"),
    (RAW_PREFIX + "log_batch metrics/s", _get(("raw_log_batch", "metrics_per_s")), True,
     {"fasttrackml": FML_TARGET_LOG_BATCH}, "metrics/s"),
    (RAW_PREFIX + "log_batch p50 latency", _get(("raw_log_batch", "lat_ms_p50")), False, None, "ms"),
    (RAW_PREFIX + "search_runs max100 calls/s", _get(("raw_search_runs_max100", "calls_per_s")), True, None,
     "calls/s"),
    (RAW_PREFIX + "search_runs max100 p50 latency", _get(("raw_search_runs_max100", "lat_ms_p50")), False, None,
     "ms"),
    (RAW_PREFIX + "search_runs max1000 calls/s", _get(("raw_search_runs_max1000", "calls_per_s")), True, None,
     "calls/s"),
    (RAW_PREFIX + "search_runs max1000 p50 latency", _get(("raw_search_runs_max1000", "lat_ms_p50")), False,
     None, "ms"),
    (RAW_PREFIX + "get_run calls/s", _get(("raw_get_run", "calls_per_s")), True, None, "calls/s"),
    (RAW_PREFIX + "get_run p50 latency", _get(("raw_get_run", "lat_ms_p50")), False, None, "ms"),
]
RAW_NOTE = ("Rows marked *raw HTTP (server-side)* come from `bench/raw_http_bench.py`, run against the same "
            "server and corpus right after the shared client (after the idle-RSS sample): one keep-alive "
            "`requests.Session`, bodies serialised before timing, responses downloaded but not parsed — "
            "server cost plus a small fixed HTTP-client cost, without the mlflow client's serialisation and "
            "parsing that the rows above include.")


def _load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _fmt(x, unit=""):
    if x is None:
        return "—"
    if unit == "procs":
        return f"{x:g}"
    if isinstance(x, int):
        return f"{x:,}"
    ax = abs(x)
    if ax >= 100:
        return f"{x:,.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# --- suites: what each benchmark reports -----------------------------------------------------
# A suite is selected by meta.json's "suite" (default "tracking"). Per side and round it reads
# <side>-r<n>.json (client), <side>-r<n>.server.json (server record) and <side>-r<n><raw_suffix> (server-side
# phases; for the registry suite they are in the client file itself).


def _tracking_context(meta, data, raw, have_raw):
    corpus = None
    for side in data:
        for c, _s in data[side]:
            ph = c and _phase(c, "c_search_runs_max100")
            if ph:
                corpus = ph.get("runs_in_experiment")
    lines = [f"- Client: `mlflow_client_bench.py` (shared), mlflow client {meta.get('mlflow_version', '?')}, "
             f"args: `{meta.get('client_args') or '(defaults)'}`"
             + (f"; search corpus {corpus} runs" if corpus else "")]
    if have_raw:
        lines.append(f"- Server-side rows: `bench/raw_http_bench.py` (requests "
                     f"{next((x.get('requests_version') for side in raw for x in raw[side] if x), '?')}), "
                     f"args: `{meta.get('raw_http_args') or '(defaults)'}`")

    def target_note(label):
        if corpus and corpus != 2000 and label.startswith("c_search"):
            return f" (target is for 2000 runs; corpus was {corpus})"
        return ""
    return lines, target_note


def _rows_returned_footer(docs, prefixes, title):
    """'Rows returned per call' footnote over phases (of the given prefixes) that record rows_returned."""
    rr = {}
    for x in docs:
        for ph in (x or {}).get("phases", []):
            if "rows_returned" in ph and ph["phase"].startswith(prefixes):
                rr.setdefault(ph["phase"], set()).add(ph["rows_returned"])
    if not rr:
        return []
    return ["", title + "; ".join(
        f"`{k}` {', '.join(str(v) for v in sorted(vs))}" for k, vs in sorted(rr.items()))]


def _tracking_footer(data, raw, have_raw):
    if not have_raw:
        return []
    return _rows_returned_footer([x for side in raw for x in raw[side]], ("",),
                                 "Rows returned per raw search call: ")


# Registry suite (bench/registry.sh): client and raw phases are both in <side>-r<n>.json.
REG_TARGET = 20  # target for the client-measured registry throughputs (Cairn / MLflow)


def _phase_rows(phase, label, target):
    return [
        (f"{label}: calls/s", _get((phase, "calls_per_s")), True, target, "calls/s"),
        (f"{label}: p50 latency", _get((phase, "lat_ms_p50")), False, None, "ms"),
        (f"{label}: p95 latency", _get((phase, "lat_ms_p95")), False, None, "ms"),
    ]


REG_METRICS = (
    _phase_rows("create_model_version", "create_model_version", REG_TARGET)
    + _phase_rows("register_model", "register_model (runs:/…)", REG_TARGET)
    + _phase_rows("get_mv_by_alias", "get_model_version_by_alias", REG_TARGET)
    + _phase_rows("search_mv_name", "search_model_versions name='m3'", REG_TARGET)
    + _phase_rows("search_mv_all_max1000", "search_model_versions all, max_results=1000, paged", REG_TARGET)
    + _phase_rows("search_mv_run_id", "search_model_versions run_id='…'", REG_TARGET)
    + _phase_rows("get_registered_model", "get_registered_model", REG_TARGET)
    + _phase_rows("search_registered_models_max100", "search_registered_models max_results=100", REG_TARGET)
    + [
        ("seeding the search corpus over raw HTTP (info): versions/s",
         _get(("seed_model_versions", "versions_per_s")), True, None, "versions/s"),
        ("idle RSS after run (sum VmRSS, process tree; info)",
         _srv(lambda s: _kb_to_mib(s["rss_end"]["rss_kb"])), False, None, "MiB"),
        ("machine loadavg 1m, max over client phases (info)", _loadavg_max, False, None, "load"),
    ]
)
REG_RAW_METRICS = [
    (RAW_PREFIX + label, get, hib, None, unit)
    for label, get, hib, _t, unit in (
        _phase_rows("raw_get_mv_by_alias", "get_model_version_by_alias", None)
        + _phase_rows("raw_search_mv_name", "search_model_versions name='m3'", None)
        + _phase_rows("raw_search_mv_all_max1000", "search_model_versions all, max_results=1000, paged", None)
        + _phase_rows("raw_search_mv_run_id", "search_model_versions run_id='…'", None)
    )
]
REG_RAW_NOTE = ("Rows marked *raw HTTP (server-side)* come from the same `bench/registry_bench.py` run, against the "
                "same server and data, right after the matching client phase: one keep-alive `requests.Session`, "
                "the request built before timing, responses downloaded but not parsed (a paged search only picks "
                "`next_page_token` out of the bytes) — server cost plus a small fixed HTTP-client cost, without "
                "the mlflow client's parsing and entity building that the rows above include.")


def _registry_context(meta, data, raw, have_raw):
    corpus = None
    for side in data:
        for c, _s in data[side]:
            ph = c and _phase(c, "seed_model_versions")
            if ph:
                corpus = (ph.get("versions"), ph.get("models"))
    reqs = next((c.get("requests_version") for side in data for c, _s in data[side] if c), "?")
    line = (f"- Client: `bench/registry_bench.py`, mlflow client {meta.get('mlflow_version', '?')}"
            + (f" and requests {reqs} (raw rows)" if have_raw else "")
            + f", args: `{meta.get('client_args') or '(defaults)'}`")
    if corpus:
        line += f"; search corpus {corpus[0]} model versions in {corpus[1]} registered models"
    return [line], lambda label: ""


def _registry_footer(data, raw, have_raw):
    docs = [c for side in data for c, _s in data[side]]
    return _rows_returned_footer(docs, ("search", "raw_search"), "Rows returned per search call (all pages): ")


SUITES = {
    "tracking": {
        "title": "Tracking API: Cairn vs {others}",
        "metrics": METRICS,
        "raw_metrics": RAW_METRICS,
        "raw_note": RAW_NOTE,
        "raw_suffix": ".raw.json",
        "has_raw": lambda x: x is not None,
        "context": _tracking_context,
        "footer": _tracking_footer,
    },
    "registry": {
        "title": "Model registry: Cairn vs {others}",
        "metrics": REG_METRICS,
        "raw_metrics": REG_RAW_METRICS,
        "raw_note": REG_RAW_NOTE,
        "raw_suffix": ".json",
        "has_raw": lambda x: any(p["phase"].startswith("raw_") for p in (x or {}).get("phases", [])),
        "context": _registry_context,
        "footer": _registry_footer,
    },
}


def _ratio(other, cairn, hib, unit):
    """Cairn advantage over `other` (> 1 = Cairn better): cairn/other for throughputs, other/cairn otherwise."""
    if other is None or cairn is None or unit in ("procs", "load"):
        return None
    if hib:
        return cairn / other if other else None
    return other / cairn if cairn else None


def render(d):
    meta = _load(os.path.join(d, "meta.json")) or {}
    suite = SUITES[meta.get("suite", "tracking")]
    rounds = int(meta.get("rounds", 0)) or _guess_rounds(d)
    others = _others(meta)
    cols = others + ["cairn"]
    data, raw = {}, {}
    for side in cols:
        data[side] = [(_load(os.path.join(d, f"{side}-r{r}.json")), _load(os.path.join(d, f"{side}-r{r}.server.json")))
                      for r in range(1, rounds + 1)]
        raw[side] = [_load(os.path.join(d, f"{side}-r{r}{suite['raw_suffix']}")) for r in range(1, rounds + 1)]
    have_raw = any(suite["has_raw"](x) for side in cols for x in raw[side])
    # (label, per-side list of per-round values, higher_is_better, target, unit); None label = section row
    rows = []
    for label, get, hib, target, unit in suite["metrics"]:
        rows.append((label, {side: [get(c, s) for c, s in data[side]] for side in cols}, hib, target, unit))
    if have_raw:
        rows.append((None, None, None, None, None))
        for label, get, hib, target, unit in suite["raw_metrics"]:
            rows.append((label, {side: [get(x, None) for x in raw[side]] for side in cols}, hib, target, unit))
    n_ok = {side: sum(1 for c, s in data[side] if c is not None and s is not None) for side in cols}
    context_lines, target_note = suite["context"](meta, data, raw, have_raw)

    L = []
    title = suite["title"].format(others=" and ".join(NAMES[o] for o in others))
    L.append(f"### {title} — {meta.get('date', '?')}")
    L.append("")
    L.append(f"- Machine: {meta.get('nproc', '?')} CPUs ({meta.get('cpu_model', '?')}), "
             f"{meta.get('mem_total', '?')} RAM, kernel {meta.get('kernel', '?')}; "
             f"loadavg at start `{meta.get('loadavg_start', '?')}`, at end `{meta.get('loadavg_end', '?')}`")
    backend = meta.get("backend", "sqlite")
    every = "both" if len(cols) == 2 else f"all {len(cols)}" if len(cols) > 3 else "all three"
    if backend == "postgres":
        bdesc = (f"PostgreSQL for {every} (" + str(meta.get("pg_version", "?")) +
                 "; a fresh database per server per round, same server instance)")
    else:
        bdesc = f"SQLite for {every} (fresh temp directory per server per round)"
    L.append(f"- Backend: {bdesc}")
    servers = []
    if "mlflow" in others:
        servers.append(f"MLflow {meta.get('mlflow_version', '?')}: `mlflow server --workers 1` (uvicorn), "
                       "default settings otherwise")
    if "fasttrackml" in others:
        servers.append(f"FastTrackML {meta.get('fml_version', '?')}: `fml server`, default settings otherwise "
                       "(cold start: first 200 from `GET /api/2.0/mlflow/experiments/get-by-name"
                       "?experiment_name=Default`)")
    servers.append(f"Cairn: {meta.get('cairn_version', '—')} (commit {meta.get('git_commit', '?')})")
    L.append("- " + "; ".join(servers))
    L.extend(context_lines)
    order = " → ".join(NAMES.get(x, x) for x in meta.get("order", []))
    L.append(f"- Rounds: {rounds} ({order} in each round, one server at a time); "
             f"complete rounds: {', '.join(f'{NAMES[s]} {n_ok[s]}' for s in cols)}; values are medians over rounds")
    L.append(f"- Command: `{meta.get('command', '?')}`")
    busy = [v for side in cols for c, s in data[side] for v in [_loadavg_max(c, s)] if v is not None]
    busy += [v for side in cols for x in raw[side] for v in [_loadavg_max(x, None)] if v is not None]
    ncpu = meta.get("nproc")
    if busy and isinstance(ncpu, int) and max(busy) > ncpu:
        L.append(f"- **Note:** 1-minute loadavg reached {max(busy):g} on {ncpu} CPUs during the measured phases "
                 "(other processes were competing); treat the absolute numbers as noisy")
    L.append("")
    meds = " | ".join(f"{NAMES[s]} (median)" for s in cols)
    if len(others) == 1:
        L.append(f"| Metric | Unit | {meds} | Cairn advantage (>1 = Cairn better) | Advantage = | Target |")
    else:
        adv = " | ".join(f"Cairn advantage vs {NAMES[o]}" for o in others)
        tgt = " | ".join(f"Target vs {NAMES[o]}" for o in others)
        L.append(f"| Metric | Unit | {meds} | {adv} | Advantage = (>1 = Cairn better) | {tgt} |")
    ncol = 2 + len(cols) + 2 * len(others) + 1
    L.append("|---|---|" + "--:|" * (len(cols) + len(others)) + "---|" * (1 + len(others)))
    for label, vals, hib, target, unit in rows:
        if label is None:
            L.append("| ***Server-side: raw HTTP, bare `requests.Session` (no mlflow client)*** |" + "  |" * (ncol - 1))
            continue
        med = {side: _median(vals[side]) for side in cols}
        c = med["cairn"]
        rtxts, ttxts = [], []
        for o in others:
            ratio = _ratio(med[o], c, hib, unit)
            rtxts.append("—" if ratio is None else f"{ratio:.2f}×")
            t = _target_for(target, o)
            if t is None:
                ttxt = ""
            elif ratio is None:
                ttxt = f"≥ {t}× (—)"
            else:
                ttxt = f"≥ {t}× " + ("**met**" if ratio >= t else "**missed**")
            if t is not None:
                ttxt += target_note(label)
            ttxts.append(ttxt)
        other = NAMES[others[0]] if len(others) == 1 else "other"
        rdef = "" if unit in ("procs", "load") else (f"Cairn / {other}" if hib else f"{other} / Cairn")
        L.append(f"| {label} | {unit} | " + " | ".join(_fmt(med[s], unit) for s in cols)
                 + f" | {' | '.join(rtxts)} | {rdef} | {' | '.join(ttxts)} |")
    if have_raw:
        L.append("")
        L.append(suite["raw_note"])
    L.append("")
    L.append("<details><summary>Per-round values</summary>")
    L.append("")
    hdr = ["Metric"] + [f"{NAMES[s]} r{r}" for s in cols for r in range(1, rounds + 1)]
    L.append("| " + " | ".join(hdr) + " |")
    L.append("|---|" + "--:|" * (len(cols) * rounds))
    for label, vals, _hib, _t, unit in rows:
        if label is None:
            continue
        flat = [v for side in cols for v in vals[side]]
        L.append(f"| {label} ({unit}) | " + " | ".join(_fmt(v, unit) for v in flat) + " |")
    L.extend(suite["footer"](data, raw, have_raw))
    L.append("")
    L.append("</details>")
    return "\n".join(L) + "\n"


def _guess_rounds(d):
    n = 0
    for f in os.listdir(d):
        if f.endswith(".server.json"):
            try:
                n = max(n, int(f.rsplit("-r", 1)[1].split(".")[0]))
            except (IndexError, ValueError):
                pass
    return n


def markers(d):
    """Each suite and backend has its own results section: SQLite the plain markers, others suffixed."""
    meta = _load(os.path.join(d, "meta.json")) or {}
    suite, backend = meta.get("suite", "tracking"), meta.get("backend", "sqlite")
    name = f"{suite}-results"
    if _others(meta) == ["fasttrackml"]:
        name += "-fasttrackml"  # FastTrackML without MLflow: its own section, the MLflow one stays as it is
    if backend != "sqlite":
        name += f"-{backend}"
    return (f"<!-- {name}:start -->", f"<!-- {name}:end -->")


def update_docs(d, doc):
    with open(doc) as f:
        text = f.read()
    start_mark, end_mark = markers(d)
    i, j = text.find(start_mark), text.find(end_mark)
    if i < 0 or j < 0 or j < i:
        print(f"{doc}: markers {start_mark} / {end_mark} not found", file=sys.stderr)
        return 1
    new = text[: i + len(start_mark)] + "\n" + render(d) + text[j:]
    with open(doc, "w") as f:
        f.write(new)
    return 0


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, a = argv[0], argv[1:]
    if cmd == "free-port":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
        s.close()
    elif cmd == "wait-health":
        return wait_health(a[0], int(a[1]), int(a[2]), float(a[3]))
    elif cmd == "proc-stats":
        print(json.dumps(proc_stats(int(a[0]))))
    elif cmd == "stop":
        return stop(int(a[0]), float(a[1]))
    elif cmd == "huey-path":
        print(huey_path(int(a[0])))
    elif cmd == "pg-url":
        u = urllib.parse.urlsplit(a[0])
        print(urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + a[1], u.query, u.fragment)))
    elif cmd == "server-record":
        out, rest = a[0], a[1:]
        sep = rest.index("--")
        opts, srv_cmd = rest[:sep], rest[sep + 1:]
        o = dict(zip(opts[0::2], opts[1::2]))
        rec = {
            "cold_start_ms": float(o["--cold-start-ms"]),
            "stop_ms": float(o["--stop-ms"]),
            "rss_start": json.loads(o["--rss-start"]),
            "rss_end": json.loads(o["--rss-end"]),
            "command": srv_cmd,
        }
        with open(out, "w") as f:
            json.dump(rec, f, indent=1)
    elif cmd == "meta":
        out, meta = a[0], {}
        if os.path.exists(out):
            meta = _load(out) or {}
        for kv in a[1:]:
            k, v = kv.split("=", 1)
            try:
                x = json.loads(v)
                # Only values written in JSON's own form: a short commit id such as 4361e66 parses as a float.
                meta[k] = x if json.dumps(x, separators=(",", ":"), ensure_ascii=False) == v else v
            except ValueError:
                meta[k] = v
        with open(out, "w") as f:
            json.dump(meta, f, indent=1)
    elif cmd == "render":
        sys.stdout.write(render(a[0]))
    elif cmd == "update-docs":
        return update_docs(a[0], a[1])
    else:
        print(f"unknown subcommand {cmd}\n{__doc__}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
