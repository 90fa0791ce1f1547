"""Fused CPU GRU/LSTM layers: forward and hand-written backward of ``FusedGRU``/``FusedLSTM``.

Why: an IGMTF fit spends ~97% of its compute in ``torch.gru`` forward and
backward on one trading day (~260 rows, 60 steps, hidden 64, 2 layers).  On a
CPU that op runs a dozen small kernels per step and autograd records and
replays them; its arithmetic (3.5 GFLOP a day, forward + backward) is less
than half of its time.

:class:`FusedGRU` / :class:`FusedLSTM` subclass the torch modules (same
constructor, parameters, ``state_dict`` keys, gate order), and on CPU float32
run one :class:`torch.autograd.Function` per call:

* feature-major layout ``[T, features, N]``: a step's gates are contiguous
  row blocks of one ``[4H, N]`` matrix;
* forward: a bmm projects the inputs of a few steps, then per step one
  in-place ``addmm_`` (recurrent product) and one numba loop for all the gate
  arithmetic, which also stores the gate derivatives backward needs;
* backward: per step three elementwise torch ops and three (four for upper
  layers) matmuls, accumulating weight and bias gradients (inputs carry a
  row of ones, so a bias gradient is the last column of a weight gradient).

Nothing is compiled at install time; numba (optional dependency) compiles the
four small gate kernels on first use (~10 s) and caches them.  The modules
(:mod:`._fused_modules`) decide when this path applies and fall back to
torch's own op otherwise.

Measured with ``bench_fused_rnn.py`` (1 thread, CPU-time medians, AMD EPYC
Milan VM with both cores busy): a GRU training day 1.6-1.75x faster than
``nn.GRU`` (an all-torch-ops variant of the gate arithmetic: 1.4-1.5x),
prediction 1.35-1.6x; LSTM 1.5x and 1.05-1.15x.  The matmuls alone, at the
measured matmul throughput, are ~55% of the fused GRU step.
"""

import torch

from ._fused_kernels import _BLOCK, _empty, _flat, _numba_kernels, clear_workspace
from ._fused_layout import (
    _dropout_masks,
    _from_fm,
    _layer_params,
    _next_input,
    _states_out,
    _to_fm,
)

__all__ = ["clear_workspace"]


# ------------------------------------------------------------------ common
# Feature-major: torch's elementwise ops on [N, H] column slices of [N, 4H]
# rows cost ~3x those on contiguous blocks.  Per-step views are made once per
# call (unbind): slicing inside the loop costs as much as a small op.
# In training the forward kernel stores, while they are in cache, the gate
# derivatives that do not depend on the incoming gradient, instead of the gates.
def _project(out, w_aug, xa):
    """``out[t] = w_aug @ xa[t]`` for a block of steps: one bmm.

    ``xa`` carries a row of ones, so the last column of ``w_aug`` is the bias.
    """
    torch.bmm(w_aug.expand(xa.shape[0], -1, -1), xa, out=out)


def _new_states(x, T, Hd, h0):
    """``H`` [T+1, H+1, N]: ``H[0] = h0``, ``H[1:, :H]`` to fill, last row ones."""
    H = _empty((T + 1, Hd + 1, x.shape[2]), x)
    H[0, :Hd] = h0
    H[:, Hd] = 1
    return H


