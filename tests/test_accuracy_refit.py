"""The accuracy campaign's refits (``benchmarks/_refit.py``): which days a refit trains on,
which epochs it reuses, and the table that compares it with its source."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"


def _bench_modules(*names):
    """The campaign's modules ``names``, imported from ``benchmarks/``."""
    sys.path.insert(0, str(BENCH_DIR))
    try:
        return [importlib.import_module(name) for name in names]
    finally:
        sys.path.remove(str(BENCH_DIR))


@pytest.fixture(scope="module")
def refit():
    return _bench_modules("_refit")[0]


def _frames(train_days=20, valid_days=21, test_days=5, instruments=3):
    """Consecutive business days cut into train / valid / test panels."""
    days = pd.bdate_range("2019-01-01", periods=train_days + valid_days + test_days)
    cuts = {"train": days[:train_days], "valid": days[train_days : train_days + valid_days]}
    cuts["test"] = days[train_days + valid_days :]
    frames = {}
    for name, span in cuts.items():
        index = pd.MultiIndex.from_product(
            [span, [f"S{i}" for i in range(instruments)]], names=["datetime", "instrument"]
        )
        X = pd.DataFrame({"f": np.arange(len(index), dtype=np.float32)}, index=index)
        frames[name] = (X, pd.Series(np.linspace(-1, 1, len(index)), index=index))
    return frames


def test_refit_adds_the_valid_year_but_the_days_whose_labels_reach_test(refit):
    frames = _frames()
    X, y, scored = refit.split(frames, "refit@icstop")
    valid_days = frames["valid"][0].index.get_level_values(0).unique()
    fit_days = X.index.get_level_values(0).unique()
    assert scored is None  # scored on test
    assert fit_days[0] == frames["train"][0].index[0][0]
    # Qlib's label close[t+2] / close[t+1] - 1 of the last two valid days needs test prices
    assert fit_days[-1] == valid_days[-1 - refit.LOOKAHEAD_DAYS]
    assert X.index.equals(y.index)


def test_refit_half_is_scored_on_the_second_half_and_trains_on_none_of_it(refit):
    frames = _frames(valid_days=21)
    X, y, scored = refit.split(frames, "refit_half@icstop")
    valid_days = frames["valid"][0].index.get_level_values(0).unique()
    fit_days = X.index.get_level_values(0).unique()
    assert list(scored) == list(valid_days[10:])
    # purged: the last day trained on is LOOKAHEAD_DAYS + 1 trading days before the first scored
    assert fit_days[-1] == valid_days[10 - refit.LOOKAHEAD_DAYS - 1]
    assert not set(fit_days) & set(scored)
    assert len(X) == len(frames["train"][0]) + 3 * (10 - refit.LOOKAHEAD_DAYS)


def _write(path, record):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def _history(valid_ic, valid_loss):
    return [
        {"epoch": i + 1, "valid_ic": c, "valid_loss": v}
        for i, (c, v) in enumerate(zip(valid_ic, valid_loss))
    ]


def test_kept_epochs_follow_each_sources_stopping_rule(refit, tmp_path):
    results = tmp_path / "results" / "C"
    ic = [0.01, 0.03, 0.02]
    loss = [0.99, 0.98, 0.97]
    _write(
        results / "pretrain@icstop_seed0.json",
        {
            "variant": "pretrain@icstop",
            "params": {"monitor": "'valid_ic'"},
            "history": _history(ic, loss),
        },
    )
    _write(
        results / "qlib@icstop_seed0.json",
        {"variant": "qlib@icstop", "history": _history(ic[::-1], loss)},
    )
    assert refit.kept_epochs(tmp_path / "results", "C", "refit@icstop", 0) == (2, 2)
    _write(
        results / "pretrain_seed0.json",
        {
            "variant": "pretrain",
            "params": {"monitor": "'valid_loss'"},
            "history": _history(ic, loss),
        },
    )
    _write(
        results / "qlib_seed0.json",
        {"variant": "qlib", "history": _history([0.05, 0.01, 0.0], loss)},
    )
    # Qlib's GRU keeps its lowest validation loss (epoch 3), IGMTF its best IC (epoch 1)
    assert refit.kept_epochs(tmp_path / "results", "C", "refit", 0) == (3, 1)


