"""The commands behind ``igmtf run CONFIG.yaml`` and ``igmtf demo``, without their command line.

One configuration (a YAML file loaded into a dict) describes a whole Qlib-style
experiment; :func:`run_workflow` carries it out:

1. load the data (Qlib binary data, an OHLCV file or a simulated market), with
   about 90 calendar days before the training segment for the feature window;
2. build Alpha360 features and Qlib's label over the whole panel;
3. split it into the train / valid / test segments by date;
4. fit ``RobustZScoreNorm -> Fillna`` on the training rows, then IGMTF on the
   transformed training rows, validated on the transformed valid segment;
5. predict the test segment; analyse the signal (IC, score groups), backtest
   Qlib's TopK-Dropout strategy and analyse its excess return with and without
   costs;
6. write predictions, backtest, positions, ``metrics.json``, the fitted model
   and an HTML report into ``output_dir``.

:func:`validate_config` checks the whole configuration before any of that and
reports every problem at once. The configuration's sections are documented in
``docs/backtest.md`` and shown in the built-in configurations
(:func:`builtin_configs`: ``igmtf run synthetic_small`` runs one, ``igmtf init``
writes one to edit; ``examples/*.yaml`` in the repository are copies).

:func:`run_demo` runs IGMTF end to end on a simulated market (``igmtf demo``).

The private modules: ``_config`` (:func:`validate_config`;
``_model_config`` checks the ``model`` and ``backtest`` sections, ``_checks``
holds the value checks they share), ``_data`` (data, features, labels,
segments), ``_run`` (:func:`run_workflow`: fit, predict, evaluate),
``_outputs`` (the files written), ``_demo`` (its settings in ``_demo_config``)
and ``_files`` (reading files; the shipped ``configs/*.yaml``).
"""

from typing import TYPE_CHECKING

from .._utils._lazy import lazy_exports

__all__ = [
    "DEMO_METRICS",
    "DemoConfig",
    "DemoResult",
    "builtin_configs",
    "describe_demo",
    "load_config",
    "print_demo_report",
    "resolve_config",
    "run_demo",
    "run_workflow",
    "torch_threads",
    "validate_config",
    "write_config",
]

# Loaded on first use: ``igmtf --help`` reads DemoConfig's defaults and the
# built-in names without importing torch, pandas or scikit-learn.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DEMO_METRICS": "._demo",
        "DemoConfig": "._demo_config",
        "DemoResult": "._demo",
        "builtin_configs": "._files",
        "describe_demo": "._demo",
        "load_config": "._files",
        "print_demo_report": "._demo",
        "resolve_config": "._files",
        "run_demo": "._demo",
        "run_workflow": "._run",
        "torch_threads": "._demo",
        "validate_config": "._config",
        "write_config": "._files",
    },
)

if TYPE_CHECKING:  # what static type checkers and IDEs see
    from ._config import validate_config
    from ._demo import (
        DEMO_METRICS,
        DemoResult,
        describe_demo,
        print_demo_report,
        run_demo,
        torch_threads,
    )
    from ._demo_config import DemoConfig
    from ._files import builtin_configs, load_config, resolve_config, write_config
    from ._run import run_workflow
