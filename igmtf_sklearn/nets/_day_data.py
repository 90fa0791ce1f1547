"""Day-wise data for the networks: a panel held as tensors, and its batch iterators.

skorch's default ``Dataset`` turns a DataFrame into a dict of columns and its
``DataLoader`` draws random rows. IGMTF needs whole trading days instead: one
day per optimisation step while training, and many whole days per batch when
scoring or predicting (each day is matched against the memory bank on its own).
``DayPanel`` keeps the feature matrix once, as a float32 tensor, with the row
count of every day; the iterators below slice it without copying.
"""

from __future__ import annotations

import numpy as np
import torch

from ._rnn_module import pad_by_day


class DayPanel(torch.utils.data.Dataset):
    """Rows of a panel sorted by day, as tensors, with each day's row count.

    Parameters
    ----------
    X : torch.Tensor of shape (n_rows, n_features), float32
        Feature rows, sorted by day.
    y : torch.Tensor of shape (n_rows,), float32, or None
        Labels (NaN where unknown), or None when predicting.
    counts : ndarray of int64, shape (n_days,)
        Rows of each day.
    dates : ndarray, shape (n_days,)
        The date of each day, used by date-based splits.
    raw_y : ndarray of float32, shape (n_rows,), or None
        The labels before their per-day normalisation, where ``fit`` needs them
        (``score_power="auto"`` scores the validation days against the returns).
    """

    def __init__(self, X, y, counts, dates, raw_y=None):
        self.X = X
        self.y = y
        self.raw_y = raw_y
        self.counts = np.asarray(counts, dtype=np.int64)
        self.dates = np.asarray(dates)
        self.starts = np.cumsum(self.counts) - self.counts

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], (self.y[i] if self.y is not None else torch.nan)

    @property
    def n_days(self):
        """Number of days."""
        return len(self.counts)

    def day_rows(self, day):
        """Row slice of day number ``day``."""
        return slice(int(self.starts[day]), int(self.starts[day] + self.counts[day]))

    def select_days(self, day_mask):
        """A new panel with only the days where ``day_mask`` is True.

        Days are contiguous blocks of rows, so a contiguous run of days (what a
        date split selects) is a view of the tensors, not a copy.
        """
        days = np.flatnonzero(day_mask)
        if len(days) and np.all(np.diff(days) == 1):
            rows = slice(
                int(self.starts[days[0]]), int(self.starts[days[-1]] + self.counts[days[-1]])
            )
        else:
            rows = np.repeat(day_mask, self.counts)
        raw_y = self.raw_y[rows] if self.raw_y is not None else None
        if isinstance(rows, np.ndarray):
            rows = torch.from_numpy(rows)
        y = self.y[rows] if self.y is not None else None
        return DayPanel(self.X[rows], y, self.counts[days], self.dates[days], raw_y)


class OneDayIterator:
    """Training batches for IGMTF: one whole day per batch, days shuffled each pass.

    Parameters
    ----------
    panel : DayPanel
        The training days.
    seed : int
        Seed of the day order.
    first_epoch : int, default=0
        Number of epochs already trained. Epoch ``e``'s order is drawn from
        ``(seed, e)`` alone, so a run resumed from a checkpoint at epoch ``e``
        sees the same days in the same order as an uninterrupted run.
    day_inputs : callable or None, default=None
        ``day_inputs(days)`` -> dict of extra module inputs for the day numbers
        ``days`` of a batch (e.g. which memory-bank days it may use).
    """

    def __init__(self, panel, seed, first_epoch=0, day_inputs=None):
        self.panel = panel
        self.seed = seed
        self.epoch = first_epoch
        self.day_inputs = day_inputs

    def __len__(self):
        return self.panel.n_days

    def __iter__(self):
        panel = self.panel
        order = np.random.default_rng((self.seed, self.epoch)).permutation(panel.n_days)
        self.epoch += 1
        for day in order:
            rows = panel.day_rows(day)
            self.current_day = int(day)  # read by IGMTF's training-pass memory bank
            if self.day_inputs is None:
                yield {"x": panel.X[rows]}, panel.y[rows]
            else:
                # As a batch of one day: skorch wants every input to share the first dim.
                extra = self.day_inputs(np.array([day]))
                yield {"x": panel.X[rows].unsqueeze(0), **extra}, panel.y[rows].unsqueeze(0)


class DayBlockIterator:
    """Scoring batches: consecutive whole days, about ``max_rows`` rows per batch.

    Each batch is padded to ``[n_days, max_day_rows, n_features]`` with a row
    mask, so that one forward pass handles several days at once. Labels are
    padded with NaN, which the loss and the IC ignore.

    Parameters
    ----------
    panel : DayPanel
        The days to score, in order.
    max_rows : int
        Rows per batch; a larger day gets a batch of its own.
    device : str or torch.device
        Where the batch tensors go.
    day_inputs : callable or None, default=None
        ``day_inputs(days)`` -> dict of extra module inputs for the day numbers
        ``days`` of a batch.
    """

    def __init__(self, panel, max_rows, device="cpu", day_inputs=None):
        self.panel = panel
        self.device = device
        self.day_inputs = day_inputs
        # Consecutive days share a block while their rows fit into max_rows.
        blocks = (np.cumsum(panel.counts) - 1) // max(int(max_rows), 1)
        self.block_starts = np.flatnonzero(np.diff(blocks, prepend=-1))

    def __len__(self):
        return len(self.block_starts)

    def __iter__(self):
        panel = self.panel
        bounds = np.append(self.block_starts, panel.n_days)
        for first, last in zip(bounds[:-1], bounds[1:]):
            rows = slice(
                int(panel.starts[first]), int(panel.starts[last - 1] + panel.counts[last - 1])
            )
            counts = torch.from_numpy(panel.counts[first:last])
            x, mask = pad_by_day(panel.X[rows].to(self.device), counts)
            y = None
            if panel.y is not None:
                y, _ = pad_by_day(panel.y[rows].to(self.device), counts)
                y = y.masked_fill(~mask, torch.nan)
            extra = self.day_inputs(np.arange(first, last)) if self.day_inputs else {}
            yield {"x": x, "mask": mask, **extra}, y


class RowBatchIterator:
    """Random mini-batches of rows (pretraining the base RNN, as Qlib's GRU does).

    Parameters
    ----------
    panel : DayPanel
        The training rows.
    batch_size : int
        Rows per batch.
    seed : int or None
        Seed of the row order.
    """

    def __init__(self, panel, batch_size, seed=None):
        self.panel = panel
        self.batch_size = int(batch_size)
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return -(-len(self.panel) // self.batch_size)

    def __iter__(self):
        order = torch.from_numpy(self.rng.permutation(len(self.panel)))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size].to(self.panel.X.device)
            yield {"x": self.panel.X[rows]}, self.panel.y[rows]
