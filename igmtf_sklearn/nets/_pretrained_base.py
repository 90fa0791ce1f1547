"""IGMTF's pretrained base: ``_PretrainedBaseMixin`` of ``IGMTFRegressor``.

IGMTF starts from a GRU/LSTM trained alone (Qlib's ``GRU`` / ``LSTM`` Alpha360 model):
``fit`` pretrains one (``RNNRegressor``) on IGMTF's own split, or loads the weights given
as ``pretrained``, and copies its recurrent weights into IGMTF's encoder. With
``refit=True`` the refit pretrains again, for the epochs the validated pretraining kept.
"""

from __future__ import annotations

import os

import torch

from ._base import _draw_seed
from ._refit import kept_epochs
from ._rnn import RNNRegressor


class _PretrainedBaseMixin:
    """The base RNN of ``IGMTFRegressor``: pretrained, or loaded; not a public class."""

    def _pretrained_state(self):
        """The ``rnn.*`` weights given by ``pretrained``, as a state dict."""
        source = self.pretrained
        if isinstance(source, RNNRegressor):
            return source.module_.state_dict()
        if isinstance(source, str | os.PathLike):
            if not os.path.isfile(source):
                raise ValueError(f"pretrained file {os.fspath(source)!r} does not exist.")
            return torch.load(source, map_location="cpu", weights_only=True)
        if isinstance(source, dict):
            return source
        raise TypeError(
            "pretrained must be a state dict, a path to one, or a fitted RNNRegressor, got "
            f"{type(source).__name__}."
        )

    def _load_encoder(self, state_dict):
        """Copy the base's ``rnn.*`` weights, and with ``residual_head`` its ``fc_out.*``."""
        self._load_part(state_dict, "rnn")
        if self.module_.residual_head:
            if not any(key.startswith("fc_out.") for key in state_dict):
                raise ValueError(
                    "residual_head=True starts from the pretrained GRU's output layer, but the "
                    "pretrained weights have no 'fc_out.*' entries: pass the GRU's whole state "
                    "dict (RNNRegressor.module_.state_dict()), or set residual_head=False."
                )
            self._load_part(state_dict, "fc_out")

    def _load_part(self, state_dict, name):
        prefix = f"{name}."
        part = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
        try:
            getattr(self.module_, name).load_state_dict(part)
        except RuntimeError as error:
            raise ValueError(
                "The pretrained weights do not fit this encoder (check base_model, hidden_size, "
                f"num_layers and d_feat={self.d_feat_}): {error}"
            ) from None

    def _pretrain(self, train, valid):
        """Fit the base RNN on IGMTF's own split; its architecture is the encoder's."""
        architecture = self._module_architecture()
        base = RNNRegressor(
            d_feat=self.d_feat_,
            hidden_size=architecture["hidden_size"],
            num_layers=architecture["num_layers"],
            dropout=architecture["dropout"],
            base_model=architecture["base_model"],
            module__fused=architecture.get("fused", True),
            label_norm=None,  # the split panels hold labels normalised already
            patience=self.pretrain_patience,
            monitor=self.pretrain_monitor,
            clip_value=self.clip_value,
            ema_halflife=self.ema_halflife,
            random_state=_draw_seed(),
            lr=self.pretrain_lr,
            max_epochs=self.pretrain_epochs,
            batch_size=self.pretrain_batch_size,
            iterator_valid__batch_size=self.batch_size,  # validation blocks, as IGMTF's
            # The base validates on the days split off below, by the same rule.
            train_split=self.train_split,
            device=self.device,
            verbose=self.verbose,
            n_threads=None,  # runs inside IGMTF's fit, under its thread setting
        )
        return base._fit_panels(train, valid, self._layout())

    def _kept_epochs(self):
        """IGMTF's kept epochs, and its base's when ``fit`` pretrained one."""
        epochs = super()._kept_epochs()
        if self.pretrained_model_ is not None:
            epochs["pretrain_epochs"] = kept_epochs(self.pretrained_model_)
        return epochs

    def _refit(self, panel, layout, **fit_params):
        """The refit, its base's validated history kept beside IGMTF's."""
        validated_base = self.pretrained_model_
        super()._refit(panel, layout, **fit_params)
        if validated_base is not None and self.pretrained_model_ is not None:
            self.pretrained_model_.validation_history_ = validated_base.history_

    def _initialize_weights(self, train, valid):
        """Pretrain the base RNN (or load ``pretrained``) and copy it into the encoder."""
        self.pretrained_model_ = None
        if self.pretrained is not None:
            self._load_encoder(self._pretrained_state())
        elif self.pretrain_epochs:
            self.pretrained_model_ = self._pretrain(train, valid)
            self._load_encoder(self.pretrained_model_.module_.state_dict())