# ----------------------------------------------------------------------------- GRU
def _gru_layer_fwd(x, h0, w_ih, w_hh, b_ih, b_hh, save):
    """One GRU layer over ``x`` [T, D+1, N] (last row ones).

    Returns ``(H, S)``: ``H[1:, :hidden]`` is the output, ``H[0]`` the initial
    state; with ``save``, ``S[t] = [A; B; Q; r; z]`` [5H, N] holds what
    backward needs (see :func:`_gru_layer_bwd`), else S is None.
    """
    T, N, Hd = x.shape[0], x.shape[2], w_hh.shape[1]
    H = _new_states(x, T, Hd, h0)
    G = x.new_empty(_BLOCK, 4 * Hd, N)
    S = _empty((T, 5 * Hd, N), x) if save else None
    # G rows: [W_r x + b_ir; W_z x + b_iz; 0; 2 (W_n x + b_in)], so that one in-place
    # addmm_ of [W_hh | b_hh] @ [h; 1] adds a step's recurrent terms, gh_n included.
    w_rz = torch.cat([w_ih[: 2 * Hd], b_ih[: 2 * Hd, None]], 1)
    w_n = 2 * torch.cat([w_ih[2 * Hd :], b_ih[2 * Hd :, None]], 1)
    w_hh = torch.cat([w_hh, b_hh[:, None]], 1)
    Hs, Gn = H[:, :Hd].unbind(0), [_flat(g) for g in G]
    Hn = [_flat(h) for h in Hs]
    Sn = [_flat(s) for s in S] if save else None
    nb = _numba_kernels()
    for t0 in range(0, T, _BLOCK):
        t1 = min(T, t0 + _BLOCK)
        g = G[: t1 - t0]
        _project(g[:, : 2 * Hd], w_rz, x[t0:t1])
        g[:, 2 * Hd : 3 * Hd] = 0
        _project(g[:, 3 * Hd :], w_n, x[t0:t1])
        for t in range(t0, t1):
            k = t - t0
            G[k, : 3 * Hd].addmm_(w_hh, H[t])
            if save:
                nb.gru_train(Gn[k], Hn[t], Hn[t + 1], Sn[t])
            else:
                nb.gru_infer(Gn[k], Hn[t], Hn[t + 1])
    return H, S


def _gru_layer_bwd(x, H, S, w_ih, w_hh, dout, dh, need_dx):
    """Backward of one GRU layer.

    Per step, with ``S[t] = [A; B; Q; r; z]``: ``[da_n; da_z] = [A; B] dh``,
    ``[da_r; dgh_n] = [Q; r] da_n`` into one buffer ``E`` whose rows [0:3H]
    are the gradient of the input pre-activations in order (n, z, r) and rows
    [H:4H] that of the recurrent ones in order (z, r, n); the weights are
    row-permuted to match.  ``x`` and ``H`` carry a row of ones, so the last
    column of each weight gradient is the bias gradient.

    Returns ``(dx, dh0, dw_ih, dw_hh, db_ih, db_hh)``.
    """
    T, N, D, Hd = x.shape[0], x.shape[2], w_ih.shape[1], w_hh.shape[1]
    w_hh_pt = torch.cat([w_hh[Hd : 2 * Hd], w_hh[:Hd], w_hh[2 * Hd :]]).t().contiguous()
    w_ih_pt = torch.cat([w_ih[2 * Hd :], w_ih[Hd : 2 * Hd], w_ih[:Hd]]).t().contiguous()
    E = x.new_empty(4 * Hd, N)
    E1, E2, da_n = E[: 2 * Hd].view(2, Hd, N), E[2 * Hd :].view(2, Hd, N), E[:Hd]
    Ei, Eh = E[: 3 * Hd], E[Hd:]
    # Transposed weight gradients: H[t] @ E^T is ~15% faster than E @ H[t]^T here.
    dw_ih, dw_hh = x.new_zeros(D + 1, 3 * Hd), x.new_zeros(Hd + 1, 3 * Hd)
    dx = _empty((T, D, N), x) if need_dx else None
    Sv = S.view(T, 5, Hd, N)
    AB, QR, Z = Sv[:, :2].unbind(0), Sv[:, 2:4].unbind(0), Sv[:, 4].unbind(0)
    Hs, xs = H.unbind(0), x.unbind(0)
    douts = dout.unbind(0) if dout is not None else None
    bufs = x.new_empty(2, Hd, N)  # dh ping-pong, contiguous whatever dout's strides
    dh = bufs[T & 1].copy_(dh)
    if douts is not None:
        dh += douts[T - 1]
    for t in range(T - 1, -1, -1):
        torch.mul(AB[t], dh, out=E1)
        torch.mul(QR[t], da_n, out=E2)
        # dh_{t-1} = dout_{t-1} + z dh + W_hh^T dgh
        if douts is not None and t > 0:
            dh = torch.addcmul(douts[t - 1], dh, Z[t], out=bufs[t & 1])
        else:
            dh = torch.mul(dh, Z[t], out=bufs[t & 1])
        dh.addmm_(w_hh_pt, Eh)
        dw_hh.addmm_(Hs[t], Eh.t())
        dw_ih.addmm_(xs[t], Ei.t())
        if need_dx:
            torch.mm(w_ih_pt, Ei, out=dx[t])
    dw_ih = dw_ih.t().reshape(3, Hd, D + 1)[[2, 1, 0]].reshape(3 * Hd, D + 1)  # (n,z,r) -> (r,z,n)
    dw_hh = (
        dw_hh.t().reshape(3, Hd, Hd + 1)[[1, 0, 2]].reshape(3 * Hd, Hd + 1)
    )  # (z,r,n) -> (r,z,n)
    return (
        dx,
        dh,
        dw_ih[:, :D],
        dw_hh[:, :Hd],
        dw_ih[:, D].contiguous(),
        dw_hh[:, Hd].contiguous(),
    )


