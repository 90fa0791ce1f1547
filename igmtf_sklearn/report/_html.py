"""One self-contained HTML report (figures embedded as base64 PNG), written atomically."""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import html
import numbers
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import validate_params

from .._utils._atomic import atomic_path, atomic_write
from ..backtest import SignalAnalysis
from ._figures import render_figures, require_matplotlib

__all__ = ["atomic_path", "atomic_write", "default_metrics", "write_report"]

REPORT_FILE = "report.html"

_CAPTIONS = {
    "ic.png": "Daily IC and its rolling means.",
    "monthly_ic.png": "Mean IC per month.",
    "group_returns.png": "Cumulative mean label of each daily score group.",
    "cumulative_return.png": "Cumulative returns with and without trading costs, "
    "and the excess over the benchmark.",
    "drawdown.png": "Drawdown of the cumulative excess return.",
    "turnover.png": "Daily turnover: value bought plus value sold over the account value.",
}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table.metrics { border-collapse: collapse; margin: 0.5em 0 1.2em 0; font-size: 0.92em; }
table.metrics th, table.metrics td { padding: 0.25em 0.8em; border-bottom: 1px solid #eee;
       text-align: right; }
table.metrics th:first-child, table.metrics td:first-child { text-align: left; }
figure { margin: 1em 0 2em 0; } figure img { max-width: 100%; }
figcaption { color: #555; font-size: 0.9em; } .meta { color: #666; font-size: 0.9em; }
"""


# ---------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, numbers.Number | str | bool | np.generic)


def _as_frame(table) -> pd.DataFrame:
    """A metric table as a DataFrame: a frame as is, a Series or flat dict as one column,
    a dict of dicts or Series as one column per entry."""
    if isinstance(table, pd.DataFrame):
        return table
    if isinstance(table, pd.Series):
        return table.to_frame(table.name if table.name is not None else "value")
    if isinstance(table, Mapping):
        if all(_is_scalar(v) for v in table.values()):
            return pd.Series(dict(table), dtype=object).to_frame("value")
        return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in table.items()})
    raise TypeError(
        "Each metric table must be a DataFrame, a Series or a dict (of numbers, or of dicts "
        f"of numbers), got {type(table).__name__}."
    )


def _format_value(value) -> str:
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        value = float(value)
        return f"{value:,.2f}" if abs(value) >= 1e4 else f"{value:.4f}"
    return str(value)


def table_html(table) -> str:
    """One metric table as an HTML ``<table>``, numbers to 4 decimals, text escaped."""
    frame = _as_frame(table)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for label, values in zip(frame.index, frame.itertuples(index=False)):
        cells = "".join(f"<td>{html.escape(_format_value(v))}</td>" for v in values)
        rows.append(f"<tr><td>{html.escape(str(label))}</td>{cells}</tr>")
    return (
        f'<table class="metrics"><thead><tr><th></th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def default_metrics(backtest=None, signal=None) -> dict:
    """The tables a report shows when none are given: signal summary and Qlib's risk tables."""
    from ..backtest import risk_analysis  # the report builds on the backtest, not the reverse

    metrics = {}
    if signal is not None:
        metrics["Signal"] = dict(signal.summary)
    if backtest is not None:
        excess = backtest["return_gross"] - backtest["bench"]
        metrics["Excess return over the benchmark (risk_analysis, sum mode, N=238)"] = {
            "without cost": risk_analysis(excess),
            "with cost": risk_analysis(excess - backtest["cost"]),
        }
    return metrics


# ---------------------------------------------------------------------------
# The document
# ---------------------------------------------------------------------------


def _period(backtest, signal) -> str:
    for frame in (backtest, getattr(signal, "ic", None)):
        if frame is not None and len(frame):
            return f"{frame.index[0]:%Y-%m-%d} .. {frame.index[-1]:%Y-%m-%d} ({len(frame)} days)"
    return ""


def render_html(title, figures: dict, metrics: dict, period: str) -> str:
    """The report document, figures embedded as base64 PNG."""
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">{html.escape(period)}{" &middot; " if period else ""}'
        f"generated {stamp}</p>",
    ]
    if metrics:
        parts.append("<h2>Metrics</h2>")
        for name, table in metrics.items():
            parts.append(f"<h3>{html.escape(str(name))}</h3>{table_html(table)}")
    if figures:
        parts.append("<h2>Figures</h2>")
    for name, png in figures.items():
        encoded = base64.b64encode(png).decode("ascii")
        caption = html.escape(_CAPTIONS.get(name, name))
        parts.append(
            f'<figure id="{html.escape(name)}"><img alt="{html.escape(name)}" '
            f'src="data:image/png;base64,{encoded}"><figcaption>{caption}</figcaption></figure>'
        )
    parts.append("</body></html>")
    return "\n".join(parts)


