"""
A Qlib workflow as an ``igmtf run`` configuration
=================================================

Qlib runs an experiment from a ``workflow_config_*.yaml`` with ``qrun``;
``igmtf run CONFIG.yaml`` (:func:`~igmtf_sklearn.workflow.run_workflow` in
Python) runs the same chain here: data, date segments, Alpha360 features,
Qlib's processors, IGMTF validated on the valid segment, predictions, signal
analysis, a TopK-Dropout backtest and an HTML report.

The configuration below is the shape of the one converted from Qlib's IGMTF
benchmark in :doc:`/qlib_migration`, with a simulated market in place of
``provider_uri`` and a tiny network, so that it runs in seconds. The saved
model is then loaded back with :func:`~igmtf_sklearn.persistence.load_model`,
which runs no code from the file.
"""

# %%
# The configuration
# -----------------
# Each comment names the Qlib key the line replaces.
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from igmtf_sklearn.datasets import make_stock_panel
from igmtf_sklearn.persistence import load_model
from igmtf_sklearn.preprocessing import Alpha360
from igmtf_sklearn.workflow import run_workflow

config = yaml.safe_load(
    """
data:                    # qlib_init.provider_uri, market, benchmark
  synthetic: {n_instruments: 40, n_days: 220, random_state: 0, start: 2020-01-01}
segments:                # task.dataset.kwargs.segments
  train: [2020-01-01, 2020-06-30]
  valid: [2020-07-01, 2020-08-31]
  test: [2020-09-01, 2020-11-04]
features:
  window: 10             # Alpha360 (Qlib's handler: 60)
model:                   # task.model.kwargs
  hidden_size: 8
  num_layers: 1
  base_model: GRU
  lr: 1.0e-3
  max_epochs: 3          # n_epochs
  patience: 3            # early_stop (on the valid IC: metric ic)
  pretrain_epochs: 2     # replaces model_path: the GRU base is trained inside fit
  random_state: 0        # seed
  verbose: 0
backtest:                # port_analysis_config
  topk: 10
  n_drop: 2
  open_cost: 0.0005
  close_cost: 0.0015
  min_cost: 5
  limit_threshold: 0.095
title: IGMTF on a simulated market
"""
)

# %%
# Run it
# ------
folder = Path(tempfile.mkdtemp())
config["output_dir"] = str(folder / "run")
result = run_workflow(config, progress=False)
sorted(p.name for p in result["output_dir"].iterdir())

# %%
# ``metrics.json`` holds the signal summary (Qlib's ``SigAnaRecord``) and the
# risk analysis of the excess returns (``PortAnaRecord``).
metrics = result["metrics"]
pd.DataFrame(
    {key: metrics[key] for key in ("excess_return_without_cost", "excess_return_with_cost")}
).round(4)

# %%
metrics["signal"]

# %%
# Load the saved model
# --------------------
# ``model.pt`` holds tensors, numbers and strings only: loading it runs no
# code, unlike a pickle. The loaded pipeline predicts exactly as the fitted one.
model = load_model(result["output_dir"] / "model.pt")
predictions = result["predictions"]  # test scores and labels: Qlib's pred.pkl and label

# The same test features, rebuilt from the same simulated market.
ohlcv = make_stock_panel(**config["data"]["synthetic"])
X = Alpha360(window=10).fit_transform(ohlcv)
X_test = X.loc[predictions.index]
print("largest difference:", abs(model.predict(X_test) - predictions["score"]).max())
predictions.head()
