"""The skorch estimators, at their historical import path.

The code lives in :mod:`igmtf_sklearn.nets` (``nets/_igmtf.py``, ``nets/_rnn.py``
and their shared ``nets/_base.py``); this module re-exports the public names so
that ``from igmtf_sklearn.regressor import ...`` keeps working.
"""

from .nets import DateValidSplit, ExplicitValidation, IGMTFRegressor, RNNRegressor

__all__ = ["DateValidSplit", "ExplicitValidation", "IGMTFRegressor", "RNNRegressor"]
