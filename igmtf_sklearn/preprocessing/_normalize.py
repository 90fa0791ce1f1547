"""Qlib's column-wise feature processors: ``RobustZScoreNorm`` and ``Fillna``.

Both work on any 2-D numeric input (arrays or frames) and need no panel
index, so they are plain scikit-learn transformers. They keep float32 input in
float32, as Qlib's processors do, because an Alpha360 matrix over a CSI 300
history is ~1.4 GB in float32 and twice that in float64.
"""

from __future__ import annotations

from numbers import Real
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils.validation import FLOAT_DTYPES, check_is_fitted, validate_data

from .._utils._panel import keep_panel

if TYPE_CHECKING:
    import pandas as pd

    from .._utils._typing import ArrayLike

# Qlib's constants: EPS keeps a zero MAD from dividing by zero, and 1.4826 makes
# the MAD of normally distributed data estimate its standard deviation.
EPS = 1e-12
MAD_TO_STD = 1.4826
CLIP = 3
# Columns per block when computing medians: the block is copied as contiguous
# rows (~70 MB for 1.2 M rows) instead of taking |X - median| of all of X at once.
_MEDIAN_BLOCK_COLS = 16
# Rows per tile when transposing, and per block when filling NaN: keeps the
# strided reads in cache and the NaN mask small.
_TILE_ROWS = 1 << 13
_FILL_BLOCK_ROWS = 1 << 16


def _transpose_into(block, out):
    """Copy the columns of ``block`` into the rows of ``out``, tile by tile.

    Reading a column of a C-ordered matrix strides over whole rows; copying
    thin tiles keeps those reads in cache (3x faster than one big transpose).
    """
    for start in range(0, block.shape[0], _TILE_ROWS):
        stop = start + _TILE_ROWS
        out[:, start:stop] = block[start:stop].T


