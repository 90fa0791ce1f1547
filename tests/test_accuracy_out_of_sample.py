"""The out-of-sample table (``benchmarks/_out_of_sample.py``): the recommended configuration
replayed on a setting a year later, against ``qlib``'s single fits and ``gru``'s ensemble,
each difference paired by day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_accuracy_refit import _bench_modules
from test_accuracy_score_power import DAYS, INSTRUMENTS, _save_labels

from igmtf_sklearn.metrics import daily_rank_ic
from igmtf_sklearn.nets._score_power import choose_power, powered_scores

SETTING = "C+1"


@pytest.fixture(scope="module")
def modules():
    return _bench_modules("_out_of_sample", "_accuracy_results", "_refit")


def signal_and_returns(store, path, setting, rng, tails=False):
    """Save ``setting``'s labels and valid returns: a signal plus noise (with ``tails``, the
    signal's sign times its square, so a power above one pays). Returns ``noisy(scale)``, a
    model's ``{segment: predictions}``: the signal plus ``scale`` times noise, so a smaller
    scale predicts the returns better."""
    shape = (len(DAYS), len(INSTRUMENTS))
    signal = {seg: rng.standard_normal(shape) for seg in ("valid", "test")}
    shaped = {s: np.sign(x) * x**2 if tails else x for s, x in signal.items()}
    returns = {s: (x + 2 * rng.standard_normal(shape)).ravel() for s, x in shaped.items()}
    _save_labels(store, path, setting, "rank", returns["valid"], returns["test"])
    _save_labels(store, path, setting, "zscore", returns["valid"], returns["test"])

    def noisy(scale):
        return {s: (x + scale * rng.standard_normal(shape)).ravel() for s, x in signal.items()}

    return noisy


def _make_results(modules, path, n_seeds):
    """``n_seeds`` seeds of every task the table reads; ``qlib`` weaker than the rest."""
    _, store, refit = modules
    noisy = signal_and_returns(store, path, SETTING, np.random.default_rng(1))
    for seed in range(n_seeds):
        store.savez(store.predictions_path(path, SETTING, "qlib@icstop", seed), **noisy(1))
        store.savez(refit.predictions_path(path, SETTING, "refit@icstop", seed), **noisy(1))
        store.savez(store.predictions_path(path, SETTING, "gru", seed), **noisy(1))
        store.savez(store.predictions_path(path, SETTING, "qlib", seed), **noisy(4))
    return path


@pytest.fixture
def results(modules, tmp_path):
    return _make_results(modules, tmp_path, 3)


def _row(modules, results):
    table = modules[0].out_of_sample_table(results, [SETTING]).splitlines()
    assert len(table) == 3  # header, rule, one group
    return [cell.strip() for cell in table[2].strip("|").split("|")]


def test_the_row_is_the_recommended_ensemble_against_qlibs_single_fits_by_day(modules, results):
    _, store, refit = modules
    labels = store.load_labels(results, SETTING)
    test, valid_returns = labels["test"], store.load_labels(results, SETTING, "zscore")["valid"]
    counts = np.full(len(DAYS), len(INSTRUMENTS))
    members, powers = [], []
    for seed in range(3):  # each member replayed by hand, as score_power="auto" chooses
        valid = np.load(store.predictions_path(results, SETTING, "qlib@icstop", seed))["valid"]
        powers.append(choose_power(valid, valid_returns.to_numpy(), counts))
        raw = np.load(refit.predictions_path(results, SETTING, "refit@icstop", seed))["test"]
        members.append(powered_scores(raw, counts, powers[-1]))
    ours = daily_rank_ic(test, pd.Series(np.mean(members, axis=0), index=test.index))
    singles = [
        daily_rank_ic(test, np.load(store.predictions_path(results, SETTING, "qlib", s))["test"])
        for s in range(3)
    ]
    d = ours - sum(singles) / 3
    row = _row(modules, results)
    assert row[:4] == [SETTING, str(DAYS[0].year), "0-2", ", ".join(map(str, powers))]
    assert row[4] == f"{ours.mean():.4f}"
    assert row[6] == ", ".join(f"{s.mean():.4f}" for s in singles)
    se = d.std(ddof=1) / np.sqrt(len(d))
    assert row[7].startswith(f"{d.mean():+.4f} +- {se:.4f}")
    assert d.mean() > 2 * se  # the weak single fits lose, day by day


def test_a_group_missing_a_file_is_left_out(modules, results):
    _, store, _ = modules
    store.predictions_path(results, SETTING, "qlib", 2).unlink()
    assert modules[0].out_of_sample_table(results, [SETTING]).count("\n") == 1  # header only


def test_no_share_is_given_of_a_baseline_whose_mean_is_not_positive(modules):
    days = pd.RangeIndex(4)
    ours = pd.Series([0.04, 0.01, 0.05, 0.02], index=days)  # mean 0.03
    assert modules[1].daily_paired(ours - 0.01, ours) == "+0.0100 +- 0.0000 (+50%)"
    negative = modules[1].daily_paired(ours - 0.05, ours)  # mean -0.02: no gain to share of
    assert negative == "+0.0500 +- 0.0000 (its mean <= 0)"


def test_without_the_refit_each_member_is_its_validated_source(modules, results):
    """What the table reports if the refit rule drops the refit: the same replay on
    ``qlib@icstop``'s own test predictions."""
    _, store, _ = modules
    test = store.load_labels(results, SETTING)["test"]
    valid_returns = store.load_labels(results, SETTING, "zscore")["valid"].to_numpy()
    counts = np.full(len(DAYS), len(INSTRUMENTS))
    members = []
    for seed in range(3):
        saved = np.load(store.predictions_path(results, SETTING, "qlib@icstop", seed))
        p = choose_power(saved["valid"], valid_returns, counts)
        members.append(powered_scores(saved["test"], counts, p))
    ours = daily_rank_ic(test, pd.Series(np.mean(members, axis=0), index=test.index))
    table = modules[0].out_of_sample_table(results, [SETTING], refitted=False).splitlines()
    row = [cell.strip() for cell in table[2].strip("|").split("|")]
    assert row[4] == f"{ours.mean():.4f}" != _row(modules, results)[4]


