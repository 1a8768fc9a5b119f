"""Gates, promotion and `cairn ci` end to end, against the session's server with the real mlflow client:
a first model passes the absolute gate with the comparison skipped (no baseline yet) and is registered
and aliased; a worse one fails the comparison (exit 1), is registered with only the candidate alias and
leaves the champion where it was; a pull request decides but promotes nothing; the Markdown, JSON and
JUnit reports; the gate record in the native API and on the change log; and the alias compare-and-set
that makes two promotions unable to overwrite each other, raced over HTTP.

Cairn-only: `mlflow server` has no pipelines, no native API and no compare-and-set.
"""

from __future__ import annotations

import json
from pathlib import Path
import textwrap
import threading
import xml.etree.ElementTree as ET

import pytest
import requests

from conftest import cairn_bin, unique
from test_pipelines import PARAMS, PIPELINE, Project, make_project

pytestmark = pytest.mark.cairn_only

API = "/api/cairn/v1"


def gated(model: str) -> str:
    return PIPELINE + textwrap.dedent(f"""\
        gates:
          - metric: accuracy
            op: ">="
            value: 0.5
          - metric: accuracy
            compare_to: champion
            min_delta: 0.0
        promote:
          model: model
          name: {model}
          alias: champion
          candidate_alias: candidate
        """)


class CiProject(Project):
    def ci(self, *args: str, expect: int = 0, env: dict | None = None) -> tuple[dict, str, str, ET.Element]:
        """`cairn ci` with the three reports next to the project; returns them after checking the exit code."""
        self.runs += 1
        out = self.root.parent / f"{self.root.name}-ci-{self.runs}"
        out.mkdir()
        md, js, junit = out / "report.md", out / "report.json", out / "junit.xml"
        extra = dict(env or {})
        base_env = self.env
        self.env = lambda: {**{k: v for k, v in base_env().items()
                               if k not in ("GITHUB_EVENT_NAME", "CI_MERGE_REQUEST_IID", "GITHUB_STEP_SUMMARY")},
                            **extra}
        try:
            res = self.cairn("ci", "--server", self.server, "--report-md", str(md), "--report-json", str(js),
                             "--junit", str(junit), "--comment-key", "churn", *args)
        finally:
            self.env = base_env
        assert res.returncode == expect, (
            f"cairn ci {' '.join(args)} exited {res.returncode}, expected {expect}\n"
            f"--- stdout\n{res.stdout}\n--- stderr\n{res.stderr}"
        )
        return json.loads(js.read_text()), md.read_text(), res.stderr, ET.parse(junit).getroot()


@pytest.fixture
def model_name():
    return unique("ci-model")


@pytest.fixture
def project(tmp_path, cairn_server, model_name):
    root = make_project(tmp_path / "proj", gated(model_name))
    (root / "params.yaml").write_text(PARAMS.replace("C: 1.0", "C: 0.2"))  # accuracy 0.98
    return CiProject(root, cairn_server.url, unique("pipelines-ci"))


def gate_cases(junit: ET.Element) -> list[ET.Element]:
    return [tc for tc in junit.iter("testcase") if tc.get("classname") == "cairn.gates"]


def change_log(base: str) -> list[dict]:
    entries, after = [], 0
    while True:
        r = requests.get(f"{base}{API}/events", params={"after": after, "max_results": 1000}, timeout=30)
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) == {"events", "last_seq", "head"}
        entries += page["events"]
        if not page["events"] or page["last_seq"] >= page["head"]:
            return entries
        after = page["last_seq"]


