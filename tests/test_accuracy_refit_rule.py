"""The rule that decides whether the refit stays (``benchmarks/_refit_rule.py``): it waits
for every second-year seed, then averages six setting-years and vetoes a clear loss."""

from __future__ import annotations

import json

import pytest
from test_accuracy_refit import _bench_modules


@pytest.fixture(scope="module")
def rule():
    return _bench_modules("_refit_rule")[0]


def _gains(first=0.004, second=(0.001, 0.002, 0.003)):
    """Every setting-year with seeds 0-2: the first year's gain flat, the second's by seed."""
    found = {s: {k: first for k in range(3)} for s in ("A-1", "B-1", "C-1")}
    found.update({s: dict(enumerate(second)) for s in ("A-2", "B-2", "C-2")})
    return found


def test_the_rule_waits_for_every_second_year_seed(rule):
    gains = _gains()
    del gains["C-2"][2]
    verdict, mean, summary = rule.decide(gains)
    assert verdict == "waiting for: C-2 seed(s) 2" and mean is None
    assert summary["C-2"][0] == pytest.approx(0.0015)  # what is there is still shown


def test_the_refit_stays_on_a_positive_mean_without_a_clear_second_year_loss(rule):
    verdict, mean, _ = rule.decide(_gains())
    assert verdict == "stays" and mean == pytest.approx((0.004 + 0.002) / 2)


def test_a_second_year_loss_beyond_one_standard_error_drops_it_even_on_a_positive_mean(rule):
    gains = _gains(first=0.01)
    gains["B-2"] = {0: -0.003, 1: -0.002, 2: -0.001}  # mean -0.002, s.e. 0.00058
    verdict, mean, _ = rule.decide(gains)
    assert mean > 0 and verdict.startswith("dropped: B-2")
    gains["B-2"] = {0: -0.006, 1: 0.0, 2: 0.003}  # mean -0.001, s.e. 0.0026: within noise
    assert rule.decide(gains)[0] == "stays"


def test_a_mean_gain_at_or_below_zero_drops_it(rule):
    verdict, mean, _ = rule.decide(_gains(first=-0.004))
    assert mean < 0 and verdict.startswith("dropped: the mean gain")


def test_rule_table_pairs_each_refit_with_its_source_seed_by_seed(rule, tmp_path):
    refit, store = _bench_modules("_refit", "_accuracy_results")
    for setting in rule.JUDGED:
        for seed in range(3):
            gain = 0.001 * (seed + 1) if setting.endswith("-2") else 0.004
            source = store.task_path(tmp_path, setting, "qlib@icstop", seed)
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_text(json.dumps({"test": {"Rank IC": 0.05}}))
            record = {"variant": "refit@icstop", "seed": seed, "test": {"Rank IC": 0.05 + gain}}
            path = refit.path(tmp_path, setting, "refit@icstop", seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record))
    table = rule.rule_table(rule.decide_from(tmp_path))
    assert "| C-1 | 0,1,2 | +0.0040 +- 0.0000 | (not asked) |" in table
    assert "| A-2 | 0,1,2 | +0.0020 +- 0.0006 | no |" in table
    assert table.endswith("Mean gain over the six setting-years: +0.0030. The refit: **stays**.")


@pytest.mark.parametrize("verdict", ["stays", "waiting for: A-2 seed(s) 0", "dropped: B-2 ..."])
def test_the_tables_report_the_configuration_without_the_refit_only_once_it_is_dropped(
    rule, verdict, tmp_path, monkeypatch, capsys
):
    (tables,) = _bench_modules("_accuracy_tables")
    monkeypatch.setattr(rule, "decide_from", lambda results: (verdict, None, {}, {}))
    tables.print_tables(tmp_path)  # no results at all: every table is its header
    printed = capsys.readouterr().out
    assert ("the refit dropped" in printed) == verdict.startswith("dropped")


def test_a_second_year_setting_with_one_seed_has_no_standard_error_to_judge_by(rule, tmp_path):
    refit, store = _bench_modules("_refit", "_accuracy_results")
    source = store.task_path(tmp_path, "B-2", "qlib@icstop", 0)
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(json.dumps({"test": {"Rank IC": 0.05}}))
    path = refit.path(tmp_path, "B-2", "refit@icstop", 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"variant": "refit@icstop", "seed": 0, "test": {"Rank IC": 0.04}}))
    assert "| B-2 | 0 | -0.0100 +- - | one seed: not yet |" in rule.rule_table(
        rule.decide_from(tmp_path)
    )
