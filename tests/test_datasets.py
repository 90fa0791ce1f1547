"""Tests for igmtf_sklearn.datasets: Qlib binary reader, OHLCV reader, synthetic market."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from igmtf_sklearn.datasets import load_qlib, make_stock_panel, read_ohlcv

OHLCV = ["open", "high", "low", "close", "volume"]
PANEL_LEVELS = ("datetime", "instrument")


def check_panel_index(panel):
    """Assert the package's panel convention (the public entry points all check it the same way)."""
    index = panel.index
    assert isinstance(index, pd.MultiIndex) and tuple(index.names) == PANEL_LEVELS
    assert index.is_monotonic_increasing and index.is_unique
    return index


# --------------------------------------------------------------------------- tiny Qlib dir

CALENDAR = pd.bdate_range("2020-01-02", periods=8)  # Jan 2, 3, 6, 7, 8, 9, 10, 13
BASE = {"open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5, "volume": 1000.0, "factor": 1.5}


def _write_bin(path, first, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.asarray([first, *values], dtype="<f4").tofile(path)


def _value(field, day, offset):
    """Value stored for a field on calendar day ``day`` (offset separates instruments)."""
    return BASE[field] + offset + day


@pytest.fixture
def qlib_dir(tmp_path):
    """A hand-made Qlib directory; what each file holds is spelled out below.

    - SH600000: spells Jan 2-3 and Jan 8-13 (days 0-1, 4-7); OHLCV from day 0 but no
      factor file; close is NaN on day 5; every field is NaN on day 6 (suspended).
    - SZ000001: spell Jan 6-13 (days 2-7); files start at day 3 (offset) and hold 4 days
      (3-6), so day 2 and day 7 have no data; has a factor.
    - SZ000002: member all along but has no feature folder at all.
    - SH600001: in no market spell (for the list-of-codes case).
    - No instrument has vwap.
    """
    root = tmp_path / "qlib"
    (root / "calendars").mkdir(parents=True)
    (root / "calendars" / "day.txt").write_text(
        "\n".join(d.strftime("%Y-%m-%d") for d in CALENDAR) + "\n"
    )
    (root / "instruments").mkdir()
    (root / "instruments" / "mkt.txt").write_text(
        "SH600000\t2020-01-02\t2020-01-03\n"
        "SZ000001\t2020-01-06\t2020-01-13\n"
        "SH600000\t2020-01-08\t2020-01-13\n"
        "SZ000002\t2020-01-02\t2020-01-13\n"
    )
    (root / "instruments" / "all.txt").write_text("SH600001\t2020-01-02\t2020-01-13\n")
    features = root / "features"
    for field in OHLCV:
        values = [_value(field, day, 0) for day in range(8)]
        values[6] = np.nan
        if field == "close":
            values[5] = np.nan
        _write_bin(features / "sh600000" / f"{field}.day.bin", 0, values)
    for field in [*OHLCV, "factor"]:
        _write_bin(
            features / "sz000001" / f"{field}.day.bin",
            3,
            [_value(field, day, 100) for day in range(3, 7)],
        )
        _write_bin(
            features / "sh600001" / f"{field}.day.bin",
            0,
            [_value(field, day, 200) for day in range(8)],
        )
    return root


def _expected_row(panel, day, code, offset, fields):
    row = panel.loc[(CALENDAR[day], code)]
    return row.to_numpy(), np.array([_value(f, day, offset) for f in fields], dtype=np.float32)


def test_load_qlib_market_membership_and_values(qlib_dir):
    panel = load_qlib(qlib_dir, "mkt")
    assert check_panel_index(panel) is panel.index
    assert panel.columns.tolist() == [*OHLCV, "factor"]  # no vwap anywhere -> no column
    assert (panel.dtypes == np.float32).all()
    assert panel.index.get_level_values(0).dtype == "datetime64[ns]"
    keys = {(d, c) for d, c in panel.index}
    expected = {(CALENDAR[d], "SH600000") for d in (0, 1, 4, 5, 7)}
    expected |= {(CALENDAR[d], "SZ000001") for d in (3, 4, 5, 6)}
    assert keys == expected  # day 6 of SH600000 and days 2/7 of SZ000001 are all-NaN rows
    for day in (0, 4, 7):
        got, want = _expected_row(panel, day, "SH600000", 0, OHLCV)
        np.testing.assert_array_equal(got[:5], want)
        assert np.isnan(got[5])  # SH600000 has no factor file
    got = panel.loc[(CALENDAR[5], "SH600000")]
    assert np.isnan(got["close"]) and got["open"] == _value("open", 5, 0)
    for day in (3, 6):  # values sit at the file's start index + position
        got, want = _expected_row(panel, day, "SZ000001", 100, [*OHLCV, "factor"])
        np.testing.assert_array_equal(got, want)


def test_load_qlib_with_history_keeps_every_calendar_day_of_the_data_span(qlib_dir):
    panel = load_qlib(qlib_dir, "mkt", members_only=False)
    check_panel_index(panel)
    sh = panel.xs("SH600000", level="instrument")
    # Every calendar day of its data (days 0-7), the suspended day 6 as an all-NaN row.
    assert list(sh.index) == list(CALENDAR)
    assert sh.iloc[6][OHLCV].isna().all()
    assert list(sh["member"]) == [True, True, False, False, True, True, True, True]
    sz = panel.xs("SZ000001", level="instrument")
    assert list(sz.index) == list(CALENDAR[3:7])  # its files hold days 3-6 only
    assert "SZ000002" not in panel.index.get_level_values("instrument")  # no data at all
    # Member rows with data are exactly what the default mode returns.
    members = load_qlib(qlib_dir, "mkt")
    history = panel[panel["member"]].drop(columns="member").dropna(how="all")
    pd.testing.assert_frame_equal(history, members)


def test_load_qlib_time_window_fields_and_list(qlib_dir):
    window = load_qlib(qlib_dir, "mkt", "2020-01-06", pd.Timestamp("2020-01-09"))
    assert window.index.get_level_values(0).min() == CALENDAR[3]  # no member has data on day 2
    assert window.index.get_level_values(0).max() == CALENDAR[5]
    asked = load_qlib(qlib_dir, "mkt", fields=["$Close", "open"])
    assert asked.columns.tolist() == ["open", "close"]  # canonical order, Qlib's $ accepted
    listed = load_qlib(qlib_dir, ["sh600000", "SH600001"], end_time="2020-01-07")
    assert listed.index.get_level_values(1).unique().tolist() == ["SH600000", "SH600001"]
    assert len(listed) == 8  # every day with data, no membership filter
    as_dict = load_qlib(qlib_dir, {"market": "mkt", "filter_pipe": []})
    pd.testing.assert_frame_equal(as_dict, load_qlib(qlib_dir, "mkt"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"instruments": "csi500"}, r"Unknown market 'csi500'.*Available markets: all, mkt"),
        ({"instruments": ["SH600000", "SH999999"]}, r"SH999999"),
        ({"start_time": "2020-01-10", "end_time": "2020-01-03"}, r"after end_time"),
        ({"start_time": "2020-01-04", "end_time": "2020-01-05"}, r"No trading day"),
        ({"start_time": "not a date"}, r"start_time='not a date' is not a date"),
        ({"fields": ["close", "bogus"]}, r"Unknown field.*bogus.*Available fields"),
        ({"fields": ["vwap"]}, r"Unknown field.*vwap"),
        ({"instruments": {"market": "mkt", "filter_pipe": [{}]}}, r"dynamic"),
    ],
)
def test_load_qlib_argument_errors(qlib_dir, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_qlib(qlib_dir, **{"instruments": "mkt", **kwargs})


def test_load_qlib_missing_directory_and_calendar(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_qlib(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"calendars/day.txt"):
        load_qlib(tmp_path)


def test_load_qlib_corrupt_bin(qlib_dir):
    path = qlib_dir / "features" / "sz000001" / "close.day.bin"
    path.write_bytes(path.read_bytes() + b"\x00\x00")  # size no longer a multiple of 4
    # Argument errors come first: nothing is read before the arguments are known good.
    with pytest.raises(ValueError, match="after end_time"):
        load_qlib(qlib_dir, "mkt", "2020-01-10", "2020-01-03")
    with pytest.raises(ValueError, match=r"sz000001/close.day.bin.*truncated"):
        load_qlib(qlib_dir, "mkt")
    _write_bin(path, 100, [1.0, 2.0])  # start index beyond the 8-day calendar
    with pytest.raises(ValueError, match=r"corrupt.*100"):
        load_qlib(qlib_dir, "mkt")
    # A field file missing for every selected instrument is just an absent column.
    assert "factor" not in load_qlib(qlib_dir, ["SH600000"]).columns


@pytest.mark.realdata
def test_load_qlib_real_slice(data_dir):
    panel = load_qlib(data_dir, "csi300", "2020-01-01", "2020-03-31")
    check_panel_index(panel)
    assert panel.columns.tolist() == [*OHLCV, "factor"]  # the shared data has no vwap
    assert (panel.dtypes == np.float32).all()
    dates = panel.index.get_level_values(0)
    assert dates.min() >= pd.Timestamp("2020-01-02") and dates.max() <= pd.Timestamp("2020-03-31")
    per_day = panel.groupby(level=0).size()
    assert len(per_day) > 50 and per_day.between(270, 300).all()
    codes = panel.index.get_level_values(1).unique()
    assert codes.str.match(r"^S[HZ]\d{6}$").all()
    prices = panel[["open", "high", "low", "close"]]
    assert (prices.dropna() > 0).all().all()
    assert (panel["low"] <= panel["high"]).all()


# --------------------------------------------------------------------------- read_ohlcv


@pytest.fixture
def small_panel():
    panel = make_stock_panel(4, 15, random_state=0)
    # Codes with leading zeros check that they survive a CSV round trip as text.
    return panel.rename(index={"S0000": "000001", "S0001": "000002"}, level=1).sort_index()


def test_read_ohlcv_csv_round_trip(tmp_path, small_panel):
    path = tmp_path / "bars.csv"
    long = small_panel.reset_index().sample(frac=1.0, random_state=0)  # unsorted rows
    long.assign(extra="dropped").to_csv(path, index=False)
    got = read_ohlcv(path)
    pd.testing.assert_frame_equal(got, small_panel, check_exact=False, rtol=1e-6)
    assert got.index.names == list(PANEL_LEVELS)
    # Aliased key columns in a compressed CSV: the header is resolved before the codes are read.
    aliased = small_panel.reset_index().rename(columns={"datetime": "Date", "instrument": "Symbol"})
    aliased.to_csv(tmp_path / "bars.csv.gz", index=False)
    got = read_ohlcv(tmp_path / "bars.csv.gz")
    pd.testing.assert_frame_equal(got, small_panel, check_exact=False, rtol=1e-6)


def test_read_ohlcv_parquet_and_panel_frames(tmp_path, small_panel):
    small_panel.to_parquet(tmp_path / "panel.parquet")  # keeps the MultiIndex
    pd.testing.assert_frame_equal(read_ohlcv(tmp_path / "panel.parquet"), small_panel)
    small_panel.reset_index().to_parquet(tmp_path / "long.pq")
    pd.testing.assert_frame_equal(read_ohlcv(str(tmp_path / "long.pq")), small_panel)
    pd.testing.assert_frame_equal(read_ohlcv(small_panel), small_panel)


def test_read_ohlcv_aliases_and_optional_fields(small_panel):
    long = small_panel.reset_index().assign(Factor=2.0)
    long.columns = ["Trade_Date", "Ticker", "Open", "HIGH", "low", "Close", "volume", "Factor"]
    long["Trade_Date"] = long["Trade_Date"].dt.strftime("%Y%m%d").astype(int)
    got = read_ohlcv(long)
    assert got.columns.tolist() == [*OHLCV, "factor"]
    pd.testing.assert_frame_equal(got[OHLCV], small_panel)
    renamed = small_panel.reset_index().rename(columns={"datetime": "day", "instrument": "sym"})
    got = read_ohlcv(renamed, datetime_col="day", instrument_col="sym")
    pd.testing.assert_frame_equal(got, small_panel)


def test_read_ohlcv_errors(tmp_path, small_panel):
    long = small_panel.reset_index()
    with pytest.raises(ValueError, match=r"Missing required column\(s\): high, volume"):
        read_ohlcv(long.drop(columns=["high", "volume"]))
    with pytest.raises(ValueError, match=r"instrument"):
        read_ohlcv(long.drop(columns=["instrument"]))
    with pytest.raises(ValueError, match=r"appear more than once"):
        read_ohlcv(pd.concat([long, long.iloc[:2]]))
    bad = long.astype({"close": object})
    bad.loc[3, "close"] = "n/a"
    with pytest.raises(ValueError, match=r"'close' must be numeric.*'n/a'"):
        read_ohlcv(bad)
    with pytest.raises(ValueError, match=r"Several columns could be the datetime"):
        read_ohlcv(long.rename(columns={"datetime": "date"}).assign(trade_date=1))
    with pytest.raises(ValueError, match=r"unsupported file type"):
        read_ohlcv(tmp_path / "bars.xlsx")
    with pytest.raises(FileNotFoundError):
        read_ohlcv(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match=r"does not parse as dates"):
        read_ohlcv(long.assign(datetime="yesterday-ish"))


# --------------------------------------------------------------------------- make_stock_panel


def _daily_ic(a: pd.Series, b: pd.Series) -> float:
    """Mean over days of the cross-sectional Pearson correlation (vectorised)."""
    df = pd.DataFrame({"a": a, "b": b}).dropna()
    dm = df - df.groupby(level=0).transform("mean")

    def by_day(s):
        return s.groupby(level=0).sum()

    return float((by_day(dm.a * dm.b) / np.sqrt(by_day(dm.a**2) * by_day(dm.b**2))).mean())


def test_make_stock_panel_shape_and_determinism():
    panel = make_stock_panel(20, 50, churn=0.0, start="2021-03-01", random_state=3)
    check_panel_index(panel)
    assert panel.shape == (20 * 50, 5) and panel.columns.tolist() == OHLCV
    assert (panel.dtypes == np.float32).all()
    dates = panel.index.get_level_values(0).unique()
    expected = pd.bdate_range("2021-03-01", periods=50, name="datetime").as_unit("ns")
    pd.testing.assert_index_equal(dates, expected, check_freq=False)
    assert panel.index.get_level_values(1).unique()[[0, -1]].tolist() == ["S0000", "S0019"]
    pd.testing.assert_frame_equal(
        panel, make_stock_panel(20, 50, churn=0.0, start="2021-03-01", random_state=3)
    )
    other = make_stock_panel(20, 50, churn=0.0, start="2021-03-01", random_state=4)
    assert not np.allclose(panel.to_numpy(), other.to_numpy())


def test_make_stock_panel_entering_and_leaving_instruments():
    panel = make_stock_panel(50, 90, churn=0.4, random_state=0)
    check_panel_index(panel)
    spans = panel.reset_index().groupby("instrument")["datetime"].agg(["min", "max", "size"])
    days = panel.index.get_level_values(0).unique()
    assert (spans["min"] > days[0]).sum() == 10  # late listings
    assert (spans["max"] < days[-1]).sum() == 10  # early delistings
    # Spans have no holes: each instrument trades every business day between its ends.
    positions = {d: k for k, d in enumerate(days)}
    width = spans["max"].map(positions) - spans["min"].map(positions) + 1
    assert (width == spans["size"]).all()


def test_make_stock_panel_prices_are_consistent():
    panel = make_stock_panel(100, 300, random_state=1)
    assert np.isfinite(panel.to_numpy()).all() and (panel.to_numpy() > 0).all()
    assert (panel["low"] <= panel[["open", "close"]].min(axis=1)).all()
    assert (panel["high"] >= panel[["open", "close"]].max(axis=1)).all()
    returns = panel["close"].unstack().pct_change(fill_method=None)
    assert 0.015 < returns.stack().std() < 0.03  # ~2% daily, like a stock
    corr = returns.corr().to_numpy()
    assert corr[np.triu_indices_from(corr, 1)].mean() > 0.1  # market + sectors co-move


def test_make_stock_panel_signal_matches_label_timing():
    start = time.perf_counter()
    panel, signal = make_stock_panel(300, 1000, return_signal=True, random_state=0)
    assert time.perf_counter() - start < 2.0
    assert signal.dtype == np.float32 and signal.index.equals(panel.index)
    # Qlib's default label Ref($close, -2) / Ref($close, -1) - 1, per instrument.
    close = panel["close"].astype(np.float64).groupby(level="instrument")
    returns = close.pct_change().groupby(level="instrument")
    ic = {lag: _daily_ic(signal, returns.shift(-lag)) for lag in (1, 2, 3)}
    label = close.shift(-2) / close.shift(-1) - 1
    assert _daily_ic(signal, label) == pytest.approx(ic[2], abs=1e-6)
    assert 0.12 < ic[2] < 0.18  # documented oracle IC: 0.148 (0.142 .. 0.154 over seeds)
    # The signal is aimed at t+1 -> t+2; its persistence leaks to neighbours, but less.
    assert ic[2] > ic[1] + 0.01 and ic[2] > ic[3] + 0.01


def test_make_stock_panel_signal_scale_and_argument_errors():
    panel, signal = make_stock_panel(10, 20, return_signal=True, signal_scale=0.0, random_state=0)
    assert (signal == 0).all()
    for kwargs in ({"n_days": 2}, {"n_instruments": 0}, {"churn": 1.5}, {"noise_df": 2.0}):
        with pytest.raises(ValueError):
            make_stock_panel(**{"n_instruments": 5, "n_days": 10, **kwargs})
