"""Loss, scoring and callbacks used while the networks train.

Everything here works on tensors as the batches come (padded days, NaN where a
label is unknown), so no batch goes back to the host to be scored.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from skorch.callbacks import Callback, EarlyStopping


def ic_early_stopping(patience):
    """Early stopping on ``valid_ic`` that restores the best epoch, as Qlib's IGMTF stops:
    it keeps the epoch with the highest validation score, strictly higher."""
    return EarlyStopping(
        monitor="valid_ic",
        lower_is_better=False,
        patience=patience,
        threshold=0.0,
        threshold_mode="abs",
        load_best=True,
    )


class MaskedMSELoss(torch.nn.Module):
    """Mean squared error over the targets that are finite.

    Targets are NaN where a label is unknown or a padded batch has no row; Qlib's
    ``loss_fn`` masks them the same way. Shapes must match exactly: a silently
    broadcast ``[N, 1]`` against ``[N]`` would compare every pair of rows.

    Examples
    --------
    >>> import torch
    >>> from igmtf_sklearn.nets import MaskedMSELoss
    >>> y_pred, y_true = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, float("nan"), 5.0])
    >>> MaskedMSELoss()(y_pred, y_true)  # (0 + 2 ** 2) / 2 known labels
    tensor(2.)
    """

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        if y_pred.shape != y_true.shape:
            raise ValueError(
                f"Prediction shape {tuple(y_pred.shape)} does not match target shape "
                f"{tuple(y_true.shape)}."
            )
        known = torch.isfinite(y_true)
        error = torch.where(known, y_pred - torch.nan_to_num(y_true), 0.0)
        return error.square().sum() / known.sum().clamp(min=1)


def _daily_pearson(y_pred, y_true):
    """Per-day Pearson correlation of padded day batches ``[n_days, max_rows]``.

    NaN labels (unknown, or padding) are left out. Returns the correlations and a
    mask of the days where one is defined (two known labels, spread in both).
    Differentiable in ``y_pred``.
    """
    if y_true.dim() == 1:
        y_pred, y_true = y_pred.unsqueeze(0), y_true.unsqueeze(0)
    known = torch.isfinite(y_true)
    weight = known.to(y_pred.dtype)
    count = weight.sum(1)
    pred = torch.where(known, y_pred, 0.0)
    true = torch.nan_to_num(y_true)
    pred_dev = (pred - (pred.sum(1) / count.clamp(min=1)).unsqueeze(1)) * weight
    true_dev = (true - (true.sum(1) / count.clamp(min=1)).unsqueeze(1)) * weight
    cov = (pred_dev * true_dev).sum(1)
    scale = torch.sqrt(pred_dev.square().sum(1) * true_dev.square().sum(1))
    valid = (count >= 2) & (scale > 0)
    return torch.where(valid, cov / torch.where(valid, scale, 1.0), 0.0), valid


class DailyICLoss(torch.nn.Module):
    """Negative mean daily Pearson IC: train on the metric the model is judged by.

    IGMTF trains one trading day per step, so each step's loss is minus that day's
    correlation between predictions and labels (with padded day batches, minus
    the mean over the days). It is blind to the predictions' level and scale,
    which a cross-sectional ranking does not use; MSE also spends capacity on
    them. NaN labels are ignored, as by :class:`MaskedMSELoss`.

    Examples
    --------
    >>> import torch
    >>> from igmtf_sklearn import DailyICLoss
    >>> y_true = torch.tensor([1.0, 2.0, 3.0, float("nan")])
    >>> DailyICLoss()(torch.tensor([0.1, 0.2, 0.3, 9.0]), y_true)  # a perfect day
    tensor(-1.)
    >>> DailyICLoss()(torch.tensor([0.3, 0.2, 0.1, 9.0]), y_true)  # a reversed one
    tensor(1.)
    """

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        if y_pred.shape != y_true.shape:
            raise ValueError(
                f"Prediction shape {tuple(y_pred.shape)} does not match target shape "
                f"{tuple(y_true.shape)}."
            )
        ic, valid = _daily_pearson(y_pred, y_true)
        return -ic.sum() / valid.sum().clamp(min=1)


def daily_ic_sums(y_pred, y_true):
    """Sum and count of the per-day Pearson ICs of padded day batches.

    Parameters
    ----------
    y_pred, y_true : torch.Tensor of shape (n_days, max_rows) or (n_rows,)
        Predictions and labels, NaN labels (padding included) ignored; a 1-D
        pair is one day.

    Returns
    -------
    ic_sum : float
        Sum of the ICs of the days with at least two known labels and some
        spread in both predictions and labels.
    n_days : int
        Number of such days.
    """
    ic, valid = _daily_pearson(y_pred, y_true)
    return float(ic.sum()), int(valid.sum())


class ValidDailyIC(Callback):
    """Record the mean daily IC of the validation predictions as ``valid_ic``.

    It reads the predictions the validation step already made (no second pass)
    and the labels of the same batch; each batch holds whole days.
    """

    def on_epoch_begin(self, net, **kwargs):
        self.ic_sum_, self.n_days_ = 0.0, 0

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        if training:
            return
        ic_sum, n_days = daily_ic_sums(y_pred.detach(), batch[1])
        self.ic_sum_ += ic_sum
        self.n_days_ += n_days

    def on_epoch_end(self, net, dataset_valid=None, **kwargs):
        if dataset_valid is None:
            return
        ic = self.ic_sum_ / self.n_days_ if self.n_days_ else np.nan
        net.history.record("valid_ic", ic)


class GradientValueClipping(Callback):
    """Clip every gradient element to ``[-clip_value, clip_value]`` before each step.

    Qlib's IGMTF and GRU models do this (``clip_grad_value_(..., 3.0)``); skorch
    ships only norm clipping.

    Parameters
    ----------
    clip_value : float, default=3.0
        Largest absolute gradient element; None disables clipping.
    """

    def __init__(self, clip_value=3.0):
        self.clip_value = clip_value

    def on_grad_computed(self, net, named_parameters, **kwargs):
        if self.clip_value is None:
            return
        torch.nn.utils.clip_grad_value_((p for _, p in named_parameters), self.clip_value)


class StageTimer:
    """Context manager that records a stage's wall seconds in the net's history."""

    def __init__(self, net, key):
        self.net, self.key = net, key

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.net.history.record(self.key, time.perf_counter() - self.start)
