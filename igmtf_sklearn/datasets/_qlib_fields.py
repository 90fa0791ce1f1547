"""The field files of Qlib's day-bar layout: which exist, their checks and their values.

``<provider_uri>/features/<instrument>/<field>.day.bin`` is little-endian float32:
element 0 is the calendar index of the first value, the rest are the values of
consecutive calendar days.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["QLIB_FIELDS", "check_bin_sizes", "list_field_files", "read_values", "resolve_fields"]

#: Fields in the order they appear as columns; ``vwap`` / ``factor`` are optional.
QLIB_FIELDS = ("open", "high", "low", "close", "volume", "vwap", "factor")

BIN_SUFFIX = ".day.bin"
DUMP_HINT = "re-dump it with Qlib's scripts/dump_bin.py (or delete it to read that field as NaN)"


def list_field_files(root: Path, codes) -> dict[str, set[str]]:
    """Field names with a ``.day.bin`` file, per instrument (directory listing only)."""
    files = {}
    for code in codes:
        folder = root / "features" / code.lower()
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            names = []  # A member without feature files: all its fields read as NaN.
        files[code] = {n[: -len(BIN_SUFFIX)] for n in names if n.endswith(BIN_SUFFIX)}
    return files


def resolve_fields(fields, files) -> list[str]:
    available = set().union(*files.values())
    if fields is None:
        names = [f for f in QLIB_FIELDS if f in available]
        if not names:
            raise ValueError(
                "The selected instruments have none of the fields "
                f"{', '.join(QLIB_FIELDS)}; check that provider_uri holds daily OHLCV data."
            )
        return names
    if isinstance(fields, str):
        fields = [fields]
    asked = list(dict.fromkeys(str(f).strip().lstrip("$").lower() for f in fields))
    if not asked:
        raise ValueError("fields is empty; pass None for all fields or e.g. ['close'].")
    unknown = [f for f in asked if f not in available]
    if unknown:
        raise ValueError(
            f"Unknown field(s) {unknown}: no selected instrument has them. Available fields: "
            f"{', '.join(sorted(available))}."
        )
    return [f for f in QLIB_FIELDS if f in asked] + [f for f in asked if f not in QLIB_FIELDS]


def bin_path(root: Path, code: str, field: str) -> Path:
    return root / "features" / code.lower() / f"{field}{BIN_SUFFIX}"


def check_bin_sizes(root, codes, field_names, files) -> None:
    # A size check needs only stat(), so a truncated file fails before any data is read.
    for code in codes:
        for field in field_names:
            if field not in files[code]:
                continue
            path = bin_path(root, code, field)
            size = path.stat().st_size
            if size < 4 or size % 4:
                raise ValueError(
                    f"{str(path)!r} is truncated or corrupt: {size} bytes is not a whole number "
                    f"of float32 values after the 4-byte start index; {DUMP_HINT}."
                )


def read_bin(path: Path, n_calendar: int) -> tuple[int, np.ndarray]:
    data = np.fromfile(path, dtype="<f4")
    first = float(data[0])
    if not (np.isfinite(first) and first == int(first) and 0 <= first < n_calendar):
        raise ValueError(
            f"{str(path)!r} is corrupt: its first element (the calendar index of its first "
            f"value) is {first}, outside the calendar's {n_calendar} days; {DUMP_HINT}."
        )
    return int(first), data[1:]


def read_values(root, codes, spells, field_names, files, n_calendar):
    """Values of every (member day, instrument) row, instrument-major, plus their keys."""
    counts = np.array([len(spells[c]) for c in codes], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    values = np.full((offsets[-1], len(field_names)), np.nan, dtype=np.float32)
    for k, code in enumerate(codes):
        days = spells[code]
        rows = slice(offsets[k], offsets[k + 1])
        for j, field in enumerate(field_names):
            if field not in files[code]:
                continue
            first, series = read_bin(bin_path(root, code, field), n_calendar)
            # Days outside the file's span stay NaN; values past the calendar are ignored.
            pos = days - first
            ok = (pos >= 0) & (pos < len(series))
            values[rows, j][ok] = series[pos[ok]]
    days = np.concatenate([spells[c] for c in codes])
    inst = np.repeat(np.arange(len(codes), dtype=np.int32), counts)
    return days, inst, values
