"""The ``igmtf demo`` command: IGMTF end to end on a simulated market.

The flow is the one a user follows on real data, shrunk to run in a few
minutes on a laptop CPU:

1. simulate a market with :func:`~igmtf_sklearn.datasets.make_stock_panel`,
   which also returns the true expected return (the *oracle*);
2. build Alpha360 features once over the whole panel, so that every row,
   test rows included, has its full history window, and Qlib's label;
3. split by date: train on the early days, test on the last ones, with a
   gap so that no training label looks into the test period;
4. fit ``RobustZScoreNorm -> Fillna -> IGMTFRegressor`` (which pretrains its
   GRU base first) in the package's recommended configuration: the GRU stopped
   on its validation IC, each model refitted on the training and validation
   days for the epochs validation kept, its scores raised to the power its
   validation days favour, three seeds averaged;
5. score IGMTF, its pretrained GRUs alone (averaged the same way) and the
   oracle on the test days.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from sklearn.pipeline import Pipeline

from .._utils._threads import torch_threads
from ..datasets import make_stock_panel
from ..metrics import ic_summary
from ..nets import IGMTFRegressor
from ..preprocessing import Alpha360, Fillna, RobustZScoreNorm, forward_return
from ._demo_config import GAP_DAYS, DemoConfig
from ._demo_report import write_demo_report
from ._model_config import gru_alone, networks, seed_ensemble

if TYPE_CHECKING:
    from typing import TextIO

__all__ = [
    "DEMO_METRICS",
    "DemoConfig",
    "DemoResult",
    "describe_demo",
    "print_demo_report",
    "run_demo",
    "torch_threads",
]

#: Columns of the results table, in Qlib's order of reporting.
DEMO_METRICS = ("IC", "Rank IC", "ICIR", "Rank ICIR")


@dataclass
class DemoResult:
    """What a demo run measured.

    Attributes
    ----------
    scores : dict of str to dict of str to float
        Test ``ic_summary`` of each model (``"IGMTF"``, ``"GRU alone"``, ``"oracle"``).
    times : dict of str to float
        Wall seconds of each stage.
    test_days : pandas.DatetimeIndex
        The test dates.
    n_train_rows, n_test_rows : int
        Rows used to fit and to score.
    report : pathlib.Path or None
        The HTML report, when ``config.report_dir`` asked for one.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.workflow import DemoResult
    >>> result = DemoResult(
    ...     scores={"IGMTF": {"IC": 0.05, "Rank IC": 0.06, "ICIR": 0.4, "Rank ICIR": 0.5}},
    ...     test_days=pd.bdate_range("2020-01-01", periods=3), n_train_rows=90, n_test_rows=30)
    >>> result.scores["IGMTF"]["IC"], len(result.test_days)
    (0.05, 3)
    """

    scores: dict = field(default_factory=dict)
    times: dict = field(default_factory=dict)
    test_days: pd.DatetimeIndex | None = None
    n_train_rows: int = 0
    n_test_rows: int = 0
    report: Path | None = None


def make_data(config):
    """Simulate the market; return Alpha360 features, label, oracle and OHLCV of the whole panel.

    Features are built over the whole panel before any split, so the first
    test day still sees its ``window`` days of history (which lie in the
    training period: that is no leak, they are known on that day).
    """
    panel, signal = make_stock_panel(
        config.n_instruments, config.n_days, return_signal=True, random_state=config.seed
    )
    features = Alpha360(window=config.window).set_output(transform="pandas")
    X = features.fit_transform(panel)
    return X, forward_return(panel), signal, panel


def split_by_date(index, test_size=0.2, gap_days=GAP_DAYS, skip_days=0):
    """Boolean row masks of a train / test split on the dates of a panel index.

    Parameters
    ----------
    index : pandas.MultiIndex
        A ``(datetime, instrument)`` panel index.
    test_size : float
        Fraction of the dates, the last ones, to test on.
    gap_days : int
        Dates dropped between training and test.
    skip_days : int
        First dates left out of training, e.g. the warm-up of the feature window
        where lags are still missing.

    Returns
    -------
    train, test : ndarray of bool
        Row masks.
    """
    dates = index.get_level_values(0)
    days = dates.unique()
    n_test = max(1, round(test_size * len(days)))
    first_test = len(days) - n_test
    if first_test - gap_days <= skip_days:
        raise ValueError(
            f"{len(days)} days are too few for a {test_size:.0%} test split after "
            f"{skip_days} warm-up and {gap_days} gap days; simulate more days."
        )
    train = (dates >= days[skip_days]) & (dates < days[first_test - gap_days])
    return np.asarray(train), np.asarray(dates >= days[first_test])


def make_pipeline(config):
    """``RobustZScoreNorm -> Fillna -> IGMTFRegressor`` with the demo's settings; with
    ``config.seeds > 1`` the model is a ``VotingRegressor`` of that many seeds."""
    model = IGMTFRegressor(
        hidden_size=config.hidden_size,
        pretrain_epochs=config.pretrain_epochs,
        pretrain_monitor=config.pretrain_monitor,
        refit=config.refit,
        score_power=config.score_power,
        max_epochs=config.epochs,
        lr=config.lr,
        pretrain_lr=config.pretrain_lr,
        random_state=config.seed,
        verbose=config.verbose,
        n_threads=None,  # the demo runs under its caller's thread setting (igmtf demo --threads)
    )
    if config.seeds > 1:
        model = seed_ensemble(model, config.seeds)
    steps = [("norm", RobustZScoreNorm(clip_outlier=True)), ("fillna", Fillna()), ("model", model)]
    # Frames, not arrays, must reach the model: it needs the (datetime, instrument) index.
    return Pipeline(steps).set_output(transform="pandas")


def _history_seconds(net):
    """Seconds a skorch net spent in its epochs (0 when it did not train)."""
    if net is None or not len(net.history):
        return 0.0
    return float(sum(net.history[:, "dur"]))


def predict_models(pipeline, X_test, signal_test):
    """Test scores of IGMTF, of its pretrained GRU alone, and of the oracle, as Series.

    With several seeds, "GRU alone" averages the members' GRUs as the ensemble
    averages the members, so that both average as many seeds.
    """
    predictions = {"IGMTF": pipeline.predict(X_test)}
    gru = gru_alone(pipeline, X_test)
    if gru is not None:
        predictions["GRU alone"] = gru
    predictions = {k: pd.Series(np.ravel(v), index=X_test.index) for k, v in predictions.items()}
    predictions["oracle"] = signal_test
    return predictions


def score_models(predictions, y_test):
    """Test ``ic_summary`` of each model's predictions."""
    return {name: ic_summary(y_test, scores) for name, scores in predictions.items()}


