"""The liquidation rules of the core: distance, the LIQUIDATION_NEAR condition, the top-up."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adaptive_agent.core.liquidation_rules import (
    SideRisk,
    cross_top_up,
    distance,
    liquidation_near,
    nearest,
)
from adaptive_agent.core.model import Book, EngineState, Params, Prices, RiskInputs, SafeCode
from adaptive_agent.core.model import Signal as Sig
from adaptive_agent.core.rebalance_engine import build_orders


def test_distance_is_the_fraction_of_the_mark_to_the_liquidation_price():
    assert distance(SideRisk("short", 0.1, 20_000, 20_000, 24_000)) == pytest.approx(0.2)
    assert distance(SideRisk("long", 0.1, 20_000, 20_000, 15_000)) == pytest.approx(0.25)
    # cross: a net-short book's shared price lies above the mark, for the long side too
    assert distance(SideRisk("long", 0.1, 20_000, 20_000, 22_000)) == pytest.approx(0.1)
    assert distance(SideRisk("short", 0.0, 0, 20_000, 24_000)) == math.inf  # no position
    assert distance(SideRisk("short", 0.1, 20_000, 20_000, 0.0)) == math.inf  # no price
    sides = [SideRisk("short", 0.1, 1, 100, 130), SideRisk("long", 0.1, 1, 100, 90)]
    assert nearest(sides) == pytest.approx(0.1)
    assert nearest([]) == math.inf


def test_liquidation_near_needs_a_distance_under_the_limit():
    assert liquidation_near(0.1, 0.15)
    assert not liquidation_near(0.15, 0.15)
    assert not liquidation_near(None, 0.15)


def _cross_liq(w, q_long, e_long, q_short, e_short, k):
    """The simulator's cross rule: wallet + uPnL = k x notional, solved for the price."""
    d = q_short - q_long + k * (q_long + q_short)
    return (w - q_long * e_long + q_short * e_short) / d, d


@given(
    w=st.floats(100, 1e5),
    q_short=st.floats(0.01, 5),
    q_long=st.floats(0, 2),
    entry=st.floats(1_000, 100_000),
    move=st.floats(-0.2, 0.5),
    target=st.floats(0.05, 0.5),
)
def test_a_cross_top_up_puts_the_liquidation_price_at_the_target(
    w, q_short, q_long, entry, move, target
):
    k = 0.0035
    liq, d = _cross_liq(w, q_long, entry, q_short, entry, k)
    if liq <= 0 or abs(d) < 1e-9:
        return
    mark = entry * (1 + move)
    sides = [
        SideRisk("short", q_short, entry, mark, liq),
        SideRisk("long", q_long, entry, mark, liq),
    ]
    x = cross_top_up(sides, k, target)
    assert x >= 0
    after, _ = _cross_liq(w + x, q_long, entry, q_short, entry, k)
    wanted = mark * (1 + target) if d > 0 else mark * (1 - target)
    if x > 0:
        assert after == pytest.approx(wanted, rel=1e-9)
    else:  # far enough already: on the net position's side, beyond the target
        assert (liq >= wanted) if d > 0 else (liq <= wanted)


def test_no_top_up_without_a_position_or_a_price():
    assert cross_top_up([], 0.0035, 0.3) == 0.0
    assert cross_top_up([SideRisk("short", 0.1, 1, 100, 0.0)], 0.0035, 0.3) == 0.0


def test_a_near_liquidation_holds_exposure_raising_orders():
    params = Params()
    book = Book(cash=10_000.0, short_contracts=10_000, short_entry=20_000.0)  # no spot yet
    prices = Prices(20_000.0, 20_000.0, 20_000.0)
    plan = build_orders(
        book, prices, Sig.NONE, 0, 0.0, EngineState(), params, RiskInputs(liq_distance=0.05)
    )
    assert SafeCode.LIQUIDATION_NEAR in plan.safe_mode_codes and plan.safe_mode
    assert any("liquidation 5.0% away" in r for r in plan.safe_mode_reasons)
    assert {h.order.order_type for h in plan.blocked} >= {"BUY"}
    assert all(o.order_type not in ("BUY", "OPEN_SHORT", "OPEN_LONG") for o in plan.orders)
    calm = build_orders(
        book, prices, Sig.NONE, 0, 0.0, EngineState(), params, RiskInputs(liq_distance=0.5)
    )
    assert SafeCode.LIQUIDATION_NEAR not in calm.safe_mode_codes
