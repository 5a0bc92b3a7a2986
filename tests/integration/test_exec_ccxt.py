"""execute() through the real ccxt Gate client against gate-sim: the venue's timeouts, and
how the adapter reports the venue's errors.

An order the venue accepted but whose reply never came back must be found by its client id
and never sent a second time.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from adaptive_agent.core.model import Book, EngineState, OrderType, Params, Prices, Signal
from adaptive_agent.core.rebalance_engine import build_orders
from adaptive_agent.exchange.exchange_gate import Market, OrderRequest, OrderStatus
from adaptive_agent.exchange.gate_ccxt import GateCcxtExchange
from adaptive_agent.exchange.gate_constants import ErrorKind, Label, error_kind
from adaptive_agent.execution.executor import ExecParams, client_id, execute, rebalance_id_for
from adaptive_agent.sim.faults import Faults
from adaptive_agent.sim.runner import running_sim
from adaptive_agent.state.store import StateStore

KEY, SECRET = "exec-key", "exec-secret-0123456789"


def first_rebalance_through_ccxt(
    candles, db, params: ExecParams, faults=None, timeout_ms=10_000, arm=None
):
    """A fresh account's first rebalance: decided by the core, executed by execute() through
    the unmodified ccxt client against gate-sim (``arm``: fault settings applied once the
    adapter has started). Returns the plan, the report, the venue's orders by client id
    (finished and open) and the store's order statuses."""

    async def scenario():
        async with running_sim(candles, KEY, SECRET, faults=faults, dual_mode=True) as sim:
            sim.market.advance(3)
            gate = GateCcxtExchange(
                KEY, SECRET, rest_url=sim.url, timeout_ms=timeout_ms, rate_limit=False
            )
            store = StateStore(db)
            try:
                await gate.start()
                if arm:
                    sim.faults.update(arm)
                px = sim.market.last("spot")
                plan = build_orders(
                    Book(cash=60_000.0),
                    Prices(px, px, sim.market.mark()),
                    Signal.NONE,
                    sim.market.now_ms,
                    0.0,
                    EngineState(peak_nav=60_000.0),
                    Params(),
                )
                report = await execute(plan, gate, store, params)
            finally:
                await gate.close()
            venue = [
                o
                for m in ("spot", "futures")
                for o in sim.market.order_history(m) + sim.market.open_orders(m)
            ]
            statuses = {o.client_id: o.status for o in store.orders()}
            store.close()
            return plan, report, venue, statuses

    return asyncio.run(scenario())


def test_timeout_after_acceptance_never_sends_a_second_order(spot, tmp_path):
    plan, report, venue, statuses = first_rebalance_through_ccxt(
        spot.slice(1_000, 1_100),
        tmp_path / "s.sqlite",
        ExecParams(post_only_timeout_s=0.3, lookup_delay_s=0.2),
        faults=Faults(timeout_after_accept=1, timeout_delay_s=4.0),
        timeout_ms=800,
    )
    texts = [o.text for o in venue]
    assert any("ambiguous" in e for e in report.errors), report.errors  # the fault did bite
    assert max(Counter(texts).values()) == 1  # one order per client id at the venue
    rid = rebalance_id_for(plan.time_ms)
    for o in plan.orders:  # every post-only order reached the venue exactly once ...
        assert texts.count(client_id(rid, o.leg, "p")) == 1
    assert set(texts) <= set(statuses)  # ... and the store knows every order there
    assert "unknown" not in statuses.values()  # the accepted one was found by its id
    for leg in report.legs:  # and the rebalance still completed
        assert leg.filled == leg.requested, leg


def test_market_style_sends_true_market_orders_and_sizes_spot_buys_in_usdt(spot, tmp_path):
    """`market_style = "market"`: the remainder goes as market orders; Gate sizes a spot market
    buy in USDT, so the executor sends its cost, and the venue fills about the BTC wanted."""
    plan, report, venue, _ = first_rebalance_through_ccxt(
        spot.slice(1_000, 1_100),
        tmp_path / "s.sqlite",
        ExecParams(post_only_timeout_s=0.1, market_style="market"),
    )
    history = {o.text: o for o in venue}
    rid = rebalance_id_for(plan.time_ms)
    spot_order = next(o for o in plan.orders if o.order_type == "BUY")
    market_buy = history[client_id(rid, spot_order.leg, "m")]
    assert market_buy.price is None and market_buy.by_cost  # a market buy sized in USDT
    assert market_buy.amount == pytest.approx(spot_order.size_btc * market_buy.avg_price, rel=0.01)
    short = history[
        client_id(rid, next(o.leg for o in plan.orders if o.order_type == "OPEN_SHORT"), "m")
    ]
    assert short.price is None and short.amount < 0 and not short.reduce_only
    spot_leg = next(leg for leg in report.legs if leg.order_type == "BUY")
    assert spot_leg.filled == pytest.approx(spot_leg.requested, rel=0.01)


def test_venue_errors_reach_the_port_as_gate_labels_and_kinds(spot):
    """Rejections carry Gate's label; a cancel of a finished order (ORDER_CLOSED: the sim finds
    finished orders by text here) answers its state; batches over Gate's limit are refused."""

    async def scenario():
        async with running_sim(
            spot.slice(1_000, 1_100), KEY, SECRET, dual_mode=True, text_lookup="always"
        ) as sim:
            sim.market.advance(3)
            gate = GateCcxtExchange(KEY, SECRET, rest_url=sim.url, rate_limit=False)
            try:
                await gate.start()
                bid, ask = sim.market.top("spot")
                poor, cross, filled = await asyncio.gather(
                    gate.create_orders([OrderRequest("t-poor", OrderType.BUY, 5.0, bid)]),
                    gate.create_orders(
                        [OrderRequest("t-cross", OrderType.BUY, 0.001, ask, post_only=True)]
                    ),
                    gate.create_orders([OrderRequest("t-fill", OrderType.BUY, 0.001, ask)]),
                )
                cancelled = await gate.cancel_order(Market.SPOT, "t-fill")
                missing = await gate.fetch_order(Market.SPOT, "t-never")
                with pytest.raises(ValueError, match="at most 10"):
                    await gate.create_orders(
                        [OrderRequest(f"t-b{i}", OrderType.BUY, 0.001, bid) for i in range(11)]
                    )
                return poor[0], cross[0], filled[0], cancelled, missing
            finally:
                await gate.close()

    poor, cross, filled, cancelled, missing = asyncio.run(scenario())
    assert poor.status is OrderStatus.REJECTED and poor.error == Label.BALANCE_NOT_ENOUGH
    assert error_kind(poor.error) is ErrorKind.BALANCE
    assert cross.post_only_rejected and error_kind(cross.error) is ErrorKind.POST_ONLY_CROSS
    assert filled.status is OrderStatus.CLOSED
    assert cancelled is not None and cancelled.status is OrderStatus.CLOSED
    assert missing is None
