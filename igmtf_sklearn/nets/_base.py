"""skorch estimators on ``(datetime, instrument)`` panels: IGMTF and its RNN base.

``IGMTFRegressor`` is the product: Qlib's IGMTF as a scikit-learn estimator.
``fit`` pretrains the GRU/LSTM base (``RNNRegressor``, Qlib's GRU/LSTM Alpha360
model) on random row batches, copies its recurrent weights into IGMTF's
encoder, then trains IGMTF one trading day per step. At the start of each epoch
the memory bank (hidden states of every training row, grouped by day) is rebuilt
in eval mode; it lives in the module's buffers, so early stopping restores the
best weights together with the bank they were scored with, and ``predict``
needs no training data.

Both estimators share the panel handling in ``_PanelNet``: input validation,
per-day label normalisation, date-based validation, day batches, seeding.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from sklearn.utils import check_random_state
from skorch import NeuralNetRegressor
from skorch.callbacks import EarlyStopping, EpochTimer, PassthroughScoring, PrintLog
from skorch.utils import to_device

from .._utils._panel import check_panel_index, day_slices
from ..preprocessing import cs_rank_norm, cs_zscore_norm
from ._date_split import DateValidSplit, ExplicitValidation
from ._day_data import DayBlockIterator, DayPanel, OneDayIterator, RowBatchIterator
from ._module import IGMTFModule, RNNModule, pad_by_day
from ._training import (
    GradientValueClipping,
    MaskedMSELoss,
    StageTimer,
    ValidDailyIC,
    daily_ic_sums,
)

__all__ = ["IGMTFRegressor", "RNNRegressor", "DateValidSplit", "ExplicitValidation"]

_LABEL_NORMS = {"csrank": cs_rank_norm, "cszscore": cs_zscore_norm, None: None}
_ALPHA_COLUMN = re.compile(r"^([A-Z]+)(\d+)$")
# Rows per forward pass when scoring, predicting or building the memory bank. On CPU the
# GRU's [rows, seq_len, hidden] layer output must stay in cache: 512 rows run ~1.5-2x faster
# per row than 8192 (benchmarks/micro.py). On a GPU, pass a larger batch_size.
_SCORING_ROWS = 512


class _PanelSplit(NamedTuple):
    """Training and validation panels, already split, handed to skorch's fit loop."""

    train: DayPanel
    valid: DayPanel | None


def _infer_d_feat(columns):
    """Number of fields of an Alpha360 layout (``CLOSE59 .. CLOSE0, OPEN59 ..``), or None."""
    matches = [_ALPHA_COLUMN.match(str(c)) for c in columns]
    if not all(matches):
        return None
    fields = list(dict.fromkeys(m.group(1) for m in matches))
    # Feature-major: each field's lags form one block, oldest first (CLOSE59 .. CLOSE0).
    seq_len = len(columns) // len(fields)
    expected = [(f, str(lag)) for f in fields for lag in range(seq_len - 1, -1, -1)]
    return len(fields) if [m.groups() for m in matches] == expected else None


def _readonly_tensor(array):
    """Share ``array``'s memory with a tensor; pandas 3 marks its arrays read-only.

    Nothing here writes into the features, so the copy torch's warning suggests
    would only cost memory.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array)


def _all_finite(values):
    """Whether a float32 array holds no NaN or infinity.

    A float64 sum of float32 values cannot overflow (at most ~3.4e38 per value), so it
    is finite exactly when every value is; this spares ``np.isfinite``'s n_rows x
    n_features mask (57 MB on three years of CSI 300).
    """
    with np.errstate(invalid="ignore"):  # inf + -inf is NaN: still caught
        return bool(np.isfinite(values.sum(dtype=np.float64)))


@contextlib.contextmanager
def _seeded(random_state, device):
    """Seed torch's global RNG for the duration of a fit, then restore it."""
    if random_state is None:
        yield
        return
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    devices = [torch.device(device).index or 0] if str(device).startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _draw_seed():
    """A seed for numpy generators, drawn from torch's (possibly seeded) RNG."""
    return int(torch.randint(0, np.iinfo(np.int32).max, ()))


