"""Artifacts through the client (proxied `mlflow-artifacts:/` scheme): upload, list, download."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import mlflow
import mlflow.artifacts
import yaml

ALL_BYTES = bytes(range(256)) * 4 + bytes(range(255, -1, -1))


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)).replace(os.sep, "/"): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_binary_artifact_round_trip(client, experiment_id, tmp_path):
    src = tmp_path / "blob.bin"
    src.write_bytes(ALL_BYTES)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(src))
        mlflow.log_artifact(str(src), artifact_path="copies/deep")
    run_id = run.info.run_id

    out = Path(client.download_artifacts(run_id, "blob.bin", str(tmp_path / "dl1")))
    assert out.read_bytes() == ALL_BYTES
    out2 = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="copies/deep/blob.bin",
                                                    dst_path=str(tmp_path / "dl2")))
    assert out2.read_bytes() == ALL_BYTES

    top = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in top] == [("blob.bin", False), ("copies", True)]
    assert top[0].file_size == len(ALL_BYTES)
    deep = client.list_artifacts(run_id, "copies/deep")
    assert [(f.path, f.is_dir, f.file_size) for f in deep] == [
        ("copies/deep/blob.bin", False, len(ALL_BYTES))
    ]


def test_larger_file_round_trip(client, experiment_id, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "large.dat"
    src.write_bytes(data)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(src), artifact_path="big")
    out = Path(client.download_artifacts(run.info.run_id, "big/large.dat", str(tmp_path / "dl")))
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    [info] = client.list_artifacts(run.info.run_id, "big")
    assert info.file_size == len(data)


def test_log_artifacts_directory_and_list(client, experiment_id, tmp_path):
    src = tmp_path / "bundle"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "sub" / "b.json").write_text('{"b": 2}')
    (src / "sub" / "deeper" / "c.bin").write_bytes(b"\x00\x01\x02" * 100)
    (src / "name with spaces.txt").write_text("spaces ok")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(src), artifact_path="bundle")
    run_id = run.info.run_id

    assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id)] == [("bundle", True)]
    listing = client.list_artifacts(run_id, "bundle")
    assert [(f.path, f.is_dir, f.file_size) for f in listing] == [
        ("bundle/a.txt", False, 6),
        ("bundle/name with spaces.txt", False, 9),
        ("bundle/sub", True, None),
    ]
    sub = client.list_artifacts(run_id, "bundle/sub")
    assert [(f.path, f.is_dir, f.file_size) for f in sub] == [
        ("bundle/sub/b.json", False, 8),
        ("bundle/sub/deeper", True, None),
    ]
    deeper = client.list_artifacts(run_id, "bundle/sub/deeper")
    assert [(f.path, f.file_size) for f in deeper] == [("bundle/sub/deeper/c.bin", 300)]
    # Listing a file or a missing directory is empty.
    assert client.list_artifacts(run_id, "bundle/a.txt") == []
    assert client.list_artifacts(run_id, "no/such/dir") == []

    out = Path(client.download_artifacts(run_id, "bundle", str(tmp_path / "dl")))
    assert _tree(out) == _tree(src)


def test_empty_run_has_no_artifacts(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    assert client.list_artifacts(run_id) == []


def test_log_text_and_load_text(client, experiment_id):
    text = "line one\nΩ ünïcode ✓\n" * 50
    with mlflow.start_run() as run:
        mlflow.log_text(text, "notes/readme.txt")
    run_id = run.info.run_id
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/readme.txt") == text
    art_uri = client.get_run(run_id).info.artifact_uri
    assert mlflow.artifacts.load_text(f"{art_uri}/notes/readme.txt") == text
    [info] = client.list_artifacts(run_id, "notes")
    assert info.path == "notes/readme.txt" and info.file_size == len(text.encode("utf-8"))


def test_log_dict_json_and_yaml(client, experiment_id):
    payload = {"a": 1, "nested": {"b": [1, 2, 3], "c": "x"}, "f": 0.5}
    with mlflow.start_run() as run:
        mlflow.log_dict(payload, "cfg/config.json")
        mlflow.log_dict(payload, "cfg/config.yaml")
    run_id = run.info.run_id
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/cfg/config.json") == payload
    assert yaml.safe_load(mlflow.artifacts.load_text(f"runs:/{run_id}/cfg/config.yaml")) == payload
    raw = mlflow.artifacts.load_text(f"runs:/{run_id}/cfg/config.json")
    assert json.loads(raw) == payload


def test_artifacts_are_isolated_per_run(client, experiment_id):
    with mlflow.start_run() as a:
        mlflow.log_text("from a", "same/name.txt")
    with mlflow.start_run() as b:
        mlflow.log_text("from b", "same/name.txt")
    assert mlflow.artifacts.load_text(f"runs:/{a.info.run_id}/same/name.txt") == "from a"
    assert mlflow.artifacts.load_text(f"runs:/{b.info.run_id}/same/name.txt") == "from b"


def test_overwrite_artifact(client, experiment_id):
    with mlflow.start_run() as run:
        mlflow.log_text("first version, longer", "f.txt")
        mlflow.log_text("second", "f.txt")
    assert mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/f.txt") == "second"
    [info] = client.list_artifacts(run.info.run_id)
    assert info.file_size == len("second")


def test_empty_file_round_trip(client, experiment_id, tmp_path):
    src = tmp_path / "empty.txt"
    src.write_bytes(b"")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(src))
    [info] = client.list_artifacts(run.info.run_id)
    # proto3 JSON omits the zero size, which the client reads back as None
    assert info.path == "empty.txt" and info.file_size in (0, None)
    out = Path(client.download_artifacts(run.info.run_id, "empty.txt", str(tmp_path / "dl")))
    assert out.read_bytes() == b""
