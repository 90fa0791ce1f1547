"""IGMTFRegressor and RNNRegressor: fitting, pretraining, validation, persistence."""

import copy
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from _small_nets import SMALL_IGMTF as SMALL
from _small_nets import SMALL_RNN
from sklearn.base import clone
from sklearn.pipeline import FeatureUnion, make_pipeline
from skorch.callbacks import Callback, Checkpoint, LoadInitState

from igmtf_sklearn import DateValidSplit, ExplicitValidation
from igmtf_sklearn.preprocessing import CSZScoreNorm, Fillna, RobustZScoreNorm
from igmtf_sklearn.regressor import IGMTFRegressor, RNNRegressor


@pytest.fixture(scope="module")
def market(market):
    """conftest's market, normalised, as (X_train, y_train, X_test, y_test): test from day 60."""
    X, y = market
    features = make_pipeline(RobustZScoreNorm(), Fillna()).set_output(transform="pandas")
    X = features.fit_transform(X)
    dates = X.index.get_level_values("datetime")
    cut = dates.unique()[60]
    return X[dates < cut], y[dates < cut], X[dates >= cut], y[dates >= cut]


def _fit(market, **params):
    X, y, _, _ = market
    return IGMTFRegressor(**{**SMALL, **params}).fit(X, y)


def test_predict_is_an_array_in_row_order(market):
    X, _, X_test, _ = market
    model = _fit(market)
    pred = model.predict(X_test)
    assert isinstance(pred, np.ndarray) and pred.shape == (len(X_test),)
    assert pred.dtype == np.float32 and np.isfinite(pred).all()
    series = model.predict_series(X_test)
    assert series.index.equals(X_test.index) and series.name == "score"
    # A day predicted alone gives the same scores as inside the whole test set.
    first_day = X_test.index.get_level_values(0)[0]
    alone = model.predict(X_test.loc[[first_day]])
    np.testing.assert_allclose(alone, series.loc[[first_day]].to_numpy(), atol=1e-6)
    assert model.n_features_in_ == X.shape[1] and model.d_feat_ == 5 and model.seq_len_ == 5
    assert list(model.feature_names_in_) == list(X.columns)


def test_same_random_state_gives_identical_predictions(market):
    X_test = market[2]
    first = _fit(market).predict(X_test)
    second = _fit(market).predict(X_test)
    np.testing.assert_array_equal(first, second)
    other = _fit(market, random_state=1).predict(X_test)
    assert not np.array_equal(first, other)


def test_fit_does_not_touch_the_global_torch_rng(market):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _fit(market)
    torch.testing.assert_close(torch.rand(3), expected)


def test_pretraining_initialises_the_encoder(market):
    model = _fit(market, max_epochs=0)
    base = model.pretrained_model_
    assert isinstance(base, RNNRegressor) and len(base.history_) == 1
    for name, weight in model.module_.rnn.state_dict().items():
        torch.testing.assert_close(weight, base.module_.rnn.state_dict()[name])
    # max_epochs=0 still leaves a memory bank, so the model can predict.
    assert model.predict(market[2]).shape == (len(market[2]),)


def test_two_normalisations_side_by_side_read_as_twice_the_fields(market):
    # Qlib's normalisation and the per-day z-score of the same Alpha360 columns, joined
    # by scikit-learn's FeatureUnion: its prefixed names are still a layout d_feat is
    # inferred from, each part's fields counted separately.
    X, y, X_test, _ = market
    both = FeatureUnion(
        [("robust", RobustZScoreNorm(clip_outlier=True)), ("per_day", CSZScoreNorm(clip=3))]
    )
    model = make_pipeline(both, Fillna(), IGMTFRegressor(**SMALL)).set_output(transform="pandas")
    model.fit(X, y)
    fields = X.shape[1] // 5  # the market's window is 5 days
    assert model[-1].d_feat_ == 2 * fields
    assert list(model[-1].feature_names_in_[:2]) == ["robust__CLOSE4", "robust__CLOSE3"]
    assert np.isfinite(model.predict(X_test)).all()


