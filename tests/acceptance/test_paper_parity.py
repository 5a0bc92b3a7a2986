"""Parity: paper trading with the backtest's fill model decides exactly as the backtest does.

Same trigger times, same target sizes, same orders and blocked orders, same NAV: the paper
run goes through the whole live path (Agent, execute(), the exchange port, the simulator's
matching core); only the fill model is the backtester's. With a signal TTL
(``strategy.signal_ttl_minutes``) both expire the signals by the same rule, and with other
funding hours (``backtest.funding_hours_utc``) both settle at the same instants.
"""

from __future__ import annotations

import asyncio

import pytest

from adaptive_agent.backtest.rebalance_backtester import run_backtest
from adaptive_agent.config import AppConfig
from adaptive_agent.runner.paper import make_market, paper_agent, replay
from adaptive_agent.state.store import StateStore
from adaptive_agent.strategies.baseline_signals import ema_crossover_signals


def _key(plan):
    return (
        plan.time_ms,
        plan.target_lots,
        tuple((o.leg, o.order_type, o.lots) for o in plan.orders),
        tuple((h.order.leg, h.order.order_type, h.order.lots, h.gate) for h in plan.blocked),
        tuple((h.order.leg, h.order.order_type, h.order.lots) for h in plan.skipped),
    )


def _paper(cfg, candles, signals, funding, db):
    """The paper run's agent after replaying ``candles`` with the backtest's fill model."""
    market = make_market(cfg, candles, funding, "backtest")
    store = StateStore(db, durable=False)
    agent = paper_agent(cfg, market, store, signals)
    asyncio.run(replay(agent, market, candles))
    store.close()
    return agent


DEFAULT_HOURS = (0, 8, 16)


@pytest.mark.parametrize(
    ("start", "ttl", "hours"),
    [
        (0, None, DEFAULT_HOURS),  # the start of the data
        (67_000, None, DEFAULT_HOURS),  # the 2023-03-24 halt
        (0, 240, DEFAULT_HOURS),  # a TTL that changes the decisions
        (67_000, 240, DEFAULT_HOURS),
        (0, None, (4, 12, 20)),  # funding at other hours: the same instants in both
        (67_000, 240, (5, 13, 21)),
    ],
)
def test_paper_makes_the_backtests_decisions(spot, funding, tmp_path, start, ttl, hours):
    cfg = AppConfig.model_validate(
        {"strategy": {"signal_ttl_minutes": ttl}, "backtest": {"funding_hours_utc": hours}}
    )
    candles = spot.slice(start, start + 3_000)
    signals = ema_crossover_signals(candles, 3, 12)  # frequent crossings: gating exercised
    backtest = run_backtest(candles, signals, funding, config=cfg)
    if ttl is not None:  # a signal older than the TTL counts as NONE: fewer, other decisions
        untimed = run_backtest(candles, signals, funding, config=AppConfig())
        assert [_key(r.plan) for r in backtest.rebalances] != [
            _key(r.plan) for r in untimed.rebalances
        ]
    if hours != DEFAULT_HOURS:  # the setting matters: funding lands at other instants
        usual = run_backtest(candles, signals, funding, config=AppConfig())
        assert backtest.summary["funding_pnl"] != usual.summary["funding_pnl"]
    agent = _paper(cfg, candles, signals, funding, tmp_path / "paper.sqlite")
    paper = [p for p in agent.plans if p.triggered]
    assert len(paper) == len(backtest.rebalances) > 20
    assert [_key(p) for p in paper] == [_key(r.plan) for r in backtest.rebalances]
    assert sum(len(p.blocked) for p in paper) > 0
    # Same book: NAV at the last decision agrees to float precision.
    assert agent.plans[-1].nav == pytest.approx(float(backtest.nav[-2]), rel=1e-9)