def test_promotes_a_first_model_then_refuses_a_worse_one(project, client, model_name, cairn_server):
    base = cairn_server.url
    # 1. No champion yet: the absolute gate passes, the comparison is skipped with its reason; the model is
    #    registered as v1 and gets both aliases.
    first, md, _, junit = project.ci()
    assert set(first) >= {"pipeline_run_id", "stages", "gates", "promotion", "decision", "exit_code"}
    absolute, versus = first["gates"]
    assert absolute == {"name": "accuracy >= 0.5", "passed": True, "observed": 0.98, "threshold": 0.5,
                        "baseline": None}
    assert versus["passed"] is True and versus["baseline"] is None
    assert first["promotion"] == {"name": model_name, "version": "1", "aliases": ["candidate", "champion"]}
    assert (first["decision"], first["exit_code"], first["promote"], first["pull_request"]) == (
        "passed", 0, True, False)
    assert "skipped: no baseline yet" in md
    champion = client.get_model_version_by_alias(model_name, "champion")
    assert champion.version == "1"
    train_run = next(s["run_id"] for s in first["stages"] if s["name"] == "train")
    assert champion.run_id == train_run  # lineage: the stage run with the datasets it read
    assert champion.tags["cairn.pipeline_run_id"] == first["pipeline_run_id"]
    assert champion.source.endswith("/model")
    artifacts = {f.path for f in client.list_artifacts(train_run, "model")}
    assert artifacts == {"model/MLmodel", "model/weights.txt"}
    assert client.get_model_version_by_alias(model_name, "candidate").version == "1"
    assert [tc.find("failure") for tc in gate_cases(junit)] == [None, None]

    # 2. A worse model (accuracy 0.9 < champion's 0.98): the comparison fails, exit 1; v2 is registered with
    #    only the candidate alias and the champion stays v1.
    second, md, stderr, junit = project.ci("-P", "train.C=1.0", expect=1)
    absolute, versus = second["gates"]
    assert absolute["passed"] is True
    assert versus == {"name": "accuracy vs @champion (min_delta 0.0)", "passed": False, "observed": 0.9,
                      "threshold": 0.98, "baseline": 0.98}
    assert second["promotion"] == {"name": model_name, "version": "2", "aliases": ["candidate"]}
    assert second["decision"] == "failed" and second["exit_code"] == 1
    assert client.get_model_version_by_alias(model_name, "champion").version == "1"
    v2 = client.get_model_version(model_name, "2")
    assert v2.aliases == ["candidate"]
    assert client.get_model_version(model_name, "1").aliases == ["champion"]
    parent = client.get_run(second["pipeline_run_id"])
    assert parent.info.status == "FAILED"
    assert parent.data.tags["cairn.gate.1"].startswith("failed: accuracy vs @champion")

    # The Markdown report: the sticky-comment marker, a ❌ title, the metrics table with the baseline and Δ,
    # the stages table, links to Cairn's own pages only.
    assert md.startswith("<!-- cairn:ci key=churn -->\n### ❌ Cairn · ")
    assert "| metric | candidate | @champion | Δ | rule | |" in md
    assert "| accuracy | 0.9 | 0.98 | −0.08 | >= @champion + 0" in md and "| ✗ |" in md
    assert "| stage | result | why | time | run |" in md
    assert f"vs `@champion` **v1**" in md
    links = [part.split(")")[0] for part in md.split("](")[1:]]
    assert links and all(link.startswith(base + "/") for link in links), links
    assert len(md) < 65536

    # JUnit: one test case per gate, the failed one with <failure>; stages as their own cases.
    cases = gate_cases(junit)
    assert [tc.get("name") for tc in cases] == ["accuracy >= 0.5", "accuracy vs @champion (min_delta 0.0)"]
    assert cases[0].find("failure") is None and cases[1].find("failure") is not None
    assert {tc.get("name") for tc in junit.iter("testcase") if tc.get("classname") == "cairn.stages"} == {
        "prepare", "train", "report"}

    # The gate record: in the native API by pipeline run and by id, and on the change log.
    r = requests.get(f"{base}{API}/gate-evaluations", params={"pipeline_run_id": second["pipeline_run_id"]},
                     timeout=30)
    assert r.status_code == 200, r.text
    (record,) = r.json()["gate_evaluations"]
    assert record["id"] == second["gate_evaluation_id"]
    assert (record["decision"], record["action"], record["model_name"], record["model_version"]) == (
        "failed", "not_promoted", model_name, "2")
    assert record["baselines"] == [{"alias": "champion", "version": "1"}]
    assert record["metrics"]["accuracy"] == 0.9
    assert [(x["outcome"], x["observed"], x["baseline"]) for x in record["rules"]] == [
        ("passed", 0.9, None), ("failed", 0.9, 0.98)]
    one = requests.get(f"{base}{API}/gate-evaluations/{record['id']}", timeout=30)
    assert one.status_code == 200 and one.json()["gate_evaluation"] == record
    assert f"{base}{API}/gate-evaluations/{record['id']}" in md
    ours = [e for e in change_log(base) if e["topic"] == "gate" and e["subject"] == model_name]
    assert [e["kind"] for e in ours] == ["gate_evaluated", "gate_evaluated"]
    assert ours[1]["topic_seq"] == record["id"]
    assert ours[1]["detail"] == {"id": record["id"], "pipeline_run_id": second["pipeline_run_id"],
                                 "version": 2, "decision": "failed", "action": "not_promoted"}
    first_record = requests.get(f"{base}{API}/gate-evaluations/{first['gate_evaluation_id']}", timeout=30).json()
    assert first_record["gate_evaluation"]["action"] == "promoted"
    assert first_record["gate_evaluation"]["baselines"] == [{"alias": "champion", "version": None}]

    # 3. A better one again (from the cache: same params as the first run) beats the champion's 0.98? No:
    #    equal passes with min_delta 0, and the champion moves from v1 to v3 by compare-and-set.
    third, _, _, _ = project.ci()
    assert third["promotion"] == {"name": model_name, "version": "3", "aliases": ["candidate", "champion"]}
    assert client.get_model_version_by_alias(model_name, "champion").version == "3"


