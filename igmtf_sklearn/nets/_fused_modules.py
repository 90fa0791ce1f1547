"""``FusedGRU`` / ``FusedLSTM``: drop-in ``nn.GRU`` / ``nn.LSTM`` with a fused CPU path.

They subclass the torch modules (same constructor, parameters, ``state_dict``
keys, gate order) and, where the fused path applies, run the layers of
:mod:`._fused_rnn` as one autograd Function per call. Without numba, on GPU, or
for configurations it does not cover (packed sequences, bidirectional,
``proj_size``, float64), ``forward`` is torch's own; a CPU case a user can
change (e.g. ``pip install numba``) warns once per reason and process.

Dropout between layers in training mode is drawn by the fused path itself, in
its own layout: the same seed gives other masks than torch's op would (another
draw of the same noise), and the same masks give torch's results.
"""

from __future__ import annotations

import torch
from torch import nn

from ._fused_kernels import _numba_kernels, _warn_once
from ._fused_rnn import _run

__all__ = ["FusedGRU", "FusedLSTM"]


class _FusedMixin:
    #: Set to False (on the class or an instance) to always use torch's op.
    use_fused = True

    def _fallback_reason(self, input, states):
        """None if the fast path applies, else ``(reason, warn)``."""
        if not self.use_fused:
            return "disabled", False
        if isinstance(input, nn.utils.rnn.PackedSequence):
            return "packed sequences are not supported", True
        tensors = [input, *(s for s in states if s is not None), *self._flat_weights]
        if any(t.device.type != "cpu" for t in tensors):
            return "not on CPU", False  # cuDNN and others stay, silently
        if torch.jit.is_scripting() or torch.jit.is_tracing() or torch.compiler.is_compiling():
            return "tracing or compiling", False
        if any(t.dtype != torch.float32 for t in tensors):
            return "only float32 is fused", True
        if not _numba_kernels():
            return "numba is not installed (pip install numba)", True
        if self.bidirectional:
            return "bidirectional is not fused", True
        if getattr(self, "proj_size", 0):
            return "proj_size is not fused", True
        return None

    def _check(self, input, states):
        """Shape checks (nn's own run inside torch's op, which we skip)."""
        n = input.shape[0 if self.batch_first else 1]
        if input.dim() != 3 or input.shape[2] != self.input_size:
            raise RuntimeError(
                f"input must be 2-D or 3-D with {self.input_size} features, "
                f"got shape {tuple(input.shape)}"
            )
        shape = (self.num_layers, n, self.hidden_size)
        for s in states:
            if s is not None and tuple(s.shape) != shape:
                raise RuntimeError(f"Expected hidden size {shape}, got {tuple(s.shape)}")

    def _fused(self, input, states):
        unbatched = input.dim() == 2
        if unbatched:  # [T, D] -> a batch of one
            input = input.unsqueeze(0 if self.batch_first else 1)
            states = [None if s is None else s.unsqueeze(1) for s in states]
        self._check(input, states)
        res = _run(
            isinstance(self, nn.LSTM),
            input,
            states,
            self._flat_weights,
            self.num_layers,
            self.batch_first,
            self.dropout if self.training else 0.0,
        )
        if unbatched:
            res = (res[0].squeeze(0 if self.batch_first else 1), *(s.squeeze(1) for s in res[1:]))
        return res


class FusedGRU(_FusedMixin, nn.GRU):
    """:class:`torch.nn.GRU` with a fused CPU forward and backward.

    Same constructor, parameters, ``state_dict`` and results (to float32
    rounding) as :class:`torch.nn.GRU`.  On CPU float32 it runs
    the fused path; otherwise ``nn.GRU.forward`` (see the module docstring).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from igmtf_sklearn.nets import FusedGRU
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> fused = FusedGRU(input_size=5, hidden_size=8, num_layers=2, batch_first=True)
    >>> plain = nn.GRU(input_size=5, hidden_size=8, num_layers=2, batch_first=True)
    >>> _ = plain.load_state_dict(fused.state_dict())  # the same parameters
    >>> x = torch.randn(4, 10, 5)
    >>> torch.allclose(fused(x)[0], plain(x)[0], atol=1e-5)
    True
    """

    def forward(
        self, input: torch.Tensor, hx: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        reason = self._fallback_reason(input, [hx])
        if reason is not None:
            if reason[1]:
                _warn_once(reason[0])
            return super().forward(input, hx)
        out, hn = self._fused(input, [hx])
        return out, hn


class FusedLSTM(_FusedMixin, nn.LSTM):
    """:class:`torch.nn.LSTM` with a fused CPU forward and backward.

    Same constructor, parameters, ``state_dict`` and results (to float32
    rounding) as :class:`torch.nn.LSTM`.  On CPU float32 it runs
    the fused path; otherwise ``nn.LSTM.forward`` (see the module docstring).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from igmtf_sklearn.nets import FusedLSTM
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> fused = FusedLSTM(input_size=5, hidden_size=8, num_layers=2, batch_first=True)
    >>> plain = nn.LSTM(input_size=5, hidden_size=8, num_layers=2, batch_first=True)
    >>> _ = plain.load_state_dict(fused.state_dict())  # the same parameters
    >>> x = torch.randn(4, 10, 5)
    >>> torch.allclose(fused(x)[0], plain(x)[0], atol=1e-5)
    True
    """

    def forward(
        self, input: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        states = [None, None] if hx is None else list(hx)
        reason = self._fallback_reason(input, states)
        if reason is not None:
            if reason[1]:
                _warn_once(reason[0])
            return super().forward(input, hx)
        out, hn, cn = self._fused(input, states)
        return out, (hn, cn)