# ---------------------------------------------------------------------------- LSTM
def _lstm_perm(w, Hd, scale_g=False):
    """PyTorch's gate rows (i, f, g, o) -> (o, i, f, g): sigmoid gates first.

    With ``scale_g`` the g rows are doubled, for tanh via sigmoid.
    """
    g = w[2 * Hd : 3 * Hd]
    return torch.cat([w[3 * Hd :], w[: 2 * Hd], 2 * g if scale_g else g])


def _lstm_layer_fwd(x, h0, c0, w_ih, w_hh, b_ih, b_hh, save):
    """One LSTM layer over ``x`` [T, D+1, N] (last row ones).

    Returns ``(H, C, S)``: H as for :func:`_gru_layer_fwd`, ``C[t]`` the cells
    (``C[0] = c0``), and with ``save`` ``S[t] = [O'; P; I'; F'; G'; f]``
    [6H, N] for backward, else None.
    """
    T, N, Hd = x.shape[0], x.shape[2], w_hh.shape[1]
    H = _new_states(x, T, Hd, h0)
    C = _empty((T + 1, Hd, N), x) if save else x.new_empty(2, Hd, N)
    C[0] = c0
    G = x.new_empty(_BLOCK, 4 * Hd, N)
    S = _empty((T, 6 * Hd, N), x) if save else None
    w_aug = torch.cat([_lstm_perm(w_ih, Hd, True), _lstm_perm(b_ih + b_hh, Hd, True)[:, None]], 1)
    w_hh_p = _lstm_perm(w_hh, Hd, True)
    Hs, Cs, Gs = H[:, :Hd].unbind(0), C.unbind(0), G.unbind(0)
    Gn, Hn, Cn = [_flat(g) for g in Gs], [_flat(h) for h in Hs], [_flat(c) for c in Cs]
    Sn = [_flat(s) for s in S] if save else None
    nb = _numba_kernels()
    for t0 in range(0, T, _BLOCK):
        t1 = min(T, t0 + _BLOCK)
        _project(G[: t1 - t0], w_aug, x[t0:t1])
        for t in range(t0, t1):
            k = t - t0
            ci, co = (t, t + 1) if save else (t & 1, ~t & 1)  # no-grad: two cells suffice
            Gs[k].addmm_(w_hh_p, Hs[t])
            if save:
                nb.lstm_train(Gn[k], Cn[ci], Cn[co], Hn[t + 1], Sn[t])
            else:
                nb.lstm_infer(Gn[k], Cn[ci], Cn[co], Hn[t + 1])
    if not save:
        C = C[T & 1 : (T & 1) + 1].expand(T + 1, -1, -1)  # only C[-1] is used
    return H, C, S


