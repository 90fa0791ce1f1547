"""Parameter rules live in scikit-learn constraints: every public function of the data,
feature, metric, selection, backtest and report layers declares one per parameter
(``validate_params``), and every public transformer and splitter one per ``__init__``
parameter (``_parameter_constraints``), as scikit-learn's ``test_public_functions``.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
from sklearn.utils._param_validation import InvalidParameterError

MODULES = [
    "igmtf_sklearn.datasets",
    "igmtf_sklearn.preprocessing",
    "igmtf_sklearn.metrics",
    "igmtf_sklearn.model_selection",
    "igmtf_sklearn.backtest",
    "igmtf_sklearn.report",
]

#: Functions that take nothing but the data, whose own checks say how to fix it.
DATA_ONLY = {"to_qlib_pred", "from_qlib_pred"}
#: Re-exported from lower layers, checked where they are defined.
FOREIGN = {"atomic_path", "atomic_write", "DateValidSplit", "ExplicitValidation"}


def _public(kind):
    found = {}
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if kind(obj) and name not in FOREIGN:
                found[f"{module_name}.{name}"] = obj
    return sorted(found.items())


FUNCTIONS = [(n, f) for n, f in _public(inspect.isfunction) if f.__name__ not in DATA_ONLY]
CLASSES = [
    (n, c)
    for n, c in _public(inspect.isclass)
    if not issubclass(c, Warning) and "__init__" in vars(c)
]


def _parameters(function):
    return [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


@pytest.mark.parametrize(("name", "function"), FUNCTIONS, ids=[n for n, _ in FUNCTIONS])
def test_public_function_constrains_every_parameter(name, function):
    constraints = getattr(function, "_skl_parameter_constraints", None)
    assert constraints is not None, f"{name} is not decorated with validate_params"
    assert sorted(constraints) == sorted(_parameters(function))


@pytest.mark.parametrize(("name", "cls"), CLASSES, ids=[n for n, _ in CLASSES])
def test_public_class_constrains_every_parameter(name, cls):
    if not hasattr(cls, "_parameter_constraints"):
        pytest.skip(f"{name} is not configured by parameters (a result or a callback)")
    assert sorted(cls._parameter_constraints) == sorted(_parameters(cls.__init__))


def test_an_invalid_parameter_names_itself_and_what_is_allowed():
    from igmtf_sklearn.datasets import make_stock_panel

    with pytest.raises(InvalidParameterError, match=r"'n_days' parameter of make_stock_panel"):
        make_stock_panel(5, 2)
    with pytest.raises(ValueError, match=r"an int in the range \[3, inf\)\. Got 2 instead"):
        make_stock_panel(5, 2)
