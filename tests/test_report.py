"""Tests of igmtf_sklearn.report: the HTML report, its figures and the atomic writes."""

from __future__ import annotations

import base64
import re
import sys

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
    "monthly_ic.png",
    "group_returns.png",
    "cumulative_return.png",
    "drawdown.png",
    "turnover.png",
)


@pytest.fixture(scope="module")
def results():
    panel, signal = make_stock_panel(40, 90, return_signal=True, random_state=0)
    backtest = topk_dropout_backtest(signal, panel, topk=8, n_drop=2, benchmark=None)
    analysis = signal_analysis(signal, forward_return(panel))
    return backtest, analysis


@pytest.fixture(scope="module")
def written(results, tmp_path_factory):
    backtest, analysis = results
    folder = tmp_path_factory.mktemp("report") / "nested" / "out"  # created with its parents
    path = write_report(folder, backtest=backtest, signal=analysis, title="Test <report> & co")
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
    # Default tables: the signal summary and Qlib's risk analysis with and without cost.
    for cell in ("Rank ICIR", "Long-Short Ann Return", "information_ratio", "max_drawdown"):
        assert f"<td>{cell}</td>" in text
    assert "<th>without cost</th><th>with cost</th>" in text


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
    assert text.count('<table class="metrics">') == 4
    # Only the backtest's figures when there is no signal analysis.
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "cumulative_return.png",
        "drawdown.png",
        "turnover.png",
    ]
    with pytest.raises(TypeError, match="metric table"):
        write_report(tmp_path, metrics={"bad": [1, 2]})


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
    monkeypatch.setattr(html_module, "render_figures", lambda backtest, signal: figures)
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
