"""Qlib's Alpha360 feature layout built from an OHLCV panel.

Qlib's ``Alpha360`` handler (``qlib/contrib/data/handler.py``) describes every row
by the last 60 days of six raw fields, each divided by the day's own close (or,
for volume, by the day's own volume)::

    CLOSE59 .. CLOSE0, OPEN59 .. OPEN0, HIGH59 .. HIGH0,
    LOW59 .. LOW0, VWAP59 .. VWAP0, VOLUME59 .. VOLUME0

    FIELD{i} = Ref($field, i) / $close             (price fields)
    VOLUME{i} = Ref($volume, i) / ($volume + 1e-12)

``Ref($x, i)`` is the value ``i`` rows earlier in the instrument's own series, so
a lag steps over the instrument's own trading days, not over the calendar.

Building all ``d_feat * window`` columns one ``groupby().shift()`` at a time
costs minutes on a CSI 300 panel. Here every row instead gets the position of
its instrument's series in an instrument-major ordering of the panel; the
``window`` lags of a row are then the ``window`` preceding positions, gathered
with one ``np.take`` per field and block of rows straight into a preallocated
float32 output. Lags before the series starts point to a NaN sentinel.
"""

from __future__ import annotations

from numbers import Integral
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from .._utils._panel import check_panel_index, keep_panel

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._utils._typing import ArrayLike

# Qlib's field order; the price fields are divided by close, volume by volume.
ALPHA360_FIELDS = ("close", "open", "high", "low", "vwap", "volume")
PRICE_FIELDS = ("close", "open", "high", "low", "vwap")
# Qlib adds it to the volume denominator so that zero-volume days do not divide by zero.
VOLUME_EPS = np.float32(1e-12)
# Rows gathered per block: bounds the int64 index block to ~16 MB for window=60.
_BLOCK_ROWS = 1 << 15


def _instrument_layout(index: pd.MultiIndex):
    """Place every panel row in its instrument's own date-ordered series.

    Parameters
    ----------
    index : pandas.MultiIndex
        A validated panel index (sorted by datetime, then instrument).

    Returns
    -------
    order : ndarray of int64, shape (n_rows,)
        Row numbers regrouped instrument by instrument, each instrument's rows
        in date order (a stable sort of the instrument codes).
    rank : ndarray of int64, shape (n_rows,)
        Where each row sits in ``order`` (the inverse permutation).
    pos : ndarray of int64, shape (n_rows,)
        How many earlier rows the row's instrument has: 0 on its first day.
    remaining : ndarray of int64, shape (n_rows,)
        How many later rows the row's instrument has: 0 on its last day.
    """
    codes = np.asarray(index.codes[1], dtype=np.int64)
    n = len(codes)
    # A stable sort keeps each instrument's rows in the panel's date order.
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sizes = np.diff(np.r_[starts, n])
    steps = np.arange(n, dtype=np.int64)
    pos_sorted = steps - np.repeat(starts, sizes)
    remaining_sorted = np.repeat(starts + sizes - 1, sizes) - steps
    rank = np.empty(n, dtype=np.int64)
    rank[order] = steps
    return order, rank, pos_sorted[rank], remaining_sorted[rank]


