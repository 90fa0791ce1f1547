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
``docs/backtest.md`` and shown in ``examples/*.yaml``.

:func:`run_demo` runs IGMTF end to end on a simulated market (``igmtf demo``).

The private modules: ``_config`` (:func:`load_config`, :func:`validate_config`;
``_model_config`` checks the ``model`` and ``backtest`` sections, ``_checks``
holds the value checks they share), ``_data`` (data, features, labels,
segments), ``_run`` (:func:`run_workflow`: fit, predict, evaluate),
``_outputs`` (the files written) and ``_demo``.
"""

from ._config import load_config, validate_config
from ._demo import (
    DEMO_METRICS,
    DemoConfig,
    DemoResult,
    describe_demo,
    print_demo_report,
    run_demo,
    torch_threads,
)
from ._run import run_workflow

__all__ = [
    "DEMO_METRICS",
    "DemoConfig",
    "DemoResult",
    "describe_demo",
    "load_config",
    "print_demo_report",
    "run_demo",
    "run_workflow",
    "torch_threads",
    "validate_config",
]
