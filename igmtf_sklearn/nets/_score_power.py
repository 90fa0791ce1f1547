"""The estimators' ``score_power``: each day's scores stretched toward the returns' tails.

A network trained on per-day ranks (Qlib's ``CSRankNorm`` label, the default) learns the
order of the day. Ranks are spread uniformly whatever the day, so nothing asks its scores
to set the day's few extreme moves apart, and the daily Pearson IC, which the extremes
dominate where returns are fat-tailed, is left on the table. With ``score_power=p``,
``predict`` returns each day's z-scored predictions raised to ``p``, sign kept:
``sign(z) * |z| ** p``. The order of every day is unchanged, and with it the rank IC and
any top-k selection; ``p > 1`` stretches the tails, ``p < 1`` shrinks them.

``score_power="auto"`` chooses ``p`` once training ends, on the validation days, against
their raw labels (the returns, not their ranks): the candidate of ``POWERS`` with the best
mean daily IC, kept only when its paired daily gain over ``p = 1`` exceeds one standard
error, else ``p = 1``. The one-standard-error rule leaves a model whose tails carry nothing
as it is, rather than chase a year's noise.
"""

from __future__ import annotations

import numpy as np

from ..preprocessing._day_blocks import zscore_days

#: The candidate powers of ``score_power="auto"``.
POWERS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)


def check_score_power(net):
    """Refuse a ``score_power="auto"`` that has no validation days to choose on, before
    any work."""
    if net.score_power == "auto" and net.train_split is None:
        raise ValueError(
            'score_power="auto" chooses the power on the validation days, but '
            "train_split=None holds none out. Give a train_split, or a number "
            "(score_power=1.5), or score_power=None."
        )


def powered_scores(pred, counts, power):
    """``sign(z) * |z| ** power`` of each day's z-scored ``pred`` (rows sorted by day,
    ``counts`` rows a day), as float32. A day whose predictions are all equal scores 0."""
    padded, day, slot = _padded(np.asarray(pred, dtype=np.float64), counts)
    z = np.nan_to_num(zscore_days(padded), nan=0.0, posinf=0.0, neginf=0.0)
    return _powered(z, power)[day, slot].astype(np.float32)


def choose_power(pred, y, counts, powers=POWERS):
    """The power of ``powers`` that ``score_power="auto"`` keeps for predictions ``pred``
    of labels ``y`` (rows sorted by day, ``counts`` rows a day): the best mean daily
    Pearson IC, if it beats ``1.0`` by more than one standard error of the paired daily
    differences; else ``1.0``."""
    padded, _, _ = _padded(np.asarray(pred, dtype=np.float64), counts)
    labels, _, _ = _padded(np.asarray(y, dtype=np.float64), counts)
    z = zscore_days(padded)
    daily = np.stack([_daily_ic(_powered(z, power), labels) for power in powers])
    daily = daily[:, np.isfinite(daily).all(axis=0)]  # days with no IC (constant) out
    if daily.shape[1] < 2:
        return 1.0
    gain = daily - daily[powers.index(1.0)]
    best = int(np.argmax(daily.mean(axis=1)))
    standard_error = gain[best].std(ddof=1) / np.sqrt(gain.shape[1])
    return float(powers[best]) if gain[best].mean() > standard_error else 1.0


def _padded(values, counts):
    """``values`` laid out as (days, most rows of a day), NaN-padded, with each row's
    day and slot to gather them back."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    day = np.repeat(np.arange(len(counts)), counts)
    slot = np.arange(len(values)) - np.repeat(starts, counts)
    padded = np.full((len(counts), int(counts.max(initial=0))), np.nan)
    padded[day, slot] = values
    return padded, day, slot


def _powered(z, power):
    return np.sign(z) * np.abs(z) ** power


def _daily_ic(scores, labels):
    """Pearson correlation of each day's (row of) ``scores`` and ``labels``."""
    known = ~(np.isnan(scores) | np.isnan(labels))
    scores, labels = np.where(known, scores, np.nan), np.where(known, labels, np.nan)
    # A day whose scores or labels are all equal has NaN z-scores, and so a NaN IC.
    products = np.where(known, zscore_days(scores) * zscore_days(labels), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return products.sum(axis=1) / (known.sum(axis=1) - 1)