def test_a_pull_request_decides_but_promotes_nothing(project, client, model_name, tmp_path):
    summary = tmp_path / "step-summary.md"
    pr = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_STEP_SUMMARY": str(summary)}
    report, md, _, junit = project.ci(env=pr)
    assert (report["promote"], report["pull_request"], report["decision"]) == (False, True, "passed")
    assert report["promotion"] is None
    assert [g["passed"] for g in report["gates"]] == [True, True]
    with pytest.raises(Exception, match="(?i)not found|does not exist"):
        client.get_registered_model(model_name)
    assert md.startswith("<!-- cairn:ci key=churn -->\n### ✅ ")
    assert "--no-promote" in md
    assert summary.read_text().startswith("<!-- cairn:ci key=churn -->")
    assert len(gate_cases(junit)) == 2
    # The gate record still says what was decided, with no model version.
    record = requests.get(f"{project.server}{API}/gate-evaluations/{report['gate_evaluation_id']}",
                          timeout=30).json()["gate_evaluation"]
    assert (record["decision"], record["action"], record["model_version"]) == ("passed", "not_promoted", None)

    # GitLab merge requests too; `--promote` overrides the default.
    report, _, _, _ = project.ci("--promote", env={"CI_MERGE_REQUEST_IID": "7"})
    assert (report["promote"], report["pull_request"]) == (True, True)
    assert report["promotion"] == {"name": model_name, "version": "1", "aliases": ["candidate", "champion"]}
    assert client.get_model_version_by_alias(model_name, "champion").version == "1"


def test_ci_configuration_errors_exit_4_with_reports(tmp_path, cairn_server):
    root = make_project(tmp_path / "bad", "stages:\n  a:\n    cmd: true\n    outs: [a]\ngates: 3\n")
    project = CiProject(root, cairn_server.url, unique("pipelines-ci"))
    report, md, stderr, junit = project.ci(expect=4)
    assert report["exit_code"] == 4
    assert "cairn.yaml:5:8" in stderr
    assert md.startswith("<!-- cairn:ci key=churn -->\n### ❌ ")
    assert junit.tag == "testsuites"

    # An out that holds no model is the project's mistake too, found once the stages ran.
    not_a_model = gated(unique("ci-model")).replace("model: model", "model: report.txt")
    project = CiProject(make_project(tmp_path / "no-model", not_a_model), cairn_server.url, unique("pipelines-ci"))
    report = project.run(expect=4)
    assert {s["status"] for s in report["stages"]} == {"ran"} and report["promotion"] is None
    res = project.cairn("run", "--server", cairn_server.url)
    assert res.returncode == 4 and "neither a directory holding an MLmodel file nor a .onnx file" in res.stderr


