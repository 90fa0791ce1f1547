"""The report's figures of the portfolio and its risk: returns, exposure, turnover, drawdown, IR."""

from __future__ import annotations

import pandas as pd

from ..backtest import portfolio_exposure, rolling_information_ratio
from ._plotting import (
    BLUE,
    FULL,
    GREY,
    HALF,
    ORANGE,
    daily_and_rolling,
    new_figure,
    png,
    zero_line,
)


def excess_returns(report: pd.DataFrame) -> pd.DataFrame:
    """Daily excess return over the benchmark, without and with trading costs."""
    no_cost = report["return_gross"] - report["bench"]
    return pd.DataFrame({"no cost": no_cost, "with cost": no_cost - report["cost"]})


def rolling_window(n_days: int) -> int:
    """Days of the rolling information ratio: a quarter, or half a short backtest."""
    return 60 if n_days >= 120 else max(10, n_days // 2)


def cumulative_return_figure(report: pd.DataFrame, benchmark: str) -> bytes:
    """Cumulative (summed) returns: portfolio and benchmark, then excess over the benchmark."""
    figure, (top, bottom) = new_figure((FULL[0], 6.0), nrows=2)
    top.plot(report.index, report["return_gross"].cumsum(), color=BLUE, label="portfolio, no cost")
    top.plot(
        report.index,
        (report["return_gross"] - report["cost"]).cumsum(),
        color=ORANGE,
        label="portfolio, with cost",
    )
    top.plot(
        report.index,
        report["bench"].cumsum(),
        color=GREY,
        linestyle="--",
        label=f"benchmark: {benchmark}",
    )
    zero_line(top)
    top.set_title("Cumulative return (sum of daily returns, as Qlib)")
    top.legend(loc="upper left")
    excess = excess_returns(report)
    bottom.plot(report.index, excess["no cost"].cumsum(), color=BLUE, label="excess, no cost")
    bottom.plot(report.index, excess["with cost"].cumsum(), color=ORANGE, label="excess, with cost")
    zero_line(bottom)
    bottom.set_title(f"Cumulative excess return over the benchmark ({benchmark})")
    bottom.legend(loc="upper left")
    return png(figure)


def drawdown_figure(report: pd.DataFrame) -> bytes:
    """Drawdown of the cumulative (summed) excess return, with and without costs."""
    figure, (ax,) = new_figure(HALF)
    for (name, excess), color in zip(excess_returns(report).items(), (BLUE, ORANGE)):
        curve = excess.cumsum()
        ax.plot(report.index, curve - curve.cummax(), color=color, label=f"excess, {name}")
    ax.set_title("Drawdown of the cumulative excess return")
    ax.legend(loc="lower left")
    figure.autofmt_xdate()
    return png(figure)


def rolling_ir_figure(report: pd.DataFrame) -> bytes:
    """Rolling information ratio of the excess return, with and without costs."""
    window = rolling_window(len(report))
    ratio = rolling_information_ratio(excess_returns(report), window=window)
    figure, (ax,) = new_figure(HALF)
    for (name, series), color in zip(ratio.items(), (BLUE, ORANGE)):
        ax.plot(ratio.index, series, color=color, label=f"excess, {name}")
    zero_line(ax)
    ax.set_xlim(report.index[0], report.index[-1])  # the same days as the other figures
    ax.set_title(f"Information ratio over {window} days (annualised, 238 days a year)")
    ax.legend(loc="lower left")
    figure.autofmt_xdate()
    return png(figure)


def turnover_figure(report: pd.DataFrame) -> bytes:
    """Daily turnover (value bought + sold over the account value) and its rolling mean."""
    figure, (ax,) = new_figure(HALF)
    daily_and_rolling(ax, report["turnover"], BLUE, "turnover")
    ax.set_title(
        f"Turnover: value traded over the account value (mean {report['turnover'].mean():.3f})"
    )
    ax.legend(loc="upper right", fontsize=8)
    figure.autofmt_xdate()
    return png(figure)


def exposure_figure(report: pd.DataFrame) -> bytes:
    """Stocks held and the share of the account left in cash, day by day."""
    exposure = portfolio_exposure(report)
    figure, (top, bottom) = new_figure(HALF, nrows=2)
    top.step(exposure.index, exposure["holdings"], where="post", color=BLUE)
    top.set_ylim(bottom=0)
    top.set_title("Stocks held after the day's trades")
    bottom.fill_between(
        exposure.index, 100 * exposure["cash share"], step="post", color=ORANGE, alpha=0.5
    )
    bottom.set_ylim(bottom=0)
    bottom.set_ylabel("% of the account")
    bottom.set_title(f"Cash (mean {100 * exposure['cash share'].mean():.1f} % of the account)")
    figure.autofmt_xdate()
    return png(figure)
