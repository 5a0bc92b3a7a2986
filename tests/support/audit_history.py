"""A state store's history for the daily audit's tests: ``DAY`` and the days before it.

Bars are stamped with their close: UTC day D owns the closes in (D 00:00, D+1 00:00].
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime

import numpy as np

from adaptive_agent.core.time_rules import DAY_MS, HOUR_MS
from adaptive_agent.records import BarSnapshot, TradeRecord
from adaptive_agent.state.store import StateStore

DAY = date(2025, 6, 30)
START = int(datetime(2025, 6, 30, tzinfo=UTC).timestamp() * 1000)  # DAY 00:00


def snap(t: int, nav: float, **kw) -> BarSnapshot:
    b = BarSnapshot(t, nav, 60_000.0, 0.0, 0.5, 0.0, 0.5, 0.0, 0.0, 0.17, False)
    return replace(b, **kw)


def history(store: StateStore, daily_returns: list[float], intraday=None, fee: float = 5.0):
    """Days ending with DAY: 4 bars a day (closes 06:00, 12:00, 18:00 and 24:00, the day's
    last), closes following the returns."""
    n = len(daily_returns)
    nav = 10_000.0
    closes = []
    for k in range(n + 1):
        day_start = START - (n - k) * DAY_MS
        target = nav if k == 0 else nav * (1 + daily_returns[k - 1])
        path = [nav, (nav + target) / 2, (nav + target) / 2, target]
        if k == n and intraday is not None:
            path = [target * f for f in intraday]
            target = path[-1]
        for j, v in enumerate(path):
            store.add_bar(snap(day_start + ((j + 1) * 6) * HOUR_MS, v))
        nav = target
        closes.append(target)
    store.add_trades(
        [
            TradeRecord(
                START + HOUR_MS, "r1", "c1", "BTC_SPOT", "spot", "buy", 0.01, 6e4, 6e4, fee, "m"
            )
        ]
    )
    return closes


def good_returns(n: int = 35) -> list[float]:
    return [0.001 + 0.0005 * (-1) ** i for i in range(n)]


def np_sharpe(closes: list[float]) -> float:
    c = np.asarray(closes[-31:])
    r = c[1:] / c[:-1] - 1
    return float(r.mean() / r.std(ddof=1) * math.sqrt(365))


def day_navs(store) -> list[float]:
    """DAY's bar NAVs: closes in (DAY 00:00, DAY+1 00:00]."""
    navs = [b.nav for b in store.bars(START + 1, START + DAY_MS + 1)]
    assert len(navs) == 4
    return navs
