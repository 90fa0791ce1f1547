"""Validation splits by date for the networks' ``train_split``.

skorch's default ``ValidSplit`` draws random rows (here: the earliest 20 % of
them), which leaks the future into training on a time series. These splits cut
on whole trading days instead: the validation days are the last ones, and a gap
of ``gap_days`` days between the two keeps training labels, which look
``horizon + 1`` days ahead, from overlapping the validation window.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


class DateValidSplit:
    """Hold out the last trading days of the training data for validation.

    Parameters
    ----------
    valid_size : float or int, default=0.2
        A float in (0, 1) is the fraction of days to validate on; an int >= 1
        the number of days.
    gap_days : int, default=2
        Days dropped between the last training day and the first validation
        day. Qlib's default label ``Ref($close, -2) / Ref($close, -1) - 1``
        looks two days ahead, hence 2.

    Examples
    --------
    >>> import numpy as np
    >>> from igmtf_sklearn import DateValidSplit
    >>> DateValidSplit(valid_size=3, gap_days=1).split_days(10)
    (array([0, 1, 2, 3, 4, 5]), array([7, 8, 9]))
    """

    def __init__(self, valid_size: float | int = 0.2, gap_days: int = 2) -> None:
        self.valid_size = valid_size
        self.gap_days = gap_days

    def __repr__(self):
        return f"{type(self).__name__}(valid_size={self.valid_size!r}, gap_days={self.gap_days!r})"

    def _n_valid_days(self, n_days):
        size = self.valid_size
        if isinstance(size, numbers.Integral) and not isinstance(size, bool) and size >= 1:
            return int(size)
        if isinstance(size, numbers.Real) and 0 < size < 1:
            return max(1, int(round(size * n_days)))
        raise ValueError(
            f"valid_size must be a float in (0, 1) or an int >= 1, got {size!r}. "
            "To train without validation, pass train_split=None."
        )

    def split_days(self, n_days: int) -> tuple[np.ndarray, np.ndarray]:
        """Day numbers of the training and validation parts of ``n_days`` days."""
        if not isinstance(self.gap_days, numbers.Integral) or self.gap_days < 0:
            raise ValueError(f"gap_days must be an int >= 0, got {self.gap_days!r}.")
        n_valid = self._n_valid_days(n_days)
        n_train = n_days - n_valid - self.gap_days
        if n_train < 1:
            raise ValueError(
                f"Cannot hold out {n_valid} validation day(s) with a gap of {self.gap_days} "
                f"from {n_days} trading day(s): no training day is left. Pass more days, a "
                "smaller valid_size, or train_split=None to train without validation."
            )
        return np.arange(n_train), np.arange(n_days - n_valid, n_days)

    def __call__(self, dataset, y=None, groups=None):
        """Split a ``DayPanel`` into its training and validation days (skorch interface)."""
        train_days, valid_days = self.split_days(dataset.n_days)
        return (
            dataset.select_days(np.isin(np.arange(dataset.n_days), train_days)),
            dataset.select_days(np.isin(np.arange(dataset.n_days), valid_days)),
        )


class ExplicitValidation:
    """Validate on a separate panel, e.g. Qlib's ``valid`` segment.

    Use it as ``IGMTFRegressor(train_split=ExplicitValidation(X_valid, y_valid))``.
    ``X_valid`` must already be preprocessed like the training features: in a
    ``Pipeline`` the steps before the estimator do not see it, so transform it
    yourself (``pipeline[:-1].transform(X_valid)``) or keep the default
    :class:`DateValidSplit`.

    Parameters
    ----------
    X_valid : pandas.DataFrame
        Validation features, a ``(datetime, instrument)`` panel with the
        training columns.
    y_valid : pandas.Series
        Validation labels on the same index; normalised per day like the
        training labels.

    Notes
    -----
    A copy (``copy.deepcopy``, and so :func:`sklearn.base.clone` of an estimator
    holding it) shares the panel: it is only read, and a grid search or an ensemble
    would otherwise duplicate it for every candidate or member.

    Examples
    --------
    >>> from igmtf_sklearn import ExplicitValidation, IGMTFRegressor
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> from igmtf_sklearn.preprocessing import Alpha360, forward_return
    >>> panel = make_stock_panel(n_instruments=8, n_days=40, random_state=0)
    >>> X, y = Alpha360(window=5).fit_transform(panel).fillna(0.0), forward_return(panel)
    >>> train, valid = slice("2015-01-08", "2015-02-06"), slice("2015-02-11", None)
    >>> net = IGMTFRegressor(hidden_size=4, num_layers=1, max_epochs=1, pretrain_epochs=0,
    ...                      random_state=0, verbose=0,
    ...                      train_split=ExplicitValidation(X.loc[valid], y.loc[valid]))
    >>> "valid_loss" in net.fit(X.loc[train], y.loc[train]).history[-1]
    True
    """

    def __init__(self, X_valid: pd.DataFrame, y_valid: pd.Series) -> None:
        self.X_valid = X_valid
        self.y_valid = y_valid

    def __repr__(self):
        return f"{type(self).__name__}(X_valid=<{len(self.X_valid)} rows>, y_valid=...)"

    def __deepcopy__(self, memo):
        # sklearn's clone deep-copies parameters: once per GridSearchCV candidate and
        # VotingRegressor member. The panel is only read, so a copy shares it rather
        # than duplicate hundreds of MB each time.
        return type(self)(self.X_valid, self.y_valid)

    def __call__(self, dataset, y=None, groups=None, *, make_panel=None):
        """Return the training panel unchanged and the validation panel (skorch interface)."""
        return dataset, make_panel(self.X_valid, self.y_valid)
