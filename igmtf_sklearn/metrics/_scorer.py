"""IC scorers for scikit-learn model selection (``scoring=`` in GridSearchCV etc.).

sklearn calls a scorer as ``scorer(estimator, X, y)`` on each test fold. The IC
needs to know the day of every row, which the fold's ``y`` carries when it is a
pandas Series on the panel index (sklearn slices it with ``.iloc`` and keeps the
index). When ``y`` was passed as a plain array the day is taken from ``X``'s
panel index instead, which ``make_scorer`` cannot do because it never hands
``X`` to the metric; hence this small scorer class.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from igmtf_sklearn._utils._panel import PANEL_LEVELS
from igmtf_sklearn.metrics._summary import ic_summary, icir, mean_ic, mean_rank_ic, rank_icir

__all__ = [
    "ic_scorer",
    "ic_summary_scorer",
    "icir_scorer",
    "rank_ic_scorer",
    "rank_icir_scorer",
]


def _has_panel_index(obj) -> bool:
    return (
        isinstance(obj, pd.Series | pd.DataFrame)
        and isinstance(obj.index, pd.MultiIndex)
        and tuple(obj.index.names) == PANEL_LEVELS
    )


def _panel_target(X, y_true):
    """``y_true`` on a panel index, borrowing ``X``'s index if ``y_true`` has none."""
    if _has_panel_index(y_true):
        return y_true
    if _has_panel_index(X) and len(X) == len(y_true):
        values = y_true.to_numpy() if isinstance(y_true, pd.Series | pd.DataFrame) else y_true
        values = np.asarray(values)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        return pd.Series(values, index=X.index)
    if isinstance(y_true, pd.Series | pd.DataFrame):
        return y_true  # let the metric report what is wrong with its index
    raise ValueError(
        "An IC scorer needs the (datetime, instrument) day of each row, but neither y nor X "
        "has a panel index. Pass y as a pandas Series (or X as a DataFrame) indexed by "
        "(datetime, instrument)."
    )


class _ICScorer:
    """Callable ``scorer(estimator, X, y) -> score`` built on an IC metric.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, y_pred)`` returning a float, or a dict of floats for a
        multi-metric scorer. Greater is better.
    name : str
        Name shown in the repr (the module-level scorer's name).

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> from igmtf_sklearn.metrics import ic_scorer
    >>> from igmtf_sklearn.preprocessing import forward_return
    >>> panel = make_stock_panel(20, 30, random_state=0)
    >>> y = forward_return(panel).dropna()
    >>> X = panel.loc[y.index]
    >>> model = LinearRegression().fit(X, y)
    >>> round(ic_scorer(model, X, y), 2)
    0.05
    """

    def __init__(self, metric, name: str):
        self._metric = metric
        self._name = name

    def __call__(self, estimator, X, y_true):
        """Score ``estimator.predict(X)`` against ``y_true`` with the IC metric.

        Parameters
        ----------
        estimator : fitted estimator
            Anything with ``predict``.
        X : array-like or panel DataFrame
            Test features.
        y_true : pandas Series on a panel index, or array-like
            Test labels; when not on a panel index, ``X`` must be.

        Returns
        -------
        score : float or dict of str to float
            NaN (with an ``UndefinedICWarning``) when no test day has a defined IC.
        """
        y_pred = estimator.predict(X)
        return self._metric(_panel_target(X, y_true), y_pred)

    def __repr__(self) -> str:
        return f"igmtf_sklearn.metrics.{self._name}"

    def __reduce__(self):
        # Pickle by reference (joblib sends scorers to worker processes), so the
        # scorer stays the same public module-level object.
        return self._name


ic_scorer = _ICScorer(mean_ic, "ic_scorer")
rank_ic_scorer = _ICScorer(mean_rank_ic, "rank_ic_scorer")
icir_scorer = _ICScorer(icir, "icir_scorer")
rank_icir_scorer = _ICScorer(rank_icir, "rank_icir_scorer")
# One prediction, four scores: sklearn accepts a scorer returning a dict, which
# saves three predict calls per fold when an expensive model is tuned on all four.
ic_summary_scorer = _ICScorer(ic_summary, "ic_summary_scorer")
