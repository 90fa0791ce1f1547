"""Per-day kernels of the cross-sectional normalizers, on padded blocks of whole days.

Rather than a ``groupby`` over days, whole days are laid out as a padded
``(days, rows of the day, columns)`` block, NaN-padded, and reduced along the
middle axis, block of days by block of days to bound memory on wide frames.
Each kernel (``zscore_days``, ``rank_days``, ``gauss_rank_days``) maps such a block
to one of the same shape; ``normalize_panel`` applies one to a checked panel.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.special import ndtri

from .._utils._panel import check_panel_index, day_slices

# Qlib's CSRankNorm: (pct_rank - 0.5) * 3.46 has about unit variance, since a
# uniform variable on [0, 1] has standard deviation 1 / sqrt(12) = 1 / 3.46.
RANK_CENTER = 0.5
RANK_SCALE = 3.46
# Padded cells (days x rows x columns) per block: ~16 MB of float64.
BLOCK_CELLS = 1 << 21


def check_numeric_panel(obj, name):
    """Validate a numeric panel (DataFrame or Series) and return its index."""
    index = check_panel_index(obj, name=name)
    dtypes = obj.dtypes if isinstance(obj, pd.DataFrame) else pd.Series({obj.name: obj.dtype})
    bad = {c: str(t) for c, t in dtypes.items() if not _is_numeric(t)}
    if bad:
        raise ValueError(f"{name} must be numeric; non-numeric column(s): {bad}.")
    return index


def normalize_panel(obj, day_func, index):
    """Apply a per-day normalization to a checked panel; return the same pandas type."""
    frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
    # float32 stays float32 (Qlib's dtype); anything else is computed as float64.
    dtype = np.float32 if all(t == np.float32 for t in frame.dtypes) else np.float64
    values = frame.to_numpy(dtype=dtype, na_value=np.nan)
    return _like(obj, _apply_by_day(values, index, day_func))


def _is_numeric(dtype):
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _like(obj, values):
    """Wrap ``values`` in the same pandas type, index and columns as ``obj``."""
    if isinstance(obj, pd.Series):
        return pd.Series(values[:, 0], index=obj.index, name=obj.name, copy=False)
    return pd.DataFrame(values, index=obj.index, columns=obj.columns, copy=False)


def _apply_by_day(values, index, func):
    """Apply ``func`` to padded blocks of whole days; return the per-row result.

    ``func`` maps a float64 array of shape (days, max rows per day, columns),
    NaN-padded, to an array of the same shape.
    """
    starts, counts = day_slices(index)
    out = np.empty(values.shape, dtype=values.dtype)
    block_rows = max(1, BLOCK_CELLS // max(1, values.shape[1]))
    # Days whose first row falls in the same stretch of block_rows rows go together.
    block_id = starts // block_rows
    bounds = np.flatnonzero(np.r_[True, block_id[1:] != block_id[:-1], True])
    for d0, d1 in zip(bounds[:-1], bounds[1:]):
        rows = slice(starts[d0], starts[d1 - 1] + counts[d1 - 1])
        day_counts = counts[d0:d1]
        day = np.repeat(np.arange(d1 - d0), day_counts)
        slot = np.arange(rows.stop - rows.start) - np.repeat(starts[d0:d1] - starts[d0], day_counts)
        padded = np.full((d1 - d0, day_counts.max(), values.shape[1]), np.nan)
        padded[day, slot] = values[rows]
        out[rows] = func(padded)[day, slot]
    return out


def zscore_days(padded):
    # pandas' mean and std (ddof=1) skip NaN; a day with < 2 values gives NaN.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(padded, axis=1, keepdims=True)
        std = np.nanstd(padded, axis=1, ddof=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (padded - mean) / std


def rank_days(padded):
    # pandas' rank(pct=True): average rank of ties over the count of non-NaN.
    count = np.sum(~np.isnan(padded), axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = _average_ranks(padded) / count
    return (pct - RANK_CENTER) * RANK_SCALE


def gauss_rank_days(padded):
    # The normal quantile at the middle of each rank's slot, (rank - 0.5) / n: never 0 or
    # 1, so never infinite, and ties share their average rank's quantile.
    count = np.sum(~np.isnan(padded), axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return ndtri((_average_ranks(padded) - 0.5) / count)


def _average_ranks(padded):
    """1-based ranks along axis 1, ties averaged, NaN left NaN."""
    order = np.argsort(padded, axis=1, kind="stable")  # NaN sort last
    ordered = np.take_along_axis(padded, order, axis=1)
    n_slots = padded.shape[1]
    slot = np.arange(n_slots).reshape(1, -1, 1)
    # A tie group starts where the sorted value changes and ends before the next start.
    starts = np.ones(ordered.shape, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ends = np.ones(ordered.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, slot, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, slot, n_slots)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty_like(padded)
    np.put_along_axis(ranks, order, (first + last) / 2 + 1, axis=1)
    ranks[np.isnan(padded)] = np.nan
    return ranks
