"""Unit tests of the pure decision core, one rule of docs/rules.md at a time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from adaptive_agent.core.model import (
    Book,
    EngineState,
    Leg,
    OrderType,
    Params,
    Prices,
    RiskInputs,
    Side,
    Signal,
)
from adaptive_agent.core.portfolio_manager import (
    book_nav,
    get_value_distribution_usdt,
    net_delta_btc,
    weights,
)
from adaptive_agent.core.rebalance_engine import (
    build_orders,
    drift,
    order_type_for,
    rebalance_due,
    safe_mode_active,
    target_lots,
    threshold,
)
from adaptive_agent.core.signals import SignalSeries

P = Params()
T0 = 1_700_000_000_000
FLAT = Prices(50_000.0, 50_000.0, 50_000.0)


def decide(book, prices=FLAT, signal=Signal.NONE, now=T0, atr=0.0, state=None, risk=None, params=P):
    return build_orders(
        book,
        prices,
        signal,
        now,
        atr,
        state or EngineState(peak_nav=book.cash),
        params,
        risk or RiskInputs(),
    )


def test_nav_and_value_distribution():
    book = Book(
        cash=10_000.0,
        spot_lots=1_000_000,
        long_contracts=0,
        short_contracts=5_000,
        short_entry=52_000.0,
    )
    prices = Prices(50_100.0, 50_000.0, 50_200.0)
    # cash + spot x P_spot + short x (entry - P_perp)
    assert book_nav(book, prices, P) == pytest.approx(10_000 + 50_000 + 0.5 * (52_000 - 50_200))
    dist = get_value_distribution_usdt(book, prices, P)
    assert dist["BTC_SPOT"] == pytest.approx(50_000.0)
    assert dist["BTC_PERP_SHORT"] == pytest.approx(0.5 * 50_200)
    assert dist["BTC_PERP_LONG"] == 0.0
    assert dist["NAV"] == pytest.approx(book_nav(book, prices, P))
    assert net_delta_btc(book, P) == pytest.approx(0.5)
    w = weights(book, prices, P)
    assert w[0] == pytest.approx(50_000 / dist["NAV"])


def test_threshold_floor_and_atr():
    assert threshold(0.0, P) == 0.005
    assert threshold(0.01, P) == 0.005  # 0.2 x 1% = 0.2% < floor
    assert threshold(0.05, P) == pytest.approx(0.01)
    assert threshold(math.nan, P) == 0.005  # an unknown ATR leaves the floor


def test_drift_is_max_abs_distance():
    assert drift(0.52, 0.0, 0.47, (0.5, 0.0, 0.5)) == pytest.approx(0.03)


def test_trigger_is_strict_and_interval_is_inclusive():
    assert not rebalance_due(0.005, 0.005, T0, None, P)  # drift must exceed thr
    assert rebalance_due(0.0051, 0.005, T0, None, P)  # first may happen at once
    assert not rebalance_due(0.1, 0.005, T0 + 3_599_999, T0, P)
    assert rebalance_due(0.1, 0.005, T0 + 3_600_000, T0, P)  # ">= 60 minutes"


def test_first_rebalance_builds_targets_from_cash():
    plan = decide(Book(cash=100_000.0))
    assert plan.triggered
    types = {o.leg: o.order_type for o in plan.orders}
    assert types == {Leg.BTC_SPOT: OrderType.BUY, Leg.BTC_PERP_SHORT: OrderType.OPEN_SHORT}
    spot = next(o for o in plan.orders if o.leg is Leg.BTC_SPOT)
    assert spot.lots == 1_000_000  # 0.5 x 100000 / 50000 BTC = 1 BTC = 1e6 lots (1e-9 guard)
    short = next(o for o in plan.orders if o.leg is Leg.BTC_PERP_SHORT)
    assert short.lots == 10_000 and short.side is Side.SELL and not short.reduce_only
    assert plan.state.last_rebalance_ms == T0


def test_within_interval_no_trigger_and_clock_restarts_even_when_all_blocked():
    book = Book(cash=100_000.0)
    plan = decide(book, signal=Signal.BUY)  # BUY blocks OPEN_SHORT; spot BUY passes
    assert plan.triggered and plan.state.last_rebalance_ms == T0
    later = decide(book, now=T0 + 30 * 60_000, state=plan.state)
    assert not later.triggered and later.reason == "within minimum interval"
    # An all-blocked rebalance still restarts the clock.
    short_only = Params(targets=(0.0, 0.0, 0.5))
    p1 = decide(book, signal=Signal.BUY, params=short_only)
    assert p1.triggered and not p1.orders and len(p1.blocked) == 1
    assert p1.state.last_rebalance_ms == T0


@pytest.mark.parametrize(
    ("leg", "delta", "expected", "side", "reduce"),
    [
        (Leg.BTC_SPOT, 5, OrderType.BUY, Side.BUY, False),
        (Leg.BTC_SPOT, -5, OrderType.SELL, Side.SELL, False),
        (Leg.BTC_PERP_LONG, 1, OrderType.OPEN_LONG, Side.BUY, False),
        (Leg.BTC_PERP_LONG, -1, OrderType.CLOSE_LONG, Side.SELL, True),
        (Leg.BTC_PERP_SHORT, 2, OrderType.OPEN_SHORT, Side.SELL, False),
        (Leg.BTC_PERP_SHORT, -2, OrderType.CLOSE_SHORT, Side.BUY, True),
    ],
)
def test_order_type_mapping(leg, delta, expected, side, reduce):
    from adaptive_agent.core.model import REDUCE_ONLY, SIDE_OF

    assert order_type_for(leg, delta) is expected
    assert SIDE_OF[expected] is side
    assert (expected in REDUCE_ONLY) is reduce


def test_zero_change_has_no_order_type():
    with pytest.raises(ValueError):
        order_type_for(Leg.BTC_SPOT, 0)


def _book_needing_all_six():
    """A book where the next rebalance sells spot, closes the long and closes the short."""
    return Book(
        cash=50_000.0,
        spot_lots=2_000_000,
        long_contracts=3_000,
        short_contracts=20_000,
        long_entry=50_000.0,
        short_entry=50_000.0,
    )


@pytest.mark.parametrize(
    ("signal", "blocked_types"),
    [
        (Signal.BUY, {OrderType.SELL, OrderType.CLOSE_LONG}),
        (Signal.SELL, {OrderType.CLOSE_SHORT}),
        (Signal.NONE, set()),
    ],
)
def test_signal_gating_per_order(signal, blocked_types):
    plan = decide(_book_needing_all_six(), signal=signal)
    assert plan.triggered
    assert {h.order.order_type for h in plan.blocked} == blocked_types
    assert all(h.gate == "signal" and signal.value in h.reason for h in plan.blocked)
    sent = {o.order_type for o in plan.orders}
    assert sent.isdisjoint(blocked_types)
    assert sent | blocked_types == {OrderType.SELL, OrderType.CLOSE_LONG, OrderType.CLOSE_SHORT}


def test_buy_signal_blocks_open_short_but_not_open_long():
    params = Params(targets=(0.2, 0.3, 0.5))
    plan = decide(Book(cash=100_000.0), signal=Signal.BUY, params=params)
    assert {o.order_type for o in plan.orders} == {OrderType.BUY, OrderType.OPEN_LONG}
    assert [h.order.order_type for h in plan.blocked] == [OrderType.OPEN_SHORT]


def test_gating_switched_off():
    plan = decide(
        _book_needing_all_six(), signal=Signal.BUY, params=Params(apply_signal_logic=False)
    )
    assert not plan.blocked and len(plan.orders) == 3


def test_target_rounds_toward_zero_and_guards_float_noise():
    assert target_lots(0.5, 100_000.0, 50_000.0, 1e-6) == 1_000_000
    assert target_lots(0.5, 100_000.0, 50_001.0, 1e-4) == 9_999
    assert target_lots(0.0, 100_000.0, 50_000.0, 1e-4) == 0
    assert target_lots(0.5, -1.0, 50_000.0, 1e-4) == 0


def test_minimum_orders_are_skipped_not_blocked():
    # Spot is 5 lots short of target: 5e-6 BTC x 50000 = 0.25 USDT < 3 USDT minimum.
    book = Book(cash=50_000.0, spot_lots=999_990)  # target 999_995 lots: 0.25 USDT short
    plan = decide(
        book, signal=Signal.SELL, params=Params(targets=(0.5, 0.0, 0.0), threshold_floor=1e-9)
    )
    assert plan.triggered
    assert [h.gate for h in plan.skipped] == ["minimum"]
    assert not plan.blocked and not plan.orders


def test_safe_mode_blocks_exposure_raising_orders_only():
    plan = decide(_book_needing_all_six(), risk=RiskInputs(manual=True))
    assert plan.safe_mode
    # Reducing orders still go out.
    assert {o.order_type for o in plan.orders} == {
        OrderType.SELL,
        OrderType.CLOSE_LONG,
        OrderType.CLOSE_SHORT,
    }
    fresh = decide(Book(cash=100_000.0), risk=RiskInputs(manual=True))
    assert not fresh.orders
    assert {h.order.order_type for h in fresh.blocked} == {OrderType.BUY, OrderType.OPEN_SHORT}
    assert all(h.gate == "safe_mode" for h in fresh.blocked)


@pytest.mark.parametrize(
    ("prices", "risk", "state", "needle"),
    [
        (Prices(50_000, 50_000, 50_600), RiskInputs(), None, "basis"),
        (FLAT, RiskInputs(ref_age_ms=11 * 60_000), None, "stale"),
        (FLAT, RiskInputs(error_streak=5), None, "consecutive"),
        (FLAT, RiskInputs(watchdog_tripped=True), None, "watchdog"),
        (FLAT, RiskInputs(), EngineState(peak_nav=130_000.0), "drawdown"),
    ],
)
def test_safe_mode_conditions(prices, risk, state, needle):
    plan = decide(Book(cash=100_000.0), prices=prices, risk=risk, state=state)
    assert plan.safe_mode
    assert any(needle in r for r in plan.safe_mode_reasons)
    assert all(not o.order_type.startswith("OPEN") for o in plan.orders)


def test_margin_condition():
    book = Book(
        cash=100_000.0,
        long_contracts=10_000,
        short_contracts=10_000,
        long_entry=50_000.0,
        short_entry=50_000.0,
    )  # 100k notional / 3 = 33% of NAV
    assert not decide(book).safe_mode
    assert decide(book, params=Params(max_margin_frac=0.3)).safe_mode


def test_safe_mode_left_only_after_clear_period():
    p = Params()
    assert safe_mode_active(T0, T0 + 29 * 60_000, False, p)
    assert not safe_mode_active(T0, T0 + 30 * 60_000, False, p)
    assert safe_mode_active(None, T0, True, p)
    assert not safe_mode_active(None, T0, False, p)
    first = decide(Book(cash=100_000.0), prices=Prices(50_000, 50_000, 50_600))
    assert first.state.last_breach_ms == T0
    calm = decide(Book(cash=100_000.0), now=T0 + 10 * 60_000, state=first.state)
    assert calm.safe_mode and "less than" in calm.safe_mode_reasons[0]
    later = decide(Book(cash=100_000.0), now=T0 + 31 * 60_000, state=first.state)
    assert not later.safe_mode


def test_non_positive_nav_never_trades():
    plan = decide(Book(cash=-10.0))
    assert not plan.triggered and not plan.orders and "NAV" in plan.reason


def test_signal_series_lookup_and_ttl():
    s = SignalSeries(
        np.array([100, 200, 200, 300], dtype=np.int64), np.array([1, -1, 1, 0], dtype=np.int8)
    )
    assert s.at(99) is Signal.NONE
    assert s.at(100) is Signal.BUY
    assert s.at(250) is Signal.BUY  # later row wins on equal timestamps
    assert s.at(300) is Signal.NONE
    assert s.at(150, ttl_ms=40) is Signal.NONE
    assert s.at(150, ttl_ms=60) is Signal.BUY
    assert SignalSeries.empty().at(5) is Signal.NONE


def test_params_from_config_converts_minutes():
    from adaptive_agent.config import load_config

    cfg = load_config(None, env={"ADAPTIVE_AGENT__STRATEGY__SIGNAL_TTL_MINUTES": "15"})
    p = cfg.core_params()
    assert p.signal_ttl_ms == 900_000 and p.min_interval_ms == 3_600_000
    assert p.targets == (0.5, 0.0, 0.5) and math.isclose(p.venue.perp_contract, 1e-4)
