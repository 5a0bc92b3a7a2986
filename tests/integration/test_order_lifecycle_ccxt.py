"""The order lifecycle as Gate reports it, through the unmodified ccxt client against gate-sim:
every finish_as read into the lifecycle (none left open in the store), post-only crossing
reported either way, batch replies without ``text``, 429 retried as a definite refusal, 503
looked up as an ambiguous send, and zero-fill futures orders gone after 10 minutes."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from adaptive_agent.core.model import OrderType
from adaptive_agent.exchange.exchange_gate import Market, OrderRequest, OrderStatus
from adaptive_agent.exchange.gate_ccxt import GateCcxtExchange
from adaptive_agent.execution.executor import ExecParams, record_state
from adaptive_agent.execution.leg_outcome import LegResult
from adaptive_agent.lifecycle import FINISH_AS, UNFINISHED, RebalanceStatus
from adaptive_agent.sim.runner import running_sim
from adaptive_agent.state.store import StateStore
from tests.integration.test_exec_ccxt import KEY, SECRET, first_rebalance_through_ccxt

# Every finish Gate documents (lifecycle.FINISH_AS cites the docs), "open" aside.
SPOT_FINISHES = [how for how in FINISH_AS["spot"] if how != "open"]
FUTURES_FINISHES = list(FINISH_AS["futures"])
EXPECTED = {"filled": OrderStatus.CLOSED, "poc": OrderStatus.REJECTED}


def with_gate(candles, body, faults=None):
    async def scenario():
        async with running_sim(candles, KEY, SECRET, faults=faults, dual_mode=True) as sim:
            sim.market.advance(3)
            gate = GateCcxtExchange(KEY, SECRET, rest_url=sim.url, rate_limit=False)
            try:
                await gate.start()
                return await body(sim, gate)
            finally:
                await gate.close()

    return asyncio.run(scenario())


def test_every_finish_as_reads_into_the_lifecycle_and_none_stays_open(spot, tmp_path):
    """Each finish Gate documents, put on a resting order of ours by the simulator (the ones
    its own rules reach, and the liquidation engine's), then read back through ccxt."""
    store = StateStore(tmp_path / "s.sqlite")

    async def body(sim, gate):
        m = sim.market
        bid, _ = m.top("spot")
        px = round(m.mark() * 0.98, 1)
        got = {}
        for market, finishes, otype, amount, price in (
            ("spot", SPOT_FINISHES, OrderType.BUY, 0.001, round(bid - 100, 1)),
            ("futures", FUTURES_FINISHES, OrderType.OPEN_LONG, 1.0, px),
        ):
            for i, how in enumerate(finishes):
                cid = f"t-{market[0]}{i}"
                orders = [{"client_id": cid, "leg": "x", "order_type": otype, "market": market}]
                store.begin_rebalance(
                    cid, i, {}, [dict(o, phase="p", amount=amount, price=price) for o in orders], 0
                )
                (state,) = await gate.create_orders([OrderRequest(cid, otype, amount, price)])
                assert state.status is OrderStatus.OPEN
                venue = m.get_order(market, cid)
                m.finish_order(venue, how)
                seen = await gate.fetch_order(Market(market), cid)
                record_state(store, cid, m.now_ms, seen)
                got[(market, how)] = seen
        return got

    got = with_gate(spot.slice(1_000, 1_100), body)
    for (market, how), state in got.items():
        assert state.status is EXPECTED.get(how, OrderStatus.CANCELED), (market, how, state)
        assert state.finish_as == how
    assert got[("spot", "poc")].post_only_rejected
    assert not store.orders(statuses=UNFINISHED)  # none left open (or unknown) in the store
    store.close()


def test_post_only_crossing_is_a_rejection_whether_an_error_or_a_poc_order(spot):
    async def body(sim, gate):
        out = []
        for mode in ("error", "order"):
            sim.faults.update({"post_only_reject": mode})
            _, ask = sim.market.top("spot")
            (s,) = await gate.create_orders(
                [OrderRequest(f"t-x{mode}", OrderType.BUY, 0.001, ask, post_only=True)]
            )
            out.append(s)
        fut_ask = sim.market.top("futures")[1]
        (f,) = await gate.create_orders(
            [OrderRequest("t-xf", OrderType.OPEN_LONG, 1.0, fut_ask, post_only=True)]
        )
        return out, f, sim.market.order_history("spot")

    (as_error, as_order), fut, history = with_gate(spot.slice(1_000, 1_100), body)
    assert as_error.post_only_rejected and as_error.exchange_id is None
    assert as_order.post_only_rejected and as_order.exchange_id is not None  # an order, poc
    assert [(o.text, o.finish_as) for o in history] == [("t-xorder", "poc")]
    assert fut.post_only_rejected and fut.error == "ORDER_POC_IMMEDIATE"


@pytest.mark.parametrize("batch_text", ["echo", "omit"])
def test_batch_replies_are_matched_by_position_with_or_without_text(spot, batch_text):
    async def body(sim, gate):
        sim.faults.update({"batch_text": batch_text})
        bid, ask = sim.market.top("spot")
        return await gate.create_orders(
            [
                OrderRequest("t-b1", OrderType.BUY, 0.001, round(bid - 50, 1), post_only=True),
                OrderRequest("t-b2", OrderType.BUY, 0.001, ask, post_only=True),  # crosses
                OrderRequest("t-b3", OrderType.BUY, 99.0, round(bid - 60, 1)),  # too poor
            ]
        )

    rest, cross, poor = with_gate(spot.slice(1_000, 1_100), body)
    assert [s.client_id for s in (rest, cross, poor)] == ["t-b1", "t-b2", "t-b3"]
    assert rest.status is OrderStatus.OPEN
    assert cross.post_only_rejected
    assert (poor.status, poor.error) == (OrderStatus.REJECTED, "BALANCE_NOT_ENOUGH")


def rehearse(spot, tmp_path, arm, **params):
    """The first rebalance through ccxt with these faults armed once the adapter started."""
    return first_rebalance_through_ccxt(
        spot.slice(1_000, 1_100),
        tmp_path / "s.sqlite",
        ExecParams(post_only_timeout_s=0.1, **params),
        arm=arm,
    )


def test_a_429_is_retried_not_looked_up_and_the_rebalance_completes(spot, tmp_path):
    _, report, venue, statuses = rehearse(
        spot, tmp_path, {"rate_limit_next": 2}, rate_limit_backoff_s=0.05
    )
    assert not any("ambiguous" in e for e in report.errors), report.errors
    assert report.status is RebalanceStatus.DONE
    assert max(Counter(o.text for o in venue).values()) == 1
    assert not {s for s in statuses.values()} & {"open", "unknown", "intent"}


def test_a_429_that_lasts_leaves_the_legs_rejected_and_the_rebalance_incomplete(spot, tmp_path):
    _, report, venue, statuses = rehearse(
        spot, tmp_path, {"rate_limit_rate": 1.0}, rate_limit_retries=1, rate_limit_backoff_s=0.01
    )
    assert report.status is RebalanceStatus.INCOMPLETE and venue == []
    assert {leg.result for leg in report.legs} == {LegResult.REJECTED}
    assert {leg.rejection for leg in report.legs} == {"TOO_MANY_REQUESTS"}
    assert set(statuses.values()) == {"rejected"}


def test_a_503_on_send_stays_ambiguous_and_is_looked_up(spot, tmp_path):
    _, report, _, statuses = rehearse(
        spot, tmp_path, {"unavailable_next": 1}, lookup_attempts=1, lookup_delay_s=0.0
    )
    assert any("ambiguous" in e for e in report.errors), report.errors
    assert report.status is RebalanceStatus.INCOMPLETE  # one leg's fate was not settled
    assert any(leg.result is LegResult.UNKNOWN for leg in report.legs)
    assert "open" not in statuses.values()


def test_zero_fill_futures_orders_are_gone_ten_minutes_after_their_cancel(spot):
    async def body(sim, gate):
        px = round(sim.market.mark() * 0.98, 1)
        await gate.create_orders([OrderRequest("t-z", OrderType.OPEN_LONG, 1.0, px)])
        cancelled = await gate.cancel_order(Market.FUTURES, "t-z")
        sim.market.advance(3)  # 15 minutes
        return cancelled, await gate.fetch_order(Market.FUTURES, "t-z")

    cancelled, later = with_gate(spot.slice(1_000, 1_100), body)
    assert cancelled.status is OrderStatus.CANCELED and cancelled.filled == 0
    assert later is None  # not by text (60 s), not in the order list (10 min)
