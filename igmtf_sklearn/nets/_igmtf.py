"""``IGMTFRegressor``: Qlib's IGMTF as a scikit-learn estimator, the product.

``fit`` pretrains the GRU/LSTM base (``RNNRegressor``, Qlib's GRU/LSTM Alpha360
model) on random row batches, copies its recurrent weights into IGMTF's
encoder, then trains IGMTF one trading day per step. At the start of each epoch
the memory bank (hidden states of every training row, grouped by day) is rebuilt
in eval mode (``_memory_bank``); it lives in the module's buffers, so early
stopping restores the best weights together with the bank they were scored
with, and ``predict`` needs no training data.
"""

from __future__ import annotations

import os
from numbers import Integral, Real
from typing import TYPE_CHECKING

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import _SCORING_ROWS, _draw_seed, _PanelNet
from ._base_fallback import _BaseFallbackMixin
from ._date_split import DateValidSplit
from ._day_data import DayBlockIterator, OneDayIterator
from ._memory_bank import _MemoryBankMixin
from ._module import IGMTFModule
from ._persistence import register_net
from ._pretrained_base import _PretrainedBaseMixin
from ._rnn import RNNRegressor
from ._training import MaskedMSELoss, ic_early_stopping

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, Literal

    import pandas as pd
    from torch.utils.data import Dataset

    from .._utils._typing import Labels, RandomState

__all__ = ["IGMTFRegressor"]


