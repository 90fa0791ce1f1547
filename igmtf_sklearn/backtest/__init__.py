"""From a signal to a portfolio: Qlib's backtest and analyses, without Qlib.

- :func:`topk_dropout_backtest` trades Qlib's TopK-Dropout strategy on a score
  panel at the close, with price limits, suspensions and costs.
- :func:`risk_analysis` gives Qlib's risk statistics of a return series.
- :func:`signal_analysis` gives daily IC / rank IC, their monthly means,
  the returns of score quantile groups, the hit rate and the signal's
  turnover (:func:`group_returns`, :func:`group_mean_returns`,
  :func:`hit_rate`, :func:`score_turnover` one by one).
- :func:`yearly_analysis`, :func:`rolling_information_ratio` and
  :func:`portfolio_exposure` read a backtest's daily report.
- :func:`to_qlib_pred` / :func:`from_qlib_pred` convert scores to and from
  Qlib's ``pred.pkl`` layout.

See ``docs/backtest.md`` for the conventions (timing, limits, costs,
annualisation).
"""

from ._analysis import portfolio_exposure, rolling_information_ratio, yearly_analysis
from ._qlib_interop import from_qlib_pred, to_qlib_pred
from ._risk import risk_analysis
from ._signal import SignalAnalysis, group_returns, signal_analysis
from ._signal_stats import group_mean_returns, hit_rate, score_turnover
from ._topk import topk_dropout_backtest

__all__ = [
    "SignalAnalysis",
    "from_qlib_pred",
    "group_mean_returns",
    "group_returns",
    "hit_rate",
    "portfolio_exposure",
    "risk_analysis",
    "rolling_information_ratio",
    "score_turnover",
    "signal_analysis",
    "to_qlib_pred",
    "topk_dropout_backtest",
    "yearly_analysis",
]