def test_on_inconclusive_is_accepted_by_run_and_ci(project):
    report = project.run("--on-inconclusive", "neutral")
    assert [g["passed"] for g in report["gates"]] == [True, True]
    bad = project.cairn("run", "--on-inconclusive", "maybe")
    assert bad.returncode == 2 and "maybe" in bad.stderr  # clap's usage error


def test_alias_compare_and_set_has_one_winner(client, cairn_server):
    base = cairn_server.url
    name = unique("cas")
    client.create_registered_model(name)
    for _ in range(12):
        client.create_model_version(name, source="s3://bucket/cas-model")
    url = f"{base}{API}/models/{name}/aliases/champion"

    def put(version, expected):
        return requests.put(url, json={"version": version, "expected_version": expected}, timeout=30)

    # From unset, then refused from unset once set; the body says where it is.
    r = put("1", None)
    assert r.status_code == 200 and r.json() == {"name": name, "alias": "champion", "version": "1"}
    r = put("2", None)
    assert r.status_code == 409 and r.json()["error_code"] == "RESOURCE_CONFLICT"
    assert "version 1" in r.json()["message"]
    assert client.get_model_version_by_alias(name, "champion").version == "1"

    # Races: two promotions that pinned the same version, released together: exactly one wins each time.
    current = 1
    for round_ in range(5):
        a, b = str(2 + 2 * round_), str(3 + 2 * round_)
        results: dict[str, requests.Response] = {}
        start = threading.Barrier(2)

        def go(v):
            start.wait()
            results[v] = put(v, str(current))

        threads = [threading.Thread(target=go, args=(v,)) for v in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.status_code for r in results.values())
        assert codes == [200, 409], {v: (r.status_code, r.text) for v, r in results.items()}
        winner = next(v for v, r in results.items() if r.status_code == 200)
        assert client.get_model_version_by_alias(name, "champion").version == winner
        current = int(winner)

    # Each win is one alias move on the change log, the refusals none.
    moves = [e for e in change_log(base) if e["topic"] == "registry" and e["subject"] == name
             and e["kind"] in ("alias_set", "alias_moved")]
    assert len(moves) == 1 + 5

    # Bad requests are 4xx in the API's format.
    r = requests.put(url, json={"version": "3"}, timeout=30)
    assert r.status_code == 400 and "expected_version" in r.json()["message"]
    assert put("x", None).status_code == 400
    r = requests.put(f"{base}{API}/models/{unique('nope')}/aliases/champion",
                     json={"version": "1", "expected_version": None}, timeout=30)
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert put("99", str(current)).status_code == 404
    r = requests.get(f"{base}{API}/gate-evaluations/999999999", timeout=30)
    assert r.status_code == 404
    assert requests.get(f"{base}{API}/gate-evaluations/abc", timeout=30).status_code == 400
    r = requests.post(f"{base}{API}/gate-evaluations", json={"pipeline_run_id": ""}, timeout=30)
    assert r.status_code == 400
    record = {"pipeline_run_id": "r", "decision": "passed", "action": "promoted", "model_name": name}
    r = requests.post(f"{base}{API}/gate-evaluations", json={**record, "pipeline_run_id": ""}, timeout=30)
    assert r.status_code == 400 and "pipeline_run_id" in r.json()["message"]
    r = requests.post(f"{base}{API}/gate-evaluations", json={**record, "model_version": "99"}, timeout=30)
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    r = requests.post(f"{base}{API}/gate-evaluations", json={**record, "model_version": "x"}, timeout=30)
    assert r.status_code == 400
    r = requests.post(f"{base}{API}/gate-evaluations", json={**record, "decision": "maybe"}, timeout=30)
    assert r.status_code == 400
    r = requests.post(f"{base}{API}/gate-evaluations", json={**record, "model_version": "1"}, timeout=30)
    assert r.status_code == 200 and r.json()["gate_evaluation"]["model_version"] == "1"
    r = requests.get(f"{base}{API}/gate-evaluations", params={"max_results": 0}, timeout=30)
    assert r.status_code == 400


