"""Options beyond Qlib's IGMTF: the daily-IC loss, the neighbours' known outcomes, the
residual head that starts IGMTF from its pretrained GRU, the same-day graph, and the
normal-quantile labels.

The label option reads other days' labels, so most of this file proves that no
label from the future of the day being trained on or predicted can reach it.
"""

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.callbacks import Freezer

from igmtf_sklearn import DailyICLoss, IGMTFRegressor, RNNRegressor
from igmtf_sklearn.nets import IGMTFModule
from igmtf_sklearn.preprocessing import cs_gauss_rank_norm

SMALL = {
    "hidden_size": 8,
    "num_layers": 1,
    "k_day": 3,
    "n_neighbor": 4,
    "pretrain_epochs": 0,
    "max_epochs": 2,
    "train_split": None,
    "verbose": 0,
    "random_state": 0,
}


@pytest.fixture(scope="module")
def label_model(split_market):
    X, y, _, _ = split_market
    return IGMTFRegressor(**SMALL, label_neighbors=6).fit(X, y)


# -- DailyICLoss ---------------------------------------------------------------------
def test_daily_ic_loss_is_minus_the_mean_daily_correlation():
    rng = np.random.default_rng(0)
    pred, true = rng.normal(size=(3, 7)), rng.normal(size=(3, 7))
    true[1, 5:] = np.nan  # a padded / unlabelled tail
    expected = []
    for p, t in zip(pred, true):
        known = np.isfinite(t)
        expected.append(np.corrcoef(p[known], t[known])[0, 1])
    loss = DailyICLoss()(torch.tensor(pred), torch.tensor(true))
    assert loss.item() == pytest.approx(-np.mean(expected), rel=1e-6)
    # One day as a 1-D pair, and invariance to the predictions' level and scale.
    one = DailyICLoss()(torch.tensor(pred[0]), torch.tensor(true[0]))
    scaled = DailyICLoss()(torch.tensor(3 * pred[0] + 1), torch.tensor(true[0]))
    assert one.item() == pytest.approx(-expected[0]) and scaled.item() == pytest.approx(one.item())


def test_daily_ic_loss_has_gradients_and_checks_shapes():
    pred = torch.randn(10, requires_grad=True)
    DailyICLoss()(pred, torch.randn(10)).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="does not match"):
        DailyICLoss()(torch.randn(10, 1), torch.randn(10))


def test_ic_loss_trains_and_predicts(split_market):
    X, y, X_test, _ = split_market
    model = IGMTFRegressor(**SMALL, criterion=DailyICLoss).fit(X, y)
    assert np.isfinite(model.predict(X_test)).all()
    assert all(np.isfinite(row["train_loss"]) and row["train_loss"] <= 1 for row in model.history_)


# -- label_neighbors: behaviour ----------------------------------------------------------
def test_default_state_dict_is_qlibs(split_market):
    X, y, _, _ = split_market
    keys = set(IGMTFRegressor(**SMALL).fit(X, y).module_.state_dict())
    assert not {k for k in keys if "label" in k or k == "bank_dates"}


def test_label_neighbors_fit_predict_deterministic(label_model, split_market):
    _, _, X_test, _ = split_market
    first, second = label_model.predict(X_test), label_model.predict(X_test)
    assert np.isfinite(first).all() and np.array_equal(first, second)
    assert label_model.module_.bank_label.shape == label_model.module_.bank_mask.shape


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"label_neighbors": -1},
            "'label_neighbors' parameter of IGMTFRegressor must be an int in the range \\[0, inf\\)",
        ),
        (
            {"label_neighbors": 2, "label_horizon": 0},
            "'label_horizon' parameter of IGMTFRegressor must be an int in the range \\[1, inf\\)",
        ),
    ],
)
def test_bad_label_parameters(split_market, params, message):
    X, y, _, _ = split_market
    with pytest.raises(ValueError, match=message):
        IGMTFRegressor(**{**SMALL, **params}).fit(X, y)


def test_extend_memory_bank_needs_labels(label_model, split_market):
    _, _, X_test, _ = split_market
    with pytest.raises(ValueError, match="needs y"):
        label_model.extend_memory_bank(X_test)


# -- label_neighbors: no label from the future -----------------------------------------
def _scrambled_labels(y, after):
    """``y`` with every label dated after ``after`` replaced by a large random value."""
    rng = np.random.default_rng(7)
    late = np.asarray(y.index.get_level_values(0) > after)
    scrambled = y.copy()
    scrambled[late] = rng.normal(scale=50.0, size=late.sum()).astype(y.dtype)
    return scrambled


