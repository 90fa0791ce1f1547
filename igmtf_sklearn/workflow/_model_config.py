"""The ``model`` and ``backtest`` sections of a configuration.

Both are checked against the code they configure: the keys a ``model`` section
may hold are :class:`~igmtf_sklearn.IGMTFRegressor`'s parameters, checked with
its ``_parameter_constraints``, and a ``backtest`` section's are
:func:`~igmtf_sklearn.backtest.topk_dropout_backtest`'s, with that function's
defaults and the constraints of its ``validate_params``. No rule is repeated here.
"""

from __future__ import annotations

import inspect
import numbers
import os
from pathlib import Path

from sklearn.base import clone
from sklearn.ensemble import VotingRegressor
from sklearn.utils._param_validation import StrOptions

from .._utils._param_validation import function_constraints
from ..backtest import topk_dropout_backtest
from ..nets import DailyICLoss, IGMTFRegressor, MaskedMSELoss
from ._checks import _check_constraints, _check_keys

# Estimator parameters a YAML file cannot or must not set: objects, and the
# validation split, which the workflow sets to the valid segment.
_MODEL_EXCLUDED = {"self", "kwargs", "module", "criterion", "optimizer", "train_split"}
_MODEL_EXTRA = {"verbose", "device"}
#: The losses a configuration names with ``criterion:`` (an object cannot be written in YAML).
CRITERIA = {"MaskedMSELoss": MaskedMSELoss, "DailyICLoss": DailyICLoss}
_MODEL_PREFIXES = ("module__", "optimizer__", "criterion__")
#: The largest seed numpy (and so ``random_state``) accepts.
_MAX_SEED = 2**32 - 1


def _model_parameters() -> dict:
    """The IGMTFRegressor parameters a configuration may set, with their defaults."""
    signature = inspect.signature(IGMTFRegressor.__init__).parameters
    allowed = {k: p.default for k, p in signature.items() if k not in _MODEL_EXCLUDED}
    allowed.update(verbose=1, device="cpu", criterion="MaskedMSELoss")
    return allowed


def networks(model) -> list:
    """The fitted networks of a model: itself, or a seed ensemble's members."""
    return list(getattr(model, "estimators_", [model]))


def gru_alone(pipeline, X_test):
    """Test predictions of the GRU that IGMTF pretrained, as an array; a seed ensemble's
    GRUs averaged like its members, so both average as many seeds. None when a network
    was not pretrained in ``fit``."""
    import numpy as np

    grus = [getattr(net, "pretrained_model_", None) for net in networks(pipeline[-1])]
    if None in grus:
        return None
    # The GRU takes the same preprocessed features as IGMTF itself.
    X = pipeline[:-1].transform(X_test)
    return np.mean([gru.predict(X) for gru in grus], axis=0)


def seed_ensemble(network, seeds: int) -> VotingRegressor:
    """``VotingRegressor`` of ``seeds`` copies of ``network``, the k-th seeded
    ``random_state + k`` and named after its seed (``member<k>``, each its own draw,
    when ``random_state`` is None)."""
    first = network.random_state
    members = [
        (f"member{k}", clone(network))
        if first is None
        else (f"seed{first + k}", clone(network).set_params(random_state=first + k))
        for k in range(seeds)
    ]
    return VotingRegressor(members)


def _validate_ensemble_seeds(problems, model, seeds):
    """Members are seeded ``random_state + k``: each must be a valid seed, checked now
    rather than when the k-th member's fit starts, after the others have trained."""
    first = model.get("random_state") if isinstance(model, dict) else None
    if not isinstance(seeds, int) or seeds < 2 or first is None:
        return
    if not isinstance(first, int) or first + seeds - 1 > _MAX_SEED:
        problems.add(
            "model.random_state",
            f"with ensemble.seeds: {seeds} the members are seeded random_state + 0 .. "
            f"{seeds - 1}, so it must be null or an int in [0, {_MAX_SEED - seeds + 1}], "
            f"got {first!r}",
        )


def estimator_parameters(model: dict) -> dict:
    """A validated ``model`` section as ``IGMTFRegressor`` keyword arguments."""
    params = dict(model)
    if "criterion" in params:
        params["criterion"] = CRITERIA[params["criterion"]]
    return params


def _validate_model(problems, model):
    if not isinstance(model, dict):
        problems.add("model", f"must be a mapping of IGMTFRegressor parameters, got {model!r}")
        return {}
    allowed = _model_parameters()
    for key, value in model.items():
        if isinstance(key, str) and key.startswith(_MODEL_PREFIXES):
            if not (value is None or isinstance(value, str | bool | numbers.Number)):
                problems.add(f"model.{key}", f"must be a plain value, got {value!r}")
        elif key not in allowed:
            hint = " (the workflow validates on the valid segment)" if key == "train_split" else ""
            problems.add(
                "model", f"unknown parameter {key!r}{hint}; allowed: {', '.join(sorted(allowed))}"
            )
    known = {k: v for k, v in model.items() if k in allowed}
    constraints = {
        **IGMTFRegressor._parameter_constraints,
        "criterion": [StrOptions(set(CRITERIA))],
    }
    _check_constraints(problems, "model", constraints, known)
    # Checked here too, although fit checks it, so that a wrong path is reported
    # before the data are loaded.
    pretrained = known.get("pretrained")
    if isinstance(pretrained, str | os.PathLike) and not Path(os.fspath(pretrained)).is_file():
        problems.add("model.pretrained", f"file {os.fspath(pretrained)!r} does not exist")
    return dict(model)


def _backtest_defaults() -> dict:
    signature = inspect.signature(topk_dropout_backtest).parameters
    excluded = {"scores", "ohlcv", "benchmark", "return_positions"}
    return {k: p.default for k, p in signature.items() if k not in excluded}


def _validate_backtest(problems, backtest):
    defaults = _backtest_defaults()
    if not isinstance(backtest, dict):
        problems.add("backtest", f"must be a mapping of backtest settings, got {backtest!r}")
        return defaults
    _check_keys(problems, "backtest", backtest, defaults)
    settings = {**defaults, **{k: v for k, v in backtest.items() if k in defaults}}
    _check_constraints(problems, "backtest", function_constraints(topk_dropout_backtest), settings)
    return settings