class _Constant:
    """A stand-in fitted model that predicts ``value`` on every row."""

    def __init__(self, value, pretrained=None):
        self.value, self.pretrained = value, pretrained

    def predict(self, X):
        return np.full(len(X), self.value, dtype=np.float32)


def test_refit_saves_its_own_gru_beside_the_igmtf_it_refits(refit, tmp_path):
    """The GRU-or-IGMTF option predicts with the refitted GRU where the GRU won validation:
    its predictions must be kept with the refit's."""
    results = tmp_path / "results" / "C"
    ic, loss = [0.01, 0.03, 0.02], [0.99, 0.98, 0.97]
    for variant in ("pretrain@icstop", "qlib@icstop"):
        record = {"variant": variant, "history": _history(ic, loss)}
        _write(results / f"{variant}_seed0.json", {**record, "params": {"monitor": "'valid_ic'"}})
    frames = _frames()

    def fit(X, y, pretrain_epochs, epochs):
        return _Constant(1.0, pretrained=_Constant(2.0))

    refit.run(tmp_path / "results", "C", "refit@icstop", 0, frames, fit)
    saved = np.load(refit.predictions_path(tmp_path / "results", "C", "refit@icstop", 0))
    assert set(saved) == {"valid", "test", "valid_base", "test_base"}
    assert (saved["test"] == 1.0).all() and (saved["test_base"] == 2.0).all()
    assert len(saved["test_base"]) == len(frames["test"][0])

    def fit_without_base(X, y, pretrain_epochs, epochs):
        return _Constant(1.0)

    refit.run(tmp_path / "results", "C", "refit@icstop", 0, frames, fit_without_base)
    saved = np.load(refit.predictions_path(tmp_path / "results", "C", "refit@icstop", 0))
    assert set(saved) == {"valid", "test"}


def test_refit_table_pairs_each_seed_with_its_source_and_the_reference(refit, tmp_path):
    results = tmp_path / "results"
    scores = lambda rank_ic: {"IC": rank_ic / 2, "Rank IC": rank_ic}  # noqa: E731
    for seed, (source, ours, reference) in enumerate([(0.05, 0.06, 0.04), (0.05, 0.08, 0.05)]):
        common = {"setting": "C", "source": "qlib@icstop", "seed": seed}
        common.update(pretrain_epochs=6, epochs=seed + 1)
        _write(
            refit.path(results, "C", "refit_half@icstop", seed),
            {**common, "variant": "refit_half@icstop", "test": scores(0.0)}
            | {"valid_half": scores(ours), "valid_half_source": scores(source)},
        )
        _write(
            refit.path(results, "C", "refit@icstop", seed),
            {**common, "variant": "refit@icstop", "test": scores(ours)},
        )
        _write(results / "C" / f"qlib@icstop_seed{seed}.json", {"test": scores(source)})
        _write(results / "C" / f"qlib_seed{seed}.json", {"test": scores(reference)})
    table = refit.refit_table(results, ["A", "C"], "icstop", "qlib")
    rows = {line.split(" | ")[1]: line for line in table.splitlines()[2:]}
    assert all(line.startswith("| C |") for line in rows.values())  # A has no refit
    # d = (0.01, 0.03): mean +0.02, standard error 0.01, +40 % of the source's 0.05
    assert (
        "`qlib@icstop` 0.0500 | `refit_half@icstop` 0.0700 | +0.0200 +- 0.0100 (+40%)"
        in rows["valid 2nd half, rank IC"]
    )
    assert "| 6, 1; 6, 2 |" in rows["test, rank IC"]
    assert (
        "`qlib` 0.0450 | `refit@icstop` 0.0700 | +0.0250 +- 0.0050 (+56%)"
        in rows["test, rank IC, against `qlib`"]
    )
    assert "+0.0100 +- 0.0050" in rows["test, IC"]
    # Seeds 0 and 1 are no complete group of three: counted whole groups, nothing is left.
    assert refit.refit_table(results, ["C"], "icstop", "qlib", whole_groups=True).count("\n") == 1


