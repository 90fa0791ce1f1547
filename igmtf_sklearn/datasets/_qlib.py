"""Read Qlib's binary day-bar layout straight into a panel, without importing qlib.

The layout (what ``scripts/dump_bin.py`` writes)::

    <provider_uri>/calendars/day.txt               one trading day per line
    <provider_uri>/instruments/<market>.txt        INSTRUMENT<TAB>start<TAB>end, one spell per line
    <provider_uri>/features/<instrument>/<field>.day.bin

Each ``.day.bin`` is little-endian float32: element 0 is the calendar index of the
first value, the rest are the values of consecutive calendar days.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import validate_params

from .._utils._panel import PANEL_LEVELS
from ._qlib_fields import check_bin_sizes, list_field_files, read_values, resolve_fields

if TYPE_CHECKING:
    from .._utils._typing import PathLike

_DATE = [str, datetime.date, np.datetime64, None]


@validate_params(
    {
        "provider_uri": [str, os.PathLike],
        "instruments": [str, dict, Iterable],
        "start_time": _DATE,
        "end_time": _DATE,
        "fields": [str, "array-like", None],
        "members_only": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_qlib(
    provider_uri: PathLike,
    instruments: str | list[str] | dict = "csi300",
    start_time: str | datetime.date | None = None,
    end_time: str | datetime.date | None = None,
    fields: list[str] | None = None,
    *,
    members_only: bool = True,
) -> pd.DataFrame:
    """Load daily bars from a Qlib data directory into a panel.

    Reads Qlib's binary layout directly (``qlib`` is not needed): the calendar
    ``calendars/day.txt``, the membership spells ``instruments/<market>.txt`` and
    one ``features/<instrument>/<field>.day.bin`` file per instrument and field.

    Parameters
    ----------
    provider_uri : str or path-like
        The Qlib data directory, e.g. ``~/.qlib/qlib_data/cn_data``.
    instruments : str, list of str or dict, default="csi300"
        A market name (the stem of a file in ``instruments/``) or a list of
        instrument codes such as ``["SH600000", "SZ000001"]`` (case-insensitive).
        With a market, membership is point-in-time: an instrument appears only on
        the days inside one of its spells in ``instruments/<market>.txt`` (both
        ends included). With a list, every day with data is kept. The dict that
        ``qlib.data.D.instruments("csi300")`` returns is accepted too, as long as
        it has no dynamic filters.
    start_time, end_time : str, datetime-like or None, default=None
        First and last day to load, both included. ``None`` means the first /
        last day of the calendar.
    fields : list of str or None, default=None
        Fields to load, e.g. ``["close", "volume"]`` (a leading ``$`` as in
        Qlib's ``"$close"`` is accepted). ``None`` loads ``open, high, low,
        close, volume`` plus ``vwap`` and ``factor`` where the data has them; a
        field that no selected instrument has is then simply absent.
    members_only : bool, default=True
        True keeps the rows of member days that have data. False keeps, for every
        instrument that is a member at some point of the window, *every* calendar
        day of the window within the span of its data (its history before and
        after membership, and suspended days as all-NaN rows), plus a boolean
        column ``member``. That is the series Qlib computes expressions over:
        ``Alpha360`` on it takes lags over calendar days exactly as Qlib's
        ``Ref`` does; keep the member rows afterwards, ``X[ohlcv["member"]]``.

    Returns
    -------
    panel : pandas.DataFrame of float32
        Indexed by a sorted ``(datetime, instrument)`` MultiIndex (``datetime64[ns]``
        days; upper-case codes such as ``"SH600000"``, as Qlib writes them). Columns
        follow the order ``open, high, low, close, volume, vwap, factor``, restricted
        to the fields loaded; other requested fields come after, in the order asked.
        A field file missing for one instrument reads as NaN for it. Rows where
        *every* field is NaN (suspended days, days before listing, members with no
        feature files at all) are dropped, so each row is a day the instrument
        traded or at least has some data.

    Raises
    ------
    ValueError
        If the directory or its calendar is missing, the market is unknown, a
        listed instrument has no data, a requested field exists nowhere, a
        ``.bin`` file is truncated or corrupt, ``start_time > end_time``, or the
        selection is empty. Every check that does not need the values runs
        before any ``.bin`` file is read.

    Examples
    --------
    A Qlib data directory of one stock and three days, written here; pass yours,
    e.g. ``load_qlib("~/.qlib/qlib_data/cn_data", "csi300", "2020-01-01", "2020-03-31")``.

    >>> import shutil, tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from igmtf_sklearn.datasets import load_qlib
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "calendars").mkdir(); (root / "instruments").mkdir()
    >>> _ = (root / "calendars" / "day.txt").write_text("2020-01-02\\n2020-01-03\\n2020-01-06\\n")
    >>> _ = (root / "instruments" / "all.txt").write_text("SH600000\\t2020-01-02\\t2020-01-06\\n")
    >>> (root / "features" / "sh600000").mkdir(parents=True)
    >>> for field in ("open", "high", "low", "close", "volume"):  # first day's index, then values
    ...     np.array([0, 10, 11, 12], dtype="<f4").tofile(root / f"features/sh600000/{field}.day.bin")
    >>> panel = load_qlib(root, "all", start_time="2020-01-03")
    >>> panel["close"].tolist(), panel.index.get_level_values("instrument").tolist()
    ([11.0, 12.0], ['SH600000', 'SH600000'])
    >>> shutil.rmtree(root)
    """
    root = _check_provider(provider_uri)
    calendar = _read_calendar(root)
    lo, hi = _calendar_window(calendar, start_time, end_time)
    codes, spells = _membership(root, instruments, calendar, lo, hi)
    files = list_field_files(root, codes)
    field_names = resolve_fields(fields, files)
    check_bin_sizes(root, codes, field_names, files)
    row_days = spells if members_only else dict.fromkeys(codes, np.arange(lo, hi, dtype=np.int32))
    days, inst, values = read_values(root, codes, row_days, field_names, files, len(calendar))
    if members_only:
        return _assemble(calendar, codes, days, inst, values, field_names)
    member = _member_mask(codes, spells, days, inst)
    keep = _within_data_span(values, len(codes))
    frame = _assemble(calendar, codes, days, inst, values, field_names, keep=keep, member=member)
    return frame


def _check_provider(provider_uri) -> Path:
    root = Path(os.path.expanduser(os.fspath(provider_uri)))
    if not root.is_dir():
        raise ValueError(
            f"Qlib data directory {str(root)!r} does not exist. Pass the folder that holds "
            "calendars/, instruments/ and features/ (e.g. ~/.qlib/qlib_data/cn_data, or "
            "../shared/data/cn_csi300 from the repository root)."
        )
    return root


def _read_calendar(root: Path) -> pd.DatetimeIndex:
    path = root / "calendars" / "day.txt"
    if not path.is_file():
        raise ValueError(
            f"{str(root)!r} has no day calendar {str(path)!r}: it is not a Qlib data directory "
            "with daily data. Point provider_uri at the folder holding calendars/day.txt."
        )
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    try:
        calendar = pd.DatetimeIndex(pd.to_datetime(lines, format="ISO8601"))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"Calendar {str(path)!r} has a line that is not a date: {exc}") from exc
    if len(calendar) == 0 or not calendar.is_monotonic_increasing or calendar.has_duplicates:
        raise ValueError(
            f"Calendar {str(path)!r} must list at least one day, strictly increasing; "
            "regenerate it with Qlib's scripts/dump_bin.py."
        )
    return calendar.as_unit("ns")


def _timestamp(value, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}={value!r} is not a date; pass e.g. '2020-01-01'.") from exc
    if stamp is pd.NaT:
        raise ValueError(f"{name}={value!r} is not a date; pass e.g. '2020-01-01'.")
    return stamp


def _calendar_window(calendar, start_time, end_time) -> tuple[int, int]:
    """Half-open range ``[lo, hi)`` of calendar positions inside the requested dates."""
    start = calendar[0] if start_time is None else _timestamp(start_time, "start_time")
    end = calendar[-1] if end_time is None else _timestamp(end_time, "end_time")
    if start > end:
        raise ValueError(
            f"start_time ({start.date()}) is after end_time ({end.date()}); swap them."
        )
    lo = int(calendar.searchsorted(start, side="left"))
    hi = int(calendar.searchsorted(end, side="right"))
    if lo >= hi:
        raise ValueError(
            f"No trading day between {start.date()} and {end.date()}: the calendar covers "
            f"{calendar[0].date()} .. {calendar[-1].date()}."
        )
    return lo, hi


def _membership(root, instruments, calendar, lo, hi):
    """Sorted instrument codes and, for each, its member days as calendar positions."""
    if isinstance(instruments, dict):
        instruments = _market_from_qlib_dict(instruments)
    if isinstance(instruments, str):
        spells = _read_spells(root, instruments, calendar)
    else:
        codes = _check_codes(root, instruments)
        spells = {code: [(lo, hi)] for code in codes}
    days = {}
    for code in sorted(spells):
        mask = np.zeros(hi - lo, dtype=bool)
        # A mask, not a concatenation, so overlapping spells never duplicate a day.
        for begin, stop in spells[code]:
            mask[max(begin, lo) - lo : max(min(stop, hi), lo) - lo] = True
        if mask.any():
            days[code] = (np.flatnonzero(mask) + lo).astype(np.int32)
    if not days:
        raise ValueError(
            f"No instrument of {instruments!r} is a member between {calendar[lo].date()} and "
            f"{calendar[hi - 1].date()}; widen start_time / end_time."
        )
    return list(days), days


def _market_from_qlib_dict(config: dict) -> str:
    if "market" not in config or config.get("filter_pipe"):
        raise ValueError(
            "instruments as a dict must be Qlib's D.instruments(market) config without dynamic "
            f"filters (filter_pipe), got {config!r}. Pass the market name instead, e.g. 'csi300'."
        )
    return config["market"]


def _read_spells(root: Path, market: str, calendar) -> dict[str, list[tuple[int, int]]]:
    path = root / "instruments" / f"{market}.txt"
    if not path.is_file():
        available = sorted(p.stem for p in (root / "instruments").glob("*.txt"))
        raise ValueError(
            f"Unknown market {market!r}: there is no {str(path)!r}. Available markets: "
            f"{', '.join(available) or 'none (instruments/ is missing or empty)'}. To load "
            "specific stocks pass a list of codes, e.g. instruments=['SH600000']."
        )
    try:
        table = pd.read_csv(
            path,
            sep="\t",
            header=None,
            usecols=[0, 1, 2],
            names=["code", "start", "end"],
            dtype=str,
        )
        begin = pd.to_datetime(table["start"], format="ISO8601")
        end = pd.to_datetime(table["end"], format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{str(path)!r} is not a Qlib instruments file (lines 'CODE<TAB>start<TAB>end'): {exc}"
        ) from exc
    if table["code"].isna().any() or begin.isna().any() or end.isna().any():
        raise ValueError(f"{str(path)!r} has an incomplete line; each needs CODE, start and end.")
    # Spell [start, end] with both ends included -> half-open calendar positions.
    starts = calendar.searchsorted(begin, side="left")
    stops = calendar.searchsorted(end, side="right")
    spells: dict[str, list[tuple[int, int]]] = {}
    for code, a, b in zip(table["code"].str.strip().str.upper(), starts, stops):
        spells.setdefault(code, []).append((int(a), int(b)))
    return spells


def _check_codes(root: Path, instruments) -> list[str]:
    codes = sorted({str(code).strip().upper() for code in instruments})
    if not codes:
        raise ValueError("instruments is an empty list; pass at least one code, e.g. ['SH600000'].")
    unknown = [code for code in codes if not (root / "features" / code.lower()).is_dir()]
    if unknown:
        shown = ", ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise ValueError(
            f"{len(unknown)} instrument(s) have no data under {str(root / 'features')!r}: "
            f"{shown}. Codes look like 'SH600000' / 'SZ000001' (see instruments/all.txt); "
            "remove the unknown ones."
        )
    return codes


def _member_mask(codes, spells, days, inst) -> np.ndarray:
    """Whether each (day, instrument) row is a member day of its instrument."""
    member = np.zeros(len(days), dtype=bool)
    for k, code in enumerate(codes):
        rows = np.flatnonzero(inst == k)
        member[rows] = np.isin(days[rows], spells[code])
    return member


def _within_data_span(values, n_codes) -> np.ndarray:
    """Rows between each instrument's first and last day with data (gaps included).

    Rows come instrument-major, every instrument with the same days, so the
    values fold into ``[instrument, day]``.
    """
    has_data = ~np.isnan(values).all(axis=1)
    per_code = has_data.reshape(n_codes, -1)
    n_days = per_code.shape[1]
    first = per_code.argmax(axis=1)
    last = n_days - 1 - per_code[:, ::-1].argmax(axis=1)
    position = np.arange(n_days)
    inside = (position >= first[:, None]) & (position <= last[:, None]) & per_code.any(1)[:, None]
    return inside.reshape(-1)


def _assemble(
    calendar, codes, days, inst, values, field_names, *, keep=None, member=None
) -> pd.DataFrame:
    if keep is None:
        keep = ~np.isnan(values).all(axis=1)
    if not keep.any():
        raise ValueError(
            "The selected instruments have no data in the requested window (every value is "
            "NaN); widen start_time / end_time or pick other instruments."
        )
    rows = np.flatnonzero(keep)
    # Codes are sorted, so a stable sort on the day alone yields (datetime, instrument)
    # order; gathering the kept rows in that order copies the values only once.
    rows = rows[np.argsort(days[rows], kind="stable")]
    days, inst = days[rows], inst[rows]
    values = values[rows]
    used_days = np.unique(days)
    index = pd.MultiIndex(
        levels=[calendar[used_days], pd.Index(codes)],
        codes=[np.searchsorted(used_days, days), inst],
        names=list(PANEL_LEVELS),
    ).remove_unused_levels()
    frame = pd.DataFrame(values, index=index, columns=list(field_names), copy=False)
    if member is not None:
        frame["member"] = member[rows]
    return frame