def _nanmedian_rows(rows):
    """``np.nanmedian(rows, axis=1)``, partitioning each row in place.

    NaN sorts after every number, so the median of a row's ``m`` valid values
    is found by partitioning at the middle of the first ``m`` places: no copy of
    the valid values, which costs as much as the partition itself. The middle
    pair is averaged with ``mean`` as ``np.median`` does, so the numbers match.
    """
    n_valid = rows.shape[1] - np.count_nonzero(np.isnan(rows), axis=1)
    medians = np.full(len(rows), np.nan, dtype=rows.dtype)
    for i, m in enumerate(n_valid):
        if m == 0:
            continue  # an all-NaN column has no median; it stays NaN, as in Qlib
        kth = [m // 2] if m % 2 else [m // 2 - 1, m // 2]
        rows[i].partition(kth)
        medians[i] = rows[i, kth].mean()
    return medians


def _nanmedian_columns(X):
    """Per-column median and MAD of ``X``, ignoring NaN, block of columns by block.

    The same numbers as Qlib's ``np.nanmedian(X, axis=0)`` and
    ``np.nanmedian(np.abs(X - median), axis=0)`` in X's dtype, but each column is
    reduced as a contiguous row and the deviations never exist for all of X.
    """
    n_rows, n_cols = X.shape
    center = np.empty(n_cols, dtype=X.dtype)
    mad = np.empty(n_cols, dtype=X.dtype)
    buffer = np.empty((min(n_cols, _MEDIAN_BLOCK_COLS), n_rows), dtype=X.dtype)
    for start in range(0, n_cols, _MEDIAN_BLOCK_COLS):
        cols = slice(start, min(start + _MEDIAN_BLOCK_COLS, n_cols))
        rows = buffer[: cols.stop - cols.start]
        _transpose_into(X[:, cols], rows)
        center[cols] = _nanmedian_rows(rows)
        # The partition reordered the rows; the MAD does not depend on order.
        np.subtract(rows, center[cols, None], out=rows)
        np.abs(rows, out=rows)
        mad[cols] = _nanmedian_rows(rows)
    return center, mad


class RobustZScoreNorm(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standardize features with their median and median absolute deviation.

    Qlib's ``RobustZScoreNorm`` processor: :meth:`fit` learns, per column and
    ignoring NaN, ``center_ = median(X)`` and
    ``scale_ = (median(|X - center_|) + 1e-12) * 1.4826``; :meth:`transform`
    returns ``(X - center_) / scale_``, clipped to ``[-3, 3]`` when
    ``clip_outlier``. The arithmetic is Qlib's, in the input's float precision,
    so a float32 Alpha360 matrix gives Qlib's numbers bit for bit.

    Parameters
    ----------
    clip_outlier : bool, default=True
        Clip the standardized values to ``[-3, 3]``.
    copy : bool, default=True
        If False, try to standardize in place. This avoids a second copy of a
        large feature matrix, but only works on a writeable float NumPy array;
        otherwise a copy is still made.

    Attributes
    ----------
    center_ : ndarray of shape (n_features,)
        Median of each feature in the fit data (Qlib's ``mean_train``); NaN for
        an all-NaN feature.
    scale_ : ndarray of shape (n_features,)
        ``(MAD + 1e-12) * 1.4826`` of each feature (Qlib's ``std_train``).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.preprocessing.RobustScaler : Scales by the interquartile range.
    Fillna : Qlib's next step, filling the NaN this transformer keeps.

    Notes
    -----
    NaN is ignored in :meth:`fit` and stays NaN in :meth:`transform`. Fit it on
    the training period only: medians taken over the test period leak its
    scale into training.

    Examples
    --------
    >>> import numpy as np
    >>> from igmtf_sklearn.preprocessing import RobustZScoreNorm
    >>> X = np.array([[1.0], [2.0], [3.0], [100.0], [np.nan]])
    >>> norm = RobustZScoreNorm().fit(X)
    >>> norm.center_, norm.scale_
    (array([2.5]), array([1.4826]))
    >>> norm.transform(X).ravel().round(3)
    array([-1.012, -0.337,  0.337,  3.   ,    nan])
    """

    _parameter_constraints: dict = {
        "clip_outlier": ["boolean"],
        "copy": ["boolean"],
    }

    def __init__(self, clip_outlier: bool = True, *, copy: bool = True) -> None:
        self.clip_outlier = clip_outlier
        self.copy = copy

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: object = None) -> RobustZScoreNorm:
        """Compute the median and MAD of each feature.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data to learn the statistics from. NaN is ignored.
        y : Ignored
            Not used, present here for API consistency by convention.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        X = validate_data(self, X, dtype=FLOAT_DTYPES, ensure_all_finite="allow-nan")
        center, mad = _nanmedian_columns(X)
        # Qlib's order of operations, in X's precision: (MAD + EPS) * 1.4826.
        mad += EPS
        mad *= MAD_TO_STD
        self.center_ = center
        self.scale_ = mad
        return self

    def transform(self, X: ArrayLike) -> np.ndarray | pd.DataFrame:
        """Standardize the features with the fitted median and MAD.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data to standardize.

        Returns
        -------
        X_tr : ndarray or DataFrame of shape (n_samples, n_features)
            Standardized data, float32 for float32 input; NaN stays NaN. A
            ``(datetime, instrument)`` panel frame comes back as a frame.
        """
        check_is_fitted(self)
        X_in = X
        X = validate_data(
            self,
            X,
            copy=self.copy,
            dtype=FLOAT_DTYPES,
            force_writeable=True,
            reset=False,
            ensure_all_finite="allow-nan",
        )
        # In place, to hold a single copy of a matrix that may weigh gigabytes.
        X -= self.center_
        X /= self.scale_
        if self.clip_outlier:
            np.clip(X, -CLIP, CLIP, out=X)
        return keep_panel(X_in, X, self.get_feature_names_out())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class Fillna(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Replace NaN with a constant.

    Qlib's ``Fillna`` processor, usually run after :class:`RobustZScoreNorm`
    so that the filled value (0, the median after standardization) does not
    bias the fitted statistics. It learns nothing from the data.

    Parameters
    ----------
    fill_value : float, default=0
        Value written where the input is NaN.
    copy : bool, default=True
        If False, try to fill in place; only works on a writeable float NumPy
        array, otherwise a copy is still made.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.impute.SimpleImputer : Fills with learned statistics instead.

    Examples
    --------
    >>> import numpy as np
    >>> from igmtf_sklearn.preprocessing import Fillna
    >>> Fillna().fit_transform(np.array([[1.0, np.nan], [np.nan, 2.0]]))
    array([[1., 0.],
           [0., 2.]])
    """

    _parameter_constraints: dict = {
        "fill_value": [Real],
        "copy": ["boolean"],
    }

    def __init__(self, fill_value: float = 0, *, copy: bool = True) -> None:
        self.fill_value = fill_value
        self.copy = copy

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: object = None) -> Fillna:
        """Check the input; nothing is learned.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.
        y : Ignored
            Not used, present here for API consistency by convention.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        validate_data(self, X, dtype=FLOAT_DTYPES, ensure_all_finite="allow-nan")
        return self

    def transform(self, X: ArrayLike) -> np.ndarray | pd.DataFrame:
        """Replace NaN with ``fill_value``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data to fill.

        Returns
        -------
        X_tr : ndarray or DataFrame of shape (n_samples, n_features)
            ``X`` without NaN, in the input's float precision. A
            ``(datetime, instrument)`` panel frame comes back as a frame.
        """
        check_is_fitted(self)
        X_in = X
        X = validate_data(
            self,
            X,
            copy=self.copy,
            dtype=FLOAT_DTYPES,
            force_writeable=True,
            reset=False,
            ensure_all_finite="allow-nan",
        )
        # Block by block so that the NaN mask stays small next to X.
        for start in range(0, X.shape[0], _FILL_BLOCK_ROWS):
            block = X[start : start + _FILL_BLOCK_ROWS]
            np.copyto(block, self.fill_value, where=np.isnan(block))
        return keep_panel(X_in, X, self.get_feature_names_out())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