def test_training_steps_see_only_labels_known_on_the_day(label_model, split_market):
    """Each training day's allowed bank days end ``label_horizon`` trading days before
    it, and its output does not move when every other label is scrambled."""
    X, y, _, _ = split_market
    model = label_model
    panel = model.get_dataset(X, y)
    dates = panel.dates
    module = model.module_
    module.eval()
    checked = 0
    for inputs, _ in model.get_iterator(panel, training=True):
        x = inputs["x"][0]
        rows = len(x)
        day = _day_of(panel, x)
        allowed = inputs["allowed"].reshape(-1).numpy()
        bank_dates = module.bank_dates.numpy().astype("datetime64[ns]")
        assert (bank_dates[allowed] <= dates[max(day - 2, 0)]).all()
        assert not allowed[bank_dates >= dates[day - 1] if day >= 1 else slice(None)].any()
        with torch.no_grad():
            before = module(x, allowed=inputs["allowed"])
            saved = module.bank_label.clone()
            forbidden = torch.from_numpy(~allowed)
            module.bank_label[forbidden] = torch.randn_like(module.bank_label[forbidden]) * 50
            after = module(x, allowed=inputs["allowed"])
            module.bank_label.copy_(saved)
        assert before.shape == (rows,) and torch.equal(before, after)
        checked += 1
    assert checked == panel.n_days


def _day_of(panel, x):
    for day in range(panel.n_days):
        rows = panel.day_rows(day)
        if rows.stop - rows.start == len(x) and torch.equal(panel.X[rows], x):
            return day
    raise AssertionError("batch is not a day of the panel")


def test_prediction_sees_only_labels_known_on_the_day(label_model, split_market):
    """Grow the bank with the test days' labels, then scramble every label after a
    cut-off: days up to two trading days after it predict exactly as before, and
    later days change (so the test could fail)."""
    _, _, X_test, y_test = split_market
    model = _copy(label_model)
    test_days = X_test.index.get_level_values(0).unique()
    model.extend_memory_bank(X_test, y_test)
    before = pd.Series(model.predict(X_test), index=X_test.index)
    cutoff = test_days[5]
    model.extend_memory_bank(X_test, _scrambled_labels(y_test, cutoff))
    after = pd.Series(model.predict(X_test), index=X_test.index)
    by_day = (before - after).abs().groupby(level=0).max()
    # Day t may use labels of days <= t - 2, all unscrambled through cutoff + 2.
    assert (by_day[test_days[: 5 + 3]] == 0).all()
    assert (by_day[test_days[5 + 3 :]] > 0).any()


def test_extend_memory_bank_replaces_days_and_keeps_date_order(label_model, split_market):
    _, _, X_test, y_test = split_market
    model = _copy(label_model)
    n_days = model.module_.bank_mask.shape[0]
    model.extend_memory_bank(X_test, y_test)
    model.extend_memory_bank(X_test, y_test)  # again: replaced, not duplicated
    n_test_days = X_test.index.get_level_values(0).nunique()
    assert model.module_.bank_mask.shape[0] == n_days + n_test_days
    dates = model.memory_bank_dates_
    assert (np.diff(dates.astype(np.int64)) > 0).all()
    assert np.array_equal(model.module_.bank_dates.numpy(), dates.astype(np.int64))


def test_predict_is_unchanged_by_a_bank_of_only_future_days(split_market):
    """Qlib's model ignores labels: extending its bank changes hidden-state candidates only."""
    X, y, X_test, y_test = split_market
    model = IGMTFRegressor(**SMALL).fit(X, y)
    n_days = model.module_.bank_mask.shape[0]
    model.extend_memory_bank(X_test)
    assert model.module_.bank_mask.shape[0] == n_days + X_test.index.get_level_values(0).nunique()


def _copy(model):
    import copy

    return copy.deepcopy(model)


# -- seed averaging ----------------------------------------------------------------------
def test_voting_regressor_averages_seeds_on_panels(split_market):
    """scikit-learn's VotingRegressor over random_state works on panels as it is: each
    member sees the panel DataFrame, and the prediction is the members' mean."""
    from sklearn.base import clone
    from sklearn.ensemble import VotingRegressor

    X, y, X_test, _ = split_market
    base = IGMTFRegressor(**{**SMALL, "max_epochs": 1})
    members = [(f"seed{k}", clone(base).set_params(random_state=k)) for k in range(3)]
    ensemble = VotingRegressor(members).fit(X, y)
    alone = [clone(base).set_params(random_state=k).fit(X, y).predict(X_test) for k in range(3)]
    np.testing.assert_allclose(ensemble.predict(X_test), np.mean(alone, axis=0), rtol=1e-5)
    assert not np.allclose(alone[0], alone[1])  # the seeds do differ


def test_array_labels_must_have_one_per_row(split_market):
    X, y, _, _ = split_market
    with pytest.raises(ValueError, match="one label per row of X"):
        IGMTFRegressor(**SMALL).fit(X, y.to_numpy()[:-1])


