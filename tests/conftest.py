"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

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
