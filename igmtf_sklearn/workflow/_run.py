"""Running an ``igmtf run`` configuration: :func:`run_workflow` and its fit and evaluation steps."""

from __future__ import annotations

import contextlib
import sys
import time

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ..backtest import risk_analysis, signal_analysis, topk_dropout_backtest
from ..backtest._risk import PERIODS_PER_YEAR
from ..metrics import training_curve
from ..nets import ExplicitValidation, IGMTFRegressor
from ..preprocessing import Fillna, RobustZScoreNorm
from ._config import validate_config
from ._data import _features_and_label, _load_data, _segment_rows
from ._model_config import estimator_parameters, gru_alone, networks, seed_ensemble
from ._outputs import _write_outputs

__all__ = ["run_workflow"]


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


def _preprocessing():
    steps = [("norm", RobustZScoreNorm(clip_outlier=True)), ("fillna", Fillna())]
    return Pipeline(steps).set_output(transform="pandas")


def _fit_model(config, X_train, y_train, X_valid, y_valid, progress):
    """Fit the preprocessing on the training rows, then IGMTF on them, validated on the valid rows.

    Returns the fitted ``preprocessing -> model`` pipeline; the model is an
    ``IGMTFRegressor``, or with ``ensemble.seeds > 1`` a ``VotingRegressor`` of them.
    ExplicitValidation's panel bypasses a pipeline's transformers, so the valid
    rows are transformed here, by the preprocessing fitted on the training rows only.
    """
    preprocessing = _preprocessing().fit(X_train)
    params = estimator_parameters(config["model"])
    if not progress:
        params.setdefault("verbose", 0)
    network = IGMTFRegressor(
        **params,
        train_split=ExplicitValidation(preprocessing.transform(X_valid), y_valid),
    )
    seeds = config["ensemble"]["seeds"]
    model = network if seeds == 1 else seed_ensemble(network, seeds)
    model.fit(preprocessing.transform(X_train), y_train)
    # Drop the validation panel: the saved model need not carry the valid segment.
    for net in [*networks(model), *(m for _, m in getattr(model, "estimators", ()))]:
        net.set_params(train_split=None)
    steps = [*preprocessing.steps, ("model", model)]
    return Pipeline(steps).set_output(transform="pandas")


def _model_summary(model) -> dict:
    """The network's epochs and best validation IC; an ensemble's per member, by name."""
    if not hasattr(model, "estimators_"):
        return _network_summary(model)
    return {name: _network_summary(model.named_estimators_[name]) for name, _ in model.estimators}


def _network_summary(model) -> dict:
    summary = {"epochs": len(model.history)}
    validated = getattr(model, "validation_history_", model.history)  # refit: the validated fit
    valid_ic = [row["valid_ic"] for row in validated if row.get("valid_ic") is not None]
    if valid_ic:
        summary["best_valid_ic"] = float(np.nanmax(valid_ic))
    pretrained = getattr(model, "pretrained_model_", None)
    if pretrained is not None:
        summary["pretrain_epochs"] = len(pretrained.history)
    if hasattr(model, "refit_epochs_"):
        summary["refit"] = True  # the epochs above are the refit's, those validation kept
    if getattr(model, "base_chosen_", False):
        # base_fallback: the GRU alone predicts; only it was refit, IGMTF's epochs are validated
        summary["base_chosen"] = True
    return summary


#: Days a year of every annualised figure of a run: Qlib's risk_analysis count (its
#: SigAnaRecord uses 252 for the long-short return; one count keeps the report consistent).
DAYS_PER_YEAR = PERIODS_PER_YEAR["day"]


def _baselines(model, X_test, labels) -> dict:
    """The pretrained GRU alone on the test days, when IGMTF pretrained one; an
    ensemble's GRUs averaged like its members, so both average as many seeds."""
    predictions = gru_alone(model, X_test)
    if predictions is None:
        return {}
    scores = pd.Series(predictions, index=X_test.index)
    return {"GRU alone": signal_analysis(scores, labels, ann_scaler=DAYS_PER_YEAR)}


def _evaluate(config, scores, labels, ohlcv, benchmark):
    analysis = signal_analysis(scores, labels, ann_scaler=DAYS_PER_YEAR)
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


def run_workflow(config: dict, *, progress: bool = True) -> dict:
    """Run a whole experiment from a configuration: data to report.

    Parameters
    ----------
    config : dict
        The workflow configuration, as described in :func:`validate_config`
        (e.g. ``load_config("csi300_alpha360")``). It is
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
        (:class:`~igmtf_sklearn.backtest.SignalAnalysis`, annualised with 238
        days a year as the risk tables), ``baselines`` (``{"GRU alone":
        SignalAnalysis}`` of the pretrained GRU on the test days, empty
        without pretraining; with ``ensemble.seeds > 1`` the members' GRUs
        averaged), ``training`` (the
        :func:`~igmtf_sklearn.metrics.training_curve`; of the first member
        with ``ensemble.seeds > 1``), ``model`` (the fitted ``RobustZScoreNorm
        -> Fillna -> IGMTFRegressor`` pipeline, or ``-> VotingRegressor`` of
        ``ensemble.seeds`` IGMTFRegressors; each estimator's ``train_split``
        is reset to None so that it does not carry the valid segment).

    Notes
    -----
    ``output_dir`` receives ``predictions``, ``backtest`` and ``positions``
    (``.parquet`` with pyarrow, ``.csv`` otherwise), ``metrics.json``,
    ``config.json`` (the validated configuration), ``model.pt`` (the fitted
    pipeline, written by :func:`~igmtf_sklearn.persistence.save_model`: no
    pickle, load it with :func:`~igmtf_sklearn.persistence.load_model`) and, unless
    ``report: false``, ``report.html`` with its PNG figures. It is created only
    once everything has been computed, and each file is written under a
    temporary name and renamed, so a failed run leaves no partial file.

    Examples
    --------
    >>> import shutil, tempfile
    >>> from igmtf_sklearn.workflow import run_workflow
    >>> folder = tempfile.mkdtemp()
    >>> result = run_workflow({
    ...     "data": {"synthetic": {"n_instruments": 20, "n_days": 120, "start": "2020-01-01",
    ...                            "random_state": 0}},
    ...     "segments": {"train": ["2020-01-01", "2020-03-31"],
    ...                  "valid": ["2020-04-01", "2020-04-30"],
    ...                  "test": ["2020-05-01", "2020-06-19"]},
    ...     "features": {"window": 5},
    ...     "model": {"hidden_size": 4, "num_layers": 1, "max_epochs": 1, "pretrain_epochs": 1,
    ...               "random_state": 0},
    ...     "backtest": {"topk": 5, "n_drop": 1},
    ...     "output_dir": f"{folder}/run", "report": False}, progress=False)
    >>> result["backtest"].index[0]  # the first test day
    Timestamp('2020-05-01 00:00:00')
    >>> shutil.rmtree(folder)
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
        baselines = _baselines(model, X_test, labels)
    metrics = {
        "signal": analysis.summary,
        "baselines": {name: baseline.summary for name, baseline in baselines.items()},
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
        "baselines": baselines,
        # an ensemble's first member: one seed's curve shows how the budget was used
        "training": training_curve(networks(model[-1])[0]),
        "model": model,
    }
    metrics["seconds"] = dict(stage.seconds)  # every stage but the writing itself
    with stage("write outputs"):
        files = _write_outputs(config, config["output_dir"], results)
    return {"output_dir": config["output_dir"], "files": files, **results}
