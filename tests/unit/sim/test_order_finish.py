"""How the simulator finishes orders: post-only crossing as an order, position_closed, and
zero-fill futures orders that Gate stops returning 10 minutes after they finished."""

from __future__ import annotations

import pytest

from adaptive_agent.sim.faults import Faults
from adaptive_agent.sim.matching import SimMarket
from adaptive_agent.sim.orders import FUTURES, SPOT, SimError


@pytest.fixture()
def m(path):
    market = SimMarket(path, dual_mode=True, usdt=100_000.0)
    market.advance(3)
    return market


def test_a_crossing_post_only_order_is_an_error_or_an_order_finished_poc(m):
    _, ask = m.top(SPOT)
    with pytest.raises(SimError) as err:
        m.place(SPOT, "buy", 0.01, ask, tif="poc", text="t-e1")
    assert err.value.label == "POC_FILL_IMMEDIATELY"
    o = m.place(SPOT, "buy", 0.01, ask, tif="poc", text="t-e2", poc_as_order=True)
    assert (o.status, o.finish_as, o.filled) == ("finished", "poc", 0.0)
    assert m.spot_balances()["USDT"].locked == 0.0  # nothing stays reserved
    assert m.get_order(SPOT, o.id) is o and o in m.order_history(SPOT)


def test_a_non_crossing_post_only_order_rests_either_way(m):
    bid, _ = m.top(SPOT)
    o = m.place(SPOT, "buy", 0.01, bid - 50, tif="poc", text="t-r1", poc_as_order=True)
    assert o.is_open


def _long(m, contracts):
    o = m.place(FUTURES, None, contracts, None, tif="ioc", text="t-lg")
    m.advance(1)
    assert m.positions()["dual_long"]["size"] == contracts, o


def test_reduce_only_orders_of_a_leg_that_closed_finish_position_closed(m):
    _long(m, 10)
    far = round(m.mark() * 1.03, 1)
    a = m.place(FUTURES, None, -4, far, reduce_only=True, text="t-ra")
    b = m.place(FUTURES, None, -6, far, reduce_only=True, text="t-rb")
    m.fill_order(b, 6, far, "maker")  # the leg is 4 now: a stays
    assert (a.is_open and b.finish_as is None) or b.filled == 6
    m._futures.legs["long"].size = 0.0  # as a liquidation of the rest would leave it
    m.close_orders_of_closed_leg(b)
    assert (a.status, a.finish_as) == ("finished", "position_closed")


def test_zero_fill_futures_orders_drop_out_ten_minutes_after_they_finished(m):
    px = round(m.mark() * 0.97, 1)
    o = m.place(FUTURES, None, 2, px, text="t-z1")
    filled = m.place(FUTURES, None, 1, None, tif="ioc", text="t-z2")
    m.advance(1)
    m.cancel(FUTURES, o.id)
    assert o in m.visible_history(FUTURES)
    m.advance(2)  # 10 minutes: still there
    assert o in m.visible_history(FUTURES) and m.get_order(FUTURES, o.id) is o
    m.advance(1)  # 15 minutes
    assert o not in m.visible_history(FUTURES)
    with pytest.raises(SimError) as err:
        m.get_order(FUTURES, o.id)
    assert err.value.label == "ORDER_NOT_FOUND"
    assert o in m.order_history(FUTURES)  # the simulator's own ledger keeps it
    assert filled in m.visible_history(FUTURES)  # an order with fills stays


def test_new_fault_knobs_are_checked_and_count_down():
    f = Faults()
    f.update({"rate_limit_next": 2, "unavailable_next": 1, "post_only_reject": "order"})
    assert [f.rate_limited_now() for _ in range(3)] == [True, True, False]
    assert [f.unavailable_now() for _ in range(2)] == [True, False]
    for bad in (
        {"post_only_reject": "maybe"},
        {"batch_text": "sometimes"},
        {"rate_limit_rate": 1.5},
        {"rate_limit_next": -1},
    ):
        with pytest.raises(ValueError):
            f.update(bad)
    assert f.public()["post_only_reject"] == "order"  # a refused update changes nothing
    f.update({"rate_limit_rate": 1.0})
    assert f.rate_limited_now()
