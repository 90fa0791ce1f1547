"""The training curve of a fitted network: loss and validation IC epoch by epoch."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import validate_params

__all__ = ["training_curve"]

#: Columns read from a skorch history row, and the names they get.
_COLUMNS = {
    "train_loss": "train loss",
    "valid_loss": "valid loss",
    "valid_ic": "valid IC",
    "dur": "seconds",
}


def _history_rows(net, stage: str, history_name: str = "history") -> list[dict]:
    history = getattr(net, history_name, None)
    rows = []
    for epoch, row in enumerate(history or (), start=1):
        values = {name: row.get(key) for key, name in _COLUMNS.items()}
        rows.append({"stage": stage, "epoch": epoch, **values})
    return rows


# Any object with a skorch-style ``history`` (or a pipeline ending in one): duck-typed,
# like scikit-learn's ``check_is_fitted``, so the check is left to the function.
@validate_params({"model": "no_validation"}, prefer_skip_nested_validation=True)
def training_curve(model) -> pd.DataFrame:
    """Loss and validation IC by epoch of a fitted network, its pretraining first.

    Parameters
    ----------
    model : estimator or sklearn.pipeline.Pipeline
        A fitted skorch network of this package (e.g. ``IGMTFRegressor``,
        ``RNNRegressor``), or a pipeline ending with one. Its
        ``pretrained_model_``, when it has one (IGMTF's GRU pretraining), comes
        first. An ensemble (``VotingRegressor``) is refused: pass one of its
        members. A network fitted with ``refit=True`` gives the validated fit's
        epochs, then the refit's.

    Returns
    -------
    curve : pandas.DataFrame
        One row per epoch: ``stage`` (``"pretraining"``, or ``"training"``
        for the model itself; with ``refit=True`` then ``"refit pretraining"``
        and ``"refit training"``), ``epoch`` (from 1 within each stage), ``train
        loss``, ``valid loss``, ``valid IC`` (NaN without a validation set)
        and ``seconds``. Empty when the model has no history.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from igmtf_sklearn.metrics import training_curve
    >>> gru = SimpleNamespace(history=[{"train_loss": 1.0, "valid_loss": 1.2, "valid_ic": 0.01}])
    >>> net = SimpleNamespace(pretrained_model_=gru, history=[
    ...     {"train_loss": 0.9, "valid_loss": 1.1, "valid_ic": 0.03, "dur": 2.0}])
    >>> training_curve(net)[["stage", "epoch", "train loss", "valid IC"]]
             stage  epoch  train loss  valid IC
    0  pretraining      1         1.0      0.01
    1     training      1         0.9      0.03
    """
    steps = getattr(model, "steps", None)
    if steps:  # a Pipeline: its last step is the network
        model = steps[-1][1]
    if hasattr(model, "estimators_") and not hasattr(model, "history"):
        raise TypeError(
            f"training_curve reads one network's history; {type(model).__name__} is an "
            "ensemble of several. Pass one of its members, e.g. ensemble.estimators_[0]."
        )
    base = getattr(model, "pretrained_model_", None)
    if hasattr(model, "validation_history_"):  # refit=True: the validated fit, then the refit
        rows = _history_rows(base, "pretraining", "validation_history_")
        rows += _history_rows(model, "training", "validation_history_")
        rows += _history_rows(base, "refit pretraining")
        rows += _history_rows(model, "refit training")
    else:
        rows = _history_rows(base, "pretraining")
        rows += _history_rows(model, "training")
    curve = pd.DataFrame(rows, columns=["stage", "epoch", *_COLUMNS.values()])
    for name in _COLUMNS.values():
        curve[name] = pd.to_numeric(curve[name], errors="coerce").astype(np.float64)
    return curve