def test_a_year_earlier_scores_the_settings_valid_year_and_runs_only_when_named():
    data, accuracy = _bench_modules("_accuracy_data", "accuracy")
    assert accuracy.parse_args([]).settings == ["A", "B", "C"]  # the default run
    assert accuracy.parse_args(["--settings", "C-1"]).settings == ["C-1"]
    for name in data.MAIN_SETTINGS:
        setting, earlier = data.SETTINGS[name], data.SETTINGS[f"{name}-1"]
        assert earlier["data"] == setting["data"]
        assert earlier["test"] == setting["valid"]  # judged on the valid year...
        assert earlier["valid"][1] < setting["valid"][0]  # ...stopped on the year before it
        for segment in ("train", "valid"):
            start, end = (pd.Timestamp(d) for d in earlier[segment])
            assert (start, end) == tuple(
                pd.Timestamp(d) - pd.DateOffset(years=1) for d in setting[segment]
            )
        two_earlier = data.SETTINGS[f"{name}-2"]  # a second year to judge on, before it
        assert two_earlier["data"] == setting["data"]
        assert two_earlier["test"] == earlier["valid"]
        assert two_earlier["valid"][1] < earlier["valid"][0]
    assert accuracy.parse_args(["--settings", "B-2"]).settings == ["B-2"]


def test_a_year_later_tests_on_a_year_the_main_settings_never_scored():
    data, accuracy = _bench_modules("_accuracy_data", "accuracy")
    assert accuracy.parse_args(["--settings", "C+1"]).settings == ["C+1"]
    # The years a choice was judged on: the main settings' valid and test years, and the test
    # years of those moved earlier. (``B-2`` stops its fits on 2021, ``A+1``'s test year on the
    # same market, and judges on 2022: no choice is made on 2021.)
    scored = {
        (s["data"], s[seg])
        for s in map(data.SETTINGS.get, data.MAIN_SETTINGS)
        for seg in ("valid", "test")
    }
    scored |= {(spec["data"], spec["test"]) for spec in data.EARLIER.values()}
    for name in data.MAIN_SETTINGS:
        setting, later = data.SETTINGS[name], data.SETTINGS[f"{name}+1"]
        assert later["data"] == setting["data"]
        assert later["valid"] == setting["test"]  # stopped on the year the setting tested
        assert (later["data"], later["test"]) not in scored  # tested on a year never scored
        start, end = (pd.Timestamp(d) for d in later["train"])
        assert (start, end) == tuple(
            pd.Timestamp(d) + pd.DateOffset(years=1) for d in setting["train"]
        )
    # Two years later, one setting's test year was scored: A+2 is B-2 (CSI 300, train
    # 2018-2020, test 2022), whose test year judged the refit (docs/accuracy.md).
    seen = {n for n, spec in data.LATER.items() if (spec["data"], spec["test"]) in scored}
    assert seen == {"A+2"}
    assert data.same_as("A+2") == ["B-2"]
    assert data.same_as("B-2") == ["A+2"]
    assert data.same_as("C+2") == []


def test_a_refit_alone_plans_its_sources_and_no_unused_pretraining(tmp_path):
    (schedule,) = _bench_modules("_accuracy_schedule")
    planned = [key for key, _ in schedule.plan(["C-1"], ["refit@icstop"], [0], tmp_path)]
    assert planned == [
        ("C-1", "pretrain@icstop", 0),
        ("C-1", "qlib@icstop", 0),
        ("C-1", "refit@icstop", 0),
    ]
    planned = [key for key, _ in schedule.plan(["C"], ["qlib@icstop", "gru"], [0], tmp_path)]
    assert planned[:2] == [("C", "pretrain", 0), ("C", "pretrain@icstop", 0)]


