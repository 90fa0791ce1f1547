"""The ``igmtf run CONFIG.yaml`` workflow, without its command line.

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
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.util
import inspect
import json
import math
import numbers
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["load_config", "run_workflow", "validate_config"]

SECTIONS = ("data", "segments", "features", "model", "backtest", "output_dir", "report", "title")
REQUIRED_SECTIONS = ("data", "segments", "output_dir")
SEGMENTS = ("train", "valid", "test")
#: Calendar days loaded before the training segment, so that its first day has a
#: full 60-trading-day Alpha360 window (60 trading days are about 85 calendar days).
WARMUP_CALENDAR_DAYS = 90
#: Qlib's label for day t is close[t+2] / close[t+1] - 1: the last LABEL_HORIZON
#: labels of a segment are realised in the next one, so they are dropped.
LABEL_HORIZON = 2
DEFAULT_TITLE = "IGMTF workflow report"

_DATA_SOURCES = ("provider_uri", "ohlcv_path", "synthetic")
_DATA_KEYS = {
    "provider_uri": {"provider_uri", "market", "benchmark"},
    "ohlcv_path": {"ohlcv_path", "benchmark"},
    "synthetic": {"synthetic"},
}
_SYNTHETIC_KEYS = {
    "n_instruments",
    "n_days",
    "random_state",
    "start",
    "n_sectors",
    "churn",
    "noise_df",
    "signal_scale",
}
_OHLCV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".csv.zst", ".parquet")
_OHLCV_SUFFIXES += (".pq",)
# Estimator parameters a YAML file cannot or must not set: objects, and the
# validation split, which the workflow sets to the valid segment.
_MODEL_EXCLUDED = {"self", "kwargs", "module", "criterion", "optimizer", "train_split"}
_MODEL_EXTRA = {"verbose", "device"}
_MODEL_PREFIXES = ("module__", "optimizer__", "criterion__")


# ---------------------------------------------------------------------------
# Loading and validating the configuration
# ---------------------------------------------------------------------------


def load_config(path) -> dict:
    """Read a workflow configuration from a YAML file.

    Parameters
    ----------
    path : str or path-like
        The YAML file.

    Returns
    -------
    config : dict
        The parsed configuration, not yet validated (see :func:`validate_config`).
    """
    try:
        import yaml
    except ImportError as error:
        raise ImportError(
            "Reading a workflow configuration needs PyYAML, a dependency of igmtf-sklearn: "
            "pip install pyyaml."
        ) from error
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Configuration file {str(path)!r} does not exist.")
    with open(path, encoding="utf-8") as file:
        config = yaml.safe_load(file)
    if not isinstance(config, dict):
        raise ValueError(f"{str(path)!r} must hold a YAML mapping of sections, got {config!r}.")
    return config


class _Problems(list):
    """The problems found so far, each prefixed with where it is in the config."""

    def add(self, where: str, message: str) -> None:
        self.append(f"{where}: {message}")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _number_hint(value) -> str:
    # PyYAML follows YAML 1.1, which reads 1e-4 (no dot) as a string.
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            float(value)
            return " (YAML read it as text: write numbers like 1.0e-4, with a dot)"
    return ""


def _check_keys(problems, where, mapping, allowed, required=()):
    unknown = sorted(set(mapping) - set(allowed), key=str)
    if unknown:
        problems.add(
            where,
            f"unknown key(s) {', '.join(map(str, unknown))}; allowed: {', '.join(sorted(allowed))}",
        )
    for key in required:
        if key not in mapping:
            problems.add(where, f"missing required key {key!r}")


def _timestamp(value):
    if isinstance(value, str | _dt.date | _dt.datetime | pd.Timestamp | np.datetime64):
        with contextlib.suppress(ValueError, TypeError):
            stamp = pd.Timestamp(value)
            if stamp is not pd.NaT:
                return stamp.normalize()
    return None


def validate_config(config) -> dict:
    """Check a whole workflow configuration; return it completed with the defaults.

    Every section is checked before anything is loaded or written, and all
    the problems found are reported together.

    Parameters
    ----------
    config : dict
        The configuration (e.g. from :func:`load_config`). Sections:

        - ``data`` (required), exactly one source: ``provider_uri`` (a Qlib
          data folder) with ``market`` (default ``"csi300"``) and ``benchmark``
          (an instrument, default ``"SH000300"``; null for none); or
          ``ohlcv_path`` (CSV / parquet, see
          :func:`~igmtf_sklearn.datasets.read_ohlcv`) with an optional
          ``benchmark`` instrument in the file; or ``synthetic``, the keyword
          arguments of :func:`~igmtf_sklearn.datasets.make_stock_panel`
          (``n_instruments``, ``n_days``, ``random_state``, ``start``, ...), whose
          benchmark is the equal-weighted mean return of its instruments.
        - ``segments`` (required): ``train``, ``valid`` and ``test``, each
          ``[start, end]`` (dates, both included), in that order, not
          overlapping.
        - ``features``: ``window`` (Alpha360 days of history, default 60).
        - ``model``: :class:`~igmtf_sklearn.IGMTFRegressor` parameters
          (``hidden_size``, ``lr``, ``max_epochs``, ``pretrain_epochs``, ...);
          ``train_split`` is set by the workflow to the valid segment.
        - ``backtest``: :func:`~igmtf_sklearn.backtest.topk_dropout_backtest`
          settings (``topk``, ``n_drop``, ``open_cost``, ``close_cost``,
          ``min_cost``, ``limit_threshold``, ``account``, ``risk_degree``,
          ``trade_unit``, ...).
        - ``output_dir`` (required): the folder to write into.
        - ``report``: write the HTML report (default true; needs matplotlib).
        - ``title``: the report's title.

        Relative paths are relative to the current directory.

    Returns
    -------
    config : dict
        A new dict with every section present and defaults filled in; dates
        as ``pandas.Timestamp`` and paths as ``pathlib.Path``. It is itself a
        valid configuration.

    Raises
    ------
    ValueError
        Listing every problem: unknown or missing keys, a data source that
        does not exist, dates that do not parse, segments out of order or
        overlapping, numbers of the wrong type or out of range.
    """
    problems = _Problems()
    if not isinstance(config, dict):
        raise ValueError(
            f"The configuration must be a mapping of sections, got {type(config).__name__}."
        )
    _check_keys(problems, "config", config, SECTIONS, REQUIRED_SECTIONS)
    result = {
        "data": _validate_data(problems, config.get("data")),
        "segments": _validate_segments(problems, config.get("segments")),
        "features": _validate_features(problems, _optional_section(config, "features")),
        "model": _validate_model(problems, _optional_section(config, "model")),
        "backtest": _validate_backtest(problems, _optional_section(config, "backtest")),
        "output_dir": _validate_output_dir(problems, config.get("output_dir")),
        "report": _validate_report(problems, config.get("report", True)),
        "title": config.get("title", DEFAULT_TITLE),
    }
    if not isinstance(result["title"], str):
        problems.add("title", f"must be a string, got {result['title']!r}")
    if result["data"] and result["segments"]:
        _check_segments_in_data(problems, result["data"], result["segments"])
    if problems:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        raise ValueError(f"Invalid workflow configuration ({len(problems)} problem(s)):\n{listing}")
    return result


def _source(data: dict) -> str:
    """Which of the data sources a (validated) data section names."""
    return next(key for key in _DATA_SOURCES if key in data)


def _optional_section(config, name):
    # An empty YAML section (``features:``) reads as None: it means the defaults.
    value = config.get(name)
    return {} if value is None else value


def _validate_data(problems, data):
    if data is None:
        return None  # reported as a missing section
    if not isinstance(data, dict):
        problems.add("data", f"must be a mapping, got {data!r}")
        return None
    sources = [key for key in _DATA_SOURCES if key in data]
    if len(sources) != 1:
        problems.add(
            "data",
            "needs exactly one source among provider_uri (Qlib data), ohlcv_path (a CSV / parquet "
            f"file) and synthetic (a simulated market); got {sources or 'none'}",
        )
        return None
    source = sources[0]
    _check_keys(problems, "data", data, _DATA_KEYS[source])
    return {
        "provider_uri": _validate_qlib,
        "ohlcv_path": _validate_ohlcv,
        "synthetic": _validate_synthetic,
    }[source](problems, data)


def _validate_qlib(problems, data):
    uri = data["provider_uri"]
    market = data.get("market", "csi300")
    benchmark = data.get("benchmark", "SH000300")
    result = {"market": market, "benchmark": benchmark}
    if not isinstance(uri, str | os.PathLike):
        problems.add("data.provider_uri", f"must be a path, got {uri!r}")
        return None
    root = Path(os.path.expanduser(os.fspath(uri)))
    result["provider_uri"] = root
    if not (root / "calendars" / "day.txt").is_file():
        problems.add(
            "data.provider_uri",
            f"{str(root)!r} is not a Qlib data folder with daily data (no calendars/day.txt)",
        )
        return None
    if not isinstance(market, str) or not (root / "instruments" / f"{market}.txt").is_file():
        available = sorted(p.stem for p in (root / "instruments").glob("*.txt"))
        problems.add("data.market", f"unknown market {market!r}; available: {', '.join(available)}")
    if benchmark is not None and (
        not isinstance(benchmark, str) or not (root / "features" / benchmark.lower()).is_dir()
    ):
        problems.add(
            "data.benchmark",
            f"instrument {benchmark!r} has no data under {str(root / 'features')!r}",
        )
    return result


def _validate_ohlcv(problems, data):
    path = data["ohlcv_path"]
    benchmark = data.get("benchmark")
    if benchmark is not None and not isinstance(benchmark, str):
        problems.add("data.benchmark", f"must be an instrument code or null, got {benchmark!r}")
    if not isinstance(path, str | os.PathLike):
        problems.add("data.ohlcv_path", f"must be a path, got {path!r}")
        return None
    path = Path(os.path.expanduser(os.fspath(path)))
    if not path.is_file():
        problems.add("data.ohlcv_path", f"file {str(path)!r} does not exist")
    elif not path.name.lower().endswith(_OHLCV_SUFFIXES):
        problems.add("data.ohlcv_path", f"{str(path)!r} is not a CSV or parquet file")
    return {"ohlcv_path": path, "benchmark": benchmark}


def _validate_synthetic(problems, data):
    settings = data["synthetic"]
    if not isinstance(settings, dict):
        problems.add(
            "data.synthetic", f"must be a mapping of make_stock_panel arguments, got {settings!r}"
        )
        return None
    _check_keys(problems, "data.synthetic", settings, _SYNTHETIC_KEYS, ("n_instruments", "n_days"))
    for key, low in (("n_instruments", 2), ("n_days", 3), ("n_sectors", 1)):
        if key in settings and not (_is_int(settings[key]) and settings[key] >= low):
            problems.add(f"data.synthetic.{key}", f"must be an int >= {low}, got {settings[key]!r}")
    random_state = settings.get("random_state")
    if random_state is not None and not _is_int(random_state):
        problems.add("data.synthetic.random_state", f"must be an int or null, got {random_state!r}")
    for key in ("churn", "noise_df", "signal_scale"):
        if key in settings and not _is_number(settings[key]):
            problems.add(f"data.synthetic.{key}", f"must be a number, got {settings[key]!r}")
    settings = dict(settings)
    if "start" in settings:
        start = _timestamp(settings["start"])
        if start is None:
            problems.add("data.synthetic.start", f"is not a date: {settings['start']!r}")
        settings["start"] = start
    return {"synthetic": settings}


def _validate_segments(problems, segments):
    if segments is None:
        return None
    if not isinstance(segments, dict):
        problems.add(
            "segments", f"must map train, valid and test to [start, end], got {segments!r}"
        )
        return None
    _check_keys(problems, "segments", segments, SEGMENTS, SEGMENTS)
    result = {}
    for name in SEGMENTS:
        if name not in segments:
            continue
        value = segments[name]
        if not (isinstance(value, list | tuple) and len(value) == 2):
            problems.add(f"segments.{name}", f"must be [start, end], got {value!r}")
            continue
        start, end = (_timestamp(v) for v in value)
        for stamp, raw in ((start, value[0]), (end, value[1])):
            if stamp is None:
                problems.add(f"segments.{name}", f"{raw!r} is not a date (write e.g. 2017-01-01)")
        if start is not None and end is not None:
            if start > end:
                problems.add(
                    f"segments.{name}", f"starts ({start.date()}) after it ends ({end.date()})"
                )
            result[name] = (start, end)
    _check_segment_order(problems, result)
    return result if len(result) == len(SEGMENTS) else None


def _check_segment_order(problems, segments):
    names = [n for n in SEGMENTS if n in segments]
    for first, second in zip(names, names[1:]):
        (a_start, a_end), (b_start, b_end) = segments[first], segments[second]
        if a_end >= b_start:
            kind = "overlap" if a_start <= b_end and b_start <= a_end else "are out of order"
            problems.add(
                "segments",
                f"{first} ({a_start.date()} .. {a_end.date()}) and {second} "
                f"({b_start.date()} .. {b_end.date()}) {kind}: {first} must end before {second} starts",
            )


def _check_segments_in_data(problems, data, segments):
    """Each segment must hold trading days of the data, where that is known without loading it."""
    if _source(data) == "provider_uri":
        path = data["provider_uri"] / "calendars" / "day.txt"
        calendar = pd.DatetimeIndex(pd.to_datetime(path.read_text().split(), format="ISO8601"))
    elif _source(data) == "synthetic":
        settings = data["synthetic"]
        if not _is_int(settings.get("n_days")) or (
            "start" in settings and settings["start"] is None
        ):
            return  # already reported
        calendar = pd.bdate_range(settings.get("start", "2015-01-01"), periods=settings["n_days"])
    else:
        return  # an OHLCV file is checked once loaded
    for name, (start, end) in segments.items():
        if start <= end and not ((calendar >= start) & (calendar <= end)).any():
            problems.add(
                f"segments.{name}",
                f"{start.date()} .. {end.date()} holds no trading day of the data, which covers "
                f"{calendar[0].date()} .. {calendar[-1].date()}",
            )


def _validate_features(problems, features):
    if not isinstance(features, dict):
        problems.add("features", f"must be a mapping, got {features!r}")
        return {"window": 60}
    _check_keys(problems, "features", features, {"window"})
    window = features.get("window", 60)
    if not (_is_int(window) and window >= 1):
        problems.add("features.window", f"must be an int >= 1, got {window!r}")
    return {"window": window}


def _model_parameters() -> dict:
    """The IGMTFRegressor parameters a configuration may set, with their defaults."""
    from .nets import IGMTFRegressor

    signature = inspect.signature(IGMTFRegressor.__init__).parameters
    allowed = {k: p.default for k, p in signature.items() if k not in _MODEL_EXCLUDED}
    allowed.update(verbose=1, device="cpu")
    return allowed


def _int_at_least(low, *, optional=False):
    def check(value):
        return (optional and value is None) or (_is_int(value) and value >= low)

    return check, f"an int >= {low}" + (" or null" if optional else "")


def _positive(*, optional=False):
    def check(value):
        return (optional and value is None) or (_is_number(value) and value > 0)

    return check, "a positive number" + (" or null" if optional else "")


def _one_of(*choices):
    return (lambda value: value in choices), " or ".join(map(str, choices)).replace("None", "null")


def _existing_file(value):
    return value is None or (
        isinstance(value, str | os.PathLike) and Path(os.fspath(value)).is_file()
    )


#: ``model`` parameters checked before any work: (check, what a valid value is).
#: Parameters not listed here are left to the estimator.
_MODEL_RULES = {
    "d_feat": _int_at_least(1, optional=True),
    "hidden_size": _int_at_least(1),
    "num_layers": _int_at_least(1),
    "k_day": _int_at_least(1),
    "n_neighbor": _int_at_least(1),
    "batch_size": _int_at_least(1),
    "pretrain_batch_size": _int_at_least(1),
    "max_epochs": _int_at_least(1),
    "pretrain_epochs": _int_at_least(0),
    "patience": _int_at_least(1, optional=True),
    "pretrain_patience": _int_at_least(1, optional=True),
    "random_state": (lambda v: v is None or _is_int(v), "an int or null"),
    "verbose": _int_at_least(0),
    "lr": _positive(),
    "pretrain_lr": _positive(),
    "clip_value": _positive(optional=True),
    "dropout": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "base_model": _one_of("GRU", "LSTM"),
    "label_norm": _one_of("csrank", "cszscore", None),
    "device": (lambda v: isinstance(v, str), "a device name such as cpu or cuda"),
    "pretrained": (_existing_file, "an existing file or null"),
}


def _check_model_value(problems, key, value):
    rule = _MODEL_RULES.get(key)
    if rule is not None and not rule[0](value):
        problems.add(f"model.{key}", f"must be {rule[1]}, got {value!r}{_number_hint(value)}")


def _validate_model(problems, model):
    if not isinstance(model, dict):
        problems.add("model", f"must be a mapping of IGMTFRegressor parameters, got {model!r}")
        return {}
    allowed = _model_parameters()
    for key, value in model.items():
        if isinstance(key, str) and key.startswith(_MODEL_PREFIXES):
            if not (value is None or isinstance(value, str | bool | numbers.Number)):
                problems.add(f"model.{key}", f"must be a plain value, got {value!r}")
        elif key not in allowed:
            hint = " (the workflow validates on the valid segment)" if key == "train_split" else ""
            problems.add(
                "model", f"unknown parameter {key!r}{hint}; allowed: {', '.join(sorted(allowed))}"
            )
        else:
            _check_model_value(problems, key, value)
    return dict(model)


def _backtest_defaults() -> dict:
    from .backtest import topk_dropout_backtest

    signature = inspect.signature(topk_dropout_backtest).parameters
    excluded = {"scores", "ohlcv", "benchmark", "return_positions"}
    return {k: p.default for k, p in signature.items() if k not in excluded}


def _validate_backtest(problems, backtest):
    from .backtest._topk import setting_problems

    defaults = _backtest_defaults()
    if not isinstance(backtest, dict):
        problems.add("backtest", f"must be a mapping of backtest settings, got {backtest!r}")
        return defaults
    _check_keys(problems, "backtest", backtest, defaults)
    settings = {**defaults, **{k: v for k, v in backtest.items() if k in defaults}}
    flags = {"forbid_all_trade_at_limit", "sell_delisted"}
    for key in flags:
        if not isinstance(settings[key], bool):
            problems.add(f"backtest.{key}", f"must be true or false, got {settings[key]!r}")
    numeric = {k: v for k, v in settings.items() if k not in flags}
    for message in setting_problems(**numeric):
        key = message.split(" ", 1)[0]
        problems.add(f"backtest.{key}", message.split(" ", 1)[1] + _number_hint(numeric[key]))
    return settings


def _validate_output_dir(problems, output_dir):
    if output_dir is None:
        return None
    if not isinstance(output_dir, str | os.PathLike) or not os.fspath(output_dir):
        problems.add("output_dir", f"must be a path, got {output_dir!r}")
        return None
    path = Path(os.path.expanduser(os.fspath(output_dir)))
    if path.exists() and not path.is_dir():
        problems.add("output_dir", f"{str(path)!r} exists and is not a folder")
        return path
    # The folder is created only at the end; check now that it can be.
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        problems.add(
            "output_dir",
            f"cannot create or write {str(path)!r} ({str(existing)!r} is not writable)",
        )
    return path


def _validate_report(problems, report):
    if not isinstance(report, bool):
        problems.add("report", f"must be true or false, got {report!r}")
        return False
    if report and importlib.util.find_spec("matplotlib") is None:
        problems.add(
            "report",
            "the HTML report needs matplotlib: pip install 'igmtf-sklearn[report]', or set "
            "report: false",
        )
    return report


# ---------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------


class _Stages:
    """Times each stage and, with ``progress``, says on stderr what runs and how long it took."""

    def __init__(self, progress: bool):
        self.progress = progress
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        if self.progress:
            print(f"[igmtf run] {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - start
        if self.progress:
            print(f"[igmtf run] {name}: {self.seconds[name]:.1f} s", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def _load_data(config):
    """The panel to build features on, the rows that are members, the OHLCV to trade and the benchmark.

    Returns
    -------
    panel : pandas.DataFrame
        OHLCV of every instrument, over every day it has data in the window.
    members : ndarray of bool or None
        Rows of ``panel`` inside the market's membership (None: all rows).
    benchmark : pandas.Series or None
        Daily benchmark returns indexed by date.
    """
    data, segments = config["data"], config["segments"]
    start = segments["train"][0] - pd.Timedelta(days=WARMUP_CALENDAR_DAYS)
    end = segments["test"][1]
    if _source(data) == "provider_uri":
        return _load_qlib_data(data, start, end)
    if _source(data) == "ohlcv_path":
        return _load_ohlcv_file(data, start, end)
    return _load_synthetic(data["synthetic"], start, end)


def _load_qlib_data(data, start, end):
    from .datasets import load_qlib

    root = data["provider_uri"]
    # Point-in-time membership, then the members' whole history: Qlib computes features on
    # the full series and only then keeps the member days, so a stock joining the index
    # arrives with its window, and one leaving it can still be sold.
    members = load_qlib(root, data["market"], start, end, fields=["close"])
    codes = members.index.remove_unused_levels().levels[1].tolist()
    panel = load_qlib(root, codes, start, end)
    in_market = panel.index.isin(members.index)
    benchmark = None
    if data["benchmark"] is not None:
        index_close = load_qlib(root, [data["benchmark"]], start, end, fields=["close"])["close"]
        benchmark = _close_to_returns(index_close.droplevel(1))
    return panel, in_market, benchmark


def _load_ohlcv_file(data, start, end):
    from .datasets import read_ohlcv

    panel = read_ohlcv(data["ohlcv_path"])
    dates = panel.index.get_level_values(0)
    panel = panel[(dates >= start) & (dates <= end)]
    benchmark = None
    code = data["benchmark"]
    if code is not None:
        is_benchmark = np.asarray(panel.index.get_level_values(1) == code)
        if not is_benchmark.any():
            raise ValueError(
                f"data.benchmark: instrument {code!r} is not in {str(data['ohlcv_path'])!r} between "
                f"{start.date()} and {end.date()}."
            )
        benchmark = _close_to_returns(panel["close"][is_benchmark].droplevel(1))
        panel = panel[~is_benchmark]  # an index is neither a feature row nor tradable
    return panel, None, benchmark


def _load_synthetic(settings, start, end):
    from .datasets import make_stock_panel

    settings = dict(settings)
    if settings.get("start") is not None:
        settings["start"] = settings["start"].strftime("%Y-%m-%d")
    panel = make_stock_panel(**settings)
    dates = panel.index.get_level_values(0)
    panel = panel[(dates >= start) & (dates <= end)]
    # A simulated market has no index: the benchmark is its equal-weighted mean return.
    close = panel["close"].astype(np.float64)
    returns = close / close.groupby(level=1).shift(1) - 1.0
    return panel, None, returns.groupby(level=0).mean().dropna()


def _close_to_returns(close: pd.Series) -> pd.Series:
    close = close.astype(np.float64).dropna()
    return (close / close.shift(1) - 1.0).dropna()


# ---------------------------------------------------------------------------
# Features, labels and segments
# ---------------------------------------------------------------------------


def _features_and_label(panel, members, window):
    """Alpha360 features, the label, and the day each label is realised, on the member rows.

    All three are computed on the members' whole histories before the member
    rows are kept, as Qlib computes its expressions.
    """
    from .preprocessing import Alpha360, forward_return

    X = Alpha360(window=window).set_output(transform="pandas").fit_transform(panel)
    y = forward_return(panel)
    # The label of a row is close[t+2] / close[t+1] - 1 over the instrument's own rows:
    # it is known on the date of its LABEL_HORIZON-th next row.
    dates = pd.Series(panel.index.get_level_values(0), index=panel.index)
    realised = dates.groupby(level=1).shift(-LABEL_HORIZON)
    if members is not None:
        X, y, realised = X[members], y[members], realised[members]
    return X, y, realised


def _segment_rows(X, y, realised, segments, window):
    """Row masks of the segments, and the labels of train and valid without look-ahead.

    A train or valid label realised after its segment ends (the last days'
    labels, more for a suspended stock) is dropped: it is a return of the next
    segment. The first ``window - 1`` trading days of the data have incomplete
    windows for every instrument and take no part in training.
    """
    dates = X.index.get_level_values(0)
    days = dates.unique()
    first_full_day = days[min(window - 1, len(days) - 1)]
    y = y.copy()
    masks = {}
    for name, (start, end) in segments.items():
        mask = np.asarray((dates >= start) & (dates <= end))
        if name == "train":
            mask &= np.asarray(dates >= first_full_day)
        if not mask.any():
            raise ValueError(_empty_segment_message(name, start, end, days, first_full_day))
        if name != "test":
            y[mask & np.asarray(realised > end)] = np.nan
        masks[name] = mask
    return masks, y


def _empty_segment_message(name, start, end, days, first_full_day) -> str:
    message = (
        f"segments.{name} ({start.date()} .. {end.date()}) has no row in the data, which covers "
        f"{days[0].date()} .. {days[-1].date()}"
    )
    if name == "train":
        message += f" (training starts at {first_full_day.date()}, after the feature window)"
    return message + "."


# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------


def _preprocessing():
    from sklearn.pipeline import Pipeline

    from .preprocessing import Fillna, RobustZScoreNorm

    steps = [("norm", RobustZScoreNorm(clip_outlier=True)), ("fillna", Fillna())]
    return Pipeline(steps).set_output(transform="pandas")


def _fit_model(config, X_train, y_train, X_valid, y_valid, progress):
    """Fit the preprocessing on the training rows, then IGMTF on them, validated on the valid rows.

    Returns the fitted ``preprocessing -> model`` pipeline and the transformed
    test-ready preprocessing. ExplicitValidation's panel bypasses a pipeline's
    transformers, so the valid rows are transformed here, by the preprocessing
    fitted on the training rows only.
    """
    from sklearn.pipeline import Pipeline

    from .nets import ExplicitValidation, IGMTFRegressor

    preprocessing = _preprocessing().fit(X_train)
    params = dict(config["model"])
    if not progress:
        params.setdefault("verbose", 0)
    model = IGMTFRegressor(
        **params,
        train_split=ExplicitValidation(preprocessing.transform(X_valid), y_valid),
    )
    model.fit(preprocessing.transform(X_train), y_train)
    # Drop the validation panel: the saved model need not carry the valid segment.
    model.set_params(train_split=None)
    steps = [*preprocessing.steps, ("model", model)]
    return Pipeline(steps).set_output(transform="pandas")


def _model_summary(model) -> dict:
    summary = {"epochs": len(model.history)}
    valid_ic = [row["valid_ic"] for row in model.history if row.get("valid_ic") is not None]
    if valid_ic:
        summary["best_valid_ic"] = float(np.nanmax(valid_ic))
    pretrained = getattr(model, "pretrained_model_", None)
    if pretrained is not None:
        summary["pretrain_epochs"] = len(pretrained.history)
    return summary


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------


def _evaluate(config, scores, labels, ohlcv, benchmark):
    from .backtest import risk_analysis, signal_analysis, topk_dropout_backtest

    analysis = signal_analysis(scores, labels)
    report, positions = topk_dropout_backtest(
        scores, ohlcv, benchmark=benchmark, return_positions=True, **config["backtest"]
    )
    excess = report["return_gross"] - report["bench"]
    risk = {
        "excess_return_without_cost": risk_analysis(excess),
        "excess_return_with_cost": risk_analysis(excess - report["cost"]),
    }
    return analysis, report, positions, risk


def _backtest_summary(report: pd.DataFrame) -> dict:
    return {
        "days": len(report),
        "start": f"{report.index[0]:%Y-%m-%d}",
        "end": f"{report.index[-1]:%Y-%m-%d}",
        "mean_turnover": float(report["turnover"].mean()),
        "mean_cost": float(report["cost"].mean()),
        "mean_holdings": float(report["n_holdings"].mean()),
        "final_value": float(report["value"].iloc[-1]),
        "total_return": float(report["value"].iloc[-1] / report["value"].iloc[0] - 1.0),
    }


def _data_summary(X, masks) -> dict:
    dates = X.index.get_level_values(0)
    summary = {}
    for name, mask in masks.items():
        summary[f"{name}_rows"] = int(mask.sum())
        summary[f"{name}_days"] = int(dates[mask].nunique())
    summary["features"] = int(X.shape[1])
    summary["instruments"] = int(X.index.get_level_values(1).nunique())
    return summary


def _jsonable(value):
    """Plain JSON values: NaN and infinities become null, numpy scalars Python numbers."""
    if isinstance(value, dict | pd.Series):
        return {str(k): _jsonable(v) for k, v in dict(value).items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp | _dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, Path):
        return str(value)
    return value


# ---------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------


def _table_writer():
    """(suffix, writer): parquet where pyarrow is installed, CSV otherwise."""
    if importlib.util.find_spec("pyarrow") is not None:
        return ".parquet", lambda frame, path: frame.to_parquet(path)
    return ".csv", lambda frame, path: frame.to_csv(path)


def _write_outputs(config, output_dir, results) -> dict:
    import joblib

    from .report import atomic_path, atomic_write

    output_dir.mkdir(parents=True, exist_ok=True)
    suffix, write_table = _table_writer()
    files = {}
    for name in ("predictions", "backtest", "positions"):
        path = output_dir / f"{name}{suffix}"
        with atomic_path(path) as temporary:
            write_table(results[name], temporary)
        files[name] = path
    files["metrics"] = atomic_write(
        output_dir / "metrics.json", json.dumps(_jsonable(results["metrics"]), indent=2) + "\n"
    )
    files["config"] = atomic_write(
        output_dir / "config.json", json.dumps(_jsonable(config), indent=2) + "\n"
    )
    with atomic_path(output_dir / "model.joblib") as temporary:
        joblib.dump(results["model"], temporary)
    files["model"] = output_dir / "model.joblib"
    if config["report"]:
        files["report"] = _write_report(config, output_dir, results)
    return files


def _write_report(config, output_dir, results):
    from .report import write_report

    metrics = results["metrics"]
    tables = {
        "Signal (test segment)": metrics["signal"],
        "Excess return over the benchmark (risk_analysis: sum mode, 238 days a year)": {
            "without cost": metrics["excess_return_without_cost"],
            "with cost": metrics["excess_return_with_cost"],
        },
        "Backtest": metrics["backtest"],
        "Data": metrics["data"],
        "Model": metrics["model"],
    }
    return write_report(
        output_dir,
        backtest=results["backtest"],
        signal=results["signal"],
        metrics=tables,
        title=config["title"],
    )


# ---------------------------------------------------------------------------
# The workflow
# ---------------------------------------------------------------------------


def run_workflow(config, *, progress=True) -> dict:
    """Run a whole experiment from a configuration: data to report.

    Parameters
    ----------
    config : dict
        The workflow configuration, as described in :func:`validate_config`
        (e.g. ``load_config("examples/csi300_alpha360.yaml")``). It is
        validated in full before any work.
    progress : bool, default=True
        Print each stage and its duration on stderr, and let the model print
        its epochs (unless ``model.verbose`` says otherwise). False runs
        silently.

    Returns
    -------
    result : dict
        ``output_dir`` (Path), ``files`` (name -> Path of every file written),
        ``metrics`` (what ``metrics.json`` holds), ``predictions`` (test
        ``score`` and ``label``), ``backtest`` and ``positions`` (of
        :func:`~igmtf_sklearn.backtest.topk_dropout_backtest`), ``signal``
        (:class:`~igmtf_sklearn.backtest.SignalAnalysis`), ``model`` (the
        fitted ``RobustZScoreNorm -> Fillna -> IGMTFRegressor`` pipeline; its
        estimator's ``train_split`` is reset to None so that it does not carry
        the valid segment).

    Notes
    -----
    ``output_dir`` receives ``predictions``, ``backtest`` and ``positions``
    (``.parquet`` with pyarrow, ``.csv`` otherwise), ``metrics.json``,
    ``config.json`` (the validated configuration), ``model.joblib`` and, unless
    ``report: false``, ``report.html`` with its PNG figures. It is created only
    once everything has been computed, and each file is written under a
    temporary name and renamed, so a failed run leaves no partial file.
    """
    config = validate_config(config)
    stage = _Stages(progress)
    with stage("load data"):
        panel, members, benchmark = _load_data(config)
    with stage("Alpha360 features and labels"):
        window = config["features"]["window"]
        X, y, realised = _features_and_label(panel, members, window)
        masks, y_fit = _segment_rows(X, y, realised, config["segments"], window)
    with stage("fit (preprocessing, GRU pretraining, IGMTF)"):
        model = _fit_model(
            config,
            X[masks["train"]],
            y_fit[masks["train"]],
            X[masks["valid"]],
            y_fit[masks["valid"]],
            progress,
        )
    with stage("predict, analyse, backtest"):
        X_test = X[masks["test"]]
        scores = pd.Series(model.predict(X_test), index=X_test.index, name="score")
        labels = y[masks["test"]]
        analysis, report, positions, risk = _evaluate(config, scores, labels, panel, benchmark)
    metrics = {
        "signal": analysis.summary,
        **{name: table.to_dict() for name, table in risk.items()},
        "backtest": _backtest_summary(report),
        "data": _data_summary(X, masks),
        "model": _model_summary(model[-1]),
    }
    results = {
        "metrics": metrics,
        "predictions": pd.DataFrame({"score": scores, "label": labels}),
        "backtest": report,
        "positions": positions,
        "signal": analysis,
        "model": model,
    }
    metrics["seconds"] = dict(stage.seconds)  # every stage but the writing itself
    with stage("write outputs"):
        files = _write_outputs(config, config["output_dir"], results)
    return {"output_dir": config["output_dir"], "files": files, **results}