class _PanelNet(NeuralNetRegressor):
    """Panel handling shared by the estimators; not a public class."""

    # -- input validation -----------------------------------------------------
    def _check_features(self, X, *, fitting):
        check_panel_index(X, name="X")
        if not isinstance(X, pd.DataFrame):
            raise TypeError("X must be a DataFrame of features, got a Series.")
        non_numeric = [c for c, t in X.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
        if non_numeric:
            raise ValueError(
                f"X has non-numeric columns {non_numeric[:5]}: the model takes numeric "
                "Alpha360-style features only. Drop or encode them first."
            )
        if not fitting:
            # Validation panels arrive mid-fit, once the training columns are known.
            if not hasattr(self, "feature_names_in_"):
                self.check_is_fitted()
            if list(X.columns) != list(self.feature_names_in_):
                raise ValueError(
                    f"X has columns {list(X.columns)[:4]}... ({X.shape[1]}), but the model was "
                    f"fitted on {list(self.feature_names_in_)[:4]}... ({self.n_features_in_}). "
                    "Pass the same feature columns in the same order."
                )
        with np.errstate(over="ignore"):  # float32 overflow is reported just below
            features = X.to_numpy(dtype=np.float32)
        if not _all_finite(features):
            kind = "NaN" if np.isnan(features).any() else "infinite values"
            raise ValueError(
                f"X contains {kind}; the network cannot take them. Put "
                "igmtf_sklearn.preprocessing.Fillna() (after RobustZScoreNorm) in front of the "
                "model, or clean the features."
            )
        return features

    def _check_labels(self, y, index, *, normalise=True):
        if isinstance(y, pd.DataFrame):
            if y.shape[1] != 1:
                raise ValueError(
                    f"y must be a Series or a 1-column DataFrame, got {y.shape[1]} columns."
                )
            y = y.iloc[:, 0]
        if not isinstance(y, pd.Series):
            raise TypeError(
                f"y must be a pandas Series on X's (datetime, instrument) index, got {type(y).__name__}."
            )
        if not y.index.equals(index):
            raise ValueError(
                "y's index differs from X's index: labels must be aligned row by row with the "
                "features. Use y.reindex(X.index)."
            )
        if y.isna().all():
            raise ValueError("Every label in y is NaN: there is nothing to train on.")
        norm = _LABEL_NORMS[self._label_norm()] if normalise else None
        labels = norm(y) if norm is not None else y
        return labels.to_numpy(dtype=np.float32)

    def _label_norm(self):
        if self.label_norm not in _LABEL_NORMS:
            raise ValueError(
                f"label_norm must be one of 'csrank', 'cszscore' or None, got {self.label_norm!r}."
            )
        return self.label_norm

    def _check_d_feat(self, X):
        d_feat = self.d_feat if self.d_feat is not None else _infer_d_feat(X.columns)
        if d_feat is None:
            raise ValueError(
                "Cannot infer d_feat: the columns are not in Alpha360's layout (CLOSE59 .. CLOSE0, "
                "OPEN59 ...). Pass d_feat, the number of fields per time step."
            )
        if not isinstance(d_feat, int | np.integer) or d_feat < 1 or X.shape[1] % d_feat:
            raise ValueError(
                f"X has {X.shape[1]} columns, which is not a multiple of d_feat={d_feat!r}: the "
                "features must be d_feat fields x seq_len lags in feature-major order."
            )
        return int(d_feat)

    # -- panels ---------------------------------------------------------------
    def _make_panel(self, X, y=None, *, fitting=False, normalise=True):
        """Validate a feature frame (and labels, normalised per day) as a ``DayPanel``."""
        features = self._check_features(X, fitting=fitting)
        labels = self._check_labels(y, X.index, normalise=normalise) if y is not None else None
        index = X.index
        if labels is not None and np.isnan(labels).any():
            # Like Qlib's DropnaLabel: rows without a label take no part in training.
            keep = ~np.isnan(labels)
            features, labels, index = features[keep], labels[keep], index[keep]
        _, counts = day_slices(index)
        dates = index.get_level_values(0).unique().to_numpy()
        device = self.device if labels is not None else "cpu"
        X_tensor = _readonly_tensor(features).to(device)
        y_tensor = _readonly_tensor(labels).to(device) if labels is not None else None
        return DayPanel(X_tensor, y_tensor, counts, dates)

    def _split(self, panel):
        if not self.train_split:
            return _PanelSplit(panel, None)
        if isinstance(self.train_split, ExplicitValidation):
            return _PanelSplit(*self.train_split(panel, make_panel=self._make_panel))
        return _PanelSplit(*self.train_split(panel))

    # -- skorch hooks ---------------------------------------------------------
    def check_data(self, X, y=None):
        """Inputs are validated in ``fit`` and ``predict``; skorch's check does not apply."""

    def get_split_datasets(self, X, y=None, **fit_params):
        """Return the panels ``fit`` split already (skorch calls this in its fit loop)."""
        if isinstance(X, _PanelSplit):
            return X.train, X.valid
        return self._split(self.get_dataset(X, y))

    def get_dataset(self, X, y=None):
        """A ``DayPanel`` of X (and y)."""
        if isinstance(X, DayPanel):
            return X
        return self._make_panel(X, y)

    def forward_iter(self, X, training=False, device="cpu"):
        """Yield the predictions of consecutive blocks of days, padding removed."""
        panel = self.get_dataset(X)
        for batch in DayBlockIterator(panel, _SCORING_ROWS, self.device):
            y_pred = self.evaluation_step(batch, training=training)
            yield to_device(y_pred[batch[0]["mask"]], device=device)

    def _fit_panel(self, X, y):
        """Validate the training data, record the fitted input attributes, split by date."""
        check_panel_index(X, name="X")  # before reading any column
        d_feat = self._check_d_feat(X)
        panel = self._make_panel(X, y, fitting=True)
        self.d_feat_ = d_feat
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.seq_len_ = self.n_features_in_ // d_feat
        return self._split(panel)

    def _callbacks_before_log(self):
        """Default callbacks between skorch's losses and the log line."""
        callbacks = [
            ("valid_ic", ValidDailyIC()),
            ("gradient_clipping", GradientValueClipping(self.clip_value)),
        ]
        # skorch's EarlyStopping fails on a fit with no epoch: nothing to stop then.
        if self.train_split and self.patience is not None and self.max_epochs:
            callbacks.append(("early_stopping", self._early_stopping()))
        return callbacks

    def _module_kwargs(self):
        """The module's constructor arguments taken from the estimator's parameters."""
        return {
            "d_feat": self._module_d_feat(),
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "base_model": self.base_model,
        }

    def initialize_module(self):
        """Build the network from the architecture parameters (``module__*`` override them)."""
        kwargs = {**self._module_kwargs(), **self.get_params_for("module")}
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def _module_d_feat(self):
        # Before the first fit (skorch's initialize() + load_params()), d_feat must be given.
        d_feat = getattr(self, "d_feat_", self.d_feat)
        if d_feat is None:
            raise ValueError(
                "d_feat is unknown before fit: pass d_feat=... to initialize the network "
                "without data (e.g. to load saved parameters)."
            )
        return d_feat

    @property
    def _default_callbacks(self):
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            *self._callbacks_before_log(),
            ("print_log", PrintLog()),
        ]

    # -- public API -----------------------------------------------------------
    def predict(self, X):
        """Predict the next-day return score of every row of X.

        Parameters
        ----------
        X : pandas.DataFrame
            Features on a ``(datetime, instrument)`` index, the columns seen in
            ``fit``, no NaN. Any number of days and rows per day.

        Returns
        -------
        y_pred : ndarray of float32, shape (n_rows,)
            One score per row, in X's row order.
        """
        return super().predict(X)

    def save(self, path):
        """Write the fitted model to ``path`` without pickle (see :mod:`igmtf_sklearn.persistence`).

        Parameters
        ----------
        path : str or path-like
            Where to write.
        """
        from ._persistence import save_model  # persistence builds on this module

        save_model(self, path)

    @classmethod
    def load(cls, path, *, device="cpu"):
        """Read a model written by :meth:`save`; nothing in the file is executed.

        Parameters
        ----------
        path : str or path-like
            The file.
        device : str, default="cpu"
            Where to put the network.

        Returns
        -------
        model : estimator
        """
        from ._persistence import load_model

        model = load_model(path, device=device)
        if not isinstance(model, cls):
            raise ValueError(f"{path!r} holds a {type(model).__name__}, not a {cls.__name__}.")
        return model

    def predict_series(self, X):
        """Like :meth:`predict`, as a Series named ``score`` on X's index (Qlib's ``<PRED>``)."""
        return pd.Series(self.predict(X), index=X.index, name="score")

    def score(self, X, y, sample_weight=None):
        """Mean daily Pearson IC of the predictions with ``y`` (rows with NaN label skipped).

        This replaces R², which says little about a cross-sectional signal.
        """
        # Predict every row: dropping unlabeled rows would change each day's mean
        # hidden state, and so IGMTF's predictions for the other rows.
        y_pred = torch.from_numpy(self.predict(X)).double()
        y_true = torch.from_numpy(self._check_labels(y, X.index, normalise=False)).double()
        counts = torch.from_numpy(day_slices(X.index)[1])
        (pred_days, _), (true_days, mask) = pad_by_day(y_pred, counts), pad_by_day(y_true, counts)
        ic_sum, n_days = daily_ic_sums(pred_days, true_days.masked_fill(~mask, torch.nan))
        return ic_sum / n_days if n_days else float("nan")


