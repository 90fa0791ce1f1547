"""Layouts of the fused recurrent layers (:mod:`._fused_rnn`): nn's tensors to the
feature-major ``[T, features, N]`` layout and back, each layer's parameters, and the dropout
between layers.

Kept apart from the gate arithmetic so that :mod:`._fused_rnn` reads as forward and
backward only; forward and backward both take a layer's input from :func:`_next_input`.
"""

import torch

from ._fused_kernels import _empty


def _layer_params(flat, num_layers, like):
    """Split ``[w_ih, w_hh(, b_ih, b_hh)] * layers``; missing biases become zeros."""
    per = len(flat) // num_layers
    out = []
    for layer in range(num_layers):
        w_ih, w_hh, *b = flat[per * layer : per * (layer + 1)]
        if not b:
            b = [like.new_zeros(w_ih.shape[0])] * 2
        out.append((w_ih, w_hh, b[0], b[1]))
    return out


def _to_fm(x, batch_first):
    """Input in nn's layout -> feature-major ``[T, D+1, N]`` with a last row of ones."""
    xf = x.permute(1, 2, 0) if batch_first else x.permute(0, 2, 1)
    xa = _empty((xf.shape[0], xf.shape[1] + 1, xf.shape[2]), x)
    xa[:, :-1] = xf
    xa[:, -1] = 1
    return xa


def _from_fm(H, batch_first):
    """Top layer's ``H`` [T+1, H+1, N] -> output in nn's layout (contiguous, as nn's).

    One 2-D transpose per step: ~3x faster than torch's copy of the 3-D permutation.
    """
    T, Hd, N = H.shape[0] - 1, H.shape[1] - 1, H.shape[2]
    out = H.new_empty((N, T, Hd) if batch_first else (T, N, Hd))
    for t in range(T):
        (out[:, t] if batch_first else out[t]).copy_(H[t + 1, :Hd].t())
    return out


def _dropout_masks(x, num_layers, hidden_size, p):
    """Inverted-dropout masks ``[T, H, N]`` for the inputs of layers 1 to L-1: nn's
    dropout between layers (each element kept with probability ``1 - p`` and scaled by
    ``1 / (1 - p)``), drawn in the feature-major layout. Empty when nothing is dropped."""
    if p <= 0 or num_layers < 2:
        return []
    T, N = x.shape[0], x.shape[2]
    scale = 1.0 / (1.0 - p) if p < 1 else 0.0
    return [
        x.new_empty((T, hidden_size, N)).bernoulli_(1.0 - p).mul_(scale)
        for _ in range(num_layers - 1)
    ]


def _dropped(H, mask):
    """The next layer's input: a layer's states ``H[1:]`` times ``mask``, ones row kept."""
    out = H[1:].clone()
    out[:, :-1].mul_(mask)
    return out


def _next_input(H, masks, layer):
    """Layer ``layer + 1``'s input from layer ``layer``'s states ``H``.

    One place decides "dropped or not", so forward and backward cannot drift apart:
    backward remakes exactly the input forward fed the layer above.
    """
    return _dropped(H, masks[layer]) if layer < len(masks) else H[1:]


def _states_out(Hs, cn):
    """The last states in nn's layout: ``(h_n,)``, or ``(h_n, c_n)`` for an LSTM."""
    hn = torch.stack([H[-1, :-1] for H in Hs]).transpose(1, 2).contiguous()
    return (hn, torch.stack(cn).transpose(1, 2).contiguous()) if cn else (hn,)
