"""Bad input gets one clear error, naming the problem and the fix, before any work.

One table over the public entry points; each row is (entry point, how the input
is broken, the error type, a phrase the message must contain).
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igmtf_sklearn import IGMTFRegressor
from igmtf_sklearn.datasets import load_qlib, make_stock_panel, read_ohlcv
from igmtf_sklearn.metrics import daily_ic, ic_scorer
from igmtf_sklearn.persistence import load_model
from igmtf_sklearn.preprocessing import (
    Alpha360,
    CSRankNorm,
    CSZScoreNorm,
    Fillna,
    RobustZScoreNorm,
    forward_return,
)

PANEL = make_stock_panel(n_instruments=8, n_days=40, random_state=0)
FEATURES = Alpha360(window=3).fit_transform(PANEL).fillna(0.0)
LABELS = forward_return(PANEL)
FIRST_DAY = PANEL.index[0][0]
TINY = {"hidden_size": 2, "num_layers": 1, "pretrain_epochs": 0, "max_epochs": 1, "verbose": 0}


def _fit(X=FEATURES, y=LABELS, **params):
    return IGMTFRegressor(**{**TINY, **params}).fit(X, y)


def _broken_panels(frame):
    """The ways a panel's index can break the convention, with the phrase expected."""
    duplicated = pd.concat([frame, frame.iloc[:1]]).sort_index()
    return {
        "not-multiindex": (frame.reset_index(drop=True), "MultiIndex"),
        "swapped-levels": (frame.swaplevel(), "swaplevel"),
        "misnamed-levels": (frame.rename_axis(["date", "code"]), "rename_axis"),
        "unsorted": (frame.iloc[::-1], "sort_index"),
        "duplicate-keys": (duplicated, "duplicate"),
        "empty": (frame.iloc[:0], "empty"),
    }


INDEX_ENTRY_POINTS = {
    "Alpha360.fit": lambda X: Alpha360(window=3).fit(X),
    "CSRankNorm": lambda X: CSRankNorm().fit_transform(X),
    "CSZScoreNorm": lambda X: CSZScoreNorm().fit_transform(X),
    "forward_return": forward_return,
    "IGMTFRegressor.fit": lambda X: _fit(X, LABELS.reindex(X.index) if len(X) else LABELS),
}


@pytest.mark.parametrize("entry", sorted(INDEX_ENTRY_POINTS))
@pytest.mark.parametrize("breakage", sorted(_broken_panels(PANEL)))
def test_broken_panel_index_is_refused(entry, breakage):
    source = FEATURES if entry == "IGMTFRegressor.fit" else PANEL
    frame, phrase = _broken_panels(source)[breakage]
    with pytest.raises(ValueError, match=phrase):
        INDEX_ENTRY_POINTS[entry](frame)


def _with_column(frame, column, value):
    return frame.assign(**{column: value})


