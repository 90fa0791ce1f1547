"""Qlib's IGMTF network, ``IGMTFModule``.

The loader of Qlib's IGMTF checkpoints is in :mod:`._qlib_checkpoint`.

Its recurrent encoder and the GRU/LSTM base it is pretrained from
(``RNNModule``) are in :mod:`._rnn_module`.

Parameter names follow Qlib's modules (``rnn.*``, ``lins.linear0.*``,
``project1``, ``fc_out_pred`` ...), so Qlib's checkpoints load unchanged.

IGMTF's memory bank (the hidden states of every training sample, grouped by
training day, and each day's mean) lives in registered buffers. It therefore
travels with ``state_dict()``: checkpoints, early stopping's "restore best"
and pickling keep the weights and the bank that was built with them together.
The bank is stored padded, ``[n_days, max_rows, hidden]`` with a row mask, so a
forward pass gathers the chosen days with one indexing op: no sparse tensors,
no per-day Python lists, no host round-trips.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ._rnn_module import _last_hidden, _make_rnn, pad_by_day

if TYPE_CHECKING:
    from typing import Literal

__all__ = ["IGMTFModule"]

# Added to each row norm before normalising (Qlib adds it to the product of the norms).
_COS_EPS = 1e-6
_BANK_BUFFERS = ("bank_hidden", "bank_mask", "bank_day_mean", "bank_label", "bank_dates")


def _cosine(x, y):
    """Cosine similarity of the rows of ``x [..., n, h]`` and ``y [..., m, h]``.

    Qlib computes ``x.y / (|x| |y| + 1e-6)``: four passes over the ``[n, m]``
    result, forward and again backward. Normalising the rows first leaves one
    matrix product over ``[n, m]`` (the similarity matrix of a training step is
    260 x 2,600); the values differ from Qlib's by a relative 1e-6 / (|x| |y|),
    and an all-zero row still gets similarity 0.
    """
    x = x / (x.norm(dim=-1, keepdim=True) + _COS_EPS)
    y = y / (y.norm(dim=-1, keepdim=True) + _COS_EPS)
    return x @ y.transpose(-1, -2)


def _weighted_neighbours(similarity, candidates, n_neighbor, n_used):
    """Sum of each row's ``n_neighbor`` most similar ``candidates [B, C, hidden]``,
    weighted ``cos / n_used`` (a number, or one per day ``[B, 1, 1]``).

    Candidates left out (similarity -inf) weigh nothing.
    """
    top_similarity, top_index = similarity.topk(n_neighbor, dim=-1)  # [B, R, n]
    weights = torch.where(top_similarity.isfinite(), top_similarity, 0.0) / n_used
    day = torch.arange(similarity.shape[0], device=similarity.device).view(-1, 1, 1)
    return (weights.unsqueeze(-1) * candidates[day, top_index]).sum(2)  # [B, R, hidden]


class IGMTFModule(nn.Module):
    """Qlib's IGMTF network with a dense, batched memory-bank lookup.

    For a day's samples ``x``: encode each row (RNN, last step, two
    Linear+LeakyReLU layers) into ``h``; compare the day's mean ``h`` with every
    stored training day's mean (cosine) and keep the ``k_day`` most similar days;
    pass those days' stored hidden states through the two linear layers again and
    ``project2`` (as Qlib does); for each sample keep the ``n_neighbor``
    candidates most similar to ``project1(h)``; aggregate them weighted by
    ``cos / n_neighbor``; predict from ``[h, aggregate]`` with a linear head.

    Parameters
    ----------
    d_feat : int, default=6
        Number of fields per time step.
    hidden_size : int, default=64
        Width of the recurrent state and of the hidden representation.
    num_layers : int, default=2
        Stacked recurrent layers.
    dropout : float, default=0.0
        Dropout between recurrent layers.
    base_model : {"GRU", "LSTM"}, default="GRU"
        Recurrent cell.
    k_day : int, default=10
        Most similar training days to draw neighbours from (clamped to the
        number of stored days).
    n_neighbor : int, default=10
        Neighbours aggregated per sample (clamped to the candidates available).
    label_neighbors : int, default=0
        When > 0, also the *known outcomes* of the ``label_neighbors`` most similar
        candidates: their stored labels, averaged with weights ``max(cos, 0)``,
        enter the prediction through a learned scale (``label_out``). Needs a bank
        set with labels and dates, and an ``allowed`` day mask in ``forward`` so
        that no label from a query day's future can reach it. 0 is Qlib's model.
    residual_head : bool, default=False
        When True, the prediction is the base GRU's own output layer (``fc_out``,
        named as :class:`RNNModule`'s so that a pretrained GRU's state dict fills
        it) applied to the encoder's last state, plus the graph head's
        ``fc_out_pred([h, aggregate])`` as a correction, initialised to zero. A
        module given the pretrained GRU's weights then starts out predicting
        exactly what that GRU predicts, and training adds what the neighbours
        bring. False is Qlib's model, whose head starts from random weights.
    same_day_neighbors : int, default=0
        When > 0, each sample is also compared with the other samples of its own
        day (a cross-sectional graph, which the past days' bank cannot give): the
        ``same_day_neighbors`` most similar, itself excluded, are aggregated as
        the past days' neighbours are (``project1`` against ``project2``, weights
        ``cos / n``, ``n`` the peers used: ``same_day_neighbors``, or fewer on a
        small day) and read by a linear layer (``same_day_out``) added to the
        prediction. It starts at zero, so the module starts as Qlib's (and loads
        Qlib's checkpoints). A row's score then depends on the other rows of its
        day. 0 is Qlib's model.
    fused : bool, default=True
        Run the encoder through the fused CPU kernel (:class:`FusedGRU` /
        :class:`FusedLSTM`: same parameters and state dict as ``nn.GRU`` /
        ``nn.LSTM``, outputs equal to float32 rounding, a training step ~1.6x
        faster on one core). It needs numba; without it, on a GPU, or where the
        kernel does not apply, torch's own op runs. False always uses torch's op
        (``module__fused=False`` on the estimators).

    Notes
    -----
    ``forward`` takes either one day, ``x [N, F]``, or several days padded to the
    same length, ``x [B, R, F]`` with ``mask [B, R]``; each day is matched against
    the memory bank separately, as if it were passed alone.

    Examples
    --------
    >>> import torch
    >>> from igmtf_sklearn.nets import IGMTFModule
    >>> net = IGMTFModule(d_feat=6, hidden_size=8, num_layers=1, k_day=2, n_neighbor=3)
    >>> train = torch.zeros(10, 6 * 20)  # two training days of 5 rows
    >>> net.set_memory_bank(net.encode(train), torch.tensor([5, 5]))
    >>> net(torch.zeros(4, 6 * 20)).shape  # one day of 4 rows
    torch.Size([4])
    """

    def __init__(
        self,
        d_feat: int = 6,
        hidden_size: int = 64,
        num_layers: int = 2,
        dropout: float = 0.0,
        base_model: Literal["GRU", "LSTM"] = "GRU",
        k_day: int = 10,
        n_neighbor: int = 10,
        label_neighbors: int = 0,
        residual_head: bool = False,
        same_day_neighbors: int = 0,
        fused: bool = True,
    ) -> None:
        super().__init__()
        self.d_feat = d_feat
        self.k_day = k_day
        self.n_neighbor = n_neighbor
        self.label_neighbors = label_neighbors
        # Whether a training forward keeps its hidden states (``kept_hidden_``).
        self.keep_hidden = False
        self.rnn = _make_rnn(base_model, d_feat, hidden_size, num_layers, dropout, fused)
        self.lins = nn.Sequential()
        for i in range(2):
            self.lins.add_module(f"linear{i}", nn.Linear(hidden_size, hidden_size))
            self.lins.add_module(f"leakyrelu{i}", nn.LeakyReLU())
        self.project1 = nn.Linear(hidden_size, hidden_size, bias=False)
        self.project2 = nn.Linear(hidden_size, hidden_size, bias=False)
        self.fc_out_pred = nn.Linear(hidden_size * 2, 1)
        self.register_buffer("bank_hidden", torch.zeros(0, 0, hidden_size))
        self.register_buffer("bank_mask", torch.zeros(0, 0, dtype=torch.bool))
        self.register_buffer("bank_day_mean", torch.zeros(0, hidden_size))
        if label_neighbors:
            # Registered only with the option on, so Qlib's state dict stays as it is.
            self.label_out = nn.Linear(1, 1)
            self.register_buffer("bank_label", torch.zeros(0, 0))
            self.register_buffer("bank_dates", torch.zeros(0, dtype=torch.long))
        self.residual_head = residual_head
        if residual_head:
            # Registered only with the option on, so Qlib's state dict stays as it is.
            self.fc_out = nn.Linear(hidden_size, 1)
            # The correction starts at zero: the module starts as its base GRU.
            nn.init.zeros_(self.fc_out_pred.weight)
            nn.init.zeros_(self.fc_out_pred.bias)
        self.same_day_neighbors = same_day_neighbors
        if same_day_neighbors:
            # Registered only with the option on, so Qlib's state dict stays as it is.
            self.same_day_out = nn.Linear(hidden_size, 1)
            nn.init.zeros_(self.same_day_out.weight)
            nn.init.zeros_(self.same_day_out.bias)

    # -- encoder and memory bank ------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden representation ``h [N, hidden]`` of rows ``x [N, d_feat * seq_len]``."""
        return self.lins(_last_hidden(self.rnn, x, self.d_feat))

    @property
    def has_memory_bank(self) -> bool:
        """Whether a memory bank has been set."""
        return self.bank_day_mean.shape[0] > 0

    def set_memory_bank(
        self,
        hidden: torch.Tensor,
        counts: torch.Tensor,
        labels: torch.Tensor | None = None,
        dates: torch.Tensor | None = None,
    ) -> None:
        """Store the training hidden states, grouped by day.

        Parameters
        ----------
        hidden : torch.Tensor of shape (n_rows, hidden_size)
            ``encode`` of every training row, rows sorted by day.
        counts : torch.Tensor of int64, shape (n_days,)
            Rows of each training day.
        labels : torch.Tensor of shape (n_rows,), optional
            The rows' labels (NaN where unknown); required with ``label_neighbors``.
        dates : torch.Tensor of int64, shape (n_days,), optional
            Each day's date (nanoseconds); required with ``label_neighbors``, ignored
            otherwise.
        """
        if self.label_neighbors and (labels is None or dates is None):
            raise ValueError("label_neighbors needs the bank's labels and dates.")
        padded, mask = pad_by_day(hidden.detach(), counts)
        counts = mask.sum(1, keepdim=True).to(padded.dtype)
        self.bank_hidden = padded
        self.bank_mask = mask
        self.bank_day_mean = padded.sum(1) / counts
        if self.label_neighbors:
            bank_label, _ = pad_by_day(labels.detach().to(padded.dtype), counts.squeeze(1).long())
            self.bank_label = bank_label.masked_fill(~mask, float("nan"))
            self.bank_dates = torch.as_tensor(dates, dtype=torch.long, device=padded.device)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The bank's size depends on the training set: adopt the stored shape so
        # that a state dict from any fit (checkpoint, best epoch) loads.
        for name in _BANK_BUFFERS:
            stored = state_dict.get(prefix + name)
            if stored is not None and hasattr(self, name):
                current = getattr(self, name)
                setattr(self, name, current.new_empty(stored.shape))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- forward ----------------------------------------------------------------
    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, allowed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Predict the rows of one day ``x [N, F]``, or of padded days ``x [B, R, F]``.

        Parameters
        ----------
        x : torch.Tensor of shape (N, F) or (B, R, F)
            Alpha360 rows, ``F = d_feat * seq_len``.
        mask : torch.Tensor of bool, shape (B, R), optional
            Real rows of a padded batch; all rows when omitted.
        allowed : torch.Tensor of bool, shape (n_bank_days,) or (B, n_bank_days), optional
            The stored days each query day may draw neighbours from; all when
            omitted. With ``label_neighbors`` it must exclude every day whose
            label is not yet known on the query day.

        Returns
        -------
        pred : torch.Tensor of shape (N,) or (B, R)
            Padded positions hold meaningless values.
        """
        if not self.has_memory_bank:
            raise RuntimeError(
                "IGMTFModule has no memory bank: call set_memory_bank() with the training "
                "hidden states first (IGMTFRegressor.fit does this)."
            )
        one_day = x.dim() == 2
        if one_day:
            x = x.unsqueeze(0)
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        if self.label_neighbors and allowed is None:
            raise ValueError(
                "label_neighbors needs the allowed bank days of each query day, so that no "
                "label from its future is used (IGMTFRegressor passes them)."
            )
        if allowed is not None and allowed.dim() == 1:
            allowed = allowed.unsqueeze(0)
        n_days, n_rows = x.shape[:2]
        last_state = _last_hidden(self.rnn, x.reshape(n_days * n_rows, -1), self.d_feat)
        h = self.lins(last_state).reshape(n_days, n_rows, -1)  # encode(x), keeping last_state
        if self.training and self.keep_hidden:
            # IGMTFRegressor(bank_refresh="training_pass") builds the next bank from these.
            self.kept_hidden_ = h.detach()
        candidates, candidate_mask, labels = self._candidates(h, mask, allowed)
        aggregate, label_mean = self._aggregate(h, candidates, candidate_mask, labels)
        pred = self.fc_out_pred(torch.cat([h, aggregate], dim=-1)).squeeze(-1)
        if self.residual_head:
            pred = pred + self.fc_out(last_state).reshape(n_days, n_rows)
        if label_mean is not None:
            pred = pred + self.label_out(label_mean.unsqueeze(-1)).squeeze(-1)
        if self.same_day_neighbors:
            pred = pred + self.same_day_out(self._same_day_aggregate(h, mask)).squeeze(-1)
        return pred[0] if one_day else pred

    def _same_day_aggregate(self, h, mask):
        """Weighted sum of each sample's most similar other samples of its own day."""
        n_rows = h.shape[1]
        n_neighbor = min(self.same_day_neighbors, n_rows - 1)
        if n_neighbor < 1:  # one-row days: nobody to compare with
            return torch.zeros_like(h)
        keys = self.project2(h)
        similarity = _cosine(self.project1(h), keys)  # [B, R, R]
        # A sample is not its own neighbour, and padding is nobody's.
        itself = torch.eye(n_rows, dtype=torch.bool, device=h.device)
        similarity = similarity.masked_fill(itself | ~mask.unsqueeze(1), float("-inf"))
        # Divide by the peers actually used, so a padded day scores as it would alone.
        n_used = (mask.sum(1) - 1).clamp(min=1, max=n_neighbor).to(h.dtype).view(-1, 1, 1)
        return _weighted_neighbours(similarity, keys, n_neighbor, n_used)

    def _candidates(self, h, mask, allowed=None):
        """``project2`` of the stored samples of each day's ``k_day`` most similar days.

        Returns the candidates ``[B, C, hidden]``, their mask ``[B, C]`` (None when
        all are real) and, with ``label_neighbors``, their labels ``[B, C]``.
        """
        weights = mask.unsqueeze(-1).to(h.dtype)
        day_mean = (h * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        similarity = _cosine(day_mean, self.bank_day_mean)
        if allowed is not None:
            similarity = similarity.masked_fill(~allowed, float("-inf"))
        k_day = min(self.k_day, self.bank_day_mean.shape[0])
        top_days = similarity.topk(k_day, dim=1)
        chosen_days = top_days.indices  # [B, k]
        # With a restricted bank, fewer than k_day days may be allowed.
        chosen_ok = top_days.values.isfinite() if allowed is not None else None
        n_days = h.shape[0]
        bank_label = self.bank_label if self.label_neighbors else None
        if n_days == 1:
            # One day (every training step): keep only the real rows of the chosen
            # days, so no padding goes through the layers or needs masking later.
            days = chosen_days[0] if chosen_ok is None else chosen_days[0][chosen_ok[0]]
            rows = self.bank_mask[days]
            stored = self.bank_hidden[days][rows].unsqueeze(0)
            labels = bank_label[days][rows].unsqueeze(0) if bank_label is not None else None
            return self.project2(self.lins(stored)), None, labels
        stored = self.bank_hidden[chosen_days].reshape(n_days, -1, self.bank_hidden.shape[-1])
        stored_mask = self.bank_mask[chosen_days]
        if chosen_ok is not None:
            stored_mask = stored_mask & chosen_ok.unsqueeze(-1)
        stored_mask = stored_mask.reshape(n_days, -1)
        labels = bank_label[chosen_days].reshape(n_days, -1) if bank_label is not None else None
        return self.project2(self.lins(stored)), stored_mask, labels

    def _aggregate(self, h, candidates, candidate_mask, labels=None):
        """Weighted sum of each sample's ``n_neighbor`` most similar candidates.

        ``candidate_mask [B, C]`` marks the real candidates; None when all are.
        With ``labels [B, C]``, also the ``max(cos, 0)``-weighted mean label of the
        ``label_neighbors`` most similar candidates (0 where there is none).
        """
        similarity = _cosine(self.project1(h), candidates)  # [B, R, C]
        n_neighbor = min(self.n_neighbor, candidates.shape[1])
        n_used = max(n_neighbor, 1)
        if candidate_mask is not None:
            similarity = similarity.masked_fill(~candidate_mask.unsqueeze(1), float("-inf"))
            # Qlib weighs by cos / n_neighbor; with fewer real candidates than
            # n_neighbor (tiny training sets) divide by the number actually used.
            n_used = candidate_mask.sum(1).clamp(min=1, max=n_used).to(h.dtype).view(-1, 1, 1)
        aggregate = _weighted_neighbours(similarity, candidates, n_neighbor, n_used)
        if labels is None:
            return aggregate, None
        return aggregate, self._label_mean(similarity, labels)

    def _label_mean(self, similarity, labels):
        """Similarity-weighted mean of the known labels of the nearest candidates."""
        n_label = min(self.label_neighbors, similarity.shape[-1])
        top_similarity, top_index = similarity.topk(n_label, dim=-1)  # [B, R, n]
        day = torch.arange(similarity.shape[0], device=similarity.device).view(-1, 1, 1)
        top_labels = labels[day, top_index]
        known = top_similarity.isfinite() & top_labels.isfinite()
        weights = torch.where(known, top_similarity.clamp(min=0.0), 0.0)
        total = (weights * torch.nan_to_num(top_labels)).sum(-1)
        return total / weights.sum(-1).clamp(min=1e-6)
