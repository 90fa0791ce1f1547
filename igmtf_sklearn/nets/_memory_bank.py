"""The memory bank of ``IGMTFRegressor``: building, extending and reading it.

The bank holds the hidden states of every training row, grouped by day (with
the rows' labels and the days' dates when ``label_neighbors`` is on). It lives
in the module's buffers (``IGMTFModule.set_memory_bank``); this mixin fills
them: rebuilt in eval mode at the start of each epoch, grown with newly
labelled days by ``extend_memory_bank``, and masked per query day so that no
label from a query day's future is used.
"""

from __future__ import annotations

import concurrent.futures

import numpy as np
import torch

from .._utils._threads import idle_cores
from ._training import StageTimer

# One worker thread encodes the next epoch's bank while the main thread validates.
_BANK_WORKER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="igmtf-bank")


def _date_ns(dates):
    """Dates as int64 nanoseconds, the form the memory bank stores them in."""
    return np.asarray(dates).astype("datetime64[ns]").astype(np.int64)


class _MemoryBankMixin:
    """The memory-bank part of ``IGMTFRegressor``; inherited first, before ``_PanelNet``."""

    def _bank_days_allowed(self, panel):
        """``day_inputs`` for the iterators: the bank days each query day may use.

        A stored day ``s`` is allowed for query day ``t`` when its label is known on
        ``t``: ``t`` is at least ``label_horizon`` trading days after ``s``. Trading
        days are counted on the union of the bank's and the panel's dates; where
        that calendar misses days (a panel with gaps) the distance is undercounted,
        which only excludes more days, never admits one too early. The bank is read
        when a batch is drawn, since it is rebuilt at each epoch's start.
        """
        query = _date_ns(panel.dates)

        def day_inputs(days):
            bank = self.module_.bank_dates.cpu().numpy()
            calendar = np.union1d(bank, query[days])
            distance = np.searchsorted(calendar, query[days])[:, None] - np.searchsorted(
                calendar, bank
            )
            allowed = torch.from_numpy(distance >= self.label_horizon)
            return {"allowed": allowed.to(self.device)}

        return day_inputs

    @property
    def memory_bank_(self):
        """The stored training hidden states, as held in ``module_``'s buffers."""
        self.check_is_fitted()
        module = self.module_
        return {
            "hidden": module.bank_hidden,
            "mask": module.bank_mask,
            "day_mean": module.bank_day_mean,
        }

    def update_memory_bank(self, panel):
        """Rebuild the memory bank from ``panel``'s rows with the current weights.

        Parameters
        ----------
        panel : DayPanel
            The training days.
        """
        self._set_bank(panel, self._encode(panel))

    def _set_bank(self, panel, hidden):
        """Store ``hidden``, the hidden states of ``panel``'s rows, as the memory bank."""
        labels = dates = None
        if self.label_neighbors:
            labels, dates = panel.y, torch.from_numpy(_date_ns(panel.dates))
        self.module_.set_memory_bank(hidden, torch.from_numpy(panel.counts), labels, dates)
        self.memory_bank_dates_ = np.asarray(panel.dates).astype("datetime64[ns]")

    def _encode(self, panel):
        """Hidden states of all of ``panel``'s rows, in eval mode and without gradients."""
        module = self.module_
        was_training = module.training
        module.eval()
        try:
            return self._encode_rows(panel)
        finally:
            module.train(was_training)

    def _encode_rows(self, panel):
        """``encode`` of ``panel``'s rows in blocks of ``batch_size``, in the module's mode."""
        module = self.module_
        with torch.no_grad():
            hidden = [
                module.encode(panel.X[start : start + self.batch_size].to(self.device))
                for start in range(0, len(panel), self.batch_size)
            ]
        return (
            torch.cat(hidden)
            if hidden
            else module.bank_hidden.new_zeros((0, module.bank_hidden.shape[-1]))
        )

    def extend_memory_bank(self, X, y=None):
        """Add newly labelled days to the memory bank, as a model run daily would.

        The new days are encoded with the fitted weights; days already in the bank
        are replaced. Nothing else changes, so ``predict`` stays deterministic: the
        bank changes only when this is called. Where ``base_fallback`` chose the base
        (``base_chosen_``), ``predict`` does not read the bank.

        Parameters
        ----------
        X : pandas.DataFrame
            Features of the new days, the fitted columns, no NaN.
        y : pandas.Series, optional
            Their labels, normalised per day like the training labels (rows with a
            NaN label are left out). Required with ``label_neighbors`` (the labels
            are what those neighbours bring); otherwise ignored.

        Returns
        -------
        self : IGMTFRegressor
        """
        self.check_is_fitted()
        if self.label_neighbors and y is None:
            raise ValueError(
                "extend_memory_bank needs y with label_neighbors > 0: the stored labels are "
                "what the neighbours contribute."
            )
        new = self._make_panel(X, y if self.label_neighbors else None)
        module = self.module_
        old_dates = _date_ns(self.memory_bank_dates_)
        keep = ~np.isin(old_dates, _date_ns(new.dates))
        old_mask = module.bank_mask[torch.from_numpy(keep)]
        hidden = torch.cat(
            [module.bank_hidden[torch.from_numpy(keep)][old_mask], self._encode(new)]
        )
        counts = np.concatenate([old_mask.sum(1).cpu().numpy(), new.counts])
        dates = np.concatenate([old_dates[keep], _date_ns(new.dates)])
        labels = None
        if self.label_neighbors:
            old_labels = module.bank_label[torch.from_numpy(keep)][old_mask]
            labels = torch.cat([old_labels, new.y.to(old_labels.device)])
        order = np.argsort(dates, kind="stable")  # keep the bank in date order
        if np.any(order != np.arange(len(order))):
            starts = np.cumsum(counts) - counts
            rows = torch.from_numpy(
                np.concatenate([np.arange(starts[d], starts[d] + counts[d]) for d in order])
            )
            hidden = hidden[rows.to(hidden.device)]
            labels = labels[rows.to(labels.device)] if labels is not None else None
            counts, dates = counts[order], dates[order]
        module.set_memory_bank(hidden, torch.from_numpy(counts), labels, torch.from_numpy(dates))
        self.memory_bank_dates_ = dates.astype("datetime64[ns]")
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Start with no hidden states kept from an earlier fit."""
        super().on_train_begin(net, X=X, y=y, **kwargs)
        # Run-time state ends in "_": skorch takes every other attribute for a parameter.
        self._kept_bank_ = self._next_bank_ = None
        self._spare_core_ = idle_cores() >= 2  # for the overlap of validation and bank

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """Validate while a second core encodes the next epoch's memory bank.

        Both use the weights the epoch ended with: the bank that the next epoch
        starts by rebuilding is exactly what this thread computes. It runs only
        where it can pay: Qlib's per-epoch bank, a validation pass to hide it
        behind, a CPU, and a second core that was idle when the fit started. The
        two passes run one torch thread each (torch's thread count is
        process-wide, so it is set to one for the validation and restored).
        """
        if not training and iterator is not None and self._can_overlap():
            self._threads_before_overlap_ = torch.get_num_threads()
            torch.set_num_threads(1)
            # Eval mode now, as validation sets it anyway; the worker never switches modes.
            self.module_.eval()
            self._next_bank_ = _BANK_WORKER.submit(self._encode_rows, self._epoch_panel_)
        super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)

    def _can_overlap(self):
        return (
            self.bank_refresh == "epoch"
            and self._spare_core_
            and str(self.device).startswith("cpu")
            and len(self.history) < self.max_epochs  # a next epoch may come
        )

    def _take_next_bank(self):
        """The bank encoded during validation, or None; restores the thread count."""
        future, self._next_bank_ = self._next_bank_, None
        if future is None:
            return None
        try:
            return future.result()
        finally:
            torch.set_num_threads(self._threads_before_overlap_)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Start the epoch's history row and refresh the memory bank (``bank_refresh``)."""
        super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)
        with StageTimer(self, "bank_dur"):
            kept, encoded = self._kept_bank_, self._take_next_bank()
            if kept is not None and kept["done"].all():
                self._set_bank(dataset_train, kept["hidden"])
            elif encoded is not None:  # encoded during the last validation
                self._set_bank(dataset_train, encoded)
            else:  # "epoch", and the first epoch of "training_pass"
                self.update_memory_bank(dataset_train)
        self._epoch_panel_ = dataset_train
        if self.bank_refresh == "training_pass":
            hidden = self.module_.bank_hidden
            self._kept_bank_ = {
                "panel": dataset_train,
                "hidden": hidden.new_empty((len(dataset_train), hidden.shape[-1])),
                "done": np.zeros(dataset_train.n_days, dtype=bool),
            }
            self.module_.keep_hidden = True

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        """With ``bank_refresh="training_pass"``, keep the trained day's hidden states."""
        super().on_batch_end(net, batch=batch, training=training, **kwargs)
        kept = self._kept_bank_ if training else None
        if kept is not None:
            day = self._training_days_.current_day
            hidden = self.module_.kept_hidden_
            kept["hidden"][kept["panel"].day_rows(day)] = hidden.reshape(-1, hidden.shape[-1])
            kept["done"][day] = True

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Make sure a memory bank exists even if no epoch ran (``max_epochs=0``)."""
        super().on_train_end(net, X=X, y=y, **kwargs)
        self._take_next_bank()  # the last epoch's: wait for it, restore the threads, drop it
        self.module_.keep_hidden = False
        # Hold no training data after fit.
        self._kept_bank_ = self._training_days_ = self._epoch_panel_ = None
        if not self.module_.has_memory_bank and X is not None:
            self.update_memory_bank(self.get_dataset(X))
