"""Tests of the ``igmtf run`` workflow: configuration checks and one tiny end-to-end run."""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from igmtf_sklearn import DailyICLoss, ExplicitValidation
from igmtf_sklearn.backtest import signal_analysis
from igmtf_sklearn.datasets import make_stock_panel
from igmtf_sklearn.metrics import training_curve
from igmtf_sklearn.nets._score_power import POWERS
from igmtf_sklearn.persistence import load_model
from igmtf_sklearn.preprocessing import Alpha360
from igmtf_sklearn.workflow import load_config, run_workflow, validate_config

# A private module, on purpose: the look-ahead purge of the labels and the
# data sources' benchmark handling are steps inside run_workflow, and testing
# each edge case through a whole run (a fit every time) would cost minutes.
from igmtf_sklearn.workflow import _data  # isort: skip

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None
SYNTHETIC = {"n_instruments": 30, "n_days": 120, "random_state": 0, "start": "2020-01-01"}


def tiny_config(output_dir) -> dict:
    """A market of 30 instruments x 120 days and a 4-unit network trained for one epoch."""
    return {
        "data": {"synthetic": dict(SYNTHETIC)},
        "segments": {
            "train": ["2020-01-01", "2020-03-31"],
            "valid": ["2020-04-01", "2020-04-30"],
            "test": ["2020-05-01", "2020-06-30"],
        },
        "features": {"window": 5},
        "model": {
            "hidden_size": 4,
            "num_layers": 1,
            "max_epochs": 1,
            "pretrain_epochs": 1,
            "lr": 1.0e-3,
            "random_state": 0,
        },
        "backtest": {"topk": 5, "n_drop": 1},
        "output_dir": str(output_dir),
        "report": HAS_MATPLOTLIB,
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("workflow") / "run"
    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        result = run_workflow(tiny_config(output_dir), progress=True)
    return result, log.getvalue()


# ---------------------------------------------------------------------------
# End to end
# ---------------------------------------------------------------------------


def test_run_writes_every_output(run):
    result, _ = run
    output_dir = result["output_dir"]
    suffix = ".parquet" if HAS_PYARROW else ".csv"
    expected = {f"{name}{suffix}" for name in ("predictions", "backtest", "positions")}
    expected |= {"metrics.json", "config.json", "model.pt"}
    if HAS_MATPLOTLIB:
        expected |= {"report.html", "ic.png", "cumulative_return.png", "drawdown.png"}
    names = {p.name for p in output_dir.iterdir()}
    assert expected <= names
    assert not [n for n in names if n.endswith(".tmp")]
    assert all(Path(path).is_file() for path in result["files"].values())


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="the report needs matplotlib")
def test_report_holds_every_section_baseline_and_the_configuration(run):
    result, _ = run
    from igmtf_sklearn.report._figures import FIGURES

    text = (result["output_dir"] / "report.html").read_text(encoding="utf-8")
    for name in FIGURES:  # every figure, the training curve and the GRU alone's among them
        assert f'id="{name}"' in text and (result["output_dir"] / name).is_file()
    for heading in ("Summary", "Signal", "Portfolio", "Risk", "Model", "Run", "Configuration"):
        assert f"<h2>{heading}</h2>" in text
    for cell in ("GRU alone", "train", "test", "topk", "n_drop", "open_cost", "hidden_size"):
        assert f"<td>{cell}</td>" in text
    assert "benchmark: equal-weighted mean of the simulated instruments" in text
    assert result["training"]["stage"].tolist() == ["pretraining", "training"]
    assert set(result["baselines"]) == {"GRU alone"}


