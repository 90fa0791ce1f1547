"""Progress lines of a fit, and the thread count it runs with."""

import warnings

import pytest
import torch
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

from igmtf_sklearn import IGMTFRegressor, RNNRegressor
from igmtf_sklearn.preprocessing import Fillna, RobustZScoreNorm
from igmtf_sklearn.workflow import torch_threads

TINY = {
    "hidden_size": 4,
    "num_layers": 1,
    "pretrain_epochs": 2,
    "max_epochs": 2,
    "random_state": 0,
}


@pytest.fixture(scope="module")
def normalised(market):
    """The shared market's features normalised and filled, unlabelled rows dropped."""
    X, y = market
    X = make_pipeline(RobustZScoreNorm(), Fillna()).set_output(transform="pandas").fit_transform(X)
    known = y.notna().to_numpy()
    return X[known], y[known]


class _RecordThreads(Callback):
    def on_batch_end(self, net, **kwargs):
        net.history.record_batch("threads", torch.get_num_threads())


def test_fit_says_what_it_trains_at_once_and_records_elapsed_and_left(normalised, capsys):
    X, y = normalised
    IGMTFRegressor(**TINY, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    # The start lines come before any epoch's row, for the pretraining and for IGMTF.
    assert out.index("[GRU] training: up to 2 epochs") < out.index("[IGMTF] training")
    assert "early stopping after 20 without improvement" in out
    model = IGMTFRegressor(**TINY, verbose=0).fit(X, y)
    assert all(isinstance(row["elapsed"], str) and row["left"] for row in model.history_)
    assert model.history_[-1]["left"] == "0s"


def test_verbose_0_prints_nothing(normalised, capsys):
    X, y = normalised
    IGMTFRegressor(**TINY, verbose=0).fit(X, y)
    assert capsys.readouterr().out == ""


def test_first_estimate_and_in_epoch_lines(normalised, capsys):
    """With no wait before the estimate, verbose=2 prints it and the in-epoch lines."""
    X, y = normalised
    model = RNNRegressor(hidden_size=4, num_layers=1, max_epochs=2, batch_size=64, verbose=2)
    model.set_params(callbacks__progress__first_estimate_s=0.0, callbacks__progress__interval_s=0.0)
    model.fit(X, y)
    out = capsys.readouterr().out
    assert "an epoch (training steps), at most ~" in out
    assert "left in this epoch" in out


@pytest.mark.parametrize("estimator", [IGMTFRegressor, RNNRegressor])
def test_n_threads_sets_the_fit_and_restores_torch(normalised, estimator):
    X, y = normalised
    before = torch.get_num_threads()
    model = estimator(**({"pretrain_epochs": 0} if estimator is IGMTFRegressor else {}))
    model.set_params(
        hidden_size=4,
        num_layers=1,
        max_epochs=1,
        verbose=0,
        n_threads=2,
        callbacks=[("threads", _RecordThreads())],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 2 threads on a busy machine
        model.fit(X, y)
    threads = {
        batch["threads"] for row in model.history_ for batch in row["batches"] if "threads" in batch
    }
    assert threads == {2}
    assert torch.get_num_threads() == before


def test_more_threads_than_idle_cores_warns(monkeypatch):
    from igmtf_sklearn._utils import _threads

    monkeypatch.setattr(_threads, "idle_cores", lambda: 1)
    with pytest.warns(RuntimeWarning, match="only 1 of .* cores are idle"):
        with torch_threads(3) as count:
            assert count == 3 and torch.get_num_threads() == 3


def test_auto_is_one_thread_even_with_idle_cores(monkeypatch):
    """One thread fitted these small networks fastest, quiet machine or not."""
    from igmtf_sklearn._utils import _threads

    monkeypatch.setattr(_threads, "idle_cores", lambda: 8)
    with torch_threads("auto") as count:
        assert count == 1 and torch.get_num_threads() == 1


def test_none_leaves_torch_alone():
    before = torch.get_num_threads()
    with torch_threads(None) as count:
        assert count == before


def test_bad_n_threads_is_refused_before_any_work(normalised):
    X, y = normalised
    with pytest.raises(ValueError, match="n_threads"):
        IGMTFRegressor(n_threads=0).fit(X, y)
