"""CandleHistory: the agent's ATR equals the backtest's over the whole run, not a window."""

from __future__ import annotations

import numpy as np

from adaptive_agent.core.indicators import atr_frac_at
from adaptive_agent.core.model import Candle
from adaptive_agent.core.time_rules import BAR_MS
from adaptive_agent.runner.candle_history import CandleHistory


def _candles(c, lo, hi):
    return [
        Candle(int(c.ts[i]), float(c.open[i]), float(c.high[i]), float(c.low[i]), float(c.close[i]))
        for i in range(lo, hi)
    ]


def test_atr_equals_the_backtests_at_every_close_for_months(spot):
    """111 days of real bars, streamed one by one after a 20-day backfill: the ATR the agent
    uses equals the backtest's at every close (a 60-day window drifted away after ~100 days)."""
    n, start = 32_000, 20 * 288
    c = spot.slice(0, n)
    dec = c.ts + BAR_MS
    expected = atr_frac_at(dec, c.ts, c.high, c.low, c.close, 14)
    h = CandleHistory()
    h.add(_candles(c, 0, start))
    got = []
    for i, candle in enumerate(_candles(c, start, n), start):
        h.add([candle])
        got.append(h.atr_frac(int(dec[i]), 14))
    assert np.array_equal(np.array(got), expected[start:])
    assert expected[-1] > 0 and len(h) == 112  # days, partial first and last included


def test_repeats_and_late_candles_change_nothing(spot):
    c = spot.slice(0, 6_000)
    bars = _candles(c, 0, len(c))
    once, again = CandleHistory(), CandleHistory()
    once.add(bars)
    again.add(bars[3_000:])
    again.add(bars[:3_500])  # a backfill that overlaps what was streamed, out of order
    again.add(bars[-10:])
    t = int(c.ts[-1]) + BAR_MS
    assert again.atr_frac(t, 14) == once.atr_frac(t, 14) > 0
    assert again.last_ts == once.last_ts == int(c.ts[-1])


def test_an_older_day_changing_refreshes_the_cached_value():
    day = 86_400_000
    h = CandleHistory()
    for d in range(16):
        h.add([Candle(d * day, 100.0, 101.0, 99.0, 100.0)])
    t = 16 * day
    before = h.atr_frac(t, 14)
    h.add([Candle(3 * day + BAR_MS, 100.0, 150.0, 99.0, 100.0)])  # a late bar of day 3
    assert h.atr_frac(t, 14) > before
