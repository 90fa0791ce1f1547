"""Summary statistics of daily series shared by the metrics and the backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd


def mean_over_std(daily: pd.Series) -> float:
    """Qlib's ICIR of a daily series: mean over standard deviation (ddof=1), NaN days skipped.

    A zero standard deviation gives +-inf (or NaN for 0/0), as pandas would.

    >>> mean_over_std(pd.Series([0.1, 0.3, float("nan")]))
    1.4142135623730951
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(daily.mean()) / np.float64(daily.std()))