def test_refit_ensembles_table_scores_each_seed_group_against_the_baselines(refit, tmp_path):
    """Refit, its source and the GRU average their seeds; the reference is its seeds' mean."""
    (store,) = _bench_modules("_accuracy_results")
    results = tmp_path / "results"
    rng = np.random.default_rng(0)
    days, instruments = pd.bdate_range("2020-01-01", periods=30), [f"S{i}" for i in range(20)]
    y = rng.standard_normal(len(days) * len(instruments)).astype(np.float32)
    store.savez(
        store.labels_path(results, "C"),
        **{
            f"{name}_{key}": value
            for name in ("valid", "test")
            for key, value in (
                ("y", y),
                ("day", np.repeat(days.to_numpy("datetime64[ns]"), len(instruments))),
                ("instrument", np.tile(np.array(instruments), len(days))),
            )
        },
    )
    signal = {"refit@icstop": 0.6, "qlib@icstop": 0.4, "gru": 0.3, "qlib": 0.2}
    for seed in range(3):
        for variant, strength in signal.items():
            pred = strength * y + rng.standard_normal(len(y)).astype(np.float32)
            if variant == "refit@icstop":
                store.savez(refit.predictions_path(results, "C", variant, seed), valid=y, test=pred)
                record = {"variant": variant, "seed": seed, "source": "qlib@icstop"}
                _write(refit.path(results, "C", variant, seed), record)
            else:
                store.savez(store.predictions_path(results, "C", variant, seed), valid=y, test=pred)
                scores = store.score(store.load_labels(results, "C")["test"], pred)
                _write(store.task_path(results, "C", variant, seed), {"test": scores})
    table = refit.refit_ensembles_table(results, ["A", "C"], "icstop", "qlib")
    header, _, row = table.splitlines()
    assert "vs `qlib@icstop`, ensemble" in header and "IC vs `gru`, ensemble" in header
    cells = row.strip("| ").split(" | ")
    assert cells[:2] == ["C", "0-2"]  # A has no refit; one complete group
    labels = store.load_labels(results, "C")["test"]
    averaged = np.mean(
        [
            store.day_zscore(
                np.load(refit.predictions_path(results, "C", "refit@icstop", s))["test"], labels
            )
            for s in range(3)
        ],
        axis=0,
    )
    expected = store.score(labels, averaged)
    assert cells[2] == f"{expected['Rank IC']:.4f}" and cells[3] == f"{expected['IC']:.4f}"
    # The stronger refit beats each baseline; one group has no standard error.
    assert all(cell.startswith("+") and "+- -" in cell for cell in cells[4:])


def test_a_result_records_the_commit_its_process_started_on(monkeypatch):
    """``commit`` is read once per process: a commit landing during a fit does not
    relabel the fit's result with code it did not run."""
    (store,) = _bench_modules("_accuracy_results")
    heads = iter(["aaaa111\n", "bbbb222\n"])

    def fake_git(*args, **kwargs):
        return type("Done", (), {"stdout": next(heads)})()

    store.commit.cache_clear()
    monkeypatch.setattr(store.subprocess, "run", fake_git)
    try:
        assert store.commit() == "aaaa111"  # the task's start
        assert store.commit() == "aaaa111"  # its end, after "bbbb222" landed
    finally:
        store.commit.cache_clear()


def test_the_runner_names_a_twin_setting_before_it_plans_anything(capsys, monkeypatch, tmp_path):
    (accuracy,) = _bench_modules("accuracy")
    monkeypatch.setattr(accuracy.schedule, "plan", lambda *args: [])
    monkeypatch.setattr(accuracy.schedule, "run", lambda *args: None)
    args = ["--settings", "A+2,C+2", "--variants", "qlib", "--results-dir", str(tmp_path)]
    accuracy.run_campaign(accuracy.parse_args(args))
    out = capsys.readouterr().out
    assert "note: A+2 has the market and years of B-2" in out
    assert "C+2" not in out
