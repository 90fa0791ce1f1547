"""Qlib's forward-return label."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, validate_params

from .._utils._panel import check_panel_index
from ._alpha360 import _instrument_layout, _sorted_with_sentinel

LABEL_NAME = "LABEL0"


@validate_params(
    {
        "panel": [pd.DataFrame, pd.Series],
        "horizon": [Interval(Integral, 1, None, closed="left")],
        "shift": [Interval(Integral, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def forward_return(panel: pd.DataFrame | pd.Series, horizon: int = 1, shift: int = 1) -> pd.Series:
    """Return over ``horizon`` days starting ``shift`` days ahead, per instrument.

    ``LABEL0[t] = close[t + shift + horizon] / close[t + shift] - 1``, where
    ``t + k`` is the instrument's ``k``-th next row (its own next trading day in
    the panel). The defaults give Qlib's Alpha360 label
    ``Ref($close, -2) / Ref($close, -1) - 1``: the return from the next day's
    close to the close the day after, since a signal computed after day ``t``'s
    close can only be traded at day ``t + 1``.

    Parameters
    ----------
    panel : pandas.DataFrame or pandas.Series
        Panel indexed by ``(datetime, instrument)``: a frame with a ``close``
        column, or the close prices themselves as a Series.
    horizon : int, default=1
        Holding period in trading days.
    shift : int, default=1
        Days between the row and the start of the holding period.

    Returns
    -------
    label : pandas.Series of float32
        Named ``"LABEL0"``, with the panel's index. NaN for each instrument's
        last ``shift + horizon`` rows, where the future is unknown.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.preprocessing import forward_return
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.date_range("2020-01-01", periods=4), ["SH600000"]],
    ...     names=["datetime", "instrument"])
    >>> close = pd.Series([10.0, 8.0, 10.0, 15.0], index=index)
    >>> forward_return(close).tolist()
    [0.25, 0.5, nan, nan]
    """
    index = check_panel_index(panel, name="panel")
    close = _close_prices(panel)
    order, rank, _, remaining = _instrument_layout(index)
    sorted_close = _sorted_with_sentinel(close, order)

    def ahead(k):
        # The instrument's k-th next row, or the NaN sentinel past its last row.
        src = rank + k
        src[remaining < k] = len(close)
        return sorted_close[src]

    with np.errstate(divide="ignore", invalid="ignore"):
        # float32 throughout, as Qlib evaluates its expressions.
        label = ahead(shift + horizon) / ahead(shift) - np.float32(1)
    return pd.Series(label, index=index, name=LABEL_NAME, copy=False)


def _close_prices(panel) -> np.ndarray:
    if isinstance(panel, pd.DataFrame):
        if "close" not in panel.columns:
            raise ValueError(
                "panel has no 'close' column; forward_return needs close prices. "
                f"Columns found: {list(panel.columns)}."
            )
        panel = panel["close"]
    dtype = panel.dtype
    if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        raise ValueError(f"forward_return needs numeric close prices, got dtype {dtype}.")
    return panel.to_numpy(dtype=np.float32, na_value=np.nan)