# -- residual_head: IGMTF starts from its GRU's predictions -------------------------------
@pytest.fixture(scope="module")
def small_gru(split_market):
    X, y, _, _ = split_market
    return RNNRegressor(hidden_size=8, num_layers=1, max_epochs=2, verbose=0, random_state=3).fit(
        X, y
    )


def test_residual_head_starts_as_its_pretrained_gru(split_market, small_gru):
    X, y, X_test, _ = split_market
    gru_pred = small_gru.predict(X_test)
    start = IGMTFRegressor(**{**SMALL, "max_epochs": 0}, residual_head=True, pretrained=small_gru)
    np.testing.assert_allclose(start.fit(X, y).predict(X_test), gru_pred, rtol=0, atol=1e-6)
    # Qlib's model copies only the recurrent weights: its new head predicts something else.
    qlib = IGMTFRegressor(**{**SMALL, "max_epochs": 0}, pretrained=small_gru).fit(X, y)
    assert np.abs(qlib.predict(X_test) - gru_pred).max() > 1e-2


def test_residual_head_trains_the_graph_correction(split_market, small_gru):
    X, y, X_test, _ = split_market
    model = IGMTFRegressor(**SMALL, residual_head=True, pretrained=small_gru, lr=1e-3).fit(X, y)
    assert model.module_.fc_out_pred.weight.abs().sum() > 0  # it started at zero
    moved = np.abs(model.predict(X_test) - small_gru.predict(X_test))
    assert np.isfinite(moved).all() and moved.max() > 1e-4


def test_residual_head_needs_the_gru_output_layer(split_market, small_gru):
    X, y, _, _ = split_market
    encoder_only = {k: v for k, v in small_gru.module_.state_dict().items() if k.startswith("rnn.")}
    model = IGMTFRegressor(**SMALL, residual_head=True, pretrained=encoder_only)
    with pytest.raises(ValueError, match=r"no 'fc_out\.\*' entries.*residual_head=False"):
        model.fit(X, y)
    # Qlib's model needs the encoder only, and its state dict has no extra layer.
    IGMTFRegressor(**{**SMALL, "max_epochs": 0}, pretrained=encoder_only).fit(X, y)
    assert not any(key.startswith("fc_out.") for key in IGMTFModule().state_dict())


def test_residual_head_on_a_frozen_encoder(split_market, small_gru):
    # skorch's Freezer keeps the GRU's representation as it is: only the graph's part
    # and the GRU's output layer train.
    X, y, _, _ = split_market
    freeze = ("freeze", Freezer("rnn.*"))
    model = IGMTFRegressor(
        **SMALL, residual_head=True, pretrained=small_gru, lr=1e-2, callbacks=[freeze]
    ).fit(X, y)
    gru_state = small_gru.module_.state_dict()
    for name, weight in model.module_.rnn.state_dict().items():
        assert torch.equal(weight, gru_state["rnn." + name])
    assert not torch.equal(model.module_.fc_out.weight, gru_state["fc_out.weight"])
    assert model.module_.fc_out_pred.weight.abs().sum() > 0


# -- same_day_neighbors: a cross-sectional graph -------------------------------------------
def test_same_day_graph_trains_and_reads_only_its_own_day(split_market):
    # Each day's prediction depends on that day's rows alone: predicting one day by
    # itself gives what predicting the whole test period gave it.
    X, y, X_test, _ = split_market
    model = IGMTFRegressor(**SMALL, same_day_neighbors=5, lr=1e-2).fit(X, y)
    assert model.module_.same_day_out.weight.abs().sum() > 0  # it started at zero
    whole = pd.Series(model.predict(X_test), index=X_test.index)
    dates = X_test.index.get_level_values(0)
    for day in dates.unique()[[0, -1]]:
        alone = model.predict(X_test[dates == day])
        np.testing.assert_allclose(alone, whole[dates == day].to_numpy(), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(model.predict(X_test), whole.to_numpy())  # deterministic


# -- label_norm="csgaussrank" ----------------------------------------------------------
@pytest.mark.parametrize("estimator", [IGMTFRegressor, RNNRegressor])
def test_gauss_rank_labels_are_what_fit_trains_on(split_market, estimator):
    # Fitting on the raw returns with the option is fitting on their normal quantiles.
    X, y, X_test, _ = split_market
    params = SMALL if estimator is IGMTFRegressor else {"hidden_size": 8, "max_epochs": 2}
    params = {**params, "train_split": None, "verbose": 0, "random_state": 0}
    normalised = estimator(**params, label_norm="csgaussrank").fit(X, y).predict(X_test)
    by_hand = estimator(**params, label_norm=None).fit(X, cs_gauss_rank_norm(y)).predict(X_test)
    ranked = estimator(**params).fit(X, y).predict(X_test)
    np.testing.assert_array_equal(normalised, by_hand)
    assert not np.allclose(normalised, ranked)  # the option changed what was learnt
