"""The reference candles a running agent has seen, kept as UTC daily aggregates for the ATR.

The backtest computes ATR over every completed daily candle since the first candle of its input
(docs/rules.md, Threshold and trigger); a paper replay or a live run must do the same from its
first candle on, not over a sliding window, or the threshold drifts away from the backtest's
after a few weeks. A day is four numbers, so the whole history stays small: a year is ~365
entries. Candles may arrive again or out of order (a backfill after a reconnect): the daily
high is a max, the low a min and the close the latest bar's, so a repeat changes nothing.
"""

from __future__ import annotations

import numpy as np

from ..core.indicators import atr_frac_at
from ..core.model import Candle
from ..core.time_rules import DAY_MS, day_of_open


class CandleHistory:
    __slots__ = ("_atr_cache", "_days", "_last_day", "_version", "last_ts")

    def __init__(self) -> None:
        self._days: dict[int, list[float]] = {}  # day -> [high, low, close, open time of close]
        self.last_ts: int | None = None  # open time of the newest candle
        self._last_day: int | None = None
        self._version = 0  # bumped when a day before the newest one changes
        self._atr_cache: tuple[tuple[int, int, int], float] | None = None

    def __len__(self) -> int:
        return len(self._days)

    def add(self, candles: list[Candle]) -> None:
        for c in candles:
            day = int(day_of_open(c.ts))
            agg = self._days.get(day)
            if agg is None:
                self._days[day] = [c.high, c.low, c.close, float(c.ts)]
            else:
                agg[0] = max(agg[0], c.high)
                agg[1] = min(agg[1], c.low)
                if c.ts >= agg[3]:
                    agg[2], agg[3] = c.close, float(c.ts)
            if self._last_day is not None and day < self._last_day:
                self._version += 1  # an older day changed: the cached ATR may be stale
            if self._last_day is None or day > self._last_day:
                self._last_day = day
            if self.last_ts is None or c.ts > self.last_ts:
                self.last_ts = c.ts

    def atr_frac(self, decision_ms: int, period: int) -> float:
        """ATR of the last completed UTC day / its close; it changes once a day, so cached."""
        if not self._days:
            return 0.0
        key = (decision_ms // DAY_MS, self._version, period)
        if self._atr_cache is not None and self._atr_cache[0] == key:
            return self._atr_cache[1]
        days = sorted(self._days)
        starts = np.asarray(days, dtype=np.int64) * DAY_MS
        agg = np.array([self._days[d][:3] for d in days], dtype=np.float64)
        dec = np.array([decision_ms], dtype=np.int64)
        value = float(atr_frac_at(dec, starts, agg[:, 0], agg[:, 1], agg[:, 2], period)[0])
        self._atr_cache = (key, value)
        return value
