"""Cross-validation splitters that cut a panel on whole trading days.

scikit-learn's splitters count rows. On a ``(datetime, instrument)`` panel a
row split cuts through a day and, for ``TimeSeriesSplit``, assumes one row per
time step; either way the labels of the last training rows, which look a few
days ahead, overlap the first test days. The splitters here work on the sorted
unique dates of the panel, drop ``gap_days`` / ``purge_days`` trading days
between training and test, and map the chosen dates back to row positions, so
they plug into ``cross_validate``, ``GridSearchCV`` or ``RandomizedSearchCV``
as ``cv=``.
"""

from __future__ import annotations

from abc import abstractmethod
from numbers import Integral
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils._param_validation import Interval, validate_parameter_constraints

from ._panel_dates import panel_dates, rows_of

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["PurgedKFoldByDate", "WalkForwardSplit"]


class _DateSplitter(BaseCrossValidator):
    """Shared machinery: subclasses choose day numbers, this maps them to rows.

    A splitter is not an estimator and has no ``fit``: its parameters are
    checked against ``_parameter_constraints`` each time folds are asked for
    (``get_n_splits``, ``split``, ``split_days``, ``fold_dates``), so that
    ``set``-ting an attribute after construction is checked too.
    """

    _parameter_constraints: dict = {}

    def _validate_params(self):
        """Check the parameters against ``_parameter_constraints`` (scikit-learn's rules)."""
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
        )

    @abstractmethod
    def split_days(self, n_dates: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_days, test_days)`` day numbers for ``n_dates`` sorted dates."""

    def get_n_splits(self, X: object = None, y: object = None, groups: object = None) -> int:
        """Return the number of folds.

        Parameters
        ----------
        X, y, groups : object
            Ignored; the number of folds is ``n_splits`` whatever the data.

        Returns
        -------
        n_splits : int
        """
        self._validate_params()
        return int(self.n_splits)

    def split(
        self, X: pd.DataFrame | pd.Series, y: object = None, groups: object = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Generate the row positions of each fold's training and test sets.

        Parameters
        ----------
        X : pandas.DataFrame or pandas.Series
            A panel indexed by ``(datetime, instrument)``, in any row order.
        y, groups : object
            Ignored; present for scikit-learn's API.

        Yields
        ------
        train : ndarray of intp
            Row positions of the training dates, ascending.
        test : ndarray of intp
            Row positions of the test dates, ascending.
        """
        codes, dates = panel_dates(X)
        for train_days, test_days in self.split_days(len(dates)):
            yield rows_of(codes, train_days, len(dates)), rows_of(codes, test_days, len(dates))

    def fold_dates(self, X: pd.DataFrame | pd.Series) -> pd.DataFrame:
        """First and last date and number of dates of each fold, as a table.

        Parameters
        ----------
        X : pandas.DataFrame or pandas.Series
            A panel indexed by ``(datetime, instrument)``.

        Returns
        -------
        table : pandas.DataFrame
            One row per fold, columns ``train_first``, ``train_last``,
            ``train_days``, ``test_first``, ``test_last``, ``test_days``.
        """
        _, dates = panel_dates(X)
        rows = [
            {
                "train_first": dates[train[0]],
                "train_last": dates[train[-1]],
                "train_days": len(train),
                "test_first": dates[test[0]],
                "test_last": dates[test[-1]],
                "test_days": len(test),
            }
            for train, test in self.split_days(len(dates))
        ]
        return pd.DataFrame(rows, index=pd.RangeIndex(len(rows), name="fold"))


