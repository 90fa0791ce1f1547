"""Data sources that return panels.

- :func:`load_qlib` reads Qlib's binary day-bar layout (no ``qlib`` import needed).
- :func:`read_ohlcv` turns a long CSV / parquet / DataFrame of OHLCV bars into a panel.
- :func:`make_stock_panel` simulates a market with a known, learnable expected return.

All three return float32 frames indexed by a sorted ``(datetime, instrument)``
MultiIndex, the convention of :mod:`igmtf_sklearn._panel`.
"""

from ._ohlcv import read_ohlcv
from ._qlib import load_qlib
from ._synthetic import make_stock_panel

__all__ = ["load_qlib", "make_stock_panel", "read_ohlcv"]