def run_demo(config: DemoConfig) -> DemoResult:
    """Run the demo.

    Parameters
    ----------
    config : DemoConfig

    Returns
    -------
    result : DemoResult

    Examples
    --------
    >>> from igmtf_sklearn.workflow import DemoConfig, run_demo
    >>> config = DemoConfig(n_instruments=10, n_days=60, window=5, pretrain_epochs=1, epochs=1,
    ...                     hidden_size=4, seeds=1)
    >>> result = run_demo(config)
    >>> sorted(result.scores), sorted(result.scores["IGMTF"])
    (['GRU alone', 'IGMTF', 'oracle'], ['IC', 'ICIR', 'Rank IC', 'Rank ICIR'])
    """
    config.validate()
    result = DemoResult()
    start = time.perf_counter()
    X, y, signal, panel = make_data(config)
    # The first window - 1 days have missing lags for everyone: keep them out of training.
    train, test = split_by_date(X.index, config.test_size, skip_days=config.window - 1)
    result.times["data"] = time.perf_counter() - start

    pipeline = make_pipeline(config)
    start = time.perf_counter()
    pipeline.fit(X[train], y[train])
    result.times["fit"] = time.perf_counter() - start
    result.times["pretraining"] = sum(
        _history_seconds(net.pretrained_model_) for net in networks(pipeline[-1])
    )
    # The rest of fit: IGMTF's epochs and memory-bank rebuilds (and the quick preprocessing).
    result.times["IGMTF training"] = result.times["fit"] - result.times["pretraining"]

    start = time.perf_counter()
    predictions = predict_models(pipeline, X[test], signal[test])
    result.scores = score_models(predictions, y[test])
    result.times["predict + score"] = time.perf_counter() - start
    if config.report_dir is not None:
        start = time.perf_counter()
        times = dict(result.times)
        result.report = write_demo_report(config, pipeline, panel, predictions, y[test], times)
        result.times["report"] = time.perf_counter() - start

    result.test_days = X.index.get_level_values(0)[test].unique()
    result.n_train_rows, result.n_test_rows = int(train.sum()), int(test.sum())
    return result


