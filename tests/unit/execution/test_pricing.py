"""The executor's prices and sizes: tick and lot rounding, the touch, the remainder.

The private helpers (``_round_to``, ``_floor_lots``) are checked directly, with hypothesis
properties; what only ``execute()`` shows (which side of the book, which tick, which
rounding direction, the remainder's size and minimum) is read off the requests it sends to
an in-memory gate (``tests/support/fake_gate.py``) on a virtual clock.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptive_agent.clock import VirtualClock
from adaptive_agent.core.model import Leg, Order, OrderType, Plan, Signal, VenueRules
from adaptive_agent.exchange.exchange_gate import BookTop, Market, market_of
from adaptive_agent.execution.executor import (
    ExecParams,
    ExecutionReport,
    _floor_lots,
    _round_to,
    execute,
)
from adaptive_agent.state.store import StateStore
from tests.support.fake_gate import FakeGate

# Ticks differ per market on purpose, so a price rounded to the other market's tick shows.
VENUE = VenueRules(spot_lot=1e-6, spot_tick=0.01, perp_tick=0.5, perp_min_contracts=1)
FAST = ExecParams(post_only_timeout_s=0.0, lookup_attempts=1, lookup_delay_s=0.0, venue=VENUE)
SPOT_TOP = BookTop(30_000.037, 30_000.063)  # off the 0.01 grid: rounding shows
PERP_TOP = BookTop(30_010.3, 30_010.6)  # off the 0.5 grid
LEG_OF = {
    OrderType.BUY: Leg.BTC_SPOT,
    OrderType.SELL: Leg.BTC_SPOT,
    OrderType.OPEN_LONG: Leg.BTC_PERP_LONG,
    OrderType.CLOSE_LONG: Leg.BTC_PERP_LONG,
    OrderType.OPEN_SHORT: Leg.BTC_PERP_SHORT,
    OrderType.CLOSE_SHORT: Leg.BTC_PERP_SHORT,
}
BUYS = {OrderType.BUY, OrderType.OPEN_LONG, OrderType.CLOSE_SHORT}
TICKS = st.sampled_from([0.01, 0.1, 0.5, 1.0])


def order(order_type: OrderType, amount: float) -> Order:
    """``amount``: BTC for spot, contracts for the perpetual (what the executor sends)."""
    if market_of(order_type) is Market.FUTURES:
        return Order(LEG_OF[order_type], order_type, int(amount), amount * 1e-4, 30_000.0, 0.0)
    return Order(LEG_OF[order_type], order_type, round(amount / 1e-6), amount, 30_000.0, 0.0)


def plan_of(*orders: Order, time_ms: int = 1_700_000_000_000) -> Plan:
    return Plan(
        time_ms, 60_000.0, 0.1, 0.005, True, "drift", Signal.NONE, False, (), (0.5, 0.0, 0.5),
        orders=orders,
    )  # fmt: skip


def run(plan: Plan, gate: FakeGate, params: ExecParams = FAST) -> ExecutionReport:
    store = StateStore(":memory:", durable=False)
    try:
        return asyncio.run(execute(plan, gate, store, params, VirtualClock(lambda: plan.time_ms)))
    finally:
        store.close()


def gate_of(spot=(SPOT_TOP,), perp=(PERP_TOP,), **kw) -> FakeGate:
    return FakeGate({Market.SPOT: spot, Market.FUTURES: perp}, **kw)


def on_grid(x: float, step: float) -> bool:
    return abs(x / step - round(x / step)) < 1e-6


# --- _round_to and _floor_lots ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "tick", "up", "expected"),
    [
        (0.3, 0.1, False, 0.3),  # 0.3 / 0.1 == 2.9999999999999996
        (0.3, 0.1, True, 0.3),
        (0.1 + 0.2, 0.1, True, 0.3),  # 0.30000000000000004
        (29_999.999999999996, 0.1, False, 30_000.0),
        (29_999.999999999996, 0.1, True, 30_000.0),
        (30_000.04, 0.1, False, 30_000.0),
        (30_000.04, 0.1, True, 30_000.1),
        (30_000.25, 0.5, False, 30_000.0),
        (30_000.25, 0.5, True, 30_000.5),
        (100_000.01, 0.01, False, 100_000.01),
        (100_000.01, 0.01, True, 100_000.01),
    ],
)
def test_round_to_examples(value, tick, up, expected):
    assert _round_to(value, tick, up) == expected


@pytest.mark.parametrize(
    ("amount", "lot", "expected"),
    [
        (0.3, 0.1, 0.3),
        (0.1 + 0.2, 0.1, 0.3),
        (0.30000000000000004, 1e-6, 0.3),
        (0.123457 - 0.1, 1e-6, 0.023457),  # 0.023456999999999992
        (0.2999999, 1e-6, 0.299999),
        (1.0000009, 1e-6, 1.0),
        (0.02345, 1e-4, 0.0234),
        (0.0000009, 1e-6, 0.0),
    ],
)
def test_floor_lots_examples(amount, lot, expected):
    assert _floor_lots(amount, lot) == expected


@given(st.floats(1.0, 500_000.0), TICKS)
def test_a_price_rounded_down_is_on_the_tick_at_most_the_value_and_within_a_tick(value, tick):
    price = _round_to(value, tick, up=False)
    assert on_grid(price, tick)
    assert price <= value + 1e-9 * tick  # the helper's tolerance for float noise
    assert value - price < tick + 1e-9


@given(st.floats(1.0, 500_000.0), TICKS)
def test_a_price_rounded_up_is_on_the_tick_at_least_the_value_and_within_a_tick(value, tick):
    price = _round_to(value, tick, up=True)
    assert on_grid(price, tick)
    assert price >= value - 1e-9 * tick
    assert price - value < tick + 1e-9


@given(st.integers(1, 5_000_000), TICKS)
def test_a_price_on_the_tick_is_kept_in_both_directions(k, tick):
    exact = round(k * tick, 10)
    for value in (exact, k * tick):  # k * tick carries the float noise (0.30000000000000004)
        assert _round_to(value, tick, up=False) == exact
        assert _round_to(value, tick, up=True) == exact


LOTS = st.sampled_from([1e-6, 1e-5, 1e-4])


@given(st.floats(0.0, 10.0), LOTS)
def test_floored_lots_never_exceed_the_amount_and_are_within_one_lot(amount, lot):
    size = _floor_lots(amount, lot)
    assert on_grid(size, lot)
    assert size <= amount + 1e-9 * lot
    assert amount - size < lot + 1e-12


# Up to 10 BTC in 1e-6 lots. The helper's 1e-9 tolerance is absolute in lots, so from about
# 3.2e7 lots (32 BTC) on, float noise can floor an exact multiple one lot short.
@given(st.integers(1, 10_000_000), LOTS)
def test_an_exact_multiple_of_the_lot_is_kept(k, lot):
    exact = round(k * lot, 10)
    assert _floor_lots(exact, lot) == exact
    assert _floor_lots(k * lot, lot) == exact


@given(st.integers(1, 10_000_000), st.data())
def test_a_remainder_of_whole_lots_is_floored_to_exactly_those_lots(total, data):
    filled = data.draw(st.integers(0, total))
    lot = 1e-6
    rest = round(total * lot, 10) - round(filled * lot, 10)  # as execute() computes it
    assert _floor_lots(rest, lot) == round((total - filled) * lot, 10)


# --- post-only at the touch -------------------------------------------------------------------

POST_ONLY_PRICE = {
    OrderType.BUY: 30_000.03,  # the bid 30000.037, down to the 0.01 tick
    OrderType.SELL: 30_000.07,  # the ask 30000.063, up
    OrderType.OPEN_LONG: 30_010.0,  # the bid 30010.3, down to the 0.5 tick
    OrderType.CLOSE_LONG: 30_011.0,  # the ask 30010.6, up
    OrderType.OPEN_SHORT: 30_011.0,
    OrderType.CLOSE_SHORT: 30_010.0,
}


@pytest.mark.parametrize("order_type", list(POST_ONLY_PRICE))
def test_post_only_buys_rest_at_the_bid_rounded_down_sells_at_the_ask_rounded_up(order_type):
    amount = 0.05 if market_of(order_type) is Market.SPOT else 7
    gate = gate_of()
    run(plan_of(order(order_type, amount)), gate)
    req = gate.sent_in_phase("p")[order_type]
    assert req.price == POST_ONLY_PRICE[order_type]
    assert req.post_only and not req.ioc and req.cost is None
    assert req.amount == amount


def test_a_touch_on_the_tick_is_the_post_only_price():
    gate = gate_of(spot=(BookTop(30_000.1, 30_000.2),), perp=(BookTop(30_000.0, 30_000.5),))
    run(plan_of(order(OrderType.BUY, 0.05), order(OrderType.OPEN_SHORT, 3)), gate)
    sent = gate.sent_in_phase("p")
    assert sent[OrderType.BUY].price == 30_000.1
    assert sent[OrderType.OPEN_SHORT].price == 30_000.5


# --- the IOC remainder ------------------------------------------------------------------------

MOVED_SPOT = BookTop(30_099.9, 30_100.2)
MOVED_PERP = BookTop(29_950.0, 29_950.5)
IOC_PRICE = {
    OrderType.BUY: 30_250.71,  # 30100.2 * 1.005 = 30250.700999..., up to the 0.01 tick
    OrderType.SELL: 29_949.40,  # 30099.9 * 0.995 = 29949.4005, down
    OrderType.OPEN_LONG: 30_100.5,  # 29950.5 * 1.005 = 30100.2525, up to the 0.5 tick
    OrderType.CLOSE_LONG: 29_800.0,  # 29950.0 * 0.995 = 29800.25, down
    OrderType.OPEN_SHORT: 29_800.0,
    OrderType.CLOSE_SHORT: 30_100.5,
}


@pytest.mark.parametrize("order_type", list(IOC_PRICE))
def test_the_ioc_goes_through_the_touch_as_it_is_after_the_wait(order_type):
    spot = market_of(order_type) is Market.SPOT
    gate = gate_of(spot=(SPOT_TOP, MOVED_SPOT), perp=(PERP_TOP, MOVED_PERP))
    run(plan_of(order(order_type, 0.05 if spot else 7)), gate)
    req = gate.sent_in_phase("m")[order_type]
    assert req.price == IOC_PRICE[order_type]
    assert req.ioc and not req.post_only and req.cost is None
    top = MOVED_SPOT if spot else MOVED_PERP
    tick = VENUE.spot_tick if spot else VENUE.perp_tick
    if order_type in BUYS:  # at least the protection through the ask, less than a tick more
        assert 0 <= req.price - top.ask * 1.005 < tick
    else:
        assert 0 <= top.bid * 0.995 - req.price < tick


def test_without_protection_the_ioc_is_at_the_touch():
    gate = gate_of(spot=(SPOT_TOP, MOVED_SPOT), perp=(PERP_TOP, MOVED_PERP))
    plan = plan_of(order(OrderType.BUY, 0.05), order(OrderType.OPEN_SHORT, 3))
    run(plan, gate, replace(FAST, ioc_protection=0.0))
    sent = gate.sent_in_phase("m")
    assert sent[OrderType.BUY].price == MOVED_SPOT.ask
    assert sent[OrderType.OPEN_SHORT].price == MOVED_PERP.bid


# --- the remainder's size ---------------------------------------------------------------------


def with_(venue: dict | None = None, **kw) -> ExecParams:
    """FAST with some execution parameters and venue rules changed."""
    return replace(FAST, venue=replace(VENUE, **(venue or {})), **kw)


def test_futures_remainder_is_whole_contracts_never_more_than_is_left():
    gate = gate_of(maker_fills={OrderType.OPEN_SHORT: 4.0, OrderType.OPEN_LONG: 4.4})
    report = run(plan_of(order(OrderType.OPEN_SHORT, 12), order(OrderType.OPEN_LONG, 12)), gate)
    sent = gate.sent_in_phase("m")
    assert sent[OrderType.OPEN_SHORT].amount == 8.0
    assert sent[OrderType.OPEN_LONG].amount == 7.0  # 7.6 left: floored, not rounded
    assert {leg.order_type: leg.filled for leg in report.legs}["OPEN_SHORT"] == 12.0


def test_a_leg_filled_as_maker_sends_no_remainder():
    gate = gate_of(maker_fills={OrderType.CLOSE_LONG: 12.0, OrderType.SELL: 0.05})
    report = run(plan_of(order(OrderType.CLOSE_LONG, 12), order(OrderType.SELL, 0.05)), gate)
    assert gate.sent_in_phase("m") == {}
    assert [leg.notes for leg in report.legs] == [[], []]


def test_futures_remainder_below_the_minimum_is_left():
    gate = gate_of(maker_fills={OrderType.OPEN_LONG: 11.0})
    report = run(
        plan_of(order(OrderType.OPEN_LONG, 12)), gate, with_(venue={"perp_min_contracts": 2})
    )
    assert gate.sent_in_phase("m") == {}
    assert report.legs[0].notes == ["remainder 1 below the venue minimum: left"]


def test_spot_remainder_is_floored_to_the_lot():
    gate = gate_of(maker_fills={OrderType.BUY: 0.1, OrderType.SELL: 0.1})
    plan = plan_of(order(OrderType.BUY, 0.12345))
    run(plan, gate, with_(venue={"spot_lot": 1e-4}))
    assert gate.sent_in_phase("m")[OrderType.BUY].amount == 0.0234  # 0.02345 floored
    gate = gate_of(maker_fills={OrderType.SELL: 0.1})
    run(plan_of(order(OrderType.SELL, 0.123457)), gate)
    assert gate.sent_in_phase("m")[OrderType.SELL].amount == 0.023457  # 0.0234569999...


@pytest.mark.parametrize(
    ("order_type", "amount", "sent"),
    [
        (OrderType.BUY, 0.0001, True),  # 0.0001 * ask 30000.0 == 3.0: the minimum itself
        (OrderType.BUY, 0.000099, False),  # 2.97 USDT
        (OrderType.SELL, 0.0001, False),  # a sell is valued at the bid: 2.99999 USDT
        (OrderType.SELL, 0.000101, True),
    ],
)
def test_spot_remainder_under_the_minimum_notional_is_left(order_type, amount, sent):
    gate = gate_of(spot=(BookTop(29_999.9, 30_000.0),), reject_post_only=True)
    report = run(plan_of(order(order_type, amount)), gate, with_(venue={"spot_min_notional": 3}))
    assert (order_type in gate.sent_in_phase("m")) is sent
    assert any("below the venue minimum" in n for n in report.legs[0].notes) is not sent


def test_a_spot_remainder_at_exactly_the_minimum_notional_is_sent():
    gate = gate_of(spot=(BookTop(19_999.9, 20_000.0),), reject_post_only=True)
    run(plan_of(order(OrderType.BUY, 0.00015)), gate, with_(venue={"spot_min_notional": 3}))
    assert gate.sent_in_phase("m")[OrderType.BUY].amount == 0.00015


def test_paper_exact_remainder_is_neither_rounded_nor_held_to_the_minimum():
    gate = gate_of(
        maker_fills={OrderType.BUY: 0.1, OrderType.OPEN_SHORT: 4.5}, spot=(SPOT_TOP, MOVED_SPOT)
    )
    plan = plan_of(
        order(OrderType.BUY, 0.10000012),  # a remainder of 1.2e-7 BTC: under a lot, ~0.004 USDT
        order(OrderType.OPEN_SHORT, 12),
    )
    run(plan, gate, with_(exact_remainder=True))
    sent = gate.sent_in_phase("m")
    assert sent[OrderType.BUY].amount == pytest.approx(1.2e-7, abs=1e-15)
    assert sent[OrderType.OPEN_SHORT].amount == 7.5
    assert sent[OrderType.BUY].price == IOC_PRICE[OrderType.BUY]  # the price keeps its tick
    gate = gate_of(maker_fills={OrderType.BUY: 0.05})
    run(plan_of(order(OrderType.BUY, 0.05)), gate, with_(exact_remainder=True))
    assert gate.sent_in_phase("m") == {}  # nothing left at all: no order


def test_market_style_sends_market_orders_spot_buys_sized_in_usdt():
    gate = gate_of(spot=(SPOT_TOP, MOVED_SPOT), perp=(PERP_TOP, MOVED_PERP), reject_post_only=True)
    plan = plan_of(
        order(OrderType.BUY, 0.123457),
        order(OrderType.OPEN_SHORT, 7),
        order(OrderType.OPEN_LONG, 3),
    )
    run(plan, gate, with_(market_style="market"))
    sent = gate.sent_in_phase("m")
    buy, short, long_ = sent[OrderType.BUY], sent[OrderType.OPEN_SHORT], sent[OrderType.OPEN_LONG]
    assert (buy.price, buy.ioc, buy.post_only) == (None, False, False)
    assert buy.amount == 0.123457
    assert buy.cost == round(0.123457 * MOVED_SPOT.ask, 8)  # quote currency, at the ask
    assert (short.price, short.cost, short.amount) == (None, None, 7.0)
    assert (long_.price, long_.cost, long_.amount) == (None, None, 3.0)  # contracts, not USDT


def test_market_style_spot_sell_is_sized_in_btc():
    gate = gate_of(reject_post_only=True)
    run(plan_of(order(OrderType.SELL, 0.05)), gate, with_(market_style="market"))
    sell = gate.sent_in_phase("m")[OrderType.SELL]
    assert (sell.price, sell.cost, sell.amount) == (None, None, 0.05)


# --- the whole path, property-based -----------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    bid=st.floats(20_000.0, 120_000.0),
    spread=st.floats(0.0, 50.0),
    move=st.floats(-500.0, 500.0),
    total=st.integers(10, 2_000_000),  # spot lots of 1e-6 BTC
    filled_share=st.floats(0.0, 1.0),
    buy=st.booleans(),
)
def test_execute_prices_and_sizes_stay_on_the_right_side_of_the_touch(
    bid, spread, move, total, filled_share, buy
):
    first, after = BookTop(bid, bid + spread), BookTop(bid + move, bid + move + spread)
    filled = round(math.floor(total * filled_share) * 1e-6, 10)
    ot = OrderType.BUY if buy else OrderType.SELL
    gate = gate_of(spot=(first, after), maker_fills={ot: filled})
    amount = round(total * 1e-6, 10)
    run(plan_of(order(ot, amount)), gate, with_(venue={"spot_min_notional": 0.0}))
    post = gate.sent_in_phase("p")[ot]
    tick = VENUE.spot_tick
    if buy:
        assert post.price <= first.bid + 1e-9 and first.bid - post.price < tick
    else:
        assert post.price >= first.ask - 1e-9 and post.price - first.ask < tick
    ioc = gate.sent_in_phase("m").get(ot)
    rest = amount - filled
    if ioc is None:
        assert _floor_lots(rest, 1e-6) == 0
        return
    assert ioc.amount == round((total - round(filled / 1e-6)) * 1e-6, 10) <= rest + 1e-12
    if buy:
        assert ioc.price >= after.ask * 1.005 - 1e-9 and ioc.price >= after.ask
    else:
        assert ioc.price <= after.bid * 0.995 + 1e-9 and ioc.price <= after.bid
