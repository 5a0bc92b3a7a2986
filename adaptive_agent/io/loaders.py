"""Readers for candle, signal and funding CSV files, strict about what they accept.

Bad input must never turn into a wrong backtest: every problem becomes an ``InputError`` whose
one-line message names the file, the line and what is wrong. The fast path is pandas' C parser;
only when it fails do we re-read the file line by line to point at the culprit. A file that
parsed before is read from its binary copy (``parsed_cache.py``, found by the file's bytes), so
pandas is imported only when a file is new.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.signals import CODE_OF_NAME, SIGNAL_EXPECTED, SignalSeries
from ..core.time_rules import BAR_MS
from . import parsed_cache
from .file_limits import FileLimitError, check_file
from .timestamps import TimestampError, parse_timestamps, shown

if TYPE_CHECKING:
    import pandas as pd

CANDLE_COLUMNS = ("timestamp", "open", "high", "low", "close")
BINANCE_KLINE_FIELDS = 12


class InputError(Exception):
    """A malformed input file. ``str()`` is the one-line message shown to the user."""


@dataclass(frozen=True, slots=True)
class Candles:
    path: str
    ts: np.ndarray  # int64 epoch ms, open time, strictly increasing, on the 5-minute grid
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    def slice(self, start: int, stop: int) -> Candles:
        return Candles(
            self.path,
            self.ts[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
        )


@dataclass(frozen=True, slots=True)
class FundingSeries:
    path: str
    ts: np.ndarray  # int64 epoch ms, strictly increasing
    rate: np.ndarray

    def rate_at(self, times_ms: np.ndarray, default: float) -> np.ndarray:
        """Last rate at or before each time, else ``default``."""
        if len(self.ts) == 0:
            return np.full(len(times_ms), default)
        idx = np.searchsorted(self.ts, times_ms, side="right") - 1
        return np.where(idx >= 0, self.rate[np.clip(idx, 0, None)], default)


def _open_text(path: Path):
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")


def _first_line(path: Path) -> str:
    """The header (or first row), after the file passed the bounds of ``file_limits``."""
    try:
        check_file(path)
        with _open_text(path) as fh:
            return fh.readline()
    except FileLimitError as exc:
        where = f"{path}:{exc.line}" if exc.line is not None else str(path)
        raise InputError(f"{where}: {exc.problem}") from None
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a CSV file") from None
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None


def _find_bad_row(path: Path, header: bool) -> str:
    """Re-read line by line to name the first line whose field count is wrong."""
    with _open_text(path) as fh:
        expected = None
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if expected is None:
                expected = len(row)
                continue
            if row and len(row) != expected:
                what = "header" if header else "line 1"
                return (
                    f"{path}:{lineno}: expected {expected} fields (as in the {what}),"
                    f" found {len(row)}"
                )
    return f"{path}: cannot parse CSV"


def _read_frame(path: Path, header: bool, names: list[str] | None = None) -> pd.DataFrame:
    import pandas as pd

    try:
        frame = pd.read_csv(
            path,
            header=0 if header else None,
            names=names,
            skip_blank_lines=False,
            keep_default_na=False,  # only an empty field is missing; "NaN" is reported as NaN
            na_values=[""],
            compression="infer",
            skipinitialspace=True,
        )
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: file is empty") from None
    except (pd.errors.ParserError, ValueError):
        raise InputError(_find_bad_row(path, header)) from None
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    # Trailing blank lines are harmless; blank lines inside the data are not.
    blank = frame.isna().all(axis=1).to_numpy()
    if blank.any():
        last_data = len(blank) - int(np.argmax(~blank[::-1])) if (~blank).any() else 0
        interior = np.flatnonzero(blank[:last_data])
        if len(interior):
            raise InputError(f"{path}:{_line(interior[0], header)}: empty line")
        frame = frame.iloc[:last_data]
    if len(frame) == 0:
        raise InputError(f"{path}: no data rows")
    return frame


def _line(row: int, header: bool) -> int:
    return int(row) + (2 if header else 1)


def _normalise_columns(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    cols = [str(c).strip().lower() for c in frame.columns]
    dup = {c for c in cols if cols.count(c) > 1}
    if dup:
        raise InputError(f"{path}:1: duplicate column(s) {', '.join(sorted(dup))}")
    frame.columns = cols
    return frame


def _require(frame: pd.DataFrame, path: Path, required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"{path}:1: missing column(s) {', '.join(missing)}"
            f" (header has: {', '.join(map(str, frame.columns))})"
        )


def _numeric(frame: pd.DataFrame, col: str, path: Path, header: bool) -> np.ndarray:
    import pandas as pd

    raw = frame[col]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        text = raw.iloc[i]
        if pd.isna(text) or str(text).strip() == "":
            problem = "missing value"
        elif np.isnan(values[i]):
            problem = (
                "NaN"
                if str(text).strip().lower() == "nan"
                else f"cannot parse {shown(text)} as a number"
            )
        else:
            problem = f"{shown(text)} is not a finite number"
        raise InputError(f"{path}:{_line(i, header)}: column '{col}': {problem}")
    return values


def _timestamps(frame: pd.DataFrame, path: Path, header: bool) -> np.ndarray:
    """Epoch ms by the one timestamp rule (``io/timestamps.py``)."""
    try:
        return parse_timestamps(frame["timestamp"])
    except TimestampError as exc:
        raise InputError(
            f"{path}:{_line(exc.index, header)}: column 'timestamp': {exc.problem}"
        ) from None


def _check_increasing(ts: np.ndarray, path: Path, header: bool, allow_equal: bool) -> None:
    step = np.diff(ts)
    bad = step < 0 if allow_equal else step <= 0
    if bad.any():
        i = int(np.argmax(bad)) + 1
        if step[i - 1] == 0:
            problem = f"duplicate timestamp (same as line {_line(i - 1, header)})"
        else:
            problem = f"timestamp out of order (earlier than line {_line(i - 1, header)})"
        raise InputError(f"{path}:{_line(i, header)}: {problem}")


def _looks_headerless(first: str) -> bool:
    head = first.split(",", 1)[0].strip().strip('"')
    try:
        float(head)
    except ValueError:
        return False
    return True


BTC_GENESIS_MS = 1_230_940_800_000  # 2009-01-03 00:00 UTC
# A BTC price in USDT: the first exchange trades (2010) were near 0.001, and 1e9 is far above any
# price seen; outside it a value is a misread file, and sizes derived from it would overflow.
MIN_PRICE, MAX_PRICE = 1e-4, 1e9


def _check_header(path: Path, first: str) -> None:
    """Repeated column names are an error (pandas would rename the second one silently)."""
    names = [n.strip().strip('"').lower() for n in next(csv.reader([first]))]
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise InputError(f"{path}:1: column {n!r} appears more than once in the header")
        seen.add(n)


def load_candles(path: str | Path) -> Candles:
    """5-minute candles: ``timestamp,open,high,low,close[,volume]`` or Binance's 12-field klines."""
    path = Path(path)
    a = parsed_cache.load("candles", path, _parse_candles)
    return Candles(str(path), a["ts"], a["open"], a["high"], a["low"], a["close"])


