"""Cross-validation and hyper-parameter search on ``(datetime, instrument)`` panels.

- :class:`WalkForwardSplit`: forward-only folds on trading days with a purge
  gap, the honest out-of-sample estimate (``cv=`` of ``GridSearchCV``).
- :class:`PurgedKFoldByDate`: k-fold on blocks of days, purged and embargoed,
  for short histories.
- :class:`DateValidSplit`, :class:`ExplicitValidation`: the estimators' own
  validation split (``train_split=``), re-exported from ``igmtf_sklearn``.
- :class:`UniqueCheckpoint`: a skorch ``Checkpoint`` writing each fit into its
  own sub-folder, so that parallel candidates do not overwrite each other.
- :func:`configure_dask_workers`: limit torch's threads on every Dask worker
  before a search runs on ``joblib.parallel_backend("dask")``.

See ``docs/model_selection.md`` for a full search, persistence and Dask.
"""

from ..nets import DateValidSplit, ExplicitValidation
from ._checkpoint import UniqueCheckpoint
from ._dask import configure_dask_workers
from ._split import PurgedKFoldByDate, WalkForwardSplit

__all__ = [
    "DateValidSplit",
    "ExplicitValidation",
    "PurgedKFoldByDate",
    "UniqueCheckpoint",
    "WalkForwardSplit",
    "configure_dask_workers",
]
