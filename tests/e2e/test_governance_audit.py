"""The audit chain against tampering: a server with auth records governed changes (users, grants,
tokens, registry writes, a protection, a promotion with its approval, a policy, a denied request), is
stopped cleanly (its last checkpoint then covers every entry), and each test edits a copy of its SQLite
file the way an attacker with database access would, then runs `cairn audit verify --data-dir` on the
stopped folder: exit 0 intact, 1 tampered (with the first bad seq when an entry is to blame), 2 cannot
verify. The last test rewrites the whole chain consistently (re-hashing every entry) and deletes the
stored checkpoints: the signed notes written beside the database still catch it.

SQLite only: the tests edit `cairn.db` directly (skipped when CAIRN_E2E_BACKEND_STORE_URI is set).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import CairnServer
from test_governance import API, Gov, cairn, ok, start_auth_server, uid

pytestmark = [
    pytest.mark.cairn_only,
    pytest.mark.skipif(bool(os.environ.get("CAIRN_E2E_BACKEND_STORE_URI")),
                       reason="edits the SQLite file of a data folder"),
]


@pytest.fixture(scope="module")
def pristine(tmp_root):
    """A stopped server's data folder with a chain of a few dozen entries, all under a checkpoint."""
    data = tmp_root / uid("audit-src")
    server = start_auth_server(data)
    try:
        gov = Gov(server)
        sci = gov.user("sci", ("scientist", "*"))
        approver = gov.user("approver", ("approver", "*"))
        viewer = gov.user("viewer", ("viewer", "*"))
        ok(gov.cli("token", "create", "--name", "t", "--json", cred=sci))
        model = uid("audited")
        gov.model(sci, model, 2)
        gov.protect(model, "production", 1)
        pid = gov.request(sci, model, 1, "production", "first release")["id"]
        assert gov.review(pid, approver).json()["promotion"]["state"] == "applied"
        assert gov.http("POST", f"{API}/users", viewer, json={"username": uid("x"), "password": "x-pass-1234"}
                        ).status_code == 403
        policy = data.parent / f"{data.name}.rego"
        policy.write_text("package cairn.promotion\n\ndeny contains \"never\" if { false }\n")
        ok(gov.cli("policy", "set", policy))
        ok(gov.cli("policy", "clear"))
        pubkey = ok(gov.cli("audit", "pubkey")).stdout.strip()
    finally:
        CairnServer.instances.remove(server)
        server.stop_cleanly()
    with contextlib.closing(sqlite3.connect(data / "cairn.db")) as db:
        n = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    assert n >= 15, n
    return data, n, pubkey


@pytest.fixture
def folder(pristine, tmp_path) -> Path:
    data, _, _ = pristine
    copy = tmp_path / "data"
    shutil.copytree(data, copy, ignore=shutil.ignore_patterns("artifacts"))
    return copy


def verify(folder: Path, *extra: str) -> tuple[int, dict]:
    res = cairn("audit", "verify", "--data-dir", folder, "--json", *extra)
    assert res.returncode in (0, 1, 2), res.stdout + res.stderr
    try:
        report = json.loads(res.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"verify printed no JSON report (exit {res.returncode}):\n{res.stdout}\n{res.stderr}")
    assert set(report) >= {"outcome", "seq", "reason", "entries", "checkpoints_verified", "last_checkpoint",
                           "unanchored_tail", "warnings"}, report
    expected = {0: "intact", 1: "tampered", 2: "cannot_verify"}[res.returncode]
    assert report["outcome"] == expected, (res.returncode, report)
    return res.returncode, report


@contextlib.contextmanager
def db(folder: Path):
    conn = sqlite3.connect(folder / "cairn.db")
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


def tampered_at(folder: Path, seq: int | None, *words: str) -> dict:
    code, report = verify(folder)
    assert code == 1, report
    if seq is not None:
        assert report["seq"] == seq, report
    for w in words:
        assert w in report["reason"], report
    return report


def middle(pristine) -> int:
    return pristine[1] // 2


