"""Qlib's Alpha360 features, processors and label as scikit-learn transformers.

- :class:`Alpha360` turns a raw OHLCV panel into Qlib's Alpha360 layout.
- :class:`RobustZScoreNorm` and :class:`Fillna` are Qlib's column-wise
  feature processors.
- :class:`CSZScoreNorm`, :class:`CSRankNorm` and :class:`CSGaussRankNorm`
  (and the functions :func:`cs_zscore_norm`, :func:`cs_rank_norm`,
  :func:`cs_gauss_rank_norm`) normalize each day's cross-section of a panel.
- :func:`forward_return` builds Qlib's label.
"""

from ._alpha360 import Alpha360
from ._cross_section import (
    CSGaussRankNorm,
    CSRankNorm,
    CSZScoreNorm,
    cs_gauss_rank_norm,
    cs_rank_norm,
    cs_zscore_norm,
)
from ._label import forward_return
from ._normalize import Fillna, RobustZScoreNorm

__all__ = [
    "Alpha360",
    "CSGaussRankNorm",
    "CSRankNorm",
    "CSZScoreNorm",
    "Fillna",
    "RobustZScoreNorm",
    "cs_gauss_rank_norm",
    "cs_rank_norm",
    "cs_zscore_norm",
    "forward_return",
]
