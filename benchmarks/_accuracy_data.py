"""The accuracy campaign's settings and their data, prepared as Qlib's IGMTF benchmark does.

A setting is a market and three date ranges; ``segment_frames`` turns it into
``{segment: (X, y)}`` once and caches the result, because every task of a setting fits on
the same frames.
"""

from __future__ import annotations

from pathlib import Path

_CSI300 = {"data": "cn_csi300", "market": "csi300", "benchmark": "SH000300"}
_SAMPLE500 = {"data": "cn_sample500", "market": "sample500", "benchmark": "SH000905"}
#: Each setting's market and its train / valid / test years.
SETTINGS = {
    "A": {
        **_CSI300,
        "train": ("2016-01-01", "2018-12-31"),
        "valid": ("2019-01-01", "2019-12-31"),
        "test": ("2020-01-01", "2020-12-31"),
    },
    "B": {
        **_CSI300,
        "train": ("2020-01-01", "2022-12-31"),
        "valid": ("2023-01-01", "2023-12-31"),
        "test": ("2024-01-01", "2024-12-31"),
    },
    "C": {
        **_SAMPLE500,
        "train": ("2016-01-01", "2018-12-31"),
        "valid": ("2019-01-01", "2019-12-31"),
        "test": ("2020-01-01", "2020-12-31"),
    },
}
SEGMENTS = ("train", "valid", "test")
#: The issue's settings: the campaign's tables and its default run.
MAIN_SETTINGS = tuple(SETTINGS)


def _moved(spec, years):
    """The setting with each of its date ranges moved by ``years`` years."""
    return {
        **spec,
        **{seg: tuple(f"{int(d[:4]) + years}{d[4:]}" for d in spec[seg]) for seg in SEGMENTS},
    }


#: Each setting a year earlier (``A-1``: train 2015-2017, valid 2018, test 2019): its test
#: year is the setting's valid year. A choice that needs the valid year's labels, as the
#: refit on them does, is judged there, on a whole year, without looking at the test year.
#: Two years earlier (``A-2``: valid 2017, test 2018; ``B-2`` tests 2022), the test year is
#: the ``-1`` setting's valid year: a second year on which to judge such a choice.
EARLIER = {
    f"{name}-{years}": _moved(spec, -years) for years in (1, 2) for name, spec in SETTINGS.items()
}
#: Each setting a year later (``C+1``: train 2017-2019, valid 2020, test 2021). Their test
#: years (2021 for A's and C's markets, 2025 for B's) were never scored by the campaign
#: that chose the recommended configuration: they check it once, out of sample. Two years
#: later (``C+2``: valid 2021, test 2022; ``B+2`` tests 2026 up to the data's last day): a
#: second such year, for the configuration and for the refit that lost the first. ``A+2`` is
#: ``B-2`` (CSI 300, test 2022), whose test year judged the refit: out of sample for all
#: but the refit.
LATER = {
    f"{name}+{years}": _moved(spec, +years) for years in (1, 2) for name, spec in SETTINGS.items()
}
#: Each setting of A's and C's markets four and six years earlier (``A-4``: train
#: 2012-2014, stop on 2015, test 2016; ``A-6``: train 2010-2012, stop on 2013, test 2014).
#: Every valid and test year of the settings above is 2017 or later, so these years were
#: never scored: they judge a rule that those years suggested (``_gru_rule``), ``A-4``
#: first. Not three years earlier: ``A-3``'s and ``C-3``'s test year, 2017, is ``A-2``'s and
#: ``C-2``'s valid year; nor five: ``A-5``'s test year is ``A-4``'s valid year. B moved back
#: is A's setting (``B-3`` is ``A+1``, ``B-4`` is A). ``A-6``'s first weeks of 2010 have
#: features with fewer lags than 60 days (the data begin on 2010-01-04), filled as missing.
FURTHER_BACK = {
    f"{name}-{years}": _moved(SETTINGS[name], -years) for years in (4, 6) for name in ("A", "C")
}
SETTINGS.update(EARLIER)
SETTINGS.update(LATER)
SETTINGS.update(FURTHER_BACK)
FIELDS = ("close", "open", "high", "low", "volume")  # Alpha360's order; the data has no vwap
LOOKBACK_DAYS = 59  # Alpha360's longest lag
LOOKAHEAD_DAYS = 2  # Qlib's label: close[t+2] / close[t+1] - 1

