"""Qlib's cross-sectional (per-day) normalizers, ``CSZScoreNorm`` and ``CSRankNorm``,
and ``CSGaussRankNorm``, the day's ranks mapped to normal quantiles.

Each day's rows are normalized against the same day's other instruments, so
these transformers need the panel index and learn nothing from the fit data.
Qlib uses them mostly on the label (``CSRankNorm`` in its IGMTF config), which
is why a Series goes in and out as a Series.

The per-day arithmetic lives in ``_day_blocks``.
"""

from __future__ import annotations

from numbers import Real
from typing import TYPE_CHECKING

import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import validate_data

from ._day_blocks import (
    check_numeric_panel,
    gauss_rank_days,
    normalize_panel,
    rank_days,
    zscore_days,
)

if TYPE_CHECKING:
    from typing import TypeVar

    PandasObj = TypeVar("PandasObj", pd.Series, pd.DataFrame)


@validate_params({"obj": ["array-like"]}, prefer_skip_nested_validation=True)
def cs_zscore_norm(obj: PandasObj) -> PandasObj:
    """Z-score every column within each day, as Qlib's ``CSZScoreNorm``.

    Parameters
    ----------
    obj : pandas.DataFrame or pandas.Series
        Numeric panel indexed by ``(datetime, instrument)``.

    Returns
    -------
    normalized : pandas.DataFrame or pandas.Series
        Same type, index and names as ``obj``: ``(x - mean) / std`` over the
        day's non-NaN values, ``std`` with ``ddof=1`` as in pandas. NaN stays
        NaN; a day with fewer than two values gives NaN. float32 input stays
        float32.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.preprocessing import cs_zscore_norm
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.date_range("2020-01-01", periods=1), ["A", "B", "C"]],
    ...     names=["datetime", "instrument"])
    >>> cs_zscore_norm(pd.Series([1.0, 2.0, 3.0], index=index)).tolist()
    [-1.0, 0.0, 1.0]
    """
    return normalize_panel(obj, zscore_days, check_numeric_panel(obj, "obj"))


@validate_params({"obj": ["array-like"]}, prefer_skip_nested_validation=True)
def cs_rank_norm(obj: PandasObj) -> PandasObj:
    """Rank every column within each day, as Qlib's ``CSRankNorm``.

    Parameters
    ----------
    obj : pandas.DataFrame or pandas.Series
        Numeric panel indexed by ``(datetime, instrument)``.

    Returns
    -------
    normalized : pandas.DataFrame or pandas.Series
        Same type, index and names as ``obj``:
        ``(rank(pct=True) - 0.5) * 3.46`` over the day's non-NaN values, ties
        getting their average rank. NaN stays NaN. float32 input stays float32.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.preprocessing import cs_rank_norm
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.date_range("2020-01-01", periods=1), ["A", "B", "C", "D"]],
    ...     names=["datetime", "instrument"])
    >>> cs_rank_norm(pd.Series([0.3, -0.1, 0.2, 0.1], index=index)).tolist()
    [1.73, -0.865, 0.865, 0.0]
    """
    return normalize_panel(obj, rank_days, check_numeric_panel(obj, "obj"))


@validate_params({"obj": ["array-like"]}, prefer_skip_nested_validation=True)
def cs_gauss_rank_norm(obj: PandasObj) -> PandasObj:
    """Map every column's ranks within each day to normal quantiles.

    Parameters
    ----------
    obj : pandas.DataFrame or pandas.Series
        Numeric panel indexed by ``(datetime, instrument)``.

    Returns
    -------
    normalized : pandas.DataFrame or pandas.Series
        Same type, index and names as ``obj``: ``Phi^-1((rank - 0.5) / n)``
        over the day's ``n`` non-NaN values, ties getting their average rank.
        NaN stays NaN. float32 input stays float32.

    See Also
    --------
    cs_rank_norm : The same order, spread uniformly (Qlib's ``CSRankNorm``).

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.preprocessing import cs_gauss_rank_norm
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.date_range("2020-01-01", periods=1), ["A", "B", "C", "D"]],
    ...     names=["datetime", "instrument"])
    >>> cs_gauss_rank_norm(pd.Series([0.3, -0.1, 0.2, 0.1], index=index)).round(3).tolist()
    [1.15, -1.15, 0.319, -0.319]
    """
    return normalize_panel(obj, gauss_rank_days, check_numeric_panel(obj, "obj"))