class WalkForwardSplit(_DateSplitter):
    """Walk-forward folds on the trading days of a panel, with a purge gap.

    The panel's sorted unique dates are cut like scikit-learn's
    ``TimeSeriesSplit`` cuts rows: ``n_splits`` consecutive test windows of
    ``test_days`` dates, the last ending on the last date, each trained on
    dates before it only. ``gap_days`` dates between the last training date
    and the first test date are dropped, so that no training label reaches into
    the test window: the default label ``close[t+2] / close[t+1] - 1`` looks two
    days ahead, hence ``gap_days=2``. Every row of a date lands on the same
    side, whatever the number of instruments that day.

    This is the honest out-of-sample estimate: each fold is scored on days that
    come after everything it was trained on, as the model would be used. Prefer
    :class:`PurgedKFoldByDate` only when data is too scarce for that.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, >= 1.
    test_days : int or None, default=None
        Dates per test window; ``None`` means ``n_dates // (n_splits + 1)``,
        as ``TimeSeriesSplit``.
    train_days : int or None, default=None
        Training dates of the first fold. With ``expanding=True`` later folds
        keep the same first date and grow; with ``expanding=False`` every fold
        trains on the ``train_days`` dates before its gap (a rolling window).
        ``None`` means every date before the first fold's gap, so that a rolling
        window keeps the length of the first fold.
    expanding : bool, default=True
        Whether the training window grows (anchored) or rolls.
    gap_days : int, default=2
        Dates dropped between each training window and its test window.

    See Also
    --------
    PurgedKFoldByDate : k-fold on date blocks, purged, for scarce data.
    sklearn.model_selection.TimeSeriesSplit : the same layout on rows.

    Notes
    -----
    ``split`` reads the dates from the ``datetime`` level, so ``X`` need not be
    sorted; the row positions it yields are ascending. The estimators of this
    package still require sorted panels, so pass GridSearchCV a sorted ``X``
    (``X.sort_index()``) and the folds are sorted too.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.model_selection import WalkForwardSplit
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.bdate_range("2024-01-01", periods=12), ["SH600000", "SZ000001"]],
    ...     names=["datetime", "instrument"])
    >>> X = pd.DataFrame({"feature": range(24)}, index=index)
    >>> cv = WalkForwardSplit(n_splits=3, test_days=2, gap_days=2)
    >>> for train, test in cv.split(X):
    ...     print(f"train rows {train[0]}..{train[-1]}  test rows {test[0]}..{test[-1]}")
    train rows 0..7  test rows 12..15
    train rows 0..11  test rows 16..19
    train rows 0..15  test rows 20..23
    >>> cv.fold_dates(X)[["train_first", "train_last", "test_first", "test_last"]]  # doctest: +NORMALIZE_WHITESPACE
         train_first train_last test_first  test_last
    fold
    0     2024-01-01 2024-01-04 2024-01-09 2024-01-10
    1     2024-01-01 2024-01-08 2024-01-11 2024-01-12
    2     2024-01-01 2024-01-10 2024-01-15 2024-01-16
    >>> WalkForwardSplit(3, test_days=2, train_days=3, expanding=False).fold_dates(X)[
    ...     ["train_first", "train_last", "train_days"]]  # doctest: +NORMALIZE_WHITESPACE
         train_first train_last  train_days
    fold
    0     2024-01-02 2024-01-04           3
    1     2024-01-04 2024-01-08           3
    2     2024-01-08 2024-01-10           3
    """

    _parameter_constraints: dict = {
        "n_splits": [Interval(Integral, 1, None, closed="left")],
        "test_days": [Interval(Integral, 1, None, closed="left"), None],
        "train_days": [Interval(Integral, 1, None, closed="left"), None],
        "expanding": ["boolean"],
        "gap_days": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_splits: int = 5,
        *,
        test_days: int | None = None,
        train_days: int | None = None,
        expanding: bool = True,
        gap_days: int = 2,
    ) -> None:
        self.n_splits = n_splits
        self.test_days = test_days
        self.train_days = train_days
        self.expanding = expanding
        self.gap_days = gap_days

    def split_days(self, n_dates: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield the training and test day numbers of each fold.

        Parameters
        ----------
        n_dates : int
            Number of sorted unique dates.

        Yields
        ------
        train_days, test_days : ndarray of int
            Day numbers (0 is the first date).

        Raises
        ------
        ValueError
            If the dates do not cover ``n_splits`` test windows, the gap and at
            least one training date (``train_days`` when given).
        """
        n_splits = self.get_n_splits()  # checks every parameter
        gap = int(self.gap_days)
        if self.test_days is None:
            test_days = n_dates // (n_splits + 1)
        else:
            test_days = int(self.test_days)
        train_days = None if self.train_days is None else int(self.train_days)
        first_test = n_dates - n_splits * test_days
        # Dates before the first fold's gap: what the first fold can train on.
        available = first_test - gap
        needed = train_days or 1
        if test_days < 1 or available < needed:
            raise ValueError(
                f"{self!r} needs at least {n_splits * max(test_days, 1) + gap + needed} "
                f"dates ({n_splits} test window(s) of {max(test_days, 1)}, a gap of {gap}, "
                f"{needed} training date(s)), got {n_dates}. Pass fewer splits, a smaller "
                "test_days / train_days / gap_days, or more dates."
            )
        if train_days is None and not self.expanding:
            train_days = available
        first_train = available - train_days if train_days else 0
        for test_start in range(first_test, n_dates, test_days):
            train_end = test_start - gap
            train_start = first_train if self.expanding else train_end - train_days
            yield np.arange(train_start, train_end), np.arange(test_start, test_start + test_days)


class PurgedKFoldByDate(_DateSplitter):
    """K-fold on contiguous blocks of trading days, purged and embargoed.

    The sorted unique dates are cut into ``n_splits`` contiguous blocks (the
    first ``n_dates % n_splits`` one date longer, as ``KFold``); each block is
    the test set once. Training takes every other date except the
    ``purge_days`` dates just before the block, whose labels look into it, and
    the ``embargo_days`` dates just after it, whose features (and, for labels
    over several days, labels) still contain the test days' prices.

    Training on dates *after* the test block is what makes this fold layout
    usable on scarce data (every date is tested once, every fold trains on
    ``(n_splits - 1) / n_splits`` of the data), and also why it is optimistic:
    a model trained on the future of its test days may have learnt regimes it
    could not have known. Use :class:`WalkForwardSplit` for the honest
    out-of-sample estimate, this one to compare candidates when the history is
    short; set ``embargo_days`` to the feature window (Alpha360's 60) to keep
    test prices out of the training features too.

    Parameters
    ----------
    n_splits : int, default=5
        Number of blocks and folds, >= 2.
    purge_days : int, default=2
        Dates dropped from training just before each test block (the label's
        look-ahead: 2 for ``close[t+2] / close[t+1] - 1``).
    embargo_days : int, default=0
        Dates dropped from training just after each test block.

    See Also
    --------
    WalkForwardSplit : forward-only folds, the honest out-of-sample estimate.

    Notes
    -----
    As :class:`WalkForwardSplit`, ``split`` accepts an unsorted panel and yields
    ascending row positions; the training rows of an inner fold are not
    contiguous in time, which the estimators of this package accept (their own
    validation split then holds out the last training days, which may precede
    the test block).

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.model_selection import PurgedKFoldByDate
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.bdate_range("2024-01-01", periods=9), ["SH600000", "SZ000001"]],
    ...     names=["datetime", "instrument"])
    >>> X = pd.DataFrame({"feature": range(18)}, index=index)
    >>> cv = PurgedKFoldByDate(n_splits=3, purge_days=1, embargo_days=1)
    >>> for train_days, test_days in cv.split_days(9):
    ...     print(f"train days {train_days}  test days {test_days}")
    train days [4 5 6 7 8]  test days [0 1 2]
    train days [0 1 7 8]  test days [3 4 5]
    train days [0 1 2 3 4]  test days [6 7 8]
    >>> cv.fold_dates(X)[["test_first", "test_last", "train_days"]]  # doctest: +NORMALIZE_WHITESPACE
          test_first  test_last  train_days
    fold
    0     2024-01-01 2024-01-03           5
    1     2024-01-04 2024-01-08           4
    2     2024-01-09 2024-01-11           5
    """

    _parameter_constraints: dict = {
        "n_splits": [Interval(Integral, 2, None, closed="left")],
        "purge_days": [Interval(Integral, 0, None, closed="left")],
        "embargo_days": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, n_splits: int = 5, *, purge_days: int = 2, embargo_days: int = 0) -> None:
        self.n_splits = n_splits
        self.purge_days = purge_days
        self.embargo_days = embargo_days

    def split_days(self, n_dates: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield the training and test day numbers of each fold.

        Parameters
        ----------
        n_dates : int
            Number of sorted unique dates.

        Yields
        ------
        train_days, test_days : ndarray of int
            Day numbers (0 is the first date).

        Raises
        ------
        ValueError
            If there are fewer dates than folds, or purging and embargoing
            leave a fold without training dates.
        """
        n_splits = self.get_n_splits()  # checks every parameter
        purge, embargo = int(self.purge_days), int(self.embargo_days)
        if n_dates < n_splits:
            raise ValueError(f"{self!r} needs at least {n_splits} dates, got {n_dates}.")
        sizes = np.full(n_splits, n_dates // n_splits)
        sizes[: n_dates % n_splits] += 1
        stops = np.cumsum(sizes)
        days = np.arange(n_dates)
        folds = []
        for start, stop in zip(stops - sizes, stops):
            train = days[(days < start - purge) | (days >= stop + embargo)]
            if len(train) == 0:
                raise ValueError(
                    f"{self!r} leaves no training date for the test block of dates "
                    f"{start}..{stop - 1} out of {n_dates}. Pass more splits, a smaller "
                    "purge_days / embargo_days, or more dates."
                )
            folds.append((train, days[start:stop]))
        # Checked for every fold before the first one is handed out.
        yield from folds
