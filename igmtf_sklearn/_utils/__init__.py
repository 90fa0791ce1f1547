"""Private helpers shared by every layer of the package; nothing here imports the rest of it.

- ``_panel``: the ``(datetime, instrument)`` panel convention and day boundaries.
- ``_atomic``: atomic file writes (a file is written whole or not at all).
- ``_stats``: summary statistics of daily series (Qlib's ICIR).
- ``_param_validation``: scikit-learn's parameter constraints applied where its own
  machinery does not reach (the networks' ``fit``, the workflow, the command line).
"""
