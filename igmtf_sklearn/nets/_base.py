"""The panel handling both estimators share: ``_PanelNet``, a skorch ``NeuralNetRegressor``.

Date-based validation, day batches, seeding, ``predict`` / ``score`` / ``save`` /
``load``; input validation and per-day label normalisation come from
``_panel_inputs``. The estimators (``_rnn.RNNRegressor``,
``_igmtf.IGMTFRegressor``) add their network, training iterator and
early-stopping rule.
"""

from __future__ import annotations

import contextlib
import copy
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from skorch import NeuralNetRegressor
from skorch.callbacks import EpochTimer, PassthroughScoring, PrintLog
from skorch.utils import to_device

from .._utils._panel import day_slices
from .._utils._param_validation import validate_estimator_parameters
from .._utils._threads import torch_threads
from ..metrics import mean_ic
from ._date_split import ExplicitValidation
from ._day_data import DayPanel
from ._panel_inputs import _PanelInputsMixin
from ._persistence import load_model, register_param_classes, save_model
from ._progress import FitProgress
from ._refit import check_refit, kept_epochs, parameters_set, refit_panel
from ._score_power import check_score_power, choose_power, powered_scores
from ._training import DailyICLoss, GradientValueClipping, MaskedMSELoss, ValidDailyIC
from ._weight_average import WeightAverage

# The losses a saved model may name as its criterion.
register_param_classes(MaskedMSELoss, DailyICLoss)

# Rows per forward pass when scoring, predicting or building the memory bank. On CPU the
# GRU's [rows, seq_len, hidden] layer output must stay in cache: 512 rows run ~1.5-2x faster
# per row than 8192 (benchmarks/micro.py). On a GPU, pass a larger batch_size.
_SCORING_ROWS = 512


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