#: How the features are normalised. ``robust`` is Qlib's benchmark handler (statistics of
#: the training years); ``cs`` z-scores every feature within each day instead, so the
#: network sees each stock relative to that day's market. A task named ``<name>@cs``
#: (``pretrain@cs``, ``qlib@cs``, ``gru@cs``...) runs on the ``cs`` features, from a GRU
#: pretrained on them. ``both`` hands the network the two side by side (twice the fields):
#: the per-day picture helps on ``cn_sample500`` and loses on CSI 300, where the market's
#: own level seems to matter, so a network given both may keep each market's signal.
FEATURES = ("robust", "cs", "both")
#: What the train and valid labels are: ``rank``, Qlib's per-day ranks (CSRankNorm);
#: ``zscore``, the day's returns z-scored (CSZScoreNorm), which keep their tails; or
#: ``mixed``, the mean of the two (both have unit variance), whose least-squares fit is
#: the mean of the two fits: one model between the rank IC of the first and the Pearson
#: IC of the second; or ``gaussrank``, the ranks mapped to normal quantiles
#: (CSGaussRankNorm): the ranks' order and robustness, with tails that single out the
#: day's extremes. All four increase with the return, so a prediction's valid rank IC
#: is its rank IC against the returns; its valid IC is, against ``zscore`` only (the saved
#: ``labels_zscore.npz`` scores any task's on it). The test labels stay the returns.
LABELS = ("rank", "zscore", "mixed", "gaussrank")


def same_as(setting):
    """The other settings of ``setting``'s market and years (``A+2`` is ``B-2``): its fits
    repeat theirs, and its test year is theirs, with whatever was judged on it."""
    spec = SETTINGS[setting]
    return [name for name, other in SETTINGS.items() if name != setting and other == spec]


def split_name(variant):
    """``"qlib@cs"`` -> ``("qlib", "cs")``; a plain name uses Qlib's ``robust`` features."""
    base, _, features = variant.partition("@")
    return base, features or "robust"


def fold_spec(spec):
    """The setting's training years cut in two: all but the last to train, the last to
    validate (and, unused, to test). Everything, normalisation included, is fitted on the
    earlier years only, so a choice made on this fold never sees the valid year. (A
    training range shorter than two years, as ``--smoke``'s, is cut in half.)"""
    import pandas as pd

    start, end = map(pd.Timestamp, spec["train"])
    held_out = max(pd.Timestamp(year=end.year, month=1, day=1), start + (end - start) / 2)
    return {
        **spec,
        "train": (str(start.date()), str((held_out - pd.Timedelta(days=1)).date())),
        "valid": (str(held_out.date()), str(end.date())),
        "test": (str(held_out.date()), str(end.date())),
    }


def segment_frames(setting, data_root, cache_dir, features="robust", fold=False, labels="rank"):
    """``{segment: (X, y)}`` as Qlib's IGMTF benchmark handler prepares them, cached;
    with ``fold=True`` those of the training years alone (``fold_spec``).

    Features: Alpha360 (no vwap) -> RobustZScoreNorm(clip) fitted on train -> Fillna;
    with ``features="cs"`` the normalisation is a per-day z-score clipped to +-3
    (RobustZScoreNorm's clip), so no statistic crosses days; ``features="both"`` puts the
    two side by side (``normalisation``: the ``FeatureUnion`` of docs/preprocessing.md),
    so the network reads ``2 x 5`` fields per day. Files cached before that pipeline
    name the per-day columns ``CS_*``; their values are the same, bit for bit.
    Labels: ``forward_return``; on train/valid rows without a label are dropped and
    the labels rank-normalised per day (Qlib's DropnaLabel + CSRankNorm), or with
    ``labels="zscore"`` z-scored per day, or with ``labels="mixed"`` the mean of the
    two, or with ``labels="gaussrank"`` the ranks' normal quantiles (``LABELS``); test
    keeps the raw labels, which the test IC is computed against.
    """
    import pandas as pd

    if labels not in LABELS:  # _prepare would take any other name for "mixed"
        raise ValueError(f"labels={labels!r}: use one of {LABELS}")
    spec = fold_spec(SETTINGS[setting]) if fold else SETTINGS[setting]
    suffix = "" if features == "robust" else f"_{features}"
    suffix += "" if labels == "rank" else f"_{labels}_labels"
    prefix = "fold" if fold else "setting"
    cache = Path(cache_dir) / f"{prefix}_{setting}_{spec['train'][0]}_{spec['test'][1]}{suffix}.pkl"
    if cache.is_file():
        return pd.read_pickle(cache)  # our own cache file, written just below
    frames = _prepare(spec, Path(data_root) / spec["data"], features, labels)
    from igmtf_sklearn.report import atomic_path

    cache.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(cache) as tmp:  # two tasks may build it at once: each renames whole
        pd.to_pickle(frames, tmp)
    return frames


