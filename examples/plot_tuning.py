"""
Tuning with date-aware cross-validation and the daily IC
========================================================

scikit-learn's splitters count rows; on a panel they would cut a trading day in
two and let training labels overlap the test days.
:class:`~igmtf_sklearn.model_selection.WalkForwardSplit` cuts on dates and drops
a gap of trading days before each test window, and the IC scorers of
:mod:`igmtf_sklearn.metrics` score each fold by its mean daily IC. Together
they make ``GridSearchCV`` tune the whole pipeline as Qlib users measure it.

The grid and the networks are tiny so that the search runs in seconds; see
:doc:`/model_selection` for a real search and for running one on a Dask
cluster.
"""

# %%
# Features once, over the whole panel
# -----------------------------------
# Alpha360 looks back ``window`` days: computed inside a fold, the first days of
# each fold would lose their history. It only looks backwards, so computing it
# once before the search leaks nothing.
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from igmtf_sklearn import IGMTFRegressor
from igmtf_sklearn.datasets import make_stock_panel
from igmtf_sklearn.metrics import ic_scorer, rank_ic_scorer
from igmtf_sklearn.model_selection import WalkForwardSplit
from igmtf_sklearn.preprocessing import Alpha360, Fillna, RobustZScoreNorm, forward_return

ohlcv = make_stock_panel(30, 160, random_state=2)
X, y = Alpha360(window=10).fit_transform(ohlcv), forward_return(ohlcv)

# %%
# Folds on dates
# --------------
# Two forward-only folds of 20 test days, each trained on the days before it
# minus a two-day gap (the label looks two days ahead).
cv = WalkForwardSplit(n_splits=2, test_days=20, gap_days=2)
folds = cv.fold_dates(X)
folds

# %%
fig, ax = plt.subplots(figsize=(7, 1.8))
for fold, row in folds.iterrows():
    for first, last, color, label in (
        (row.train_first, row.train_last, "C0", "train"),
        (row.test_first, row.test_last, "C1", "test"),
    ):
        ax.barh(fold, last - first, left=first, color=color, label=label if fold == 0 else None)
ax.set_yticks(folds.index, [f"fold {i}" for i in folds.index])
ax.invert_yaxis()
ax.legend(loc="lower left", fontsize="small")
ax.set_title("WalkForwardSplit: trading days of each fold")
fig.tight_layout()

# %%
# The search
# ----------
# Two learning rates, two folds, scored by the mean daily IC and rank IC;
# ``refit="ic"`` refits the best candidate on all the days.
pipeline = make_pipeline(
    RobustZScoreNorm(clip_outlier=True),
    Fillna(),
    IGMTFRegressor(
        hidden_size=8,
        num_layers=1,
        k_day=5,
        n_neighbor=5,
        pretrain_epochs=1,
        max_epochs=2,
        random_state=0,
        verbose=0,
    ),
)
search = GridSearchCV(
    pipeline,
    {"igmtfregressor__lr": [1e-4, 1e-3]},
    cv=cv,
    scoring={"ic": ic_scorer, "rank_ic": rank_ic_scorer},
    refit="ic",
    n_jobs=1,
)
search.fit(X, y)
columns = ["param_igmtfregressor__lr", "mean_test_ic", "mean_test_rank_ic", "rank_test_ic"]
pd.DataFrame(search.cv_results_)[columns]

# %%
# ``search.best_estimator_`` is the refitted pipeline; it predicts like any
# other.
search.best_params_

# %%
# The same search on a Dask cluster
# ---------------------------------
# Not run here: with ``dask[distributed]`` installed, the fits go to the
# cluster's workers through joblib, and
# :func:`~igmtf_sklearn.model_selection.configure_dask_workers` sets torch's
# thread count on each of them::
#
#     import joblib
#     from dask.distributed import Client
#     from igmtf_sklearn.model_selection import configure_dask_workers
#
#     client = Client("tcp://scheduler:8786")  # or Client() for a local cluster
#     configure_dask_workers(client, torch_threads=1)
#     with joblib.parallel_backend("dask"):
#         search.set_params(n_jobs=-1).fit(X, y)
