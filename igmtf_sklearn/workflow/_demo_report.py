"""The report of ``igmtf demo``: the same page as ``igmtf run``'s, on the simulated market.

IGMTF's test scores are analysed and backtested (TopK-Dropout, Qlib's costs,
against the equal-weighted mean of the simulated instruments), beside the
pretrained GRU alone and the oracle (the simulated expected return).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..backtest import signal_analysis, topk_dropout_backtest
from ..backtest._risk import PERIODS_PER_YEAR
from ..metrics import training_curve
from ..report import write_report
from ._model_config import networks

#: The demo's TopK-Dropout: a tenth of the default market, two changes a day.
DEMO_BACKTEST = {"topk": 10, "n_drop": 2}
DEMO_BENCHMARK = "equal-weighted mean of the simulated instruments"


def _market_mean_return(panel: pd.DataFrame) -> pd.Series:
    """The simulated market's benchmark: the mean close-to-close return of its instruments."""
    close = panel["close"].astype(np.float64)
    returns = close / close.groupby(level=1).shift(1) - 1.0
    return returns.groupby(level=0).mean().dropna()


def write_demo_report(config, pipeline, panel, predictions, y_test, times) -> object:
    """Analyse, backtest and report the demo's test predictions; return the report's path.

    Parameters
    ----------
    config : DemoConfig
        The demo's settings, shown in the report; ``config.report_dir`` is
        the folder written.
    pipeline : sklearn.pipeline.Pipeline
        The fitted ``RobustZScoreNorm -> Fillna -> IGMTFRegressor`` (or a
        ``VotingRegressor`` of them, whose first member's training curve is shown).
    panel : pandas.DataFrame
        The simulated OHLCV panel, traded by the backtest.
    predictions : dict of str to pandas.Series
        Test scores of ``"IGMTF"`` then its baselines (``"GRU alone"``,
        ``"oracle"``), on ``y_test``'s index.
    y_test : pandas.Series
        The test labels.
    times : dict of str to float
        Wall seconds of the demo's stages, shown in the report.

    Returns
    -------
    path : pathlib.Path
        The HTML file.
    """
    days = PERIODS_PER_YEAR["day"]
    analyses = {
        name: signal_analysis(scores, y_test, ann_scaler=days)
        for name, scores in predictions.items()
    }
    signal = analyses.pop("IGMTF")
    backtest = topk_dropout_backtest(
        predictions["IGMTF"], panel, benchmark=_market_mean_return(panel), **DEMO_BACKTEST
    )
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k != "report_dir"}
    return write_report(
        config.report_dir,
        backtest=backtest,
        signal=signal,
        title="igmtf demo: IGMTF on a simulated market",
        benchmark=DEMO_BENCHMARK,
        baselines=analyses,
        # an ensemble's first member: one seed's curve shows how the budget was used
        training=training_curve(networks(pipeline[-1])[0]),
        metrics={"Seconds by stage": times},
        config={
            "Demo (DemoConfig)": settings,
            "Backtest (TopK-Dropout; Qlib's default costs)": DEMO_BACKTEST,
        },
    )
