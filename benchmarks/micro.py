"""How close is an IGMTF epoch to the compute it cannot avoid?

Usage (from the repository root)::

    python benchmarks/micro.py [--threads 1] [--rows 260] [--hidden-size 64] [--num-layers 2] \
        [--days 731] [--valid-days 244] [--epoch-seconds S | --vs-qlib-json FILE | --fit-days N] \
        [--compile]

It times, on one typical day batch (``rows`` x ``seq_len`` x ``d_feat``, default
260 x 60 x 5), the bare encoder (GRU ``hidden_size`` x ``num_layers``, last step, the
two Linear+LeakyReLU layers of IGMTF's ``encode``):

- ``fwd_bwd``: one forward + backward of a day (what a training step cannot avoid);
- ``fwd_row``: one no-grad forward per row, measured on a scoring block of 8192 rows
  (what building the memory bank and scoring validation cannot avoid).

The floor of an epoch is ``days x fwd_bwd + train_rows x fwd_row + valid_rows x fwd_row``;
the line printed divides our measured epoch by it. Below that lies the *arithmetic
floor*: the same sum with each pass's matmul GFLOP (``_arithmetic.rnn_gflop`` plus the
two Linear layers) divided by this machine's float32 matmul throughput at the
recurrent shape (``rows x hidden @ hidden x 3 hidden``), a bound no kernel can beat. Our epoch comes from
``--epoch-seconds``, from a ``vs_qlib.py --json`` file (its ``fit-ours`` epochs and
segment sizes), or, by default, from a short ``IGMTFRegressor`` fit on random data of
the same shape (``--fit-days`` training days, 1 epoch).

``--compile`` also times ``torch.compile`` of the encoder (with
``torch._dynamo.config.allow_rnn = True``): compile seconds, steady-state fwd_bwd /
fwd_row, and the number of epochs it takes to pay the compile time back.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
from _arithmetic import matmul_gflops, rnn_gflop

SCORING_ROWS = 8192  # a large scoring block; the per-row floor takes the cheaper of it and a day


def _encoder(d_feat, hidden_size, num_layers, seed=0):
    from igmtf_sklearn.module import IGMTFModule

    torch.manual_seed(seed)
    module = IGMTFModule(d_feat=d_feat, hidden_size=hidden_size, num_layers=num_layers)
    return module


class _Encode(torch.nn.Module):
    """IGMTF's ``encode`` as a module of its own, so it can be compiled alone."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return self.module.encode(x)


def _best(func, repeat, warmup=2):
    """(best CPU seconds, best wall seconds) of ``func`` over ``repeat`` calls.

    CPU time (this thread's) is what the call costs an idle core; on a shared
    machine the wall time also holds the waits for a core. With one torch
    thread all the work runs on the calling thread.
    """
    for _ in range(warmup):
        func()
    cpu, wall = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.thread_time()
        func()
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return min(cpu), min(wall)


