"""The report's figures of the signal: IC, its distribution and calendar, groups, stability."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..backtest import group_mean_returns
from ..metrics import ic_qq, monthly_ic_table
from ._plotting import (
    BLUE,
    FAINT,
    FULL,
    GREY,
    HALF,
    ORANGE,
    RED,
    ROLLING_DAYS,
    daily_and_rolling,
    group_colors,
    new_figure,
    png,
    rolling_mean,
    zero_line,
)


def ic_figure(ic: pd.DataFrame) -> bytes:
    """Daily IC as bars, with the rolling means of the IC and the rank IC once their window fills."""
    figure, (ax,) = new_figure(FULL)
    ax.bar(ic.index, ic["IC"], width=1.0, color=FAINT, label="daily IC")
    ax.plot(ic.index, rolling_mean(ic["IC"]), color=BLUE, label=f"IC, {ROLLING_DAYS}-day mean")
    ax.plot(
        ic.index,
        rolling_mean(ic["Rank IC"]),
        color=ORANGE,
        label=f"Rank IC, {ROLLING_DAYS}-day mean",
    )
    zero_line(ax)
    means = ic.mean()
    ax.set_title(
        f"Daily information coefficient (mean IC {means['IC']:.4f}, rank IC {means['Rank IC']:.4f})"
    )
    ax.legend(loc="upper left", ncols=3)
    return png(figure)


def ic_distribution_figure(ic: pd.DataFrame) -> bytes:
    """Histogram of the daily IC and rank IC, and their normal Q-Q plot."""
    figure, (hist, qq) = new_figure(FULL, ncols=2, sharex=False)
    values = ic[["IC", "Rank IC"]].dropna(how="all")
    bins = np.histogram_bin_edges(
        values.stack().to_numpy(), bins=min(40, max(10, len(values) // 8))
    )
    for name, color in (("IC", BLUE), ("Rank IC", ORANGE)):
        series = values[name].dropna()
        hist.hist(
            series, bins=bins, color=color, alpha=0.45, label=f"{name} (mean {series.mean():.3f})"
        )
        hist.axvline(series.mean(), color=color, linewidth=1.5)
        points = ic_qq(series)
        qq.scatter(points["normal"], points["observed"], s=8, color=color, label=name)
    hist.axvline(0.0, color="black", linewidth=0.8)
    hist.set_title("Distribution of the daily IC")
    hist.set_xlabel("daily IC")
    hist.set_ylabel("days")
    hist.legend(loc="upper left")
    low, high = qq.get_xlim()
    qq.plot([low, high], [low, high], color=GREY, linestyle="--", linewidth=1, label="normal law")
    qq.set_title("Normal Q-Q plot of the daily IC")
    qq.set_xlabel("quantile of a normal law of the same mean and std")
    qq.set_ylabel("observed quantile")
    qq.legend(loc="upper left")
    return png(figure)


def monthly_ic_figure(ic: pd.Series) -> bytes:
    """Mean IC by month (across) and year (down), with each year's mean, as a heatmap."""
    table = monthly_ic_table(ic)
    n_years = len(table)
    figure, (ax,) = new_figure((FULL[0], 1.3 + 0.42 * n_years))
    ax.grid(False)
    values = table.to_numpy(dtype=float)
    limit = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
    image = ax.imshow(
        np.ma.masked_invalid(values), cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto"
    )
    ax.set_xticks(np.arange(table.shape[1]), table.columns)
    ax.set_yticks(np.arange(n_years), [str(year) for year in table.index])
    ax.axvline(11.5, color="black", linewidth=2)  # months | whole year
    for (row, column), value in np.ndenumerate(values):
        if np.isfinite(value):
            dark = abs(value) > 0.6 * limit
            ax.text(
                column,
                row,
                f"{value:.3f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
    figure.colorbar(image, ax=ax, label="mean daily IC", shrink=0.9)
    ax.set_title("Mean IC by month and year (blue: positive; empty: no test day)")
    return png(figure)


def group_returns_figure(groups: pd.DataFrame) -> bytes:
    """Cumulative (summed) mean label of each score group, and the long-short spread."""
    figure, (ax,) = new_figure(HALF)
    names = [c for c in groups.columns if c.startswith("Group")]
    for name, color in zip(names, group_colors(len(names))):
        ax.plot(groups.index, groups[name].cumsum(), color=color, label=name)
    ax.plot(
        groups.index,
        groups["long-short"].cumsum(),
        color="black",
        linestyle="--",
        label="long-short",
    )
    zero_line(ax)
    ax.set_title("Cumulative return of score groups\n(sum of daily mean labels; Group1 = best)")
    ax.legend(loc="upper left", ncols=2, fontsize=8)
    figure.autofmt_xdate()
    return png(figure)


def group_means_figure(groups: pd.DataFrame) -> bytes:
    """Mean daily return of each score group, in basis points, with one standard error."""
    names = [c for c in groups.columns if c.startswith("Group")]
    table = group_mean_returns(groups[[*names, "long-short"]]) * [1e4, 1e4, 1]
    figure, (ax,) = new_figure(HALF)
    colors = [*group_colors(len(names)), "black"]
    positions = np.arange(len(table))
    ax.bar(
        positions,
        table["mean"],
        yerr=table["std error"],
        color=colors,
        alpha=0.85,
        capsize=4,
        error_kw={"elinewidth": 1},
    )
    ax.set_xticks(positions, table.index)
    zero_line(ax)
    ax.set_ylabel("mean daily label (bp)")
    ax.set_title("Mean return by score group\n(error bars: one standard error of the mean)")
    return png(figure)


def stability_figure(stability: pd.DataFrame) -> bytes:
    """Rank autocorrelation of the scores, and turnover of the best and worst groups."""
    figure, (top, bottom) = new_figure(HALF, nrows=2)
    daily_and_rolling(top, stability["rank autocorrelation"], BLUE, "rank autocorrelation")
    top.set_title("Rank autocorrelation of the scores (day to day)")
    top.legend(loc="lower left", fontsize=8)
    turnover = [c for c in stability.columns if c.endswith("turnover")]
    for name, color in zip(turnover, (BLUE, RED)):
        bottom.plot(
            stability.index,
            rolling_mean(stability[name]),
            color=color,
            label=f"{name}, {ROLLING_DAYS}-day mean",
        )
    bottom.set_title("Share of a group's stocks new since the day before")
    bottom.legend(loc="upper left", fontsize=8)
    figure.autofmt_xdate()
    return png(figure)


def hit_rate_figure(daily: pd.DataFrame) -> bytes:
    """The daily hit rate with its rolling mean, and the number of instruments scored."""
    figure, (top, bottom) = new_figure(HALF, nrows=2)
    daily_and_rolling(top, daily["hit rate"], BLUE, "hit rate")
    zero_line(top, 0.5)
    top.set_title(f"Hit rate (mean {daily['hit rate'].mean():.3f}; 0.5 is a coin toss)")
    top.legend(loc="lower left", fontsize=8)
    bottom.step(daily.index, daily["scored"], where="post", color=GREY, label="scored")
    bottom.step(
        daily.index,
        daily["labelled"],
        where="post",
        color=ORANGE,
        linestyle=":",
        label="with a label",
    )
    bottom.set_ylim(bottom=0)
    bottom.set_title("Instruments scored each day")
    bottom.legend(loc="lower left", fontsize=8)
    figure.autofmt_xdate()
    return png(figure)