def test_two_pipelines_racing_to_promote_never_both_win_from_one_pin(tmp_path, cairn_server, client, model_name):
    """Two `cairn ci` runs of equally good models, started together: each pins @champion when its gates
    start and moves it by compare-and-set. Whether they overlap (both pinned it unset: exactly one
    promotes, the other reports the lost race and exits 1) or not (the second pinned the first's version
    and, as good, takes over), no two promotions are ever made from one pinned version. A 20 MB model
    widens the window between the pin and the move (the upload), so they usually overlap."""
    import os
    import subprocess

    projects = []
    for i in range(2):
        root = make_project(tmp_path / f"racer{i}", gated(model_name))
        (root / "params.yaml").write_text(PARAMS.replace("C: 1.0", "C: 0.2"))
        train = (root / "train.py").read_text()
        (root / "train.py").write_text(train + '(model / "blob.bin").write_bytes(os.urandom(20_000_000))\n')
        projects.append(CiProject(root, cairn_server.url, unique("pipelines-ci")))
    procs = []
    for i, p in enumerate(projects):
        env = {k: v for k, v in p.env().items() if k not in ("GITHUB_EVENT_NAME", "CI_MERGE_REQUEST_IID")}
        js = tmp_path / f"racer{i}.json"
        procs.append((subprocess.Popen(
            [str(cairn_bin()), "ci", "--server", p.server, "--report-json", str(js),
             "--report-md", str(tmp_path / f"racer{i}.md"), "--junit", str(tmp_path / f"racer{i}.xml")],
            cwd=p.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), js))
    results = []
    for proc, js in procs:
        out, err = proc.communicate(timeout=240)
        results.append((proc.returncode, json.loads(js.read_text()), err))
    codes = sorted(code for code, _, _ in results)
    print(f"racers exited {codes}")
    assert codes in ([0, 0], [0, 1]), [(c, e) for c, _, e in results]

    records = requests.get(f"{cairn_server.url}{API}/gate-evaluations", params={"model": model_name},
                           timeout=30).json()["gate_evaluations"]
    assert len(records) == 2 and all(r["decision"] == "passed" for r in records)
    pinned = {r["model_version"]: r["baselines"][0]["version"] for r in records}
    promoted = [r for r in records if r["action"] == "promoted"]
    champion = client.get_model_version_by_alias(model_name, "champion").version
    if codes == [0, 1]:
        # They overlapped: both pinned @champion unset; one move won, the other was refused.
        assert set(pinned.values()) == {None}
        (winner,) = promoted
        (loser,) = [r for r in records if r["action"] == "lost_race"]
        assert champion == winner["model_version"]
        code, report, err = next(x for x in results if x[0] == 1)
        assert "promotion refused" in err and "@champion moved" in err
        assert report["promotion"] == {"name": model_name, "version": loser["model_version"], "aliases": ["candidate"]}
        assert report["decision"] == "passed" and report["exit_code"] == 1
    else:
        # One after the other: the second pinned the first's version and moved it from there.
        assert len(promoted) == 2
        first = next(v for v, pin in pinned.items() if pin is None)
        second = next(v for v, pin in pinned.items() if pin == first)
        assert champion == second


def test_a_failed_stage_exits_2_and_reports_the_gates_as_not_evaluated(project, client, model_name):
    (project.root / "train.py").write_text("raise SystemExit('broken training')\n")
    report, md, _, junit = project.ci(expect=2)
    assert {s["name"]: s["status"] for s in report["stages"]} == {
        "prepare": "ran", "train": "failed", "report": "skipped"}
    assert report["gates"] == [] and report["promotion"] is None and report["exit_code"] == 2
    assert md.startswith("<!-- cairn:ci key=churn -->\n### ❌ Cairn · ") and "a stage failed" in md
    assert "Gates not evaluated" in md
    cases = gate_cases(junit)
    assert [tc.get("name") for tc in cases] == ["accuracy >= 0.5", "accuracy vs @champion (min_delta 0.0)"]
    assert all(tc.find("skipped") is not None for tc in cases)
    stages = {tc.get("name"): tc for tc in junit.iter("testcase") if tc.get("classname") == "cairn.stages"}
    assert stages["train"].find("failure") is not None and stages["report"].find("skipped") is not None
    with pytest.raises(Exception, match="(?i)not found|does not exist"):
        client.get_registered_model(model_name)


