"""Turn long-format OHLCV tables (CSV, parquet or a DataFrame) into a panel."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import validate_params

from .._utils._panel import PANEL_LEVELS

if TYPE_CHECKING:
    from .._utils._typing import PathLike

REQUIRED_FIELDS = ("open", "high", "low", "close", "volume")
OPTIONAL_FIELDS = ("vwap", "factor")
DATETIME_ALIASES = ("datetime", "date", "trade_date")
INSTRUMENT_ALIASES = ("instrument", "symbol", "code", "ticker")

_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".csv.zst")
_PARQUET_SUFFIXES = (".parquet", ".pq")


@validate_params(
    {
        "path_or_frame": [str, os.PathLike, pd.DataFrame],
        "datetime_col": [str],
        "instrument_col": [str],
    },
    prefer_skip_nested_validation=True,
)
def read_ohlcv(
    path_or_frame: PathLike | pd.DataFrame,
    *,
    datetime_col: str = "datetime",
    instrument_col: str = "instrument",
) -> pd.DataFrame:
    """Read a long-format OHLCV table into a panel.

    Parameters
    ----------
    path_or_frame : str, path-like or pandas.DataFrame
        A CSV (``.csv``, optionally compressed, e.g. ``.csv.gz``) or parquet
        (``.parquet`` / ``.pq``) file, or a DataFrame. It needs one row per
        (day, instrument), a date column, an instrument column and the columns
        ``open, high, low, close, volume``; ``vwap`` and ``factor`` are kept
        when present and every other column is dropped. A DataFrame that is
        already a panel (named index levels) is accepted as is.
    datetime_col : str, default="datetime"
        Name of the date column. When absent, the first of ``datetime``,
        ``date``, ``trade_date`` found (case-insensitively) is used. Dates are
        parsed with :func:`pandas.to_datetime`; integers like ``20200102``
        (``YYYYMMDD``) are understood and time zones are dropped (wall time kept).
    instrument_col : str, default="instrument"
        Name of the instrument column. When absent, the first of
        ``instrument``, ``symbol``, ``code``, ``ticker`` found
        (case-insensitively) is used. Codes are kept as strings, as written: a
        CSV code such as ``000001`` keeps its leading zeros.

    Returns
    -------
    panel : pandas.DataFrame of float32
        Indexed by a sorted ``(datetime, instrument)`` MultiIndex
        (``datetime64[ns]``, ``str``), columns ``open, high, low, close,
        volume`` then ``vwap``, ``factor`` where present. Field columns are
        matched case-insensitively (``Close`` is ``close``).

    Raises
    ------
    ValueError
        If the file type is not supported, a required column is missing (all
        missing ones are named), a column name is ambiguous, a field holds
        non-numeric values, a date does not parse, a key is missing or a
        (datetime, instrument) key repeats.
    FileNotFoundError
        If ``path_or_frame`` is a path that does not exist.

    Examples
    --------
    >>> import pandas as pd
    >>> from igmtf_sklearn.datasets import read_ohlcv
    >>> table = pd.DataFrame({
    ...     "Date": ["2020-01-03", "2020-01-02", "2020-01-02"],
    ...     "Symbol": ["000001", "000001", "600000"],
    ...     "Open": [10.0, 9.8, 12.1], "High": [10.4, 10.0, 12.5],
    ...     "Low": [9.9, 9.7, 12.0], "Close": [10.2, 9.9, 12.4],
    ...     "Volume": [1e6, 1.2e6, 8e5], "Comment": ["", "", ""]})
    >>> panel = read_ohlcv(table)
    >>> panel.columns.tolist()
    ['open', 'high', 'low', 'close', 'volume']
    >>> panel.index.tolist()
    [(Timestamp('2020-01-02 00:00:00'), '000001'),
     (Timestamp('2020-01-02 00:00:00'), '600000'),
     (Timestamp('2020-01-03 00:00:00'), '000001')]
    """
    frame, columns = _load(path_or_frame, datetime_col, instrument_col)
    dates = _parse_dates(frame[columns[PANEL_LEVELS[0]]], columns[PANEL_LEVELS[0]])
    codes = _parse_codes(frame[columns[PANEL_LEVELS[1]]], columns[PANEL_LEVELS[1]])
    fields = [f for f in REQUIRED_FIELDS + OPTIONAL_FIELDS if f in columns]
    values = np.column_stack([_numeric(frame[columns[f]], columns[f]) for f in fields])
    index = pd.MultiIndex.from_arrays([dates, codes], names=list(PANEL_LEVELS))
    _check_unique(index)
    return pd.DataFrame(values, index=index, columns=fields).sort_index()


def _load(path_or_frame, datetime_col, instrument_col):
    """The table and the column that plays each role, checked before parsing values."""
    if isinstance(path_or_frame, pd.DataFrame):
        frame = _flatten_index(path_or_frame)
        return frame, _resolve_columns(frame.columns, datetime_col, instrument_col)
    path = Path(path_or_frame)
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        _check_exists(path)
        frame = _flatten_index(pd.read_parquet(path))
        return frame, _resolve_columns(frame.columns, datetime_col, instrument_col)
    if name.endswith(_CSV_SUFFIXES):
        _check_exists(path)
        # Read the header first so the key columns can be read as text: a code such as
        # 000001 would otherwise become the integer 1.
        columns = _resolve_columns(pd.read_csv(path, nrows=0).columns, datetime_col, instrument_col)
        keys = {columns[level]: str for level in PANEL_LEVELS}
        return pd.read_csv(path, dtype=keys), columns
    raise ValueError(
        f"Cannot read {str(path)!r}: unsupported file type. Use one of "
        f"{', '.join(_CSV_SUFFIXES + _PARQUET_SUFFIXES)}, or read the file into a DataFrame "
        "yourself and pass the frame."
    )


def _check_exists(path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"No such file: {str(path)!r}.")


def _flatten_index(frame: pd.DataFrame) -> pd.DataFrame:
    # Named index levels (a panel, or a date index) become ordinary columns.
    named = [name for name in frame.index.names if name is not None]
    return frame.reset_index(level=named) if named else frame


def _match(columns, candidates) -> list:
    """Columns equal, case-insensitively, to any candidate name, in column order."""
    wanted = {str(c).lower() for c in candidates}
    return [c for c in columns if str(c).lower() in wanted]


def _resolve_key(columns, given, aliases, argument):
    if given in columns:
        return given
    found = _match(columns, (given, *aliases))
    if len(found) > 1:
        raise ValueError(
            f"Several columns could be the {argument[:-4]} column: {found}. Pick one with "
            f"{argument}=..."
        )
    return found[0] if found else None


def _resolve_columns(columns, datetime_col, instrument_col) -> dict:
    """Map datetime / instrument / each field to its column; fail naming all that miss."""
    columns = list(columns)
    resolved = {
        PANEL_LEVELS[0]: _resolve_key(columns, datetime_col, DATETIME_ALIASES, "datetime_col"),
        PANEL_LEVELS[1]: _resolve_key(
            columns, instrument_col, INSTRUMENT_ALIASES, "instrument_col"
        ),
    }
    for field in REQUIRED_FIELDS + OPTIONAL_FIELDS:
        found = _match(columns, [field])
        if len(found) > 1:
            raise ValueError(f"Several columns could be {field!r}: {found}; keep one of them.")
        resolved[field] = found[0] if found else None
    missing = [
        name for name, column in resolved.items() if column is None and name not in OPTIONAL_FIELDS
    ]
    if missing:
        raise ValueError(
            f"Missing required column(s): {', '.join(missing)}. Found columns: {columns}. "
            f"Expected a date column ({datetime_col!r} or one of {list(DATETIME_ALIASES)}), an "
            f"instrument column ({instrument_col!r} or one of {list(INSTRUMENT_ALIASES)}) and "
            f"{', '.join(REQUIRED_FIELDS)}; pass datetime_col= / instrument_col= for other names."
        )
    return {name: column for name, column in resolved.items() if column is not None}


def _parse_dates(column: pd.Series, name) -> pd.DatetimeIndex:
    if pd.api.types.is_integer_dtype(column) and column.between(19000101, 21001231).all():
        column = column.astype(str)  # YYYYMMDD integers (e.g. tushare's trade_date)
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(column))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"Column {name!r} does not parse as dates: {exc}") from exc
    if dates.hasnans:
        raise ValueError(f"Column {name!r} has {int(dates.isna().sum())} missing date(s).")
    if dates.tz is not None:
        dates = dates.tz_localize(None)
    return dates.as_unit("ns")


def _parse_codes(column: pd.Series, name) -> pd.Index:
    if column.isna().any():
        raise ValueError(f"Column {name!r} has {int(column.isna().sum())} missing code(s).")
    return pd.Index(column.astype(str).str.strip().to_numpy(), dtype="str")


def _numeric(column: pd.Series, name) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(column):
        converted = pd.to_numeric(column, errors="coerce")
        bad = converted.isna() & column.notna()
        if bad.any():
            examples = column[bad].unique()[:3].tolist()
            raise ValueError(
                f"Column {name!r} must be numeric, but has {int(bad.sum())} value(s) that are "
                f"not numbers, e.g. {examples}."
            )
        column = converted
    return column.to_numpy(dtype=np.float32, na_value=np.nan)


def _check_unique(index: pd.MultiIndex) -> None:
    if index.has_duplicates:
        repeated = index[index.duplicated()].unique()
        raise ValueError(
            f"{len(repeated)} (datetime, instrument) key(s) appear more than once, e.g. "
            f"{repeated[:3].tolist()}. Keep one row per instrument and day, e.g. "
            "df.drop_duplicates(subset=[date_col, instrument_col], keep='last')."
        )
