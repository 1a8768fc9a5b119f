"""Pipeline triggers end to end, on the session's server: `triggers:` in cairn.yaml is stored by
`cairn pipeline register` (and replaced by registering again); `cairn trigger list|fire|pause|resume`
and the HTTP API (`/pipelines/{name}/triggers/{trigger}/fire`, `/pipelines/{name}/runs`, `/triggers`)
drive them; the server runs a fired run itself (the registered snapshot, unpacked, run with `cairn run`
against itself) and records why it ran. Covered: firing by hand (idempotent by key, `params:` passed as
`-P`), a seconds-cron firing on its own, pause/resume, a trigger dropped on re-registration, the
concurrency policies (queue with max_active_runs, skip, cancel_previous), a monitor alert (with a
cooldown), a watched local directory and artifact-store prefix (with a debounce), a new model version,
and unknown names. Several servers on one PostgreSQL database: test_triggers_cluster.py.

Cairn-only: `mlflow server` has no pipelines.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from conftest import cairn_bin
from helpers import RUN_ID_RE, assert_error

pytestmark = pytest.mark.cairn_only

API = "/api/cairn/v1"
TERMINAL = {"succeeded", "failed", "cancelled"}
STATUSES = {"queued", "running"} | TERMINAL

# One stage, no heavy dependencies: reads its params, waits while a "hold" file exists (so a test decides
# when a run may finish) and then `sleep` seconds, writes an out and a metrics file. `always_changed`:
# every run really runs (the server's output cache is shared by every test).
WORK = """\
import json, os, pathlib, time, yaml
p = yaml.safe_load(open("params.yaml"))["work"]
hold = p.get("hold") or ""
deadline = time.time() + 120
while hold and os.path.exists(hold) and time.time() < deadline:
    time.sleep(0.05)
time.sleep(float(p.get("sleep") or 0))
pathlib.Path("out.txt").write_text(f"n={p['n']}\\n")
json.dump({"value": p["n"] * 10}, open("metrics.json", "w"))
"""

PARAMS = 'work:\n  n: 1\n  hold: ""\n  sleep: 0\n'


def pipeline_yaml(triggers: str) -> str:
    return (
        "stages:\n"
        "  work:\n"
        f"    cmd: {sys.executable} work.py\n"
        "    deps: [work.py]\n"
        "    params: [work.n, work.hold, work.sleep]\n"
        "    outs: [out.txt]\n"
        "    metrics: [metrics.json]\n"
        "    always_changed: true\n"
        + textwrap.dedent(triggers)
    )


def cairn(*args: str, server: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(cairn_bin()), *args, "--server", server],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )


def ok(res: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert res.returncode == 0, (
        f"{' '.join(map(str, res.args[1:]))} exited {res.returncode}\n--- stdout\n{res.stdout}\n--- stderr\n{res.stderr}"
    )
    return res


class Pipeline:
    """A registered pipeline: a project in a temp dir, registered on a server under a unique name."""

    def __init__(self, root: Path, name: str, server: str):
        self.root, self.name, self.server = root, name, server

    def write(self, triggers: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "cairn.yaml").write_text(pipeline_yaml(triggers))
        (self.root / "params.yaml").write_text(PARAMS)
        (self.root / "work.py").write_text(WORK)

    def register(self, triggers: str | None = None) -> subprocess.CompletedProcess:
        if triggers is not None:
            self.write(triggers)
        return ok(cairn("pipeline", "register", self.name, cwd=self.root, server=self.server))

    def triggers(self) -> dict[str, dict]:
        return list_triggers(self.server, self.name)

    def fire(self, trigger: str, key: str | None = None) -> dict:
        return fire(self.server, self.name, trigger, key)

    def runs(self) -> list[dict]:
        return pipeline_runs(self.server, self.name)

    def pause(self, trigger: str) -> None:
        ok(cairn("trigger", "pause", self.name, trigger, server=self.server))

    def resume(self, trigger: str) -> None:
        ok(cairn("trigger", "resume", self.name, trigger, server=self.server))


def list_triggers(server: str, pipeline: str) -> dict[str, dict]:
    """`cairn trigger list --json`, this pipeline's triggers by name."""
    res = ok(cairn("trigger", "list", "--json", server=server))
    body = json.loads(res.stdout)
    assert set(body) >= {"triggers"}, body
    mine = [t for t in body["triggers"] if t["pipeline"] == pipeline]
    by_name = {t["name"]: t for t in mine}
    assert len(by_name) == len(mine), f"a trigger is listed twice: {mine}"
    for t in mine:
        assert {"pipeline", "name", "kind", "spec", "paused", "next_fire_ms", "last_fires"} <= set(t), t
        assert t["kind"] in {"cron", "watch", "alert", "registry", "manual"}, t
        assert isinstance(t["paused"], bool) and isinstance(t["spec"], dict), t
        assert t["next_fire_ms"] is None or isinstance(t["next_fire_ms"], int), t
        for f in t["last_fires"]:
            assert {"slot", "fired_ms", "outcome", "pipeline_run_id"} <= set(f), f
            assert f["outcome"] in {"started", "skipped"}, f
    return by_name


