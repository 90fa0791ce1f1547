"""The ``igmtf`` command line: ``igmtf demo`` end to end on a tiny market, and its errors."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from igmtf_sklearn import __version__
from igmtf_sklearn.cli import build_parser, main
from igmtf_sklearn.workflow import DEMO_METRICS, DemoConfig, load_config, torch_threads

# A market small enough for a few seconds: 30 instruments x 150 days, a 10-day
# window, one epoch of each stage.
TINY = [
    "--instruments", "30", "--days", "150", "--window", "10", "--hidden-size", "8",
    "--pretrain-epochs", "1", "--epochs", "1", "--threads", "1", "--seed", "0", "--seeds", "2",
]  # fmt: skip
MODELS = ("IGMTF", "GRU alone", "oracle")


def _table(stdout):
    """The results table as {model: {metric: value}}."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["model"])
    rows = {}
    for line in lines[header + 1 : header + 1 + len(MODELS)]:
        name = next(model for model in MODELS if line.startswith(model))
        values = [float(v) for v in line[len(name) :].split()]
        rows[name] = dict(zip(DEMO_METRICS, values, strict=True))
    return rows


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory):
    """Run the tiny demo once, in-process; return (status, stdout, torch threads before/after)."""
    before = torch.get_num_threads()
    report_dir = tmp_path_factory.mktemp("demo") / "report"
    # capsys is function-scoped; redirecting by hand lets the tests share one run.
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        status = main(["demo", *TINY, "--report-dir", str(report_dir)])
    return status, stdout.getvalue(), before, torch.get_num_threads()


def test_demo_returns_zero_and_prints_a_full_table(demo_output):
    status, stdout, _, _ = demo_output
    assert status == 0
    assert stdout.startswith("IGMTF demo: 30 instruments x 150 days")
    assert "seeds 0-1 averaged" in stdout.splitlines()[0]
    header = next(line for line in stdout.splitlines() if line.startswith("model"))
    assert header.split()[1:] == ["IC", "Rank", "IC", "ICIR", "Rank", "ICIR"]
    table = _table(stdout)
    assert set(table) == set(MODELS)
    for name, summary in table.items():
        for metric, value in summary.items():
            assert -1 <= value <= 1 or "ICIR" in metric, (name, metric, value)


def test_demo_oracle_is_informative(demo_output):
    # The true expected return must correlate with the realised label; the
    # one-epoch models are too short-trained to assert anything about.
    assert _table(demo_output[1])["oracle"]["IC"] > 0.05


def test_demo_reports_test_period_and_wall_times(demo_output):
    stdout = demo_output[1]
    # 20 % of 150 days are tested on.
    assert "(30 days," in stdout
    times = next(line for line in stdout.splitlines() if line.startswith("wall time:"))
    for stage in ("data", "fit", "pretraining", "IGMTF training", "predict", "total"):
        assert stage in times


def test_demo_writes_its_report(demo_output):
    stdout = demo_output[1]
    path = Path(next(line for line in stdout.splitlines() if line.startswith("report: "))[8:])
    assert path.name == "report.html"
    text = path.read_text(encoding="utf-8")
    for figure in ("ic.png", "cumulative_return.png", "training_curve.png", "baselines.png"):
        assert (path.parent / figure).is_file() and f'id="{figure}"' in text
    assert "<td>GRU alone</td>" in text and "<td>oracle</td>" in text
    assert "report" in next(line for line in stdout.splitlines() if line.startswith("wall time:"))


