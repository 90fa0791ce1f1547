"""The report's tables and headline figures, computed from a backtest and a signal analysis."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..backtest import risk_analysis, yearly_analysis
from ..backtest._risk import PERIODS_PER_YEAR
from ..metrics import ic_distribution
from ._portfolio_figures import excess_returns

#: Days a year of the risk tables (Qlib's ``risk_analysis``).
RISK_DAYS = PERIODS_PER_YEAR["day"]
#: The IC statistics that compare the model with its baselines.
_COMPARED = ("IC", "ICIR", "Rank IC", "Rank ICIR", "Long-Short Ann Return")


def _days(n) -> str:
    return f"{n:g} days a year"


def signal_tables(signal, baselines, model_name) -> dict:
    """The signal section's tables, and the model section's comparison with the baselines."""
    summary = dict(signal.summary)
    if signal.hit_rate is not None:
        summary["Hit Rate (mean)"] = float(signal.hit_rate["hit rate"].mean())
        summary["Instruments Scored (mean)"] = float(signal.hit_rate["scored"].mean())
    if signal.stability is not None:
        for name, values in signal.stability.items():
            summary[f"{name.capitalize()} (mean)"] = float(values.mean())
    tables = {
        f"Signal on the test days (annualised with {_days(signal.ann_scaler)})": summary,
        "Daily IC distribution": ic_distribution(signal.ic),
    }
    model = {}
    if baselines:
        analyses = {model_name: signal, **baselines}
        comparison = pd.DataFrame(
            {name: {k: a.summary.get(k, np.nan) for k in _COMPARED} for name, a in analyses.items()}
        ).T
        model[f"{model_name} beside its baselines on the test days"] = comparison
    return {"signal": tables, "model": model}


def backtest_tables(backtest: pd.DataFrame, benchmark: str) -> dict:
    """The portfolio section's yearly table and the risk section's ``risk_analysis`` table."""
    excess = excess_returns(backtest)
    risk = pd.DataFrame(
        {
            "portfolio, with cost": risk_analysis(backtest["return_gross"] - backtest["cost"]),
            f"benchmark ({benchmark})": risk_analysis(backtest["bench"]),
            "excess, no cost": risk_analysis(excess["no cost"]),
            "excess, with cost": risk_analysis(excess["with cost"]),
        }
    )
    return {
        "portfolio": {
            f"Year by year (sums of daily returns; information ratio annualised with "
            f"{_days(RISK_DAYS)})": yearly_analysis(backtest),
        },
        "risk": {
            f"risk_analysis of the daily returns (Qlib's sum mode, annualised with "
            f"{_days(RISK_DAYS)})": risk.T,
        },
    }


def _tone(value, good_above=0.0) -> str:
    if not np.isfinite(value):
        return ""
    return "good" if value > good_above else "bad"


def headline_cards(backtest, signal, baselines, model_name) -> list:
    """The summary block's ``(label, value, tone)`` cards."""
    cards = []
    if signal is not None:
        s = signal.summary
        cards += [
            ("IC (mean daily)", f"{s['IC']:.4f}", _tone(s["IC"])),
            ("ICIR", f"{s['ICIR']:.3f}", _tone(s["ICIR"])),
            ("Rank IC (mean daily)", f"{s['Rank IC']:.4f}", _tone(s["Rank IC"])),
            ("Rank ICIR", f"{s['Rank ICIR']:.3f}", _tone(s["Rank ICIR"])),
            (
                f"Long-short return a year ({signal.ann_scaler:g} days)",
                f"{s['Long-Short Ann Return']:.2%}",
                _tone(s["Long-Short Ann Return"]),
            ),
        ]
        if signal.hit_rate is not None:
            rate = float(signal.hit_rate["hit rate"].mean())
            cards.append(("Hit rate", f"{rate:.1%}", _tone(rate, 0.5)))
    if baselines:
        for name, analysis in baselines.items():
            ic = analysis.summary["IC"]
            cards.append((f"IC of {name} (vs {model_name})", f"{ic:.4f}", ""))
    if backtest is not None:
        risk = risk_analysis(excess_returns(backtest)["with cost"])
        cards += [
            (
                f"Excess return a year, with cost ({RISK_DAYS} days)",
                f"{risk['annualized_return']:.2%}",
                _tone(risk["annualized_return"]),
            ),
            (
                "Information ratio, with cost",
                f"{risk['information_ratio']:.2f}",
                _tone(risk["information_ratio"]),
            ),
            ("Max drawdown of the excess", f"{risk['max_drawdown']:.2%}", ""),
            ("Turnover a day (mean)", f"{backtest['turnover'].mean():.1%}", ""),
            ("Holdings (mean)", f"{backtest['n_holdings'].mean():.1f}", ""),
        ]
    return cards
