"""Time constants and the calendar rules every mode shares (docs/rules.md, "Time").

One home for: the 5-minute bar, the UTC day a close belongs to, the day a close completes, the
funding instants, and the human form of an epoch-millisecond time. Pure functions, no clock.
All times are epoch milliseconds, UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

import numpy as np

SECOND_MS = 1_000
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
BAR_MS = 300_000  # one 5-minute candle; its timestamp is its open time
BARS_PER_DAY = DAY_MS // BAR_MS


def day_of_close(close_ms):
    """The UTC day (index) that owns a bar close: a close at 00:00 ends the day before.

    A day owns the closes in (00:00, 24:00]. Works on ints and on numpy arrays.
    """
    return (close_ms - 1) // DAY_MS


def day_of_open(open_ms):
    """The UTC day (index) of a bar by its open time (how daily candles bucket bars)."""
    return open_ms // DAY_MS


def completed_day(prev_close_ms: int | None, close_ms: int) -> int | None:
    """The UTC day (index) that this close completes, if any.

    A close at 00:00 is the last of the day it ends; after a gap over midnight the previous
    day is complete at the first close after it.
    """
    if close_ms % DAY_MS == 0:
        return close_ms // DAY_MS - 1
    if (
        prev_close_ms is not None
        and prev_close_ms % DAY_MS != 0
        and prev_close_ms // DAY_MS < close_ms // DAY_MS
    ):
        return prev_close_ms // DAY_MS
    return None


def funding_instants(after_ms: int, upto_ms: int, hours_utc: tuple[int, ...]) -> np.ndarray:
    """Funding instants F with ``after < F <= upto``, at the given whole UTC hours, sorted."""
    if upto_ms <= after_ms or not hours_utc:
        return np.empty(0, dtype=np.int64)
    days = np.arange(after_ms // DAY_MS, upto_ms // DAY_MS + 1, dtype=np.int64) * DAY_MS
    inst = np.sort((days[:, None] + np.asarray(hours_utc, dtype=np.int64) * HOUR_MS).ravel())
    return inst[(inst > after_ms) & (inst <= upto_ms)]


def next_funding_ms(now_ms: int, hours_utc: tuple[int, ...]) -> int:
    """The first funding instant strictly after ``now_ms`` (the first of ``funding_instants``
    in ``(now, now + 1 day]``; computed without arrays: it is asked at every close)."""
    day = int(now_ms) // DAY_MS * DAY_MS
    hours = sorted(int(h) for h in hours_utc)
    for d in (day, day + DAY_MS):
        for h in hours:
            if d + h * HOUR_MS > now_ms:
                return d + h * HOUR_MS
    raise ValueError("no funding hours")


def utc_text(ms: int | None, seconds: bool = False) -> str:
    """``2022-11-09 10:05 UTC``: how people read a time in logs, alerts and /status."""
    if ms is None:
        return "never"
    fmt = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime(fmt)
    except (OverflowError, OSError, ValueError):  # a corrupt value must not raise in a message
        return f"{ms} ms (not a time)"


def iso_text(ms: int) -> str:
    """``2022-11-09T10:05:00Z``: how report files write a time (whole seconds, UTC)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_texts(ms) -> list[str]:
    """``iso_text`` of each of many times, at once (``utc_seconds``: the same texts, tested; a
    report of 20,000 rows would spend ~0.1 s in ``strftime``)."""
    return [t.decode() + "Z" for t in utc_seconds(np.asarray(ms, dtype=np.int64)).tolist()]


_YEAR_10000_MS = 253_402_300_800_000  # numpy's S19 cast fails from here on


@lru_cache(maxsize=1)
def _seconds_of_day() -> np.ndarray:
    """The text "HH:MM:SS" of each second of a day, as a uint64."""
    hhmm = np.array([b"%02d:%02d:" % divmod(m, 60) for m in range(1440)], dtype="S8")
    ss = np.array([b"%02d" % s for s in range(60)], dtype="S8").view("<u8") << np.uint64(48)
    return (hhmm.view("<u8")[:, None] | ss[None, :]).ravel()


def utc_seconds(ms: np.ndarray) -> np.ndarray:
    """Epoch milliseconds as ``S19`` text ``"YYYY-MM-DDTHH:MM:SS"``: the bytes of
    ``ms.astype("datetime64[ms]").astype("datetime64[s]").astype("S19")``, which it falls back
    to for non-integers and for times before 1970 or from the year 10000 on. numpy's cast is
    done once per day; each row is three 8-byte words ("YYYY-MM-", "Y-MM-DDT" at byte 3 and
    "HH:MM:SS" at byte 11) gathered from the days' and the clock's tables."""
    n = len(ms)
    if ms.dtype.kind not in "iu" or not n or ms.min() < 0 or ms.max() >= _YEAR_10000_MS:
        return ms.astype("datetime64[ms]").astype("datetime64[s]").astype("S19")
    day = ms // DAY_MS
    sec = (ms - day * DAY_MS) // 1000
    first, last = int(day.min()), int(day.max())
    if last - first < n:
        days, at = np.arange(first, last + 1), day - first
    else:
        days, at = np.unique(day, return_inverse=True)
    text = np.zeros((len(days), 16), dtype=np.uint8)
    text[:, :10] = days.astype("datetime64[D]").astype("S10").view(np.uint8).reshape(-1, 10)
    text[:, 10] = ord("T")
    out = np.empty(n, dtype="S19")
    buf = out.view(np.uint8)
    for offset, table, index in (
        (0, text[:, :8], at),
        (3, text[:, 3:11], at),
        (11, _seconds_of_day(), sec),
    ):
        words = np.ascontiguousarray(table).view("<u8").ravel()
        view = np.ndarray((n,), "<u8", buf, offset=offset, strides=(19,))
        view[...] = np.take(words, index, mode="clip")
    return out