def test_metrics_json(run):
    result, _ = run
    metrics = json.loads((result["output_dir"] / "metrics.json").read_text())
    assert set(metrics) >= {
        "signal",
        "excess_return_without_cost",
        "excess_return_with_cost",
        "backtest",
        "data",
        "model",
        "seconds",
    }
    assert set(metrics["signal"]) >= {"IC", "ICIR", "Rank IC", "Rank ICIR"}
    assert set(metrics["excess_return_with_cost"]) == {
        "mean",
        "std",
        "annualized_return",
        "information_ratio",
        "max_drawdown",
    }
    # Costs only lower the excess return.
    without, with_cost = metrics["excess_return_without_cost"], metrics["excess_return_with_cost"]
    assert with_cost["mean"] < without["mean"]
    assert metrics["model"]["epochs"] == 1 and metrics["model"]["pretrain_epochs"] == 1
    assert metrics["data"]["features"] == 5 * 5  # 5 fields x window 5


def test_predictions_cover_the_test_segment_and_match_the_saved_model(run):
    result, _ = run
    predictions = result["predictions"]
    dates = predictions.index.get_level_values(0)
    assert dates.min() >= pd.Timestamp("2020-05-01") and dates.max() <= pd.Timestamp("2020-06-30")
    backtest = result["backtest"]
    assert backtest.index[0] == dates.min() and backtest.index[-1] == dates.max()
    assert (backtest["n_holdings"].iloc[2:] > 0).all()
    # Rebuild the test features independently: the saved pipeline gives the same scores.
    panel = make_stock_panel(**SYNTHETIC)
    X = Alpha360(window=5).set_output(transform="pandas").fit_transform(panel)
    X_test = X.loc[predictions.index]
    # The safe format: no pickle (load_model refuses any), and no valid segment inside.
    assert not (result["output_dir"] / "model.joblib").exists()
    model = load_model(result["output_dir"] / "model.pt")
    np.testing.assert_allclose(model.predict(X_test), predictions["score"], rtol=1e-6)
    assert not isinstance(model[-1].train_split, ExplicitValidation)


def test_progress_is_reported_on_stderr(run):
    _, log = run
    for stage in ("load data", "Alpha360", "fit", "predict", "write outputs"):
        assert f"[igmtf run] {stage}" in log


def test_labels_realised_in_the_next_segment_are_dropped():
    dates = pd.bdate_range("2021-01-04", periods=10)
    index = pd.MultiIndex.from_product([dates, ["A", "B"]], names=["datetime", "instrument"])
    # B is suspended on day 4: its label of day 2 is realised on day 5, not day 4.
    index = index.drop((dates[4], "B"))
    panel = pd.DataFrame({"close": 10.0, "volume": 1.0}, index=index)
    X, y, realised = _data._features_and_label(panel, None, window=2)
    segments = {
        "train": (dates[0], dates[4]),
        "valid": (dates[5], dates[7]),
        "test": (dates[8], dates[9]),
    }
    masks, purged = _data._segment_rows(X, y, realised, segments, window=2)
    kept = purged.dropna().index
    day = index.get_level_values(0)
    # Training starts at the first day with a full window (day 1).
    assert set(day[masks["train"]]) == set(dates[1:5])
    assert kept.isin([(dates[d], "A") for d in (1, 2)]).sum() == 2
    assert (dates[2], "B") not in kept and (dates[1], "B") in kept
    assert (dates[3], "A") not in kept and (dates[5], "A") in kept and (dates[6], "A") not in kept
    assert purged[masks["test"]].isna().sum() == 4  # test labels are left as they are
    with pytest.raises(ValueError, match="segments.test .* has no row"):
        late = (dates[-1] + pd.Timedelta(days=7),) * 2
        _data._segment_rows(X, y, realised, {**segments, "test": late}, 2)


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------


def test_validate_config_fills_the_defaults(tmp_path):
    config = validate_config(tiny_config(tmp_path / "out"))
    assert (
        config["backtest"]["open_cost"] == 0.0005 and config["backtest"]["limit_threshold"] == 0.095
    )
    assert config["segments"]["train"] == (pd.Timestamp("2020-01-01"), pd.Timestamp("2020-03-31"))
    assert config["output_dir"] == tmp_path / "out"
    assert validate_config(config) == config  # a validated config is a valid config
    empty_sections = {**tiny_config(tmp_path / "out"), "features": None, "backtest": None}
    assert validate_config(empty_sections)["features"] == {"window": 60}  # `features:` in YAML
    assert not (tmp_path / "out").exists()  # validation creates nothing