CASES = [
    # (id, callable, error type, phrase)
    (
        "alpha-non-numeric",
        lambda: Alpha360().fit(_with_column(PANEL, "close", "x")),
        ValueError,
        "numeric",
    ),
    (
        "alpha-inf",
        lambda: Alpha360(window=3).fit_transform(_with_column(PANEL, "close", np.inf)),
        ValueError,
        "infinite",
    ),
    (
        "alpha-missing-close",
        lambda: Alpha360().fit(PANEL.drop(columns="close")),
        ValueError,
        "close",
    ),
    (
        "robust-inf",
        lambda: RobustZScoreNorm().fit(_with_column(FEATURES, "CLOSE0", np.inf)),
        ValueError,
        "infinity",
    ),
    (
        "model-nan-features",
        lambda: _fit(_with_column(FEATURES, "CLOSE0", np.nan)),
        ValueError,
        "Fillna",
    ),
    (
        "model-inf-features",
        lambda: _fit(_with_column(FEATURES, "CLOSE0", np.inf)),
        ValueError,
        "infinite",
    ),
    (
        # Finite in float64, infinite once cast to the network's float32.
        "model-float32-overflow",
        lambda: _fit(_with_column(FEATURES.astype("float64"), "CLOSE0", 1e39)),
        ValueError,
        "infinite",
    ),
    (
        "model-non-numeric",
        lambda: _fit(_with_column(FEATURES, "CLOSE0", "x")),
        ValueError,
        "non-numeric",
    ),
    ("model-width-not-multiple", lambda: _fit(FEATURES.iloc[:, :-1]), ValueError, "d_feat"),
    ("model-explicit-d_feat", lambda: _fit(d_feat=7), ValueError, "multiple of d_feat"),
    ("model-y-misaligned", lambda: _fit(y=LABELS.iloc[:-1]), ValueError, "reindex"),
    (
        "model-y-array-short",
        lambda: _fit(y=LABELS.to_numpy()[:-1]),
        ValueError,
        "one label per row of X",
    ),
    ("model-all-labels-nan", lambda: _fit(y=LABELS * np.nan), ValueError, "Every label"),
    (
        "model-single-day",
        lambda: _fit(FEATURES.loc[[FIRST_DAY]], LABELS.loc[[FIRST_DAY]]),
        ValueError,
        "no training day",
    ),
    ("model-k_day-zero", lambda: _fit(k_day=0), ValueError, "k_day"),
    ("model-label-norm", lambda: _fit(label_norm="rank"), ValueError, "label_norm"),
    ("model-base-model", lambda: _fit(base_model="RNN"), ValueError, "GRU"),
    (
        "model-valid-size",
        lambda: _fit(train_split=__import__("igmtf_sklearn").DateValidSplit(1.5)),
        ValueError,
        "valid_size",
    ),
    (
        "model-predict-before-fit",
        lambda: IGMTFRegressor().predict(FEATURES),
        Exception,
        "initialized",
    ),
    (
        "model-pretrained-missing",
        lambda: _fit(pretrained="/nonexistent/gru.pt"),
        ValueError,
        "does not exist",
    ),
    ("model-X-array", lambda: _fit(FEATURES.to_numpy()), TypeError, "DataFrame"),
    ("ic-length", lambda: daily_ic(LABELS, np.zeros(3)), ValueError, "rows"),
    (
        "scorer-no-panel",
        lambda: ic_scorer(_fit(), FEATURES.to_numpy(), LABELS.to_numpy()),
        TypeError,
        "MultiIndex",
    ),
    ("qlib-missing-dir", lambda: load_qlib("/nonexistent"), ValueError, "does not exist"),
    ("ohlcv-missing-column", lambda: read_ohlcv(PANEL.drop(columns="close")), ValueError, "close"),
    (
        "load-model-missing",
        lambda: load_model("/nonexistent/model.pt"),
        ValueError,
        "No model file",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "phrase"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_gets_a_clear_error(call, error, phrase):
    with pytest.raises(error, match=phrase):
        call()


def test_predict_with_other_columns_than_fit():
    model = _fit()
    with pytest.raises(ValueError, match="same feature columns"):
        model.predict(FEATURES.iloc[:, ::-1])


def test_qlib_dir_errors(tmp_path):
    (tmp_path / "calendars").mkdir()
    with pytest.raises(ValueError, match="calendar"):
        load_qlib(tmp_path)
    (tmp_path / "calendars" / "day.txt").write_text("2020-01-02\n2020-01-03\n")
    (tmp_path / "instruments").mkdir()
    (tmp_path / "instruments" / "csi300.txt").write_text("SH600000\t2020-01-02\t2020-01-03\n")
    with pytest.raises(ValueError, match="csi300"):
        load_qlib(tmp_path, "csi500")
    feature = tmp_path / "features" / "sh600000"
    feature.mkdir(parents=True)
    (feature / "close.day.bin").write_bytes(b"\x00\x00\x80")  # truncated
    with pytest.raises(ValueError, match="truncated"):
        load_qlib(tmp_path, "csi300")


@st.composite
def malformed_panels(draw):
    """Small feature panels, then broken in one random way (or left intact)."""
    n_days = draw(st.integers(1, 6))
    n_inst = draw(st.integers(1, 4))
    dates = pd.bdate_range("2021-01-01", periods=n_days)
    index = pd.MultiIndex.from_product(
        [dates, [f"S{i}" for i in range(n_inst)]], names=["datetime", "instrument"]
    )
    values = draw(
        st.lists(
            st.floats(allow_nan=True, allow_infinity=True, width=32),
            min_size=len(index) * 6,
            max_size=len(index) * 6,
        )
    )
    X = pd.DataFrame(
        np.asarray(values, dtype=np.float32).reshape(len(index), 6),
        index=index,
        columns=[f"{f}{i}" for f in ("CLOSE", "VOLUME") for i in (2, 1, 0)],
    )
    y = pd.Series(np.linspace(-1, 1, len(index)), index=index)
    how = draw(st.sampled_from(["none", "shuffle", "swap", "drop-rows", "nan-label", "dup"]))
    if how == "shuffle":
        X = X.sample(frac=1, random_state=0)
    elif how == "swap":
        X = X.swaplevel()
    elif how == "drop-rows":
        X = X.iloc[: len(X) // 2]
    elif how == "nan-label":
        y = y * np.nan
    elif how == "dup":
        X = pd.concat([X, X]).sort_index()
    return X, y


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy on inf/NaN-only columns
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(malformed_panels())
def test_random_malformed_panels_only_raise_value_or_type_errors(case):
    X, y = case
    for step in (RobustZScoreNorm(), Fillna(), CSRankNorm()):
        try:
            step.fit_transform(X)
        except (ValueError, TypeError):
            pass
    try:
        _fit(X, y, train_split=None).predict(X.fillna(0))
    except (ValueError, TypeError):
        pass


def test_a_step_swapped_in_without_pandas_output_gets_the_fix():
    """GridSearchCV swapping a FeatureUnion into a pipeline after its set_output: the union
    returns an array, the next step a frame without the panel index; the error says how."""
    from sklearn.pipeline import FeatureUnion, Pipeline

    pipeline = Pipeline(
        [("norm", RobustZScoreNorm()), ("fill", Fillna()), ("model", IGMTFRegressor(**TINY))]
    ).set_output(transform="pandas")
    union = FeatureUnion([("robust", RobustZScoreNorm()), ("per_day", CSZScoreNorm())])
    with pytest.raises(ValueError, match=r"set_output\(transform='pandas'\) on it"):
        pipeline.set_params(norm=union).fit(FEATURES, LABELS)
