"""Score / label pairs on a panel and their daily score groups, shared by the signal analyses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._utils._panel import check_panel_index, day_codes, day_slices


def _panel_series(obj, name: str) -> pd.Series:
    if isinstance(obj, pd.DataFrame):
        if obj.shape[1] != 1:
            raise ValueError(f"{name} must be a Series or a single-column DataFrame.")
        obj = obj.iloc[:, 0]
    if isinstance(obj, pd.Series) and isinstance(obj.index, pd.MultiIndex):
        if not obj.index.is_monotonic_increasing:
            obj = obj.sort_index()
    check_panel_index(obj, name=name)
    return obj.astype(np.float64)


def _score_series(scores) -> pd.Series:
    """The scores as a float Series on a sorted panel index (a frame's ``score`` column)."""
    if isinstance(scores, pd.DataFrame) and "score" in scores.columns:
        scores = scores["score"]  # Qlib's pred.pkl
    return _panel_series(scores, "scores")


def _pairs(scores, labels) -> pd.DataFrame:
    """Score and label on the rows where both are given and the score is finite."""
    score = _score_series(scores)
    label = _panel_series(labels, "labels")
    if not score.index.equals(label.index):
        score, label = score.align(label, join="inner")
    frame = pd.DataFrame({"score": score.to_numpy(), "label": label.to_numpy()}, index=score.index)
    frame = frame[np.isfinite(frame["score"].to_numpy())]
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index()  # an inner join need not keep the (date, instrument) order
    if frame.empty:
        raise ValueError("scores and labels share no row with a finite score.")
    return frame


def _score_groups(index: pd.MultiIndex, score: np.ndarray, n_groups: int):
    """Each row's score group, as Qlib's ``_group_return`` cuts a day.

    Each day the rows are sorted by score, best first (ties in instrument
    order), and cut into ``n_groups`` groups of ``n // n_groups`` rows; the
    ``n % n_groups`` worst rows, and every row of a day with fewer than
    ``n_groups`` rows, get ``n_groups`` (no group).

    Returns
    -------
    order : ndarray of int
        Rows by (day, score descending).
    group : ndarray of int
        The group (0 = best) of ``order``'s rows.
    """
    codes = day_codes(index)
    starts, counts = day_slices(index)
    # lexsort is stable, so ties keep instrument order.
    order = np.lexsort((-score, codes))
    position = np.arange(len(order)) - np.repeat(starts, counts)
    size = np.repeat(counts // n_groups, counts)
    group = np.where(size > 0, position // np.maximum(size, 1), n_groups)
    return order, group


def _bincount_mean(slots, values, size) -> np.ndarray:
    sums = np.bincount(slots, weights=values, minlength=size)
    counts = np.bincount(slots, minlength=size)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)
