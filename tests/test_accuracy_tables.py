"""The accuracy campaign's ensemble tables (``benchmarks/_accuracy_ensembles.py``), scored
from prediction files written here: each replicate is its own group of seeds, and the
paired differences are against the reference's single seeds and its ensemble of the same
seeds, and one variant's ensembles against another's."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH_DIR))
    try:
        import _accuracy_ensembles as ensembles
        import _accuracy_results as store

        yield store, ensembles
    finally:
        sys.path.remove(str(BENCH_DIR))


def _campaign(store, results_dir, seeds):
    """Labels for 30 days x 40 instruments and two variants' predictions per seed:
    ``qlib`` pure noise, ``signal`` the label plus noise; returns their result rows."""
    rng = np.random.default_rng(0)
    days = np.repeat(pd.bdate_range("2020-01-01", periods=30).to_numpy(), 40)
    instruments = np.tile([f"S{i:02d}" for i in range(40)], 30)
    y = rng.standard_normal(days.size).astype(np.float32)
    labels = {}
    for segment in ("valid", "test"):
        labels.update(
            {f"{segment}_y": y, f"{segment}_day": days, f"{segment}_instrument": instruments}
        )
    store.savez(store.labels_path(results_dir, "C"), **labels)
    index = pd.MultiIndex.from_arrays([days, instruments], names=["datetime", "instrument"])
    rows = []
    for variant, weight in (("qlib", 0.0), ("signal", 0.3)):
        for seed in seeds:
            pred = (weight * y + rng.standard_normal(y.size)).astype(np.float32)
            path = store.predictions_path(results_dir, "C", variant, seed)
            store.savez(path, valid=pred, test=pred)
            scores = store.score(pd.Series(y, index=index), pred)
            rows.append({"setting": "C", "variant": variant, "seed": seed, "test": scores})
    return rows


def test_seed_groups_are_complete_consecutive_triples(bench):
    _, ensembles = bench
    assert ensembles.seed_groups([0, 1, 2, 3, 4, 5, 7]) == [(0, 1, 2), (3, 4, 5)]
    assert ensembles.seed_groups([1, 2, 3, 4, 5]) == [(3, 4, 5)]
    assert ensembles.seed_groups([]) == []


def test_replicated_table_pairs_each_group_of_seeds(bench, tmp_path):
    store, ensembles = bench
    rows = _campaign(store, tmp_path, seeds=range(7))  # seed 6 is no complete group
    table = ensembles.replicated_tables(rows, tmp_path, "qlib", segments=("test",))["test"]
    line = next(row for row in table.splitlines() if row.startswith("| C | signal |"))
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[2] == "0-2, 3-5"

    labels = store.load_labels(tmp_path, "C")
    one_seed, same_seeds, ensemble = [], [], []
    for group in [(0, 1, 2), (3, 4, 5)]:
        ours = store.averaged(tmp_path, "C", [("signal", s) for s in group], labels)["test"]
        ref = store.averaged(tmp_path, "C", [("qlib", s) for s in group], labels)["test"]
        singles = [
            r["test"]["Rank IC"] for r in rows if r["variant"] == "qlib" and r["seed"] in group
        ]
        ensemble.append(ours["Rank IC"])
        one_seed.append(ours["Rank IC"] - np.mean(singles))
        same_seeds.append(ours["Rank IC"] - ref["Rank IC"])
    assert cells[3] == f"{np.mean(ensemble):.4f} +- {np.std(ensemble, ddof=1):.4f}"
    for cell, diffs in ((cells[4], one_seed), (cells[5], same_seeds)):
        se = np.std(diffs, ddof=1) / np.sqrt(2)
        assert cell.startswith(f"{np.mean(diffs):+.4f} +- {se:.4f}")
    # the reference against its own single seeds: the gain of averaging alone
    reference = next(row for row in table.splitlines() if row.startswith("| C | qlib |"))
    assert reference.rstrip(" |").split("|")[-2].strip() == ""


def test_paired_ensembles_table_compares_ensembles_of_the_same_seeds(bench, tmp_path):
    # The GRU target's table: one variant's ensembles against another's, group by group.
    store, ensembles = bench
    rows = _campaign(store, tmp_path, seeds=range(6))
    table = ensembles.paired_ensembles_table(rows, tmp_path, "signal", "qlib")
    line = next(row for row in table.splitlines() if row.startswith("| C |"))
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[1] == "0-2, 3-5"
    assert cells[4] == ""  # no z-scored returns saved: valid's IC against them is not scored
    ranked = store.load_labels(tmp_path, "C")
    columns = {2: ("valid", "Rank IC"), 3: ("valid", "IC"), 5: ("test", "Rank IC")}
    assert cells[6] == _paired_ensembles(store, tmp_path, ranked, "test", "IC")
    for column, (segment, metric) in columns.items():
        assert cells[column] == _paired_ensembles(store, tmp_path, ranked, segment, metric)
    assert float(cells[6].split()[0]) > 0  # the signal's ensembles beat noise's

    saved = np.load(store.labels_path(tmp_path, "C"))
    returns = {**saved, "valid_y": (saved["valid_y"] ** 3).astype(np.float32)}
    store.savez(store.labels_path(tmp_path, "C", "zscore"), **returns)
    table = ensembles.paired_ensembles_table(rows, tmp_path, "signal", "qlib")
    line = next(row for row in table.splitlines() if row.startswith("| C |"))
    on_returns = store.load_labels(tmp_path, "C", "zscore")
    expected = _paired_ensembles(store, tmp_path, on_returns, "valid", "IC")
    assert [cell.strip() for cell in line.strip("|").split("|")][4] == expected
    assert expected != cells[3]  # against the cubed labels, not the ranked ones


def _paired_ensembles(store, results_dir, labels, segment, metric):
    """The expected cell: signal's ensembles of seeds 0-2 and 3-5 minus qlib's."""
    diffs = []
    for group in [(0, 1, 2), (3, 4, 5)]:
        ours = store.averaged(results_dir, "C", [("signal", s) for s in group], labels)
        ref = store.averaged(results_dir, "C", [("qlib", s) for s in group], labels)
        diffs.append(ours[segment][metric] - ref[segment][metric])
    return f"{np.mean(diffs):+.4f} +- {np.std(diffs, ddof=1) / np.sqrt(2):.4f}"


def test_seed_average_tables_score_every_seed_averaged_per_segment(bench, tmp_path):
    store, ensembles = bench
    rows = _campaign(store, tmp_path, seeds=range(4))
    for row in rows:  # the runner's rows carry both segments
        row["valid"] = row["test"]
    tables = ensembles.seed_average_tables(rows, tmp_path, blends={})
    labels = store.load_labels(tmp_path, "C")
    scores = store.averaged(tmp_path, "C", [("signal", s) for s in range(4)], labels)
    for segment, table in tables.items():
        line = next(row for row in table.splitlines() if row.startswith("| C | signal |"))
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        singles = [r[segment]["Rank IC"] for r in rows if r["variant"] == "signal"]
        assert cells[2:5] == [
            "0,1,2,3",
            f"{np.mean(singles):.4f}",
            f"{scores[segment]['Rank IC']:.4f}",
        ]


def test_against_returns_rescores_valid_on_the_zscored_labels(bench, tmp_path):
    """Every kept task's valid predictions are scored against ``labels_zscore.npz``; its
    test scores stay; a setting whose z-scored labels are on other rows is left out."""
    store, _ = bench
    rows = _campaign(store, tmp_path, seeds=[0])
    ranked = np.load(store.labels_path(tmp_path, "C"))
    returns = (ranked["valid_y"] ** 3).astype(np.float32)  # same order, other values
    zscored = {**ranked, "valid_y": returns}
    store.savez(store.labels_path(tmp_path, "C", "zscore"), **zscored)

    rescored = store.against_returns(rows, tmp_path, lambda v: v == "signal")
    assert [(r["variant"], r["seed"]) for r in rescored] == [("signal", 0)]
    pred = np.load(store.predictions_path(tmp_path, "C", "signal", 0))["valid"]
    labels = store.load_labels(tmp_path, "C", "zscore")["valid"]
    assert rescored[0]["valid"] == store.score(labels, pred)
    on_ranks = store.score(store.load_labels(tmp_path, "C")["valid"], pred)
    assert rescored[0]["valid"]["IC"] != pytest.approx(on_ranks["IC"], abs=1e-3)
    assert rescored[0]["valid"]["Rank IC"] == pytest.approx(on_ranks["Rank IC"])  # same order
    assert rescored[0]["test"] == rows[1]["test"]  # rows: qlib seed 0, then signal seed 0

    shifted = {**zscored, "valid_instrument": np.roll(ranked["valid_instrument"], 1)}
    store.savez(store.labels_path(tmp_path, "C", "zscore"), **shifted)
    assert store.against_returns(rows, tmp_path, lambda v: True) == []


def test_screens_table_pairs_each_screen_with_the_fit_it_changes(bench):
    """Only IGMTF tasks on the screen bases, each against ``qlib@icstop`` on the seeds both
    have; the GRUs and the tasks on Qlib's stopping rule stay out."""
    sys.path.insert(0, str(BENCH_DIR))
    try:
        import _accuracy_tables as tables
    finally:
        sys.path.remove(str(BENCH_DIR))

    def row(variant, seed, rank_ic):
        scores = {"IC": rank_ic, "Rank IC": rank_ic, "ICIR": 1.0, "Rank ICIR": 1.0}
        kept = {"epochs_run": 8, "best_epoch": 2}
        return {"setting": "B", "variant": variant, "seed": seed, "valid": scores, **kept}

    results = [
        row("qlib@icstop", 0, 0.050),
        row("qlib@icstop", 1, 0.060),
        row("dropout@dropout_icstop", 0, 0.056),
        row("dropout@dropout_icstop", 1, 0.062),
        row("pretrain@dropout_icstop", 0, 0.1),
        row("gru@icstop", 0, 0.1),
        row("qlib", 0, 0.1),
        {**row("qlib@icstop", 0, 0.1), "setting": "A-1"},  # nothing screened there
    ]
    table = tables.screens_table(results)
    assert [line.split(" | ")[1] for line in table.splitlines()[2:]] == [
        "qlib@icstop",
        "dropout@dropout_icstop",
    ]
    assert "| +0.0040 +- 0.0020 (+7%) |" in table  # paired: +0.006 and +0.002


