"""Smoke runs of the benchmark scripts on a tiny slice (``pytest -m bench``).

Deselected by default (``addopts = ... -m 'not bench'``). ``vs_qlib.py`` needs
``pyqlib`` (the ``bench`` extra, e.g. in the bench venv) and the real data; both
tests are skipped where they are missing. Qlib's own handler stage (``prep-qlib``)
evaluates 300 expressions per instrument and takes minutes even on a few days, so
it runs only with ``IGMTF_BENCH_QLIB_PREP=1``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.bench

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
TINY_SLICE = (
    "--train 2019-01-02:2019-01-25 --valid 2019-02-11:2019-02-22 --test 2019-03-01:2019-03-06 "
    "--hidden-size 4 --num-layers 1 --pretrain-epochs 1 --epochs 1 --threads 1"
).split()


def _run(args, timeout=600):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_micro_smoke(tmp_path):
    out = tmp_path / "micro.json"
    stdout = _run(
        [
            BENCH_DIR / "micro.py",
            *"--rows 16 --seq-len 5 --hidden-size 4 --num-layers 1 --days 12 --valid-days 3".split(),
            *"--fit-days 12 --repeat 2 --json".split(),
            out,
        ]
    )
    assert "the floor" in stdout
    result = json.loads(out.read_text())
    assert result["floor_cpu"] > 0 and result["epoch_wall"] > 0
    assert result["train_rows"] == 12 * 16
    assert math.isfinite(result["ratio_wall"])
    assert "arithmetic floor" in stdout
    assert 0 < result["floor_arith"] < result["floor_cpu"]


@pytest.mark.skipif(importlib.util.find_spec("qlib") is None, reason="pyqlib is not installed")
def test_vs_qlib_smoke(tmp_path, data_dir):
    stages = "prep-ours,fit-ours,fit-qlib"
    if os.environ.get("IGMTF_BENCH_QLIB_PREP") == "1":
        stages = "prep-ours,prep-qlib,fit-ours,fit-qlib"
    out = tmp_path / "vs_qlib.json"
    stdout = _run(
        [BENCH_DIR / "vs_qlib.py", "--data-dir", data_dir, *TINY_SLICE]
        + ["--workdir", tmp_path / "work", "--stages", stages, "--json", out]
    )
    assert "| IGMTF epoch |" in stdout
    results = json.loads(out.read_text())["results"]
    for stage in ("fit-ours", "fit-qlib"):
        assert len(results[stage]["igmtf_epochs"]) == 1
        assert len(results[stage]["pretrain_epochs"]) == 1
        assert results[stage]["peak_rss_mib"] > 0
        assert math.isfinite(results[stage]["test"]["IC"])
    if "prep-qlib" in stages:
        for entry in results["prep-qlib"]["compare"].values():
            assert entry["rows_qlib"] == entry["rows_ours"] == entry["rows_common"]
            assert entry["feature_max_abs_diff"] <= 1e-5


@pytest.mark.skipif(importlib.util.find_spec("qlib") is None, reason="pyqlib is not installed")
def test_vs_qlib_seeds_smoke(tmp_path, data_dir):
    # The accuracy comparison: both frameworks once per seed, two stages at a time.
    out = tmp_path / "vs_qlib_seeds.json"
    stdout = _run(
        [BENCH_DIR / "vs_qlib.py", "--data-dir", data_dir, *TINY_SLICE]
        + ["--epochs", "2", "--seeds", "0,1", "--jobs", "2", "--accuracy-only"]
        + ["--workdir", tmp_path / "work", "--stages", "prep-ours,fit-ours,fit-qlib"]
        + ["--json", out]
    )
    assert "| ours - Qlib, paired |" in stdout
    results = json.loads(out.read_text())["results"]
    assert sorted(results) == ["0", "1"]
    for seed in ("0", "1"):
        for stage in ("fit-ours", "fit-qlib"):
            epochs = results[seed][stage]["igmtf_epochs"]
            assert len(epochs) == 2
            assert all(math.isfinite(e["valid_ic"]) for e in epochs)
            assert math.isfinite(results[seed][stage]["test"]["Rank IC"])
        # --accuracy-only: Qlib neither pretrains its own GRU nor re-scores the train set
        assert "pretrain_epochs" not in results[seed]["fit-qlib"]
        assert all(e["rescore_train"] < 0.5 for e in results[seed]["fit-qlib"]["igmtf_epochs"])


def test_accuracy_campaign_smoke(tmp_path, data_dir):
    """accuracy.py end to end on a tiny slice: pretraining, the baselines, a label-reading
    variant with its grown bank, the grid search, a variant on both normalisations side by
    side and one whose GRU stops on the validation IC, each with its own pretraining, IGMTF
    on a frozen encoder, one trained on the day's z-scored returns, the choice of
    normalisation on the training years and its pick's final fit, the refits on the valid
    days' labels, a rerun that skips what is done, the table."""
    if not (data_dir.parent / "cn_sample500" / "calendars" / "day.txt").is_file():
        pytest.skip("cn_sample500 is not beside the CSI 300 data")
    results, cache = tmp_path / "results", tmp_path / "cache"
    campaign = [BENCH_DIR / "accuracy.py", "--smoke", "--settings", "C", "--seeds", "0"]
    campaign += ["--data-root", data_dir.parent, "--results-dir", results, "--cache-dir", cache]
    variants = "gru,qlib,labels,search,qlib@both_icstop,qlib@icstop,frozen,qlib@zlabel_icstop"
    variants = ["--variants", f"{variants},choose,refit_half@icstop,refit@icstop"]
    out = _run([*campaign, *variants, "--jobs", "2"], timeout=1200)
    # pretrain, gru, qlib, labels, search, the search's 2 candidates x 2 folds, qlib@both_icstop,
    # qlib@icstop and qlib@zlabel_icstop after their own pretrainings, frozen, the
    # choice's 2 candidates and qlib@icstop's 2 refits
    assert "20 task(s) to run" in out and "FAILED" not in out
    assert (results / "pretrained" / "gru_C_both_icstop_seed0.pt").is_file()
    both = json.loads((results / "C" / "qlib@both_icstop_seed0.json").read_text())
    assert both["features"] == "both" and both["params"] == {}
    held_out = {
        f: json.loads((results / "C" / "choice" / f"{f}_seed0.json").read_text())
        for f in ("robust", "both")
    }  # fitted on the training range's first half, scored on its second, never on valid
    for record in held_out.values():
        assert record["train_days"][1] < record["held_out_days"][0] <= "2018-12-31"
    icstop = json.loads((results / "C" / "pretrain@icstop_seed0.json").read_text())
    assert icstop["features"] == "robust" and icstop["params"]["monitor"] == "'valid_ic'"
    frozen = json.loads((results / "C" / "frozen_seed0.json").read_text())
    assert frozen["params"] == {"residual_head": "True", "freeze": "'rnn.*'"}
    folds = sorted(p.name for p in (results / "C" / "search").glob("*.json"))
    assert len(folds) == 4 and all(name.endswith("_seed0.json") for name in folds)
    searched = json.loads((results / "C" / "search_seed0.json").read_text())["search"]
    assert [len(row["fold_rank_ic"]) for row in searched["cv"]] == [2, 2]
    assert searched["best"] in [row["params"] for row in searched["cv"]]
    result = json.loads((results / "C" / "labels_seed0.json").read_text())
    assert {"valid", "test", "valid_grown", "test_grown"} <= set(result)
    preds = np.load(results / "C" / "preds" / "qlib_seed0.npz")
    labels = np.load(results / "C" / "preds" / "labels.npz")
    assert preds["test"].shape == labels["test_y"].shape and np.isfinite(preds["test"]).all()
    zlabel = json.loads((results / "C" / "qlib@zlabel_icstop_seed0.json").read_text())
    assert zlabel["labels"] == "zscore" and zlabel["features"] == "robust"
    zscores = np.load(results / "C" / "preds" / "labels_zscore.npz")
    np.testing.assert_array_equal(zscores["test_y"], labels["test_y"])  # raw returns both
    np.testing.assert_array_equal(zscores["valid_day"], labels["valid_day"])  # same rows
    valid_days = pd.Series(zscores["valid_y"]).groupby(zscores["valid_day"])
    np.testing.assert_allclose(valid_days.mean(), 0, atol=1e-5)  # z-scored, not ranked
    np.testing.assert_allclose(valid_days.std(), 1, atol=1e-4)
    assert not np.allclose(zscores["valid_y"], labels["valid_y"])
    half = json.loads((results / "C" / "refit" / "refit_half@icstop_seed0.json").read_text())
    assert half["fit_days"][1] < half["scored_days"][0] <= "2019-12-31"
    assert half["epochs"] == 1 and half["source"] == "qlib@icstop"
    whole = json.loads((results / "C" / "refit" / "refit@icstop_seed0.json").read_text())
    assert half["fit_days"][1] < whole["fit_days"][1] < "2020-01-01"  # valid days, purged
    saved = np.load(results / "C" / "refit" / "preds" / "refit@icstop_seed0.npz")
    assert saved["test_base"].shape == saved["test"].shape and np.isfinite(saved["test_base"]).all()
    assert not np.allclose(saved["test_base"], saved["test"])  # the refit's own GRU, alone
    assert "0 task(s) to run" in _run([*campaign, *variants])
    table = _run([BENCH_DIR / "accuracy.py", "--table", "--results-dir", results])
    for variant in ("pretrain", "gru", "qlib", "labels", "labels+grown", "search", "chosen"):
        assert f"| C | {variant} | 0 |" in table
    pick = max(held_out, key=lambda f: held_out[f]["held_out"]["Rank IC"])
    assert f"| {pick} (used) |" in table.split("normalisation chosen")[1]
    final = {"robust": "qlib@icstop", "both": "qlib@both_icstop"}[pick]
    valid = json.loads((results / "C" / f"{final}_seed0.json").read_text())["valid"]["Rank IC"]
    valid_table = table.split("### test")[0].splitlines()
    chosen = next(line for line in valid_table if line.startswith("| C | chosen | 0 |"))
    assert f"| {valid:.4f} |" in chosen  # the pick's final fit, under the name chosen
    for blend in ("qlib+pretrain", "gru+pretrain"):  # scored from the saved predictions
        assert f"| C | {blend} | 0 |" in table
    refits = table.split("### refit on the valid year")[1]
    assert f"`refit_half@icstop` {half['valid_half']['Rank IC']:.4f}" in refits
    assert f"`refit@icstop` {whole['test']['Rank IC']:.4f}" in refits
