"""``base_fallback=True`` measured on ``A-6`` and ``C-6`` (``benchmarks/_base_fallback.py``):
each seed chooses as the estimator does, on its fits' validation ICs alone, and the
option's ensemble is scored against the configuration's day by day."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_accuracy_out_of_sample import signal_and_returns
from test_accuracy_refit import _bench_modules
from test_accuracy_score_power import DAYS, INSTRUMENTS

from igmtf_sklearn.metrics import daily_rank_ic
from igmtf_sklearn.nets._score_power import choose_power, powered_scores


@pytest.fixture(scope="module")
def modules():
    return _bench_modules("_base_fallback", "_accuracy_results", "_refit")


def _write_fits(store, path, setting, variant, kept_ics):
    """Each seed's record: its validation IC peaks at ``kept_ics[seed]`` on epoch 2 of 3,
    and its valid and test rank ICs (which the estimator does not see) point the other
    way, so a choice made on them would differ."""
    monitor = {"monitor": "'valid_ic'"} if variant.startswith("pretrain") else {}
    for seed, ic in enumerate(kept_ics):
        history = [{"epoch": e + 1, "valid_ic": v} for e, v in enumerate([0.0, ic, ic / 2])]
        record = {"setting": setting, "variant": variant, "seed": seed, "params": monitor}
        record.update(history=history, valid={"Rank IC": -ic}, test={"Rank IC": -ic})
        task = store.task_path(path, setting, variant, seed)
        task.parent.mkdir(parents=True, exist_ok=True)
        task.write_text(json.dumps(record))


def _save_predictions(modules, path, setting, with_base=True):
    """Labels, valid returns and three seeds' files; the refit's own GRU follows the
    returns more closely than the refitted IGMTF."""
    option, store, refit = modules
    noisy = signal_and_returns(store, path, setting, np.random.default_rng(5), tails=True)
    for seed in range(3):
        store.savez(store.predictions_path(path, setting, option.IGMTF, seed), **noisy(1))
        store.savez(store.predictions_path(path, setting, option.GRU, seed), **noisy(1))
        refitted = {"valid": noisy(1)["valid"], "test": noisy(1)["test"]}
        if with_base:
            refitted.update(valid_base=noisy(0.3)["valid"], test_base=noisy(0.3)["test"])
        store.savez(refit.predictions_path(path, setting, "refit@icstop", seed), **refitted)


def test_each_seed_chooses_on_its_validation_ic_at_the_kept_epoch(modules, tmp_path):
    option, store, _ = modules
    _write_fits(store, tmp_path, "A-6", option.GRU, [0.05, 0.03, 0.06])
    _write_fits(store, tmp_path, "A-6", option.IGMTF, [0.04, 0.04, 0.06])
    chosen = option.choices(store.load_results(tmp_path), "A-6")
    assert chosen == {0: (0.05, 0.04, True), 1: (0.03, 0.04, False), 2: (0.06, 0.06, False)}
    assert option.choices(store.load_results(tmp_path), "C-6").startswith("C-6: pretrain")


def test_the_option_is_replayed_seed_by_seed_and_judged(modules, tmp_path):
    option, store, refit = modules
    for setting in option.SETTINGS:
        _write_fits(store, tmp_path, setting, option.GRU, [0.05, 0.03, 0.05])
        _write_fits(store, tmp_path, setting, option.IGMTF, [0.04, 0.04, 0.04])
    _save_predictions(modules, tmp_path, "A-6", with_base=False)
    _save_predictions(modules, tmp_path, "C-6")
    waiting = option.judge(tmp_path)
    assert "Waiting for A-6: the refits (with their GRUs' predictions)" in waiting
    assert "| C-6 |" not in waiting  # C-6's files are saved, but nothing is shown before all
    for setting in option.SETTINGS:
        _save_predictions(modules, tmp_path, setting)
    test = store.load_labels(tmp_path, "A-6")["test"]
    returns = store.load_labels(tmp_path, "A-6", "zscore")["valid"].to_numpy()
    counts = np.full(len(DAYS), len(INSTRUMENTS))
    ours, theirs = [], []
    for seed in range(3):  # replayed by hand: seeds 0 and 2 take the GRU
        refitted = np.load(refit.predictions_path(tmp_path, "A-6", "refit@icstop", seed))
        valid = np.load(store.predictions_path(tmp_path, "A-6", option.IGMTF, seed))["valid"]
        ours.append(powered_scores(refitted["test"], counts, choose_power(valid, returns, counts)))
        if seed == 1:
            theirs.append(ours[-1])
            continue
        valid = np.load(store.predictions_path(tmp_path, "A-6", option.GRU, seed))["valid"]
        p = choose_power(valid, returns, counts)
        theirs.append(powered_scores(refitted["test_base"], counts, p))
    d = daily_rank_ic(test, np.mean(theirs, axis=0)) - daily_rank_ic(test, np.mean(ours, axis=0))
    se = d.std(ddof=1) / np.sqrt(len(d))
    judged = option.judge(tmp_path)
    row = next(line for line in judged.splitlines() if line.startswith("| A-6 |"))
    assert "| 0: 0.0500 / 0.0400, 1: 0.0300 / 0.0400, 2: 0.0500 / 0.0400 | 0, 2 |" in row
    assert f"| {d.mean():+.4f} +- {se:.4f} (" in row
    assert d.mean() > se and judged.endswith("**joins the recommended configuration**.")
    for setting in option.SETTINGS:  # the GRUs now lose their test year
        for seed in range(3):
            path = refit.predictions_path(tmp_path, setting, "refit@icstop", seed)
            saved = dict(np.load(path))
            store.savez(path, **{**saved, "test_base": -saved["test_base"]})
    assert "**stays an option, not recommended (the mean gain" in option.judge(tmp_path)


def test_no_seed_taking_the_gru_is_no_evidence_and_needs_no_gru_refit(modules, tmp_path):
    option, store, _ = modules
    for setting in option.SETTINGS:
        _write_fits(store, tmp_path, setting, option.GRU, [0.03, 0.03, 0.03])
        _write_fits(store, tmp_path, setting, option.IGMTF, [0.04, 0.04, 0.04])
        _save_predictions(modules, tmp_path, setting, with_base=False)
    judged = option.judge(tmp_path)
    assert "| none |" in judged and "+0.0000 +- 0.0000" in judged
    assert judged.endswith("**no evidence: no seed took the GRU, so the option stays off**.")
