"""The report's figures, drawn with matplotlib's object API into PNG bytes.

matplotlib is imported only when a figure is drawn.
Figures are built as ``matplotlib.figure.Figure`` objects, without pyplot, so
drawing a report neither switches the caller's backend (a notebook keeps its
inline plots) nor leaves figures open in pyplot's global registry.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

#: Days of the rolling means drawn over daily series (about a trading month).
ROLLING_DAYS = 20
_DPI = 110
_WIDE = (10.0, 4.0)
_TALL = (10.0, 6.5)


def require_matplotlib():
    """Import matplotlib's ``Figure``, or say how to install it."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "Writing a report needs matplotlib, a dependency of igmtf-sklearn missing here: "
            "`pip install matplotlib` (or reinstall the package: `pip install .` in a checkout)."
        ) from error
    return Figure


def _new_figure(size, nrows=1):
    figure = require_matplotlib()(figsize=size, layout="constrained")
    axes = figure.subplots(nrows, 1, sharex=True, squeeze=False)[:, 0]
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return figure, axes


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def ic_figure(ic: pd.DataFrame) -> bytes:
    """Daily IC as bars, with the rolling means of the IC and the rank IC."""
    figure, (ax,) = _new_figure(_WIDE)
    ax.bar(ic.index, ic["IC"], width=1.0, color="#9ecae1", label="daily IC")
    rolling = ic.rolling(ROLLING_DAYS, min_periods=1).mean()
    ax.plot(rolling.index, rolling["IC"], color="#08519c", label=f"IC, {ROLLING_DAYS}-day mean")
    ax.plot(
        rolling.index,
        rolling["Rank IC"],
        color="#e6550d",
        label=f"Rank IC, {ROLLING_DAYS}-day mean",
    )
    ax.axhline(0.0, color="black", linewidth=0.8)
    means = ic.mean()
    ax.set_title(
        f"Information coefficient (mean IC {means['IC']:.4f}, rank IC {means['Rank IC']:.4f})"
    )
    ax.legend(loc="upper left")
    return _png(figure)


def monthly_ic_figure(monthly: pd.DataFrame) -> bytes:
    """Mean IC of each month, one bar per month."""
    figure, (ax,) = _new_figure(_WIDE)
    labels = [str(month) for month in monthly.index]
    values = monthly["IC"].to_numpy()
    colors = np.where(values >= 0, "#3182bd", "#de2d26")
    ax.bar(np.arange(len(values)), values, color=colors)
    step = max(1, len(labels) // 24)  # at most ~24 tick labels
    ax.set_xticks(np.arange(0, len(labels), step), labels[::step], rotation=60, ha="right")
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_title("Monthly mean IC")
    return _png(figure)


def cumulative_return_figure(report: pd.DataFrame) -> bytes:
    """Cumulative (summed) returns: portfolio and benchmark, then excess over the benchmark."""
    figure, (top, bottom) = _new_figure(_TALL, nrows=2)
    with_cost = report["return_gross"] - report["cost"]
    top.plot(report.index, report["return_gross"].cumsum(), label="portfolio, no cost")
    top.plot(report.index, with_cost.cumsum(), label="portfolio, with cost")
    top.plot(report.index, report["bench"].cumsum(), color="grey", label="benchmark")
    top.set_title("Cumulative return (sum of daily returns, as Qlib)")
    top.legend(loc="upper left")
    excess = _excess(report)
    bottom.plot(report.index, excess["no cost"].cumsum(), label="excess, no cost")
    bottom.plot(report.index, excess["with cost"].cumsum(), label="excess, with cost")
    bottom.axhline(0.0, color="black", linewidth=0.8)
    bottom.set_title("Cumulative excess return over the benchmark")
    bottom.legend(loc="upper left")
    return _png(figure)


def _excess(report: pd.DataFrame) -> pd.DataFrame:
    no_cost = report["return_gross"] - report["bench"]
    return pd.DataFrame({"no cost": no_cost, "with cost": no_cost - report["cost"]})


def drawdown_figure(report: pd.DataFrame) -> bytes:
    """Drawdown of the cumulative (summed) excess return, with and without costs."""
    figure, (ax,) = _new_figure(_WIDE)
    for name, excess in _excess(report).items():
        curve = excess.cumsum()
        ax.plot(report.index, curve - curve.cummax(), label=f"excess, {name}")
    ax.set_title("Drawdown of the cumulative excess return")
    ax.legend(loc="lower left")
    return _png(figure)


def turnover_figure(report: pd.DataFrame) -> bytes:
    """Daily turnover (value bought + sold over the account value) and its rolling mean."""
    figure, (ax,) = _new_figure(_WIDE)
    ax.plot(report.index, report["turnover"], color="#9ecae1", linewidth=0.8, label="daily")
    rolling = report["turnover"].rolling(ROLLING_DAYS, min_periods=1).mean()
    ax.plot(report.index, rolling, color="#08519c", label=f"{ROLLING_DAYS}-day mean")
    ax.set_title(f"Turnover (mean {report['turnover'].mean():.3f} a day)")
    ax.legend(loc="upper right")
    return _png(figure)


def group_returns_figure(groups: pd.DataFrame) -> bytes:
    """Cumulative (summed) mean label of each score group, and the long-short spread."""
    figure, (ax,) = _new_figure(_WIDE)
    names = [c for c in groups.columns if c.startswith("Group")]
    colors = _group_colors(len(names))
    for name, color in zip(names, colors):
        ax.plot(groups.index, groups[name].cumsum(), color=color, label=name)
    ax.plot(
        groups.index,
        groups["long-short"].cumsum(),
        color="black",
        linestyle="--",
        label="long-short",
    )
    ax.set_title("Cumulative return of score groups (Group1 = best scores)")
    ax.legend(loc="upper left", ncols=2)
    return _png(figure)


def _group_colors(n: int):
    """Colours from blue (best group) to red (worst)."""
    from matplotlib import colormaps  # importable: a figure was just created

    return colormaps["coolwarm"](np.linspace(0.0, 1.0, n))


def render_figures(backtest=None, signal=None) -> dict[str, bytes]:
    """Every figure the inputs allow, as ``{file name: PNG bytes}`` in report order.

    Parameters
    ----------
    backtest : pandas.DataFrame or None
        The daily report of :func:`~igmtf_sklearn.backtest.topk_dropout_backtest`.
    signal : SignalAnalysis or None
        The result of :func:`~igmtf_sklearn.backtest.signal_analysis`.
    """
    figures = {}
    if signal is not None:
        figures["ic.png"] = ic_figure(signal.ic)
        figures["monthly_ic.png"] = monthly_ic_figure(signal.monthly_ic)
        figures["group_returns.png"] = group_returns_figure(signal.group_returns)
    if backtest is not None:
        figures["cumulative_return.png"] = cumulative_return_figure(backtest)
        figures["drawdown.png"] = drawdown_figure(backtest)
        figures["turnover.png"] = turnover_figure(backtest)
    return figures