def test_intact_store_verifies(pristine, folder):
    _, n, _ = pristine
    code, report = verify(folder)
    assert code == 0, report
    assert report["entries"] == n and report["seq"] is None and report["reason"] is None, report
    # The clean shutdown signed a checkpoint over everything, and wrote it beside the database too.
    assert report["last_checkpoint"] == n and report["unanchored_tail"] == 0, report
    assert report["checkpoints_verified"] >= 1 and report["warnings"] == [], report
    notes = sorted(int(p.stem) for p in (folder / "audit" / "checkpoints").glob("*.note"))
    assert notes and notes[-1] == n, notes
    with db(folder) as conn:
        assert conn.execute("SELECT max(size) FROM audit_checkpoints").fetchone()[0] == n
    # The plain-text report says the same.
    res = cairn("audit", "verify", "--data-dir", folder)
    assert res.returncode == 0 and "intact" in res.stdout.lower(), res.stdout + res.stderr


def test_edited_entry_text(pristine, folder):
    k = middle(pristine)
    with db(folder) as conn:
        (entry,) = conn.execute("SELECT entry FROM audit_log WHERE seq = ?", (k,)).fetchone()
        e = json.loads(entry)
        edited = entry.replace(f'"actor":{json.dumps(e["actor"])}', '"actor":"mallory"')
        assert edited != entry
        conn.execute("UPDATE audit_log SET entry = ? WHERE seq = ?", (edited, k))
    tampered_at(folder, k, "edited")


def test_edited_actor_column_only(pristine, folder):
    k = middle(pristine)
    with db(folder) as conn:
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = ?", (k,))
    tampered_at(folder, k, "actor")


def test_edited_leaf_hash(pristine, folder):
    k = middle(pristine) + 1
    with db(folder) as conn:
        conn.execute("UPDATE audit_log SET leaf_hash = ? WHERE seq = ?", (hashlib.sha256(b"forged").hexdigest(), k))
    tampered_at(folder, k)


def test_deleted_middle_row(pristine, folder):
    k = middle(pristine)
    with db(folder) as conn:
        conn.execute("DELETE FROM audit_log WHERE seq = ?", (k,))
    tampered_at(folder, k, "missing")


def test_inserted_row(pristine, folder):
    """seq is the primary key, so an inserted row shifts the ones after it (a copy of row k at k+1)."""
    k = middle(pristine)
    with db(folder) as conn:
        for (seq,) in conn.execute("SELECT seq FROM audit_log WHERE seq > ? ORDER BY seq DESC", (k,)).fetchall():
            conn.execute("UPDATE audit_log SET seq = seq + 1 WHERE seq = ?", (seq,))
        conn.execute(
            "INSERT INTO audit_log (seq, ts_ms, actor, action, resource_kind, resource_id, entry, leaf_hash, "
            "chain_hash) SELECT ?, ts_ms, actor, action, resource_kind, resource_id, entry, leaf_hash, chain_hash "
            "FROM audit_log WHERE seq = ?", (k + 1, k))
    tampered_at(folder, k + 1)


def test_swapped_rows(pristine, folder):
    a = middle(pristine)
    b = a + 3
    cols = "ts_ms, actor, action, resource_kind, resource_id, entry, leaf_hash, chain_hash"
    with db(folder) as conn:
        ra = conn.execute(f"SELECT {cols} FROM audit_log WHERE seq = ?", (a,)).fetchone()
        rb = conn.execute(f"SELECT {cols} FROM audit_log WHERE seq = ?", (b,)).fetchone()
        assert ra != rb
        sets = ", ".join(f"{c.strip()} = ?" for c in cols.split(","))
        conn.execute(f"UPDATE audit_log SET {sets} WHERE seq = ?", (*rb, a))
        conn.execute(f"UPDATE audit_log SET {sets} WHERE seq = ?", (*ra, b))
    tampered_at(folder, a)


