"""Every public class and function is documented with numpydoc and shows a runnable example.

The examples themselves run as doctests (``--doctest-modules`` in pyproject.toml);
these tests check that none is missing and, as scikit-learn's
``test_docstring_parameters``, that each ``Parameters`` section lists exactly the
signature's parameters, in order.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import pytest
from numpydoc.docscrape import NumpyDocString

PUBLIC_MODULES = [
    "igmtf_sklearn",
    "igmtf_sklearn.datasets",
    "igmtf_sklearn.preprocessing",
    "igmtf_sklearn.metrics",
    "igmtf_sklearn.model_selection",
    "igmtf_sklearn.backtest",
    "igmtf_sklearn.report",
    "igmtf_sklearn.nets",
    "igmtf_sklearn.workflow",
]


def _public_objects():
    """``(qualified name, object)`` of each public class and function, once each."""
    seen = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            # Constants and scorer instances are data, documented in their module.
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and id(obj) not in seen:
                seen[id(obj)] = (f"{module_name}.{name}", obj)
    return sorted(seen.values())


PUBLIC = _public_objects()
IDS = [name for name, _ in PUBLIC]

#: Known gaps, each to be closed in the module that owns it; strict, so that a
#: closed gap fails here until its entry is removed.
MISSING_EXAMPLE: set[str] = set()
UNDOCUMENTED_PARAMETERS: dict[str, str] = {}


def _cases(gaps):
    """The public objects, those in ``gaps`` marked as strict expected failures."""
    return [
        pytest.param(
            name,
            obj,
            id=name,
            marks=[pytest.mark.xfail(strict=True, reason=str(gaps[name]))] if name in gaps else [],
        )
        for name, obj in PUBLIC
    ]


def _docstring(obj) -> NumpyDocString:
    doc = inspect.getdoc(obj)
    assert doc, "no docstring"
    return NumpyDocString(doc)


def test_the_walk_finds_the_public_api():
    names = set(IDS)
    for expected in (
        "igmtf_sklearn.IGMTFRegressor",
        "igmtf_sklearn.backtest.topk_dropout_backtest",
        "igmtf_sklearn.metrics.daily_ic",
        "igmtf_sklearn.workflow.run_workflow",
    ):
        assert expected in names


@pytest.mark.parametrize(("name", "obj"), _cases(dict.fromkeys(MISSING_EXAMPLE, "no example yet")))
def test_public_object_has_an_example(name, obj):
    examples = "\n".join(_docstring(obj)["Examples"])
    assert ">>>" in examples, f"{name} has no Examples section with a >>> line"
    # The essential lines run: a skipped example shows nothing.
    assert examples.count("+SKIP") < examples.count(">>>"), f"{name}'s example is all skipped"


def _signature_parameters(obj) -> list[str]:
    function = obj.__init__ if inspect.isclass(obj) else obj
    parameters = inspect.signature(function).parameters.values()
    return [
        p.name
        for p in parameters
        if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _documented_parameters(doc: NumpyDocString, section: str) -> list[str]:
    names = []
    for parameter in doc[section]:
        # "open_cost, close_cost : float" documents two parameters at once.
        names.extend(n.strip() for n in parameter.name.split(",") if n.strip())
    # ``**kwargs`` may be documented (what it passes on); the signature check skips it.
    return [n for n in names if not n.startswith("*")]


@pytest.mark.parametrize(("name", "obj"), _cases(UNDOCUMENTED_PARAMETERS))
def test_documented_parameters_match_the_signature(name, obj):
    if inspect.isclass(obj) and issubclass(obj, Warning):
        return  # a warning takes its message only
    expected = _signature_parameters(obj)
    doc = _docstring(obj)
    section = "Parameters"
    if dataclasses.is_dataclass(obj) and not doc["Parameters"]:
        section = "Attributes"  # a dataclass documents its fields as attributes
    documented = _documented_parameters(doc, section)
    assert documented == expected, (
        f"{name}: {section} section lists {documented}, the signature has {expected}"
    )