@validate_params(
    {
        "output_dir": [str, os.PathLike],
        "backtest": [pd.DataFrame, tuple, None],
        "signal": [SignalAnalysis, None],
        "metrics": [Mapping, None],
        "title": [str],
    },
    prefer_skip_nested_validation=True,
)
def write_report(
    output_dir: str | os.PathLike,
    *,
    backtest: pd.DataFrame | None = None,
    signal: SignalAnalysis | None = None,
    metrics: Mapping | None = None,
    title: str = "IGMTF backtest report",
) -> Path:
    """Write an HTML report of a backtest and a signal analysis, plus its figures as PNG files.

    The report holds the metric tables and the figures: daily IC with rolling
    means, monthly IC, cumulative returns of the score groups, cumulative
    returns with and without costs against the benchmark, drawdown of the
    excess return and turnover. ``report.html`` is self-contained (figures
    embedded as base64 PNG); the same figures are written next to it as
    ``ic.png``, ``monthly_ic.png``, ``group_returns.png``,
    ``cumulative_return.png``, ``drawdown.png`` and ``turnover.png``.

    Everything is rendered in memory before anything is written, and each
    file is written to a temporary name then renamed, so a failure leaves no
    half-written file; ``report.html`` is written last.

    Parameters
    ----------
    output_dir : str or path-like
        Folder to write into; created (with its parents) if missing. Files of
        the same names are replaced.
    backtest : pandas.DataFrame or None, default=None
        The daily report of :func:`~igmtf_sklearn.backtest.topk_dropout_backtest`
        (the ``(report, positions)`` pair is accepted too).
    signal : SignalAnalysis or None, default=None
        The result of :func:`~igmtf_sklearn.backtest.signal_analysis`.
    metrics : dict or None, default=None
        Tables to show, ``{heading: table}``; a table is a DataFrame, a
        Series, a dict of numbers, or a dict of dicts / Series (one column
        each). None shows the signal's summary and Qlib's risk analysis of
        the excess return with and without costs.
    title : str, default="IGMTF backtest report"
        Title of the page.

    Returns
    -------
    path : pathlib.Path
        The HTML file.

    Raises
    ------
    ImportError
        If matplotlib, a dependency of igmtf-sklearn, is missing (e.g. after
        ``pip install --no-deps``): ``pip install matplotlib``.

    Examples
    --------
    >>> import shutil, tempfile
    >>> from igmtf_sklearn.backtest import topk_dropout_backtest
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> from igmtf_sklearn.report import write_report
    >>> panel, signal = make_stock_panel(20, 30, return_signal=True, random_state=0)
    >>> backtest = topk_dropout_backtest(signal, panel, topk=5, n_drop=1)
    >>> folder = tempfile.mkdtemp()
    >>> write_report(folder, backtest=backtest).name
    'report.html'
    >>> shutil.rmtree(folder)
    """
    require_matplotlib()
    if isinstance(backtest, tuple):
        backtest = backtest[0]
    if backtest is None and signal is None and not metrics:
        raise ValueError("Nothing to report: pass backtest, signal or metrics.")
    if metrics is None:
        metrics = default_metrics(backtest, signal)
    figures = render_figures(backtest, signal)
    document = render_html(title, figures, metrics, _period(backtest, signal))

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        for name, png in figures.items():
            written.append(atomic_write(output_dir / name, png))
        return atomic_write(output_dir / REPORT_FILE, document)
    except BaseException:
        # Leave no partial set of figures behind without the report that shows them.
        for path in written:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        raise
