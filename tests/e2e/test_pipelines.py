"""Pipelines end to end: `cairn run` on a small project (python scripts, params.yaml, a metrics file, one
stage logging with the official mlflow client) against the session's server — exit codes, the JSON
report, caching (second run all cached, a param change reruns only what it affects and `status` says
why, a deleted out restored without rerunning, byte-identical outs keep downstream cached), and the
nested MLflow runs with their params, metrics, tags, datasets and log as the mlflow client sees them;
Ctrl-C cancels a running step (its whole process group) and exits 130. Steps on Ray: test_pipelines_ray.py.

Cairn-only: `mlflow server` has no pipelines.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import uuid
import time
from pathlib import Path

import pytest
import requests

from conftest import cairn_bin, unique

pytestmark = pytest.mark.cairn_only

PARAMS = "prepare:\n  scale: 2\ntrain:\n  C: 1.0\n"

PIPELINE = """\
stages:
  prepare:
    cmd: python prepare.py
    deps: [prepare.py, raw.csv]
    params: [prepare.scale]
    outs: [prepared.csv]
  train:
    cmd: python train.py
    deps: [train.py, prepared.csv]
    params: [train.C]
    outs: [model]
    metrics: [eval.json]
  report:
    cmd: python report.py
    deps: [report.py, eval.json]
    outs: [report.txt]
"""

# Each script counts its executions in $COUNT_DIR (outside the project, so counting changes nothing
# a cache key covers).
COUNT = """\
import os, pathlib
def count(name):
    p = pathlib.Path(os.environ["COUNT_DIR"]) / name
    p.write_text(str(int(p.read_text()) + 1 if p.exists() else 1))
"""

PREPARE = COUNT + """\
import yaml
count("prepare")
scale = yaml.safe_load(open("params.yaml"))["prepare"]["scale"]
rows = [int(line) * scale for line in open("raw.csv").read().split()]
open("prepared.csv", "w").write("\\n".join(map(str, rows)) + "\\n")
"""

TRAIN = COUNT + """\
import json, pathlib, yaml, mlflow
count("train")
C = yaml.safe_load(open("params.yaml"))["train"]["C"]
rows = [int(x) for x in open("prepared.csv").read().split()]
model = pathlib.Path("model")
model.mkdir(exist_ok=True)
(model / "weights.txt").write_text(f"C={C} sum={sum(rows)}\\n")
(model / "MLmodel").write_text("flavors: {}\\n")
accuracy = round(1.0 - 0.1 * C, 4)
json.dump({"accuracy": accuracy, "rows": len(rows)}, open("eval.json", "w"))
with mlflow.start_run():                      # MLFLOW_RUN_ID: the stage's own run
    mlflow.log_metric("script_metric", 42.0)
    mlflow.log_param("script_param", "from-train.py")
