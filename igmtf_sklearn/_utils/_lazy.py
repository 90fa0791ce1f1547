"""Lazy re-exports: a package's public names load on first use (PEP 562).

``igmtf --help`` must answer in well under a second, and importing torch,
pandas and scikit-learn takes several. The top-level package and ``workflow``
therefore re-export their names through :func:`lazy_exports`: ``from
igmtf_sklearn import IGMTFRegressor`` works as before, but ``import
igmtf_sklearn.cli`` loads none of the heavy libraries.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str,
    exports: Mapping[str, str],
    submodules: Iterable[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` that import its names on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : mapping of str to str
        Public name -> the module, relative to ``package`` (e.g. ``".nets"``),
        that defines it.
    submodules : iterable of str
        Subpackages and modules reachable as attributes (``igmtf_sklearn.nets``)
        without importing them first.

    Returns
    -------
    getattr, dir : callable
        To assign to the package's ``__getattr__`` and ``__dir__``.
    """
    submodules = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name], package), name)
        elif name in submodules:
            value = importlib.import_module(f".{name}", package)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        # Cache it: __getattr__ is called only for names not yet in the module.
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__() -> list[str]:
        module = importlib.import_module(package)
        return sorted({*vars(module), *exports, *submodules})

    return __getattr__, __dir__