def normalisation(features):
    """The features' normalisation, the pipeline step a user would write.

    ``robust``: Qlib's ``RobustZScoreNorm(clip_outlier=True)``, fitted on the training
    years; ``cs``: the per-day z-score, clipped to +-3 as the robust one clips;
    ``both``: the two side by side in a ``FeatureUnion`` (``robust__*``, ``per_day__*``).
    """
    from sklearn.pipeline import FeatureUnion

    from igmtf_sklearn.preprocessing import CSZScoreNorm, RobustZScoreNorm

    robust, per_day = RobustZScoreNorm(clip_outlier=True), CSZScoreNorm(clip=3)
    steps = {
        "robust": robust,
        "cs": per_day,
        "both": FeatureUnion([("robust", robust), ("per_day", per_day)]),
    }
    return steps[features].set_output(transform="pandas")


def _prepare(spec, path, features, labels):
    import numpy as np

    from igmtf_sklearn.datasets import load_qlib
    from igmtf_sklearn.preprocessing import Alpha360, Fillna, cs_rank_norm, forward_return

    if not (path / "calendars" / "day.txt").is_file():
        raise SystemExit(f"No Qlib data at {path}: pass --data-root (the folder holding it).")
    calendar = np.array((path / "calendars" / "day.txt").read_text().split(), "datetime64[ns]")
    first = max(np.searchsorted(calendar, np.datetime64(spec["train"][0])) - LOOKBACK_DAYS, 0)
    last = np.searchsorted(calendar, np.datetime64(spec["test"][1]), side="right") - 1
    last = min(last + LOOKAHEAD_DAYS, len(calendar) - 1)
    ohlcv = load_qlib(path, spec["market"], calendar[first], calendar[last], members_only=False)
    X = Alpha360(fields=list(FIELDS)).set_output(transform="pandas").fit_transform(ohlcv)
    y = forward_return(ohlcv)
    dates = X.index.get_level_values(0)
    keep = ohlcv["member"].to_numpy() & (dates >= spec["train"][0]) & (dates <= spec["test"][1])
    X, y = X[keep], y[keep]
    dates = X.index.get_level_values(0)
    train = (dates >= spec["train"][0]) & (dates <= spec["train"][1])
    X = normalisation(features).fit(X[train]).transform(X)
    fill = Fillna().set_output(transform="pandas")
    frames = {}
    for name in SEGMENTS:
        start, end = spec[name]
        rows = (dates >= start) & (dates <= end)
        Xs, ys = fill.fit_transform(X[rows]), y[rows]
        if name != "test":
            known = ys.notna().to_numpy()
            if labels == "rank":
                Xs, ys = Xs[known], cs_rank_norm(ys[known])
            else:  # a day with a single label has no z-score: drop it too
                ys = _normalised_labels(ys[known], labels)
                scored = ys.notna().to_numpy()
                Xs, ys = Xs[known][scored], ys[scored]
        frames[name] = (Xs.astype(np.float32), ys)
    return frames


def _normalised_labels(y, labels):
    """The day's returns z-scored (``zscore``), or that and their rank norm averaged
    (``mixed``), or their ranks' normal quantiles (``gaussrank``)."""
    from igmtf_sklearn.preprocessing import cs_gauss_rank_norm, cs_rank_norm, cs_zscore_norm

    if labels == "gaussrank":
        return cs_gauss_rank_norm(y)
    zscores = cs_zscore_norm(y)
    return zscores if labels == "zscore" else (zscores + cs_rank_norm(y)) / 2
