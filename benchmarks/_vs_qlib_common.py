"""What every stage of ``vs_qlib.py`` shares: the data's constants, the timers, the memory
sampler and the work directory's files."""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

SEGMENTS = ("train", "valid", "test")
LOOKBACK_DAYS = 59  # Alpha360's longest lag
LOOKAHEAD_DAYS = 2  # the label Ref($close, -2) / Ref($close, -1) - 1
FIELDS = ("close", "open", "high", "low", "volume")  # Alpha360's order, no vwap here


def peak_rss_mib(who=resource.RUSAGE_SELF):
    peak = resource.getrusage(who).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def set_threads(n):
    import torch

    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


def cpu_seconds():
    """CPU seconds of this process and its finished children (user + system)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Timed:
    """Wrap a callable and record the wall and CPU seconds of each call."""

    def __init__(self, func, rss=None, phase=None):
        self.func, self.calls, self.cpu, self.results = func, [], [], []
        self.rss, self.phase = rss, phase

    def __call__(self, *args, **kwargs):
        if self.rss is not None:
            self.rss.phase = self.phase
        start, cpu = time.perf_counter(), cpu_seconds()
        result = self.func(*args, **kwargs)
        self.calls.append(time.perf_counter() - start)
        self.cpu.append(cpu_seconds() - cpu)
        self.results.append(result)
        return result


class PhaseRSS:
    """Peak resident memory of each phase of a stage, sampled every 20 ms.

    ``ru_maxrss`` gives the stage's peak only; this says which phase reached it
    (``phase`` is set by the stage as it goes: load, pretrain, bank, train, valid,
    predict).
    """

    def __init__(self):
        import threading

        self.phase, self.peaks, self._stop = "load", {}, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        page = os.sysconf("SC_PAGE_SIZE")
        with open("/proc/self/statm") as statm:
            while not self._stop.wait(0.02):
                statm.seek(0)
                rss = int(statm.read().split()[1]) * page / 2**20
                self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), rss)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return {k: round(v) for k, v in self.peaks.items()}


def write_result(workdir, stage, result):
    result["peak_rss_mib"] = peak_rss_mib()
    result["peak_rss_children_mib"] = peak_rss_mib(resource.RUSAGE_CHILDREN)
    (Path(workdir) / f"{stage}.json").write_text(json.dumps(result, indent=1))


def load_segment(workdir, name, with_label=True):
    """A prepared segment from the work directory: features frame, label Series."""
    import numpy as np
    import pandas as pd

    workdir = Path(workdir)
    meta = json.loads((workdir / "meta.json").read_text())
    X = np.load(workdir / f"X_{name}.npy")
    index = pd.MultiIndex.from_arrays(
        [np.load(workdir / f"dates_{name}.npy"), np.load(workdir / f"inst_{name}.npy")],
        names=["datetime", "instrument"],
    )
    frame = pd.DataFrame(X, index=index, columns=meta["columns"], copy=False)
    y = pd.Series(np.load(workdir / f"y_{name}.npy"), index=index, name="LABEL0")
    return frame, (y if with_label else None)