def _lstm_layer_bwd(x, H, S, w_ih, w_hh, dout, dh, dc, need_dx):
    """Backward of one LSTM layer; returns ``(dx, dh0, dc0, dw_ih, dw_hh, db)``.

    Per step: ``dc += P dh``, ``da_o = O' dh`` and
    ``[da_i; da_f; da_g; dc_prev] = [I'; F'; G'; f] * dc`` into one buffer whose
    first 4H rows are the gate gradient in the permuted order (o, i, f, g).
    """
    T, N, D, Hd = x.shape[0], x.shape[2], w_ih.shape[1], w_hh.shape[1]
    w_hh_pt, w_ih_pt = _lstm_perm(w_hh, Hd).t(), _lstm_perm(w_ih, Hd).t()
    E = x.new_empty(2, 5 * Hd, N)  # two, as dc_prev of one step is read by the next
    dw_ih, dw_hh = x.new_zeros(D + 1, 4 * Hd), x.new_zeros(Hd + 1, 4 * Hd)  # transposed
    dx = _empty((T, D, N), x) if need_dx else None
    Sk = S.view(T, 6, Hd, N)
    Op, P, K4 = Sk[:, 0].unbind(0), Sk[:, 1].unbind(0), Sk[:, 2:].unbind(0)
    Hs, xs = H.unbind(0), x.unbind(0)
    douts = dout.unbind(0) if dout is not None else None
    dh = x.new_empty(Hd, N).copy_(dh)
    if douts is not None:
        dh += douts[T - 1]
    dcur = x.new_empty(Hd, N).copy_(dc)
    for t in range(T - 1, -1, -1):
        e = E[t & 1]
        dcur.addcmul_(dh, P[t])
        torch.mul(dh, Op[t], out=e[:Hd])
        torch.mul(K4[t], dcur, out=e[Hd:].view(4, Hd, N))
        dcur, eg = e[4 * Hd :], e[: 4 * Hd]
        # dh_{t-1} = dout_{t-1} + W_hh^T dgates
        if douts is not None and t > 0:
            dh = torch.addmm(douts[t - 1], w_hh_pt, eg)
        else:
            dh = torch.mm(w_hh_pt, eg)
        dw_hh.addmm_(Hs[t], eg.t())
        dw_ih.addmm_(xs[t], eg.t())
        if need_dx:
            torch.mm(w_ih_pt, eg, out=dx[t])

    def unperm(w):  # (o, i, f, g) -> (i, f, g, o)
        return torch.cat([w[Hd:], w[:Hd]])

    dw_ih, dw_hh = unperm(dw_ih.t()), unperm(dw_hh.t())
    return dx, dh, dcur.clone(), dw_ih[:, :D], dw_hh[:, :Hd], dw_ih[:, D].contiguous()


# ------------------------------------------------------------------ autograd glue
def _forward(lstm, xa, h0, c0, flat, num_layers, save, masks=()):
    """All layers; returns per-layer lists ``Hs``, ``Ss`` and last cells ``cn``.

    ``masks[l]`` (see :func:`_dropout_masks`) multiplies layer ``l``'s output on its way
    into layer ``l + 1``; none: nothing is dropped.
    """
    inp, Hs, Ss, cn = xa, [], [], []
    for layer, p in enumerate(_layer_params(flat, num_layers, xa)):
        if lstm:
            H, C, S = _lstm_layer_fwd(inp, h0[layer], c0[layer], *p, save=save)
            cn.append(C[-1])
        else:
            H, S = _gru_layer_fwd(inp, h0[layer], *p, save=save)
        Hs.append(H)
        Ss.append(S)
        inp = _next_input(H, masks, layer)
    return Hs, Ss, cn


