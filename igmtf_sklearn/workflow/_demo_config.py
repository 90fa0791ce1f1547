"""The settings of ``igmtf demo``: :class:`DemoConfig`, without the libraries the run needs.

Kept apart from ``_demo`` so that the command line can show the defaults in
``igmtf demo --help`` without importing torch, pandas or scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GAP_DAYS", "MIN_TRAIN_DAYS", "DemoConfig"]

#: Days between the last training day and the first test day: Qlib's label for
#: day t is close[t+2] / close[t+1] - 1, so the last two training labels would
#: otherwise be returns realised inside the test period.
GAP_DAYS = 2
#: Fewest training days accepted: the estimator validates on the last 20 % of
#: them (after a 2-day gap), and both parts need a few days to mean anything.
MIN_TRAIN_DAYS = 20
#: The largest seed numpy (and so ``random_state``) accepts. Also in ``_model_config``,
#: which imports scikit-learn and torch: this module must stay light for ``igmtf --help``.
_MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class DemoConfig:
    """Settings of one demo run; the defaults are those of ``igmtf demo``.

    They were tuned so that the run takes a few minutes on one CPU thread
    (117-176 s for three seeds, see ``docs/quickstart.md``; the refit about
    doubles it) and IGMTF beat its pretrained GRUs on the test days for every
    seed tried without the refit (0 to 4; with it, seed 0 but not seed 1). The
    pretraining is short on purpose, to keep the run short; IGMTF's encoder goes
    on training from it, so part of IGMTF's lead over "GRU alone" is that extra
    training (see ``docs/index.md``).

    Parameters
    ----------
    n_instruments, n_days : int
        Size of the simulated market.
    window : int
        Days of history per Alpha360 field (Qlib uses 60; shorter is faster
        and sees all the simulated signal, whose longest horizon is 20 days).
    test_size : float
        Fraction of the days, the last ones, held out for testing.
    pretrain_epochs, epochs : int
        Epochs of GRU pretraining and of IGMTF training, at most (both stop
        early on the validation days, the last 20 % of the training days).
    hidden_size : int
        Width of the GRU state.
    lr, pretrain_lr : float
        Adam learning rates of IGMTF and of the pretraining.
    seed : int
        Seeds the market and the model (the first model, with ``seeds > 1``).
    seeds : int
        Models averaged: the package's recommended configuration averages three,
        seeded ``seed``, ``seed + 1``, ``seed + 2`` (a ``VotingRegressor``, see
        ``docs/accuracy.md``); 1 fits a single model, a third of the time.
    pretrain_monitor : {"valid_ic", "valid_loss"}
        What the GRU pretraining's early stopping watches: the recommended
        configuration's validation IC, or Qlib's validation loss.
    refit : bool
        Whether each model, once validation has chosen its epochs, is fitted
        again on the training and validation days together (``IGMTFRegressor(
        refit=True)``), as the recommended configuration is; False fits once,
        in about half the time.
    score_power : "auto", float or None
        Each model's ``score_power``: the recommended configuration's ``"auto"``
        raises each day's z-scored predictions to the power its validation
        days favour (the order of the day is kept); None predicts the
        network's outputs.
    verbose : int
        skorch's per-epoch log when > 0.
    report_dir : str or None
        Folder to write the HTML report of the test days into (``igmtf
        demo`` writes ``runs/demo``); None writes none.

    Examples
    --------
    >>> from igmtf_sklearn.workflow import DemoConfig
    >>> config = DemoConfig(n_instruments=10, n_days=60, window=5)
    >>> config.n_train_days  # 60 days less 12 test days, a 2-day gap and 4 warm-up days
    42
    """

    n_instruments: int = 100
    n_days: int = 500
    window: int = 20
    test_size: float = 0.2
    pretrain_epochs: int = 3
    epochs: int = 15
    hidden_size: int = 32
    lr: float = 1e-3
    pretrain_lr: float = 1e-3
    seed: int = 0
    seeds: int = 3
    pretrain_monitor: str = "valid_ic"
    refit: bool = True
    score_power: str | float | None = "auto"
    verbose: int = 0
    report_dir: str | None = None

    @property
    def n_train_days(self) -> int:
        """Training days: those before the test days and the gap, after the window's warm-up."""
        n_test = max(1, round(self.test_size * self.n_days))
        return self.n_days - n_test - GAP_DAYS - (self.window - 1)

    def validate(self) -> None:
        """Raise ValueError when the market is too short for the window and the splits,
        or the seeds are not a positive count of valid seeds."""
        counts = (self.seed, self.seeds)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in counts) or not (
            self.seed >= 0 and self.seeds >= 1 and self.seed + self.seeds - 1 <= _MAX_SEED
        ):
            raise ValueError(
                f"seed={self.seed!r}, seeds={self.seeds!r}: seed must be an int >= 0, seeds "
                f"an int >= 1, and seed + seeds - 1 at most {_MAX_SEED}."
            )
        if self.pretrain_monitor not in ("valid_ic", "valid_loss"):
            raise ValueError(
                f"pretrain_monitor must be 'valid_ic' or 'valid_loss', got {self.pretrain_monitor!r}."
            )
        if not isinstance(self.refit, bool):
            raise ValueError(f"refit must be True or False, got {self.refit!r}.")
        if self.n_train_days < MIN_TRAIN_DAYS:
            raise ValueError(
                f"{self.n_days} days with a {self.window}-day window leave {self.n_train_days} "
                f"training day(s), fewer than {MIN_TRAIN_DAYS}: simulate more days or use a "
                "shorter window."
            )