def _parse_candles(path: Path) -> dict[str, np.ndarray]:
    first = _first_line(path)
    if not first.strip():
        raise InputError(f"{path}: file is empty" if not first else f"{path}:1: empty line")
    header = not _looks_headerless(first)
    if header:
        _check_header(path, first)
        frame = _normalise_columns(_read_frame(path, True), path)
        _require(frame, path, CANDLE_COLUMNS)
    else:
        fields = len(next(csv.reader([first])))
        if fields != BINANCE_KLINE_FIELDS:
            raise InputError(
                f"{path}:1: no header, and {fields} fields is not Binance's 12-field kline format"
                " (expected header timestamp,open,high,low,close,volume)"
            )
        names = ["timestamp", "open", "high", "low", "close", "volume"] + [
            f"extra{i}" for i in range(6)
        ]
        frame = _read_frame(path, False, names)
    ts = _timestamps(frame, path, header)
    o, h, lo, c = (_numeric(frame, col, path, header) for col in CANDLE_COLUMNS[1:])
    for col, arr in (("open", o), ("high", h), ("low", lo), ("close", c)):
        if (arr <= 0).any():
            i = int(np.argmax(arr <= 0))
            raise InputError(
                f"{path}:{_line(i, header)}: column '{col}':"
                f" price {float(arr[i])!r} is not positive"
            )
        implausible = (arr < MIN_PRICE) | (arr > MAX_PRICE)
        if implausible.any():
            i = int(np.argmax(implausible))
            raise InputError(
                f"{path}:{_line(i, header)}: column '{col}': price {float(arr[i])!r} is outside"
                f" [{MIN_PRICE:g}, {MAX_PRICE:g}] USDT, not a BTC price (a misread file?)"
            )
    if (h < lo).any():
        i = int(np.argmax(h < lo))
        raise InputError(
            f"{path}:{_line(i, header)}: high {float(h[i])!r} is below low {float(lo[i])!r}"
        )
    for col, arr in (("open", o), ("close", c)):
        outside = (arr > h) | (arr < lo)
        if outside.any():
            i = int(np.argmax(outside))
            raise InputError(
                f"{path}:{_line(i, header)}: {col} {float(arr[i])!r} is outside the bar's range"
                f" [low {float(lo[i])!r}, high {float(h[i])!r}]"
            )
    if "volume" in frame.columns:
        v = _numeric(frame, "volume", path, header)
        if (v < 0).any():
            i = int(np.argmax(v < 0))
            raise InputError(f"{path}:{_line(i, header)}: column 'volume': negative volume")
    off_grid = ts % BAR_MS != 0
    if off_grid.any():
        i = int(np.argmax(off_grid))
        raise InputError(
            f"{path}:{_line(i, header)}: timestamp {ts[i]} is not on the 5-minute grid"
            " (5-minute candles expected)"
        )
    before = ts < BTC_GENESIS_MS
    if before.any():
        i = int(np.argmax(before))
        raise InputError(
            f"{path}:{_line(i, header)}: timestamp {ts[i]} is before 2009-01-03, the first"
            " Bitcoin block: not a BTC candle (a misread time?)"
        )
    _check_increasing(ts, path, header, allow_equal=False)
    return {"ts": ts, "open": o, "high": h, "low": lo, "close": c}