def fire(server: str, pipeline: str, trigger: str, key: str | None = None) -> dict:
    """`cairn trigger fire --json`: `{"fired", "pipeline_run_id"}`."""
    args = ["trigger", "fire", pipeline, trigger, "--json"]
    if key is not None:
        args += ["--idempotency-key", key]
    res = ok(cairn(*args, server=server))
    body = json.loads(res.stdout)
    assert isinstance(body.get("fired"), bool), body
    if body["fired"]:
        assert RUN_ID_RE.match(body.get("pipeline_run_id") or ""), body
    return body


def pipeline_runs(server: str, pipeline: str) -> list[dict]:
    """`GET /pipelines/{name}/runs`, every page, newest first."""
    out, token = [], None
    for _ in range(100):
        params = {"page_token": token} if token else {}
        r = requests.get(f"{server}{API}/pipelines/{pipeline}/runs", params=params, timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        for run in body["pipeline_runs"]:
            assert {"run_id", "pipeline", "status", "cause", "exit_code", "started_ms", "ended_ms"} <= set(run), run
            assert run["pipeline"] == pipeline and run["status"] in STATUSES, run
            assert run["cause"]["kind"] in {"cron", "watch", "alert", "registry", "manual"}, run
        out += body["pipeline_runs"]
        token = body.get("next_page_token")
        if not token:
            return out
    raise AssertionError("more than 100 pages of runs")


def wait_until(fn, timeout: float, what: str, interval: float = 0.2):
    """Polls `fn` until it returns something truthy; fails naming `what` (and the last value) at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}; last: {got!r}"
        time.sleep(interval)


def wait_finished(p: Pipeline, run_ids: list[str], timeout: float = 60) -> dict[str, dict]:
    """Waits until every run is in a terminal state; returns them by id."""
    def done():
        runs = {r["run_id"]: r for r in p.runs() if r["run_id"] in run_ids}
        if len(runs) == len(set(run_ids)) and all(r["status"] in TERMINAL for r in runs.values()):
            return runs
        return None

    try:
        return wait_until(done, timeout, f"runs {run_ids} of {p.name} to finish")
    except AssertionError:
        raise AssertionError(
            f"runs {run_ids} of {p.name} did not finish within {timeout}s: "
            + json.dumps([r for r in p.runs() if r["run_id"] in run_ids], indent=1)
        ) from None


def wait_status(p: Pipeline, run_id: str, want: str, timeout: float = 30) -> dict:
    """Waits until the run has this status; fails showing the run as it last was."""
    last: dict = {}

    def check():
        nonlocal last
        last = next((r for r in p.runs() if r["run_id"] == run_id), {})
        return last.get("status") == want and last

    try:
        return wait_until(check, timeout, f"run {run_id} {want}")
    except AssertionError:
        raise AssertionError(f"run {run_id} is not {want} after {timeout}s: {json.dumps(last, indent=1)}") from None


def by_trigger(runs: list[dict], trigger: str, kind: str | None = None) -> list[dict]:
    return [r for r in runs if r["cause"].get("trigger") == trigger and (kind is None or r["cause"]["kind"] == kind)]


def same_slot(fire: dict, cause: dict) -> bool:
    """Whether a fire-list entry and a run's cause name the same cron slot (the two may spell it
    differently: epoch ms, or a timestamp beside `slot_ms`)."""
    spellings = {str(cause.get("slot")), str(cause.get("slot_ms"))} - {"None"}
    return str(fire["slot"]) in spellings


def slot_ms(fire: dict) -> int:
    """A cron fire's slot as epoch ms (spelt as ms, or as an RFC 3339 time)."""
    slot = str(fire["slot"])
    if slot.lstrip("-").isdigit():
        return int(slot)
    return int(datetime.fromisoformat(slot.replace("Z", "+00:00")).timestamp() * 1000)


def missing_slots(fires: list[dict], every_ms: int) -> list[int]:
    """The slots between the first and the last fired one that did not fire."""
    got = sorted({slot_ms(f) for f in fires})
    return [s for s in range(got[0], got[-1], every_ms) if s not in got] if got else []