def test_the_gru_against_igmtf_pairs_the_two_seed_by_seed_in_every_setting_year():
    """Every setting-year, earlier and later ones too; no other variant; the difference the
    GRU's minus IGMTF's on the same seeds."""
    from test_accuracy_refit import _bench_modules

    (tables,) = _bench_modules("_accuracy_tables")

    def row(setting, variant, seed, rank_ic):
        scores = {"IC": rank_ic, "Rank IC": rank_ic, "ICIR": 0.0, "Rank ICIR": 0.0}
        run = {"epochs_run": 8, "best_epoch": 7, "history": []}
        return {
            "setting": setting,
            "variant": variant,
            "seed": seed,
            **run,
            "valid": scores,
            "test": scores,
        }

    results = [
        row(setting, variant, seed, value + 0.001 * seed)
        for setting in ("C-2", "A+2")
        for variant, value in (("qlib@icstop", 0.05), ("pretrain@icstop", 0.04), ("qlib", 0.06))
        for seed in range(3)
    ]
    results.append(row("A+2", "pretrain@icstop", 3, 0.09))  # a seed IGMTF has not: left out
    # Seed 4 of both, in a setting a year or two later, is no complete group yet: left out
    # there, but not in an earlier setting, which has no groups to wait for.
    results += [
        row(s, v, 4, 0.5) for s in ("C-2", "A+2") for v in ("qlib@icstop", "pretrain@icstop")
    ]
    found = tables.gru_against_igmtf_tables(results)
    assert set(found) == {"valid", "test"}
    lines = found["valid"].splitlines()
    assert {line.split("|")[1].strip() for line in lines[2:]} == {"C-2", "A+2"}
    assert not any("| qlib |" in line for line in lines)
    for segment in ("valid", "test"):
        gru = next(
            line
            for line in found[segment].splitlines()
            if line.startswith("| A+2 | pretrain@icstop | 0,1,2 | 0.0410 +- 0.0010 |")
        )
        assert "| -0.0100 +- 0.0000 (-20%) |" in gru
        assert "| C-2 | pretrain@icstop | 0,1,2,4 |" in found[segment]