def test_validate_config_lists_every_problem(tmp_path):
    config = tiny_config(tmp_path / "out")
    config["extra"] = 1
    config["features"]["window"] = 0
    config["model"].update(lr="1e-4", hidden_size=-1, train_split="x", colour="red")
    config["backtest"].update(topk=0, open_cost=2.0, speed=3)
    config["segments"].update(valid=["2020-03-15", "2020-04-30"], test=["2020-06-30", "2020-05-01"])
    config["report"] = "yes"
    with pytest.raises(ValueError) as error:
        validate_config(config)
    message = str(error.value)
    for expected in (
        "config: unknown key(s) extra",
        # features.* and model.*: Alpha360's and IGMTFRegressor's _parameter_constraints.
        "features.window: must be an int in the range [1, inf), got 0",
        "model.lr: must be a float in the range (0.0, inf), got '1e-4' (YAML read it as text",
        "model.hidden_size: must be an int in the range [1, inf), got -1",
        "unknown parameter 'train_split' (the workflow validates on the valid segment)",
        "unknown parameter 'colour'",
        "backtest: unknown key(s) speed",
        # backtest.*: topk_dropout_backtest's own constraints, in scikit-learn's words.
        "backtest.topk: must be an int in the range [1, inf)",
        "backtest.open_cost: must be a float in the range [0.0, 1.0)",
        "segments.test: starts (2020-06-30) after it ends (2020-05-01)",
        "train (2020-01-01 .. 2020-03-31) and valid (2020-03-15 .. 2020-04-30) overlap",
        "report: must be true or false",
    ):
        assert expected in message, expected
    assert "12 problem(s)" in message  # each once
    assert not (tmp_path / "out").exists()


def test_validate_config_data_sources_and_paths(tmp_path):
    base = tiny_config(tmp_path / "out")
    cases = {
        "missing sections": ({}, ["missing required key 'data'", "'segments'", "'output_dir'"]),
        "two sources": (
            {**base, "data": {"synthetic": SYNTHETIC, "ohlcv_path": "x.csv"}},
            ["needs exactly one source"],
        ),
        "no provider": (
            {**base, "data": {"provider_uri": str(tmp_path / "nope")}},
            ["is not a Qlib data folder"],
        ),
        "no file": (
            {**base, "data": {"ohlcv_path": str(tmp_path / "bars.csv"), "benchmark": 3}},
            ["file", "does not exist", "data.benchmark: must be an instrument code"],
        ),
        "bad synthetic": (
            {**base, "data": {"synthetic": {"n_instruments": 0, "n_days": 50, "seed": 1}}},
            ["unknown key(s) seed", "n_instruments: must be an int in the range [1, inf)"],
        ),
        "dates": (
            {**base, "segments": {**base["segments"], "train": ["2020-13-45", "2020-03-31"]}},
            ["'2020-13-45' is not a date"],
        ),
        "outside the data": (
            {**base, "segments": {**base["segments"], "test": ["2030-01-01", "2030-02-01"]}},
            ["segments.test: 2030-01-01 .. 2030-02-01 holds no trading day"],
        ),
        "missing segment": (
            {**base, "segments": {"train": base["segments"]["train"]}},
            ["segments: missing required key 'valid'", "'test'"],
        ),
    }
    for name, (config, fragments) in cases.items():
        with pytest.raises(ValueError) as error:
            validate_config(copy.deepcopy(config))
        for fragment in fragments:
            assert fragment in str(error.value), (name, fragment)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        validate_config({**base, "output_dir": str(tmp_path / "a_file")})
    with pytest.raises(ValueError, match="mapping of sections"):
        validate_config(["data"])


