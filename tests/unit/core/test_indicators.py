"""Daily candles and Wilder ATR against TA-Lib's definition, computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from adaptive_agent.core.indicators import atr_frac_at, daily_candles, wilder_atr
from adaptive_agent.core.time_rules import DAY_MS


def test_daily_candles_bucket_by_open_time():
    ts = np.array([0, 300_000, DAY_MS - 300_000, DAY_MS, DAY_MS + 300_000], dtype=np.int64)
    high = np.array([5.0, 7.0, 6.0, 9.0, 8.0])
    low = np.array([4.0, 3.0, 5.0, 8.5, 7.0])
    close = np.array([4.5, 6.0, 5.5, 8.8, 7.5])
    day, h, lo, c = daily_candles(ts, high, low, close)
    assert day.tolist() == [0, DAY_MS]
    assert h.tolist() == [7.0, 9.0] and lo.tolist() == [3.0, 7.0] and c.tolist() == [5.5, 7.5]
    assert len(daily_candles(ts[:0], high[:0], low[:0], close[:0])[0]) == 0


def test_wilder_atr_matches_talib_definition():
    rng = np.random.default_rng(0)
    n = 40
    close = 100 + np.cumsum(rng.normal(0, 2, n))
    high = close + rng.uniform(0, 3, n)
    low = close - rng.uniform(0, 3, n)
    atr = wilder_atr(high, low, close, 14)
    tr = [
        max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        for i in range(1, n)
    ]
    assert np.isnan(atr[:14]).all()
    expected = sum(tr[:14]) / 14  # days 2..15
    assert atr[14] == pytest.approx(expected, rel=1e-14)
    for i in range(15, n):
        expected = (expected * 13 + tr[i - 1]) / 14
        assert atr[i] == pytest.approx(expected, rel=1e-14)
    assert np.isnan(wilder_atr(high[:14], low[:14], close[:14], 14)).all()


def test_atr_frac_uses_only_completed_days():
    bars_per_day = 288
    days = 20
    ts = np.arange(days * bars_per_day, dtype=np.int64) * 300_000
    rng = np.random.default_rng(1)
    close = 100 + np.cumsum(rng.normal(0, 0.1, len(ts)))
    high, low = close + 0.5, close - 0.5
    dec = ts + 300_000
    frac = atr_frac_at(dec, ts, high, low, close, 14)
    _, dh, dl, dc = daily_candles(ts, high, low, close)
    atr = wilder_atr(dh, dl, dc, 14)
    # Before the 15th day completes: 0. At 00:00 of day 16 the value of day 15 (index 14) applies.
    first = 15 * bars_per_day - 1  # decision at the close of the last bar of day 15
    assert (frac[:first] == 0).all()
    assert frac[first] == pytest.approx(atr[14] / dc[14])
    assert frac[first + 1] == frac[first]  # unchanged intraday
    assert frac[16 * bars_per_day - 1] == pytest.approx(atr[15] / dc[15])
