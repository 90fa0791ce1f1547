"""Checking an ``igmtf run`` configuration: :func:`validate_config`.

Reading one (:func:`load_config`) is in ``_files``.

The ``model`` and ``backtest`` sections are checked in ``_model_config``; the
problem list and value checks shared by all sections live in ``_checks``.
"""

from __future__ import annotations

import importlib.util
import os
from numbers import Integral
from pathlib import Path

import pandas as pd
from sklearn.utils._param_validation import Interval

from .._utils._param_validation import constraint_problem, function_constraints
from ..datasets import make_stock_panel
from ..preprocessing import Alpha360
from ._checks import _check_constraints, _check_keys, _Problems, _timestamp
from ._model_config import _validate_backtest, _validate_ensemble_seeds, _validate_model

__all__ = ["validate_config"]

SECTIONS = (
    "data",
    "segments",
    "features",
    "model",
    "ensemble",
    "backtest",
    "output_dir",
    "report",
    "title",
)
REQUIRED_SECTIONS = ("data", "segments", "output_dir")
SEGMENTS = ("train", "valid", "test")
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
_ENSEMBLE_CONSTRAINTS = {"seeds": [Interval(Integral, 1, None, closed="left")]}
_OHLCV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".csv.zst", ".parquet")
_OHLCV_SUFFIXES += (".pq",)


def validate_config(config: dict) -> dict:
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
        - ``ensemble``: ``seeds`` (default 1), how many models to fit and
          average (scikit-learn's ``VotingRegressor``): the k-th (from 0) gets
          ``random_state`` ``model.random_state + k`` (each its own draw when
          ``model.random_state`` is null). Seed averaging: k times the fit's
          cost, a prediction that depends less on one seed's luck.
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

    Examples
    --------
    >>> from igmtf_sklearn.workflow import validate_config
    >>> config = {
    ...     "data": {"synthetic": {"n_instruments": 20, "n_days": 120, "start": "2020-01-01"}},
    ...     "segments": {"train": ["2020-01-01", "2020-03-31"],
    ...                  "valid": ["2020-04-01", "2020-04-30"],
    ...                  "test": ["2020-05-01", "2020-06-30"]},
    ...     "output_dir": "run"}
    >>> complete = validate_config(config)
    >>> complete["features"]["window"], complete["backtest"]["topk"]  # the defaults
    (60, 50)
    >>> validate_config({**config, "backtest": {"topk": 0}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Invalid workflow configuration (1 problem(s)):...backtest.topk: must be...
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
        "ensemble": _validate_ensemble(problems, _optional_section(config, "ensemble")),
        "backtest": _validate_backtest(problems, _optional_section(config, "backtest")),
        "output_dir": _validate_output_dir(problems, config.get("output_dir")),
        "report": _validate_report(problems, config.get("report", True)),
        "title": config.get("title", DEFAULT_TITLE),
    }
    _validate_ensemble_seeds(problems, result["model"], result["ensemble"]["seeds"])
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
            f"{str(root)!r} is not a Qlib data folder with daily data (no calendars/day.txt)"
            + ("" if root.is_absolute() else f"; relative paths start from {os.getcwd()!r}"),
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
    # make_stock_panel's own rules; ``start`` is parsed as a date just below.
    numbers = {k: v for k, v in settings.items() if k in _SYNTHETIC_KEYS and k != "start"}
    _check_constraints(problems, "data.synthetic", function_constraints(make_stock_panel), numbers)
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
        n_days = function_constraints(make_stock_panel)["n_days"]
        if constraint_problem(n_days, settings.get("n_days")) is not None or (
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
    return _one_setting(
        problems, "features", features, "window", 60, Alpha360._parameter_constraints
    )


def _validate_ensemble(problems, ensemble):
    return _one_setting(problems, "ensemble", ensemble, "seeds", 1, _ENSEMBLE_CONSTRAINTS)


def _one_setting(problems, where, section, key, default, constraints):
    """A section of one setting (``features: {window: 60}``), checked, with its default."""
    if not isinstance(section, dict):
        problems.add(where, f"must be a mapping, got {section!r}")
        return {key: default}
    _check_keys(problems, where, section, {key})
    value = section.get(key, default)
    _check_constraints(problems, where, constraints, {key: value})
    return {key: value}


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
            "the HTML report needs matplotlib, a dependency of igmtf-sklearn missing here: "
            "pip install matplotlib, or set report: false",
        )
    return report
