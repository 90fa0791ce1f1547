"""The estimator API bugs of issue 11, one regression test each."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from igmtf_sklearn import IGMTFRegressor, RNNRegressor
from igmtf_sklearn.persistence import load_model

TINY = {"hidden_size": 4, "num_layers": 1, "max_epochs": 1, "verbose": 0, "random_state": 0}
TINY_IGMTF = {**TINY, "k_day": 2, "n_neighbor": 3, "pretrain_epochs": 1}


@pytest.fixture(scope="module")
def igmtf(split_market):
    X, y, _, _ = split_market
    return IGMTFRegressor(**TINY_IGMTF).fit(X, y)


def _without_field(X, field):
    """X without one Alpha360 field: the same panel with d_feat one smaller."""
    return X[[c for c in X.columns if not c.startswith(field)]]


# 1 -----------------------------------------------------------------------------------
def test_a_model_saved_on_a_gpu_loads_on_the_cpu(igmtf, split_market, tmp_path):
    path = tmp_path / "model.pt"
    igmtf.save(path)
    # As written on a GPU machine: the stored parameters say device="cuda".
    payload = torch.load(path, weights_only=True)
    payload["model"]["params"]["device"] = "cuda"
    payload["model"]["pretrained_model_"]["params"]["device"] = "cuda"
    torch.save(payload, path)

    loaded = load_model(path, device="cpu")
    X_test = split_market[2]
    np.testing.assert_array_equal(loaded.predict(X_test), igmtf.predict(X_test))
    for net in (loaded, loaded.pretrained_model_):
        assert net.device == "cpu"
        assert {p.device.type for p in net.module_.parameters()} == {"cpu"}
    np.testing.assert_array_equal(
        loaded.pretrained_model_.predict(X_test), igmtf.pretrained_model_.predict(X_test)
    )


# 2 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("estimator", [IGMTFRegressor, RNNRegressor])
def test_warm_start_refuses_another_input_layout(split_market, estimator):
    X, y, X_test, _ = split_market
    params = {**TINY_IGMTF, "pretrain_epochs": 0} if estimator is IGMTFRegressor else TINY
    model = estimator(**params, warm_start=True).fit(X, y)
    d_feat = model.d_feat_
    model.fit(X, y)  # the same layout continues training
    with pytest.raises(ValueError, match="warm_start=True continues training"):
        model.fit(_without_field(X, "VOLUME"), y)
    assert model.d_feat_ == model.module_.rnn.input_size == d_feat
    assert model.predict(X_test).shape == (len(X_test),)


# 3 -----------------------------------------------------------------------------------
def test_module_hidden_size_reaches_the_pretrained_base(split_market):
    X, y, _, _ = split_market
    model = IGMTFRegressor(**TINY_IGMTF, module__hidden_size=6).fit(X, y)
    base = model.pretrained_model_
    assert model.module_.rnn.hidden_size == base.module_.rnn.hidden_size == 6
    for name, weight in base.module_.rnn.state_dict().items():
        assert weight.shape == model.module_.rnn.state_dict()[name].shape


# 4 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("estimator", [IGMTFRegressor, RNNRegressor])
def test_get_params_never_raises(estimator):
    # sklearn's check_do_not_raise_errors_in_init_or_set_params sets odd values.
    model = estimator(train_split=np.arange(3), patience=np.arange(2), max_epochs=np.arange(2))
    assert model.get_params()["train_split"] is model.train_split
    model.set_params(train_split=np.arange(4)).get_params()


# 5 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("label_norm", ["csrank", "cszscore", "csgaussrank", None])
def test_infinite_labels_are_refused(split_market, label_norm):
    X, y, _, _ = split_market
    y = y.copy()
    y.iloc[[3, 40]] = [np.inf, -np.inf]
    model = IGMTFRegressor(**TINY_IGMTF, label_norm=label_norm)
    with pytest.raises(ValueError, match=r"y contains 2 infinite value\(s\)"):
        model.fit(X, y)
    assert not hasattr(model, "module_")


# 6 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("estimator", [IGMTFRegressor, RNNRegressor])
def test_predict_passes_batch_size_rows_at_a_time(split_market, estimator):
    X, y, X_test, _ = split_market
    params = {**TINY_IGMTF, "pretrain_epochs": 0} if estimator is IGMTFRegressor else TINY
    model = estimator(**params).fit(X, y)
    calls = []
    model.module_.register_forward_hook(lambda module, args, output: calls.append(len(output)))
    n_days = X_test.index.get_level_values(0).nunique()

    # One block per day when a day is larger than batch_size; one block for all days.
    per_day = model.set_params(batch_size=1).predict(X_test)
    assert len(calls) == n_days
    calls.clear()
    at_once = model.set_params(batch_size=len(X_test)).predict(X_test)
    assert len(calls) == 1
    np.testing.assert_allclose(per_day, at_once, rtol=1e-5, atol=1e-6)


def test_rnn_iterator_valid_batch_size_sets_the_scoring_blocks_apart(split_market):
    X, y, X_test, _ = split_market
    model = RNNRegressor(**TINY, batch_size=1, iterator_valid__batch_size=len(X_test)).fit(X, y)
    calls = []
    model.module_.register_forward_hook(lambda module, args, output: calls.append(1))
    model.predict(X_test)
    assert len(calls) == 1


# 8 -----------------------------------------------------------------------------------
def test_prediction_depends_on_the_rest_of_the_day(igmtf, split_market):
    X_test = split_market[2]
    full = igmtf.predict_series(X_test)
    # Whole days predict as they do with the other days: days are scored one by one.
    dates = X_test.index.get_level_values("datetime")
    first_days = X_test[dates < dates.unique()[3]]
    np.testing.assert_allclose(igmtf.predict(first_days), full[first_days.index], rtol=1e-6)
    # Part of a day does not: the day's mean hidden state, which picks the similar
    # stored days, is taken over the rows given (as in Qlib).
    instruments = X_test.index.get_level_values("instrument")
    part = X_test[instruments.isin(instruments.unique()[:8])]
    assert not np.allclose(igmtf.predict(part), full[part.index], rtol=1e-4)
