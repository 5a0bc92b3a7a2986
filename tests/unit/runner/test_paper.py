"""The paper driver's pieces: the fixed signal source and the simulated account's funding."""

from __future__ import annotations

import numpy as np

from adaptive_agent.config import AppConfig
from adaptive_agent.core.model import Signal
from adaptive_agent.core.signals import SignalSeries
from adaptive_agent.runner.paper import FixedSignals, make_market

SERIES = SignalSeries(np.array([1_000, 5_000], dtype=np.int64), np.array([1, -1], dtype=np.int8))


def test_fixed_signals_follow_the_series():
    src = FixedSignals(SERIES)
    assert [src.at(t) for t in (999, 1_000, 4_999, 5_000, 10**12)] == [
        Signal.NONE,
        Signal.BUY,
        Signal.BUY,
        Signal.SELL,
        Signal.SELL,
    ]
    assert FixedSignals(None).at(10**12) is Signal.NONE


def test_fixed_signals_expire_by_the_backtests_rule():
    src = FixedSignals(SERIES, ttl_ms=2_000)
    for t in (999, 1_000, 3_000, 3_001, 5_000, 7_000, 7_001):
        assert src.at(t) is SERIES.at(t, 2_000), t
    assert src.at(3_000) is Signal.BUY and src.at(3_001) is Signal.NONE


def test_paper_is_funded_like_a_new_gate_user_all_usdt_in_spot(spot):
    m = make_market(AppConfig(), spot.slice(0, 10), None, "backtest")
    assert m.spot_balances()["USDT"].available == AppConfig().backtest.nav0
    assert m.futures_account()["total"] == 0.0