class _CrossSectionalNorm(
    OneToOneFeatureMixin, TransformerMixin, BaseEstimator, auto_wrap_output_keys=None
):
    """Shared fit/transform of the stateless per-day normalizers.

    Output wrapping is off (``auto_wrap_output_keys=None``): sklearn's pandas
    wrapper would turn a Series into a DataFrame.
    """

    _day_func = None  # per-day block function of the subclass
    # No parameter: nothing to check, but fit goes through scikit-learn's validation
    # context as every estimator of the package does.
    _parameter_constraints: dict = {}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: PandasObj, y: object = None) -> _CrossSectionalNorm:
        """Check that ``X`` is a numeric panel; nothing is learned.

        Parameters
        ----------
        X : pandas.DataFrame or pandas.Series
            Numeric panel indexed by ``(datetime, instrument)``.
        y : Ignored
            Not used, present here for API consistency by convention.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        check_numeric_panel(X, "X")
        validate_data(self, _as_frame(X), skip_check_array=True)
        return self

    def transform(self, X: PandasObj) -> PandasObj:
        """Normalize each day's cross-section.

        Parameters
        ----------
        X : pandas.DataFrame or pandas.Series
            Numeric panel indexed by ``(datetime, instrument)``, with the
            columns seen in :meth:`fit`.

        Returns
        -------
        X_tr : pandas.DataFrame or pandas.Series
            Same type, index and names as ``X``.
        """
        index = check_numeric_panel(X, "X")
        if hasattr(self, "n_features_in_"):
            # Stateless, so transform also works unfitted; once fitted, columns must match.
            validate_data(self, _as_frame(X), reset=False, skip_check_array=True)
        return self._finish(normalize_panel(X, self._day_func, index))

    def _finish(self, normalized):
        """Hook for a subclass's last step on the normalized panel (CSZScoreNorm's clip)."""
        return normalized

    def set_output(self, *, transform: str | None = None) -> _CrossSectionalNorm:
        """Accept pandas output; the output always is the input's pandas type.

        The per-day normalizers need a panel index, so they take and return
        pandas objects whatever the configuration; this method exists so that
        ``Pipeline.set_output(transform="pandas")`` works.

        Parameters
        ----------
        transform : {"default", "pandas"} or None, default=None
            Requested output; only pandas is produced.

        Returns
        -------
        self : estimator instance
            Estimator instance.
        """
        if transform not in (None, "default", "pandas"):
            raise ValueError(
                f"{type(self).__name__} returns pandas objects; transform={transform!r} "
                "is not supported."
            )
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.one_d_array = True
        tags.requires_fit = False
        return tags


def _as_frame(X):
    return X.to_frame() if isinstance(X, pd.Series) else X


class CSZScoreNorm(_CrossSectionalNorm, auto_wrap_output_keys=None):
    """Z-score each day's cross-section, as Qlib's ``CSZScoreNorm``.

    For every day and column, ``(x - mean) / std`` over that day's non-NaN
    values (``std`` with ``ddof=1``, pandas' default, as Qlib). NaN stays NaN.
    Stateless: :meth:`fit` only checks the input and records its columns, and
    :meth:`transform` also works unfitted.

    Input and output are panels (pandas DataFrame or Series indexed by
    ``(datetime, instrument)``); the output has the input's type, index and
    names, so a label Series stays a Series.

    Parameters
    ----------
    clip : float or None, default=None
        Clip the z-scores to ``[-clip, clip]``, as ``RobustZScoreNorm(clip_outlier=True)``
        clips to 3; None (Qlib's ``CSZScoreNorm``) does not clip.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen during ``fit`` (1 for a Series).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the columns seen during ``fit``, when all are strings.

    See Also
    --------
    cs_zscore_norm : The same as a function.
    CSRankNorm : Rank-based and robust to outliers.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.preprocessing import CSZScoreNorm
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.date_range("2020-01-01", periods=2), ["A", "B", "C"]],
    ...     names=["datetime", "instrument"])
    >>> X = pd.DataFrame({"f": [1.0, 2.0, 3.0, 10.0, 30.0, 20.0]}, index=index)
    >>> CSZScoreNorm().fit_transform(X)["f"].tolist()
    [-1.0, 0.0, 1.0, -1.0, 1.0, 0.0]
    >>> CSZScoreNorm(clip=0.5).fit_transform(X)["f"].tolist()
    [-0.5, 0.0, 0.5, -0.5, 0.5, 0.0]
    """

    _day_func = staticmethod(zscore_days)
    _parameter_constraints: dict = {"clip": [Interval(Real, 0, None, closed="neither"), None]}

    def __init__(self, clip: float | None = None) -> None:
        self.clip = clip

    def _finish(self, scores):
        return scores if self.clip is None else scores.clip(-self.clip, self.clip)


class CSRankNorm(_CrossSectionalNorm, auto_wrap_output_keys=None):
    """Rank-normalize each day's cross-section, as Qlib's ``CSRankNorm``.

    For every day and column, ``(rank(pct=True) - 0.5) * 3.46`` over that day's
    non-NaN values, ties sharing their average rank: a uniform spread of mean 0
    and standard deviation ~1. NaN stays NaN. Stateless: :meth:`fit` only
    checks the input and records its columns, and :meth:`transform` also works
    unfitted. Qlib's IGMTF benchmark applies it to the training label.

    Input and output are panels (pandas DataFrame or Series indexed by
    ``(datetime, instrument)``); the output has the input's type, index and
    names, so a label Series stays a Series.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen during ``fit`` (1 for a Series).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the columns seen during ``fit``, when all are strings.

    See Also
    --------
    cs_rank_norm : The same as a function.
    CSZScoreNorm : Mean/std-based.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.preprocessing import CSRankNorm
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.date_range("2020-01-01", periods=2), ["A", "B"]],
    ...     names=["datetime", "instrument"])
    >>> label = pd.Series([0.1, -0.2, 0.0, 0.3], index=index, name="LABEL0")
    >>> CSRankNorm().fit_transform(label).tolist()
    [1.73, 0.0, 0.0, 1.73]
    """

    _day_func = staticmethod(rank_days)


class CSGaussRankNorm(_CrossSectionalNorm, auto_wrap_output_keys=None):
    """Map each day's ranks to normal quantiles (a rank-based inverse normal transform).

    For every day and column, ``Phi^-1((rank - 0.5) / n)`` over that day's
    ``n`` non-NaN values, ties sharing their average rank. The order of the
    day is :class:`CSRankNorm`'s, and so is its robustness to outliers: only
    ranks are read. The spread is a standard normal's instead of a uniform
    one's, so the day's first and last few values stand out (up to about
    +-2.9 on a day of 300) where :class:`CSRankNorm` caps them at +-1.73. As a
    training label, it asks a model to single out the day's extremes without
    letting one outlier's size dominate the loss. NaN stays NaN. Stateless:
    :meth:`fit` only checks the input and records its columns, and
    :meth:`transform` also works unfitted. Not in Qlib.

    Input and output are panels (pandas DataFrame or Series indexed by
    ``(datetime, instrument)``); the output has the input's type, index and
    names, so a label Series stays a Series.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen during ``fit`` (1 for a Series).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the columns seen during ``fit``, when all are strings.

    See Also
    --------
    cs_gauss_rank_norm : The same as a function.
    CSRankNorm : The same order, spread uniformly.
    CSZScoreNorm : Mean/std-based: keeps the values' own tails.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.preprocessing import CSGaussRankNorm
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.date_range("2020-01-01", periods=2), ["A", "B"]],
    ...     names=["datetime", "instrument"])
    >>> label = pd.Series([0.1, -0.2, 0.0, 0.3], index=index, name="LABEL0")
    >>> CSGaussRankNorm().fit_transform(label).round(3).tolist()
    [0.674, -0.674, -0.674, 0.674]
    """

    _day_func = staticmethod(gauss_rank_days)
