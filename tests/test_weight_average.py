"""``ema_halflife``: the networks keep an average of their weights over the training steps."""

import numpy as np
import pytest
import torch
from _small_nets import SMALL_IGMTF, SMALL_RNN
from skorch.callbacks import Callback

from igmtf_sklearn import ExplicitValidation, IGMTFRegressor, RNNRegressor


class _RecordSteps(Callback):
    """The weights before the first step and after every training step."""

    def on_train_begin(self, net, **kwargs):
        self.steps_ = []

    def on_epoch_begin(self, net, **kwargs):
        if not self.steps_:
            self.steps_.append(self._weights(net))

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.steps_.append(self._weights(net))

    @staticmethod
    def _weights(net):
        return [p.detach().clone() for p in net.module_.parameters()]


def test_the_fitted_weights_are_the_mean_of_the_steps_and_training_is_unchanged(split_market):
    X, y, _, _ = split_market
    fits = {}
    for halflife in (None, 1e9):  # a half-life this long: the plain mean of every step
        recorder = _RecordSteps()
        params = {**SMALL_RNN, "max_epochs": 2, "train_split": None, "callbacks": [recorder]}
        model = RNNRegressor(ema_halflife=halflife, **params).fit(X, y)
        fits[halflife] = model, recorder.steps_
    (plain, plain_steps), (averaged, steps) = fits[None], fits[1e9]
    assert len(steps) > 3
    # Averaging only watches: the second epoch trains on from the trained weights.
    for trained, reference in zip(steps, plain_steps, strict=True):
        for a, b in zip(trained, reference, strict=True):
            torch.testing.assert_close(a, b, atol=0, rtol=0)
    for kept, *history in zip(averaged.module_.parameters(), *steps, strict=True):
        torch.testing.assert_close(
            kept.detach(), torch.stack(history).mean(0), atol=1e-6, rtol=1e-5
        )
    last = [p.detach() for p in plain.module_.parameters()]
    assert any(not torch.equal(a.detach(), b) for a, b in zip(averaged.module_.parameters(), last))


def test_validation_scores_the_averaged_network_that_fit_returns(split_market):
    X, y, X_valid, y_valid = split_market
    model = RNNRegressor(
        ema_halflife=1.0,
        max_epochs=2,
        patience=None,
        label_norm=None,  # valid_ic against the raw labels, as score() computes it
        train_split=ExplicitValidation(X_valid, y_valid),
        **SMALL_RNN,
    ).fit(X, y)
    assert model.history_[-1, "valid_ic"] == pytest.approx(model.score(X_valid, y_valid), abs=1e-6)


def test_a_vanishing_half_life_is_the_plain_fit(split_market):
    X, y, X_test, _ = split_market
    plain = IGMTFRegressor(**SMALL_IGMTF).fit(X, y).predict(X_test)
    latest = IGMTFRegressor(ema_halflife=1e-12, **SMALL_IGMTF).fit(X, y).predict(X_test)
    np.testing.assert_array_equal(latest, plain)


def test_igmtf_averages_its_pretraining_and_its_own_epochs(split_market):
    X, y, X_test, _ = split_market
    model = IGMTFRegressor(ema_halflife=0.5, **SMALL_IGMTF).fit(X, y)
    assert model.pretrained_model_.ema_halflife == 0.5
    plain = IGMTFRegressor(**SMALL_IGMTF).fit(X, y)
    assert not np.allclose(model.predict(X_test), plain.predict(X_test))
    assert np.isfinite(model.predict(X_test)).all()


@pytest.mark.parametrize("halflife", [0, -1.0, "1"])
def test_a_bad_half_life_is_refused_before_training(split_market, halflife):
    X, y, _, _ = split_market
    with pytest.raises(ValueError, match="ema_halflife"):
        RNNRegressor(ema_halflife=halflife, **SMALL_RNN).fit(X, y)
