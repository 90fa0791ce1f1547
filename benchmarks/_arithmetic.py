"""The arithmetic a recurrent encoder cannot avoid, and this machine's matmul speed.

Shared by ``bench_fused_rnn.py`` and ``micro.py``: their floors are the matmul GFLOP
of a pass divided by the float32 matmul throughput measured here, on one thread.
Elementwise gate work is not counted, so a floor is a bound no kernel can beat.
"""

import statistics
import time

import torch


def rnn_gflop(lstm, rows, steps, d_in, hidden, layers, train):
    """Matmul GFLOP of a forward (and, with ``train``, backward) pass of the RNN."""
    g = (4 if lstm else 3) * hidden
    total = 0.0
    for layer in range(layers):
        d = d_in if layer == 0 else hidden
        fwd = 2 * rows * steps * g * (d + hidden)  # W_ih x, W_hh h
        bwd = 2 * rows * steps * g * (d + hidden + hidden)  # dW_ih, dW_hh, dh
        bwd += 2 * rows * steps * g * d if layer > 0 else 0  # dx into the layer below
        total += fwd + (bwd if train else 0)
    return total / 1e9


def matmul_gflops(m, k, n, reps):
    """Float32 ``torch.mm`` throughput at ``(m, k) @ (k, n)``, median of 5, CPU time."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(3):
        torch.mm(a, b)
    best = []
    for _ in range(5):
        c = time.process_time()
        for _ in range(reps):
            torch.mm(a, b)
        best.append((time.process_time() - c) / reps)
    return 2 * m * k * n / statistics.median(best) / 1e9