def test_load_config_and_the_examples(tmp_path, data_dir_or_none):
    small = load_config(EXAMPLES / "synthetic_small.yaml")
    assert validate_config(small)["model"]["lr"] == 1.0e-3  # a float, written with a dot
    full = load_config(EXAMPLES / "csi300_alpha360.yaml")
    assert full["model"]["hidden_size"] == 64 and full["backtest"]["topk"] == 50
    if data_dir_or_none is not None:
        full["data"]["provider_uri"] = str(data_dir_or_none)
        validate_config(full)
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="YAML mapping"):
        load_config(tmp_path / "list.yaml")
    with pytest.raises(ValueError, match="does not exist"):
        load_config(tmp_path / "none.yaml")


@pytest.fixture
def data_dir_or_none(request):
    try:
        return request.getfixturevalue("data_dir")
    except pytest.skip.Exception:
        return None


# ---------------------------------------------------------------------------
# Data sources
# ---------------------------------------------------------------------------


def test_ohlcv_file_with_a_benchmark_instrument(tmp_path):
    panel = make_stock_panel(5, 40, random_state=0, start="2021-01-01")
    index_rows = panel.xs("S0000", level="instrument", drop_level=False).rename(
        index={"S0000": "IDX"}, level="instrument"
    )
    path = tmp_path / "bars.csv"
    pd.concat([panel, index_rows]).sort_index().reset_index().to_csv(path, index=False)
    data = {"source": "ohlcv_path", "ohlcv_path": path, "benchmark": "IDX"}
    start, end = pd.Timestamp("2021-01-10"), pd.Timestamp("2021-02-15")
    loaded, members, benchmark = _data._load_ohlcv_file(data, start, end)
    assert members is None
    assert "IDX" not in loaded.index.get_level_values(1)
    dates = loaded.index.get_level_values(0)
    assert dates.min() >= start and dates.max() <= end
    close = panel["close"].xs("S0000", level="instrument").astype(np.float64)
    expected = (close / close.shift(1) - 1).loc[benchmark.index]
    np.testing.assert_allclose(benchmark, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="'SH000300' is not in"):
        _data._load_ohlcv_file({**data, "benchmark": "SH000300"}, start, end)


@pytest.mark.realdata
def test_qlib_source_keeps_member_rows_and_full_histories(data_dir):
    data = {"provider_uri": data_dir, "market": "csi300", "benchmark": "SH000300"}
    start, end = pd.Timestamp("2019-10-01"), pd.Timestamp("2019-12-31")
    panel, members, benchmark = _data._load_qlib_data(data, start, end)
    assert 0.9 < members.mean() < 1.0  # some instruments trade outside their membership
    assert members.sum() == panel[members].shape[0]
    assert benchmark.index.min() > start and benchmark.abs().max() < 0.1


# ---------------------------------------------------------------------------
# Options beyond Qlib, set from the configuration
# ---------------------------------------------------------------------------


def test_config_sets_the_options_beyond_qlib(tmp_path):
    config = tiny_config(tmp_path / "run")
    config["model"].update(
        criterion="DailyICLoss",
        label_neighbors=5,
        label_horizon=2,
        pretrain_monitor="valid_ic",
        residual_head=True,
        ema_halflife=1.0,
        label_norm="csgaussrank",
        score_power="auto",
        base_fallback=True,
    )
    config["report"] = False
    result = run_workflow(config, progress=False)
    model = load_model(result["files"]["model"])[-1]
    assert model.criterion is DailyICLoss and model.label_neighbors == 5
    assert model.module_.bank_label.shape == model.module_.bank_mask.shape
    assert model.pretrained_model_.monitor == "valid_ic"
    assert model.ema_halflife == model.pretrained_model_.ema_halflife == 1.0
    assert model.module_.residual_head and "fc_out.weight" in model.module_.state_dict()
    assert model.label_norm == "csgaussrank"
    assert model.score_power == "auto" and model.score_power_ in POWERS
    assert model.base_fallback and model.base_chosen_ in (True, False)
    assert result["metrics"]["model"].get("base_chosen", False) == model.base_chosen_