def test_demo_restores_torch_threads(demo_output):
    _, _, before, after = demo_output
    assert after == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "-1"], "argument --epochs: must be an int in the range [0, inf), got -1"),
        (["--pretrain-epochs", "x"], "argument --pretrain-epochs: expected an integer, got 'x'"),
        (
            ["--hidden-size", "0"],
            "argument --hidden-size: must be an int in the range [1, inf), got 0",
        ),
        (
            ["--instruments", "3"],
            "argument --instruments: must be an int in the range [10, inf), got 3",
        ),
        (["--threads", "0"], "argument --threads: must be an int in the range [1, inf), got 0"),
        (["--lr", "0"], "argument --lr: must be a float in the range (0.0, inf), got 0.0"),
        (["--days", "100", "--window", "60"], "leave 19 training day(s)"),
        (["--seeds", "0"], "argument --seeds: must be an int in the range [1, inf), got 0"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_exit_with_usage_error(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: igmtf")
    assert message in err


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_parser_defaults_match_the_demo_config():
    args = build_parser().parse_args(["demo"])
    defaults = DemoConfig()
    assert (args.instruments, args.days, args.window) == (
        defaults.n_instruments,
        defaults.n_days,
        defaults.window,
    )
    assert (args.pretrain_epochs, args.epochs, args.hidden_size, args.lr) == (
        defaults.pretrain_epochs,
        defaults.epochs,
        defaults.hidden_size,
        defaults.lr,
    )
    assert (args.seed, args.seeds) == (defaults.seed, defaults.seeds)
    assert args.refit is defaults.refit is True
    assert build_parser().parse_args(["demo", "--no-refit"]).refit is False


def test_demo_runs_the_recommended_configuration():
    # docs/accuracy.md's recommendation: the GRU stopped on its validation IC, each
    # model refitted on train + valid, its scores powered as validation favours, three
    # seeds averaged; --seeds 1 is a single model.
    from igmtf_sklearn.workflow._demo import make_pipeline

    ensemble = make_pipeline(DemoConfig(seed=5))[-1]
    assert [name for name, _ in ensemble.estimators] == ["seed5", "seed6", "seed7"]
    for _, member in ensemble.estimators:
        assert (member.pretrain_monitor, member.refit, member.score_power) == (
            "valid_ic",
            True,
            "auto",
        )
    config = DemoConfig(seeds=1, pretrain_monitor="valid_loss", refit=False, score_power=None)
    single = make_pipeline(config)[-1]
    assert (single.random_state, single.pretrain_monitor, single.refit) == (0, "valid_loss", False)
    assert single.score_power is None


def test_demo_gru_baseline_averages_the_members_grus():
    # "GRU alone" must average as many seeds as IGMTF does, or the comparison is unfair.
    from igmtf_sklearn.workflow._demo import make_data, make_pipeline, predict_models, split_by_date

    config = DemoConfig(
        n_instruments=12, n_days=80, window=5, pretrain_epochs=1, epochs=1, hidden_size=4, seeds=2
    )
    X, y, signal, _ = make_data(config)
    train, test = split_by_date(X.index, skip_days=config.window - 1)
    with torch_threads(1):
        pipeline = make_pipeline(config).fit(X[train], y[train])
        predictions = predict_models(pipeline, X[test], signal[test])
        X_test = pipeline[:-1].transform(X[test])
        grus = [net.pretrained_model_.predict(X_test) for net in pipeline[-1].estimators_]
    np.testing.assert_allclose(predictions["GRU alone"], np.mean(grus, axis=0), rtol=1e-6)
    assert not np.allclose(grus[0], grus[1])  # two seeds, two GRUs


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"seeds": 0}, "seeds an int >= 1"),
        ({"seeds": 2.5}, "seeds an int >= 1"),
        ({"seeds": True}, "seeds an int >= 1"),
        ({"seed": -1}, "seed must be an int >= 0"),
        ({"seed": 2**32 - 2, "seeds": 3}, "seed + seeds - 1 at most"),
        ({"pretrain_monitor": "loss"}, "pretrain_monitor must be 'valid_ic' or 'valid_loss'"),
        ({"refit": "yes"}, "refit must be True or False"),
    ],
)
def test_demo_config_refuses_bad_seeds_and_monitor(settings, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        DemoConfig(**settings).validate()


#: Libraries that take seconds to import: the command line loads them only to run.
HEAVY = ("torch", "pandas", "sklearn", "skorch", "matplotlib", "numba", "scipy", "numpy")


def test_importing_the_cli_imports_no_heavy_library():
    # `igmtf --help` took 6.5 s when cli.py imported everything up front.
    code = (
        "import sys, igmtf_sklearn.cli as cli; cli.build_parser().format_help(); "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_package_names_load_on_first_use():
    code = (
        "import sys, igmtf_sklearn; assert 'torch' not in sys.modules; "
        "from igmtf_sklearn import IGMTFRegressor; import igmtf_sklearn.nets as nets; "
        "assert IGMTFRegressor is nets.IGMTFRegressor is igmtf_sklearn.IGMTFRegressor; "
        "assert igmtf_sklearn.workflow.DemoConfig.__name__ == 'DemoConfig'; "
        "assert 'IGMTFRegressor' in dir(igmtf_sklearn)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    import igmtf_sklearn

    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        igmtf_sklearn.nope  # noqa: B018


def test_python_dash_m_runs_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "igmtf_sklearn", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"igmtf {__version__}"


def _small_config(tmp_path, **overrides):
    import yaml

    config = load_config("synthetic_small")
    config["data"]["synthetic"].update(n_instruments=20, n_days=220)
    config["segments"] = {
        "train": ["2020-01-01", "2020-06-30"],
        "valid": ["2020-07-01", "2020-08-31"],
        "test": ["2020-09-01", "2020-10-30"],
    }
    config["model"].update(hidden_size=4, max_epochs=1, pretrain_epochs=1)
    config["backtest"].update(topk=5, n_drop=1)
    config["output_dir"] = str(tmp_path / "out")
    config.update(overrides)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_run_writes_outputs_and_prints_the_metrics(tmp_path, capsys):
    assert main(["run", str(_small_config(tmp_path)), "--quiet", "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    for key in ("IC", "Rank ICIR", "excess_return_with_cost", "information_ratio"):
        assert key in printed
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"metrics.json", "report.html", "model.pt", "config.json"} <= written


def test_run_refuses_a_bad_config_before_any_work(tmp_path, capsys):
    path = _small_config(tmp_path, backtest={"topk": -1, "unknown_key": 3})
    assert main(["run", str(path), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert "topk" in error and "unknown_key" in error
    assert not (tmp_path / "out").exists()
