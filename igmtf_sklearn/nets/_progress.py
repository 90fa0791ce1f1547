"""Progress of a fit: where it is, how long it has run, and how long it may still take.

A full-budget fit runs for hours on a CPU, and skorch's log prints its first line
only when the first epoch ends (minutes in). :class:`FitProgress` says what is
being fitted as soon as training starts, estimates the epoch's length from its
first seconds of steps, and adds ``elapsed`` and ``left`` columns to skorch's
per-epoch table. With ``verbose >= 2`` it also reports inside long epochs.
"""

from __future__ import annotations

import sys
import time

from skorch.callbacks import Callback, EarlyStopping

__all__ = ["FitProgress", "format_seconds"]


def format_seconds(seconds):
    """A short human duration: ``42s``, ``3m05s``, ``2h07m``.

    Examples
    --------
    >>> format_seconds(42.4), format_seconds(185), format_seconds(7620)
    ('42s', '3m05s', '2h07m')
    """
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class FitProgress(Callback):
    """Report a fit's progress: a start line, an early estimate, elapsed and time left.

    Nothing is printed when the net's ``verbose`` is 0. With ``verbose >= 1``:

    - when training starts, a line naming the stage, its data and its epoch budget;
    - once the first epoch has run ``first_estimate_s`` seconds (or ended), the
      estimated length of an epoch and of the whole budget;
    - each epoch's history row gets ``elapsed`` (since the start of training)
      and ``left``: the time the remaining epochs would take at the mean epoch
      length so far. With early stopping it is given as ``a-b``: the soonest
      the patience could end the fit, and the whole budget.

    With ``verbose >= 2`` a line every ``interval_s`` seconds inside an epoch.

    Parameters
    ----------
    stage : str
        What is trained, e.g. ``"IGMTF"`` or ``"GRU pretraining"``.
    unit : str, default="batches"
        What one training step takes, e.g. ``"days"``.
    first_estimate_s : float, default=10.0
        Seconds of the first epoch after which the estimate is printed.
    interval_s : float, default=30.0
        Seconds between in-epoch lines with ``verbose >= 2``.
    sink : callable, default=print
        Where the lines go.

    Examples
    --------
    >>> from igmtf_sklearn.nets import RNNRegressor
    >>> progress = FitProgress("GRU", unit="batches")
    >>> progress.stage
    'GRU'
    """

    def __init__(
        self, stage, *, unit="batches", first_estimate_s=10.0, interval_s=30.0, sink=print
    ):
        self.stage = stage
        self.unit = unit
        self.first_estimate_s = first_estimate_s
        self.interval_s = interval_s
        self.sink = sink

    def _say(self, net, text, level=1):
        if net.verbose >= level:
            self.sink(f"[{self.stage}] {text}")
            if self.sink is print:
                sys.stdout.flush()

    def on_train_begin(self, net, **kwargs):
        self.started_ = time.perf_counter()
        self.estimated_ = False
        self.epoch_seconds_ = []
        budget = f"up to {net.max_epochs} epoch{'' if net.max_epochs == 1 else 's'}"
        stopper = self._early_stopping(net)
        if stopper is not None:
            budget += f", early stopping after {stopper.patience} without improvement"
        self._say(net, f"training: {budget}")

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        self.epoch_started_ = time.perf_counter()
        self.last_line_ = self.epoch_started_
        self.steps_ = 0
        self.n_steps_ = self._steps_per_epoch(net, dataset_train)

    def on_batch_end(self, net, training=False, **kwargs):
        if not training:
            return
        self.steps_ += 1
        now = time.perf_counter()
        ran = now - self.epoch_started_
        if not self.estimated_ and not self.epoch_seconds_ and ran >= self.first_estimate_s:
            self._first_estimate(net, ran)
        elif net.verbose >= 2 and now - self.last_line_ >= self.interval_s and self.n_steps_:
            self.last_line_ = now
            left = ran / self.steps_ * (self.n_steps_ - self.steps_)
            self._say(
                net,
                f"epoch {len(net.history)}: {self.steps_}/{self.n_steps_} {self.unit} in "
                f"{format_seconds(ran)}, ~{format_seconds(left)} left in this epoch",
                level=2,
            )

    def _steps_per_epoch(self, net, dataset):
        """Training steps of an epoch: one per day, or per ``batch_size`` rows."""
        if dataset is None:
            return None
        if self.unit == "days":
            return dataset.n_days
        return -(-len(dataset) // net.batch_size)

    def _first_estimate(self, net, ran):
        self.estimated_ = True
        if not self.n_steps_:
            return
        epoch = ran / self.steps_ * self.n_steps_
        self._say(
            net,
            f"epoch {len(net.history)}: {self.steps_}/{self.n_steps_} {self.unit} in "
            f"{format_seconds(ran)}: ~{format_seconds(epoch)} an epoch (training steps), "
            f"at most ~{format_seconds(epoch * net.max_epochs)} for {net.max_epochs} "
            f"epoch{'' if net.max_epochs == 1 else 's'}",
        )

    def on_epoch_end(self, net, **kwargs):
        now = time.perf_counter()
        self.epoch_seconds_.append(now - self.epoch_started_)
        history = net.history
        history.record("elapsed", format_seconds(now - self.started_))
        mean = sum(self.epoch_seconds_) / len(self.epoch_seconds_)
        left_budget = max(net.max_epochs - len(history), 0)
        soonest = self._epochs_until_patience(net)
        if soonest is not None and soonest < left_budget:
            left = f"{format_seconds(soonest * mean)}-{format_seconds(left_budget * mean)}"
        else:
            left = format_seconds(left_budget * mean)
        history.record("left", left)

    @staticmethod
    def _early_stopping(net):
        for _, callback in getattr(net, "callbacks_", []):
            if isinstance(callback, EarlyStopping):
                return callback
        return None

    def _epochs_until_patience(self, net):
        """Epochs until early stopping would end the fit if nothing improves."""
        stopper = self._early_stopping(net)
        if stopper is None:
            return None
        return max(stopper.patience - getattr(stopper, "misses_", 0), 0)
