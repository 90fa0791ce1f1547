"""
From scores to a portfolio: backtest, analysis and report
==========================================================

:func:`~igmtf_sklearn.backtest.topk_dropout_backtest` is Qlib's
``TopkDropoutStrategy`` with its daily backtest: each day hold the ``topk``
best-scored stocks, replacing at most ``n_drop`` of them, with Qlib's costs,
limit rules and trade unit. :func:`~igmtf_sklearn.backtest.risk_analysis` and
:func:`~igmtf_sklearn.backtest.signal_analysis` give what Qlib's
``PortAnaRecord`` and ``SigAnaRecord`` report, and
:func:`~igmtf_sklearn.report.write_report` draws it all into one HTML page.

The scores here are the simulated market's true expected return (the
*oracle*), so that no model has to be trained; a fitted model's
``predict_series`` plugs in the same way. See :doc:`/backtest` for the
conventions.
"""

# %%
# A market and a signal
# ---------------------
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from igmtf_sklearn.backtest import risk_analysis, signal_analysis, topk_dropout_backtest
from igmtf_sklearn.datasets import make_stock_panel
from igmtf_sklearn.preprocessing import forward_return
from igmtf_sklearn.report import write_report

ohlcv, signal = make_stock_panel(100, 250, return_signal=True, random_state=0)

# %%
# The backtest
# ------------
# Scores computed after day ``t``'s close trade on day ``t + 1``. With no
# ``benchmark=`` instrument the benchmark is the equal-weighted market.
report = topk_dropout_backtest(signal, ohlcv, topk=20, n_drop=4)
report.head()

# %%
# Risk analysis of the excess return, with and without costs, as Qlib's
# ``PortAnaRecord`` reports it (Qlib's conventions: summed returns, 238 trading
# days a year).
pd.DataFrame(
    {
        "excess_return_without_cost": risk_analysis(report["return_gross"] - report["bench"]),
        "excess_return_with_cost": risk_analysis(report["return"] - report["bench"]),
    }
).round(4)

# %%
# Signal analysis
# ---------------
# Daily IC and rank IC against the realised label, and the returns of five
# score groups.
analysis = signal_analysis(signal, forward_return(ohlcv))
analysis.summary

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
curves = pd.DataFrame(
    {
        "portfolio, after costs": report["return"].cumsum(),
        "portfolio, before costs": report["return_gross"].cumsum(),
        "benchmark": report["bench"].cumsum(),
    }
)
curves.plot(ax=left, title="Cumulative return (summed, as Qlib draws it)")
groups = analysis.group_returns.filter(like="Group").cumsum()
groups.plot(ax=right, title="Cumulative return of the score groups", colormap="viridis")
for ax in (left, right):
    ax.set_xlabel("")
fig.tight_layout()

# %%
# The HTML report
# ---------------
# One self-contained page with these figures and tables, and the figures as
# PNG files beside it.
with tempfile.TemporaryDirectory() as folder:
    page = write_report(folder, backtest=report, signal=analysis, title="The oracle signal")
    print(sorted(p.name for p in Path(folder).iterdir()))
