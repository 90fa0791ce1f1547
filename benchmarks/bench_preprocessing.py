"""Time the preprocessing chain on the real CSI 300 data.

Stages, in order: ``load_qlib`` (raw OHLCV panel), ``Alpha360``, the label
(``forward_return`` + ``cs_rank_norm``), ``RobustZScoreNorm.fit_transform`` and
``Fillna.fit_transform``. Each prints its wall time, output shape and the
process's peak RSS so far (``ru_maxrss``, which only grows: the Alpha360 line
is the peak of loading + Alpha360).

Targets on the full 2010-2026 CSI 300 panel: Alpha360 under 60 s and peak RSS
under 3 GB.

Usage, from the repository root::

    python benchmarks/bench_preprocessing.py
    python benchmarks/bench_preprocessing.py --data-dir ~/.qlib/qlib_data/cn_data \
        --start 2018-01-01 --end 2020-12-31 --in-place
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

from igmtf_sklearn.datasets import load_qlib
from igmtf_sklearn.preprocessing import (
    Alpha360,
    Fillna,
    RobustZScoreNorm,
    cs_rank_norm,
    forward_return,
)

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cn_csi300"


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, in GB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / 1024**3 if sys.platform == "darwin" else peak / 1024**2


def timed(name, func, *args, **kwargs):
    """Run ``func`` and print its wall time, output shape and peak RSS."""
    start = time.perf_counter()
    out = func(*args, **kwargs)
    seconds = time.perf_counter() - start
    shape = "x".join(map(str, out.shape))
    print(f"{name:<28} {seconds:8.2f} s   shape {shape:<16} peak RSS {peak_rss_gb():6.2f} GB")
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("IGMTF_DATA_DIR", DEFAULT_DATA_DIR)),
        help="Qlib data directory (default: $IGMTF_DATA_DIR or ../shared/data/cn_csi300)",
    )
    parser.add_argument("--instruments", default="csi300", help="market (default: csi300)")
    parser.add_argument("--start", default="2010-01-01", help="first day (default: 2010-01-01)")
    parser.add_argument("--end", default="2026-12-31", help="last day (default: 2026-12-31)")
    parser.add_argument("--window", type=int, default=60, help="Alpha360 window (default: 60)")
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="run RobustZScoreNorm and Fillna with copy=False (one feature matrix in memory)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    print(f"data: {args.data_dir} ({args.instruments}, {args.start} .. {args.end})")
    panel = timed("load_qlib", load_qlib, args.data_dir, args.instruments, args.start, args.end)
    features = timed("Alpha360", Alpha360(window=args.window).fit_transform, panel)
    label = timed("forward_return", forward_return, panel)
    timed("cs_rank_norm(label)", cs_rank_norm, label)
    copy = not args.in_place
    normed = timed("RobustZScoreNorm", RobustZScoreNorm(copy=copy).fit_transform, features)
    del features  # a pipeline keeps only the latest stage's output
    timed("Fillna", Fillna(copy=copy).fit_transform, normed)


if __name__ == "__main__":
    main()