def test_truncated_tail(pristine, folder):
    _, n, _ = pristine
    with db(folder) as conn:
        conn.execute("DELETE FROM audit_log WHERE seq > ?", (n - 3,))
    # The rows left are consistent: only the checkpoint (in the database and beside it) knows more existed.
    report = tampered_at(folder, n - 2, "truncated")
    assert report["entries"] == n - 3
    with db(folder) as conn:
        conn.execute("DELETE FROM audit_checkpoints WHERE size > ?", (n - 3,))
    tampered_at(folder, n - 2, "truncated")  # the anchor note files still say so


def rewrite_consistently(folder: Path, k: int) -> None:
    """Edits entry k (its actor, in the entry and the column) and re-hashes the whole chain the way the
    server does: leaf = SHA-256(0x00 ‖ entry), chain = SHA-256(0x02 ‖ prev chain ‖ leaf), from
    genesis = SHA-256("cairn-audit-v1\\n" ‖ log id), with each entry's `prev` rewritten."""
    with db(folder) as conn:
        (log_id,) = conn.execute("SELECT log_id FROM audit_meta").fetchone()
        rows = conn.execute("SELECT seq, entry, actor, chain_hash FROM audit_log ORDER BY seq").fetchall()
        old_prev = hashlib.sha256(b"cairn-audit-v1\n" + log_id.encode()).digest()
        new_prev = old_prev
        for seq, entry, actor, old_chain in rows:
            e = entry.replace(f'"prev":"{old_prev.hex()}"', f'"prev":"{new_prev.hex()}"')
            assert e.count(f'"prev":"{new_prev.hex()}"') == 1, (seq, entry)
            if seq == k:
                edited = e.replace(f'"actor":{json.dumps(actor)}', '"actor":"mallory"', 1)
                assert edited != e
                e, actor = edited, "mallory"
            leaf = hashlib.sha256(b"\x00" + e.encode()).digest()
            chain = hashlib.sha256(b"\x02" + new_prev + leaf).digest()
            conn.execute("UPDATE audit_log SET entry = ?, actor = ?, leaf_hash = ?, chain_hash = ? WHERE seq = ?",
                         (e, actor, leaf.hex(), chain.hex(), seq))
            old_prev, new_prev = bytes.fromhex(old_chain), chain


def test_consistent_rewrite_is_caught_by_the_signed_anchors(pristine, folder):
    k = middle(pristine)
    rewrite_consistently(folder, k)
    # Rewritten with the checkpoints left in place: they no longer match.
    report = tampered_at(folder, None, "rewritten")
    assert report["seq"] is not None and report["seq"] >= k, report
    # The attacker also deletes the stored checkpoints: the notes written beside the database remain.
    with db(folder) as conn:
        conn.execute("DELETE FROM audit_checkpoints")
    report = tampered_at(folder, None, "rewritten")
    assert report["seq"] is not None and report["seq"] >= k, report
    # Proof that the rewrite itself is consistent (so the notes are what caught it): without them, the
    # hashes alone find nothing, and verify can only warn that nothing is anchored.
    shutil.rmtree(folder / "audit" / "checkpoints")
    code, report = verify(folder)
    assert code == 0 and report["checkpoints_verified"] == 0, report
    assert any("no checkpoints" in w for w in report["warnings"]), report


def test_without_a_key_it_cannot_verify(pristine, folder):
    _, n, pubkey = pristine
    (folder / "audit" / "signing.key").unlink()
    code, report = verify(folder)
    assert code == 2, report
    assert "key" in report["reason"].lower(), report
    # The verifier key kept elsewhere (`cairn audit pubkey`) is enough: given as text, or as a file.
    code, report = verify(folder, "--pubkey", pubkey)
    assert code == 0 and report["last_checkpoint"] == n, report
    keyfile = folder.parent / "verifier.pub"
    keyfile.write_text(pubkey + "\n")
    code, report = verify(folder, "--pubkey", str(keyfile))
    assert code == 0, report
    # …and it still catches tampering.
    with db(folder) as conn:
        conn.execute("UPDATE audit_log SET resource_id = 'elsewhere' WHERE seq = 3")
    code, report = verify(folder, "--pubkey", pubkey)
    assert code == 1 and report["seq"] == 3, report
