"""A skorch ``Checkpoint`` that gives every fit its own folder.

In a search, every candidate and fold is a clone of the same estimator, so a
plain ``Checkpoint(dirname="runs")`` makes them all write ``runs/params.pt``:
parallel fits overwrite each other and a ``load_best`` may load another fit's
weights. :class:`UniqueCheckpoint` keeps the shared base folder as its
parameter (clones stay equal) and creates a fresh sub-folder each time the net
is initialised, i.e. once per ``fit``.
"""

from __future__ import annotations

import json
import numbers
import os
import time
import uuid
from typing import TYPE_CHECKING

from skorch.callbacks import Checkpoint
from skorch.utils import noop

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from skorch import NeuralNet

__all__ = ["UniqueCheckpoint"]


class UniqueCheckpoint(Checkpoint):
    """Checkpoint into a new sub-folder of ``dirname`` for every fit.

    Each time the net is initialised (every ``fit`` without ``warm_start``),
    a folder ``<dirname>/<subdir_prefix><UTC time>-<random hex>`` is created
    atomically; the checkpoints of that fit go there, and its scalar
    parameters (``lr``, ``hidden_size``, ...) are written to
    ``net_params.json`` so that a folder can be matched to its search
    candidate. Folders never collide, across processes or machines sharing a
    file system.

    Parameters
    ----------
    dirname : str or path-like, default="checkpoints"
        Base folder shared by all fits.
    subdir_prefix : str, default="fit-"
        Start of each fit's folder name.
    net_params_file : str or None, default="net_params.json"
        File, in the fit's folder, receiving the net's scalar parameters;
        None writes nothing.
    monitor, f_params, f_optimizer, f_criterion, f_history, f_pickle, fn_prefix, event_name, sink, load_best, use_safetensors
        As :class:`skorch.callbacks.Checkpoint`. For
        :class:`~igmtf_sklearn.IGMTFRegressor`, whose early stopping follows
        the validation IC, ``monitor="valid_ic_best"`` needs a scoring callback
        that records it; the default ``"valid_loss_best"`` always works.

    Attributes
    ----------
    fit_dirname_ : str
        The folder of the current (or last) fit.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> from igmtf_sklearn import IGMTFRegressor
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> from igmtf_sklearn.model_selection import UniqueCheckpoint
    >>> from igmtf_sklearn.preprocessing import Alpha360, forward_return
    >>> panel = make_stock_panel(n_instruments=8, n_days=30, random_state=0)
    >>> X, y = Alpha360(window=5).fit_transform(panel).fillna(0.0), forward_return(panel)
    >>> runs = tempfile.mkdtemp()
    >>> net = IGMTFRegressor(hidden_size=4, num_layers=1, max_epochs=1, pretrain_epochs=0,
    ...                      random_state=0, verbose=0,
    ...                      callbacks=[("checkpoint", UniqueCheckpoint(runs))]).fit(X, y)
    >>> folder = dict(net.callbacks_)["checkpoint"].fit_dirname_
    >>> os.path.basename(folder).startswith("fit-"), sorted(os.listdir(folder))[:2]
    (True, ['criterion.pt', 'history.json'])
    >>> shutil.rmtree(runs)
    """

    def __init__(
        self,
        dirname: str | os.PathLike = "checkpoints",
        *,
        subdir_prefix: str = "fit-",
        net_params_file: str | None = "net_params.json",
        monitor: str | Callable | None = "valid_loss_best",
        f_params: str | None = "params.pt",
        f_optimizer: str | None = "optimizer.pt",
        f_criterion: str | None = "criterion.pt",
        f_history: str | None = "history.json",
        f_pickle: str | None = None,
        fn_prefix: str = "",
        event_name: str | None = "event_cp",
        sink: Callable = noop,
        load_best: bool = False,
        use_safetensors: bool = False,
    ) -> None:
        # Every parameter is named: sklearn's clone reads the signature and would
        # silently drop anything passed through **kwargs.
        super().__init__(
            monitor=monitor,
            f_params=f_params,
            f_optimizer=f_optimizer,
            f_criterion=f_criterion,
            f_history=f_history,
            f_pickle=f_pickle,
            fn_prefix=fn_prefix,
            dirname=dirname,
            event_name=event_name,
            sink=sink,
            load_best=load_best,
            use_safetensors=use_safetensors,
        )
        self.subdir_prefix = subdir_prefix
        self.net_params_file = net_params_file

    def initialize(self) -> UniqueCheckpoint:
        """Create this fit's folder (skorch calls it from ``net.initialize()``)."""
        base = os.fspath(self.dirname) or "."
        os.makedirs(base, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        # The random part makes the name unique; exist_ok=False makes sure of it.
        path = os.path.join(base, f"{self.subdir_prefix}{stamp}-{uuid.uuid4().hex[:12]}")
        os.makedirs(path, exist_ok=False)
        self.fit_dirname_ = path
        # A plain Checkpoint writing into this fit's folder does the file work; this
        # callback keeps deciding when (skorch's on_epoch_end / on_train_end) and hands
        # it the public calls that touch files. Only skorch's public API is used.
        self.checkpoint_ = Checkpoint(
            monitor=None,
            f_params=self.f_params,
            f_optimizer=self.f_optimizer,
            f_criterion=self.f_criterion,
            f_history=self.f_history,
            f_pickle=self.f_pickle,
            fn_prefix=self.fn_prefix,
            dirname=path,
            event_name=self.event_name,
            sink=self.sink,
            use_safetensors=self.use_safetensors,
        ).initialize()
        return self

    def on_train_begin(
        self, net: NeuralNet, X: object = None, y: object = None, **kwargs: Any
    ) -> None:
        """Write the net's scalar parameters next to its checkpoints."""
        super().on_train_begin(net, X=X, y=y, **kwargs)
        if self.net_params_file is None:
            return
        scalars = {
            key: value
            for key, value in net.get_params(deep=False).items()
            if value is None or isinstance(value, str | bool | numbers.Number)
        }
        path = os.path.join(self._fit_checkpoint().dirname, self.net_params_file)
        with open(path, "w") as file:
            json.dump({"class": type(net).__name__, **scalars}, file, indent=1, default=float)

    def _fit_checkpoint(self):
        try:
            return self.checkpoint_
        except AttributeError:
            raise RuntimeError(
                "UniqueCheckpoint has no fit folder yet: it is created by net.initialize() "
                "(fit calls it). To load a finished fit, use "
                "skorch.callbacks.Checkpoint(dirname=<that fit's folder>)."
            ) from None

    # The three public entry points through which skorch reads and writes checkpoint
    # files (save_model from on_epoch_end; get_formatted_files and f_history_ from
    # net.load_params, e.g. load_best or LoadInitState) go to this fit's Checkpoint.
    def save_model(self, net: NeuralNet) -> None:
        """Save the net's files into this fit's folder."""
        self._fit_checkpoint().save_model(net)

    def get_formatted_files(self, net: NeuralNet) -> dict[str, str]:
        """The files of this fit's last checkpoint, for ``net.load_params(checkpoint=...)``."""
        return self._fit_checkpoint().get_formatted_files(net)

    @property
    def f_history_(self) -> str | None:
        """The history file of this fit, or None."""
        return self._fit_checkpoint().f_history_