def test_pretraining_off(market):
    model = _fit(market, pretrain_epochs=0)
    assert model.pretrained_model_ is None
    assert len(model.history_) == SMALL["max_epochs"]


@pytest.mark.parametrize("kind", ["state_dict", "path", "estimator"])
def test_pretrained_weights_are_loaded(market, tmp_path, kind):
    X, y, _, _ = market
    base = RNNRegressor(hidden_size=8, num_layers=1, max_epochs=1, verbose=0, random_state=3)
    base.fit(X, y)
    state = base.module_.state_dict()  # Qlib's GRUModel layout: rnn.*, fc_out.*
    path = tmp_path / "gru.pt"
    torch.save(state, path)
    pretrained = {"state_dict": state, "path": str(path), "estimator": base}[kind]
    model = _fit(market, pretrained=pretrained, pretrain_epochs=5, max_epochs=0)
    assert model.pretrained_model_ is None  # given weights replace pretraining
    for name, weight in model.module_.rnn.state_dict().items():
        torch.testing.assert_close(weight, state["rnn." + name])


def test_pretrained_weights_of_another_shape_are_refused(market):
    state = RNNRegressor(d_feat=5, hidden_size=4, num_layers=1).initialize().module_.state_dict()
    with pytest.raises(ValueError, match="do not fit this encoder"):
        _fit(market, pretrained=state)


def test_default_validation_is_the_last_dates_with_a_gap(market):
    X, y, _, _ = market
    seen = {}

    class RecordSplit(Callback):
        def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
            seen.update(train=dataset_train.dates, valid=dataset_valid.dates)

    params = {**SMALL, "pretrain_epochs": 0, "max_epochs": 1, "callbacks": [RecordSplit()]}
    IGMTFRegressor(**params).fit(X, y)
    dates = X.index.get_level_values(0).unique()
    n_valid = round(0.2 * len(dates))
    assert list(seen["valid"]) == list(dates[-n_valid:])
    assert list(seen["train"]) == list(dates[: len(dates) - n_valid - 2])


def test_date_valid_split_rejects_impossible_sizes():
    with pytest.raises(ValueError, match="no training day is left"):
        DateValidSplit(valid_size=5, gap_days=2).split_days(6)
    with pytest.raises(ValueError, match="valid_size"):
        DateValidSplit(valid_size=1.5).split_days(10)


def test_explicit_validation_scores_the_given_segment(market):
    X, y, X_test, y_test = market
    model = _fit(market, train_split=ExplicitValidation(X_test, y_test), patience=None)
    assert np.isfinite(model.history_[:, "valid_ic"]).all()
    assert model.history_[-1, "valid_batch_count"] >= 1


class _RecordStates(Callback):
    """Keep a copy of the module's state (weights and memory bank) after each epoch."""

    def initialize(self):
        self.states_ = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.states_.append(copy.deepcopy(net.module_.state_dict()))


def test_early_stopping_restores_best_weights_and_their_bank(market):
    recorder = _RecordStates()
    model = _fit(market, max_epochs=6, patience=50, lr=0.05, callbacks=[recorder])
    scores = model.history_[:, "valid_ic"]
    best = int(np.argmax(scores))
    final = model.module_.state_dict()
    for name, value in recorder.states_[best].items():
        torch.testing.assert_close(final[name], value, atol=0, rtol=0)
    assert final["bank_hidden"].shape[0] == recorder.states_[best]["bank_hidden"].shape[0]


def test_early_stopping_stops_after_patience(market):
    model = _fit(market, max_epochs=30, patience=2, lr=0.05)
    scores = model.history_[:, "valid_ic"]
    assert len(scores) < 30
    assert np.argmax(scores) == len(scores) - 3


def test_history_and_log_columns(market):
    model = _fit(market)
    row = model.history_[-1]
    for key in ("train_loss", "valid_loss", "valid_ic", "dur", "bank_dur"):
        assert np.isfinite(row[key]), key


