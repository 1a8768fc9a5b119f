"""Experiments through the official client: create/get/search/update/delete/restore and tags."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.entities import ViewType

from helpers import expect_mlflow_error, now_ms


def test_default_experiment_exists(client):
    exp = client.get_experiment("0")
    assert exp.experiment_id == "0"
    assert exp.name == "Default"
    assert exp.lifecycle_stage == "active"
    by_name = client.get_experiment_by_name("Default")
    assert by_name is not None and by_name.experiment_id == "0"


def test_create_with_tags_and_get(client, unique_name):
    name = unique_name()
    before = now_ms()
    exp_id = client.create_experiment(name, tags={"team": "vision", "owner": "ana"})
    after = now_ms()
    assert isinstance(exp_id, str) and exp_id.isdigit() and exp_id != "0"

    exp = client.get_experiment(exp_id)
    assert exp.experiment_id == exp_id
    assert exp.name == name
    assert exp.lifecycle_stage == "active"
    assert exp.tags == {"team": "vision", "owner": "ana"}
    assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"
    assert before - 5000 <= exp.creation_time <= after + 5000
    assert exp.last_update_time >= exp.creation_time

    by_name = client.get_experiment_by_name(name)
    assert by_name.experiment_id == exp_id
    assert by_name.tags == {"team": "vision", "owner": "ana"}


def test_get_by_name_missing_returns_none(client, unique_name):
    assert client.get_experiment_by_name(unique_name("missing")) is None


def test_duplicate_name_is_resource_already_exists(client, unique_name):
    name = unique_name()
    client.create_experiment(name)
    with expect_mlflow_error("RESOURCE_ALREADY_EXISTS"):
        client.create_experiment(name)


def test_fluent_set_experiment_creates_then_reuses(client, unique_name):
    name = unique_name()
    exp = mlflow.set_experiment(name)
    assert exp.name == name and exp.experiment_id.isdigit()
    again = mlflow.set_experiment(name)
    assert again.experiment_id == exp.experiment_id
    assert client.get_experiment_by_name(name).experiment_id == exp.experiment_id


@pytest.fixture
def five_experiments(client, unique_name):
    prefix = unique_name("search")
    ids = {}
    for i in range(5):
        name = f"{prefix}-{i}"
        ids[name] = client.create_experiment(
            name, tags={"group": "even" if i % 2 == 0 else "odd", "idx": str(i)}
        )
    return prefix, ids


def test_search_by_name_like_and_order(client, five_experiments):
    prefix, ids = five_experiments
    found = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'", order_by=["name ASC"])
    assert [e.name for e in found] == sorted(ids)
    assert [e.experiment_id for e in found] == [ids[n] for n in sorted(ids)]

    desc = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'", order_by=["name DESC"])
    assert [e.name for e in desc] == sorted(ids, reverse=True)

    exact = client.search_experiments(filter_string=f"name = '{prefix}-3'")
    assert [e.experiment_id for e in exact] == [ids[f"{prefix}-3"]]

    # LIKE is case-sensitive, ILIKE is not.
    assert client.search_experiments(filter_string=f"name LIKE '{prefix.upper()}-%'") == []
    ilike = client.search_experiments(filter_string=f"name ILIKE '{prefix.upper()}-%'")
    assert sorted(e.name for e in ilike) == sorted(ids)


def test_search_by_tag(client, five_experiments):
    prefix, ids = five_experiments
    even = client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%' AND tags.group = 'even'", order_by=["name ASC"]
    )
    assert [e.name for e in even] == [f"{prefix}-0", f"{prefix}-2", f"{prefix}-4"]
    one = client.search_experiments(filter_string=f"name LIKE '{prefix}-%' AND tags.idx = '1'")
    assert [e.name for e in one] == [f"{prefix}-1"]


def test_search_pagination_with_page_tokens(client, five_experiments):
    prefix, ids = five_experiments
    seen, tokens, sizes = [], [], []
    token = None
    while True:
        page = client.search_experiments(
            filter_string=f"name LIKE '{prefix}-%'",
            order_by=["name ASC"],
            max_results=2,
            page_token=token,
        )
        sizes.append(len(page))
        seen += [e.name for e in page]
        token = page.token
        if not token:
            break
        tokens.append(token)
        assert len(sizes) < 10, "pagination does not terminate"
    assert sizes == [2, 2, 1]
    assert seen == sorted(ids)
    assert len(set(tokens)) == 2


def test_search_view_types(client, five_experiments):
    prefix, ids = five_experiments
    victim = ids[f"{prefix}-1"]
    client.delete_experiment(victim)
    flt = f"name LIKE '{prefix}-%'"

    active = client.search_experiments(view_type=ViewType.ACTIVE_ONLY, filter_string=flt)
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=flt)
    everything = client.search_experiments(view_type=ViewType.ALL, filter_string=flt)
    assert sorted(e.experiment_id for e in active) == sorted(v for v in ids.values() if v != victim)
    assert [e.experiment_id for e in deleted] == [victim]
    assert deleted[0].lifecycle_stage == "deleted"
    assert sorted(e.experiment_id for e in everything) == sorted(ids.values())


def test_rename_experiment(client, unique_name):
    old, new = unique_name("old"), unique_name("new")
    exp_id = client.create_experiment(old)
    client.rename_experiment(exp_id, new)
    assert client.get_experiment(exp_id).name == new
    assert client.get_experiment_by_name(new).experiment_id == exp_id
    assert client.get_experiment_by_name(old) is None


def test_rename_to_taken_name_fails(client, unique_name):
    a, b = unique_name("a"), unique_name("b")
    client.create_experiment(a)
    b_id = client.create_experiment(b)
    # MLflow itself answers 400 BAD_REQUEST (a leaked unique-constraint error) here; any 400-class
    # code is acceptable, RESOURCE_ALREADY_EXISTS being the sensible one.
    with expect_mlflow_error(("RESOURCE_ALREADY_EXISTS", "BAD_REQUEST", "INVALID_PARAMETER_VALUE")):
        client.rename_experiment(b_id, a)
    assert client.get_experiment(b_id).name == b


def test_delete_and_restore(client, unique_name):
    name = unique_name()
    exp_id = client.create_experiment(name)
    client.delete_experiment(exp_id)
    exp = client.get_experiment(exp_id)
    assert exp.lifecycle_stage == "deleted"
    # A deleted experiment still holds its name.
    with expect_mlflow_error("RESOURCE_ALREADY_EXISTS"):
        client.create_experiment(name)
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    assert client.get_experiment_by_name(name).lifecycle_stage == "active"


def test_set_and_delete_experiment_tag(client, unique_name):
    exp_id = client.create_experiment(unique_name(), tags={"keep": "1"})
    client.set_experiment_tag(exp_id, "stage", "dev")
    assert client.get_experiment(exp_id).tags == {"keep": "1", "stage": "dev"}
    client.set_experiment_tag(exp_id, "stage", "prod")  # overwrite
    assert client.get_experiment(exp_id).tags == {"keep": "1", "stage": "prod"}
    client.delete_experiment_tag(exp_id, "stage")
    assert client.get_experiment(exp_id).tags == {"keep": "1"}
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.delete_experiment_tag(exp_id, "stage")


def test_experiment_tag_with_unicode_and_long_value(client, unique_name):
    exp_id = client.create_experiment(unique_name())
    value = "Ωmega – ünïcode ✓ " + "x" * 4000
    client.set_experiment_tag(exp_id, "note", value)
    assert client.get_experiment(exp_id).tags["note"] == value


def test_delete_experiment_cascades_to_runs(client, unique_name):
    exp_id = client.create_experiment(unique_name())
    runs = [client.create_run(exp_id).info.run_id for _ in range(3)]
    client.delete_experiment(exp_id)
    assert {client.get_run(r).info.lifecycle_stage for r in runs} == {"deleted"}
    assert client.search_runs([exp_id]) == []
    assert sorted(r.info.run_id for r in client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)) == sorted(runs)
    client.restore_experiment(exp_id)
    assert {client.get_run(r).info.lifecycle_stage for r in runs} == {"active"}
    assert sorted(r.info.run_id for r in client.search_runs([exp_id])) == sorted(runs)


def test_delete_twice_and_restore_active_fail(client, unique_name):
    exp_id = client.create_experiment(unique_name())
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.restore_experiment(exp_id)  # not deleted
    client.delete_experiment(exp_id)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.delete_experiment(exp_id)  # already deleted
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
