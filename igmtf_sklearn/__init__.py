"""igmtf-sklearn: Qlib's IGMTF stock-return model as a scikit-learn estimator.

Subpackages, in the order data flows through them:

- :mod:`igmtf_sklearn.datasets`: Qlib binary reader, OHLCV files, synthetic market.
- :mod:`igmtf_sklearn.preprocessing`: Alpha360 features, Qlib's processors, labels.
- :mod:`igmtf_sklearn.module`: the torch networks (IGMTF and its GRU/LSTM base).
- :mod:`igmtf_sklearn.regressor`: the skorch estimators.
- :mod:`igmtf_sklearn.metrics`: daily IC / rank IC, ICIR and scorers.
- :mod:`igmtf_sklearn.model_selection`: date-aware CV splitters, unique checkpoints, Dask.
- :mod:`igmtf_sklearn.backtest`: TopK-Dropout backtest, risk and signal analysis.
- :mod:`igmtf_sklearn.report`: the HTML report of a backtest.
- :mod:`igmtf_sklearn.persistence`: saving and loading models without pickle.
"""

from .nets import (
    DailyICLoss,
    DateValidSplit,
    ExplicitValidation,
    IGMTFModule,
    IGMTFRegressor,
    RNNModule,
    RNNRegressor,
)

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