def test_nan_labels_are_dropped_not_trained_on(market):
    X, y, X_test, _ = market
    y = y.copy()
    y.iloc[::3] = np.nan
    model = IGMTFRegressor(**{**SMALL, "train_split": None}).fit(X, y)
    assert int(model.memory_bank_["mask"].sum()) == int(y.notna().sum())
    assert np.isfinite(model.history_[:, "train_loss"]).all()
    assert np.isfinite(model.predict(X_test)).all()


def test_days_with_one_row(market):
    X, y, X_test, _ = market
    dates = X.index.get_level_values(0)
    keep = np.ones(len(X), dtype=bool)
    keep[(dates == dates[0]).nonzero()[0][1:]] = False  # first day keeps one row
    model = IGMTFRegressor(**SMALL).fit(X[keep], y[keep])
    one_row = X_test.iloc[[0]]
    assert model.predict(one_row).shape == (1,)


def test_predict_needs_no_training_data_after_joblib_round_trip(market, tmp_path):
    X, y, X_test, _ = market
    pipeline = make_pipeline(RobustZScoreNorm(), Fillna(), IGMTFRegressor(**SMALL))
    pipeline.set_output(transform="pandas").fit(X, y)
    expected = pipeline.predict(X_test)
    joblib.dump(pipeline, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict(X_test), expected)
    # The file holds weights and the bank, not the training panel.
    assert (tmp_path / "model.joblib").stat().st_size < X.to_numpy().nbytes
    assert pickle.loads(pickle.dumps(loaded[-1])).predict(X_test).shape == expected.shape


def test_clone_and_set_params_change_the_network(market):
    X, y, _, _ = market
    model = clone(IGMTFRegressor(**SMALL)).set_params(
        hidden_size=6, num_layers=2, base_model="LSTM", k_day=2, n_neighbor=2, dropout=0.1
    )
    model.fit(X, y)
    module = model.module_
    assert isinstance(module.rnn, torch.nn.LSTM) and module.rnn.num_layers == 2
    assert module.rnn.hidden_size == 6 and module.k_day == 2 and module.n_neighbor == 2
    params = model.get_params()
    assert params["hidden_size"] == 6 and params["pretrain_epochs"] == 1


def test_dropout_trains_on_the_fused_encoder_and_a_seed_repeats_the_fit(market, monkeypatch):
    """Dropout between the GRU's layers no longer falls back to torch's op (which warns),
    and the masks it draws follow ``random_state``."""
    import warnings

    from igmtf_sklearn.nets import _fused_kernels

    monkeypatch.setattr(_fused_kernels, "_warned", set())  # a fallback warns here, not once before
    X, y, X_test, _ = market
    params = {**SMALL, "num_layers": 2, "dropout": 0.3}
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="fused RNN fast path not used")
        first = IGMTFRegressor(**params).fit(X, y).predict(X_test)
    again = IGMTFRegressor(**params).fit(X, y).predict(X_test)
    np.testing.assert_array_equal(again, first)
    without = IGMTFRegressor(**{**params, "dropout": 0.0}).fit(X, y).predict(X_test)
    assert not np.allclose(without, first)


def test_checkpoint_and_load_init_state_resume(market, tmp_path):
    X, y, X_test, _ = market
    checkpoint = Checkpoint(dirname=str(tmp_path / "ckpt"), monitor=None)
    first = _fit(market, callbacks=[checkpoint])
    resumed = IGMTFRegressor(
        **{**SMALL, "max_epochs": 0, "pretrain_epochs": 0},
        callbacks=[LoadInitState(Checkpoint(dirname=str(tmp_path / "ckpt"), monitor=None))],
    ).fit(X, y)
    np.testing.assert_allclose(resumed.predict(X_test), first.predict(X_test), atol=1e-6)


