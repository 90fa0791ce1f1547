"""
How IGMTF chooses its neighbours
================================

IGMTF scores a day's stocks in three steps (see :doc:`/igmtf`):

1. encode each stock's history into a hidden state ``h``;
2. **day level**: compare the day's mean hidden state with the mean of every
   training day stored in the memory bank (cosine similarity) and keep the
   ``k_day`` most similar days;
3. **instance level**: among the stored stocks of those days, find for each
   stock the ``n_neighbor`` whose (projected) hidden states are most similar
   to its own, and add their similarity-weighted sum to its representation
   before the linear head.

This example fits a small model on a simulated market and redoes both
selections for one test day with the fitted model's own layers and memory
bank, then draws them.
"""

# %%
# A small fitted model
# --------------------
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.pipeline import make_pipeline

from igmtf_sklearn import IGMTFRegressor
from igmtf_sklearn.datasets import make_stock_panel
from igmtf_sklearn.preprocessing import Alpha360, Fillna, RobustZScoreNorm, forward_return

ohlcv = make_stock_panel(30, 160, random_state=1)
X, y = Alpha360(window=10).fit_transform(ohlcv), forward_return(ohlcv)
dates = X.index.get_level_values("datetime")
days = dates.unique()
train, test = dates <= days[119], dates >= days[122]

k_day, n_neighbor = 5, 8
model = make_pipeline(
    RobustZScoreNorm(clip_outlier=True),
    Fillna(),
    IGMTFRegressor(
        hidden_size=8,
        num_layers=1,
        k_day=k_day,
        n_neighbor=n_neighbor,
        pretrain_epochs=2,
        max_epochs=2,
        lr=1e-3,
        random_state=0,
        verbose=0,
    ),
)
model.fit(X[train], y[train])
igmtf, net = model[-1], model[-1].module_

# %%
# The memory bank holds the hidden state of every training row, grouped by
# day, and each day's mean.
bank = igmtf.memory_bank_
bank_dates = pd.DatetimeIndex(igmtf.memory_bank_dates_)
print({name: tuple(value.shape) for name, value in bank.items()})

# %%
# Day level: the ``k_day`` most similar training days
# ---------------------------------------------------
# One test day, encoded by the fitted network; its mean hidden state against
# every stored day's mean.
day = days[140]
X_day = model[:-1].transform(X.xs(day, level="datetime", drop_level=False))
with torch.no_grad():
    h = net.encode(torch.tensor(X_day.to_numpy(), dtype=torch.float32))
    day_similarity = torch.nn.functional.cosine_similarity(
        h.mean(0, keepdim=True), bank["day_mean"]
    ).numpy()
chosen_days = np.argsort(-day_similarity)[:k_day]

# %%
# Instance level: the ``n_neighbor`` most similar stored stocks
# -------------------------------------------------------------
# The candidates are the stored stocks of the chosen days, passed through the
# two linear layers and ``project2``; a stock is compared through ``project1``.
stock = 0
with torch.no_grad():
    rows = bank["mask"][chosen_days]
    candidates = net.project2(net.lins(bank["hidden"][chosen_days][rows]))
    query = net.project1(h[stock : stock + 1])
    similarity = torch.nn.functional.cosine_similarity(query, candidates).numpy()
candidate_day = np.repeat(np.arange(k_day), rows.sum(1).numpy())
neighbours = np.argsort(-similarity)[:n_neighbor]

# %%
# The figure
# ----------
instrument = X_day.index.get_level_values("instrument")[stock]
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), width_ratios=(3, 2))
left.plot(bank_dates, day_similarity, color="0.6", lw=1, label="stored training day")
left.scatter(
    bank_dates[chosen_days],
    day_similarity[chosen_days],
    color="C3",
    zorder=3,
    label=f"the k_day={k_day} most similar",
)
left.set_title(f"Day level: {day:%Y-%m-%d} against the memory bank")
left.set_ylabel("cosine similarity of day means")
left.legend(loc="lower left", fontsize="small")
left.tick_params(axis="x", labelrotation=30)

jitter = np.random.default_rng(0).uniform(-0.2, 0.2, len(similarity))
right.scatter(candidate_day + jitter, similarity, s=12, color="0.6", label="candidate stock")
right.scatter(
    candidate_day[neighbours] + jitter[neighbours],
    similarity[neighbours],
    s=24,
    color="C0",
    label=f"the n_neighbor={n_neighbor} nearest",
)
right.set_xticks(range(k_day), [f"{d:%m-%d}" for d in bank_dates[chosen_days]])
right.set_xlabel("chosen day")
right.set_ylabel("cosine similarity")
right.set_title(f"Instance level: neighbours of {instrument}")
right.legend(loc="lower left", fontsize="small")
fig.tight_layout()

# %%
# The model's prediction for the day uses exactly these choices: each stock's
# representation is concatenated with the sum of its neighbours weighted by
# ``cosine / n_neighbor``, and a linear layer maps the pair to a score.
model.predict(X.xs(day, level="datetime", drop_level=False))[:5]