class _PanelNet(_PanelInputsMixin, NeuralNetRegressor):
    """Panel handling shared by the estimators; not a public class."""

    # Attributes holding fitted sub-estimators that ``save`` stores with this one.
    _fitted_nets = ()

    # Checked once at the start of ``fit`` (``validate_estimator_parameters``). skorch's
    # prefixed parameters (``module__*`` ...) are left to the objects they configure.
    _parameter_constraints: dict = {
        "d_feat": [Interval(Integral, 1, None, closed="left"), None],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "base_model": [StrOptions({"GRU", "LSTM"})],
        "label_norm": [StrOptions({"csrank", "cszscore", "csgaussrank"}), None],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "clip_value": [Interval(Real, 0, None, closed="neither"), None],
        "ema_halflife": [Interval(Real, 0, None, closed="neither"), None],
        "random_state": ["random_state"],
        "n_threads": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left"), None],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "train_split": [callable, None],
        "refit": ["boolean"],
        "score_power": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither"), None],
        # skorch's own parameters that the estimators document.
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "device": [str, torch.device, None],
    }

    def _split(self, panel):
        """The training and validation panels of ``panel`` by ``train_split``."""
        if self.train_split is None:
            return panel, None
        if isinstance(self.train_split, ExplicitValidation):
            return self.train_split(panel, make_panel=self._make_panel)
        return self.train_split(panel)

    # -- skorch hooks ---------------------------------------------------------
    def check_data(self, X, y=None):
        """Inputs are validated in ``fit`` and ``predict``; skorch's check does not apply."""

    def get_split_datasets(self, X, y=None, **fit_params):
        """Split the panel by date with ``train_split`` (skorch calls this in its fit loop).

        Inside :meth:`_fit_panels` the split made before training is returned, so that
        a pretrained base and the network validate on the very same days.
        """
        dataset = self.get_dataset(X, y)
        if hasattr(self, "_fixed_valid"):
            return dataset, self._fixed_valid
        return self._split(dataset)

    def get_dataset(self, X, y=None):
        """A ``DayPanel`` of X (and y)."""
        if isinstance(X, DayPanel):
            return X
        return self._make_panel(X, y)

    def forward_iter(self, X, training=False, device="cpu"):
        """Yield the predictions of consecutive blocks of days, padding removed."""
        panel = self.get_dataset(X)
        for batch in self.get_iterator(panel, training=False):
            y_pred = self.evaluation_step(batch, training=training)
            yield to_device(y_pred[batch[0]["mask"]], device=device)

    # Fitted attributes that only some fits set: an earlier fit's are cleared first.
    _per_fit_attributes = ("validation_history_", "refit_epochs_", "score_power_")

    def _check_fit(self):
        """Refuse, before any work, parameters that cannot be fitted together."""
        validate_estimator_parameters(self)
        check_refit(self)
        check_score_power(self)

    def _fit(self, X, y, **fit_params):
        """``fit``: check parameters and data before any work, split by date, train, and
        with ``refit`` train again on every day for the epochs validation kept."""
        self._check_fit()
        for stale in self._per_fit_attributes:
            vars(self).pop(stale, None)
        layout = self._input_layout(X)
        panel = self._make_panel(X, y, fitting=True)
        self._set_layout(layout)  # ExplicitValidation checks its columns against the fit
        train, valid = self._split(panel)
        every_day = refit_panel(panel, train, valid) if self.refit and valid is not None else None
        self._fit_panels(train, valid, layout, **fit_params)
        self._after_validated_fit(valid)
        if self.score_power is not None:  # chosen before a refit leaves no validation
            self.score_power_ = self._validated_score_power(valid)
        if every_day is not None:
            self._refit(every_day, layout, **fit_params)
        return self

    def _after_validated_fit(self, valid):
        """Hook run once the validated fit ends, before ``score_power`` and a refit."""

    def _validated_score_power(self, valid):
        """``score_power``, or with ``"auto"`` the power chosen on the validation days
        against their raw labels (``_score_power``)."""
        if self.score_power != "auto":
            return float(self.score_power)
        with torch_threads(self.n_threads):
            pred = torch.cat([p.cpu() for p in self.forward_iter(valid)]).numpy()
        return choose_power(pred, valid.raw_y, valid.counts)

    def _kept_epochs(self):
        """The epoch parameters a refit trains for: what the validated fit kept."""
        return {"max_epochs": kept_epochs(self)}

    def _refit(self, panel, layout, **fit_params):
        """Train a new network on ``panel`` for the epochs the validated fit kept."""
        epochs = self._kept_epochs()
        validation_history = copy.deepcopy(self.history_)  # skorch clears it in place
        with parameters_set(self, train_split=None, **epochs):
            self._fit_panels(panel, None, layout, **fit_params)
        self.validation_history_ = validation_history
        self.refit_epochs_ = epochs

    def _fit_panels(self, train, valid, layout, **fit_params):
        """Train on panels already validated and split by date.

        The one training entry point: ``fit`` calls it, and so does IGMTF to
        pretrain its base on the same split. A new network is built unless
        ``warm_start`` continues a fitted one.

        Parameters
        ----------
        train : DayPanel
            The training days, labels normalised.
        valid : DayPanel or None
            The validation days, or None to train without validation.
        layout : _InputLayout
            The input layout of the panels, recorded as the fitted attributes.
        **fit_params
            Passed to skorch's fit loop.

        Returns
        -------
        self
        """
        with _seeded(self.random_state, self.device), torch_threads(self.n_threads):
            self._set_layout(layout)
            if not self.warm_start or not self.initialized_:
                self.initialize()
                self._initialize_weights(train, valid)
            self._fixed_valid = valid  # read by get_split_datasets in skorch's loop
            try:
                self.partial_fit(train, None, **fit_params)
            finally:
                del self._fixed_valid
        return self

    def _initialize_weights(self, train, valid):
        """Hook run once the network is built, before training (IGMTF pretrains here)."""

    # -- weight averaging (``ema_halflife``) ------------------------------------
    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Start each fit with a fresh average (``ema_halflife``), begun at the first step."""
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self._weight_average_ = WeightAverage(self.ema_halflife) if self.ema_halflife else None

    def train_step(self, batch, **fit_params):
        """skorch's step, then the step's weights folded into the average."""
        step = super().train_step(batch, **fit_params)
        average = getattr(self, "_weight_average_", None)  # None outside fit's loop
        if average is not None:
            average.update(self.module_)
        return step

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """Train from the trained weights; validate, keep and refresh with the average.

        The average goes in when the training pass ends and stays until the next one
        starts, so validation, early stopping's kept weights and (IGMTF) the next
        epoch's memory bank all see the averaged network.
        """
        average = getattr(self, "_weight_average_", None)  # None outside fit's loop
        if not training or iterator is None:
            average = None
        if average is not None:
            if not average.started:
                average.start(self.module_, steps_per_epoch=len(iterator))
            average.swap_out(self.module_)
        super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
        if average is not None:
            average.swap_in(self.module_)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Keep the averaged weights (or early stopping's best): drop the trained ones."""
        super().on_train_end(net, X=X, y=y, **kwargs)
        self._weight_average_ = None

    def _callbacks_before_log(self):
        """Default callbacks between skorch's losses and the log line."""
        callbacks = [
            ("valid_ic", ValidDailyIC()),
            ("gradient_clipping", GradientValueClipping(self.clip_value)),
        ]
        # skorch's EarlyStopping fails on a fit with no epoch: nothing to stop then. Only
        # identity and type tests here: get_params() builds this list, and must not raise
        # on a value that fit's parameter check will refuse (e.g. an array).
        no_epoch = isinstance(self.max_epochs, Integral) and self.max_epochs == 0
        if self.train_split is not None and self.patience is not None and not no_epoch:
            callbacks.append(("early_stopping", self._early_stopping()))
        return callbacks

    # What one training step takes, for the progress lines.
    _progress_unit = "batches"

    def _progress_stage(self):
        """The name the progress lines give the fit, e.g. ``"GRU"``."""
        return self.base_model if isinstance(self.base_model, str) else type(self).__name__

    def _module_kwargs(self):
        """The module's constructor arguments taken from the estimator's parameters."""
        return {
            "d_feat": self._module_d_feat(),
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "base_model": self.base_model,
        }

    def _module_architecture(self):
        """The module's effective constructor arguments: ``module__*`` override the parameters."""
        return {**self._module_kwargs(), **self.get_params_for("module")}

    def initialize_module(self):
        """Build the network from the architecture parameters (``module__*`` override them)."""
        self.module_ = self.initialized_instance(self.module, self._module_architecture())
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
            ("progress", FitProgress(self._progress_stage(), unit=self._progress_unit)),
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

        Notes
        -----
        Days are scored one by one, so a day's scores do not depend on the other
        days in ``X``. With :class:`IGMTFRegressor` they do depend on the other
        rows of the same day: the day's mean hidden state over the rows given
        picks the similar training days, as in Qlib. Predicting only some
        instruments of a day changes their scores; pass whole days (the universe
        the model was trained on) and select rows afterwards. Rows are scored in
        blocks of whole days of about ``batch_size`` rows.
        """
        with torch_threads(self.n_threads):
            pred = super().predict(X)
        power = getattr(self, "score_power_", None)
        if power is None:
            return pred
        counts = X.counts if isinstance(X, DayPanel) else day_slices(X.index)[1]
        return powered_scores(pred, counts, power)

    def save(self, path):
        """Write the fitted model to ``path`` without pickle (see :mod:`igmtf_sklearn.persistence`).

        Parameters
        ----------
        path : str or path-like
            Where to write.
        """
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
        model = load_model(path, device=device)
        if not isinstance(model, cls):
            raise ValueError(f"{path!r} holds a {type(model).__name__}, not a {cls.__name__}.")
        return model

    def predict_series(self, X):
        """Like :meth:`predict`, as a Series named ``score`` on X's index (Qlib's ``<PRED>``)."""
        return pd.Series(self.predict(X), index=X.index, name="score")

    def score(self, X, y, sample_weight=None):
        """Mean daily Pearson IC of the predictions with ``y`` (rows with NaN label skipped).

        This replaces R², which says little about a cross-sectional signal; it is
        :func:`igmtf_sklearn.metrics.mean_ic` of :meth:`predict`.
        """
        # Predict every row: dropping unlabeled rows would change each day's mean
        # hidden state, and so IGMTF's predictions for the other rows.
        y_pred = self.predict(X)
        labels = self._check_labels(y, X.index, normalise=False)
        return mean_ic(pd.Series(labels, index=X.index), y_pred)