class _RNNFunction(torch.autograd.Function):
    """Stacked GRU/LSTM with a hand-written backward; tensors in nn's layouts.

    ``c0`` is None for a GRU.  Returns ``(output, h_n)`` or ``(output, h_n, c_n)``.
    """

    @staticmethod
    def forward(ctx, lstm, batch_first, num_layers, dropout, x, h0, c0, *flat):
        xa = _to_fm(x, batch_first)
        h0, c0 = (None if s is None else s.transpose(1, 2).contiguous() for s in (h0, c0))
        masks = _dropout_masks(xa, num_layers, flat[1].shape[1], dropout)
        Hs, Ss, cn = _forward(lstm, xa, h0, c0, flat, num_layers, save=True, masks=masks)
        # The masks, not the dropped inputs: backward remakes those with one multiply.
        ctx.save_for_backward(xa, *Hs, *Ss, *masks, *flat)
        ctx.lstm, ctx.batch_first, ctx.num_layers = lstm, batch_first, num_layers
        ctx.n_masks = len(masks)
        return (_from_fm(Hs[-1], batch_first), *_states_out(Hs, cn))

    @staticmethod
    def backward(ctx, dout, dhn, dcn=None):
        L, lstm, M = ctx.num_layers, ctx.lstm, ctx.n_masks
        xa, *rest = ctx.saved_tensors
        Hs, Ss = rest[:L], rest[L : 2 * L]
        masks, flat = rest[2 * L : 2 * L + M], rest[2 * L + M :]
        per = len(flat) // L
        # The top layer reads its output gradient through a strided view: a
        # transposing copy would cost more than the strided reads.
        dout = dout.permute(1, 2, 0) if ctx.batch_first else dout.permute(0, 2, 1)
        dhn = dhn.transpose(1, 2)
        grads, dh0, dc0 = [], [None] * L, [None] * L
        for layer in range(L - 1, -1, -1):
            inp = xa if layer == 0 else _next_input(Hs[layer - 1], masks, layer - 1)
            need_dx = layer > 0 or ctx.needs_input_grad[4]
            w_ih, w_hh = flat[per * layer], flat[per * layer + 1]
            if lstm:
                dout, dh0[layer], dc0[layer], dw_ih, dw_hh, db = _lstm_layer_bwd(
                    inp,
                    Hs[layer],
                    Ss[layer],
                    w_ih,
                    w_hh,
                    dout,
                    dhn[layer],
                    dcn.transpose(1, 2)[layer],
                    need_dx,
                )
                g = [dw_ih, dw_hh, db, db.clone()]
            else:
                dout, dh0[layer], *g = _gru_layer_bwd(
                    inp, Hs[layer], Ss[layer], w_ih, w_hh, dout, dhn[layer], need_dx
                )
            grads = [
                gr if ctx.needs_input_grad[7 + per * layer + k] else None
                for k, gr in enumerate(g[:per])
            ] + grads
            if 0 < layer <= len(masks):  # through the dropout into the layer below
                dout.mul_(masks[layer - 1])
        dx = None
        if dout is not None:
            dx = dout.permute(2, 0, 1) if ctx.batch_first else dout.permute(0, 2, 1)
        dh0 = torch.stack(dh0).transpose(1, 2)
        dc0 = torch.stack(dc0).transpose(1, 2) if lstm else None
        return (None, None, None, None, dx, dh0, dc0, *grads)


def _run(lstm, input, states, flat, num_layers, batch_first, dropout=0.0):
    """Shared driver: the autograd Function, or a no-grad forward for prediction.

    ``dropout``: the probability of dropping each output of a layer below the top on its
    way up (nn's ``dropout``; the module passes 0 outside training mode).
    """
    n = input.shape[0 if batch_first else 1]
    Hd = flat[1].shape[1]
    states = [input.new_zeros(num_layers, n, Hd) if s is None else s for s in states]
    h0, c0 = states[0], states[1] if lstm else None
    if torch.is_grad_enabled() and any(t.requires_grad for t in (input, *states, *flat)):
        return _RNNFunction.apply(lstm, batch_first, num_layers, dropout, input, h0, c0, *flat)
    with torch.no_grad():  # block-sized scratch, nothing kept for backward
        xa = _to_fm(input, batch_first)
        h0, c0 = (None if s is None else s.transpose(1, 2).contiguous() for s in (h0, c0))
        masks = _dropout_masks(xa, num_layers, Hd, dropout)
        Hs, _, cn = _forward(lstm, xa, h0, c0, flat, num_layers, save=False, masks=masks)
        return (_from_fm(Hs[-1], batch_first), *_states_out(Hs, cn))
