"""One self-contained HTML report (figures embedded as base64 PNG), written atomically."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from sklearn.utils._param_validation import validate_params

from .._utils._atomic import atomic_path, atomic_write
from ..backtest import SignalAnalysis
from ._figures import render_figures, require_matplotlib
from ._layout import render_page
from ._sections import backtest_tables, headline_cards, signal_tables

__all__ = ["atomic_path", "atomic_write", "write_report"]

REPORT_FILE = "report.html"


def _period(backtest, signal) -> str:
    for frame in (backtest, getattr(signal, "ic", None)):
        if frame is not None and len(frame):
            return f"{frame.index[0]:%Y-%m-%d} .. {frame.index[-1]:%Y-%m-%d} ({len(frame)} days)"
    return ""


def _meta(backtest, signal, benchmark) -> str:
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [_period(backtest, signal)]
    if backtest is not None:
        parts.append(f"benchmark: {benchmark}")
    parts.append(f"generated {stamp}")
    return " \u00b7 ".join(p for p in parts if p)


def _section_tables(backtest, signal, baselines, model_name, benchmark) -> dict:
    tables: dict = {}
    if signal is not None:
        for key, value in signal_tables(signal, baselines, model_name).items():
            tables.setdefault(key, {}).update(value)
    if backtest is not None:
        for key, value in backtest_tables(backtest, benchmark).items():
            tables.setdefault(key, {}).update(value)
    return tables


@validate_params(
    {
        "output_dir": [str, os.PathLike],
        "backtest": [pd.DataFrame, tuple, None],
        "signal": [SignalAnalysis, None],
        "metrics": [Mapping, None],
        "title": [str],
        "benchmark": [str, None],
        "baselines": [Mapping, None],
        "training": [pd.DataFrame, None],
        "config": [Mapping, None],
        "model_name": [str],
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
    benchmark: str | None = None,
    baselines: Mapping[str, SignalAnalysis] | None = None,
    training: pd.DataFrame | None = None,
    config: Mapping | None = None,
    model_name: str = "IGMTF",
) -> Path:
    """Write an HTML report of a signal, its backtest and its model, plus the figures as PNG files.

    The page opens with a summary block of headline figures, then four
    sections, each drawn from the public analyses of
    :mod:`igmtf_sklearn.backtest` and :mod:`igmtf_sklearn.metrics`:

    - **Signal**: the summary of :func:`~igmtf_sklearn.backtest.signal_analysis`
      and :func:`~igmtf_sklearn.metrics.ic_distribution`; daily IC with its
      rolling means (``ic.png``), its histogram and normal Q-Q plot
      (``ic_distribution.png``), the month x year heatmap
      (``monthly_ic.png``), cumulative and mean returns of the score groups
      with standard errors (``group_returns.png``, ``group_means.png``), rank
      autocorrelation and group turnover (``score_stability.png``), hit rate
      and instruments scored (``hit_rate.png``);
    - **Portfolio**: the year-by-year table of
      :func:`~igmtf_sklearn.backtest.yearly_analysis`; cumulative returns
      against the named benchmark (``cumulative_return.png``), holdings and
      cash (``exposure.png``), turnover (``turnover.png``);
    - **Risk**: :func:`~igmtf_sklearn.backtest.risk_analysis` of the
      portfolio, the benchmark and the excess return without and with costs;
      drawdown (``drawdown.png``) and rolling information ratio
      (``rolling_ir.png``);
    - **Model**: the training curve (``training_curve.png``) and the model
      beside its baselines (a table and ``baselines.png``);

    then ``metrics`` and ``config`` as tables. Each part appears when its
    inputs are given. Every annualised figure says how many days a year it
    counts: 238 in the risk tables (Qlib's ``risk_analysis``),
    ``signal.ann_scaler`` in the signal's summary.

    ``report.html`` is self-contained (figures embedded as base64 PNG, no
    script, nothing fetched when it is viewed); the same figures are written
    next to it. Everything is rendered in memory before anything is written,
    and each file is written to a temporary name then renamed, so a failure
    leaves no half-written file; ``report.html`` is written last.

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
        More tables to show, ``{heading: table}``, in a section "Run"; a
        table is a DataFrame, a Series, a dict of numbers, or a dict of dicts
        / Series (one column each).
    title : str, default="IGMTF backtest report"
        Title of the page.
    benchmark : str or None, default=None
        What the backtest's ``bench`` column is, named in the legends and
        tables (e.g. ``"SH000300 (CSI 300)"``); None says "benchmark".
    baselines : dict of str to SignalAnalysis or None, default=None
        Analyses of other models' scores on the same days (e.g. ``{"GRU
        alone": ...}``), compared with ``signal`` in the model section.
    training : pandas.DataFrame or None, default=None
        The model's :func:`~igmtf_sklearn.metrics.training_curve`.
    config : dict or None, default=None
        The run's configuration as tables, ``{heading: table}``, in a last
        section "Configuration" (segments, model parameters, costs ...).
    model_name : str, default="IGMTF"
        The model's name beside its baselines.

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
    >>> write_report(folder, backtest=backtest, benchmark="none (0)").name
    'report.html'
    >>> shutil.rmtree(folder)
    """
    require_matplotlib()
    if isinstance(backtest, tuple):
        backtest = backtest[0]
    if backtest is None and signal is None and not metrics and not config:
        raise ValueError("Nothing to report: pass backtest, signal, metrics or config.")
    benchmark = benchmark if benchmark is not None else "benchmark"
    baselines = dict(baselines or {})
    figures = render_figures(
        backtest,
        signal,
        benchmark=benchmark,
        baselines=baselines if signal is not None else None,
        training=training,
        model_name=model_name,
    )
    cards = headline_cards(backtest, signal, baselines if signal is not None else None, model_name)
    document = render_page(
        title,
        _meta(backtest, signal, benchmark),
        cards,
        _section_tables(backtest, signal, baselines, model_name, benchmark),
        figures,
        {"Run": dict(metrics or {}), "Configuration": dict(config or {})},
    )

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
