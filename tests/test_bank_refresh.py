"""IGMTFRegressor(bank_refresh="training_pass"): the bank from the training steps' own states."""

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline

from igmtf_sklearn import IGMTFRegressor
from igmtf_sklearn.preprocessing import Fillna, RobustZScoreNorm

TINY = {
    "hidden_size": 4,
    "num_layers": 1,
    "pretrain_epochs": 0,
    "max_epochs": 3,
    "train_split": None,
    "verbose": 0,
    "random_state": 0,
}


@pytest.fixture(scope="module")
def normalised(market):
    X, y = market
    X = make_pipeline(RobustZScoreNorm(), Fillna()).set_output(transform="pandas").fit_transform(X)
    known = y.notna().to_numpy()
    return X[known], y[known]


def _count_encodes(monkeypatch):
    calls = []
    original = IGMTFRegressor._encode

    def counting(self, panel):
        calls.append(len(panel))
        return original(self, panel)

    monkeypatch.setattr(IGMTFRegressor, "_encode", counting)
    return calls


@pytest.mark.parametrize("refresh, passes", [("epoch", 3), ("training_pass", 1)])
def test_training_pass_encodes_the_training_set_once(normalised, monkeypatch, refresh, passes):
    X, y = normalised
    calls = _count_encodes(monkeypatch)
    model = IGMTFRegressor(**TINY, bank_refresh=refresh).fit(X, y)
    assert len(calls) == passes and len(model.history_) == 3
    assert np.isfinite(model.predict(X)).all()
    assert model._kept_bank_ is None and model._training_days_ is None  # no data kept
    # Nothing of the run leaks into the parameters (skorch reads every attribute not
    # ending in "_" as one): the fitted model clones and saves.
    assert set(model.get_params(deep=False)) <= set(IGMTFRegressor().get_params(deep=False))


def test_with_frozen_weights_the_training_pass_bank_is_the_exact_bank(normalised):
    """No dropout and a negligible lr: the states the steps computed are the eval-mode states."""
    X, y = normalised
    exact = IGMTFRegressor(**TINY, lr=1e-12).fit(X, y)
    reused = IGMTFRegressor(**TINY, lr=1e-12, bank_refresh="training_pass").fit(X, y)
    assert torch.allclose(exact.module_.bank_hidden, reused.module_.bank_hidden, atol=1e-6)
    assert torch.equal(exact.module_.bank_mask, reused.module_.bank_mask)


def test_with_learning_the_banks_differ_and_predict_is_deterministic(normalised):
    X, y = normalised
    exact = IGMTFRegressor(**TINY).fit(X, y)
    reused = IGMTFRegressor(**TINY, bank_refresh="training_pass").fit(X, y)
    assert not torch.allclose(exact.module_.bank_hidden, reused.module_.bank_hidden)
    assert np.array_equal(reused.predict(X), reused.predict(X))


def test_training_pass_with_label_neighbors(normalised):
    X, y = normalised
    model = IGMTFRegressor(**TINY, bank_refresh="training_pass", label_neighbors=4).fit(X, y)
    assert model.module_.bank_label.shape == model.module_.bank_mask.shape
    assert np.isfinite(model.predict(X)).all()


def test_bad_bank_refresh_is_refused(normalised):
    X, y = normalised
    with pytest.raises(ValueError, match="bank_refresh"):
        IGMTFRegressor(bank_refresh="never").fit(X, y)


# -- the next epoch's bank encoded during validation ----------------------------------
def _overlap_fit(X, y, monkeypatch, overlap):
    from igmtf_sklearn import DateValidSplit
    from igmtf_sklearn.nets import _memory_bank

    # A second idle core, or none, whatever the test machine is doing.
    monkeypatch.setattr(_memory_bank, "idle_cores", lambda: 2 if overlap else 1)
    calls = _count_encodes(monkeypatch)
    model = IGMTFRegressor(**{**TINY, "train_split": DateValidSplit(0.25), "patience": None})
    model.fit(X, y)
    return model, len(calls)


def test_validation_overlaps_the_next_bank_and_changes_nothing(normalised, monkeypatch):
    X, y = normalised
    before = torch.get_num_threads()
    plain, plain_encodes = _overlap_fit(X, y, monkeypatch, overlap=False)
    monkeypatch.undo()
    overlapped, encodes = _overlap_fit(X, y, monkeypatch, overlap=True)
    # Epoch 1 builds its bank itself; epochs 2 and 3 take the one encoded while validating.
    assert plain_encodes == 3 and encodes == 1
    assert torch.get_num_threads() == before
    # One torch thread throughout: the very same numbers.
    assert overlapped.history_[:, "valid_ic"] == plain.history_[:, "valid_ic"]
    assert np.array_equal(overlapped.predict(X), plain.predict(X))
    assert overlapped._next_bank_ is None and overlapped._epoch_panel_ is None
