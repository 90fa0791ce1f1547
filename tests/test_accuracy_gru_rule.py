"""The rule that judges choosing the GRU alone or IGMTF on each valid year
(``benchmarks/_gru_rule.py``): it chooses on the valid year only, scores a choice of the
GRU against the recommended configuration day by day, and moves to the next round only
when the first never took the GRU."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_accuracy_out_of_sample import signal_and_returns
from test_accuracy_refit import _bench_modules
from test_accuracy_score_power import DAYS, INSTRUMENTS

from igmtf_sklearn.metrics import daily_rank_ic
from igmtf_sklearn.nets._score_power import choose_power, powered_scores


@pytest.fixture(scope="module")
def modules():
    return _bench_modules("_gru_rule", "_accuracy_results", "_refit", "_accuracy_data")


def _daily(values):
    return pd.Series(values, index=DAYS[: len(values)])


def test_keeping_igmtf_everywhere_is_no_evidence(modules):
    rule = modules[0]
    assert rule.decide({"A-4": "IGMTF", "C-4": "IGMTF"}, {})[0].startswith("no evidence")


def test_a_gru_that_gains_on_its_test_year_is_adopted(modules):
    rule = modules[0]
    verdict, summary = rule.decide({"A-4": "GRU", "C-4": "IGMTF"}, {"A-4": _daily([0.01, 0.03])})
    assert verdict == "adopted"
    assert summary["A-4"] == pytest.approx((0.02, 0.01))  # the mean and its s.e. over days


def test_a_mean_loss_or_one_clear_loss_rejects_it(modules):
    rule = modules[0]
    gains = {"A-4": _daily([-0.02, 0.0]), "C-4": _daily([0.005, 0.007])}
    assert rule.decide({"A-4": "GRU", "C-4": "GRU"}, gains)[0].startswith("rejected: the mean")
    gains = {"A-4": _daily([-0.003, -0.001]), "C-4": _daily([0.02, 0.04])}  # A-4: -0.002 +- 0.001
    verdict, _ = rule.decide({"A-4": "GRU", "C-4": "GRU"}, gains)
    assert verdict == "rejected: A-4 lose(s) by more than one standard error"
    gains["A-4"] = _daily([-0.012, 0.008])  # -0.002 +- 0.01: within noise
    assert rule.decide({"A-4": "GRU", "C-4": "GRU"}, gains)[0] == "adopted"


def _write_valid(store, path, setting, variant, ranks):
    """Each seed's result; its test rank IC orders the variants the other way round, so a
    choice made on test would differ."""
    for seed, rank_ic in enumerate(ranks):
        task = store.task_path(path, setting, variant, seed)
        task.parent.mkdir(parents=True, exist_ok=True)
        record = {"setting": setting, "variant": variant, "seed": seed}
        record.update(valid={"Rank IC": rank_ic}, test={"Rank IC": 1 - rank_ic})
        task.write_text(json.dumps(record))


def test_the_choice_reads_the_valid_year_alone(modules, tmp_path):
    """IGMTF ahead on valid in round one, so round two is judged: it waits for its fits."""
    rule, store, _, _ = modules
    for setting in ("A-4", "C-4"):
        _write_valid(store, tmp_path, setting, rule.GRU, [0.03, 0.03, 0.03])
        _write_valid(store, tmp_path, setting, rule.IGMTF, [0.02, 0.04, 0.035])
    judged = rule.judge(tmp_path)
    assert "| A-4 | 0.0300 | 0.0317 | IGMTF | none: it is the configuration |" in judged
    assert "A-4 and C-4: **no evidence: it kept IGMTF on every setting-year**." in judged
    assert judged.endswith(
        f"waiting for A-6: {rule.GRU} seed(s) 0, 1, 2 and {rule.IGMTF} seed(s) 0, 1, 2; "
        f"C-6: {rule.GRU} seed(s) 0, 1, 2 and {rule.IGMTF} seed(s) 0, 1, 2."
    )


def _make_predictions(modules, path, setting):
    """Labels, valid returns and three seeds of the configuration's and the GRU's files;
    the GRU's test predictions follow the returns more closely."""
    rule, store, refit, _ = modules
    noisy = signal_and_returns(store, path, setting, np.random.default_rng(3), tails=True)
    for seed in range(3):
        store.savez(store.predictions_path(path, setting, rule.IGMTF, seed), **noisy(1))
        store.savez(refit.predictions_path(path, setting, "refit@icstop", seed), **noisy(1))
        store.savez(store.predictions_path(path, setting, rule.GRU, seed), **noisy(0.3))


