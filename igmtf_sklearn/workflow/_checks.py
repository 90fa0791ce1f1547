"""The problem list and value checks that the configuration's section validators share."""

from __future__ import annotations

import contextlib
import datetime as _dt

import numpy as np
import pandas as pd

from .._utils._param_validation import constraint_problem


class _Problems(list):
    """The problems found so far, each prefixed with where it is in the config."""

    def add(self, where: str, message: str) -> None:
        self.append(f"{where}: {message}")


def _number_hint(value) -> str:
    # PyYAML follows YAML 1.1, which reads 1e-4 (no dot) as a string.
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            float(value)
            return " (YAML read it as text: write numbers like 1.0e-4, with a dot)"
    return ""


def _check_constraints(problems, where, constraints, settings):
    """Check settings against the scikit-learn constraints of the code they configure.

    The rules live with that code (an estimator's ``_parameter_constraints``, a
    function's ``validate_params``); settings without a constraint are left to it.
    """
    for key, value in settings.items():
        problem = constraint_problem(constraints[key], value) if key in constraints else None
        if problem is not None:
            problems.add(f"{where}.{key}", problem + _number_hint(value))


def _check_keys(problems, where, mapping, allowed, required=()):
    unknown = sorted(set(mapping) - set(allowed), key=str)
    if unknown:
        problems.add(
            where,
            f"unknown key(s) {', '.join(map(str, unknown))}; allowed: {', '.join(sorted(allowed))}",
        )
    for key in required:
        if key not in mapping:
            problems.add(where, f"missing required key {key!r}")


def _timestamp(value):
    if isinstance(value, str | _dt.date | _dt.datetime | pd.Timestamp | np.datetime64):
        with contextlib.suppress(ValueError, TypeError):
            stamp = pd.Timestamp(value)
            if stamp is not pd.NaT:
                return stamp.normalize()
    return None