def assert_quiet(p: Pipeline, seconds: float, grace: float = 2.5) -> list[dict]:
    """After `grace` (a fire already decided may still land), no new run appears for `seconds`."""
    time.sleep(grace)
    before = {r["run_id"] for r in p.runs()}
    time.sleep(seconds)
    after = p.runs()
    new = [r for r in after if r["run_id"] not in before]
    assert not new, f"runs appeared while nothing should fire: {json.dumps(new, indent=1)}"
    return after


@pytest.fixture
def pipelines(cairn_server, tmp_path):
    """Makes registered pipelines on the session's server. Afterwards every trigger of them is paused and
    their runs are waited for, so no test leaves the shared server firing or running."""
    made: list[Pipeline] = []

    def make(label: str, triggers: str) -> Pipeline:
        name = f"trg-{label}-{uuid.uuid4().hex[:8]}"
        p = Pipeline(tmp_path / name, name, cairn_server.url)
        made.append(p)
        p.register(triggers)
        return p

    yield make
    for p in made:
        try:
            for t in list_triggers(p.server, p.name):
                cairn("trigger", "pause", p.name, t, server=p.server)
            hold = p.root.parent / "hold"
            hold.unlink(missing_ok=True)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and any(r["status"] not in TERMINAL for r in p.runs()):
                time.sleep(0.3)
        except Exception as e:  # noqa: BLE001 - cleanup is best effort; the test's own verdict stands
            print(f"cleanup of {p.name}: {e!r}")


def next_local(hour: int, minute: int, tz: str) -> int:
    """The next `minute hour * * *` in `tz` after now, in epoch ms."""
    now = datetime.now(ZoneInfo(tz))
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at <= now:
        at = (now + timedelta(days=1)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return int(at.timestamp() * 1000)


# ---------------------------------------------------------------------------------------------------
# Firing by hand
# ---------------------------------------------------------------------------------------------------
def test_register_lists_triggers_and_a_keyed_fire_by_hand_runs_once(cairn_server, pipelines, client):
    base = cairn_server.url
    p = pipelines("manual", """\
        triggers:
          bare: {}
          by_hand: {params: {work.n: 7}}
          nightly: {cron: "0 3 * * *", timezone: Europe/Berlin, catchup: none}
        """)

    listed = p.triggers()
    assert set(listed) == {"bare", "by_hand", "nightly"}, listed
    assert {n: t["kind"] for n, t in listed.items()} == {"bare": "manual", "by_hand": "manual", "nightly": "cron"}
    assert not any(t["paused"] for t in listed.values())
    assert listed["nightly"]["spec"].get("cron") == "0 3 * * *", listed["nightly"]
    assert listed["nightly"]["spec"].get("timezone") == "Europe/Berlin", listed["nightly"]
    # 03:00 in Berlin, not in UTC.
    assert listed["nightly"]["next_fire_ms"] == next_local(3, 0, "Europe/Berlin"), listed["nightly"]
    assert listed["bare"]["next_fire_ms"] is None and listed["bare"]["last_fires"] == []
    # The HTTP listing says the same.
    r = requests.get(f"{base}{API}/triggers", timeout=10)
    assert r.status_code == 200, r.text
    http = {t["name"]: t for t in r.json()["triggers"] if t["pipeline"] == p.name}
    assert {n: (t["kind"], t["paused"]) for n, t in http.items()} == {
        n: (t["kind"], t["paused"]) for n, t in listed.items()
    }

    # The same key twice: one run; the second call answers fired false and the same run.
    key = f"deploy-{uuid.uuid4().hex}"
    first = p.fire("by_hand", key=key)
    assert first["fired"] is True, first
    rid = first["pipeline_run_id"]
    again = p.fire("by_hand", key=key)
    assert (again["fired"], again["pipeline_run_id"]) == (False, rid), again
    # And over HTTP with the same key.
    r = requests.post(f"{base}{API}/pipelines/{p.name}/triggers/by_hand/fire", json={"idempotency_key": key}, timeout=30)
    assert r.status_code == 200, r.text
    assert (r.json()["fired"], r.json()["pipeline_run_id"]) == (False, rid), r.text

    run = wait_finished(p, [rid])[rid]
    assert run["status"] == "succeeded", run
    assert {k: run["cause"].get(k) for k in ("kind", "trigger", "key")} == {"kind": "manual", "trigger": "by_hand", "key": key}, run
    assert run["exit_code"] == 0, run
    assert isinstance(run["started_ms"], int) and isinstance(run["ended_ms"], int) and run["ended_ms"] >= run["started_ms"], run
    assert [x["run_id"] for x in p.runs()] == [rid], "a repeated key started another run"

    # The run is the MLflow parent run, in an experiment named after the pipeline, with the stage's run
    # nested under it: the trigger's params went in as -P overrides.
    parent = client.get_run(rid)
    assert parent.info.status == "FINISHED", parent.info
    assert client.get_experiment(parent.info.experiment_id).name == p.name
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{rid}'"
    )
    assert [c.data.tags.get("mlflow.runName") for c in children] == ["work"], children
    assert children[0].data.params.get("work.n") == "7", children[0].data.params
    assert children[0].data.metrics.get("value") == 70.0, children[0].data.metrics

    # Without a key every call fires; the default policy queues (one active run at a time).
    a, b = p.fire("bare"), p.fire("bare")
    assert a["fired"] and b["fired"] and a["pipeline_run_id"] != b["pipeline_run_id"], (a, b)
    done = wait_finished(p, [a["pipeline_run_id"], b["pipeline_run_id"]])
    ra, rb = done[a["pipeline_run_id"]], done[b["pipeline_run_id"]]
    assert ra["status"] == rb["status"] == "succeeded", done
    assert ra["cause"]["kind"] == "manual" and ra["cause"]["trigger"] == "bare" and not ra["cause"].get("key"), ra
    # When each really ran: its stage's MLflow run (the parent run and the record exist from the fire on).
    stage_runs = []
    for x in (ra, rb):
        [stage] = client.search_runs(
            [parent.info.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{x['run_id']}'"
        )
        stage_runs.append(stage.info)
    first_done, second_done = sorted(stage_runs, key=lambda i: i.start_time)
    assert second_done.start_time >= first_done.end_time, (
        f"two runs were active at once under max_active_runs 1: {first_done} {second_done}"
    )
    # Newest first.
    listing = [x["run_id"] for x in p.runs()]
    assert len(listing) == 3 and listing[-1] == rid, listing
    # Default params when the trigger sets none.
    bare_child = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{a['pipeline_run_id']}'"
    )
    assert bare_child[0].data.params.get("work.n") == "1", bare_child[0].data.params

    # Pause and resume show in the listing (on the CLI and over HTTP); a paused trigger still fires by hand.
    p.pause("by_hand")
    listed = p.triggers()
    assert (listed["by_hand"]["paused"], listed["bare"]["paused"], listed["nightly"]["paused"]) == (True, False, False)
    http = {t["name"]: t for t in requests.get(f"{base}{API}/triggers", timeout=10).json()["triggers"] if t["pipeline"] == p.name}
    assert http["by_hand"]["paused"] is True
    by_hand = p.fire("by_hand")
    assert by_hand["fired"] is True, by_hand
    assert wait_finished(p, [by_hand["pipeline_run_id"]])[by_hand["pipeline_run_id"]]["status"] == "succeeded"
    p.resume("by_hand")
    assert p.triggers()["by_hand"]["paused"] is False


