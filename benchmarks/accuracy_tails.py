"""Where the GRU alone's Pearson IC lead over ``qlib@icstop``'s ensembles comes from.

Pearson IC weighs each day's extreme predictions by their size; rank IC does not.
For each setting, ``qlib@icstop``'s ensembles of three seeds (the recommended
configuration before its refit and ``score_power``) and the GRU's ensembles of three
seeds (the groups of ``accuracy.py --table``, predictions z-scored within each day and
averaged) are scored on their raw predictions and on *normal scores*: each day's
predictions replaced by the standard normal quantiles of their ranks, which keeps
their order (and rank IC) and removes their tails. Printed: the mean per-day
kurtosis of the predictions, the IC, the IC of the normal scores and the rank IC,
mean over the seed groups, and ``qlib@icstop`` minus the GRU.

Usage::

    python benchmarks/accuracy_tails.py [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
from _accuracy_data import MAIN_SETTINGS
from _accuracy_ensembles import seed_groups
from _accuracy_results import averaged_predictions, by_variant, load_labels, load_results
from _accuracy_variants import ENSEMBLE_BASE
from accuracy import DEFAULT_RESULTS
from scipy.stats import norm

from igmtf_sklearn.metrics import ic_summary

BASELINE = "gru"
COLUMNS = ("kurtosis", "IC", "IC, normal scores", "Rank IC")


def normal_scores(pred: pd.Series) -> pd.Series:
    """Each day's predictions as the normal quantiles of their ranks (order kept, tails cut)."""
    days = pred.groupby(level=0)
    return pd.Series(norm.ppf((days.rank() - 0.5) / days.transform("count")), index=pred.index)


def ensemble_figures(pred: pd.Series, y: pd.Series) -> dict:
    """The columns of one ensemble's predictions ``pred`` against the labels ``y``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw, normal = ic_summary(y, pred), ic_summary(y, normal_scores(pred))
    kurtosis = pred.groupby(level=0).apply(lambda day: day.kurt()).mean()
    return dict(zip(COLUMNS, (kurtosis, raw["IC"], normal["IC"], raw["Rank IC"]), strict=True))


def setting_rows(results_dir, setting, groups, labels):
    """The table's rows of one setting: each model's figures, mean over the seed groups,
    and ``qlib@icstop`` minus the GRU, per segment."""
    figures = {}  # (segment, variant) -> one dict per group
    for variant in (ENSEMBLE_BASE, BASELINE):
        for group in groups:
            preds = averaged_predictions(
                results_dir, setting, [(variant, s) for s in group], labels
            )
            if preds is None:
                return []
            for segment, y in labels.items():
                pred = pd.Series(preds[segment], index=y.index)
                figures.setdefault((segment, variant), []).append(ensemble_figures(pred, y))
    names = ", ".join(f"{g[0]}-{g[-1]}" for g in groups)
    rows = []
    for segment in labels:
        means = {
            v: {c: np.mean([f[c] for f in figures[(segment, v)]]) for c in COLUMNS}
            for v in (ENSEMBLE_BASE, BASELINE)
        }
        difference = {c: means[ENSEMBLE_BASE][c] - means[BASELINE][c] for c in COLUMNS}
        for model, values in (*means.items(), ("difference", difference)):
            form = "{:+.4f}" if model == "difference" else "{:.4f}"
            cells = " | ".join(form.format(values[c]) for c in COLUMNS)
            rows.append(f"| {setting} | {segment} | {model} | {names} | {cells} |")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results-dir", default=DEFAULT_RESULTS)
    args = parser.parse_args(argv)
    by = by_variant(load_results(args.results_dir))
    print("| setting | segment | model | seed groups | " + " | ".join(COLUMNS) + " |")
    print("|---|---|---|---|" + "---|" * len(COLUMNS))
    for setting in MAIN_SETTINGS:  # the settings, as the campaign's tables
        groups = sorted(
            set(seed_groups(by.get((setting, ENSEMBLE_BASE), {})))
            & set(seed_groups(by.get((setting, BASELINE), {})))
        )
        labels = load_labels(args.results_dir, setting)
        if groups and labels is not None:
            print("\n".join(setting_rows(args.results_dir, setting, groups, labels)))


if __name__ == "__main__":
    main()
