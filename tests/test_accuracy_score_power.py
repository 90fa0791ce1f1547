"""The accuracy campaign's replay of ``score_power="auto"`` (``benchmarks/_score_power_tables.py``)
from saved predictions: each member's power chosen on its source's valid predictions against
the valid returns, applied to the refit's test predictions, then averaged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_accuracy_refit import _bench_modules, _write

from igmtf_sklearn.nets._score_power import choose_power, powered_scores

DAYS, INSTRUMENTS = pd.bdate_range("2020-01-01", periods=40), [f"S{i}" for i in range(60)]


@pytest.fixture(scope="module")
def modules():
    return _bench_modules("_score_power_tables", "_accuracy_results", "_refit")


def _save_labels(store, results, setting, kind, valid, test):
    arrays = {}
    for name, y in (("valid", valid), ("test", test)):
        arrays[f"{name}_y"] = y
        arrays[f"{name}_day"] = np.repeat(DAYS.to_numpy("datetime64[ns]"), len(INSTRUMENTS))
        arrays[f"{name}_instrument"] = np.tile(np.array(INSTRUMENTS), len(DAYS))
    store.savez(store.labels_path(results, setting, kind), **arrays)


@pytest.fixture
def results(modules, tmp_path):
    """Setting C: returns that follow the predictions' tails; three seeds of the refit,
    its source, the GRU and Qlib's model."""
    _, store, refit = modules
    rng = np.random.default_rng(0)
    shape = (len(DAYS), len(INSTRUMENTS))
    signal = {seg: rng.standard_normal(shape) for seg in ("valid", "test")}
    returns = {s: (np.sign(x) * x**2 + 2 * rng.standard_normal(shape)) for s, x in signal.items()}
    flat = {s: r.ravel().astype(np.float32) for s, r in returns.items()}
    _save_labels(store, tmp_path, "C", "rank", flat["valid"], flat["test"])  # ranks: unused
    _save_labels(store, tmp_path, "C", "zscore", flat["valid"], flat["test"])
    for seed in range(3):
        noisy = {s: (x + 0.5 * rng.standard_normal(shape)).ravel() for s, x in signal.items()}
        store.savez(store.predictions_path(tmp_path, "C", "qlib@icstop", seed), **noisy)
        store.savez(store.predictions_path(tmp_path, "C", "gru", seed), **noisy)
        store.savez(refit.predictions_path(tmp_path, "C", "refit@icstop", seed), **noisy)
        _write(store.task_path(tmp_path, "C", "qlib", seed), {"test": {"IC": 0.1, "Rank IC": 0.1}})
    return tmp_path


def test_each_member_is_replayed_as_the_estimator_would(modules, results):
    tables, store, refit = modules
    members = tables._members(results, "C", "qlib@icstop", "refit@icstop")
    assert list(members) == [0, 1, 2]
    counts = np.full(len(DAYS), len(INSTRUMENTS))
    returns = store.load_labels(results, "C", "zscore")["valid"].to_numpy()
    for seed, member in members.items():
        valid = np.load(store.predictions_path(results, "C", "qlib@icstop", seed))["valid"]
        assert member["p"] == choose_power(valid, returns, counts) > 1.0  # the tails pay
        test = np.load(refit.predictions_path(results, "C", "refit@icstop", seed))["test"]
        np.testing.assert_array_equal(member["scores"], powered_scores(test, counts, member["p"]))


def test_tables_pair_the_powered_refit_with_the_plain_one_and_the_baselines(modules, results):
    tables = modules[0]
    judged = tables.judged_on_valid_table(results, ["C"]).splitlines()
    assert len(judged) == 3 and judged[2].startswith("| C | 0,1,2 |")
    test = tables.test_table(results, ["A", "C"]).splitlines()
    assert len(test) == 3 and test[2].startswith("| C | 0-2 |")  # A has no results
    # The returns follow the tails: the power raises the IC over the plain ensemble.
    gain = test[2].split(" | ")[5]
    assert gain.startswith("+") and not gain.startswith("+0.0000")


def test_the_test_table_without_the_refit_replays_the_source_itself(modules, results):
    tables, store, refit = modules
    # The refit's test predictions differ from its source's, so the two rows must too.
    path = refit.predictions_path(results, "C", "refit@icstop", 0)
    saved = np.load(path)
    store.savez(path, valid=saved["valid"], test=-saved["test"])
    members = tables._members(results, "C", "qlib@icstop", "qlib@icstop")
    test = store.load_labels(results, "C")["test"]
    expected = store.score(test, np.mean([m["scores"] for m in members.values()], axis=0))
    without = tables.test_table(results, ["C"], refitted=False).splitlines()[2].split(" | ")
    with_refit = tables.test_table(results, ["C"]).splitlines()[2].split(" | ")
    assert without[3] == f"{expected['Rank IC']:.4f}" != with_refit[3]


def test_a_power_once_on_the_average_keeps_the_plain_average_order(modules, results):
    tables, store, refit = modules
    counts = np.full(len(DAYS), len(INSTRUMENTS))
    returns = store.load_labels(results, "C", "zscore")["valid"].to_numpy()
    valid = [
        np.load(store.predictions_path(results, "C", "qlib@icstop", s))["valid"] for s in range(3)
    ]
    average = np.mean([powered_scores(v, counts, 1.0) for v in valid], axis=0)
    expected_p = choose_power(average, returns, counts)

    [(group, powers, p, daily)] = tables._once_on_average(results, "C", "icstop")
    assert group == (0, 1, 2) and p == expected_p > 1.0  # chosen on the averaged valid days
    test = store.load_labels(results, "C")["test"]
    path = refit.predictions_path
    tests = [np.load(path(results, "C", "refit@icstop", s))["test"] for s in range(3)]
    plain = np.mean([powered_scores(t, counts, 1.0) for t in tests], axis=0)  # as averaged
    # Monotone on each day: the rank IC is the plain average's, day by day.
    pd.testing.assert_series_equal(daily["once"]["rank"], store.daily_scores(test, plain)["rank"])
    # On each member it is not: the members' stretched tails reorder the average.
    assert not daily["each"]["rank"].equals(daily["once"]["rank"])

    rows = tables.once_on_average_table(results, ["A", "C"]).splitlines()
    assert len(rows) == 3 and rows[2].startswith(f"| C | 0-2 | {powers} | {p} |")


def test_returns_saved_before_any_task_leave_the_setting_out(modules, tmp_path):
    """``--return-labels`` may run before a setting's first task has saved its ranked labels:
    the replay leaves the setting out rather than fail the whole ``--table``."""
    tables, store, _ = modules
    y = np.zeros(len(DAYS) * len(INSTRUMENTS), dtype=np.float32)
    _save_labels(store, tmp_path, "C-2", "zscore", y, y)
    assert store.returns_labels(tmp_path, "C-2") is None
    assert tables.judged_on_valid_table(tmp_path, ["C-2"]).count("\n") == 1  # header only
