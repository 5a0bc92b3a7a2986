"""Daily candles from 5-minute bars and Wilder's ATR (docs/rules.md, Threshold and trigger).

ATR matches TA-Lib's ``ATR(high, low, close, timeperiod=14)`` on the daily bars: the first value
is the mean true range of days 2..15, then Wilder smoothing. Pure numpy, no clock.
"""

from __future__ import annotations

import numpy as np

from .time_rules import DAY_MS


def daily_candles(
    ts_ms: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bucket bars by the UTC day of their open time: (day_start_ms, high, low, close)."""
    if len(ts_ms) == 0:
        empty = np.empty(0)
        return np.empty(0, dtype=np.int64), empty, empty, empty
    day = ts_ms // DAY_MS
    starts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
    ends = np.r_[starts[1:], len(ts_ms)] - 1
    return (
        day[starts] * DAY_MS,
        np.maximum.reduceat(high, starts),
        np.minimum.reduceat(low, starts),
        close[ends],
    )


def wilder_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """TA-Lib-compatible ATR: NaN for the first ``period`` bars."""
    n = len(close)
    out = np.full(n, np.nan)
    if n <= period:
        return out
    prev = close[:-1]
    tr = np.maximum.reduce(
        [high[1:] - low[1:], np.abs(high[1:] - prev), np.abs(low[1:] - prev)]
    )  # tr[i-1] is the true range of bar i
    atr = float(np.mean(tr[:period]))
    out[period] = atr
    for i in range(period + 1, n):
        atr = (atr * (period - 1) + tr[i - 1]) / period
        out[i] = atr
    return out


def atr_frac_at(
    decision_ms: np.ndarray,
    ts_ms: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    period: int,
) -> np.ndarray:
    """``atr_frac`` in force at each decision time: ATR of the last completed day / its close.

    A day is completed once the decision time reaches the next 00:00 UTC; 0 before the first ATR.
    """
    day_start, dh, dl, dc = daily_candles(ts_ms, high, low, close)
    atr = wilder_atr(dh, dl, dc, period)
    frac = np.where(np.isnan(atr), 0.0, atr / dc)
    k = np.searchsorted(day_start + DAY_MS, decision_ms, side="right") - 1
    return np.where(k >= 0, frac[np.clip(k, 0, None)] if len(frac) else 0.0, 0.0)
