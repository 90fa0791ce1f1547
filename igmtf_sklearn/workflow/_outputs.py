"""Writing an ``igmtf run``'s results into its output folder, each file atomically."""

from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..nets import save_model
from ..report import atomic_path, atomic_write, write_report
from ._model_config import networks


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


def _table_writer():
    """(suffix, writer): parquet where pyarrow is installed, CSV otherwise."""
    if importlib.util.find_spec("pyarrow") is not None:
        return ".parquet", lambda frame, path: frame.to_parquet(path)
    return ".csv", lambda frame, path: frame.to_csv(path)


def _write_outputs(config, output_dir, results) -> dict:
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
    # save_model's format holds tensors and plain values only, so the file is safe to
    # load from anywhere (a joblib pickle runs code when loaded); it writes atomically.
    files["model"] = output_dir / "model.pt"
    save_model(results["model"], files["model"])
    if config["report"]:
        files["report"] = _write_report(config, output_dir, results)
    return files


def _benchmark_name(data) -> str:
    if "synthetic" in data:
        return "equal-weighted mean of the simulated instruments"
    return data.get("benchmark") or "none (a return of 0)"


def _scalar_parameters(estimator) -> dict:
    """The estimator's parameters that are plain values (no callbacks, splits or modules)."""
    return {
        name: value
        for name, value in estimator.get_params(deep=False).items()
        if isinstance(value, int | float | str | bool) and "__" not in name
    }


def _config_tables(config, model) -> dict:
    """The run's configuration as the report's tables."""
    data = dict(next(iter(config["data"].values()))) if "synthetic" in config["data"] else {}
    data_table = {"source": next(iter(config["data"])), **data, **config["features"]}
    if "synthetic" not in config["data"]:
        data_table.update(config["data"])
    segments = {
        name: {"first day": f"{start:%Y-%m-%d}", "last day": f"{end:%Y-%m-%d}"}
        for name, (start, end) in config["segments"].items()
    }
    return {
        "Segments": pd.DataFrame(segments).T,
        "Data and features": {k: _jsonable(v) for k, v in data_table.items()},
        "Backtest (TopK-Dropout, costs)": {k: _jsonable(v) for k, v in config["backtest"].items()},
        "Model (IGMTFRegressor parameters)": _model_parameters(model[-1]),
    }


def _model_parameters(model) -> dict:
    """The network's plain parameters; for a seed ensemble, its first member's, with
    how many seeds are averaged and each member's ``random_state``."""
    members = networks(model)
    if members[0] is model:
        return _scalar_parameters(model)
    seeds = ", ".join(str(member.random_state) for member in members)
    return {"seeds averaged": len(members), **_scalar_parameters(members[0]), "random_state": seeds}


def _write_report(config, output_dir, results):
    metrics = results["metrics"]
    tables = {
        "Backtest": metrics["backtest"],
        "Data": metrics["data"],
        "Model": metrics["model"],
        "Seconds by stage": metrics.get("seconds", {}),
    }
    return write_report(
        output_dir,
        backtest=results["backtest"],
        signal=results["signal"],
        metrics=tables,
        title=config["title"],
        benchmark=_benchmark_name(config["data"]),
        baselines=results.get("baselines"),
        training=results.get("training"),
        config=_config_tables(config, results["model"]),
    )