def test_a_gru_choice_is_scored_against_the_configuration_day_by_day(modules, tmp_path):
    rule, store, refit, _ = modules
    _write_valid(store, tmp_path, "A-4", rule.GRU, [0.05, 0.05, 0.05])
    _write_valid(store, tmp_path, "A-4", rule.IGMTF, [0.04, 0.04, 0.04])
    _write_valid(store, tmp_path, "C-4", rule.GRU, [0.03, 0.03, 0.03])
    _write_valid(store, tmp_path, "C-4", rule.IGMTF, [0.04, 0.04, 0.04])
    assert "A-4: the configuration's refits" in rule.judge(tmp_path)  # its files not saved yet
    _make_predictions(modules, tmp_path, "A-4")
    test = store.load_labels(tmp_path, "A-4")["test"]
    valid_returns = store.load_labels(tmp_path, "A-4", "zscore")["valid"].to_numpy()
    counts = np.full(len(DAYS), len(INSTRUMENTS))
    ours, gru, powers = [], [], []
    for seed in range(3):  # the configuration and the GRU replayed by hand
        valid = np.load(store.predictions_path(tmp_path, "A-4", rule.IGMTF, seed))["valid"]
        raw = np.load(refit.predictions_path(tmp_path, "A-4", "refit@icstop", seed))["test"]
        powers.append(choose_power(valid, valid_returns, counts))
        ours.append(powered_scores(raw, counts, powers[-1]))
        raw = np.load(store.predictions_path(tmp_path, "A-4", rule.GRU, seed))["test"]
        gru.append(powered_scores(raw, counts, 1.0))
    assert max(powers) > 1.0  # score_power changes the configuration's order here
    d = daily_rank_ic(test, np.mean(gru, axis=0)) - daily_rank_ic(test, np.mean(ours, axis=0))
    judged = rule.judge(tmp_path)
    se = d.std(ddof=1) / np.sqrt(len(d))
    assert f"| A-4 | 0.0500 | 0.0400 | GRU | {d.mean():+.4f} +- {se:.4f} |" in judged
    assert d.mean() > se and judged.endswith("A-4 and C-4: **adopted**.")
    assert "A-6" not in judged  # a round that took the GRU is the last, adopted or not
    for seed in range(3):  # the GRU now loses its test year: rejected, and still the last
        path = store.predictions_path(tmp_path, "A-4", rule.GRU, seed)
        store.savez(path, valid=np.load(path)["valid"], test=-np.load(path)["test"])
    judged = rule.judge(tmp_path)
    assert "A-4 and C-4: **rejected: the mean gain" in judged and "A-6" not in judged


def test_the_rules_years_were_never_scored(modules):
    rule, _, _, data = modules
    judged = {s for round_ in rule.ROUNDS for s in round_}
    assert judged == set(data.FURTHER_BACK)
    others = [spec for name, spec in data.SETTINGS.items() if name not in judged]
    scored = {(spec["data"], spec[seg]) for spec in others for seg in ("valid", "test")}
    for name in judged:
        spec = data.SETTINGS[name]
        assert (spec["data"], spec["valid"]) not in scored
        assert (spec["data"], spec["test"]) not in scored
        assert data.same_as(name) == []
    # nor did an earlier round score a later round's years (it is judged after the first)
    for first, later in zip(rule.ROUNDS, rule.ROUNDS[1:]):
        used = {
            (data.SETTINGS[n]["data"], data.SETTINGS[n][g])
            for n in first
            for g in ("valid", "test")
        }
        for name in later:
            assert (
                not {
                    (data.SETTINGS[name]["data"], data.SETTINGS[name][g]) for g in ("valid", "test")
                }
                & used
            )
    # A-3 would not do: its test year, 2017, is A-2's valid year; nor A-5: 2015 is A-4's
    assert data._moved(data.SETTINGS["A"], -3)["test"] == data.SETTINGS["A-2"]["valid"]
    assert data._moved(data.SETTINGS["A"], -5)["test"] == data.SETTINGS["A-4"]["valid"]


def test_no_table_before_the_rules_reads_the_settings_further_back(modules, tmp_path, capsys):
    rule, store, _, _ = modules
    (tables,) = _bench_modules("_accuracy_tables")
    for variant, rank_ic in ((rule.GRU, 0.09), (rule.IGMTF, 0.01)):
        for seed in range(3):
            task = store.task_path(tmp_path, "A-4", variant, seed)
            task.parent.mkdir(parents=True, exist_ok=True)
            scores = {"Rank IC": rank_ic, "IC": rank_ic}
            record = {"setting": "A-4", "variant": variant, "seed": seed}
            task.write_text(json.dumps({**record, "valid": scores, "test": scores}))
    tables.print_tables(tmp_path)
    printed = capsys.readouterr().out
    rule_section = printed.index("### the GRU alone or IGMTF")
    assert "A-4" not in printed[:rule_section]
    section = printed[rule_section:].split("\n### ")[0]
    assert "| A-4 |" not in section  # no choice is shown while the round waits
    assert "waiting for A-4: the configuration's refits" in section
    assert f"; C-4: {rule.GRU} seed(s) 0, 1, 2 and" in section
    assert "A-6" not in section  # a round that waits is not passed over
    # judged, the rule's years join the out-of-sample record after it
    assert printed.index("### test out of sample: four and six years earlier") > rule_section
