"""The estimators' ``refit``: fit again on the validation days, for the epochs validation chose.

Validation costs the days it holds out, and they are the most recent ones: Qlib's
benchmark predicts its test year with a model that never trained on the year just
before it. With ``refit=True``, ``fit`` first trains with validation as usual, then,
as ``GridSearchCV(refit=True)`` fits again once a choice is made, trains a new network
on the training and validation days together, for the epochs early stopping kept
(IGMTF's and its pretrained base's), with no validation left to stop on. The refit
is the recipe ``IGMTFRegressor(pretrain_epochs=P, max_epochs=E, train_split=None)``,
run with the same ``random_state``: the tests hold it to that, bit for bit.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from ._day_data import DayPanel


def kept_epochs(net):
    """Epochs of ``net``'s fit whose weights it kept: early stopping's best epoch, or
    every epoch when nothing stopped it."""
    stopping = dict(net.callbacks_).get("early_stopping")
    if stopping is None:
        return len(net.history)
    return int(stopping.best_epoch_)


def refit_panel(panel, train, valid):
    """Every labelled day of a fit: ``panel`` when ``train_split`` split it into
    ``train`` and ``valid``; else (``ExplicitValidation``, whose days come from
    elsewhere) ``panel`` and ``valid`` merged in date order.

    ``ExplicitValidation``'s days must not repeat a training day, or the refit would
    train twice on it.
    """
    if train is not panel:
        return panel
    dates = np.concatenate([panel.dates, valid.dates])
    repeated = np.intersect1d(panel.dates, valid.dates)
    if len(repeated):
        raise ValueError(
            f"refit=True trains on the training and validation days together, but "
            f"{len(repeated)} validation day(s) are also training days (first "
            f"{str(repeated[0])[:10]}). Give ExplicitValidation days the training features "
            "do not hold, or set refit=False."
        )
    days = [(panel, d) for d in range(panel.n_days)] + [(valid, d) for d in range(valid.n_days)]
    order = np.argsort(dates, kind="stable")
    rows = [days[i][0].day_rows(days[i][1]) for i in order]
    sources = [days[i][0] for i in order]
    X = torch.cat([source.X[r] for source, r in zip(sources, rows, strict=True)])
    y = torch.cat([source.y[r] for source, r in zip(sources, rows, strict=True)])
    counts = np.concatenate([panel.counts, valid.counts])[order]
    return DayPanel(X, y, counts, dates[order])


@contextlib.contextmanager
def parameters_set(net, **params):
    """Set ``net``'s parameters for the duration of a block, then restore them: the
    refit trains under other epochs and no validation, and ``fit`` leaves every
    parameter as it was given."""
    saved = {name: getattr(net, name) for name in params}
    try:
        for name, value in params.items():
            setattr(net, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(net, name, value)


def check_refit(net):
    """Refuse a ``refit`` that cannot be done, before any work."""
    if not net.refit:
        return
    if net.train_split is None:
        raise ValueError(
            "refit=True fits again on the validation days for the epochs validation chose, "
            "but train_split=None holds out no validation days: every day is trained on "
            "already. Set refit=False, or give a train_split."
        )
    for callback in net.callbacks or ():
        callback = callback[1] if isinstance(callback, tuple) else callback
        monitor = getattr(callback, "monitor", None)
        if isinstance(monitor, str) and monitor.startswith("valid"):
            raise ValueError(
                f"refit=True trains its second fit without validation, so the callback "
                f"{type(callback).__name__}(monitor={monitor!r}) would find no validation score "
                "there. Give it monitor=None or a callable, or set refit=False."
            )
    if net.warm_start:
        raise ValueError(
            "refit=True trains a new network on every day once validation has chosen its "
            "epochs; it cannot continue a fitted one. Set warm_start=False, or refit=False."
        )
