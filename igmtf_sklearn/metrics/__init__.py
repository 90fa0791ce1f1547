"""Information-coefficient (IC) metrics and scorers for panel predictions.

Daily series (:func:`daily_ic`, :func:`daily_rank_ic`), their Qlib summaries
(:func:`mean_ic`, :func:`icir`, :func:`mean_rank_ic`, :func:`rank_icir`,
:func:`ic_summary`) and scorers for ``scoring=`` in scikit-learn's model
selection tools (:data:`ic_scorer`, :data:`rank_ic_scorer`, :data:`icir_scorer`,
:data:`rank_icir_scorer`, :data:`ic_summary_scorer`); the daily IC's distribution
(:func:`ic_distribution`, :func:`ic_qq`) and calendar (:func:`monthly_ic_table`);
and a fitted network's :func:`training_curve`.
"""

from igmtf_sklearn.metrics._ic import daily_ic, daily_rank_ic
from igmtf_sklearn.metrics._ic_analysis import ic_distribution, ic_qq, monthly_ic_table
from igmtf_sklearn.metrics._scorer import (
    ic_scorer,
    ic_summary_scorer,
    icir_scorer,
    rank_ic_scorer,
    rank_icir_scorer,
)
from igmtf_sklearn.metrics._summary import (
    UndefinedICWarning,
    ic_summary,
    icir,
    mean_ic,
    mean_rank_ic,
    rank_icir,
)
from igmtf_sklearn.metrics._training import training_curve

__all__ = [
    "UndefinedICWarning",
    "daily_ic",
    "daily_rank_ic",
    "ic_scorer",
    "ic_summary",
    "ic_summary_scorer",
    "icir",
    "ic_distribution",
    "ic_qq",
    "icir_scorer",
    "mean_ic",
    "mean_rank_ic",
    "monthly_ic_table",
    "rank_ic_scorer",
    "rank_icir",
    "rank_icir_scorer",
    "training_curve",
]
