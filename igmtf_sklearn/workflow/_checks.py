"""The problem list and value checks that the configuration's section validators share."""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import numbers

import numpy as np
import pandas as pd


class _Problems(list):
    """The problems found so far, each prefixed with where it is in the config."""

    def add(self, where: str, message: str) -> None:
        self.append(f"{where}: {message}")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _number_hint(value) -> str:
    # PyYAML follows YAML 1.1, which reads 1e-4 (no dot) as a string.
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            float(value)
            return " (YAML read it as text: write numbers like 1.0e-4, with a dot)"
    return ""


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
