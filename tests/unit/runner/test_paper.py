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


def test_open_orders_are_looked_up_after_an_execution_not_at_every_close(tmp_path, monkeypatch):
    """The store is asked for open orders only while some may exist (after an execution or a
    reconcile); the backtest fill model's IOC remainder, open until the next open, is still
    settled (the paper report equals the backtest's: tests/acceptance/test_cli_runs.py)."""
    import asyncio

    from adaptive_agent.config import AppConfig
    from adaptive_agent.data import SPOT_5M
    from adaptive_agent.io.loaders import load_candles
    from adaptive_agent.lifecycle import UNFINISHED
    from adaptive_agent.runner.paper import make_market, paper_agent, replay
    from adaptive_agent.state.store import StateStore

    candles = load_candles(SPOT_5M).slice(0, 2_000)
    cfg = AppConfig()
    store = StateStore(tmp_path / "p.sqlite", durable=False)
    asked = []
    real = store.orders

    def counting(*a, **k):
        asked.append(k.get("statuses"))
        return real(*a, **k)

    monkeypatch.setattr(store, "orders", counting)
    market = make_market(cfg, candles, None, "backtest")
    agent = paper_agent(cfg, market, store, None)
    closes = asyncio.run(replay(agent, market, candles))
    executed = sum(1 for p in agent.plans if p.triggered and p.orders)
    open_lookups = sum(1 for s in asked if s is not None and len(s) == 1)
    assert executed > 10 and open_lookups <= 2 * executed + 2 < closes
    assert real(statuses=UNFINISHED) == []  # every order settled
    store.close()
