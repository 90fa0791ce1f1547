"""Benchmark: nn.GRU/nn.LSTM against FusedGRU/FusedLSTM on IGMTF's shapes, 1 thread.

One training step = one trading day: 260 rows x 60 steps x 5 features, hidden 64,
2 layers, loss on out[:, -1] (IGMTF's use), forward + backward.  Prediction =
forward under no_grad on a 512-row block.  Runs are interleaved (nn, fused,
...) and medians reported, wall and CPU (process_time)
time, so that a busy machine slows every variant alike.

The floor is the step's matmul arithmetic divided by this machine's measured
float32 matmul throughput (torch.mm of the recurrent shape and of a big square).

    python bench_fused_rnn.py [--repeats 9] [--rows 260] [--block 512] [--dropout 0.3]

``--dropout p``: both modules built with dropout ``p`` between their layers, so that
the training day drops (the prediction runs in eval mode, without it, as a model predicts).
"""

import argparse
import statistics
import time

import torch
from _arithmetic import matmul_gflops as _mm_gflops
from _arithmetic import rnn_gflop as _gflop
from torch import nn

from igmtf_sklearn.nets import FusedGRU, FusedLSTM
from igmtf_sklearn.nets import _fused_kernels as F


def _time(fn):
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--rows", type=int, default=260)
    ap.add_argument("--block", type=int, default=512)
    ap.add_argument("--dropout", type=float, default=0.0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    if not F._numba_kernels():
        raise SystemExit("numba is not installed: the fused path falls back to torch's op")
    print(
        f"torch {torch.__version__}, 1 thread, dropout {args.dropout}; "
        f"median of {args.repeats}, interleaved; ms per call, CPU (wall)"
    )

    thr_rec = _mm_gflops(args.rows, 64, 192, 300)
    thr_sq = _mm_gflops(1024, 1024, 1024, 3)
    print(
        f"float32 matmul: {thr_rec:.1f} GFLOP/s at {args.rows}x64 @ 64x192, "
        f"{thr_sq:.1f} GFLOP/s at 1024^3\n"
    )

    hdr = f"{'':5} {'mode':22} {'nn':>15} {'fused':>15} {'ratio':>6} {'wall':>6} {'floor':>6}"
    print(hdr)
    print("-" * len(hdr))
    x = torch.randn(args.rows, 60, 5)
    xb = torch.randn(args.block, 60, 5)
    for name, base, fused in (("GRU", nn.GRU, FusedGRU), ("LSTM", nn.LSTM, FusedLSTM)):
        ref = base(5, 64, 2, batch_first=True, dropout=args.dropout)
        new = fused(5, 64, 2, batch_first=True, dropout=args.dropout)
        new.load_state_dict(ref.state_dict())
        lstm = base is nn.LSTM

        def train(m):
            m.train()
            m(x)[0][:, -1].sum().backward()

        def predict(m):
            m.eval()
            with torch.no_grad():
                m(xb)

        for mode, fn, rows, grad in (
            (f"train day ({args.rows} rows)", train, args.rows, True),
            (f"predict ({args.block} rows)", predict, args.block, False),
        ):
            res = {"nn": [], "fused": []}
            fn(ref), fn(new)  # warm-up (numba compile or cache load)
            for _ in range(args.repeats):
                res["nn"].append(_time(lambda fn=fn, ref=ref: fn(ref)))
                res["fused"].append(_time(lambda fn=fn, new=new: fn(new)))
            med = {
                k: (
                    statistics.median(c for _, c in v) * 1e3,
                    statistics.median(w for w, _ in v) * 1e3,
                )
                for k, v in res.items()
            }
            floor = _gflop(lstm, rows, 60, 5, 64, 2, grad) / thr_rec * 1e3

            def cell(k, med=med):
                return f"{med[k][0]:6.1f} ({med[k][1]:5.1f})"

            print(
                f"{name:5} {mode:22} {cell('nn'):>15} {cell('fused'):>15} "
                f"{med['nn'][0] / med['fused'][0]:5.2f}x {med['nn'][1] / med['fused'][1]:5.2f}x "
                f"{floor:5.1f}"
            )
    print(
        "\nratio = nn CPU ms / fused CPU ms; wall = the same for wall-clock medians;"
        "\nfloor = matmul GFLOP of the pass / the recurrent-shape matmul throughput above "
        f"(GRU day: {_gflop(False, args.rows, 60, 5, 64, 2, True):.2f} GFLOP fwd+bwd)."
    )


if __name__ == "__main__":
    main()
