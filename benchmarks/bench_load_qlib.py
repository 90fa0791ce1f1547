"""Time ``load_qlib`` on the full CSI 300 panel (every member, 2010-2026).

Usage (from the repository root)::

    python benchmarks/bench_load_qlib.py [--data-dir DIR] [--market csi300] [--repeat 3]

Prints wall seconds per run (best and all), the panel's rows / columns / size, and
the process's peak resident memory. The first run includes reading the files from
disk into the OS cache; later runs show the warm-cache time.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

from igmtf_sklearn.datasets import load_qlib

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "cn_csi300"


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("IGMTF_DATA_DIR", str(DEFAULT_DATA_DIR)),
        help="Qlib data directory (default: $IGMTF_DATA_DIR or ../shared/data/cn_csi300)",
    )
    parser.add_argument("--market", default="csi300", help="market file in instruments/")
    parser.add_argument("--start", default=None, help="first day (default: calendar start)")
    parser.add_argument("--end", default=None, help="last day (default: calendar end)")
    parser.add_argument("--repeat", type=int, default=3, help="number of timed runs")
    args = parser.parse_args(argv)

    rss_before = _peak_rss_mib()
    times = []
    for _ in range(max(args.repeat, 1)):
        start = time.perf_counter()
        panel = load_qlib(args.data_dir, args.market, args.start, args.end)
        times.append(time.perf_counter() - start)
        if len(times) < args.repeat:
            del panel  # keep one panel alive at a time, so peak RSS is one load's
    n_days = panel.index.get_level_values(0).nunique()
    n_instruments = panel.index.get_level_values(1).nunique()
    print(f"data dir      : {args.data_dir}")
    print(f"market        : {args.market} ({args.start or 'start'} .. {args.end or 'end'})")
    print(f"wall seconds  : best {min(times):.3f}  runs {', '.join(f'{t:.3f}' for t in times)}")
    print(f"rows          : {len(panel):,} ({n_days:,} days x {n_instruments} instruments seen)")
    print(f"columns       : {', '.join(panel.columns)}")
    print(f"panel memory  : {panel.memory_usage(deep=True).sum() / 2**20:.1f} MiB")
    print(f"peak RSS      : {_peak_rss_mib():.1f} MiB (after imports: {rss_before:.1f} MiB)")


if __name__ == "__main__":
    main()
