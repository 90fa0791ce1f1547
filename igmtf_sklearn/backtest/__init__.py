"""From a signal to a portfolio: Qlib's backtest and analyses, without Qlib.

- :func:`topk_dropout_backtest` trades Qlib's TopK-Dropout strategy on a score
  panel at the close, with price limits, suspensions and costs.
- :func:`risk_analysis` gives Qlib's risk statistics of a return series.
- :func:`signal_analysis` gives daily IC / rank IC, their monthly means and
  the returns of score quantile groups.
- :func:`to_qlib_pred` / :func:`from_qlib_pred` convert scores to and from
  Qlib's ``pred.pkl`` layout.

See ``docs/backtest.md`` for the conventions (timing, limits, costs,
annualisation).
"""

from ._qlib_interop import from_qlib_pred, to_qlib_pred
from ._risk import risk_analysis
from ._signal import SignalAnalysis, group_returns, signal_analysis
from ._topk import topk_dropout_backtest

__all__ = [
    "SignalAnalysis",
    "from_qlib_pred",
    "group_returns",
    "risk_analysis",
    "signal_analysis",
    "to_qlib_pred",
    "topk_dropout_backtest",
]