class RNNRegressor(_PanelNet):
    """Qlib's GRU / LSTM Alpha360 model as a skorch estimator on panels.

    It is the base that :class:`IGMTFRegressor` pretrains inside ``fit``, and a
    baseline in its own right. Training draws random mini-batches of rows,
    minimises MSE on per-day normalised labels and early-stops on validation
    loss, as Qlib's ``GRU`` / ``LSTM`` models do.

    Parameters
    ----------
    d_feat : int, default=None
        Fields per time step; inferred from Alpha360 column names when None.
    hidden_size : int, default=64
        Recurrent state width.
    num_layers : int, default=2
        Stacked recurrent layers.
    dropout : float, default=0.0
        Dropout between recurrent layers.
    base_model : {"GRU", "LSTM"}, default="GRU"
        Recurrent cell.
    label_norm : {"csrank", "cszscore", None}, default="csrank"
        Per-day label normalisation applied inside ``fit``.
    patience : int or None, default=20
        Epochs without a lower validation loss before stopping; None disables
        early stopping.
    clip_value : float or None, default=3.0
        Gradient value clipping.
    random_state : int, RandomState instance or None, default=None
        Seeds weights, batch order and dropout; same value -> same model.
    lr : float, default=1e-3
        Adam learning rate.
    max_epochs : int, default=200
        Epochs at most.
    batch_size : int, default=800
        Rows per training step.
    train_split : callable or None, default=DateValidSplit(0.2, gap_days=2)
        Date-based validation split; ``ExplicitValidation(X_valid, y_valid)`` for a
        fixed validation segment; None trains without validation.
    **kwargs
        skorch's parameters (``callbacks``, ``device``, ``warm_start``,
        ``verbose``, ``module__*``, ``optimizer__*`` ...).

    Attributes
    ----------
    module_ : RNNModule
        The fitted network.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``valid_loss``, ``valid_ic`` and ``dur``.
    d_feat_, seq_len_ : int
        Fields and lags of the input layout.
    n_features_in_ : int
        Number of feature columns.
    feature_names_in_ : ndarray of str
        Feature column names.
    """

    def __init__(
        self,
        *,
        d_feat=None,
        hidden_size=64,
        num_layers=2,
        dropout=0.0,
        base_model="GRU",
        label_norm="csrank",
        patience=20,
        clip_value=3.0,
        random_state=None,
        module=RNNModule,
        criterion=MaskedMSELoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=200,
        batch_size=800,
        train_split=DateValidSplit(0.2, gap_days=2),  # noqa: B008 - skorch's idiom
        **kwargs,
    ):
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
        self.label_norm = label_norm
        self.patience = patience
        self.clip_value = clip_value
        self.random_state = random_state

    def _early_stopping(self):
        return EarlyStopping(monitor="valid_loss", patience=self.patience, load_best=True)

    def get_iterator(self, dataset, training=False):
        """Random row batches for training, blocks of days for scoring."""
        if training:
            return RowBatchIterator(dataset, self.batch_size, seed=_draw_seed())
        return DayBlockIterator(dataset, _SCORING_ROWS, self.device)

    def fit(self, X, y=None, **fit_params):
        """Fit the RNN on a feature panel.

        Parameters
        ----------
        X : pandas.DataFrame
            Alpha360-layout features on a ``(datetime, instrument)`` index.
        y : pandas.Series
            Labels on the same index (NaN rows are dropped).
        **fit_params
            Passed to skorch's fit loop.

        Returns
        -------
        self : RNNRegressor
        """
        with _seeded(self.random_state, self.device):
            split = X if isinstance(X, _PanelSplit) else self._fit_panel(X, y)
            if not self.warm_start or not self.initialized_:
                self.initialize()
            self.partial_fit(split, None, **fit_params)
        return self