def test_config_refuses_an_unknown_pretrain_monitor(tmp_path):
    config = tiny_config(tmp_path / "run")
    config["model"]["pretrain_monitor"] = "ic"
    with pytest.raises(ValueError, match=r"model\.pretrain_monitor.*valid_ic"):
        validate_config(config)


def test_config_refuses_an_unknown_criterion(tmp_path):
    config = tiny_config(tmp_path / "run")
    config["model"]["criterion"] = "Huber"
    with pytest.raises(ValueError, match=r"model\.criterion.*DailyICLoss"):
        validate_config(config)


def test_config_averages_seeds(tmp_path):
    """``ensemble: {seeds: 2}``: two IGMTFs seeded 0 and 1, their predictions averaged
    (``VotingRegressor``), saved and loaded whole, the GRU baseline averaged likewise."""
    config = tiny_config(tmp_path / "run")
    config["ensemble"] = {"seeds": 2}
    result = run_workflow(config, progress=False)
    ensemble = result["model"][-1]
    members = ensemble.estimators_
    assert list(ensemble.named_estimators_) == ["seed0", "seed1"]
    assert [m.random_state for m in members] == [0, 1]
    unfitted = [m for _, m in ensemble.estimators]  # neither keeps the valid segment
    assert all(m.train_split is None for m in [*members, *unfitted])
    X_test = result["model"][:-1].transform(_test_features(result))
    scores = result["predictions"]["score"].to_numpy()
    np.testing.assert_allclose(np.mean([m.predict(X_test) for m in members], axis=0), scores)
    assert not np.allclose(members[0].predict(X_test), members[1].predict(X_test))
    loaded = load_model(result["files"]["model"])
    np.testing.assert_allclose(loaded.predict(_test_features(result)), scores, rtol=1e-6)
    summary = json.loads(result["files"]["metrics"].read_text())["model"]
    assert sorted(summary) == ["seed0", "seed1"] and summary["seed1"]["epochs"] == 1
    grus = np.mean([m.pretrained_model_.predict(X_test) for m in members], axis=0)
    labels = result["predictions"]["label"]
    expected = signal_analysis(pd.Series(grus, index=labels.index), labels, ann_scaler=238)
    assert result["baselines"]["GRU alone"].summary["IC"] == pytest.approx(expected.summary["IC"])
    with pytest.raises(TypeError, match="Pass one of its members"):
        training_curve(result["model"])
    if HAS_MATPLOTLIB:  # the report's configuration names the seeds averaged
        assert "seeds averaged" in result["files"]["report"].read_text()


def _test_features(result):
    panel = make_stock_panel(**SYNTHETIC)
    X = Alpha360(window=5).set_output(transform="pandas").fit_transform(panel)
    return X.loc[result["predictions"].index]


def test_config_refuses_bad_seed_counts(tmp_path):
    config = tiny_config(tmp_path / "run")
    for ensemble, expected in (
        ({"seeds": 0}, r"ensemble\.seeds: must be an int in the range \[1, inf\), got 0"),
        ({"seeds": 2, "size": 3}, r"ensemble: unknown key\(s\) size; allowed: seeds"),
        ([2], r"ensemble: must be a mapping, got \[2\]"),
    ):
        with pytest.raises(ValueError, match=expected):
            validate_config({**config, "ensemble": ensemble})


def test_config_refuses_member_seeds_past_the_largest(tmp_path):
    """Members are seeded random_state + k: the last one's seed is checked before any fit."""
    config = {**tiny_config(tmp_path / "run"), "ensemble": {"seeds": 3}}
    config["model"]["random_state"] = 2**32 - 3  # the members' seeds end at 2**32 - 1: valid
    validate_config(config)
    config["model"]["random_state"] = 2**32 - 2
    with pytest.raises(ValueError, match=r"model\.random_state: .* \[0, 4294967293\], got"):
        validate_config(config)
