"""The futures account: dual-mode legs, reduce-only room, margin, position mode, auto_size."""

from __future__ import annotations

import math

import pytest

from adaptive_agent.sim.markets import CONTRACT_BTC
from tests.support.sim_market import error_of, label_of, make


def test_the_four_dual_mode_intents_and_reduce_only_limits(path):
    m = make(path)
    m.place("futures", "buy", 5, None)  # OPEN_LONG
    m.place("futures", "sell", -3, None)  # OPEN_SHORT
    pos = m.positions()
    assert (pos["dual_long"]["size"], pos["dual_short"]["size"]) == (5.0, -3.0)
    bid, ask = m.top("futures")
    assert label_of(lambda: m.place("futures", "sell", -6, ask, reduce_only=True)) == (
        "REDUCE_EXCEEDED"
    )
    close_long = m.place("futures", "sell", -4, ask, tif="poc", reduce_only=True)
    assert close_long.status == "open"
    # pending reduce-only orders count against the leg: only 1 contract is left to close
    assert label_of(lambda: m.place("futures", "sell", -2, ask, reduce_only=True)) == (
        "REDUCE_EXCEEDED"
    )
    m.place("futures", "buy", 3, None, reduce_only=True)  # CLOSE_SHORT
    assert m.positions()["dual_short"]["size"] == 0.0
    err = error_of(lambda: m.place("futures", "buy", 1, bid, reduce_only=True))
    assert err.label == "REDUCE_EXCEEDED" and "empty position" in err.message
    m.cancel("futures", close_long.id)
    m.place("futures", "sell", -5, None, reduce_only=True)  # CLOSE_LONG
    assert m.positions()["dual_long"]["size"] == 0.0
    assert label_of(lambda: m.place("futures", "sell", -1, None, reduce_only=True)) == (
        "REDUCE_EXCEEDED"
    )


def test_orders_that_open_exposure_need_margin(path):
    m = make(path, usdt=1_000.0, leverage=3)
    mark = m.mark()
    too_many = math.ceil(3 * 1_000 / (CONTRACT_BTC * mark)) + 10
    assert label_of(lambda: m.place("futures", "buy", too_many, None)) == "INSUFFICIENT_AVAILABLE"
    f = m.place("futures", "buy", 100, m.top("futures")[0])
    assert m.futures_account()["order_margin"] == pytest.approx(100 * CONTRACT_BTC * f.price / 3)


def test_dual_mode_switch_is_refused_with_positions_or_orders(path):
    m = make(path, dual_mode=False)
    o = m.place("futures", "buy", 2, m.top("futures")[0])
    assert label_of(lambda: m.set_dual_mode(True)) == "ORDER_PENDING"
    m.cancel("futures", o.id)
    m.place("futures", "buy", 2, None)
    assert list(m.positions()) == ["single"] and m.positions()["single"]["size"] == 2.0
    assert label_of(lambda: m.set_dual_mode(True)) == "POSITION_HOLDING"
    m.place("futures", "sell", -5, None)  # single mode nets: closes 2, opens a short of 3
    assert m.positions()["single"]["size"] == -3.0
    m.place("futures", "buy", 3, None, reduce_only=True)
    m.set_dual_mode(True)
    assert set(m.positions()) == {"dual_long", "dual_short"}


def test_auto_size_closes_a_whole_dual_leg(path):
    m = make(path)
    m.place("futures", "sell", -6, None)
    o = m.place("futures", None, 0, None, auto_size="close_short")
    assert o.amount == 6.0 and o.reduce_only and o.finish_as == "filled"
    assert m.positions()["dual_short"]["size"] == 0.0
    assert label_of(lambda: m.place("futures", None, 0, None, auto_size="close_long")) == (
        "REDUCE_EXCEEDED"
    )
