"""Every public name is in the API reference (docs/api.rst).

The reference groups the names by module: after ``.. currentmodule:: MODULE``,
a name is documented by an ``autosummary`` entry or a ``.. data::`` directive,
or linked as ``:obj:`NAME <target>``` when MODULE re-exports it from the module
that documents it. Each name in ``__all__`` of the package and of its public
modules must be there, and each link must point at the same object, documented.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[1] / "docs" / "api.rst"

MODULES = [
    "igmtf_sklearn",
    "igmtf_sklearn.datasets",
    "igmtf_sklearn.preprocessing",
    "igmtf_sklearn.metrics",
    "igmtf_sklearn.nets",
    "igmtf_sklearn.model_selection",
    "igmtf_sklearn.backtest",
    "igmtf_sklearn.report",
    "igmtf_sklearn.workflow",
    # The historical paths, thin re-exports of nets.
    "igmtf_sklearn.persistence",
    "igmtf_sklearn.module",
    "igmtf_sklearn.regressor",
]


def _sections(text: str) -> dict[str, tuple[set[str], dict[str, str]]]:
    """``{module: (documented names, {re-exported name: target})}`` of the reference."""
    sections: dict[str, tuple[set[str], dict[str, str]]] = {}
    parts = re.split(r"^\.\. currentmodule:: *(\S+) *$", text, flags=re.MULTILINE)
    for module, body in zip(parts[1::2], parts[2::2]):
        documented, links = sections.setdefault(module, (set(), {}))
        documented.update(re.findall(r"^\.\. data:: *(\w+)", body, flags=re.MULTILINE))
        for block in re.findall(r"^\.\. autosummary::\n((?:[ \t]+.*\n|\n)+)", body, re.MULTILINE):
            for line in block.splitlines():
                entry = line.strip()
                if entry and not entry.startswith(":"):
                    documented.add(entry)
        links.update(re.findall(r":obj:`(\w+) <([\w.]+)>`", body))
    return sections


SECTIONS = _sections(API.read_text(encoding="utf-8"))


def _resolve(dotted: str):
    module, _, name = dotted.rpartition(".")
    return module, name, getattr(importlib.import_module(module), name)


def test_the_reader_finds_the_reference():
    assert "IGMTFRegressor" in SECTIONS["igmtf_sklearn"][0]
    assert (
        SECTIONS["igmtf_sklearn.regressor"][1]["IGMTFRegressor"] == "igmtf_sklearn.IGMTFRegressor"
    )


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_name_is_in_the_api_reference(module_name):
    module = importlib.import_module(module_name)
    documented, links = SECTIONS.get(module_name, (set(), {}))
    missing = [n for n in module.__all__ if n not in documented and n not in links]
    assert not missing, f"{module_name}: {missing} are not in docs/api.rst"
    for name, target in links.items():
        target_module, target_name, obj = _resolve(target)
        assert obj is getattr(module, name), f"{module_name}.{name} links to another object"
        assert target_name in SECTIONS[target_module][0], f"{target} is not documented"


@pytest.mark.parametrize("module_name", MODULES)
def test_the_reference_lists_only_public_names(module_name):
    module = importlib.import_module(module_name)
    documented, links = SECTIONS.get(module_name, (set(), {}))
    extra = sorted((documented | set(links)) - set(module.__all__))
    assert not extra, f"docs/api.rst lists {extra} under {module_name}, not in its __all__"