def test_unknown_pipeline_or_trigger_is_404_and_a_cli_error(cairn_server, pipelines):
    base = cairn_server.url
    p = pipelines("known", "triggers:\n  t: {}\n")
    nope = f"no-such-pipeline-{uuid.uuid4().hex[:8]}"
    assert_error(requests.post(f"{base}{API}/pipelines/{nope}/triggers/t/fire", json={}, timeout=10), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(requests.post(f"{base}{API}/pipelines/{p.name}/triggers/nope/fire", json={}, timeout=10), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(
        requests.post(f"{base}{API}/pipelines/{p.name}/triggers/nope/fire", json={"idempotency_key": "k"}, timeout=10),
        404, "RESOURCE_DOES_NOT_EXIST",
    )
    for args in (
        ("trigger", "fire", nope, "t"),
        ("trigger", "fire", p.name, "nope"),
        ("trigger", "fire", p.name, "nope", "--json"),
        ("trigger", "pause", p.name, "nope"),
        ("trigger", "resume", nope, "t"),
    ):
        res = cairn(*args, server=base)
        assert res.returncode != 0, f"{args} exited 0: {res.stdout}"
        assert res.stderr.strip(), f"{args} failed without a message"
        assert '"fired":true' not in res.stdout.replace(" ", ""), res.stdout
    assert p.runs() == [], "a failed fire started a run"


# ---------------------------------------------------------------------------------------------------
# Cron: fires on its own, pause stops it, re-registering without it removes it
# ---------------------------------------------------------------------------------------------------
def test_a_seconds_cron_fires_on_its_own_until_paused_or_removed(cairn_server, pipelines):
    t0 = int(time.time() * 1000)
    p = pipelines("cron", """\
        triggers:
          tick: {cron: "*/2 * * * * *", max_active_runs: 2}
          keep: {}
        """)
    p.pause("keep")  # a paused trigger that stays in the file stays paused on re-registration

    cron_runs = wait_until(lambda: len(c := by_trigger(p.runs(), "tick", "cron")) >= 2 and c, 20, "two cron runs of tick")
    for r in cron_runs:
        assert r["cause"].get("slot") not in (None, ""), r
    slots = [json.dumps(r["cause"]["slot"]) for r in cron_runs]
    assert len(set(slots)) == len(slots), f"a slot produced two runs: {slots}"

    listed = p.triggers()["tick"]
    assert listed["kind"] == "cron" and listed["paused"] is False
    now = int(time.time() * 1000)
    assert listed["next_fire_ms"] is not None and now - 1000 <= listed["next_fire_ms"] <= now + 3000, (now, listed)
    fires = listed["last_fires"]
    assert fires, listed
    fired_slots = [json.dumps(f["slot"]) for f in fires]
    assert len(set(fired_slots)) == len(fired_slots), f"a slot fired twice: {fires}"
    assert all(f["fired_ms"] >= t0 for f in fires), (t0, fires)
    started = {f["pipeline_run_id"] for f in fires if f["outcome"] == "started"}
    assert started and started <= {r["run_id"] for r in p.runs()}, (fires, p.runs())
    run_by_id = {r["run_id"]: r for r in p.runs()}
    for f in fires:
        if f["outcome"] == "started":
            assert same_slot(f, run_by_id[f["pipeline_run_id"]]["cause"]), (f, run_by_id[f["pipeline_run_id"]])

    # Paused: no more cron runs; by hand it still fires.
    p.pause("tick")
    assert p.triggers()["tick"]["paused"] is True
    assert_quiet(p, 5)
    by_hand = p.fire("tick")
    assert by_hand["fired"] is True, by_hand
    assert wait_finished(p, [by_hand["pipeline_run_id"]])[by_hand["pipeline_run_id"]]["cause"]["trigger"] == "tick"

    # Resumed: it fires on its own again.
    count = len(by_trigger(p.runs(), "tick", "cron"))
    p.resume("tick")
    wait_until(lambda: len(by_trigger(p.runs(), "tick", "cron")) > count, 10, "a cron run after resume")

    # Registered again without it: gone from the listing and it fires no more; `keep` is still paused.
    p.register('triggers:\n  keep: {}\n')
    listed = p.triggers()
    assert set(listed) == {"keep"}, listed
    assert listed["keep"]["paused"] is True, listed["keep"]
    runs = assert_quiet(p, 5)

    finished = wait_finished(p, [r["run_id"] for r in runs])
    failed = [r for r in finished.values() if r["status"] != "succeeded"]
    assert not failed, f"cron runs did not succeed: {json.dumps(failed, indent=1)}"
    counts = Counter(json.dumps(r["cause"]["slot"]) for r in by_trigger(runs, "tick", "cron"))
    assert max(counts.values()) == 1, f"a slot produced two runs: {counts}"


class FireRecorder:
    """Polls `GET /triggers` on some servers (in a thread) and keeps every fire of one trigger it sees, by
    slot: the listing holds only the latest few. A slot seen with two different firings is kept apart."""

    def __init__(self, servers: list[str], pipeline: str, trigger: str, interval: float = 0.25):
        self.servers, self.pipeline, self.trigger, self.interval = list(servers), pipeline, trigger, interval
        self.fires: dict[str, dict] = {}
        self.conflicts: list[tuple[dict, dict]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "FireRecorder":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def poll_once(self) -> None:
        for server in list(self.servers):
            try:
                r = requests.get(f"{server}{API}/triggers", timeout=5)
            except requests.RequestException:
                continue  # a server that died
            if r.status_code != 200:
                continue
            for t in r.json()["triggers"]:
                if (t["pipeline"], t["name"]) != (self.pipeline, self.trigger):
                    continue
                for f in t["last_fires"]:
                    seen = self.fires.setdefault(str(f["slot"]), f)
                    if (seen["fired_ms"], seen["pipeline_run_id"]) != (f["fired_ms"], f["pipeline_run_id"]):
                        self.conflicts.append((seen, f))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.interval)


def test_an_every_second_cron_fires_every_slot_once(cairn_server, pipelines):
    """A healthy server fires each slot: none twice, none left out (a slow tick must not skip one)."""
    p = pipelines("cron-every", """\
        triggers:
          every: {cron: "* * * * * *", concurrency: skip}
        """)
    with FireRecorder([cairn_server.url], p.name, "every") as rec:
        wait_until(lambda: len(rec.fires) >= 10, 25, "ten fires")
    p.pause("every")
    rec.poll_once()
    fires = list(rec.fires.values())
    assert not rec.conflicts, f"a slot fired twice: {rec.conflicts}"
    slots = sorted(slot_ms(f) for f in fires)
    assert all(s % 1000 == 0 for s in slots), slots
    assert not missing_slots(fires, 1000), f"slots {missing_slots(fires, 1000)} never fired: {slots}"
    for f in fires:  # skip: fired while a run was active, recorded without a run
        assert (f["outcome"] == "started") == (f["pipeline_run_id"] is not None), f
    started = {f["pipeline_run_id"] for f in fires if f["outcome"] == "started"}
    assert started <= {r["run_id"] for r in p.runs()}


# ---------------------------------------------------------------------------------------------------
# Concurrency policies
# ---------------------------------------------------------------------------------------------------
def test_concurrency_queue_skip_and_cancel_previous(cairn_server, pipelines, tmp_path):
    hold = tmp_path / "hold"  # while it exists, a run's stage waits
    p = pipelines("conc", f"""\
        triggers:
          two_at_a_time: {{max_active_runs: 2, params: {{work.hold: "{hold}"}}}}
          skip_if_busy: {{concurrency: skip, params: {{work.hold: "{hold}"}}}}
          newest_wins: {{concurrency: cancel_previous, params: {{work.hold: "{hold}"}}}}
        """)

    # queue, max_active_runs 2: three fired, two run, one waits until the hold is lifted.
    hold.touch()
    ids = [p.fire("two_at_a_time")["pipeline_run_id"] for _ in range(3)]
    assert len(set(ids)) == 3, ids

    def statuses():
        by_id = {r["run_id"]: r["status"] for r in p.runs()}
        return [by_id.get(i) for i in ids]

    wait_until(lambda: statuses().count("running") == 2 and statuses(), 30, "two runs running")
    time.sleep(1.0)
    assert sorted(statuses()) == ["queued", "running", "running"], statuses()
    hold.unlink()
    assert {r["status"] for r in wait_finished(p, ids).values()} == {"succeeded"}

    # skip: a second fire while one runs is not started.
    hold.touch()
    a = p.fire("skip_if_busy")
    assert a["fired"] is True, a
    b = p.fire("skip_if_busy")
    assert b["fired"] is False, b
    hold.unlink()
    assert wait_finished(p, [a["pipeline_run_id"]])[a["pipeline_run_id"]]["status"] == "succeeded"
    c = p.fire("skip_if_busy")
    assert c["fired"] is True and c["pipeline_run_id"] != a["pipeline_run_id"], c
    assert wait_finished(p, [c["pipeline_run_id"]])[c["pipeline_run_id"]]["status"] == "succeeded"
    assert sorted(r["run_id"] for r in by_trigger(p.runs(), "skip_if_busy")) == sorted(
        [a["pipeline_run_id"], c["pipeline_run_id"]]
    )

    # cancel_previous: a new fire cancels the run in progress.
    hold.touch()
    old = p.fire("newest_wins")["pipeline_run_id"]
    wait_status(p, old, "running")
    new = p.fire("newest_wins")
    assert new["fired"] is True and new["pipeline_run_id"] != old, new
    wait_status(p, old, "cancelled")
    hold.unlink()
    done = wait_finished(p, [old, new["pipeline_run_id"]])
    assert done[old]["status"] == "cancelled" and done[new["pipeline_run_id"]]["status"] == "succeeded", done


# ---------------------------------------------------------------------------------------------------
# Alert triggers: a monitor's alert rule fires a run (at most once per cooldown)
# ---------------------------------------------------------------------------------------------------
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def deployment(cairn_server):
    """An iris classifier (ONNX) registered and deployed on the session's server (as test_monitoring.py)."""
    import mlflow
    import mlflow.onnx
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X = load_iris().data.astype(np.float32)
    y = load_iris().target
    onx = to_onnx(LogisticRegression(max_iter=300).fit(X, y), X[:1], options={"zipmap": False})
    mlflow.set_tracking_uri(cairn_server.url)
    mlflow.set_experiment(f"triggers-{uuid.uuid4().hex[:8]}")
    name = f"trg-model-{uuid.uuid4().hex[:8]}"
    example = pd.DataFrame(X[:3], columns=COLUMNS)
    with mlflow.start_run():
        mlflow.onnx.log_model(
            onx, name="model", registered_model_name=name, input_example=example,
            signature=infer_signature(example), pip_requirements=["onnxruntime"],
        )
    dep = f"trg-dep-{uuid.uuid4().hex[:8]}"
    ok(cairn("deploy", "create", dep, "--model", f"models:/{name}/1", server=cairn_server.url))
    wait_until(
        lambda: requests.get(f"{cairn_server.url}/v2/models/{dep}/ready", timeout=5).status_code == 200,
        30, "the deployment ready",
    )
    return {"dep": dep, "X": X}


def run_monitor_until_alert(base: str, monitor: str, timeout: float = 60) -> dict:
    """Runs the monitor until a run fires an alert (logged predictions are flushed in batches)."""
    def attempt():
        r = requests.post(f"{base}{API}/monitors/{monitor}/run", timeout=60)
        assert r.status_code in (200, 400), r.text  # 400: nothing logged yet
        return r.status_code == 200 and r.json()["alerts"] and r.json()["alerts"][0]

    return wait_until(attempt, timeout, f"an alert of {monitor}", interval=0.5)


def test_an_alert_fires_its_trigger_once_per_cooldown(cairn_server, pipelines, deployment, tmp_path):
    import pandas as pd

    base, dep, X = cairn_server.url, deployment["dep"], deployment["X"]
    ref = tmp_path / "reference.csv"
    pd.DataFrame(X, columns=COLUMNS).to_csv(ref, index=False)
    monitor = f"trg-mon-{uuid.uuid4().hex[:8]}"
    ok(cairn("monitor", "create", monitor, "--deployment", dep, "--reference", str(ref), "--rows", "20", server=base))
    ok(cairn("monitor", "alert", monitor, "always", "--when", "rows >= 1", server=base))
    ok(cairn("monitor", "alert", monitor, "never", "--when", "rows < 0", server=base))
    p = pipelines("alert", f"""\
        triggers:
          on_rule: {{alert: {monitor}/always, cooldown: 1h}}
          on_other_rule: {{alert: {monitor}/never}}
          on_monitor: {{alert: {monitor}, cooldown: 1h}}
        """)
    listed = p.triggers()
    assert {n: t["kind"] for n, t in listed.items()} == {"on_rule": "alert", "on_other_rule": "alert", "on_monitor": "alert"}
    assert p.runs() == []

    for i in range(2):
        rows = X[i * 10 : i * 10 + 10]
        r = requests.post(
            f"{base}/serving-endpoints/{dep}/invocations",
            json={"dataframe_split": {"columns": COLUMNS, "data": rows.tolist()}}, timeout=10,
        )
        assert r.status_code == 200, r.text
    alert = run_monitor_until_alert(base, monitor)
    assert alert["rule"] == "always", alert
    alert_id = str(alert["id"])

    def alert_runs(trigger):
        return by_trigger(p.runs(), trigger, "alert")

    [on_rule] = wait_until(lambda: alert_runs("on_rule"), 20, "a run of on_rule")
    assert str(on_rule["cause"].get("alert_id")) == alert_id, on_rule
    [on_monitor] = wait_until(lambda: alert_runs("on_monitor"), 20, "a run of on_monitor")
    assert str(on_monitor["cause"].get("alert_id")) == alert_id, on_monitor
    done = wait_finished(p, [on_rule["run_id"], on_monitor["run_id"]])
    assert {r["status"] for r in done.values()} == {"succeeded"}, done

    # The rule fires again (it has no cooldown of its own); the triggers' cooldown holds them back.
    again = requests.post(f"{base}{API}/monitors/{monitor}/run", timeout=60)
    assert again.status_code == 200 and [a["rule"] for a in again.json()["alerts"]] == ["always"], again.text
    assert str(again.json()["alerts"][0]["id"]) != alert_id
    runs = assert_quiet(p, 3, grace=1.0)
    assert len(by_trigger(runs, "on_rule")) == 1 and len(by_trigger(runs, "on_monitor")) == 1, runs
    assert by_trigger(runs, "on_other_rule") == [], "a trigger on another rule fired"


# ---------------------------------------------------------------------------------------------------
# Watch triggers: a local directory, an artifact-store prefix
# ---------------------------------------------------------------------------------------------------
def test_a_watched_directory_fires_on_change_after_its_debounce(cairn_server, pipelines, tmp_path):
    watched = tmp_path / "watched"
    watched.mkdir()
    (watched / "a.csv").write_text("x\n1\n")
    p = pipelines("watch", f"""\
        triggers:
          data: {{watch: "{watched}"}}
          settled: {{watch: "{watched}", debounce: 3s}}
        """)
    listed = p.triggers()
    assert listed["data"]["kind"] == "watch" and listed["settled"]["kind"] == "watch", listed

    # What was there when the trigger was registered does not fire it.
    assert_quiet(p, 3, grace=1.0)

    (watched / "b.csv").write_text("x\n2\n")
    [first] = wait_until(lambda: by_trigger(p.runs(), "data", "watch"), 30, "a watch run of data")
    digest = first["cause"].get("digest")
    assert isinstance(digest, str) and digest, first
    assert wait_finished(p, [first["run_id"]])[first["run_id"]]["status"] == "succeeded"
    [settled] = wait_until(lambda: by_trigger(p.runs(), "settled", "watch"), 30, "a watch run of settled")
    assert settled["cause"].get("digest") == digest, (settled, first)

    # A burst of changes: the debounced trigger fires once, after the content is stable for 3 s, for the
    # final content; the undebounced one fired for the final content too.
    for i in range(6):
        time.sleep(0.5)
        (watched / "c.csv").write_text(f"x\n{i}\n")
        last_write_ms = int(time.time() * 1000)
    wait_until(lambda: len(by_trigger(p.runs(), "settled", "watch")) >= 2, 30, "a second run of settled")
    runs = assert_quiet(p, 4, grace=1.0)
    settled_runs = by_trigger(runs, "settled", "watch")
    assert len(settled_runs) == 2, f"the debounced trigger fired during the burst: {settled_runs}"
    final_digest = settled_runs[0]["cause"]["digest"]  # newest first
    assert final_digest != digest
    data_runs = by_trigger(runs, "data", "watch")
    assert len(data_runs) >= 2 and data_runs[0]["cause"]["digest"] == final_digest, data_runs
    fires = [f for f in p.triggers()["settled"]["last_fires"] if f["pipeline_run_id"] == settled_runs[0]["run_id"]]
    assert fires and fires[0]["fired_ms"] >= last_write_ms + 3000 - 250, (last_write_ms, fires)
    done = wait_finished(p, [r["run_id"] for r in runs])
    assert {r["status"] for r in done.values()} == {"succeeded"}, done


def test_a_watched_artifact_prefix_fires_on_a_new_object(cairn_server, pipelines):
    base = cairn_server.url
    prefix = f"e2e-watch-{uuid.uuid4().hex[:8]}"

    def upload(name: str, body: bytes) -> None:
        r = requests.put(f"{base}/api/2.0/mlflow-artifacts/artifacts/{prefix}/{name}", data=body, timeout=30)
        assert r.status_code == 200, r.text

    upload("part-0.csv", b"x\n1\n")
    p = pipelines("watch-store", f'triggers:\n  landed: {{watch: "{prefix}/"}}\n')
    assert p.triggers()["landed"]["kind"] == "watch"
    assert_quiet(p, 3, grace=1.0)
    upload("part-1.csv", b"x\n2\n")
    [run] = wait_until(lambda: by_trigger(p.runs(), "landed", "watch"), 30, "a watch run of landed")
    assert isinstance(run["cause"].get("digest"), str) and run["cause"]["digest"], run
    assert wait_finished(p, [run["run_id"]])[run["run_id"]]["status"] == "succeeded"


# ---------------------------------------------------------------------------------------------------
# Registry triggers: a new version of a model
# ---------------------------------------------------------------------------------------------------
def test_a_new_model_version_fires_a_registry_trigger(cairn_server, pipelines, client):
    model = f"trg-reg-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(model)
    exp = client.create_experiment(f"trg-reg-{uuid.uuid4().hex[:8]}")

    def new_version() -> str:
        run = client.create_run(exp)
        client.set_terminated(run.info.run_id)
        return client.create_model_version(model, run.info.artifact_uri, run_id=run.info.run_id).version

    new_version()  # before the trigger exists: fires nothing
    other = f"trg-reg-other-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(other)
    # Well before the registration: an event within the scheduler's last tick before it is a race this
    # test leaves alone (the scheduler matches events to the triggers registered when it reads them).
    time.sleep(2.5)
    p = pipelines("registry", f"""\
        triggers:
          retrain: {{registry: {{model: {model}, event: version_created}}}}
        """)
    assert p.triggers()["retrain"]["kind"] == "registry"
    # Another model's version fires nothing either.
    run = client.create_run(exp)
    client.create_model_version(other, run.info.artifact_uri, run_id=run.info.run_id)
    assert_quiet(p, 2, grace=1.0)
    assert p.runs() == []

    assert new_version() == "2"
    [fired] = wait_until(lambda: by_trigger(p.runs(), "retrain", "registry"), 20, "a registry run")
    assert wait_finished(p, [fired["run_id"]])[fired["run_id"]]["status"] == "succeeded"
    runs = assert_quiet(p, 2, grace=1.0)
    assert len(runs) == 1, f"one new version fired more than one run: {json.dumps([r['cause'] for r in runs], indent=1)}"
