"""The spot wallet: what orders reserve, what fills and cancels give back."""

from __future__ import annotations

import pytest

from tests.support.sim_market import label_of, make


def test_spot_orders_reserve_their_notional_or_coins(path):
    m = make(path, usdt=1_000.0, leverage=3)
    bid, ask = m.top("spot")
    assert label_of(lambda: m.place("spot", "buy", 0.05, bid)) == "BALANCE_NOT_ENOUGH"
    assert label_of(lambda: m.place("spot", "sell", 0.001, ask)) == "BALANCE_NOT_ENOUGH"
    o = m.place("spot", "buy", 0.02, bid)
    assert m.spot_balances()["USDT"] == (
        pytest.approx(1_000 - 0.02 * bid),
        pytest.approx(0.02 * bid),
    )
    assert label_of(lambda: m.place("spot", "buy", 0.03, bid)) == "BALANCE_NOT_ENOUGH"
    m.cancel("spot", o.id)
    assert m.spot_balances()["USDT"] == (1_000.0, 0.0)
