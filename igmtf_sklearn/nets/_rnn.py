"""``RNNRegressor``: Qlib's GRU / LSTM Alpha360 model, and the base IGMTF pretrains."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from sklearn.utils._param_validation import StrOptions
from skorch.callbacks import EarlyStopping

from ._base import _draw_seed, _PanelNet
from ._date_split import DateValidSplit
from ._day_data import DayBlockIterator, RowBatchIterator
from ._persistence import register_net
from ._rnn_module import RNNModule
from ._training import MaskedMSELoss, ic_early_stopping

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, Literal

    import pandas as pd
    from torch.utils.data import Dataset

    from .._utils._typing import Labels, RandomState

__all__ = ["RNNRegressor"]


@register_net
class RNNRegressor(_PanelNet):
    """Qlib's GRU / LSTM Alpha360 model as a skorch estimator on panels.

    It is the base that :class:`IGMTFRegressor` pretrains inside ``fit``, and a
    baseline in its own right. Training draws random mini-batches of rows,
    minimises MSE on per-day normalised labels and early-stops on validation
    loss, as Qlib's ``GRU`` / ``LSTM`` models do (``monitor="valid_ic"`` stops on
    the validation IC instead).

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
    label_norm : {"csrank", "cszscore", "csgaussrank", None}, default="csrank"
        Per-day label normalisation applied inside ``fit``: ``"csrank"`` is
        Qlib's ``CSRankNorm``. ``"cszscore"`` keeps the returns' tails: it
        trades rank IC for Pearson IC, and failed on one market of three
        (``docs/accuracy.md``). ``"csgaussrank"`` maps the ranks to normal
        quantiles (:class:`~igmtf_sklearn.preprocessing.CSGaussRankNorm`):
        the ranks' order, with tails. None keeps the raw labels.
    patience : int or None, default=20
        Epochs without a better ``monitor`` before stopping; the best epoch's
        weights are restored. None disables early stopping.
    monitor : {"valid_loss", "valid_ic"}, default="valid_loss"
        What early stopping watches. ``"valid_loss"`` is Qlib's GRU / LSTM rule.
        ``"valid_ic"`` keeps the epoch with the highest mean daily validation IC,
        as IGMTF stops: on rank-normalised labels the MSE barely moves from one
        epoch to the next (in the fourth decimal on CSI 300) and its best epoch can
        be far from the best by IC, the figure the model is judged by.
    clip_value : float or None, default=3.0
        Gradient value clipping.
    ema_halflife : float or None, default=None
        When set, the network that is validated, kept by early stopping and
        returned is an exponential moving average of the weights over the
        training steps (Polyak averaging), with this half-life in epochs, in the
        pretraining as in IGMTF's epochs (each its own average); training
        itself goes on from the trained weights. The memory bank is rebuilt
        with the averaged weights. It smooths the epoch-to-epoch
        noise of the validation IC (on CSI 300 consecutive epochs of Qlib's GRU
        scored 0.025 and 0.061). None (the default) is Qlib's model.
    random_state : int, RandomState instance or None, default=None
        Seeds weights, batch order and dropout; same value -> same model.
    n_threads : "auto", int or None, default="auto"
        torch threads while fitting and predicting; the previous setting is
        restored afterwards. ``"auto"`` is one thread: these networks are too
        small for more to pay (one thread fitted faster than two even on a quiet
        2-core machine, and 4x faster with the other core busy:
        ``benchmarks/bench_threads.py``). An int above the idle cores warns.
        None leaves torch's setting alone.
    module : torch.nn.Module class, default=RNNModule
        The network, built with the architecture parameters above (``module__*``
        override them).
    criterion : torch.nn.Module class, default=MaskedMSELoss
        The training loss: :class:`MaskedMSELoss`, Qlib's MSE over the known
        labels, or :class:`DailyICLoss` to train on the IC. Training batches are
        random rows of several days, so each step's loss is minus the batch's
        correlation; validation batches hold whole days and score the daily IC.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        The optimizer, Adam as in Qlib; ``optimizer__*`` set its other arguments.
    lr : float, default=1e-3
        Adam learning rate.
    max_epochs : int, default=200
        Epochs at most.
    batch_size : int, default=800
        Rows per training step, and about the rows per forward pass when
        validating, scoring or predicting: whole days are kept together, a day
        larger than that gets a pass of its own. As in skorch,
        ``iterator_valid__batch_size=...`` sets the second use apart (IGMTF's
        pretraining passes its own ``batch_size`` there). Predictions do not
        depend on it beyond float rounding; on a GPU larger blocks are faster.
    train_split : callable or None, default=DateValidSplit(0.2, gap_days=2)
        Date-based validation split; ``ExplicitValidation(X_valid, y_valid)`` for a
        fixed validation segment; None trains without validation.
    refit : bool, default=False
        When True, ``fit`` trains with validation as usual, then trains a new
        network on the training and validation days together for the epochs
        early stopping kept, with no validation: as
        ``GridSearchCV(refit=True)`` fits again once a choice is made. The
        validation days are the most recent ones, so the model then predicts
        from them too; it costs a second fit. The validated fit's history is
        kept as ``validation_history_``. Callbacks that watch a validation
        score (e.g. a ``Checkpoint`` on ``valid_loss_best``) are refused.
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
    **kwargs
        skorch's parameters (``callbacks``, ``device``, ``warm_start``,
        ``verbose``, ``module__*``, ``optimizer__*`` ...).

    Attributes
    ----------
    module_ : RNNModule
        The fitted network.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``valid_loss``, ``valid_ic`` and ``dur``.
        With ``refit``, the refit's epochs (no validation scores).
    validation_history_ : skorch.History
        With ``refit``, the history of the validated fit that chose the epochs.
    refit_epochs_ : dict of str to int
        With ``refit``, the epochs the refit trained for, those early stopping
        kept: ``{"max_epochs": E}``.
    score_power_ : float
        With ``score_power``, the power ``predict`` applies to each day's
        z-scored outputs.
    d_feat_, seq_len_ : int
        Fields and lags of the input layout.
    n_features_in_ : int
        Number of feature columns.
    feature_names_in_ : ndarray of str
        Feature column names.

    Examples
    --------
    >>> from igmtf_sklearn import RNNRegressor
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> from igmtf_sklearn.preprocessing import Alpha360, forward_return
    >>> panel = make_stock_panel(n_instruments=8, n_days=30, random_state=0)
    >>> X, y = Alpha360(window=5).fit_transform(panel).fillna(0.0), forward_return(panel)
    >>> net = RNNRegressor(hidden_size=4, num_layers=1, max_epochs=1, train_split=None,
    ...                    random_state=0, verbose=0).fit(X, y)
    >>> net.predict(X).shape, (net.d_feat_, net.seq_len_)
    ((225,), (5, 5))
    """

    def __init__(
        self,
        *,
        d_feat: int | None = None,
        hidden_size: int = 64,
        num_layers: int = 2,
        dropout: float = 0.0,
        base_model: Literal["GRU", "LSTM"] = "GRU",
        label_norm: Literal["csrank", "cszscore", "csgaussrank"] | None = "csrank",
        patience: int | None = 20,
        monitor: Literal["valid_loss", "valid_ic"] = "valid_loss",
        clip_value: float | None = 3.0,
        ema_halflife: float | None = None,
        random_state: RandomState = None,
        n_threads: Literal["auto"] | int | None = "auto",
        module: type[torch.nn.Module] = RNNModule,
        criterion: type[torch.nn.Module] = MaskedMSELoss,
        optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
        lr: float = 1e-3,
        max_epochs: int = 200,
        batch_size: int = 800,
        train_split: Callable | None = DateValidSplit(0.2, gap_days=2),  # noqa: B008 - skorch's idiom
        refit: bool = False,
        score_power: float | Literal["auto"] | None = None,
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
        self.label_norm = label_norm
        self.patience = patience
        self.monitor = monitor
        self.clip_value = clip_value
        self.ema_halflife = ema_halflife
        self.random_state = random_state
        self.n_threads = n_threads
        self.refit = refit
        self.score_power = score_power

    _parameter_constraints: dict = {
        **_PanelNet._parameter_constraints,
        "monitor": [StrOptions({"valid_loss", "valid_ic"})],
    }

    def _early_stopping(self):
        # A type test first: get_params() builds the callbacks, and must not raise on a value
        # (an array, say) that fit's parameter check will refuse with a clear message.
        if isinstance(self.monitor, str) and self.monitor == "valid_ic":
            return ic_early_stopping(self.patience)
        return EarlyStopping(monitor="valid_loss", patience=self.patience, load_best=True)

    def get_iterator(self, dataset: Dataset, training: bool = False) -> Iterable:
        """Random row batches for training, blocks of days for scoring."""
        if training:
            return RowBatchIterator(dataset, self.batch_size, seed=_draw_seed())
        rows = self.get_params_for("iterator_valid").get("batch_size", self.batch_size)
        return DayBlockIterator(dataset, rows, self.device)

    def fit(self, X: pd.DataFrame, y: Labels | None = None, **fit_params: Any) -> RNNRegressor:
        """Fit the RNN on a feature panel.

        Parameters
        ----------
        X : pandas.DataFrame
            Alpha360-layout features on a ``(datetime, instrument)`` index.
        y : pandas.Series, 1-column DataFrame or array-like of shape (n_rows,)
            Labels on the same index, or as an array in X's row order (what
            scikit-learn's meta-estimators pass); NaN rows are dropped.
        **fit_params
            Passed to skorch's fit loop.

        Returns
        -------
        self : RNNRegressor
        """
        return self._fit(X, y, **fit_params)
