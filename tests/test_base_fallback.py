"""``base_fallback=True``: IGMTF or the GRU it pretrained, chosen on the validation days."""

import numpy as np
import pytest
from _small_nets import SMALL_IGMTF
from sklearn.utils._param_validation import InvalidParameterError

from igmtf_sklearn import ExplicitValidation, IGMTFRegressor
from igmtf_sklearn._utils._panel import day_slices
from igmtf_sklearn.nets import _base_fallback
from igmtf_sklearn.nets._refit import kept_epochs
from igmtf_sklearn.nets._score_power import choose_power, powered_scores

# Enough epochs, with a patience short enough, for early stopping to keep fewer than all.
IGMTF = {**SMALL_IGMTF, "pretrain_epochs": 4, "max_epochs": 3, "pretrain_patience": 2}


@pytest.fixture(scope="module")
def days(split_market):
    """``(X_fit, y_fit, X_valid, y_valid, X_test, y_test)``: the fit's days, its last 12
    as an explicit validation segment, and the test days."""
    X, y, X_test, y_test = split_market
    dates = X.index.get_level_values("datetime")
    cut = dates.unique()[-12]
    fit, valid = dates < cut, dates >= cut
    return X[fit], y[fit], X[valid], y[valid], X_test, y_test


def _model(days, **params):
    return IGMTFRegressor(**IGMTF, train_split=ExplicitValidation(*days[2:4]), **params)


@pytest.fixture
def forced(monkeypatch):
    """Make the comparison's scores what a test needs: ``forced("base")`` lets the base
    win, ``forced("igmtf")`` IGMTF, ``forced("tie")`` neither."""

    def force(winner):
        def score(net):
            is_base = not isinstance(net, IGMTFRegressor)
            return 1.0 if winner == "tie" or is_base == (winner == "base") else 0.0

        monkeypatch.setattr(_base_fallback, "kept_validation_ic", score)

    return force


def test_the_choice_compares_the_validation_ic_of_the_epochs_each_kept(days):
    model = _model(days, base_fallback=True).fit(*days[:2])
    base = model.pretrained_model_
    assert model.validation_ics_ == {
        "base": base.history_[kept_epochs(base) - 1]["valid_ic"],
        "igmtf": model.history_[kept_epochs(model) - 1]["valid_ic"],
    }
    assert model.base_chosen_ == (model.validation_ics_["base"] > model.validation_ics_["igmtf"])
    # IGMTF stops on the IC: its kept epoch is its best
    assert model.validation_ics_["igmtf"] == max(row["valid_ic"] for row in model.history_)


def test_the_option_changes_no_training_only_what_predicts(days, forced):
    """Both networks train as without the option; the choice routes ``predict``."""
    plain = _model(days).fit(*days[:2])
    assert not hasattr(plain, "base_chosen_")
    for winner in ("igmtf", "tie"):  # a tie keeps IGMTF
        forced(winner)
        kept = _model(days, base_fallback=True).fit(*days[:2])
        assert kept.base_chosen_ is False
        np.testing.assert_array_equal(kept.predict(days[4]), plain.predict(days[4]))
    forced("base")
    fallen_back = _model(days, base_fallback=True).fit(*days[:2])
    assert fallen_back.base_chosen_ is True
    gru = plain.pretrained_model_.predict(days[4])
    np.testing.assert_array_equal(fallen_back.predict(days[4]), gru)
    assert not np.array_equal(gru, plain.predict(days[4]))
    assert fallen_back.score(*days[4:]) == plain.pretrained_model_.score(*days[4:])


def test_score_power_chooses_on_the_chosen_base(days, forced):
    forced("base")
    model = _model(days, base_fallback=True, score_power="auto").fit(*days[:2])
    X_valid, y_valid, X_test = days[2:5]
    base = model.pretrained_model_
    counts = day_slices(X_valid.index)[1]
    assert model.score_power_ == choose_power(base.predict(X_valid), y_valid.to_numpy(), counts)
    expected = powered_scores(base.predict(X_test), day_slices(X_test.index)[1], model.score_power_)
    np.testing.assert_allclose(model.predict(X_test), expected, rtol=1e-6)


def test_a_refit_refits_the_chosen_base_alone(days, forced):
    forced("base")
    model = _model(days, base_fallback=True, refit=True).fit(*days[:2])
    validated = _model(days, base_fallback=True).fit(*days[:2])
    base = model.pretrained_model_
    assert model.refit_epochs_ == {"pretrain_epochs": kept_epochs(validated.pretrained_model_)}
    # The base trained on every day, validation included, for the epochs it kept.
    assert len(base.history_) == model.refit_epochs_["pretrain_epochs"]
    assert "valid_ic" not in base.history_[-1] and "valid_ic" in base.validation_history_[-1]
    # IGMTF's network was not refit: its history is the validated one.
    assert "valid_ic" in model.history_[-1]
    assert model.validation_history_ == model.history_
    np.testing.assert_array_equal(model.predict(days[4]), base.predict(days[4]))
    assert not np.array_equal(model.predict(days[4]), validated.predict(days[4]))


def test_a_later_fit_starts_from_no_choice(days, forced):
    forced("base")
    model = _model(days, base_fallback=True).fit(*days[:2])
    assert model.base_chosen_
    plain = _model(days).fit(*days[:2])
    model.set_params(base_fallback=False).fit(*days[:2])
    assert not hasattr(model, "base_chosen_") and not hasattr(model, "validation_ics_")
    np.testing.assert_array_equal(model.predict(days[4]), plain.predict(days[4]))


def test_the_choice_is_saved_with_the_model(days, forced, tmp_path):
    forced("base")
    model = _model(days, base_fallback=True).fit(*days[:2])
    model.save(tmp_path / "model.pt")
    loaded = IGMTFRegressor.load(tmp_path / "model.pt")
    assert loaded.base_chosen_ is True and loaded.validation_ics_ == model.validation_ics_
    np.testing.assert_array_equal(loaded.predict(days[4]), model.predict(days[4]))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pretrain_epochs": 0}, r"base is not trained \(pretrain_epochs=0\)"),
        ({"pretrained": {}}, "given by pretrained"),
        ({"train_split": None}, "holds out no validation days"),
        ({"max_epochs": 0}, "trains no IGMTF epoch"),
        ({"warm_start": True}, "warm_start=True continues the earlier fit"),
    ],
)
def test_a_fallback_with_nothing_to_compare_is_refused_before_any_work(days, params, message):
    model = IGMTFRegressor(**{**IGMTF, **params}, base_fallback=True)
    with pytest.raises(ValueError, match=message):
        model.fit(*days[:2])
    assert not hasattr(model, "module_")


def test_base_fallback_must_be_a_boolean(days):
    with pytest.raises(InvalidParameterError, match="base_fallback"):
        IGMTFRegressor(**IGMTF, base_fallback="yes").fit(*days[:2])
