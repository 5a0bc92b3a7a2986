"""lifecycle.order_status: every finish_as Gate documents, and fail-closed on the rest."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adaptive_agent.lifecycle import FINISH_AS, FINISHED, OrderStatus, order_status

CANCELED_SPOT = [
    "cancelled",
    "ioc",
    "stp",
    "fok",
    "trader_not_enough",
    "depth_not_enough",
    "small",
    "liquidate_cancelled",
]
CANCELED_FUTURES = [
    "cancelled",
    "liquidated",
    "ioc",
    "auto_deleveraged",
    "reduce_only",
    "position_closed",
    "reduce_out",
    "stp",
]


@pytest.mark.parametrize("how", CANCELED_SPOT)
def test_spot_finishes_other_than_filled_are_cancels(how):
    assert order_status("spot", "cancelled", how, 0.0) is OrderStatus.CANCELED
    assert order_status("spot", "cancelled", how, 0.5) is OrderStatus.CANCELED


@pytest.mark.parametrize("how", CANCELED_FUTURES)
def test_futures_finishes_other_than_filled_are_cancels(how):
    assert order_status("futures", "finished", how, 0.0) is OrderStatus.CANCELED
    assert order_status("futures", "finished", how, 3.0) is OrderStatus.CANCELED


@pytest.mark.parametrize("market,status", [("spot", "closed"), ("futures", "finished")])
def test_filled_is_closed(market, status):
    assert order_status(market, status, "filled", 1.0) is OrderStatus.CLOSED


@pytest.mark.parametrize("market", ["spot", "futures"])
def test_a_zero_fill_poc_finish_is_the_post_only_rejection(market):
    assert order_status(market, "cancelled", "poc", 0.0) is OrderStatus.REJECTED
    # something filled: it rested first, so it is a cancel with fills, not a rejection
    assert order_status(market, "cancelled", "poc", 1.0) is OrderStatus.CANCELED


def test_open_orders_are_open():
    assert order_status("spot", "open", "open", 0.0) is OrderStatus.OPEN
    assert order_status("spot", None, "open", 0.0) is OrderStatus.OPEN  # spot websocket rows
    assert order_status("futures", "open", None, 0.0) is OrderStatus.OPEN


@pytest.mark.parametrize(
    "market,status,how",
    [
        ("spot", "cancelled", "price_protect_cancelled"),  # not in the table: look it up
        ("futures", "finished", "mmp_cancelled"),
        ("futures", "finished", "-"),  # Gate's own "unknown", and no status says how
        ("futures", "finished", None),  # finished, but how is not said
        ("spot", "expired", None),
        ("futures", "_new", None),
        ("spot", "closed", "open"),  # contradictory
        ("spot", None, None),
    ],
)
def test_anything_else_is_unknown_never_open(market, status, how):
    assert order_status(market, status, how, 0.0) is OrderStatus.UNKNOWN


def test_status_alone_for_spot_orders_without_finish_as():
    assert order_status("spot", "closed", None, 1.0) is OrderStatus.CLOSED
    assert order_status("spot", "cancelled", "", 0.0) is OrderStatus.CANCELED
    assert order_status("spot", "cancelled", "-", 0.0) is OrderStatus.CANCELED  # "-": unknown


@given(
    market=st.sampled_from(["spot", "futures"]),
    status=st.one_of(st.none(), st.text(max_size=12)),
    how=st.one_of(st.none(), st.text(max_size=20)),
    filled=st.floats(0, 10, allow_nan=False),
)
def test_open_only_when_gate_says_open(market, status, how, filled):
    got = order_status(market, status, how, filled)
    if got is OrderStatus.OPEN:
        assert (how or "").lower() in ("", "open")
        assert (status or "open").lower() == "open"
    if (how or "").lower() not in FINISH_AS[market] and (how or "") not in ("", "-"):
        assert got is OrderStatus.UNKNOWN
    assert got in FINISHED or got in (OrderStatus.OPEN, OrderStatus.UNKNOWN)
