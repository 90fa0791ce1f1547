"""igmtf-sklearn: Qlib's IGMTF stock-return model as a scikit-learn estimator.

Subpackages, in layers: each imports only those listed before it
(``pyproject.toml``'s ``[tool.importlinter]`` contract, checked by ``lint-imports``).

- :mod:`igmtf_sklearn._utils`: private helpers (the panel convention, atomic writes).
- :mod:`igmtf_sklearn.datasets`: Qlib binary reader, OHLCV files, synthetic market.
- :mod:`igmtf_sklearn.preprocessing`: Alpha360 features, Qlib's processors, labels.
- :mod:`igmtf_sklearn.metrics`: daily IC / rank IC, ICIR and scorers.
- :mod:`igmtf_sklearn.nets`: the skorch estimators (IGMTF and its GRU/LSTM base), their
  torch modules, validation splits, and saving and loading models without pickle.
- :mod:`igmtf_sklearn.model_selection`: date-aware CV splitters, unique checkpoints, Dask.
- :mod:`igmtf_sklearn.backtest`: TopK-Dropout backtest, risk and signal analysis.
- :mod:`igmtf_sklearn.report`: the HTML report of a backtest.
- :mod:`igmtf_sklearn.workflow`: ``igmtf run``'s configuration and run, and ``igmtf demo``.
- :mod:`igmtf_sklearn.cli`: the ``igmtf`` command.

:mod:`igmtf_sklearn.module`, :mod:`igmtf_sklearn.regressor` and
:mod:`igmtf_sklearn.persistence` are the historical paths of parts of ``nets``; they
re-export its names.

The public names load on first use (``_utils/_lazy.py``): ``import igmtf_sklearn``
alone imports neither torch nor pandas.
"""

from typing import TYPE_CHECKING

from ._utils._lazy import lazy_exports

__version__ = "0.1.0"

__all__ = [
    "DailyICLoss",
    "DateValidSplit",
    "ExplicitValidation",
    "IGMTFModule",
    "IGMTFRegressor",
    "RNNModule",
    "RNNRegressor",
    "__version__",
]

# The names load on first use, so that ``igmtf --help`` does not wait for torch.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {name: ".nets" for name in __all__ if name != "__version__"},
    submodules=(
        "backtest",
        "cli",
        "datasets",
        "metrics",
        "model_selection",
        "module",
        "nets",
        "persistence",
        "preprocessing",
        "regressor",
        "report",
        "workflow",
    ),
)

if TYPE_CHECKING:  # what static type checkers and IDEs see
    from .nets import (
        DailyICLoss,
        DateValidSplit,
        ExplicitValidation,
        IGMTFModule,
        IGMTFRegressor,
        RNNModule,
        RNNRegressor,
    )
