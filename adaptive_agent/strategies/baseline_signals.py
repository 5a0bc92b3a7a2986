"""Baseline signal rule: EMA crossover on hourly closes.

Hourly closes are the close of the last 5-minute bar of each UTC hour. With ``fast`` and ``slow``
EMAs (spans in hours, ``alpha = 2 / (span + 1)``, seeded with the first close), a signal is
emitted at the close of the hour where the fast EMA crosses the slow one: ``BUY`` when it
crosses above, ``SELL`` when it crosses below. Only completed hours are used (no look-ahead):
the row's timestamp is the hour's close. It is a demonstration of gating, not a trading edge.
"""

from __future__ import annotations

import numpy as np

from ..core.signals import SIGNAL_OF, SignalSeries
from ..core.time_rules import HOUR_MS
from ..io.loaders import Candles


def ema(values: np.ndarray, span: int) -> np.ndarray:
    alpha = 2.0 / (span + 1.0)
    out = np.empty_like(values, dtype=np.float64)
    acc = float(values[0])
    for i, v in enumerate(values):
        acc = acc + alpha * (float(v) - acc) if i else acc
        out[i] = acc
    return out


def hourly_closes(candles: Candles) -> tuple[np.ndarray, np.ndarray]:
    """(close time of each UTC hour that has bars, last close in it)."""
    hour = candles.ts // HOUR_MS
    last = np.flatnonzero(np.r_[hour[1:] != hour[:-1], True])
    return (hour[last] + 1) * HOUR_MS, candles.close[last]


def ema_crossover_signals(candles: Candles, fast: int = 12, slow: int = 48) -> SignalSeries:
    times, closes = hourly_closes(candles)
    if len(closes) < 2:
        return SignalSeries.empty()
    diff = ema(closes, fast) - ema(closes, slow)
    above = diff > 0
    cross = np.flatnonzero(above[1:] != above[:-1]) + 1
    codes = np.where(above[cross], 1, -1).astype(np.int8)
    return SignalSeries(times[cross].astype(np.int64), codes)


def write_signals(series: SignalSeries, path) -> None:
    from ..core.time_rules import iso_text

    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("timestamp,signal,time_utc\n")
        for t, c in zip(series.ts_ms.tolist(), series.codes.tolist(), strict=True):
            fh.write(f"{t},{SIGNAL_OF[c]},{iso_text(t)}\n")
