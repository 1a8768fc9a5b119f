"""`cairn drift`, end to end: a standalone drift report of a current CSV/Parquet file against a reference,
as Evidently's DataDriftPreset computes it. Exit 0 without dataset drift, 1 with it, 2 on bad input with
one clear line on stderr; the JSON report's shape and method names; scores equal to SciPy's (and to
Evidently's formulas on top of SciPy); a self-contained, small HTML page; --columns, --method and
--threshold honoured.

Cairn-only: `mlflow server` has no drift report. Needs no server.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from conftest import cairn_bin

pytestmark = pytest.mark.cairn_only

EVIDENTLY_METHODS = {"ks", "wasserstein", "psi", "jensenshannon", "chisquare", "z", "chisquare_2sample"}


def drift(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(cairn_bin()), "drift", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def frame(seed: int, n: int, shift: float = 0.0) -> pd.DataFrame:
    """Three numeric columns and one categorical; `shift` moves every one of them."""
    rng = np.random.default_rng(seed)
    plans = ["basic", "plus", "pro"]
    probs = [0.5, 0.3, 0.2] if shift == 0 else [0.2, 0.3, 0.5]
    return pd.DataFrame(
        {
            "age": rng.normal(40 + 10 * shift, 10, n),
            "income": rng.lognormal(10 + shift, 0.5, n),
            "score": rng.uniform(shift, 1 + shift, n),
            "plan": rng.choice(plans, n, p=probs),
        }
    )


def write(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)
    return path


def close(got: float, want: float, rel: float = 1e-9) -> bool:
    return abs(got - want) <= rel * abs(want) or got == want


def report_of(out: subprocess.CompletedProcess, path: Path) -> dict:
    assert out.returncode in (0, 1), out.stderr
    assert "panicked" not in out.stderr
    return json.loads(path.read_text())


def check_shape(report: dict) -> None:
    for c in report["columns"]:
        assert {"column", "type", "method", "score", "threshold", "drifted"} <= c.keys(), c.keys()
        assert c["type"] in ("numerical", "categorical")
        assert c["method"] in EVIDENTLY_METHODS
        assert isinstance(c["score"], float) and isinstance(c["threshold"], float)
        assert isinstance(c["drifted"], bool)
    d = report["dataset"]
    assert {"columns", "drifted_columns", "share", "drifted"} <= d.keys(), d.keys()
    assert d["columns"] == len(report["columns"])
    assert d["drifted_columns"] == sum(c["drifted"] for c in report["columns"])
    assert close(d["share"], d["drifted_columns"] / d["columns"])
    assert isinstance(report["quality"], dict)


def test_same_distribution_exits_0_with_evidently_methods(tmp_path):
    ref = write(frame(1, 2000), tmp_path / "ref.csv")
    cur = write(frame(2, 2000), tmp_path / "cur.csv")
    out = drift("--reference", ref, "--current", cur, "--json", tmp_path / "r.json")
    report = report_of(out, tmp_path / "r.json")
    assert out.returncode == 0, out.stdout + out.stderr
    check_shape(report)
    assert report["dataset"]["drifted"] is False
    # Evidently's automatic choice past 1000 reference rows: normed Wasserstein and Jensen-Shannon.
    methods = {c["column"]: (c["type"], c["method"]) for c in report["columns"]}
    assert methods == {
        "age": ("numerical", "wasserstein"),
        "income": ("numerical", "wasserstein"),
        "score": ("numerical", "wasserstein"),
        "plan": ("categorical", "jensenshannon"),
    }
    # The human summary on stdout names every column and the verdict.
    assert all(name in out.stdout for name in methods)
    assert "Dataset drift: not detected" in out.stdout


def test_shifted_data_exits_1(tmp_path):
    ref = write(frame(1, 2000), tmp_path / "ref.parquet")
    cur = write(frame(2, 2000, shift=0.5), tmp_path / "cur.parquet")
    out = drift("--reference", ref, "--current", cur, "--json", tmp_path / "r.json")
    report = report_of(out, tmp_path / "r.json")
    assert out.returncode == 1, out.stdout + out.stderr
    check_shape(report)
    assert report["dataset"]["drifted"] is True
    assert report["dataset"]["drifted_columns"] == 4
    assert "Dataset drift: DETECTED" in out.stdout


def test_small_sample_scores_equal_scipy(tmp_path):
    """At most 1000 reference rows Evidently picks `ks` (SciPy's ks_2samp p-value) for numbers and its
    one-sample `chisquare` (reference counts scaled to the current size) for levels."""
    r, c = frame(3, 500), frame(4, 400, shift=0.1)
    ref, cur = write(r, tmp_path / "ref.parquet"), write(c, tmp_path / "cur.parquet")
    report = report_of(drift("--reference", ref, "--current", cur, "--json", tmp_path / "r.json"), tmp_path / "r.json")
    cols = {x["column"]: x for x in report["columns"]}
    for name in ("age", "income", "score"):
        assert cols[name]["method"] == "ks"
        want = stats.ks_2samp(r[name], c[name]).pvalue
        assert close(cols[name]["score"], want), (name, cols[name]["score"], want)
        assert cols[name]["drifted"] == (want <= 0.05)
    levels = sorted(set(r["plan"]) | set(c["plan"]))
    rc = r["plan"].value_counts().reindex(levels, fill_value=0).to_numpy()
    cc = c["plan"].value_counts().reindex(levels, fill_value=0).to_numpy()
    assert cols["plan"]["method"] == "chisquare"
    want = stats.chisquare(cc, rc * len(c) / len(r)).pvalue
    assert close(cols["plan"]["score"], want), (cols["plan"]["score"], want)

    # The two-sample test of homogeneity on the same counts.
    out = drift("--reference", ref, "--current", cur, "--columns", "plan", "--method", "chisquare_2sample",
                "--json", tmp_path / "c.json")
    got = report_of(out, tmp_path / "c.json")["columns"][0]["score"]
    assert close(got, stats.chi2_contingency([rc, cc], correction=False).pvalue)


def test_large_sample_scores_equal_evidentlys_formulas(tmp_path):
    r, c = frame(5, 3000), frame(6, 2500, shift=0.05)
    ref, cur = write(r, tmp_path / "ref.parquet"), write(c, tmp_path / "cur.parquet")
    report = report_of(drift("--reference", ref, "--current", cur, "--json", tmp_path / "r.json"), tmp_path / "r.json")
    cols = {x["column"]: x for x in report["columns"]}
    for name in ("age", "income", "score"):
        # Evidently's normed Wasserstein: W1 / max(std(reference, ddof=0), 0.001).
        want = stats.wasserstein_distance(r[name], c[name]) / max(np.std(r[name]), 0.001)
        assert close(cols[name]["score"], want), (name, cols[name]["score"], want)
    levels = sorted(set(r["plan"]) | set(c["plan"]))
    p = r["plan"].value_counts(normalize=True).reindex(levels, fill_value=0)
    q = c["plan"].value_counts(normalize=True).reindex(levels, fill_value=0)
    assert close(cols["plan"]["score"], distance.jensenshannon(p, q))


def test_html_is_self_contained_and_small_at_200k_rows(tmp_path):
    ref = write(frame(7, 200_000), tmp_path / "ref.parquet")
    cur = write(frame(8, 200_000, shift=0.2), tmp_path / "cur.parquet")
    html = tmp_path / "report.html"
    out = drift("--reference", ref, "--current", cur, "--html", html, "--json", tmp_path / "r.json")
    assert out.returncode == 1, out.stderr
    page = html.read_text()
    assert page.lstrip().lower().startswith("<!doctype html")
    assert all(name in page for name in ("age", "income", "score", "plan"))
    assert "<svg" in page, "the histograms are inline SVG"
    external = re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.IGNORECASE)
    assert not external, external
    assert not re.search(r"<script[^>]*\bsrc\b", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*stylesheet", page, re.IGNORECASE)
    assert html.stat().st_size < 200_000, html.stat().st_size


def test_columns_method_and_threshold_are_honoured(tmp_path):
    ref = write(frame(9, 2000), tmp_path / "ref.csv")
    cur = write(frame(10, 2000, shift=0.3), tmp_path / "cur.csv")
    base = ["--reference", ref, "--current", cur]

    out = drift(*base, "--columns", "age,plan", "--json", tmp_path / "a.json")
    assert [c["column"] for c in report_of(out, tmp_path / "a.json")["columns"]] == ["age", "plan"]
    out = drift(*base, "--columns", "score", "--columns", "age", "--json", tmp_path / "b.json")
    assert [c["column"] for c in report_of(out, tmp_path / "b.json")["columns"]] == ["score", "age"]

    out = drift(*base, "--method", "psi", "--json", tmp_path / "psi.json")
    report = report_of(out, tmp_path / "psi.json")
    assert {c["method"] for c in report["columns"]} == {"psi"}
    assert {c["threshold"] for c in report["columns"]} == {0.1}

    out = drift(*base, "--columns", "age,income,score", "--method", "ks", "--json", tmp_path / "ks.json")
    assert out.returncode == 1
    assert {c["method"] for c in report_of(out, tmp_path / "ks.json")["columns"]} == {"ks"}

    # A distance threshold no shift reaches: nothing drifts, exit 0.
    out = drift(*base, "--threshold", "5", "--json", tmp_path / "t.json")
    report = report_of(out, tmp_path / "t.json")
    assert out.returncode == 0, out.stdout
    assert all(c["threshold"] == 5.0 and not c["drifted"] for c in report["columns"])

    # A correction decides the dataset verdict from the p-values instead of the share.
    out = drift(*base, "--correction", "bonferroni", "--json", tmp_path / "bonf.json")
    d = report_of(out, tmp_path / "bonf.json")["dataset"]
    assert d["correction"] == "bonferroni" and d["drifted"] is True and out.returncode == 1


def _no_common(tmp: Path) -> list:
    write(pd.DataFrame({"x": [1.0, 2.0]}), tmp / "other.csv")
    return ["--current", tmp / "other.csv"]


def _empty(tmp: Path) -> list:
    (tmp / "empty.csv").write_bytes(b"")
    return ["--current", tmp / "empty.csv"]


def _all_nan(tmp: Path) -> list:
    df = frame(11, 50)
    df["age"] = np.nan
    return ["--current", write(df, tmp / "nan.csv")]


def _text_in_numbers(tmp: Path) -> list:
    df = frame(12, 50).astype({"age": object})
    df.loc[7, "age"] = "forty"
    return ["--current", write(df, tmp / "text.csv")]


def _missing_file(tmp: Path) -> list:
    return ["--current", tmp / "no-such-file.csv"]


def _unknown_method(tmp: Path) -> list:
    return ["--current", write(frame(13, 50), tmp / "cur.csv"), "--method", "kolmogorov"]


def _too_large(tmp: Path) -> list:
    return ["--current", write(frame(14, 50), tmp / "cur.csv"), "--max-file-size", "100"]


@pytest.mark.parametrize(
    "case, message",
    [
        (_no_common, r"no column in common"),
        (_empty, r"empty\.csv is empty"),
        (_all_nan, r"column 'age' has no values in the current data"),
        (_text_in_numbers, r"column 'age' is numeric in the reference data but holds text in the current data.*forty"),
        (_missing_file, r"no-such-file\.csv.*No such file"),
        (_unknown_method, r"unknown drift method 'kolmogorov' \(known: ks, wasserstein"),
        (_too_large, r"over the 100-byte limit"),
    ],
    ids=["no-common-columns", "empty-file", "all-nan-column", "text-in-numeric-column", "missing-file",
         "unknown-method", "file-too-large"],
)
def test_bad_input_exits_2_with_one_clear_line(tmp_path, case, message):
    ref = write(frame(15, 50), tmp_path / "ref.csv")
    out = drift("--reference", ref, *case(tmp_path), "--json", tmp_path / "r.json")
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cairn: error: "), out.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "r.json").exists(), "no report is written for bad input"