CONFIDENT = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py, test.csv]
    params: [train]
    outs: [model, scores.json]
    metrics: [eval.json]
gates:
  - metric: accuracy
    compare_to: champion
    min_delta: 0.0
    confidence: 0.95
    per_example: scores.json
    dataset: test.csv
promote:
  model: model
  name: {model}
  alias: champion
"""

# One score per row of test.csv: every `wrong_every`-th example wrong, then `fixed` of those made right
# and `broken` right ones made wrong — so two runs differ on exactly the examples we choose.
CONFIDENT_TRAIN = """\
import json, pathlib, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
n = len(open("test.csv").read().split())
scores = [0.0 if i % p["wrong_every"] == 0 else 1.0 for i in range(n)]
wrong = [i for i in range(n) if scores[i] == 0.0]
right = [i for i in range(n) if scores[i] == 1.0]
for i in wrong[:p["fixed"]]:
    scores[i] = 1.0
for i in right[:p["broken"]]:
    scores[i] = 0.0
m = pathlib.Path("model"); m.mkdir(exist_ok=True); (m / "MLmodel").write_text("flavors: {}\\n")
json.dump(scores, open("scores.json", "w"))
json.dump({"accuracy": sum(scores) / n}, open("eval.json", "w"))
"""


def test_confidence_gates_pass_fail_or_are_inconclusive(tmp_path, cairn_server, client, model_name):
    root = tmp_path / "confident"
    root.mkdir()
    (root / "cairn.yaml").write_text(CONFIDENT.format(model=model_name))
    (root / "train.py").write_text(CONFIDENT_TRAIN)
    (root / "test.csv").write_text("\n".join(str(i) for i in range(400)) + "\n")
    (root / "params.yaml").write_text("train:\n  wrong_every: 2\n  fixed: 0\n  broken: 0\n")
    project = CiProject(root, cairn_server.url, unique("pipelines-ci"))

    first, _, _, _ = project.ci()  # 50 % correct; no baseline: skipped, promoted with its scores
    assert first["promotion"]["aliases"] == ["champion"]
    record = requests.get(f"{project.server}{API}/gate-evaluations/{first['gate_evaluation_id']}",
                          timeout=30).json()["gate_evaluation"]
    assert record["rules"][0]["outcome"] == "skipped" and len(record["dataset_digest"]) == 64

    # Three examples fixed, two broken: +0.25 points, within noise. Inconclusive: exit 5 under neutral,
    # 1 under the default; the champion stays.
    noisy = ("-P", "train.fixed=3", "-P", "train.broken=2")
    report, md, _, junit = project.ci(*noisy, "--on-inconclusive", "neutral", expect=5)
    (gate,) = report["gates"]
    assert gate["passed"] is False and gate["baseline"] == 0.5 and gate["observed"] == 0.5025
    assert report["decision"] == "inconclusive" and report["promotion"]["aliases"] == []
    assert client.get_model_version_by_alias(model_name, "champion").version == "1"
    (case,) = gate_cases(junit)
    assert case.find("failure").get("type") == "inconclusive"
    assert "inconclusive" in md and "| ? |" in md and "Δ interval [" in md
    record = requests.get(f"{project.server}{API}/gate-evaluations/{report['gate_evaluation_id']}",
                          timeout=30).json()["gate_evaluation"]
    assert (record["decision"], record["rules"][0]["outcome"]) == ("inconclusive", "inconclusive")
    assert "interval" in record["rules"][0]["note"]
    report, _, _, _ = project.ci(*noisy, expect=1)
    assert report["decision"] == "inconclusive"

    # 90 % correct on the same examples: a clear gain passes and promotes.
    report, _, _, _ = project.ci("-P", "train.wrong_every=10")
    assert report["decision"] == "passed"
    champion = client.get_model_version_by_alias(model_name, "champion")
    assert champion.version == report["promotion"]["version"]

    # Scored on other data than the champion was: the scores cannot be paired, the gate fails.
    (root / "test.csv").write_text("\n".join(str(i) for i in range(500)) + "\n")
    report, _, _, _ = project.ci("-P", "train.wrong_every=20", expect=1)
    record = requests.get(f"{project.server}{API}/gate-evaluations/{report['gate_evaluation_id']}",
                          timeout=30).json()["gate_evaluation"]
    assert record["rules"][0]["outcome"] == "failed"
    assert "baseline not evaluated on dataset" in record["rules"][0]["note"]
    assert client.get_model_version_by_alias(model_name, "champion").version == champion.version


ONNX_GATED = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py, train.csv]
    params: [train]
    outs: [model.onnx]
    metrics: [eval.json]
gates:
  - metric: accuracy
    compare_to: champion
    confidence: 0.95
    dataset: test.csv
    label: y
promote:
  model: model.onnx
  name: {model}
  alias: champion
"""

