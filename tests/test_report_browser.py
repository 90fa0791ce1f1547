"""The report in a real browser: headless Chromium renders the page and loads every figure.

Skipped where no Chromium is installed (``apt-get install chromium`` on Debian).
The page is opened twice from a copy of ``report.html``: once with a small
script appended that, after the load, writes each ``<img>``'s natural size into
the DOM (read back with ``--dump-dom``), and once for a full-page screenshot.
Set ``IGMTF_SCREENSHOT_DIR`` to keep the screenshot and look at it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from igmtf_sklearn.backtest import signal_analysis, topk_dropout_backtest
from igmtf_sklearn.datasets import make_stock_panel
from igmtf_sklearn.preprocessing import forward_return
from igmtf_sklearn.report import write_report

pytest.importorskip("matplotlib")

CHROMIUM = next(
    (
        path
        for name in ("chromium", "chromium-browser", "google-chrome", "chrome")
        if (path := shutil.which(name))
    ),
    None,
)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found on PATH")

#: Appended to a copy of the page: records each image's natural width once all have loaded.
PROBE = """<script>
window.addEventListener("load", () => {
  const widths = Array.from(document.images).map(img => img.complete ? img.naturalWidth : 0);
  document.body.setAttribute("data-widths", widths.join(","));
  document.body.setAttribute("data-height", document.documentElement.scrollHeight);
});
</script>"""


def _chromium(*args, timeout=120):
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # root in a container
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--virtual-time-budget=10000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    panel, signal = make_stock_panel(30, 80, return_signal=True, random_state=0)
    backtest = topk_dropout_backtest(signal, panel, topk=6, n_drop=1)
    analysis = signal_analysis(signal, forward_return(panel), ann_scaler=238)
    folder = tmp_path_factory.mktemp("browser")
    return write_report(folder, backtest=backtest, signal=analysis, benchmark="none (0)")


def test_every_figure_loads_in_chromium(report):
    n_images = report.read_text(encoding="utf-8").count("<img ")
    probed = report.with_name("probed.html")
    probed.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"))
    result = _chromium("--dump-dom", probed.as_uri())
    match = re.search(r'data-widths="([^"]*)"', result.stdout)
    assert match, f"the page did not finish loading: {result.stderr[-2000:]}"
    widths = [int(w) for w in match.group(1).split(",") if w]
    assert len(widths) == n_images >= 10
    assert all(width > 0 for width in widths), widths  # every <img> decoded


def test_screenshot_of_the_report(report):
    folder = os.environ.get("IGMTF_SCREENSHOT_DIR") or report.parent
    shot = os.path.join(folder, "report_screenshot.png")
    result = _chromium(f"--screenshot={shot}", "--window-size=1400,4000", report.as_uri())
    assert os.path.getsize(shot) > 50_000, result.stderr[-2000:]
