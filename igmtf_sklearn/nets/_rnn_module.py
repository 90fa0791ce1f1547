"""The recurrent encoder both torch networks share, and Qlib's GRU/LSTM base network.

Both networks read Alpha360's feature-major layout: a row holds all lags of the
first field, then all lags of the second, ... (``CLOSE59 .. CLOSE0, OPEN59 ..``).
It is reshaped to ``[N, d_feat, seq_len]`` and permuted to ``[N, seq_len, d_feat]``
before the recurrent encoder, exactly as Qlib does.

:class:`RNNModule` is Qlib's GRU / LSTM Alpha360 model, the base IGMTF's encoder
is pretrained from; :func:`pad_by_day` lays day-contiguous rows out as padded
day batches, for the batch iterators and IGMTF's memory bank.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ._fused_modules import FusedGRU, FusedLSTM

if TYPE_CHECKING:
    from typing import Literal

__all__ = ["RNNModule", "pad_by_day"]

_RNN_TYPES = {"GRU": nn.GRU, "LSTM": nn.LSTM}
# Same parameters and state dict, with a fused CPU forward and backward (see _fused_modules).
_FUSED_RNN_TYPES = {"GRU": FusedGRU, "LSTM": FusedLSTM}


def _make_rnn(base_model, d_feat, hidden_size, num_layers, dropout, fused=True):
    try:
        rnn_type = (_FUSED_RNN_TYPES if fused else _RNN_TYPES)[str(base_model).upper()]
    except KeyError:
        raise ValueError(f"base_model must be 'GRU' or 'LSTM', got {base_model!r}.") from None
    return rnn_type(
        input_size=d_feat,
        hidden_size=hidden_size,
        num_layers=num_layers,
        batch_first=True,
        dropout=dropout,
    )


def _last_hidden(rnn, x, d_feat):
    """Run ``rnn`` on Alpha360 rows ``x [N, d_feat * seq_len]``; last output ``[N, hidden]``."""
    x = x.reshape(x.shape[0], d_feat, -1).permute(0, 2, 1)
    out, _ = rnn(x)
    return out[:, -1, :]


def pad_by_day(values: torch.Tensor, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lay day-contiguous rows out as a padded ``[n_days, max_rows, ...]`` tensor.

    Parameters
    ----------
    values : torch.Tensor of shape (n_rows, ...)
        Rows sorted by day: the first ``counts[0]`` rows belong to day 0, etc.
    counts : torch.Tensor of int64, shape (n_days,)
        Rows of each day (on the CPU: the padded size is read from it).

    Returns
    -------
    padded : torch.Tensor of shape (n_days, max_rows, ...)
        Zero where a day has fewer rows than ``max_rows``.
    mask : torch.Tensor of bool, shape (n_days, max_rows)
        True where ``padded`` holds a real row.

    Examples
    --------
    >>> import torch
    >>> from igmtf_sklearn.nets import pad_by_day
    >>> padded, mask = pad_by_day(torch.arange(5.0), torch.tensor([3, 2]))
    >>> padded
    tensor([[0., 1., 2.],
            [3., 4., 0.]])
    >>> mask
    tensor([[ True,  True,  True],
            [ True,  True, False]])
    """
    counts = torch.as_tensor(counts, dtype=torch.long)
    n_days, max_rows = len(counts), int(counts.max()) if len(counts) else 0
    day = torch.repeat_interleave(torch.arange(n_days), counts)
    starts = torch.cumsum(counts, 0) - counts
    position = torch.arange(len(day)) - starts[day]
    day, position = day.to(values.device), position.to(values.device)
    padded = values.new_zeros((n_days, max_rows, *values.shape[1:]))
    padded[day, position] = values
    mask = torch.zeros((n_days, max_rows), dtype=torch.bool, device=values.device)
    mask[day, position] = True
    return padded, mask


class RNNModule(nn.Module):
    """Qlib's GRU / LSTM Alpha360 model: a recurrent encoder and a linear head.

    This is the base that IGMTF's encoder is pretrained from; its parameter
    names (``rnn.*``, ``fc_out.*``) match Qlib's ``GRUModel`` / ``LSTMModel``.

    Parameters
    ----------
    d_feat : int, default=6
        Number of fields per time step.
    hidden_size : int, default=64
        Width of the recurrent state.
    num_layers : int, default=2
        Stacked recurrent layers.
    dropout : float, default=0.0
        Dropout between recurrent layers.
    base_model : {"GRU", "LSTM"}, default="GRU"
        Recurrent cell.
    fused : bool, default=True
        Run the encoder through the fused CPU kernel (:class:`FusedGRU` /
        :class:`FusedLSTM`: same parameters and state dict as ``nn.GRU`` /
        ``nn.LSTM``, outputs equal to float32 rounding, a training step ~1.6x
        faster on one core). It needs numba; without it, on a GPU, or where the
        kernel does not apply, torch's own op runs. False always uses torch's op
        (``module__fused=False`` on the estimators).

    Examples
    --------
    >>> import torch
    >>> from igmtf_sklearn.nets import RNNModule
    >>> net = RNNModule(d_feat=6, hidden_size=8, num_layers=1)
    >>> net(torch.zeros(4, 6 * 20)).shape  # 4 rows of 20 days x 6 fields
    torch.Size([4])
    """

    def __init__(
        self,
        d_feat: int = 6,
        hidden_size: int = 64,
        num_layers: int = 2,
        dropout: float = 0.0,
        base_model: Literal["GRU", "LSTM"] = "GRU",
        fused: bool = True,
    ) -> None:
        super().__init__()
        self.d_feat = d_feat
        self.rnn = _make_rnn(base_model, d_feat, hidden_size, num_layers, dropout, fused)
        self.fc_out = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Predict one value per row of ``x [..., d_feat * seq_len]``; returns ``x.shape[:-1]``.

        ``mask`` (padded day batches) is accepted and ignored: rows are independent.
        """
        rows = x.reshape(-1, x.shape[-1])
        return self.fc_out(_last_hidden(self.rnn, rows, self.d_feat)).reshape(x.shape[:-1])
