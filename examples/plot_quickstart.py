"""
Quick start: IGMTF on a simulated market
=========================================

The whole flow of the user guide on a market small enough to train in seconds:
simulate a panel with :func:`~igmtf_sklearn.datasets.make_stock_panel` (which
also returns the true expected return, the *oracle*), build Alpha360 features
and Qlib's label once over the whole panel, split by date, fit
``RobustZScoreNorm -> Fillna -> IGMTFRegressor`` and score the test days with
the daily IC. The network is tiny (8 hidden units, a few epochs); with Qlib's
settings the same code runs for hours on CSI 300.
"""

# %%
# A simulated market
# ------------------
# A panel is a frame indexed by ``(datetime, instrument)``: one row per
# instrument and trading day (see :doc:`/panel`).
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.pipeline import make_pipeline

from igmtf_sklearn import IGMTFRegressor
from igmtf_sklearn.datasets import make_stock_panel
from igmtf_sklearn.metrics import daily_ic, ic_summary
from igmtf_sklearn.preprocessing import Alpha360, Fillna, RobustZScoreNorm, forward_return

ohlcv, oracle = make_stock_panel(40, 200, return_signal=True, random_state=0)
ohlcv.head()

# %%
# Features, label and date segments
# ---------------------------------
# Alpha360 over 10 days of history (Qlib uses 60) and the label
# ``close[t+2] / close[t+1] - 1``, both computed on the whole panel before
# splitting, so that the first test day keeps its history. Two trading days
# separate the training labels from the test days.
X = Alpha360(window=10).fit_transform(ohlcv)
y = forward_return(ohlcv)
dates = X.index.get_level_values("datetime")
days = dates.unique()
train = dates <= days[139]
test = dates >= days[142]
print(f"{X.shape[1]} features; {train.sum()} training rows, {test.sum()} test rows")

# %%
# Fit the pipeline
# ----------------
# ``fit`` pretrains the GRU base (``pretrain_epochs``), copies it into IGMTF's
# encoder, then trains one trading day per step, validating by date on the last
# 20 % of the training days.
model = make_pipeline(
    RobustZScoreNorm(clip_outlier=True),
    Fillna(),
    IGMTFRegressor(
        hidden_size=8,
        num_layers=1,
        k_day=5,
        n_neighbor=5,
        pretrain_epochs=3,
        max_epochs=4,
        lr=1e-3,
        random_state=0,
        verbose=0,
    ),
)
model.fit(X[train], y[train])

# %%
# Score the test days
# -------------------
# IGMTF, the GRU it was pretrained from (``pretrained_model_``) and the oracle.
igmtf = model[-1]
scores = {
    "IGMTF": model.predict(X[test]),
    "GRU alone": igmtf.pretrained_model_.predict(model[:-1].transform(X[test])),
    "oracle": oracle[test].to_numpy(),
}
pd.DataFrame({name: ic_summary(y[test], s) for name, s in scores.items()}).T.round(3)

# %%
# The daily IC over the test days, cumulated: a steadily rising line is a
# signal that ranks the day's stocks right more often than not.
fig, ax = plt.subplots(figsize=(7, 3.5))
for name, s in scores.items():
    daily_ic(y[test], s).cumsum().plot(ax=ax, label=name)
ax.set_ylabel("cumulative daily IC")
ax.set_xlabel("")
ax.legend()
fig.tight_layout()