def _sorted_with_sentinel(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``values`` in instrument-major order plus a trailing NaN for missing lags."""
    out = np.empty(len(order) + 1, dtype=np.float32)
    np.take(values, order, out=out[:-1])
    out[-1] = np.nan
    return out


def alpha360_matrix(columns, fields, window, index):
    """Compute the Alpha360 matrix of a panel.

    Parameters
    ----------
    columns : dict of str to ndarray of float32, shape (n_rows,)
        The panel's raw fields (``close`` and the requested ones), in row order.
    fields : sequence of str
        Fields to describe, in output order.
    window : int
        Number of days per field (lags ``window - 1`` .. 0).
    index : pandas.MultiIndex
        The validated panel index the columns belong to.

    Returns
    -------
    out : ndarray of float32, shape (n_rows, len(fields) * window)
        Feature-major, oldest lag first: ``FIELD{window-1} .. FIELD0`` per field.
    """
    n = len(index)
    order, rank, pos, _ = _instrument_layout(index)
    lags = np.arange(window - 1, -1, -1, dtype=np.int64)
    sources = {f: _sorted_with_sentinel(columns[f], order) for f in fields}
    denominators = {f: _denominator(columns, f) for f in fields}
    out = np.empty((n, len(fields) * window), dtype=np.float32)
    gathered = np.empty((min(n, _BLOCK_ROWS), window), dtype=np.float32)
    # Qlib divides silently: 0/0 and x/0 become NaN and inf, as in its expressions.
    with np.errstate(divide="ignore", invalid="ignore"):
        for start in range(0, n, _BLOCK_ROWS):
            stop = min(start + _BLOCK_ROWS, n)
            # Lag i of a row is i places before it in the instrument-major order,
            # unless the instrument has fewer than i earlier rows (-> NaN sentinel).
            src = rank[start:stop, None] - lags
            src[pos[start:stop, None] < lags] = n
            block = gathered[: stop - start]
            for k, field in enumerate(fields):
                np.take(sources[field], src, out=block, mode="clip")
                np.divide(
                    block,
                    denominators[field][start:stop, None],
                    out=out[start:stop, k * window : (k + 1) * window],
                )
    return out


def _denominator(columns, field):
    if field == "volume":
        # float32 + float32 as in Qlib, so 1e-12 only matters when volume is 0.
        return columns["volume"] + VOLUME_EPS
    return columns["close"]


def _check_ohlcv_panel(X):
    """Validate that ``X`` is a panel DataFrame and return its index."""
    if isinstance(X, pd.Series):
        raise TypeError(
            "Alpha360 needs a DataFrame with one column per raw field "
            f"({', '.join(ALPHA360_FIELDS)}), got a Series."
        )
    return check_panel_index(X)


def _check_numeric(X: pd.DataFrame, names) -> None:
    for name in names:
        dtype = X[name].dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            raise ValueError(
                f"Alpha360 needs numeric field columns, but column {name!r} has dtype {dtype}."
            )


def _field_arrays(X: pd.DataFrame, names) -> dict[str, np.ndarray]:
    """Each needed column as a float32 array (a view when it already is float32)."""
    _check_numeric(X, names)
    arrays = {name: X[name].to_numpy(dtype=np.float32, na_value=np.nan) for name in names}
    for name, values in arrays.items():
        if np.isinf(values).any():
            raise ValueError(
                f"Column {name!r} holds infinite values; Alpha360 would turn them into "
                "meaningless ratios. Replace them with NaN (missing) first, e.g. "
                "panel.replace([np.inf, -np.inf], np.nan)."
            )
    return arrays


class Alpha360(TransformerMixin, BaseEstimator):
    """Build Qlib's Alpha360 features from a raw OHLCV panel.

    For each requested field, in Qlib's order ``close, open, high, low, vwap,
    volume``, the output holds ``window`` columns ``FIELD{window-1} .. FIELD0``:
    the field ``i`` trading days earlier divided by the row's close (prices) or
    by the row's ``volume + 1e-12`` (volume). ``CLOSE0`` is therefore 1. Lags
    step over the instrument's own rows, i.e. its own trading days in the panel,
    as Qlib's ``Ref`` does; lags before an instrument's first row are NaN.

    The transform is stateless: :meth:`fit` only checks the columns and fixes
    the fields, so a fitted transformer can be applied to any panel with the
    same columns.

    Parameters
    ----------
    window : int, default=60
        Days of history per field (Qlib's Alpha360 uses 60, giving 360 columns
        with six fields).
    fields : sequence of str or None, default=None
        Raw fields to describe, among ``close, open, high, low, vwap, volume``
        (lowercase column names of the input), in output order. ``None`` takes
        every one of them present in the input, in Qlib's order; a panel
        without ``vwap`` thus gives 5 fields.

    Attributes
    ----------
    fields_ : list of str
        The fields described, in output order.
    d_feat_ : int
        Number of fields (``len(fields_)``), the model's ``d_feat``.
    seq_len_ : int
        Days per field (``window``), the model's sequence length.
    n_features_in_ : int
        Number of columns seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the columns seen during ``fit``.

    See Also
    --------
    RobustZScoreNorm : Qlib's usual next step on these features.
    forward_return : Qlib's matching label.

    Notes
    -----
    The input must follow the panel convention: a DataFrame indexed by a sorted
    ``(datetime, instrument)`` MultiIndex without duplicates. The output is a
    float32 DataFrame of shape ``(n_rows, d_feat_ * seq_len_)`` on the input's
    index, in its row order, with Qlib's column names (``CLOSE59`` ...
    ``VOLUME0``), whatever the ``set_output`` setting: the day-wise steps after
    it need the panel index.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.preprocessing import Alpha360
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.date_range("2020-01-01", periods=3), ["SH600000"]],
    ...     names=["datetime", "instrument"])
    >>> panel = pd.DataFrame({"close": [10.0, 12.5, 10.0], "volume": [1e6, 2e6, 4e6]},
    ...                      index=index)
    >>> alpha = Alpha360(window=2).fit(panel)
    >>> alpha.get_feature_names_out().tolist()
    ['CLOSE1', 'CLOSE0', 'VOLUME1', 'VOLUME0']
    >>> alpha.transform(panel)
                           CLOSE1  CLOSE0  VOLUME1  VOLUME0
    datetime   instrument
    2020-01-01 SH600000       NaN     1.0      NaN      1.0
    2020-01-02 SH600000      0.80     1.0      0.5      1.0
    2020-01-03 SH600000      1.25     1.0      0.5      1.0
    """

    _parameter_constraints: dict = {
        "window": [Interval(Integral, 1, None, closed="left")],
        "fields": [None, "array-like"],
    }

    def __init__(self, window: int = 60, fields: Sequence[str] | None = None) -> None:
        self.window = window
        self.fields = fields

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: pd.DataFrame, y: object = None) -> Alpha360:
        """Check the panel's columns and fix the fields to describe.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_rows, n_columns)
            OHLCV panel indexed by ``(datetime, instrument)``.
        y : Ignored
            Not used, present here for API consistency by convention.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        _check_ohlcv_panel(X)
        validate_data(self, X, skip_check_array=True)
        fields = self._resolve_fields(X)
        _check_numeric(X, self._needed_columns(fields))
        self.fields_ = fields
        self.d_feat_ = len(fields)
        self.seq_len_ = self.window
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Build the Alpha360 features of a panel.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_rows, n_columns)
            OHLCV panel with the columns seen in :meth:`fit`.

        Returns
        -------
        X_tr : DataFrame of float32, shape (n_rows, d_feat_ * seq_len_)
            The features on the panel's index, in the input's row order.
        """
        check_is_fitted(self)
        index = _check_ohlcv_panel(X)
        validate_data(self, X, reset=False, skip_check_array=True)
        columns = _field_arrays(X, self._needed_columns(self.fields_))
        features = alpha360_matrix(columns, self.fields_, self.window, index)
        return keep_panel(X, features, self.get_feature_names_out())

    def get_feature_names_out(self, input_features: ArrayLike | None = None) -> np.ndarray:
        """Qlib's names of the output columns.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the columns seen in :meth:`fit`.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``FIELD{window-1}`` .. ``FIELD0`` for each field, uppercase.
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features)
        lags = range(self.window - 1, -1, -1)
        names = [f"{field.upper()}{lag}" for field in self.fields_ for lag in lags]
        return np.asarray(names, dtype=object)

    def _resolve_fields(self, X):
        present = set(X.columns)
        if "close" not in present:
            raise ValueError(
                "X has no 'close' column: Alpha360 divides every price field by the "
                f"day's close. Columns found: {list(X.columns)}."
            )
        if self.fields is None:
            return [f for f in ALPHA360_FIELDS if f in present]
        fields = list(self.fields)
        unknown = [f for f in fields if f not in ALPHA360_FIELDS]
        if unknown or not fields or len(set(fields)) != len(fields):
            raise ValueError(
                f"fields must be distinct names among {ALPHA360_FIELDS}, got {self.fields!r}."
            )
        missing = [f for f in fields if f not in present]
        if missing:
            raise ValueError(f"X lacks the requested field column(s) {missing}.")
        return fields

    @staticmethod
    def _needed_columns(fields):
        return ["close", *(f for f in fields if f != "close")]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
