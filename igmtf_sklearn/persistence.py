"""Saving and loading models without pickle, at the historical import path.

The code lives in :mod:`igmtf_sklearn.nets` (``nets/_persistence.py``, beside the
estimators whose ``save`` / ``load`` methods use it); this module re-exports
the public names so that ``from igmtf_sklearn.persistence import ...`` keeps working.
See that module for the format and what a file may contain.
"""

from .nets import FORMAT_VERSION, load_model, save_model

__all__ = ["FORMAT_VERSION", "load_model", "save_model"]