"""

REPORT = COUNT + """\
import json
count("report")
acc = json.load(open("eval.json"))["accuracy"]
open("report.txt", "w").write(f"accuracy {acc}\\n")
"""


def make_project(root: Path, pipeline: str = PIPELINE, salt: str | None = None) -> Path:
    """A project whose stages' keys are its own: `salt.py` (a source file, so in every stage's default
    code scope) holds `salt`, else a fresh one. Tests share one server, whose output cache is shared
    by design; the salt keeps one test's results from being another's cache hits. Projects given the
    same salt (and files) share results, as two checkouts of one commit do."""
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "salt.py": f"# {salt or uuid.uuid4().hex}\n",
        "cairn.yaml": pipeline,
        "params.yaml": PARAMS,
        "raw.csv": "1\n2\n3\n",
        "prepare.py": PREPARE,
        "train.py": TRAIN,
        "report.py": REPORT,
    }
    for name, text in files.items():
        (root / name).write_text(text)
    return root


class Project:
    def __init__(self, root: Path, server: str, experiment: str):
        self.root = root
        self.server = server
        self.counts = root.parent / f"{root.name}-counts"
        self.counts.mkdir(exist_ok=True)
        self.experiment = experiment
        self.runs = 0

    def env(self) -> dict:
        env = dict(os.environ)
        # The stages' `python` is the test venv's (mlflow, pyyaml).
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["COUNT_DIR"] = str(self.counts)
        env["MLFLOW_EXPERIMENT_NAME"] = self.experiment
        env.pop("MLFLOW_RUN_ID", None)
        return env

    def cairn(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(cairn_bin()), *args], cwd=self.root, env=self.env(),
            capture_output=True, text=True, timeout=timeout,
        )

    def run(self, *args: str, expect: int = 0) -> dict:
        """`cairn run --json` against the server; returns the report after checking the exit code."""
        self.runs += 1
        out_file = self.root.parent / f"{self.root.name}-report-{self.runs}.json"
        res = self.cairn("run", "--server", self.server, "--json", str(out_file), *args)
        assert res.returncode == expect, (
            f"cairn run {' '.join(args)} exited {res.returncode}, expected {expect}\n"
            f"--- stdout\n{res.stdout}\n--- stderr\n{res.stderr}"
        )
        return json.loads(out_file.read_text())

    def status(self) -> dict:
        res = self.cairn("pipeline", "status", "--json")
        assert res.returncode == 0, res.stderr
        return {s["name"]: s for s in json.loads(res.stdout)["stages"]}

    def count(self, stage: str) -> int:
        p = self.counts / stage
        return int(p.read_text()) if p.exists() else 0


def by_name(report: dict) -> dict:
    return {s["name"]: s for s in report["stages"]}


def statuses(report: dict) -> dict:
    return {s["name"]: s["status"] for s in report["stages"]}


@pytest.fixture
def project(tmp_path, cairn_server):
    return Project(make_project(tmp_path / "proj"), cairn_server.url, unique("pipelines"))


def test_runs_caches_restores_and_explains(project, client):
    first = project.run()
    assert set(first) == {"pipeline_run_id", "stages", "gates", "promotion"}
    assert first["gates"] == [] and first["promotion"] is None
    assert [s["name"] for s in first["stages"]] == ["prepare", "train", "report"]
    for s in first["stages"]:
        assert set(s) == {"name", "status", "run_id", "duration_ms", "reason"}
        assert s["status"] == "ran" and len(s["run_id"]) == 32 and s["duration_ms"] >= 0
    assert {n: project.count(n) for n in ("prepare", "train", "report")} == {"prepare": 1, "train": 1, "report": 1}
    model_files = sorted(p.name for p in (project.root / "model").iterdir())
    assert model_files == ["MLmodel", "weights.txt"]

    # Nothing changed: everything is cached and nothing runs.
    second = project.run()
    assert statuses(second) == {"prepare": "cached", "train": "cached", "report": "cached"}
    assert project.count("train") == 1
    assert second["pipeline_run_id"] != first["pipeline_run_id"]
    assert {s["status"] for s in project.status().values()} == {"up_to_date"}

    # A param change: status explains it, and only train and what reads its outs rerun.
    (project.root / "params.yaml").write_text(PARAMS.replace("C: 1.0", "C: 0.5"))
    status = project.status()
    assert status["prepare"]["status"] == "up_to_date"
    assert status["train"]["status"] == "run"
    assert "params.train.C 1.0 → 0.5" in status["train"]["reason"]
    assert status["report"]["status"] == "pending"
    third = project.run()
    assert statuses(third) == {"prepare": "cached", "train": "ran", "report": "ran"}
    assert "params.train.C 1.0 → 0.5" in by_name(third)["train"]["reason"]
    assert "dep eval.json changed" in by_name(third)["report"]["reason"]
    assert (project.count("prepare"), project.count("train")) == (1, 2)

    # A deleted and a modified out come back from the cache without running anything.
    weights = (project.root / "model" / "weights.txt").read_text()
    subprocess.run(["rm", "-r", str(project.root / "model")], check=True)
    (project.root / "report.txt").write_text("tampered\n")
    assert project.status()["train"]["status"] == "restore"
    fourth = project.run()
    assert statuses(fourth) == {"prepare": "cached", "train": "cached", "report": "cached"}
    assert "out model missing" in by_name(fourth)["train"]["reason"]
    assert "out report.txt modified" in by_name(fourth)["report"]["reason"]
    assert (project.root / "model" / "weights.txt").read_text() == weights
    assert (project.root / "report.txt").read_text().startswith("accuracy")
    assert project.count("train") == 2

    # Back to C = 1.0: the cache holds that result too.
    (project.root / "params.yaml").write_text(PARAMS)
    back = project.run()
    assert statuses(back) == {"prepare": "cached", "train": "cached", "report": "cached"}
    assert project.count("train") == 2

    # A change that leaves prepare's out byte-identical: prepare reruns, downstream stays cached.
    with open(project.root / "prepare.py", "a") as f:
        f.write("# a comment changes the script, not its output\n")
    cutoff = project.run()
    assert statuses(cutoff) == {"prepare": "ran", "train": "cached", "report": "cached"}
    assert "dep prepare.py changed" in by_name(cutoff)["prepare"]["reason"]

    # -P overrides params.yaml for this run only.
    overridden = project.run("-P", "train.C=0.25")
    assert statuses(overridden)["train"] == "ran"
    assert (project.root / "params.yaml").read_text() == PARAMS
    train_run = client.get_run(by_name(overridden)["train"]["run_id"])
    assert train_run.data.params["train.C"] == "0.25"
    assert json.loads((project.root / "eval.json").read_text())["accuracy"] == 0.975

    # What the server holds for the first run: a parent, a nested run per stage.
    parent = client.get_run(first["pipeline_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["cairn.pipeline"] == "proj"
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
    )
    assert sorted(r.data.tags["mlflow.runName"] for r in children) == ["prepare", "report", "train"]
    train = client.get_run(next(r.info.run_id for r in children if r.data.tags["mlflow.runName"] == "train"))
    assert train.info.run_id == by_name(first)["train"]["run_id"]
    assert train.info.status == "FINISHED"
    assert train.data.params["train.C"] == "1.0"
    assert train.data.metrics["accuracy"] == 0.9 and train.data.metrics["rows"] == 3
    # The script's own mlflow calls landed in the stage's run.
    assert train.data.metrics["script_metric"] == 42.0
    assert train.data.params["script_param"] == "from-train.py"
    assert train.data.tags["cairn.stage.cache"] == "miss"
    assert train.data.tags["cairn.stage.status"] == "ran"
    assert int(train.data.tags["cairn.stage.duration_ms"]) >= 0
    inputs = {d.dataset.name: d for d in train.inputs.dataset_inputs}
    assert {"train.py", "prepared.csv", "model", "eval.json"} <= set(inputs)
    context = {n: {t.key: t.value for t in d.tags}["mlflow.data.context"] for n, d in inputs.items()}
    assert context["prepared.csv"] == "input" and context["model"] == "output"
    assert len(inputs["prepared.csv"].dataset.digest) == 32
    import mlflow

    log = mlflow.artifacts.download_artifacts(
        run_id=train.info.run_id, artifact_path="stage.log", dst_path=str(project.root.parent)
    )
    assert "$ python train.py" in Path(log).read_text()
    # A cached stage is a run too, marked as a hit.
    cached_train = client.get_run(by_name(second)["train"]["run_id"])
    assert cached_train.data.tags["cairn.stage.cache"] == "hit"
    assert cached_train.data.tags["mlflow.parentRunId"] == second["pipeline_run_id"]
    assert cached_train.data.metrics["accuracy"] == 0.9
    assert cached_train.data.tags["cairn.stage.source_run_id"] == train.info.run_id


def test_a_failed_stage_skips_its_downstream(project, client):
    (project.root / "prepare.py").write_text("import sys\nprint('bad data')\nsys.exit(3)\n")
    report = project.run(expect=2)
    s = by_name(report)
    assert s["prepare"]["status"] == "failed" and "exit code 3" in s["prepare"]["reason"]
    assert s["train"]["status"] == "skipped" and s["report"]["status"] == "skipped"
    assert s["train"]["run_id"] is None and "prepare" in s["train"]["reason"]
    failed = client.get_run(s["prepare"]["run_id"])
    assert failed.info.status == "FAILED"
    assert client.get_run(report["pipeline_run_id"]).info.status == "FAILED"
    # A stage that exits 0 without writing its out failed too.
    (project.root / "prepare.py").write_text("print('forgot the output')\n")
    assert by_name(project.run(expect=2))["prepare"]["reason"].startswith("the stage did not produce prepared.csv")


def test_configuration_errors_exit_4_naming_file_line_and_column(tmp_path, cairn_server):
    cases = {
        "stages:\n  prepare:\n    cmd: python prepare.py\n    depz: [raw.csv]\n": "cairn.yaml:4:5:",
        "stages:\n  prepare:\n    cmd: [python prepare.py\n": "cairn.yaml:",
        "stages:\n  a:\n    cmd: x\n    deps: [b.txt]\n    outs: [a.txt]\n"
        "  b:\n    cmd: x\n    deps: [a.txt]\n    outs: [b.txt]\n": "cycle",
        "stages:\n  train:\n    cmd: python train.py\n    params: [train.nope]\n": "cairn.yaml:4:14:",
    }
    for i, (text, expected) in enumerate(cases.items()):
        project = Project(make_project(tmp_path / f"bad{i}", text), cairn_server.url, unique("pipelines"))
        out = tmp_path / f"bad{i}.json"
        res = project.cairn("run", "--server", cairn_server.url, "--json", str(out))
        assert res.returncode == 4, (text, res.returncode, res.stderr)
        assert expected in res.stderr, (text, res.stderr)
        assert json.loads(out.read_text())["stages"] == []
        assert project.cairn("pipeline", "validate").returncode == 4
    good = Project(make_project(tmp_path / "good"), cairn_server.url, unique("pipelines"))
    assert good.cairn("run", "nosuchstage").returncode == 4


def test_an_unreachable_server_is_infrastructure(project):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = project.cairn("run", "--server", f"http://127.0.0.1:{port}")
    assert res.returncode == 3, res.stderr
    assert "cannot reach the tracking server" in res.stderr
    assert project.count("prepare") == 0


def test_independent_stages_run_in_parallel_and_dvc_yaml_runs_as_is(tmp_path, cairn_server):
    root = tmp_path / "par"
    root.mkdir()
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    (root / "dvc.yaml").write_text(textwrap.dedent(f"""\
        stages:
          work:
            foreach: [a, b]
            do:
              cmd: date +%s.%N > {stamps}/${{item}}.start && sleep 1.5 && echo ${{item}} > out-${{item}}.txt && date +%s.%N > {stamps}/${{item}}.end
              outs: ["out-${{item}}.txt"]
          join:
            cmd: cat out-a.txt out-b.txt > joined.txt
            deps: [out-a.txt, out-b.txt]
            outs: [joined.txt]
        """))
    project = Project(root, cairn_server.url, unique("pipelines"))
    report = project.run("--file", "dvc.yaml", "--jobs", "2")
    assert [s["name"] for s in report["stages"]] == ["work@a", "work@b", "join"]
    assert (root / "joined.txt").read_text() == "a\nb\n"
    t = {f"{x}.{e}": float((stamps / f"{x}.{e}").read_text()) for x in "ab" for e in ("start", "end")}
    assert t["a.start"] < t["b.end"] and t["b.start"] < t["a.end"], f"the two stages did not overlap: {t}"
    # Only `join` and its upstream when asked for `join`; all cached now.
    again = project.run("--file", "dvc.yaml", "join")
    assert statuses(again) == {"work@a": "cached", "work@b": "cached", "join": "cached"}


def test_validate_reports_imports_outside_deps_and_code(tmp_path, cairn_server):
    root = tmp_path / "trap"
    root.mkdir()
    (root / "helpers.py").write_text("def f():\n    return 1\n")
    (root / "train.py").write_text("import json\nfrom helpers import f\nprint(f())\n")
    narrow = "stages:\n  train:\n    cmd: python train.py\n    deps: [train.py]\n    code: [train.py]\n    outs: [m.txt]\n"
    (root / "cairn.yaml").write_text(narrow)
    project = Project(root, cairn_server.url, unique("pipelines"))
    res = project.cairn("pipeline", "validate")
    assert res.returncode == 4, res.stdout + res.stderr
    assert "helpers.py" in res.stdout and "train.py imports helpers" in res.stdout
    # Declared as a dep, or left to the default code scope (the whole project), it is covered.
    (root / "cairn.yaml").write_text(narrow.replace("deps: [train.py]", "deps: [train.py, helpers.py]"))
    assert project.cairn("pipeline", "validate").returncode == 0
    (root / "cairn.yaml").write_text(narrow.replace("    code: [train.py]\n", "").replace("python train.py", "python train.py > m.txt"))
    assert project.cairn("pipeline", "validate").returncode == 0
    # And the default scope puts the helper in the key: changing it reruns the stage, saying why.
    assert statuses(project.run()) == {"train": "ran"}
    (root / "helpers.py").write_text("def f():\n    return 2\n")
    st = project.status()["train"]
    assert st["status"] == "run" and "code changed: helpers.py" in st["reason"], st


def test_gates_decide_the_exit_code(tmp_path, cairn_server, client):
    gated = PIPELINE + textwrap.dedent("""\
        gates:
          - metric: accuracy
            op: ">="
            value: 0.95
          - metric: accuracy
            compare_to: champion
        promote:
          model: model
          name: gated-model
          alias: champion
        """)
    project = Project(make_project(tmp_path / "gated", gated), cairn_server.url, unique("pipelines"))
    report = project.run(expect=1)
    assert statuses(report) == {"prepare": "ran", "train": "ran", "report": "ran"}
    absolute, versus = report["gates"]
    assert absolute == {"name": "accuracy >= 0.95", "passed": False, "observed": 0.9, "threshold": 0.95, "baseline": None}
    # No model behind @champion yet: the comparison is skipped (passes), with no baseline.
    assert versus["passed"] is True and versus["baseline"] is None and versus["observed"] == 0.9
    # The stages succeeded: the candidate is registered, but no alias moves while a gate fails.
    assert report["promotion"] == {"name": "gated-model", "version": "1", "aliases": []}
    parent = client.get_run(report["pipeline_run_id"])
    assert parent.info.status == "FAILED"
    assert parent.data.tags["cairn.gate.0"].startswith("failed: accuracy >= 0.95")
    assert parent.data.tags["cairn.gate.1"].startswith("passed: accuracy vs @champion")
    # A better model passes both, from the cache for everything but train and report.
    (project.root / "params.yaml").write_text(PARAMS.replace("C: 1.0", "C: 0.2"))
    passed = project.run()
    assert [g["passed"] for g in passed["gates"]] == [True, True]
    assert passed["gates"][0]["observed"] == 0.98
    assert passed["promotion"] == {"name": "gated-model", "version": "2", "aliases": ["champion"]}
    assert client.get_model_version_by_alias("gated-model", "champion").version == "2"


def test_register_stores_the_snapshot_and_runs_are_recorded_on_the_server(project):
    base = project.server
    first = project.cairn("pipeline", "register", "churn-e2e", "--server", base)
    assert first.returncode == 0, first.stderr
    assert "registered pipeline churn-e2e version 1" in first.stdout
    got = requests.get(f"{base}/api/cairn/v1/pipelines/churn-e2e").json()["pipeline"]
    paths = sorted(f["path"] for f in got["files"])
    # Inputs only: the code, the pipeline and params files, the source data; no outs, no .cairn state.
    assert paths == ["cairn.yaml", "params.yaml", "prepare.py", "raw.csv", "report.py", "salt.py", "train.py"]
    served = requests.get(f"{base}/api/cairn/v1/pipelines/churn-e2e/files/train.py")
    assert served.status_code == 200 and served.text == TRAIN
    # Nothing changed: the same version, nothing uploaded.
    again = project.cairn("pipeline", "register", "churn-e2e", "--server", base)
    assert again.returncode == 0 and "unchanged: version 1" in again.stdout, again.stdout
    (project.root / "train.py").write_text(TRAIN + "# tweak\n")
    third = project.cairn("pipeline", "register", "churn-e2e", "--server", base)
    assert "version 2 (7 files, 1 uploaded" in third.stdout, third.stdout
    bad = project.cairn("pipeline", "register", "bad name", "--server", base)
    assert bad.returncode == 4 and "pipeline name" in bad.stderr, bad.stderr

    # A run is recorded beside its MLflow run, with its DAG, report and exit code, on the change log.
    report = project.run()
    run_id = report["pipeline_run_id"]
    rec = requests.get(f"{base}/api/cairn/v1/pipeline-runs/{run_id}").json()["pipeline_run"]
    assert rec["status"] == "succeeded" and rec["exit_code"] == 0
    assert rec["report"]["stages"] == report["stages"]
    assert rec["dag"] == [
        {"name": "prepare", "needs": []},
        {"name": "train", "needs": ["prepare"]},
        {"name": "report", "needs": ["train"]},
    ]
    events = requests.get(f"{base}/api/cairn/v1/events").json()["events"]
    mine = [(e["kind"], e["detail"].get("version") or e["detail"].get("run_id")) for e in events
            if e["topic"] == "pipeline" and e["subject"] in ("churn-e2e", "proj")]
    assert ("registered", 1) in mine and ("registered", 2) in mine
    assert mine[-2:] == [("run_started", run_id), ("run_finished", run_id)]

    # A failing stage: the record says failed, exit 2.
    (project.root / "report.py").write_text("raise SystemExit(3)\n")
    failed = project.run(expect=2)
    rec = requests.get(f"{base}/api/cairn/v1/pipeline-runs/{failed['pipeline_run_id']}").json()["pipeline_run"]
    assert (rec["status"], rec["exit_code"]) == ("failed", 2)


def test_ctrl_c_cancels_running_local_steps_and_exits_130(tmp_path, cairn_server, client):
    root = tmp_path / "intr"
    root.mkdir()
    # A compound command: only killing the step's process group stops the sleep.
    (root / "cairn.yaml").write_text(textwrap.dedent("""\
        stages:
          long:
            cmd: echo started > started.txt; sleep 97.25; touch late.txt
            outs: [late.txt]
          later:
            cmd: cp late.txt later.txt
            deps: [late.txt]
            outs: [later.txt]
        """))
    project = Project(root, cairn_server.url, unique("pipelines"))
    out = tmp_path / "intr.json"
    proc = subprocess.Popen(
        [str(cairn_bin()), "run", "--server", cairn_server.url, "--json", str(out)],
        cwd=root, env=project.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (root / "started.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (root / "started.txt").exists(), "the step never started"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    left = subprocess.run(["pgrep", "-f", "sleep 97.25"], capture_output=True, text=True).stdout.split()
    assert not left, f"the step's sleep survived the interrupt: {left}"
    s = by_name(json.loads(out.read_text()))
    assert s["long"]["status"] == "failed" and s["long"]["reason"] == "cancelled"
    assert s["later"]["status"] == "skipped"
    assert client.get_run(s["long"]["run_id"]).info.status == "FAILED"
    assert not (root / "late.txt").exists()
    assert not list((root / ".cairn" / "state" / "runs").iterdir()), "the run's stop marker was left"


def test_outputs_computed_in_one_checkout_are_restored_in_another_through_the_server(tmp_path, cairn_server):
    """The shared cache: outs go to the server's artifact store, content-addressed, so a second checkout
    (a CI job, a colleague's laptop) with no local cache restores them instead of rerunning."""
    experiment = unique("pipelines")
    salt = uuid.uuid4().hex  # two checkouts of one commit
    first = Project(make_project(tmp_path / "laptop", salt=salt), cairn_server.url, experiment)
    assert set(statuses(first.run()).values()) == {"ran"}
    elsewhere = Project(make_project(tmp_path / "ci", salt=salt), cairn_server.url, experiment)
    elsewhere.counts = first.counts  # the same counters: nothing may run again
    assert not (elsewhere.root / ".cairn").exists() and not (elsewhere.root / "model").exists()
    report = elsewhere.run()
    assert statuses(report) == {"prepare": "cached", "train": "cached", "report": "cached"}, report
    assert {n: first.count(n) for n in ("prepare", "train", "report")} == {"prepare": 1, "train": 1, "report": 1}
    for out in ("prepared.csv", "model/weights.txt", "model/MLmodel", "eval.json", "report.txt"):
        assert (elsewhere.root / out).read_bytes() == (first.root / out).read_bytes(), out
    # A changed param misses everywhere: the key covers it.
    (elsewhere.root / "params.yaml").write_text(PARAMS.replace("C: 1.0", "C: 0.3"))
    assert statuses(elsewhere.run())["train"] == "ran"