def time_encoder(encode, params, rows, seq_len, d_feat, repeat):
    """(CPU, wall) seconds of a day's fwd+bwd, and of a no-grad forward per row.

    The per-row forward is measured on one day and on a scoring block of 8192
    rows; ``fwd_row`` is the cheaper of the two (on CPU, the day: a large block's
    layer outputs fall out of cache), the cost that cannot be avoided.
    """
    gen = torch.Generator().manual_seed(0)
    x_day = torch.randn(rows, d_feat * seq_len, generator=gen)
    x_block = torch.randn(SCORING_ROWS, d_feat * seq_len, generator=gen)

    def fwd_bwd():
        for p in params:
            p.grad = None
        encode(x_day).square().mean().backward()

    def fwd_block():
        with torch.no_grad():
            encode(x_block)

    def fwd_day():
        with torch.no_grad():
            encode(x_day)

    fb = _best(fwd_bwd, repeat)
    fw = _best(fwd_block, max(2, repeat // 5), warmup=1)
    fd = _best(fwd_day, repeat)
    block_row = (fw[0] / SCORING_ROWS, fw[1] / SCORING_ROWS)
    day_row = (fd[0] / rows, fd[1] / rows)
    return {
        "fwd_bwd": fb,
        "fwd_row_block": block_row,
        "fwd_row_day": day_row,
        "fwd_row": min(block_row, day_row),
    }


def arithmetic_floor(args, days, train_rows, valid_rows):
    """The epoch's matmul work over the measured matmul speed: ``{gflops, ...}``."""

    def gflop(rows, train):
        rnn = rnn_gflop(
            False, rows, args.seq_len, args.d_feat, args.hidden_size, args.num_layers, train
        )
        linear = 2 * 2 * rows * args.hidden_size**2 * (3 if train else 1) / 1e9  # encode's 2 fc
        return rnn + linear

    throughput = matmul_gflops(args.rows, args.hidden_size, 3 * args.hidden_size, 300)
    day, row = gflop(args.rows, True), gflop(1, False)
    seconds = (days * day + (train_rows + valid_rows) * row) / throughput
    return {
        "matmul_gflops": throughput,
        "gflop_train_day": day,
        "gflop_fwd_row": row,
        "floor_arith": seconds,
    }


def _fit_epoch(args):
    """Our epoch on random data of the benchmark's shape: (dur, bank, n_train_rows, n_valid_rows)."""
    import pandas as pd

    from igmtf_sklearn import ExplicitValidation, IGMTFRegressor

    rng = np.random.default_rng(0)
    n_feat = args.d_feat * args.seq_len

    def panel(n_days, start):
        dates = pd.bdate_range(start, periods=n_days)
        index = pd.MultiIndex.from_product(
            [dates, [f"S{i:04d}" for i in range(args.rows)]], names=["datetime", "instrument"]
        )
        X = pd.DataFrame(rng.standard_normal((len(index), n_feat), dtype=np.float32), index=index)
        y = pd.Series(rng.standard_normal(len(index)).astype(np.float32), index=index)
        return X, y

    from skorch.callbacks import Callback

    class EpochCPU(Callback):
        def on_train_begin(self, net, **kwargs):
            self.start_ = time.process_time()

        def on_epoch_end(self, net, **kwargs):
            self.cpu_ = time.process_time() - self.start_

    X, y = panel(args.fit_days, "2016-01-01")
    valid_days = max(1, round(args.fit_days * args.valid_days / args.days))
    Xv, yv = panel(valid_days, "2030-01-01")
    model = IGMTFRegressor(
        d_feat=args.d_feat,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        pretrain_epochs=0,
        max_epochs=1,
        label_norm=None,
        train_split=ExplicitValidation(Xv, yv),
        random_state=0,
        verbose=0,
        callbacks=[("epoch_cpu", EpochCPU())],
        **({} if args.batch_size is None else {"batch_size": args.batch_size}),
    ).fit(X, y)
    row = model.history_[-1]
    cpu = dict(model.callbacks_)["epoch_cpu"].cpu_
    return (cpu, row["dur"]), row["bank_dur"], len(X), len(Xv), args.fit_days


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rows", type=int, default=260, help="rows of a typical day")
    parser.add_argument("--seq-len", type=int, default=60)
    parser.add_argument("--d-feat", type=int, default=5)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--days", type=int, default=731, help="training days of an epoch")
    parser.add_argument("--valid-days", type=int, default=244)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--epoch-seconds", type=float, default=None)
    parser.add_argument("--vs-qlib-json", default=None, help="a vs_qlib.py --json file")
    parser.add_argument(
        "--fit-days", type=int, default=60, help="days of the random-data fit (default 60)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="IGMTFRegressor(batch_size=...) of the random-data fit: rows per forward pass "
        "of the memory bank and per validation block (default: the estimator's own)",
    )
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--json", default=None, help="write the numbers to this file")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    module = _encoder(args.d_feat, args.hidden_size, args.num_layers)
    params = list(module.parameters())
    eager = time_encoder(module.encode, params, args.rows, args.seq_len, args.d_feat, args.repeat)
    out = {"threads": args.threads, "torch": torch.__version__, "eager": eager}

    # Our epoch and the rows it covers.
    if args.epoch_seconds is not None:
        epoch = (args.epoch_seconds, args.epoch_seconds)
        days, train_rows, valid_rows = args.days, args.days * args.rows, args.valid_days * args.rows
        source = "given"
    elif args.vs_qlib_json:
        results = json.load(open(args.vs_qlib_json))["results"]
        epochs = results["fit-ours"]["igmtf_epochs"]
        epoch = (
            statistics.mean(e.get("epoch_cpu", e["dur"]) for e in epochs),
            # skorch's `dur` starts after the memory-bank rebuild: take the whole epoch.
            statistics.mean(e.get("epoch", e["dur"]) for e in epochs),
        )
        segments = results["prep-ours"]["segments"]
        days, train_rows = segments["train"]["days"], segments["train"]["rows"]
        valid_rows = segments["valid"]["rows"]
        source = args.vs_qlib_json
    else:
        epoch, bank, train_rows, valid_rows, days = _fit_epoch(args)
        out["fit_bank"] = bank
        source = f"random-data fit, {days} days x {args.rows} rows, batch_size {args.batch_size or 'default'}"
    floors = [
        days * eager["fwd_bwd"][i] + (train_rows + valid_rows) * eager["fwd_row"][i] for i in (0, 1)
    ]
    out.update(
        epoch_cpu=epoch[0],
        epoch_wall=epoch[1],
        days=days,
        train_rows=train_rows,
        valid_rows=valid_rows,
        floor_cpu=floors[0],
        floor_wall=floors[1],
        ratio_cpu=epoch[0] / floors[0],
        ratio_wall=epoch[1] / floors[1],
        source=source,
    )
    arith = arithmetic_floor(args, days, train_rows, valid_rows)
    out.update(arith, ratio_arith=epoch[0] / arith["floor_arith"])
    fb, fr = eager["fwd_bwd"][0], eager["fwd_row"][0]
    print(
        f"micro ({args.threads} thread(s), torch {torch.__version__}, CPU time [wall]): encoder "
        f"{args.rows}x{args.seq_len}x{args.d_feat}, GRU {args.hidden_size}x{args.num_layers}: "
        f"fwd+bwd {fb * 1e3:.1f} [{eager['fwd_bwd'][1] * 1e3:.1f}] ms/day, "
        f"fwd {fr * 1e6:.1f} [{eager['fwd_row'][1] * 1e6:.1f}] us/row "
        f"({eager['fwd_row_day'][0] * 1e6:.1f} us/row in a {args.rows}-row day, "
        f"{eager['fwd_row_block'][0] * 1e6:.1f} us/row in a {SCORING_ROWS}-row block); "
        f"floor {floors[0]:.1f} [{floors[1]:.1f}] s = {days} days x fwd+bwd + "
        f"({train_rows:,} + {valid_rows:,}) rows x fwd; our epoch {epoch[0]:.1f} "
        f"[{epoch[1]:.1f}] s ({source}) = {epoch[0] / floors[0]:.2f}x "
        f"[{epoch[1] / floors[1]:.2f}x] the floor"
    )
    print(
        f"arithmetic floor: {arith['gflop_train_day']:.2f} GFLOP per training day, "
        f"{arith['gflop_fwd_row'] * 1e3:.2f} MFLOP per scored row, at "
        f"{arith['matmul_gflops']:.1f} GFLOP/s (float32 matmul {args.rows}x{args.hidden_size} @ "
        f"{args.hidden_size}x{3 * args.hidden_size}) = {arith['floor_arith']:.1f} s; "
        f"our epoch is {out['ratio_arith']:.2f}x it (CPU)"
    )

    if args.compile:
        import torch._dynamo as dynamo

        dynamo.config.allow_rnn = True
        compiled = torch.compile(_Encode(module), dynamic=True)
        start = time.perf_counter()
        x = torch.randn(args.rows, args.d_feat * args.seq_len)
        compiled(x).square().mean().backward()
        with torch.no_grad():
            compiled(torch.randn(SCORING_ROWS, args.d_feat * args.seq_len))
        compile_s = time.perf_counter() - start
        comp = time_encoder(compiled, params, args.rows, args.seq_len, args.d_feat, args.repeat)
        cfb, cfr = comp["fwd_bwd"][0], comp["fwd_row"][0]
        floor = floors[0]
        c_floor = days * cfb + (train_rows + valid_rows) * cfr
        saved = floor - c_floor
        payback = compile_s / saved if saved > 0 else float("inf")
        out["compiled"] = {
            **comp,
            "compile_s": compile_s,
            "floor": c_floor,
            "payback_epochs": payback,
        }
        print(
            f"torch.compile (allow_rnn, dynamic): compile {compile_s:.1f} s wall; fwd+bwd "
            f"{cfb * 1e3:.1f} ms/day, fwd {cfr * 1e6:.1f} us/row; floor {c_floor:.1f} s vs eager "
            f"{floor:.1f} s -> "
            + (f"pays back after {payback:.1f} epochs" if saved > 0 else "never pays back (slower)")
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, default=str)


if __name__ == "__main__":
    main()