def test_score_is_the_mean_daily_ic(market):
    from igmtf_sklearn.metrics import mean_ic

    model = _fit(market)
    X_test, y_test = market[2], market[3]
    assert model.score(X_test, y_test) == pytest.approx(
        mean_ic(y_test, model.predict(X_test)), abs=1e-5
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda X, y: (X.assign(**{X.columns[0]: np.nan}), y), "Fillna"),
        (lambda X, y: (X.iloc[:, :-1], y), "d_feat"),
        (lambda X, y: (X.reset_index(drop=True), y), "MultiIndex"),
        (lambda X, y: (X, y.iloc[:-1]), "index differs"),
        (lambda X, y: (X, y * np.nan), "Every label"),
        (lambda X, y: (X.iloc[::-1], y.iloc[::-1]), "not sorted"),
    ],
    ids=["nan-features", "bad-width", "no-multiindex", "y-misaligned", "all-nan-y", "unsorted"],
)
def test_bad_input_is_refused_before_training(market, mutate, message):
    X, y = mutate(market[0], market[1])
    model = IGMTFRegressor(**SMALL)
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(X, y)
    assert not hasattr(model, "module_")


def test_predict_checks_columns_and_fit(market):
    X_test = market[2]
    with pytest.raises(Exception, match="not initialized|fit"):
        IGMTFRegressor(**SMALL).predict(X_test)
    model = _fit(market)
    with pytest.raises(ValueError, match="same feature columns"):
        model.predict(X_test.rename(columns={X_test.columns[0]: "OTHER"}))


def test_d_feat_must_be_given_for_non_alpha_columns(market):
    X, y, _, _ = market
    renamed = X.set_axis([f"f_{i}" for i in range(X.shape[1])], axis=1)
    with pytest.raises(ValueError, match="Pass d_feat"):
        IGMTFRegressor(**SMALL).fit(renamed, y)
    model = IGMTFRegressor(**SMALL, d_feat=5).fit(renamed, y)
    assert model.d_feat_ == 5


def test_rnn_regressor_alone(market):
    X, y, X_test, _ = market
    model = RNNRegressor(hidden_size=8, num_layers=1, max_epochs=2, verbose=0, random_state=0)
    pred = model.fit(X, y).predict(X_test)
    assert pred.shape == (len(X_test),) and np.isfinite(pred).all()
    assert "valid_loss" in model.history_[-1]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_predicts_like_cpu_within_tolerance(market):
    X_test = market[2]
    gpu = _fit(market, device="cuda")
    assert gpu.module_.bank_hidden.is_cuda
    assert np.isfinite(gpu.predict(X_test)).all()


def test_frames_with_float64_columns_are_accepted(market):
    X, y, X_test, _ = market
    model = IGMTFRegressor(**SMALL).fit(X.astype("float64"), y.astype("float64"))
    assert model.predict(X_test).dtype == np.float32


def test_labels_as_one_column_frame(market):
    X, y, _, _ = market
    model = IGMTFRegressor(**SMALL).fit(X, pd.DataFrame({"LABEL0": y}))
    assert model.module_.has_memory_bank


def test_interrupted_training_resumes_to_the_same_model(market, tmp_path):
    X, y, X_test, _ = market
    params = {**SMALL, "train_split": None, "max_epochs": 4}
    uninterrupted = IGMTFRegressor(**params).fit(X, y).predict(X_test)

    ckpt = str(tmp_path / "ckpt")
    IGMTFRegressor(
        **{**params, "max_epochs": 2}, callbacks=[Checkpoint(dirname=ckpt, monitor=None)]
    ).fit(X, y)
    resumed = IGMTFRegressor(
        **{**params, "max_epochs": 2},
        callbacks=[LoadInitState(Checkpoint(dirname=ckpt, monitor=None))],
    ).fit(X, y)
    assert len(resumed.history_) == 4
    np.testing.assert_array_equal(resumed.predict(X_test), uninterrupted)


