"""What every figure of the report shares: matplotlib's Figure, the page's sizes and colours.

matplotlib is imported only when a figure is drawn. Figures are built as
``matplotlib.figure.Figure`` objects, without pyplot, so drawing a report
neither switches the caller's backend (a notebook keeps its inline plots) nor
leaves figures open in pyplot's global registry.
"""

from __future__ import annotations

import io

import numpy as np

#: Days of the rolling means drawn over daily series (about a trading month).
ROLLING_DAYS = 20
DPI = 110
#: A figure in one column of the report's two-column grid, and one across both.
HALF = (6.2, 3.6)
FULL = (12.6, 4.2)

# Dark enough to read on white, distinct for the colour-blind (Okabe-Ito's set).
BLUE, ORANGE, GREEN, RED, PURPLE, SKY, GREY = (
    "#0072b2",
    "#d55e00",
    "#009e73",
    "#c0392b",
    "#7b3294",
    "#56b4e9",
    "#555555",
)
#: The daily values behind a rolling mean, drawn light.
FAINT = "#a6cee3"


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


def new_figure(size=HALF, nrows=1, ncols=1, sharex=True):
    """A constrained-layout figure and its axes, as a flat list, with a light grid."""
    figure = require_matplotlib()(figsize=size, layout="constrained")
    axes = figure.subplots(nrows, ncols, sharex=sharex, squeeze=False).ravel()
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return figure, list(axes)


def png(figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def zero_line(ax, y=0.0):
    ax.axhline(y, color="black", linewidth=0.8)


def group_colors(n: int) -> list:
    """One colour per score group, best (blue) to worst (red), each dark enough on white.

    Diverging colour maps fade to near-white in the middle, which left the middle
    group unreadable; these stay saturated throughout.
    """
    palettes = {
        2: [BLUE, RED],
        3: [BLUE, GREEN, RED],
        4: [BLUE, SKY, ORANGE, RED],
        5: [BLUE, SKY, GREEN, ORANGE, RED],
        6: [BLUE, SKY, GREEN, PURPLE, ORANGE, RED],
    }
    if n in palettes:
        return palettes[n]
    from matplotlib import colormaps  # importable: a figure was just created

    return list(colormaps["turbo"](np.linspace(0.05, 0.95, n)))


def rolling_mean(series, window=ROLLING_DAYS):
    """The rolling mean, NaN until the window is full: a few days' mean swings without meaning."""
    return series.rolling(window, min_periods=window).mean()


def daily_and_rolling(ax, series, color, label, window=ROLLING_DAYS):
    """A daily series drawn faint with its rolling mean drawn over it."""
    ax.plot(series.index, series, color=FAINT, linewidth=0.7)
    ax.plot(
        series.index, rolling_mean(series, window), color=color, label=f"{label}, {window}-day mean"
    )
