"""The ``model`` and ``backtest`` sections of a configuration.

Both are checked against the code they configure: the keys a ``model`` section
may hold are :class:`~igmtf_sklearn.IGMTFRegressor`'s parameters, and a
``backtest`` section's are :func:`~igmtf_sklearn.backtest.topk_dropout_backtest`'s,
with that function's defaults.
"""

from __future__ import annotations

import inspect
import numbers
import os
from pathlib import Path

from ..backtest import topk_dropout_backtest
from ..backtest._topk import setting_problems
from ..nets import IGMTFRegressor
from ._checks import _check_keys, _is_int, _is_number, _number_hint

# Estimator parameters a YAML file cannot or must not set: objects, and the
# validation split, which the workflow sets to the valid segment.
_MODEL_EXCLUDED = {"self", "kwargs", "module", "criterion", "optimizer", "train_split"}
_MODEL_EXTRA = {"verbose", "device"}
_MODEL_PREFIXES = ("module__", "optimizer__", "criterion__")


def _model_parameters() -> dict:
    """The IGMTFRegressor parameters a configuration may set, with their defaults."""
    signature = inspect.signature(IGMTFRegressor.__init__).parameters
    allowed = {k: p.default for k, p in signature.items() if k not in _MODEL_EXCLUDED}
    allowed.update(verbose=1, device="cpu")
    return allowed


def _int_at_least(low, *, optional=False):
    def check(value):
        return (optional and value is None) or (_is_int(value) and value >= low)

    return check, f"an int >= {low}" + (" or null" if optional else "")


def _positive(*, optional=False):
    def check(value):
        return (optional and value is None) or (_is_number(value) and value > 0)

    return check, "a positive number" + (" or null" if optional else "")


def _one_of(*choices):
    return (lambda value: value in choices), " or ".join(map(str, choices)).replace("None", "null")


def _existing_file(value):
    return value is None or (
        isinstance(value, str | os.PathLike) and Path(os.fspath(value)).is_file()
    )


#: ``model`` parameters checked before any work: (check, what a valid value is).
#: Parameters not listed here are left to the estimator.
_MODEL_RULES = {
    "d_feat": _int_at_least(1, optional=True),
    "hidden_size": _int_at_least(1),
    "num_layers": _int_at_least(1),
    "k_day": _int_at_least(1),
    "n_neighbor": _int_at_least(1),
    "batch_size": _int_at_least(1),
    "pretrain_batch_size": _int_at_least(1),
    "max_epochs": _int_at_least(1),
    "pretrain_epochs": _int_at_least(0),
    "patience": _int_at_least(1, optional=True),
    "pretrain_patience": _int_at_least(1, optional=True),
    "random_state": (lambda v: v is None or _is_int(v), "an int or null"),
    "verbose": _int_at_least(0),
    "lr": _positive(),
    "pretrain_lr": _positive(),
    "clip_value": _positive(optional=True),
    "dropout": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "base_model": _one_of("GRU", "LSTM"),
    "label_norm": _one_of("csrank", "cszscore", None),
    "device": (lambda v: isinstance(v, str), "a device name such as cpu or cuda"),
    "pretrained": (_existing_file, "an existing file or null"),
}


def _check_model_value(problems, key, value):
    rule = _MODEL_RULES.get(key)
    if rule is not None and not rule[0](value):
        problems.add(f"model.{key}", f"must be {rule[1]}, got {value!r}{_number_hint(value)}")


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
        else:
            _check_model_value(problems, key, value)
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
    flags = {"forbid_all_trade_at_limit", "sell_delisted"}
    for key in flags:
        if not isinstance(settings[key], bool):
            problems.add(f"backtest.{key}", f"must be true or false, got {settings[key]!r}")
    numeric = {k: v for k, v in settings.items() if k not in flags}
    for message in setting_problems(**numeric):
        key = message.split(" ", 1)[0]
        problems.add(f"backtest.{key}", message.split(" ", 1)[1] + _number_hint(numeric[key]))
    return settings
