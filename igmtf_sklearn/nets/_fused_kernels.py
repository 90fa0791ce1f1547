"""Buffers and numba gate kernels of the fused CPU recurrent encoders (:mod:`._fused_rnn`).

Two things the fused GRU/LSTM step needs besides torch's matmuls:

* a workspace of big float buffers reused between calls: glibc hands
  allocations this large fresh pages each time, and the page faults cost about
  a third of a training step here;
* four small numba kernels that run a step's whole gate arithmetic in one loop,
  compiled on first use (~10 s, then cached on disk). numba is optional: without
  it :func:`numba_kernels` returns None and the encoders fall back to torch's op.
"""

import math
import threading
import types
import warnings

import torch

__all__ = ["clear_workspace"]

# Steps per input-projection bmm: few enough for the block's gates to still be
# in L2 when the steps use them.
_BLOCK = 2

_warned = set()


def _warn_once(reason, message=None):
    """Warn once per reason and process."""
    if reason not in _warned:
        _warned.add(reason)
        warnings.warn(
            message
            or f"fused RNN fast path not used: {reason}; falling back "
            "to torch's op (slower on CPU)",
            RuntimeWarning,
            stacklevel=4,
        )


# ------------------------------------------------------------------ workspace
# A training step needs ~50 MB of buffers.  glibc gives allocations that big
# fresh pages from the OS each time, and the page faults cost ~0.6 ms/MB
# here (a third of a step).  Big buffers are therefore kept and reused once
# nothing else refers to their storage (saved for a pending backward, or a
# view the caller kept); a lock makes taking one atomic across threads.
_pool, _pool_lock, _POOL_MAX = [], threading.Lock(), 1 << 30
try:

    def _refs(t):
        return torch._C._storage_Use_Count(t.untyped_storage()._cdata)

    _refs(torch.empty(1))
except Exception:  # private API gone: allocate every time
    _refs = None


def _empty(shape, like):
    """Uninitialised float tensor of ``shape``, from the workspace if big."""
    n = math.prod(shape)
    if _refs is None or n < (1 << 18):
        return like.new_empty(shape)
    with _pool_lock:
        for i, (buf, free) in enumerate(_pool):
            if buf.dtype == like.dtype and n <= buf.numel() <= 2 * n and _refs(buf) == free:
                _pool.append(_pool.pop(i))  # most recently used last
                return buf[:n].view(shape)
        buf = like.new_empty(n)
        _pool.append((buf, _refs(buf)))
        total = sum(b.numel() * b.element_size() for b, _ in _pool)
        for b, free in list(_pool[:-1]):  # evict idle buffers, least recent first
            if total <= _POOL_MAX:
                break
            if _refs(b) == free:
                _pool.remove((b, free))
                total -= b.numel() * b.element_size()
        return buf[:n].view(shape)


def clear_workspace():
    """Drop the buffers kept between calls (they are reallocated on demand)."""
    with _pool_lock:
        _pool.clear()


# ------------------------------------------------------------------ numba
# torch runs a GRU step's gate arithmetic as ~15 separate ops (~250 us a step
# in training, as much as the step's matmul); one numba loop over the step's
# H*N elements does it in ~70 us.  Its sigmoid is Cephes' expf polynomial,
# written branch-free so that LLVM vectorises it: numba's np.exp is a scalar
# libm call (7x slower) unless Intel's SVML is installed.  Error < 2e-7.
# tanh(a) = 2 sigmoid(2 a) - 1, the factor 2 folded into the weights (exact).
_nb = None


def _numba_kernels():
    """Compile (or load from numba's cache) the gate kernels; None without numba."""
    global _nb
    if _nb is None:
        try:
            _nb = _build_numba()
        except ImportError:
            _nb = False
    return _nb or None


