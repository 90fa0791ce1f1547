"""The report's figures: which exist, in which section, with which caption, and drawing them all."""

from __future__ import annotations

from dataclasses import dataclass

from . import _model_figures as model
from . import _portfolio_figures as portfolio
from . import _signal_figures as signal_figures
from ._plotting import ROLLING_DAYS, require_matplotlib

__all__ = ["FIGURES", "SECTIONS", "ROLLING_DAYS", "render_figures", "require_matplotlib"]

#: The report's sections, in page order, with their headings.
SECTIONS = {
    "signal": "Signal",
    "portfolio": "Portfolio",
    "risk": "Risk",
    "model": "Model",
}


@dataclass(frozen=True)
class FigureSpec:
    """Where a figure goes and what its caption says; ``wide`` figures span the page."""

    section: str
    caption: str
    wide: bool = False


FIGURES = {
    "ic.png": FigureSpec(
        "signal",
        f"Daily IC (bars) and the {ROLLING_DAYS}-day means of the IC and rank IC, drawn once "
        "their window is full.",
        wide=True,
    ),
    "ic_distribution.png": FigureSpec(
        "signal",
        "How the daily IC is spread: a histogram, and its quantiles against a normal law's "
        "(points off the dashed line are fat tails).",
        wide=True,
    ),
    "monthly_ic.png": FigureSpec(
        "signal", "Mean daily IC of each month, and of each year (last column).", wide=True
    ),
    "group_returns.png": FigureSpec(
        "signal", "Cumulative mean label of each daily score group (Group1: the best scores)."
    ),
    "group_means.png": FigureSpec(
        "signal", "Mean daily label of each score group and of long-short, with standard errors."
    ),
    "score_stability.png": FigureSpec(
        "signal",
        "How fast the signal changes: rank correlation of each day's scores with the day "
        "before's, and the share of the best and worst groups replaced each day.",
    ),
    "hit_rate.png": FigureSpec(
        "signal",
        "Share of instruments whose score and label fall on the same side of the day's "
        "median, and how many instruments were scored.",
    ),
    "cumulative_return.png": FigureSpec(
        "portfolio",
        "Cumulative returns with and without trading costs against the benchmark, and the "
        "excess over it.",
        wide=True,
    ),
    "exposure.png": FigureSpec("portfolio", "Stocks held and cash left, day by day."),
    "turnover.png": FigureSpec(
        "portfolio", "Daily turnover: value bought plus value sold over the account value."
    ),
    "drawdown.png": FigureSpec("risk", "Drawdown of the cumulative excess return."),
    "rolling_ir.png": FigureSpec(
        "risk", "Information ratio of the excess return over a rolling window, once it is full."
    ),
    "training_curve.png": FigureSpec(
        "model",
        "Loss and validation IC by epoch: the GRU pretraining (shaded), then the model's own "
        "training.",
        wide=True,
    ),
    "baselines.png": FigureSpec(
        "model",
        "Cumulative daily IC of the model and of its baselines on the test days.",
        wide=True,
    ),
}


def render_figures(
    backtest=None,
    signal=None,
    *,
    benchmark="benchmark",
    baselines=None,
    training=None,
    model_name="model",
) -> dict[str, bytes]:
    """Every figure the inputs allow, as ``{file name: PNG bytes}`` in :data:`FIGURES` order.

    Parameters
    ----------
    backtest : pandas.DataFrame or None
        The daily report of :func:`~igmtf_sklearn.backtest.topk_dropout_backtest`.
    signal : SignalAnalysis or None
        The result of :func:`~igmtf_sklearn.backtest.signal_analysis`.
    benchmark : str
        The benchmark's name, for the legends.
    baselines : dict of str to SignalAnalysis or None
        Other models' analyses on the same days.
    training : pandas.DataFrame or None
        The model's :func:`~igmtf_sklearn.metrics.training_curve`.
    model_name : str
        The model's name beside its baselines.
    """
    drawn = {}
    if signal is not None:
        drawn["ic.png"] = lambda: signal_figures.ic_figure(signal.ic)
        drawn["ic_distribution.png"] = lambda: signal_figures.ic_distribution_figure(signal.ic)
        drawn["monthly_ic.png"] = lambda: signal_figures.monthly_ic_figure(signal.ic["IC"])
        drawn["group_returns.png"] = lambda: signal_figures.group_returns_figure(
            signal.group_returns
        )
        drawn["group_means.png"] = lambda: signal_figures.group_means_figure(signal.group_returns)
        if signal.stability is not None:
            drawn["score_stability.png"] = lambda: signal_figures.stability_figure(signal.stability)
        if signal.hit_rate is not None:
            drawn["hit_rate.png"] = lambda: signal_figures.hit_rate_figure(signal.hit_rate)
        if baselines:
            ics = {model_name: signal.ic, **{k: v.ic for k, v in baselines.items()}}
            drawn["baselines.png"] = lambda: model.baselines_figure(ics)
    if backtest is not None:
        drawn["cumulative_return.png"] = lambda: portfolio.cumulative_return_figure(
            backtest, benchmark
        )
        drawn["exposure.png"] = lambda: portfolio.exposure_figure(backtest)
        drawn["turnover.png"] = lambda: portfolio.turnover_figure(backtest)
        drawn["drawdown.png"] = lambda: portfolio.drawdown_figure(backtest)
        drawn["rolling_ir.png"] = lambda: portfolio.rolling_ir_figure(backtest)
    if training is not None and len(training):
        drawn["training_curve.png"] = lambda: model.training_curve_figure(training)
    return {name: drawn[name]() for name in FIGURES if name in drawn}