def test_identical_predictions_across_processes(market, tmp_path):
    import subprocess
    import sys

    X, y, X_test, _ = market
    joblib.dump((X, y, X_test), tmp_path / "data.joblib")
    script = (
        "import sys, joblib, numpy as np, torch\n"
        "torch.set_num_threads(1)\n"
        "from igmtf_sklearn import IGMTFRegressor\n"
        "X, y, X_test = joblib.load(sys.argv[1])\n"
        f"model = IGMTFRegressor(**{SMALL!r}).fit(X, y)\n"
        "np.save(sys.argv[2], model.predict(X_test))\n"
    )
    for run in ("a", "b"):
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "data.joblib"), str(tmp_path / run)],
            check=True,
        )
    first, second = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, _fit(market).predict(X_test))


class _InterruptAfter(Callback):
    """Press Ctrl-C at the end of epoch ``epoch`` (after the checkpoint is written)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_keyboard_interrupt_then_resume_reaches_the_uninterrupted_model(market, tmp_path):
    X, y, X_test, _ = market
    params = {**SMALL, "train_split": None, "max_epochs": 4}
    uninterrupted = IGMTFRegressor(**params).fit(X, y).predict(X_test)
    ckpt = str(tmp_path / "ckpt")
    interrupted = IGMTFRegressor(
        **params, callbacks=[Checkpoint(dirname=ckpt, monitor=None), _InterruptAfter(3)]
    ).fit(X, y)  # skorch ends training on KeyboardInterrupt, keeping what was done
    assert len(interrupted.history_) == 3
    resumed = IGMTFRegressor(
        **{**params, "max_epochs": 1},
        callbacks=[LoadInitState(Checkpoint(dirname=ckpt, monitor=None))],
    ).fit(X, y)
    np.testing.assert_array_equal(resumed.predict(X_test), uninterrupted)


def _fit_rnn(market, **params):
    X, y, _, _ = market
    return RNNRegressor(**{**SMALL_RNN, **params}).fit(X, y)


def test_rnn_restores_the_best_epoch_by_its_monitor(market):
    chosen = {}
    for monitor in ("valid_loss", "valid_ic"):
        recorder = _RecordStates()
        model = _fit_rnn(market, max_epochs=6, patience=50, monitor=monitor, callbacks=[recorder])
        stopper = dict(model.callbacks_)["early_stopping"]
        chosen[monitor] = stopper.best_epoch_ - 1
        final = model.module_.state_dict()
        for name, value in recorder.states_[chosen[monitor]].items():
            torch.testing.assert_close(final[name], value, atol=0, rtol=0)
    history = model.history_  # the same seed: both fits trained alike, epoch for epoch
    assert chosen["valid_ic"] == np.argmax(history[:, "valid_ic"])
    # skorch's loss rule: lower by more than its relative threshold (1e-4) counts
    assert history[chosen["valid_loss"]]["valid_loss"] <= min(history[:, "valid_loss"]) * 1.0001
    assert chosen["valid_loss"] != chosen["valid_ic"]  # the rules differ on this fit


def test_rnn_stops_when_the_validation_ic_stops_rising(market):
    model = _fit_rnn(market, max_epochs=30, patience=2, monitor="valid_ic")
    scores = model.history_[:, "valid_ic"]
    assert len(scores) < 30 and np.argmax(scores) == len(scores) - 3


def test_igmtf_pretraining_stops_on_its_monitor(market):
    model = _fit(market, pretrain_epochs=4, pretrain_patience=50, pretrain_monitor="valid_ic")
    base = model.pretrained_model_
    assert base.monitor == "valid_ic"
    stopper = dict(base.callbacks_)["early_stopping"]
    assert stopper.monitor == "valid_ic" and not stopper.lower_is_better
    assert (
        _fit(market).pretrained_model_.monitor == "valid_loss"
    )  # Qlib's GRU rule stays the default


def test_clones_share_the_explicit_validation_panel(market):
    """``clone`` deep-copies parameters (per GridSearchCV candidate, per VotingRegressor
    member); the validation panel is only read, so the copies share it."""
    X, y = market[0], market[1]
    split = ExplicitValidation(X, y)
    copied = clone(IGMTFRegressor(train_split=split)).train_split
    assert copied is not split and copied.X_valid is X and copied.y_valid is y
