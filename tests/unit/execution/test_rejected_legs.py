"""execute(): a leg the venue refuses ends there, the rebalance is incomplete; a 429 is a
definite refusal that is retried with a growing pause, never an ambiguous send."""

from __future__ import annotations

import asyncio

from adaptive_agent.clock import VirtualClock
from adaptive_agent.core.model import OrderType
from adaptive_agent.execution.executor import ExecParams, execute
from adaptive_agent.execution.leg_outcome import LegResult
from adaptive_agent.lifecycle import OrderStatus, RebalanceStatus
from adaptive_agent.state.store import StateStore
from tests.unit.execution.test_pricing import FAST, VENUE, gate_of, order, plan_of


def run(plan, gate, params=FAST):
    store = StateStore(":memory:", durable=False)
    clock = VirtualClock(lambda: plan.time_ms)
    try:
        report = asyncio.run(execute(plan, gate, store, params, clock))
        stored = {o.client_id: o for o in store.orders()}
        status = store.last_rebalance()[2]
        return report, stored, status, clock.monotonic()
    finally:
        store.close()


def test_a_balance_refusal_gets_no_ioc_and_leaves_the_rebalance_incomplete():
    gate = gate_of(refuse={OrderType.BUY: "BALANCE_NOT_ENOUGH"})
    plan = plan_of(order(OrderType.BUY, 0.5), order(OrderType.OPEN_SHORT, 100))
    report, stored, status, _ = run(plan, gate)
    assert report.status is RebalanceStatus.INCOMPLETE and status == "incomplete"
    buy = next(leg for leg in report.legs if leg.order_type == "BUY")
    short = next(leg for leg in report.legs if leg.order_type == "OPEN_SHORT")
    assert (buy.result, buy.rejection, buy.filled) == (
        LegResult.REJECTED,
        "BALANCE_NOT_ENOUGH",
        0.0,
    )
    assert short.result is LegResult.FILLED and short.filled == 100
    assert OrderType.BUY not in gate.sent_in_phase("m")  # the refused leg got no IOC
    assert not [o for o in stored.values() if o.status is OrderStatus.OPEN]


def test_a_refused_ioc_is_a_rejected_leg_too():
    gate = gate_of(reject_post_only=True)
    gate.refuse = {}
    plan = plan_of(order(OrderType.CLOSE_LONG, 5))

    async def refuse_iocs(requests, _orig=gate.create_orders):
        if requests[0].client_id.endswith("m"):
            gate.refuse = {OrderType.CLOSE_LONG: "REDUCE_EXCEEDED"}
        return await _orig(requests)

    gate.create_orders = refuse_iocs
    report, _, status, _ = run(plan, gate)
    (leg,) = report.legs
    assert (leg.result, leg.rejection, status) == (
        LegResult.REJECTED,
        "REDUCE_EXCEEDED",
        "incomplete",
    )


def test_everything_filled_is_done():
    report, _, status, _ = run(plan_of(order(OrderType.OPEN_LONG, 10)), gate_of())
    assert report.status is RebalanceStatus.DONE and status == "done"


def test_a_429_is_retried_with_the_same_ids_after_a_growing_pause():
    gate = gate_of(rate_limited_calls=2)
    params = ExecParams(
        post_only_timeout_s=0.0,
        lookup_attempts=1,
        lookup_delay_s=0.0,
        venue=VENUE,
        rate_limit_retries=3,
        rate_limit_backoff_s=1.5,
    )
    report, _, status, slept = run(plan_of(order(OrderType.OPEN_LONG, 10)), gate, params)
    assert status == "done" and report.legs[0].filled == 10
    assert slept == 1.5 + 3.0  # two refusals, two pauses, doubling
    posts = [r.client_id for r in gate.sent if r.client_id.endswith("p")]
    assert len(posts) == 1  # refused calls placed nothing; the third call placed it once
    assert not any("ambiguous" in e for e in report.errors)


def test_a_429_that_outlasts_the_retries_is_a_rejected_leg():
    gate = gate_of(rate_limited_calls=10)
    params = ExecParams(
        post_only_timeout_s=0.0, lookup_attempts=1, venue=VENUE, rate_limit_retries=2
    )
    report, stored, status, _ = run(plan_of(order(OrderType.OPEN_SHORT, 10)), gate, params)
    (leg,) = report.legs
    assert (leg.result, leg.rejection, status) == (
        LegResult.REJECTED,
        "TOO_MANY_REQUESTS",
        "incomplete",
    )
    assert gate.create_calls == 3 and not gate.sent  # nothing ever reached the venue
    assert [o.status for o in stored.values()] == [OrderStatus.REJECTED]
    assert any("rate limited 3 times" in e for e in report.errors)


def _ioc_answer(gate, answer):
    """Answer the IOC step's orders with ``answer(request)`` instead of a full fill."""
    orig = gate.create_orders

    async def create(requests):
        if requests[0].client_id.endswith("m"):
            return [answer(r) for r in requests]
        return await orig(requests)

    gate.create_orders = create


def test_an_ioc_the_adapter_cannot_read_is_an_unknown_leg():
    from adaptive_agent.exchange.exchange_gate import OrderState

    gate = gate_of(reject_post_only=True)
    _ioc_answer(gate, lambda r: OrderState(r.client_id, OrderStatus.UNKNOWN))
    report, stored, status, _ = run(plan_of(order(OrderType.OPEN_LONG, 10)), gate)
    assert (report.legs[0].result, status) == (LegResult.UNKNOWN, "incomplete")
    assert {o.status for o in stored.values()} == {OrderStatus.REJECTED, OrderStatus.UNKNOWN}


def test_an_ioc_that_fills_part_is_a_short_leg():
    from adaptive_agent.exchange.exchange_gate import OrderState

    gate = gate_of(reject_post_only=True)
    _ioc_answer(
        gate,
        lambda r: OrderState(r.client_id, OrderStatus.CANCELED, 4.0, r.price, finish_as="ioc"),
    )
    report, _, status, _ = run(plan_of(order(OrderType.OPEN_SHORT, 10)), gate)
    (leg,) = report.legs
    assert (leg.result, leg.filled, status) == (LegResult.SHORT, 4.0, "incomplete")
    assert any("IOC filled 4 of 10 (ioc)" in n for n in leg.notes)
