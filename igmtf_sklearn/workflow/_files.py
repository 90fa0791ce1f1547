"""Configuration files: reading them (:func:`load_config`), and those shipped with the package.

``configs/*.yaml`` is package data, so a fresh install (no checkout, no
``examples/`` folder) can run ``igmtf run synthetic_small`` or write a starter
file with ``igmtf init``. ``examples/*.yaml`` in the repository are copies of
these files; ``tests/test_builtin_configs.py`` fails when they differ.

Nothing here imports more than the standard library (PyYAML when a file is
read), so that the command line can list the names in its ``--help`` at no cost.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["builtin_configs", "load_config", "resolve_config", "write_config"]

_SUFFIX = ".yaml"


def _folder() -> Traversable:
    return resources.files(__package__) / "configs"


def builtin_configs() -> list[str]:
    """The names of the configurations shipped with the package.

    Returns
    -------
    names : list of str
        Sorted; each one runs with ``igmtf run NAME`` and is written by
        ``igmtf init NAME``.

    Examples
    --------
    >>> from igmtf_sklearn.workflow import builtin_configs
    >>> builtin_configs()
    ['csi300_alpha360', 'synthetic_small']
    """
    return sorted(
        entry.name[: -len(_SUFFIX)] for entry in _folder().iterdir() if entry.name.endswith(_SUFFIX)
    )


def _builtin(name: str) -> Traversable | None:
    """The packaged file of a built-in name (``synthetic_small`` or ``synthetic_small.yaml``)."""
    stem = name[: -len(_SUFFIX)] if name.endswith(_SUFFIX) else name
    return _folder() / f"{stem}{_SUFFIX}" if stem in builtin_configs() else None


def resolve_config(config: str | os.PathLike) -> Path | Traversable:
    """The file a configuration argument names: a YAML file, or a built-in name.

    An existing file wins over a built-in configuration of the same name.

    Parameters
    ----------
    config : str or path-like
        A path to a YAML file, or the name of a built-in configuration
        (see :func:`builtin_configs`), with or without ``.yaml``.

    Returns
    -------
    path : pathlib.Path or importlib.resources.abc.Traversable
        The file to read.

    Raises
    ------
    ValueError
        When ``config`` is neither an existing file nor a built-in name.

    Examples
    --------
    >>> from igmtf_sklearn.workflow import resolve_config
    >>> resolve_config("synthetic_small").name
    'synthetic_small.yaml'
    """
    path = Path(os.path.expanduser(os.fspath(config)))
    if path.is_file():
        return path
    builtin = _builtin(os.fspath(config))
    if builtin is not None:
        return builtin
    raise ValueError(
        f"Configuration file {str(path)!r} does not exist, and it is not a built-in "
        f"configuration ({', '.join(builtin_configs())}); "
        "`igmtf init NAME` writes one to start from."
    )


def write_config(name: str = "synthetic_small", path: str | os.PathLike | None = None) -> Path:
    """Write a built-in configuration to a file, to edit and run with ``igmtf run PATH``.

    Parameters
    ----------
    name : str, default="synthetic_small"
        A built-in configuration (see :func:`builtin_configs`).
    path : str, path-like or None, default=None
        The file to write; an existing folder receives ``NAME.yaml``; None
        writes ``NAME.yaml`` in the current directory. An existing file is
        never overwritten.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        When ``name`` is not a built-in configuration.
    FileExistsError
        When the file exists already.

    Examples
    --------
    >>> import os, tempfile
    >>> from igmtf_sklearn.workflow import load_config, write_config
    >>> folder = tempfile.mkdtemp()
    >>> path = write_config("synthetic_small", folder)
    >>> path.name, load_config(path)["features"]
    ('synthetic_small.yaml', {'window': 20})
    >>> write_config("synthetic_small", path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileExistsError: ...exists already...
    >>> os.remove(path); os.rmdir(folder)
    """
    source = _builtin(name)
    if source is None:
        raise ValueError(
            f"No built-in configuration named {name!r}; choose one of: "
            f"{', '.join(builtin_configs())}."
        )
    target = Path(os.path.expanduser(os.fspath(path))) if path is not None else Path()
    if target.is_dir():
        target = target / source.name
    try:
        # "x": create, never overwrite (also against a file appearing meanwhile).
        with open(target, "x", encoding="utf-8") as file:
            file.write(source.read_text(encoding="utf-8"))
    except FileExistsError:
        raise FileExistsError(
            f"{str(target)!r} exists already; igmtf init does not overwrite files: "
            "give another path, or move that file away first."
        ) from None
    return target


def load_config(path: str | os.PathLike) -> dict:
    """Read a workflow configuration from a YAML file or a built-in name.

    Parameters
    ----------
    path : str or path-like
        The YAML file, or the name of a configuration shipped with the
        package (see :func:`builtin_configs`, e.g. ``"synthetic_small"``).

    Returns
    -------
    config : dict
        The parsed configuration, not yet validated (see :func:`validate_config`).

    Raises
    ------
    ValueError
        In one line, when the file does not exist, is not valid YAML (with the
        line and column of the problem) or does not hold a mapping.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> from igmtf_sklearn.workflow import load_config
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "run.yaml")
    >>> with open(path, "w") as file:
    ...     _ = file.write("data:\\n  synthetic: {n_instruments: 20}\\nfeatures: {window: 5}\\n")
    >>> load_config(path)
    {'data': {'synthetic': {'n_instruments': 20}}, 'features': {'window': 5}}
    >>> shutil.rmtree(folder)
    >>> load_config("synthetic_small")["output_dir"]
    'runs/synthetic_small'
    """
    try:
        import yaml
    except ImportError as error:
        raise ImportError(
            "Reading a workflow configuration needs PyYAML, a dependency of igmtf-sklearn: "
            "pip install pyyaml."
        ) from error
    source = resolve_config(path)
    try:
        config = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(_yaml_problem(source, error)) from None
    if not isinstance(config, dict):
        raise ValueError(f"{str(source)!r} must hold a YAML mapping of sections, got {config!r}.")
    return config


def _yaml_problem(source, error) -> str:
    """One line: where the YAML parser stopped, what it found, how to fix it."""
    mark = getattr(error, "problem_mark", None)
    where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if "\\t" in str(error):
        fix = "indent with spaces, not tabs"
    elif "'}'" in problem or "']'" in problem:
        fix = "close the { or [ opened before it, and quote values that hold ',' or ': '"
    else:
        fix = (
            "check the indentation there (spaces, each key under its section), and quote "
            "values that hold ': ' or ' #' or start with one of [ { * & ! | > % @ `"
        )
    return f"{str(source)!r} is not valid YAML{where}: {problem}; {fix}."