@register_net
class IGMTFRegressor(_BaseFallbackMixin, _PretrainedBaseMixin, _MemoryBankMixin, _PanelNet):
    """Qlib's IGMTF (instance-wise graph stock-return model) as a scikit-learn estimator.

    ``fit`` takes Alpha360-layout features on a ``(datetime, instrument)``
    index and next-day return labels. It pretrains the GRU/LSTM base
    (:class:`RNNRegressor`) and copies its recurrent weights into IGMTF's
    encoder, then trains IGMTF one trading day per optimisation step, days
    shuffled each epoch. Each epoch starts by rebuilding the memory bank, the
    hidden states of every training row, in large no-grad batches. Validation
    is by date (the last ``valid_size`` of the training days by default), scored
    by the mean daily IC, with early stopping that restores the best weights
    and the memory bank they were scored with. Defaults follow Qlib's IGMTF
    Alpha360 benchmark configuration.

    Parameters
    ----------
    d_feat : int, default=None
        Fields per time step; inferred from Alpha360 column names when None.
    hidden_size : int, default=64
        Width of the recurrent state and hidden representation.
    num_layers : int, default=2
        Stacked recurrent layers.
    dropout : float, default=0.0
        Dropout between recurrent layers.
    base_model : {"GRU", "LSTM"}, default="GRU"
        Recurrent cell.
    k_day : int, default=10
        Most similar training days drawn from per day (Qlib hard-codes 10).
    n_neighbor : int, default=10
        Neighbours aggregated per sample (Qlib hard-codes 10).
    label_neighbors : int, default=0
        When > 0, the model also reads the *known outcomes* of each sample's
        ``label_neighbors`` most similar stored samples: their labels, averaged
        with weights ``max(cos, 0)``, added to the prediction with a learned
        scale. A stored day is a candidate only once its label is known on the
        query day (``label_horizon`` trading days later), in training as in
        prediction, so no label from the query day's future can reach it.
        Grow the bank with newly labelled days with :meth:`extend_memory_bank`.
        0 (the default) is Qlib's model.
    label_horizon : int, default=2
        Trading days after which a day's label is known. Qlib's label
        ``close[t+2] / close[t+1] - 1`` is known two days later. Used only with
        ``label_neighbors``.
    residual_head : bool, default=False
        When True, IGMTF keeps its pretrained base's output layer and predicts
        that GRU's output plus a correction from ``[h, aggregate]`` that starts
        at zero, so that training starts from the pretrained GRU's predictions
        instead of a new, random head. False is Qlib's model, which copies only
        the base's recurrent weights. Needs the base's ``fc_out.*`` weights when
        ``pretrained`` is given.
    same_day_neighbors : int, default=0
        When > 0, each sample also aggregates the ``same_day_neighbors`` samples
        of its own day most similar to it (itself excluded), as the past days'
        neighbours are aggregated, and a linear layer that starts at zero adds
        what it reads from them to the prediction: a cross-sectional graph
        beside Qlib's graph of past days. It uses the day's features only, no
        label. A row's score then depends more on which instruments of its day
        ``X`` holds (Qlib's day-level matching already does): predict the whole
        universe, then select rows. 0 (the default) is Qlib's model.
    bank_refresh : {"epoch", "training_pass"}, default="epoch"
        How the memory bank is refreshed between epochs. ``"epoch"`` (Qlib's):
        every training row is encoded again, in eval mode, with the weights of
        the epoch's start: one more forward pass over the training set per
        epoch, besides the training steps. ``"training_pass"``:
        from the second epoch on, the bank is the hidden states the previous
        epoch's training steps computed anyway, each day's from the weights as
        they were when that day was trained (in train mode, so with dropout
        where there is some). It saves that pass; whether it costs accuracy is
        measured in ``docs/accuracy.md``. With ``"epoch"``, where a second core
        is idle when the fit starts, validation on a CPU runs beside the next
        epoch's bank rebuild, one thread each: both use the weights the epoch
        ended with, so the results are the same and the rebuild's time is hidden.
    label_norm : {"csrank", "cszscore", "csgaussrank", None}, default="csrank"
        Per-day label normalisation applied inside ``fit``: ``"csrank"`` is
        Qlib's ``CSRankNorm``. ``"cszscore"`` keeps the returns' tails: it
        trades rank IC for Pearson IC, and failed on one market of three
        (``docs/accuracy.md``). ``"csgaussrank"`` maps the ranks to normal
        quantiles (:class:`~igmtf_sklearn.preprocessing.CSGaussRankNorm`):
        the ranks' order, with tails. None keeps the raw labels.
    patience : int or None, default=20
        Epochs without a better validation IC before stopping; None disables
        early stopping.
    clip_value : float or None, default=3.0
        Gradient value clipping, as Qlib.
    ema_halflife : float or None, default=None
        When set, the network that is validated, kept by early stopping and
        returned is an exponential moving average of the weights over the
        training steps (Polyak averaging), with this half-life in epochs, in the
        pretraining as in IGMTF's epochs (each its own average); training
        itself goes on from the trained weights. With ``bank_refresh="epoch"``
        the memory bank is rebuilt with the averaged weights. It smooths the
        epoch-to-epoch noise of the validation IC (on CSI 300 consecutive
        epochs of Qlib's GRU scored 0.025 and 0.061). None (the default) is
        Qlib's model.
    pretrain_epochs : int, default=200
        Epochs of base-RNN pretraining at most (it early-stops on validation
        loss after ``pretrain_patience`` epochs); 0 skips pretraining.
    pretrain_lr : float, default=1e-3
        Learning rate of the pretraining.
    pretrain_batch_size : int, default=800
        Rows per pretraining step.
    pretrain_patience : int or None, default=20
        Early-stopping patience of the pretraining.
    pretrain_monitor : {"valid_loss", "valid_ic"}, default="valid_loss"
        What the pretraining's early stopping watches (``RNNRegressor``'s
        ``monitor``): Qlib's GRU stops on the validation loss; ``"valid_ic"`` keeps
        the base's epoch with the best validation IC, the rule IGMTF's own epochs
        follow.
    pretrained : dict, str, os.PathLike, RNNRegressor or None, default=None
        Weights of an already trained base: a state dict or a path to one
        (Qlib's GRU/LSTM ``model_path`` checkpoints load as they are) or a
        fitted :class:`RNNRegressor`. Its ``rnn.*`` weights initialise the
        encoder; pretraining is then skipped.
    random_state : int, RandomState instance or None, default=None
        Seeds weights, pretraining, day order and dropout; the same value gives
        bit-identical predictions on CPU.
    n_threads : "auto", int or None, default="auto"
        torch threads while fitting and predicting; the previous setting is
        restored afterwards. ``"auto"`` is one thread: these networks are too
        small for more to pay (one thread fitted faster than two even on a quiet
        2-core machine, and 4x faster with the other core busy:
        ``benchmarks/bench_threads.py``). An int above the idle cores warns.
        None leaves torch's setting alone.
    module : torch.nn.Module class, default=IGMTFModule
        The network, built with the architecture parameters above (``module__*``
        override them).
    criterion : torch.nn.Module class, default=MaskedMSELoss
        The training loss: :class:`MaskedMSELoss`, Qlib's MSE over the known
        labels, or :class:`DailyICLoss` to train on the daily IC (one day per
        step, so each step's loss is minus that day's IC).
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        The optimizer, Adam as in Qlib; ``optimizer__*`` set its other arguments.
    lr : float, default=1e-4
        Adam learning rate.
    max_epochs : int, default=200
        IGMTF epochs at most.
    batch_size : int, default=512
        Rows per forward pass when building the memory bank and per validation
        block (whole days); 512 keeps a CPU's caches warm, use e.g. 8192 on a
        GPU. Training always takes one whole day per step.
    train_split : callable or None, default=DateValidSplit(0.2, gap_days=2)
        Date-based validation split; ``ExplicitValidation(X_valid, y_valid)`` for a
        fixed validation segment; None trains without validation (and without
        early stopping).
    refit : bool, default=False
        When True, ``fit`` trains with validation as usual, then trains a new
        network on the training and validation days together for the epochs
        early stopping kept (IGMTF's and its pretrained base's), with no
        validation: as ``GridSearchCV(refit=True)`` fits again once a choice
        is made. The validation days are the most recent ones, so the model
        then predicts from them too; it costs a second fit. The validated fit's
        history is kept as ``validation_history_``. Callbacks that watch a
        validation score (e.g. a ``Checkpoint`` on ``valid_loss_best``) are
        refused. False is Qlib's model.
    score_power : "auto", float or None, default=None
        None (Qlib's model): ``predict`` returns the network's outputs. A
        number ``p``: ``predict`` returns each day's z-scored outputs raised
        to ``p``, sign kept, ``sign(z) * |z| ** p``. The order of every day,
        and so the rank IC and any top-k selection, is unchanged; ``p > 1``
        stretches the tails toward the day's extreme returns, which the daily
        Pearson IC rewards. ``"auto"`` chooses ``p`` once training ends, on
        the validation days and against their raw labels: the best mean daily
        IC among 0.5-3, kept only where it beats ``p = 1`` by more than one
        standard error (``docs/accuracy.md``). With ``refit``, the validated
        fit chooses it.
    base_fallback : bool, default=False
        When True, ``fit`` compares IGMTF with the base it pretrained on the
        validation days, by the mean daily IC of the epoch each kept, and
        where the base scores higher the estimator predicts with the base
        alone (``base_chosen_``): ``score_power="auto"`` then chooses on the
        base's validation predictions, and ``refit`` refits the base alone.
        Needs pretraining in ``fit`` and validation. False is Qlib's model.
    **kwargs
        skorch's parameters (``callbacks``, ``device``, ``warm_start``,
        ``verbose``, ``module__*``, ``optimizer__*`` ...).

    Attributes
    ----------
    module_ : IGMTFModule
        The fitted network, memory bank included.
    memory_bank_ : dict of str to torch.Tensor
        ``hidden`` (``[n_days, max_rows, hidden]``), ``mask`` and ``day_mean`` of
        the training days, as stored in ``module_``.
    pretrained_model_ : RNNRegressor or None
        The base RNN pretrained in ``fit`` (None when ``pretrained`` was given or
        pretraining was skipped); ``pretrained_model_.predict(X)`` is the GRU alone.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``valid_loss``, ``valid_ic``, ``dur`` and
        ``bank_dur`` (seconds spent rebuilding the memory bank at the epoch's
        start; ``dur`` does not include it, so an epoch costs ``dur + bank_dur``).
        With ``refit``, the refit's epochs (no validation scores).
    validation_history_ : skorch.History
        With ``refit``, the history of the validated fit that chose the epochs.
    refit_epochs_ : dict of str to int
        With ``refit``, the epochs the refit trained for, those early stopping
        kept: ``{"max_epochs": E, "pretrain_epochs": P}``, IGMTF's and (when
        ``fit`` pretrained one) its base's. ``pretrained_model_`` is then the
        refit's base. With ``base_chosen_``, the base alone is refit:
        ``{"pretrain_epochs": P}``.
    score_power_ : float
        With ``score_power``, the power ``predict`` applies to each day's
        z-scored outputs.
    base_chosen_ : bool
        With ``base_fallback``, whether the base scored higher on validation, so
        that ``predict`` returns ``pretrained_model_``'s predictions.
    validation_ics_ : dict of str to float
        With ``base_fallback``, the two validation scores compared:
        ``{"base": ..., "igmtf": ...}``.
    d_feat_, seq_len_ : int
        Fields and lags of the input layout.
    n_features_in_ : int
        Number of feature columns.
    feature_names_in_ : ndarray of str
        Feature column names.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from igmtf_sklearn.preprocessing import Fillna, RobustZScoreNorm
    >>> model = make_pipeline(RobustZScoreNorm(), Fillna(), IGMTFRegressor(max_epochs=5))
    >>> model.fit(X_train, y_train).predict(X_test)  # doctest: +SKIP
    """

    # The pretrained base is saved and loaded with the model.
    _fitted_nets = ("pretrained_model_",)

    _parameter_constraints: dict = {
        **_PanelNet._parameter_constraints,
        "k_day": [Interval(Integral, 1, None, closed="left")],
        "n_neighbor": [Interval(Integral, 1, None, closed="left")],
        "label_neighbors": [Interval(Integral, 0, None, closed="left")],
        "label_horizon": [Interval(Integral, 1, None, closed="left")],
        "residual_head": ["boolean"],
        "same_day_neighbors": [Interval(Integral, 0, None, closed="left")],
        "bank_refresh": [StrOptions({"epoch", "training_pass"})],
        "pretrain_epochs": [Interval(Integral, 0, None, closed="left")],
        "pretrain_lr": [Interval(Real, 0, None, closed="neither")],
        "pretrain_batch_size": [Interval(Integral, 1, None, closed="left")],
        "pretrain_patience": [Interval(Integral, 1, None, closed="left"), None],
        "pretrain_monitor": [StrOptions({"valid_loss", "valid_ic"})],
        "pretrained": [dict, str, os.PathLike, RNNRegressor, None],
        "base_fallback": ["boolean"],
    }

    def __init__(
        self,
        *,
        d_feat: int | None = None,
        hidden_size: int = 64,
        num_layers: int = 2,
        dropout: float = 0.0,
        base_model: Literal["GRU", "LSTM"] = "GRU",
        k_day: int = 10,
        n_neighbor: int = 10,
        label_neighbors: int = 0,
        label_horizon: int = 2,
        residual_head: bool = False,
        same_day_neighbors: int = 0,
        bank_refresh: Literal["epoch", "training_pass"] = "epoch",
        label_norm: Literal["csrank", "cszscore", "csgaussrank"] | None = "csrank",
        patience: int | None = 20,
        clip_value: float | None = 3.0,
        ema_halflife: float | None = None,
        pretrain_epochs: int = 200,
        pretrain_lr: float = 1e-3,
        pretrain_batch_size: int = 800,
        pretrain_patience: int | None = 20,
        pretrain_monitor: Literal["valid_loss", "valid_ic"] = "valid_loss",
        pretrained: dict | str | os.PathLike | RNNRegressor | None = None,
        random_state: RandomState = None,
        n_threads: Literal["auto"] | int | None = "auto",
        module: type[torch.nn.Module] = IGMTFModule,
        criterion: type[torch.nn.Module] = MaskedMSELoss,
        optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
        lr: float = 1e-4,
        max_epochs: int = 200,
        batch_size: int = _SCORING_ROWS,
        train_split: Callable | None = DateValidSplit(0.2, gap_days=2),  # noqa: B008 - skorch's idiom
        refit: bool = False,
        score_power: float | Literal["auto"] | None = None,
        base_fallback: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            **kwargs,
        )
        self.d_feat = d_feat
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.base_model = base_model
        self.k_day = k_day
        self.n_neighbor = n_neighbor
        self.label_neighbors = label_neighbors
        self.label_horizon = label_horizon
        self.residual_head = residual_head
        self.same_day_neighbors = same_day_neighbors
        self.bank_refresh = bank_refresh
        self.label_norm = label_norm
        self.patience = patience
        self.clip_value = clip_value
        self.ema_halflife = ema_halflife
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_lr = pretrain_lr
        self.pretrain_batch_size = pretrain_batch_size
        self.pretrain_patience = pretrain_patience
        self.pretrain_monitor = pretrain_monitor
        self.pretrained = pretrained
        self.random_state = random_state
        self.n_threads = n_threads
        self.refit = refit
        self.score_power = score_power
        self.base_fallback = base_fallback

    _progress_unit = "days"

    def _progress_stage(self):
        return "IGMTF"

    def _early_stopping(self):
        return ic_early_stopping(self.patience)

    def _module_kwargs(self):
        return {
            **super()._module_kwargs(),
            "k_day": self.k_day,
            "n_neighbor": self.n_neighbor,
            "label_neighbors": self.label_neighbors,
            "residual_head": self.residual_head,
            "same_day_neighbors": self.same_day_neighbors,
        }

    def get_iterator(self, dataset: Dataset, training: bool = False) -> Iterable:
        """One shuffled day per batch for training, blocks of days for scoring."""
        day_inputs = self._bank_days_allowed(dataset) if self.label_neighbors else None
        if training:
            # The history may come from a checkpoint (LoadInitState): continue its day order.
            self._training_days_ = OneDayIterator(
                dataset, seed=_draw_seed(), first_epoch=len(self.history), day_inputs=day_inputs
            )
            return self._training_days_
        return DayBlockIterator(dataset, self.batch_size, self.device, day_inputs=day_inputs)

    def fit(self, X: pd.DataFrame, y: Labels | None = None, **fit_params: Any) -> IGMTFRegressor:
        """Pretrain the base RNN, then train IGMTF one day per step.

        Parameters
        ----------
        X : pandas.DataFrame
            Alpha360-layout features on a sorted ``(datetime, instrument)`` index,
            no NaN (use ``Fillna``).
        y : pandas.Series, 1-column DataFrame or array-like of shape (n_rows,)
            Next-day return labels on the same index, or as an array in X's row order
            (what scikit-learn's meta-estimators pass); NaN labels are dropped.
        **fit_params
            Passed to skorch's fit loop.

        Returns
        -------
        self : IGMTFRegressor
        """
        return self._fit(X, y, **fit_params)