class IGMTFRegressor(_PanelNet):
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
    label_norm : {"csrank", "cszscore", None}, default="csrank"
        Per-day label normalisation applied inside ``fit``.
    patience : int or None, default=20
        Epochs without a better validation IC before stopping; None disables
        early stopping.
    clip_value : float or None, default=3.0
        Gradient value clipping, as Qlib.
    pretrain_epochs : int, default=200
        Epochs of base-RNN pretraining at most (it early-stops on validation
        loss after ``pretrain_patience`` epochs); 0 skips pretraining.
    pretrain_lr : float, default=1e-3
        Learning rate of the pretraining.
    pretrain_batch_size : int, default=800
        Rows per pretraining step.
    pretrain_patience : int or None, default=20
        Early-stopping patience of the pretraining.
    pretrained : dict, str, os.PathLike, RNNRegressor or None, default=None
        Weights of an already trained base: a state dict or a path to one
        (Qlib's GRU/LSTM ``model_path`` checkpoints load as they are) or a
        fitted :class:`RNNRegressor`. Its ``rnn.*`` weights initialise the
        encoder; pretraining is then skipped.
    random_state : int, RandomState instance or None, default=None
        Seeds weights, pretraining, day order and dropout; the same value gives
        bit-identical predictions on CPU.
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

    def __init__(
        self,
        *,
        d_feat=None,
        hidden_size=64,
        num_layers=2,
        dropout=0.0,
        base_model="GRU",
        k_day=10,
        n_neighbor=10,
        label_norm="csrank",
        patience=20,
        clip_value=3.0,
        pretrain_epochs=200,
        pretrain_lr=1e-3,
        pretrain_batch_size=800,
        pretrain_patience=20,
        pretrained=None,
        random_state=None,
        module=IGMTFModule,
        criterion=MaskedMSELoss,
        optimizer=torch.optim.Adam,
        lr=1e-4,
        max_epochs=200,
        batch_size=_SCORING_ROWS,
        train_split=DateValidSplit(0.2, gap_days=2),  # noqa: B008 - skorch's idiom
        **kwargs,
    ):
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
        self.label_norm = label_norm
        self.patience = patience
        self.clip_value = clip_value
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_lr = pretrain_lr
        self.pretrain_batch_size = pretrain_batch_size
        self.pretrain_patience = pretrain_patience
        self.pretrained = pretrained
        self.random_state = random_state

    def _early_stopping(self):
        # Qlib keeps the epoch with the highest validation score (strictly higher).
        return EarlyStopping(
            monitor="valid_ic",
            lower_is_better=False,
            patience=self.patience,
            threshold=0.0,
            threshold_mode="abs",
            load_best=True,
        )

    def _check_counts(self):
        for name in ("k_day", "n_neighbor"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}.")

    def _module_kwargs(self):
        return {**super()._module_kwargs(), "k_day": self.k_day, "n_neighbor": self.n_neighbor}

    def get_iterator(self, dataset, training=False):
        """One shuffled day per batch for training, blocks of days for scoring."""
        if training:
            # The history may come from a checkpoint (LoadInitState): continue its day order.
            return OneDayIterator(dataset, seed=_draw_seed(), first_epoch=len(self.history))
        return DayBlockIterator(dataset, self.batch_size, self.device)

    # -- memory bank ------------------------------------------------------------
    @property
    def memory_bank_(self):
        """The stored training hidden states, as held in ``module_``'s buffers."""
        self.check_is_fitted()
        module = self.module_
        return {
            "hidden": module.bank_hidden,
            "mask": module.bank_mask,
            "day_mean": module.bank_day_mean,
        }

    def update_memory_bank(self, panel):
        """Rebuild the memory bank from ``panel``'s rows with the current weights.

        Parameters
        ----------
        panel : DayPanel
            The training days.
        """
        module = self.module_
        was_training = module.training
        module.eval()
        with torch.no_grad():
            hidden = [
                module.encode(panel.X[start : start + self.batch_size].to(self.device))
                for start in range(0, len(panel), self.batch_size)
            ]
        module.set_memory_bank(torch.cat(hidden), torch.from_numpy(panel.counts))
        module.train(was_training)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Start the epoch's history row and rebuild the memory bank."""
        super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)
        with StageTimer(self, "bank_dur"):
            self.update_memory_bank(dataset_train)

    # -- pretraining ------------------------------------------------------------
    def _pretrained_state(self):
        """The ``rnn.*`` weights given by ``pretrained``, as a state dict."""
        source = self.pretrained
        if isinstance(source, RNNRegressor):
            return source.module_.state_dict()
        if isinstance(source, str | os.PathLike):
            if not os.path.isfile(source):
                raise ValueError(f"pretrained file {os.fspath(source)!r} does not exist.")
            return torch.load(source, map_location="cpu", weights_only=True)
        if isinstance(source, dict):
            return source
        raise TypeError(
            "pretrained must be a state dict, a path to one, or a fitted RNNRegressor, got "
            f"{type(source).__name__}."
        )

    def _load_encoder(self, state_dict):
        rnn_state = {k[len("rnn.") :]: v for k, v in state_dict.items() if k.startswith("rnn.")}
        try:
            self.module_.rnn.load_state_dict(rnn_state)
        except RuntimeError as error:
            raise ValueError(
                "The pretrained weights do not fit this encoder (check base_model, hidden_size, "
                f"num_layers and d_feat={self.d_feat_}): {error}"
            ) from None

    def _pretrain(self, split):
        base = RNNRegressor(
            d_feat=self.d_feat_,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            dropout=self.dropout,
            base_model=self.base_model,
            label_norm=None,  # the split panels hold labels normalised already
            patience=self.pretrain_patience,
            clip_value=self.clip_value,
            random_state=_draw_seed(),
            lr=self.pretrain_lr,
            max_epochs=self.pretrain_epochs,
            batch_size=self.pretrain_batch_size,
            # fit() receives the panels already split; this only says whether to validate.
            train_split=DateValidSplit() if split.valid is not None else None,
            device=self.device,
            verbose=self.verbose,
        )
        base.d_feat_, base.seq_len_ = self.d_feat_, self.seq_len_
        base.n_features_in_, base.feature_names_in_ = self.n_features_in_, self.feature_names_in_
        return base.fit(split)

    def _initialize_encoder(self, split):
        """Pretrain the base RNN (or load ``pretrained``) and copy it into the encoder."""
        self.pretrained_model_ = None
        if self.pretrained is not None:
            self._load_encoder(self._pretrained_state())
        elif self.pretrain_epochs:
            self.pretrained_model_ = self._pretrain(split)
            self._load_encoder(self.pretrained_model_.module_.state_dict())

    def fit(self, X, y=None, **fit_params):
        """Pretrain the base RNN, then train IGMTF one day per step.

        Parameters
        ----------
        X : pandas.DataFrame
            Alpha360-layout features on a sorted ``(datetime, instrument)`` index,
            no NaN (use ``Fillna``).
        y : pandas.Series or 1-column DataFrame
            Next-day return labels on the same index; NaN labels are dropped.
        **fit_params
            Passed to skorch's fit loop.

        Returns
        -------
        self : IGMTFRegressor
        """
        self._check_counts()
        with _seeded(self.random_state, self.device):
            split = self._fit_panel(X, y)
            if not self.warm_start or not self.initialized_:
                self.initialize()
                self._initialize_encoder(split)
            self.partial_fit(split, None, **fit_params)
        return self

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Make sure a memory bank exists even if no epoch ran (``max_epochs=0``)."""
        super().on_train_end(net, X=X, y=y, **kwargs)
        if not self.module_.has_memory_bank and isinstance(X, _PanelSplit):
            self.update_memory_bank(X.train)
