"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from sklearn.pipeline import make_pipeline

from igmtf_sklearn.datasets import make_stock_panel
from igmtf_sklearn.preprocessing import Alpha360, Fillna, RobustZScoreNorm, forward_return

# The test networks are tiny: one thread is faster than two, and two threads
# spin-wait badly when anything else holds a core (seen here: 50x slower).
torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "cn_csi300"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The Qlib-format CSI 300 data: ``$IGMTF_DATA_DIR`` or ``<repo>/../shared/data/cn_csi300``.

    Tests using it are skipped, not failed, where the data is absent (e.g. a user's machine).
    """
    env = os.environ.get("IGMTF_DATA_DIR")
    path = Path(env).expanduser() if env else DEFAULT_DATA_DIR
    if not (path / "calendars" / "day.txt").is_file():
        pytest.skip(f"Qlib data not found at {path}; set IGMTF_DATA_DIR to run this test.")
    return path


@pytest.fixture(scope="session")
def market():
    """Raw Alpha360 features (window 5) and labels of a small market: 24 instruments x 80 days.

    Built once over the whole OHLCV panel, so that every row has its full window;
    the tests fitting networks on it split or normalise it as they need.
    """
    panel = make_stock_panel(n_instruments=24, n_days=80, random_state=1)
    X = Alpha360(window=5).set_output(transform="pandas").fit_transform(panel)
    return X, forward_return(panel)


@pytest.fixture(scope="session")
def split_market(market):
    """The shared market normalised, unlabelled rows dropped, split at day 60.

    ``(X_train, y_train, X_test, y_test)``, ready for the networks.
    """
    X, y = market
    X = make_pipeline(RobustZScoreNorm(), Fillna()).set_output(transform="pandas").fit_transform(X)
    known = y.notna().to_numpy()
    X, y = X[known], y[known]
    dates = X.index.get_level_values("datetime")
    cut = dates.unique()[60]
    return X[dates < cut], y[dates < cut], X[dates >= cut], y[dates >= cut]


@pytest.fixture(scope="session")
def panel_with_signal():
    """A synthetic panel of 60 instruments x 150 days and its signal, the known expected return."""
    panel, signal = make_stock_panel(60, 150, return_signal=True, random_state=1)
    return panel, signal