def _read_table(path: Path) -> pd.DataFrame:
    """A CSV with a header row, its column names normalised; an empty file is an error."""
    first = _first_line(path)
    if not first.strip():
        raise InputError(f"{path}: file is empty")
    _check_header(path, first)
    return _normalise_columns(_read_frame(path, True), path)


def load_signals(path: str | Path) -> SignalSeries:
    """``timestamp,signal`` rows, BUY|SELL|NONE in any case; on equal timestamps the last wins."""
    path = Path(path)
    a = parsed_cache.load("signals", path, _parse_signals)
    return SignalSeries(a["ts"], a["codes"])


def _parse_signals(path: Path) -> dict[str, np.ndarray]:
    import pandas as pd

    frame = _read_table(path)
    _require(frame, path, ("timestamp", "signal"))
    ts = _timestamps(frame, path, True)
    raw = frame["signal"]
    text = raw.astype("string").str.strip().str.upper()
    codes = text.map(CODE_OF_NAME)
    bad = codes.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        value = raw.iloc[i]
        what = "missing signal" if pd.isna(value) else f"unknown signal {shown(value)}"
        raise InputError(f"{path}:{_line(i, True)}: {what} {SIGNAL_EXPECTED}")
    _check_increasing(ts, path, True, allow_equal=True)
    return {"ts": ts, "codes": codes.to_numpy(dtype=np.int8)}


MAX_ABS_FUNDING = 0.1


def load_funding(path: str | Path) -> FundingSeries:
    """``timestamp,funding_rate`` (or ``rate``): the rate per interval at each settlement."""
    path = Path(path)
    a = parsed_cache.load("funding", path, _parse_funding)
    return FundingSeries(str(path), a["ts"], a["rate"])


def _parse_funding(path: Path) -> dict[str, np.ndarray]:
    frame = _read_table(path)
    col = "funding_rate" if "funding_rate" in frame.columns else "rate"
    _require(frame, path, ("timestamp", col if col in frame.columns else "funding_rate"))
    ts = _timestamps(frame, path, True)
    rate = _numeric(frame, col, path, True)
    too_big = np.abs(rate) > MAX_ABS_FUNDING
    if too_big.any():
        i = int(np.argmax(too_big))
        raise InputError(
            f"{path}:{_line(i, True)}: column '{col}':"
            f" {float(rate[i])!r} is not a plausible funding rate"
            f" (|rate| > {MAX_ABS_FUNDING}; rates are fractions, 0.0001 = 0.01%)"
        )
    _check_increasing(ts, path, True, allow_equal=False)
    return {"ts": ts, "rate": rate}