def test_two_groups_add_a_row_over_all_six_seeds(modules, tmp_path):
    """The pooled row's difference is taken day by day: each day the groups' ensembles'
    mean IC minus the mean of all six single fits', its standard error over the days."""
    results = _make_results(modules, tmp_path, 6)
    table = modules[0].out_of_sample_table(results, [SETTING]).splitlines()
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table[2:]]
    assert [row[2] for row in rows] == ["0-2", "3-5", "0-5"]
    first, second, pooled = rows
    assert pooled[3] == f"{first[3]}, {second[3]}"  # every member's p
    assert pooled[6] == f"{first[6]}, {second[6]}"  # every qlib fit's rank IC
    groups = [daily for _, daily, _ in modules[0]._groups(results, SETTING, True)]
    ours = (groups[0]["ours"]["rank"] + groups[1]["ours"]["rank"]) / 2
    singles = [single["rank"] for daily in groups for single in daily["singles"]]
    d = ours - sum(singles) / len(singles)
    se = d.std(ddof=1) / np.sqrt(len(d))
    assert pooled[7].startswith(f"{d.mean():+.4f} +- {se:.4f}")
    # Not the days of the two groups strung together, whose spread is another.
    strung = pd.concat([daily["ours"]["rank"] - daily["qlib"]["rank"] for daily in groups])
    assert f"{strung.std(ddof=1) / np.sqrt(len(strung)):.4f}" != f"{se:.4f}"


def test_groups_with_a_gap_are_named_one_by_one(modules, tmp_path):
    _, store, _ = modules
    results = _make_results(modules, tmp_path, 9)
    store.predictions_path(results, SETTING, "qlib", 4).unlink()  # group 3-5 incomplete
    table = modules[0].out_of_sample_table(results, [SETTING]).splitlines()
    seeds = [line.strip("|").split("|")[2].strip() for line in table[2:]]
    assert seeds == ["0-2", "6-8", "0-2, 6-8"]


def _parts_row(modules, results):
    table = modules[0].parts_table(results, [SETTING]).splitlines()
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert len(table) == 3  # header, rule, one group
    return dict(zip(header, (cell.strip() for cell in table[2].strip("|").split("|"))))


def test_the_parts_score_each_seed_and_the_z_scored_average_of_the_group(modules, results):
    _, store, refit = modules
    test = store.load_labels(results, SETTING)["test"]
    counts = np.full(len(DAYS), len(INSTRUMENTS))

    def both(daily):
        return f"{daily['rank'].mean():.4f} / {daily['ic'].mean():.4f}"

    def loaded(path):
        return np.load(path)["test"]

    singles = [
        store.daily_scores(test, loaded(store.predictions_path(results, SETTING, "qlib", s)))
        for s in range(3)
    ]
    one_seed = {m: sum(d[m] for d in singles) / 3 for m in ("rank", "ic")}
    refits = []
    for seed, scale in enumerate((1.0, 10.0, 0.1)):  # scales a raw average would weigh
        path = refit.predictions_path(results, SETTING, "refit@icstop", seed)
        refits.append(scale * loaded(path))
        store.savez(path, valid=np.load(path)["valid"], test=refits[-1])
    zscored = np.mean([powered_scores(r, counts, 1.0) for r in refits], axis=0)
    row = _parts_row(modules, results)
    assert row["seeds"] == "0-2"
    assert row["`qlib` one seed"] == both(one_seed)
    assert row["refitted"] == both(store.daily_scores(test, zscored))
    raw = np.mean(refits, axis=0)
    assert both(store.daily_scores(test, raw)) != row["refitted"]
    # The configuration is the out-of-sample table's own ensemble.
    rank_ic = _row(modules, results)[4]
    assert row["with `score_power`: the configuration"].startswith(f"{rank_ic} / ")


def test_a_part_with_a_file_missing_reads_a_dash(modules, results):
    _, store, _ = modules
    path = store.predictions_path(results, SETTING, "pretrain", 0)
    store.savez(path, test=np.zeros(len(DAYS) * len(INSTRUMENTS)))  # seeds 1 and 2 missing
    row = _parts_row(modules, results)
    assert row["`pretrain` averaged"] == "-"
    assert row["`qlib@icstop` averaged"] != "-"


def test_each_parts_row_reads_its_own_groups_seeds(modules, tmp_path):
    """Two groups: the second row's parts come from seeds 3-5, the GRU's alone too."""
    _, store, _ = modules
    results = _make_results(modules, tmp_path, 6)
    test = store.load_labels(results, SETTING)["test"]
    table = modules[0].parts_table(results, [SETTING]).splitlines()
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    rows = [
        dict(zip(header, (c.strip() for c in line.strip("|").split("|")))) for line in table[2:]
    ]
    assert [(row["seeds"], row["test year"]) for row in rows] == [
        ("0-2", str(DAYS[0].year)),
        ("3-5", str(DAYS[0].year)),
    ]
    for row, group in zip(rows, [range(3), range(3, 6)]):
        singles = [
            store.daily_scores(
                test, np.load(store.predictions_path(results, SETTING, "gru", s))["test"]
            )
            for s in group
        ]
        rank = np.mean([d["rank"].mean() for d in singles])
        assert row["`gru` one seed"].startswith(f"{rank:.4f} / ")
