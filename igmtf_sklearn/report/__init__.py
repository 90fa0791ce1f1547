"""An HTML report of a backtest and a signal analysis.

:func:`write_report` renders the figures with matplotlib, a dependency
imported only when a report is written, so ``import igmtf_sklearn.report`` works
(and is quick) without it.
"""

from ._html import atomic_path, atomic_write, write_report

__all__ = ["atomic_path", "atomic_write", "write_report"]
