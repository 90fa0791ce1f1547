"""IGMTF's ``base_fallback``: its pretrained GRU alone, where that validates better.

IGMTF starts from a GRU (or LSTM) trained alone, its base, and adds the graph on top. In
the accuracy campaign (``docs/accuracy.md``) a base stopped on the validation IC often
scored as well as the IGMTF built on it, and on some years better. A rule fixed before its
fits then took the GRU alone wherever the valid year preferred it, and on the one unscored
year where it did, it lost no test rank IC. (On two later unscored years validation never
preferred it, so the option is not in the recommended configuration.)

With ``base_fallback=True``, ``fit`` compares the two on the validation days by the score
IGMTF's early stopping watches: the mean daily IC of the epoch each one kept. Where the base
scores higher, ``base_chosen_`` is True and the estimator is the base:

- ``predict`` (and ``score``) return ``pretrained_model_``'s predictions;
- ``score_power="auto"`` chooses its power on the base's validation predictions;
- a ``refit`` refits the base alone, for the epochs its validated fit kept. IGMTF's network
  is left as validated, and is not used.
"""

from __future__ import annotations

import copy

from .._utils._threads import torch_threads
from ._base import _PanelNet
from ._refit import kept_epochs


def check_base_fallback(net):
    """Refuse, before any work, a ``base_fallback`` with nothing to compare."""
    if not net.base_fallback:
        return
    if net.pretrained is not None or net.pretrain_epochs == 0:
        raise ValueError(
            "base_fallback=True compares IGMTF with the base it pretrains in fit on the same "
            "validation days, but the base is "
            + (
                "given by pretrained"
                if net.pretrained is not None
                else "not trained (pretrain_epochs=0)"
            )
            + ". Leave pretrained=None with pretrain_epochs > 0, or set base_fallback=False."
        )
    if net.warm_start:
        raise ValueError(
            "base_fallback=True compares IGMTF with the base this fit pretrains, but "
            "warm_start=True continues the earlier fit and its base, scored on earlier "
            "validation days. Set warm_start=False, or base_fallback=False."
        )
    if net.train_split is None or net.max_epochs == 0:
        raise ValueError(
            "base_fallback=True chooses between IGMTF and its base on validation scores, but "
            + (
                "train_split=None holds out no validation days"
                if net.train_split is None
                else "max_epochs=0 trains no IGMTF epoch to score"
            )
            + ". Give a train_split and max_epochs > 0, or set base_fallback=False."
        )


def kept_validation_ic(net):
    """The mean daily validation IC of the epoch whose weights ``net`` kept."""
    return float(net.history[kept_epochs(net) - 1]["valid_ic"])


class _BaseFallbackMixin:
    """``IGMTFRegressor``'s ``base_fallback``; not a public class."""

    # An earlier fit's choice must not route this fit's validation to its base.
    _per_fit_attributes = (*_PanelNet._per_fit_attributes, "base_chosen_", "validation_ics_")

    def _check_fit(self):
        super()._check_fit()
        check_base_fallback(self)

    def _after_validated_fit(self, valid):
        """Compare the base with IGMTF on the validation days, before ``score_power``
        (which then chooses on the chosen model's predictions) and a refit."""
        super()._after_validated_fit(valid)
        if not self.base_fallback:
            return
        self.validation_ics_ = {
            "base": kept_validation_ic(self.pretrained_model_),
            "igmtf": kept_validation_ic(self),
        }
        # Strictly higher: on a tie the graph model, the estimator's own, is kept.
        self.base_chosen_ = self.validation_ics_["base"] > self.validation_ics_["igmtf"]

    def forward_iter(self, X, training=False, device="cpu"):
        """IGMTF's predictions, or the base's where ``base_fallback`` chose it."""
        if getattr(self, "base_chosen_", False):
            return self.pretrained_model_.forward_iter(X, training=training, device=device)
        return super().forward_iter(X, training=training, device=device)

    def _refit(self, panel, layout, **fit_params):
        """Refit the base alone where it was chosen: IGMTF's network would not be used."""
        if not getattr(self, "base_chosen_", False):
            super()._refit(panel, layout, **fit_params)
            return
        base = self.pretrained_model_
        with torch_threads(self.n_threads):  # the base runs under IGMTF's thread setting
            base._refit(panel, layout)  # pretrained without fit_params, refit alike
        self.validation_history_ = copy.deepcopy(self.history_)
        self.refit_epochs_ = {"pretrain_epochs": base.refit_epochs_["max_epochs"]}
