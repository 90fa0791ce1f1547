"""Tests of igmtf_sklearn.report: the HTML report, its figures and the atomic writes."""

from __future__ import annotations

import base64
import re
import sys

import numpy as np
import pandas as pd
import pytest

from igmtf_sklearn.backtest import risk_analysis, signal_analysis, topk_dropout_backtest
from igmtf_sklearn.datasets import make_stock_panel
from igmtf_sklearn.preprocessing import forward_return
from igmtf_sklearn.report import atomic_path, atomic_write, write_report

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = (
    "ic.png",
    "ic_distribution.png",
    "monthly_ic.png",
    "group_returns.png",
    "group_means.png",
    "score_stability.png",
    "hit_rate.png",
    "cumulative_return.png",
    "exposure.png",
    "turnover.png",
    "drawdown.png",
    "rolling_ir.png",
    "training_curve.png",
    "baselines.png",
)
BACKTEST_FIGURES = (
    "cumulative_return.png",
    "exposure.png",
    "turnover.png",
    "drawdown.png",
    "rolling_ir.png",
)
TRAINING = pd.DataFrame(
    {
        "stage": ["pretraining"] * 2 + ["training"] * 3,
        "epoch": [1, 2, 1, 2, 3],
        "train loss": [1.0, 0.9, 0.85, 0.8, 0.79],
        "valid loss": [1.1, 1.0, 0.98, 0.97, 0.99],
        "valid IC": [0.01, 0.02, 0.03, 0.04, 0.035],
        "seconds": [1.0] * 5,
    }
)


@pytest.fixture(scope="module")
def results():
    panel, signal = make_stock_panel(40, 90, return_signal=True, random_state=0)
    backtest = topk_dropout_backtest(signal, panel, topk=8, n_drop=2, benchmark=None)
    analysis = signal_analysis(signal, forward_return(panel), ann_scaler=238)
    return backtest, analysis


@pytest.fixture(scope="module")
def baseline(results):
    panel, signal = make_stock_panel(40, 90, return_signal=True, random_state=0)
    noisy = signal + np.random.default_rng(0).normal(scale=3 * signal.std(), size=len(signal))
    return signal_analysis(noisy, forward_return(panel), ann_scaler=238)


@pytest.fixture(scope="module")
def written(results, baseline, tmp_path_factory):
    backtest, analysis = results
    folder = tmp_path_factory.mktemp("report") / "nested" / "out"  # created with its parents
    path = write_report(
        folder,
        backtest=backtest,
        signal=analysis,
        title="Test <report> & co",
        benchmark="the <index>",
        baselines={"GRU alone": baseline},
        training=TRAINING,
        config={"Backtest": {"topk": 8, "n_drop": 2, "open_cost": 0.0005}},
    )
    return folder, path


def test_report_files_are_written(written):
    folder, path = written
    assert path == folder / "report.html"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([*FIGURES, "report.html"])  # no temporary file left
    for name in FIGURES:
        data = (folder / name).read_bytes()
        assert len(data) > 1000 and data.startswith(PNG_MAGIC)


def test_html_embeds_every_figure_and_the_tables(written):
    folder, path = written
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    embedded = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', text)
    assert [name for name, _ in embedded] == list(FIGURES)
    for name, payload in embedded:
        assert base64.b64decode(payload) == (folder / name).read_bytes()
    assert "<title>Test &lt;report&gt; &amp; co</title>" in text  # escaped
    # The sections in page order, a summary block first, then the configuration.
    headings = re.findall(r"<h2>([^<]+)</h2>", text)
    assert headings == ["Summary", "Signal", "Portfolio", "Risk", "Model", "Configuration"]
    assert text.count('class="card') >= 12
    for cell in ("Rank ICIR", "Long-Short Ann Return", "excess, with cost", "skew"):
        assert f"<td>{cell}</td>" in text
    for column in ("information_ratio", "max_drawdown"):  # the risk table
        assert f"<th>{column}</th>" in text
    for column in ("excess, no cost", "excess, with cost", "max drawdown", "information ratio"):
        assert f"<th>{column}</th>" in text  # the yearly table
    assert "<td>GRU alone</td>" in text and "<td>IGMTF</td>" in text  # the comparison
    assert "<td>n_drop</td>" in text  # the configuration
    # The benchmark is named, and both annualised tables say how they count a year.
    assert "benchmark: the &lt;index&gt;" in text
    assert "<td>benchmark (the &lt;index&gt;)</td>" in text
    assert text.count("annualised with 238 days a year") >= 3
    assert "252 days" not in text


def test_given_metric_tables_are_rendered(results, tmp_path):
    backtest, _ = results
    risk = risk_analysis(backtest["return"] - backtest["bench"])
    metrics = {
        "flat": {"IC": 0.0512345, "days": 1234, "name": "a<b"},
        "series": risk,
        "frame": pd.DataFrame({"x": [1.5, float("nan")]}, index=["r1", "r2"]),
        "nested": {"with cost": risk, "without cost": risk},
    }
    path = write_report(tmp_path, backtest=backtest, metrics=metrics)
    text = path.read_text(encoding="utf-8")
    assert "<h3>flat</h3>" in text and "<td>0.0512</td>" in text and "<td>1,234</td>" in text
    assert "<td>a&lt;b</td>" in text
    assert "<td>r2</td><td></td>" in text  # NaN is an empty cell
    # The four given, after the backtest's own: the yearly and the risk tables.
    assert text.count('<table class="metrics">') == 6
    assert re.findall(r"<h2>([^<]+)</h2>", text) == ["Summary", "Portfolio", "Risk", "Run"]
    # Only the backtest's figures when there is no signal analysis.
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(BACKTEST_FIGURES)
    with pytest.raises(TypeError, match="metric table"):
        write_report(tmp_path, metrics={"bad": [1, 2]})


def test_signal_only_report_has_no_portfolio(results, tmp_path):
    _, analysis = results
    write_report(tmp_path, signal=analysis)
    names = {p.name for p in tmp_path.glob("*.png")}
    assert names == set(FIGURES[:7])  # no backtest, baseline or training: their figures are absent


def test_a_failure_leaves_no_partial_report(results, tmp_path, monkeypatch):
    backtest, analysis = results
    # The private module, on purpose: the failure is injected between its writes.
    import igmtf_sklearn.report._html as html_module

    original = html_module.atomic_write

    def failing(path, data):
        if path.name == "report.html":
            raise OSError("disk full")
        return original(path, data)

    monkeypatch.setattr(html_module, "atomic_write", failing)
    # Stand-in figures: what matters is the order of the writes, not the drawing.
    figures = {name: PNG_MAGIC + b"stand-in" for name in FIGURES}
    monkeypatch.setattr(html_module, "render_figures", lambda *args, **kwargs: figures)
    with pytest.raises(OSError, match="disk full"):
        write_report(tmp_path, backtest=backtest, signal=analysis)
    assert list(tmp_path.iterdir()) == []  # the figures written first were removed


def test_nothing_to_report(tmp_path):
    with pytest.raises(ValueError, match="Nothing to report"):
        write_report(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_matplotlib_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # makes the import fail
    with pytest.raises(ImportError, match=re.escape("pip install matplotlib")):
        write_report(tmp_path, metrics={"t": {"a": 1}})


def test_atomic_path_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "data.txt"
    atomic_write(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.txt"]
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