def _build_numba():
    import numba
    from numba import float32 as f32
    from numba import int32 as i32
    from numba.core import types as nbtypes
    from numba.core.extending import intrinsic

    @intrinsic
    def as_float(typingctx, v):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(nbtypes.float32))

        return nbtypes.float32(nbtypes.int32), codegen

    # nogil: the kernels touch only their arrays, so IGMTF's bank encoding can run them
    # on a second thread while validation runs on the first.
    jit = numba.njit(fastmath=True, error_model="numpy", boundscheck=False, cache=True, nogil=True)
    one, two = f32(1.0), f32(2.0)

    @numba.njit(fastmath=True, inline="always")
    def sig(a):
        x = -a
        x = x if x > f32(-87.0) else f32(-87.0)
        x = x if x < f32(88.0) else f32(88.0)
        t = x * f32(1.4426950408889634)
        k = i32(t + (f32(0.5) if t >= f32(0.0) else f32(-0.5)))
        kf = f32(k)
        r = x - kf * f32(0.693359375) + kf * f32(2.12194440e-4)
        p = f32(1.9875691500e-4)
        p = p * r + f32(1.3981999507e-3)
        p = p * r + f32(8.3334519073e-3)
        p = p * r + f32(4.1665795894e-2)
        p = p * r + f32(1.6666665459e-1)
        p = p * r + f32(5.0000001201e-1)
        e = p * r * r + r + one
        return one / (one + e * as_float((k + i32(127)) << i32(23)))

    @jit
    def gru_train(g, h, h_out, s):
        """g = [a_r; a_z; gh_n; 2 gi_n] (flat, M = H*N each); s = [A; B; Q; r; z]."""
        M = h.shape[0]
        for i in range(M):
            r = sig(g[i])
            z = sig(g[M + i])
            q = r * g[2 * M + i]
            n = two * sig(g[3 * M + i] + two * q) - one
            d = h[i] - n
            h_out[i] = n + z * d
            omz = one - z
            s[i] = omz * (one - n * n)
            s[M + i] = z * omz * d
            s[2 * M + i] = q * (one - r)
            s[3 * M + i] = r
            s[4 * M + i] = z

    @jit
    def gru_infer(g, h, h_out):
        M = h.shape[0]
        for i in range(M):
            r = sig(g[i])
            z = sig(g[M + i])
            n = two * sig(g[3 * M + i] + two * r * g[2 * M + i]) - one
            h_out[i] = n + z * (h[i] - n)

    @jit
    def lstm_train(g, c_prev, c_out, h_out, s):
        """g = [a_o; a_i; a_f; 2 a_g] (flat); s = [O'; P; I'; F'; G'; f]."""
        M = c_prev.shape[0]
        for k in range(M):
            o = sig(g[k])
            i = sig(g[M + k])
            f = sig(g[2 * M + k])
            gg = two * sig(g[3 * M + k]) - one
            cp = c_prev[k]
            c = i * gg + f * cp
            tc = two * sig(two * c) - one
            h = o * tc
            c_out[k] = c
            h_out[k] = h
            s[k] = h * (one - o)
            s[M + k] = o * (one - tc * tc)
            s[2 * M + k] = gg * i * (one - i)
            s[3 * M + k] = cp * f * (one - f)
            s[4 * M + k] = i * (one - gg * gg)
            s[5 * M + k] = f

    @jit
    def lstm_infer(g, c_prev, c_out, h_out):
        M = c_prev.shape[0]
        for k in range(M):
            gg = two * sig(g[3 * M + k]) - one
            c = sig(g[M + k]) * gg + sig(g[2 * M + k]) * c_prev[k]
            c_out[k] = c
            h_out[k] = sig(g[k]) * (two * sig(two * c) - one)

    return types.SimpleNamespace(
        gru_train=gru_train, gru_infer=gru_infer, lstm_train=lstm_train, lstm_infer=lstm_infer
    )


def _flat(t):
    """numpy view of a contiguous tensor, flattened (never a copy)."""
    return t.view(-1).numpy()