# A logistic regression on x1 (y = x1 > 0), trained on labels of which `flip` are flipped at random:
# flip 0.45 is close to chance, flip 0 close to perfect.
ONNX_TRAIN = """\
import json, random, yaml
import numpy as np
from sklearn.linear_model import LogisticRegression
from skl2onnx import to_onnx
p = yaml.safe_load(open("params.yaml"))["train"]
rows = [list(map(float, l.split(","))) for l in open("train.csv").read().split()[1:]]
X = np.array([r[:2] for r in rows], dtype=np.float32)
y = np.array([int(r[2]) for r in rows])
rnd = random.Random(7)
y = np.array([1 - v if rnd.random() < p["flip"] else v for v in y])
clf = LogisticRegression().fit(X, y)
onx = to_onnx(clf, X[:1], options={id(clf): {"zipmap": False}}, target_opset=17)
open("model.onnx", "wb").write(onx.SerializeToString())
json.dump({"accuracy": float(clf.score(X, np.array([int(r[2]) for r in rows])))}, open("eval.json", "w"))
"""


def _dataset(n: int, seed: int) -> str:
    import random

    rnd = random.Random(seed)
    lines = ["x1,x2,y"]
    for _ in range(n):
        x1, x2 = rnd.uniform(-1, 1), rnd.uniform(-1, 1)
        lines.append(f"{x1:.4f},{x2:.4f},{int(x1 > 0)}")
    return "\n".join(lines) + "\n"


def test_cairn_scores_both_onnx_models_for_a_confidence_gate(tmp_path, cairn_server, client, model_name):
    pytest.importorskip("skl2onnx")
    import glob
    import onnxruntime

    root = tmp_path / "onnx"
    root.mkdir()
    (root / "cairn.yaml").write_text(ONNX_GATED.format(model=model_name))
    (root / "train.py").write_text(ONNX_TRAIN)
    (root / "train.csv").write_text(_dataset(400, 1))
    (root / "test.csv").write_text(_dataset(300, 2))
    (root / "params.yaml").write_text("train:\n  flip: 0.45\n")
    project = CiProject(root, cairn_server.url, unique("pipelines-ci"))
    lib = glob.glob(str(Path(onnxruntime.__file__).parent / "capi" / "libonnxruntime.so*"))[0]
    ort = {"ORT_DYLIB_PATH": lib}

    first, _, _, _ = project.ci(env=ort)  # a poor model; no baseline yet: skipped, promoted
    assert first["promotion"]["aliases"] == ["champion"]

    # A much better model: Cairn scores it and the champion on test.csv; the interval clears 0.
    report, md, _, _ = project.ci("-P", "train.flip=0", env=ort)
    record = requests.get(f"{project.server}{API}/gate-evaluations/{report['gate_evaluation_id']}",
                          timeout=30).json()["gate_evaluation"]
    rule = record["rules"][0]
    assert (report["decision"], rule["outcome"]) == ("passed", "passed"), rule
    assert "interval" in rule["note"] and record["dataset_digest"]
    assert client.get_model_version_by_alias(model_name, "champion").version == report["promotion"]["version"]

    # The poor one again, against the good champion: clearly worse, the gate fails.
    report, _, _, _ = project.ci("-P", "train.flip=0.45", env=ort, expect=1)
    rule = requests.get(f"{project.server}{API}/gate-evaluations/{report['gate_evaluation_id']}",
                        timeout=30).json()["gate_evaluation"]["rules"][0]
    assert rule["outcome"] == "failed" and "interval" in rule["note"], rule
    print("onnx-scored:", rule["note"])