def format_scores(scores):
    """The results table: one row per model, Qlib's four IC statistics as columns."""
    width = max(len(name) for name in scores)
    lines = [f"{'model':<{width}}  " + "  ".join(f"{m:>9}" for m in DEMO_METRICS)]
    for name, summary in scores.items():
        lines.append(f"{name:<{width}}  " + "  ".join(f"{summary[m]:9.4f}" for m in DEMO_METRICS))
    return "\n".join(lines)


def format_times(times):
    """Wall times of the stages, on one line."""
    # pretraining and IGMTF training are parts of fit: show them inside it.
    parts = [
        f"data {times['data']:.1f}s",
        f"fit {times['fit']:.1f}s (pretraining {times['pretraining']:.1f}s, "
        f"IGMTF training {times['IGMTF training']:.1f}s)",
        f"predict + score {times['predict + score']:.1f}s",
    ]
    if "report" in times:
        parts.append(f"report {times['report']:.1f}s")
    stages = ("data", "fit", "predict + score", "report")
    parts.append(f"total {sum(times.get(stage, 0.0) for stage in stages):.1f}s")
    return "wall time: " + ", ".join(parts)


def print_demo_report(result: DemoResult, file: TextIO | None = None) -> None:
    """Print the run's settings, results table and wall times.

    Parameters
    ----------
    result : DemoResult
        What :func:`run_demo` measured.
    file : file-like, optional
        Where to print; standard output by default.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.workflow import DemoResult, print_demo_report
    >>> result = DemoResult(
    ...     scores={"IGMTF": {"IC": 0.05, "Rank IC": 0.06, "ICIR": 0.4, "Rank ICIR": 0.5}},
    ...     times={"data": 0.1, "fit": 2.0, "pretraining": 0.5, "IGMTF training": 1.5,
    ...            "predict + score": 0.2},
    ...     test_days=pd.bdate_range("2020-01-01", periods=3), n_train_rows=90, n_test_rows=30)
    >>> print_demo_report(result)
    Test days 2020-01-01 .. 2020-01-03 (3 days, 30 rows); trained on 90 rows.
    model         IC    Rank IC       ICIR  Rank ICIR
    IGMTF     0.0500     0.0600     0.4000     0.5000
    wall time: data 0.1s, fit 2.0s (pretraining 0.5s, IGMTF training 1.5s),
    predict + score 0.2s, total 2.3s
    """
    file = file if file is not None else sys.stdout
    days = result.test_days
    print(
        f"Test days {days[0]:%Y-%m-%d} .. {days[-1]:%Y-%m-%d} ({len(days)} days, "
        f"{result.n_test_rows} rows); trained on {result.n_train_rows} rows.",
        file=file,
    )
    print(format_scores(result.scores), file=file)
    print(format_times(result.times), file=file)
    if result.report is not None:
        print(f"report: {result.report}", file=file)


def describe_demo(config: DemoConfig) -> str:
    """One line saying what is about to run.

    Parameters
    ----------
    config : DemoConfig
        The demo's settings.

    Returns
    -------
    line : str
        The market's size, the window, the network's size, the epochs, the
        seed and torch's thread count.

    Examples
    --------
    >>> from igmtf_sklearn.workflow import DemoConfig, describe_demo
    >>> describe_demo(DemoConfig(n_instruments=10, n_days=60))  # doctest: +ELLIPSIS
    'IGMTF demo: 10 instruments x 60 days, Alpha360 window 20, hidden size 32, ...'
    """
    return (
        f"IGMTF demo: {config.n_instruments} instruments x {config.n_days} days, "
        f"Alpha360 window {config.window}, hidden size {config.hidden_size}, "
        f"{config.pretrain_epochs} pretraining + {config.epochs} IGMTF epochs at most, "
        f"{_seeds(config)}{', refitted on train + valid' if config.refit else ''}"
        f"{'' if config.score_power is None else f', score_power={config.score_power}'}, "
        f"{torch.get_num_threads()} torch thread(s)."
    )


def _seeds(config):
    if config.seeds == 1:
        return f"seed {config.seed}"
    return f"seeds {config.seed}-{config.seed + config.seeds - 1} averaged"
