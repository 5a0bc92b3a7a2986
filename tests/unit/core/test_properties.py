"""Property-based invariants of the decision core and the backtester (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adaptive_agent.backtest.rebalance_backtester import run_backtest
from adaptive_agent.core.model import (
    LEGS,
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
from adaptive_agent.core.portfolio_manager import book_nav, leg_sizes_btc
from adaptive_agent.core.rebalance_engine import build_orders
from adaptive_agent.core.signals import SignalSeries
from adaptive_agent.io.loaders import Candles, FundingSeries
from tests.support.compare import assert_summaries_agree
from tests.support.spec_reference import reference_backtest

prices_st = st.floats(1_000, 200_000)
books = st.builds(
    Book,
    cash=st.floats(-50_000, 500_000),
    spot_lots=st.integers(0, 5_000_000),
    long_contracts=st.integers(0, 50_000),
    short_contracts=st.integers(0, 50_000),
    long_entry=prices_st,
    short_entry=prices_st,
)
weights_st = st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)).filter(
    lambda t: t[0] + (t[1] + t[2]) / 3 <= 1
)


@st.composite
def prices_strategy(draw):
    ref = draw(prices_st)
    return Prices(ref, ref * draw(st.floats(0.98, 1.02)), ref * draw(st.floats(0.97, 1.03)))


def _decide(book, prices, signal, targets, risk=RiskInputs(), threshold_floor=1e-6):  # noqa: B008
    params = Params(targets=targets, threshold_floor=threshold_floor)
    return build_orders(
        book, prices, signal, 1_700_000_000_000, 0.0, EngineState(), params, risk
    ), params


@given(books, prices_strategy(), st.sampled_from(list(Signal)), weights_st)
@settings(max_examples=400, deadline=None)
def test_signal_gating_never_leaks(book, prices, signal, targets):
    plan, _ = _decide(book, prices, signal, targets)
    for order in plan.orders:
        if signal is Signal.BUY:
            assert order.side is Side.BUY  # no SELL-direction order on any leg
        if signal is Signal.SELL:
            assert order.order_type is not OrderType.CLOSE_SHORT
    for held in plan.blocked:
        if held.gate == "safe_mode":  # basis can exceed 1% here: safe mode holds opens and buys
            assert plan.safe_mode
            assert held.order.order_type in (
                OrderType.BUY,
                OrderType.OPEN_LONG,
                OrderType.OPEN_SHORT,
            )
            continue
        assert held.gate == "signal"
        if signal is Signal.BUY:
            assert held.order.side is Side.SELL
        else:
            assert signal is Signal.SELL and held.order.order_type is OrderType.CLOSE_SHORT
    # Nothing is lost: every leg off target is sent, blocked or skipped.
    if plan.triggered:
        off = sum(1 for leg, t in zip(LEGS, plan.target_lots, strict=True) if t != book.lots(leg))
        assert off == len(plan.orders) + len(plan.blocked) + len(plan.skipped)


@given(books, prices_strategy(), weights_st)
@settings(max_examples=400, deadline=None)
def test_rounding_never_overshoots_a_target(book, prices, targets):
    plan, params = _decide(book, prices, Signal.NONE, targets)
    if not plan.triggered:
        return
    nav = book_nav(book, prices, params)
    for leg, w, lots in zip(LEGS, targets, plan.target_lots, strict=True):
        lot, px = params.lot_of(leg), prices.of(leg)
        value = lots * lot * px
        assert value <= w * nav * (1 + 1e-12) + 1e-9 * lot * px
        # ... and it is the largest whole lot count that does not overshoot.
        assert (lots + 1) * lot * px > w * nav * (1 - 1e-12)


@given(books, prices_strategy(), st.sampled_from(list(Signal)), weights_st, st.booleans())
@settings(max_examples=400, deadline=None)
def test_safe_mode_never_raises_gross_exposure(book, prices, signal, targets, manual):
    risk = RiskInputs(manual=True) if manual else RiskInputs(error_streak=9)
    plan, params = _decide(book, prices, signal, targets, risk)
    assert plan.safe_mode
    before = sum(leg_sizes_btc(book, params))
    spot, lng, sht = book.spot_lots, book.long_contracts, book.short_contracts
    for o in plan.orders:
        assert o.order_type in (OrderType.SELL, OrderType.CLOSE_LONG, OrderType.CLOSE_SHORT)
        if o.leg is Leg.BTC_SPOT:
            spot -= o.lots
        elif o.leg is Leg.BTC_PERP_LONG:
            lng -= o.lots
        else:
            sht -= o.lots
        assert min(spot, lng, sht) >= 0  # a reduce never flips a leg
    after = spot * params.venue.spot_lot + (lng + sht) * params.venue.perp_contract
    assert after <= before + 1e-12


@st.composite
def price_paths(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(30, 1_500))
    vol = draw(st.sampled_from([0.001, 0.004, 0.02]))
    rng = np.random.default_rng(seed)
    close = 20_000.0 * np.exp(np.cumsum(rng.normal(0, vol, n)))
    open_ = np.r_[20_000.0, close[:-1]]
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    start = 1_690_000_000_000 // 300_000 * 300_000
    ts = start + 300_000 * np.cumsum(np.r_[0, rng.choice([1, 1, 1, 1, 1, 1, 1, 2, 40], n - 1)])
    candles = Candles("random", ts.astype(np.int64), open_, high, low, close)
    k = draw(st.integers(0, 60))
    sts = np.sort(rng.integers(int(ts[0]) - 600_000, int(ts[-1]), k)).astype(np.int64)
    codes = rng.choice(np.array([1, -1, 0], dtype=np.int8), k)
    fts = np.arange(int(ts[0]) - 28_800_000, int(ts[-1]) + 28_800_000, 28_800_000, dtype=np.int64)
    rates = rng.normal(0.0001, 0.0005, len(fts))
    return candles, SignalSeries(sts, codes), FundingSeries("f", fts, rates)


@given(price_paths())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_nav_accounting_balances(path):
    """end NAV = start NAV + trading PnL - fees + funding, with PnL rebuilt from the fills alone."""
    candles, signals, funding = path
    res = run_backtest(candles, signals, funding)
    s = res.summary
    cash_flow = 0.0
    net = {leg: 0.0 for leg in LEGS}
    for f in res.fills:
        sign = 1.0 if f.side == "buy" else -1.0
        cash_flow -= sign * f.size_btc * f.price
        net[f.leg] += sign * f.size_btc
    last = float(candles.close[-1])
    trading_pnl = cash_flow + sum(net.values()) * last
    expected = s["nav_start"] + trading_pnl - s["fees_usdt"] + s["funding_pnl"]
    assert math.isclose(s["nav_end"], expected, rel_tol=1e-9, abs_tol=1e-6)
    # Positions implied by the fills: spot and long never below zero, the short side never above.
    assert net[Leg.BTC_SPOT] >= -1e-9 and net[Leg.BTC_PERP_LONG] >= -1e-9
    assert net[Leg.BTC_PERP_SHORT] <= 1e-9


@given(price_paths())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_backtester_matches_reference_on_random_paths(path):
    candles, signals, funding = path
    names = {1: "BUY", -1: "SELL", 0: "NONE"}
    ours = run_backtest(candles, signals, funding).summary
    ref = reference_backtest(
        list(
            zip(
                candles.ts.tolist(),
                candles.open.tolist(),
                candles.high.tolist(),
                candles.low.tolist(),
                candles.close.tolist(),
                strict=True,
            )
        ),
        [
            (t, names[c])
            for t, c in zip(signals.ts_ms.tolist(), signals.codes.tolist(), strict=True)
        ],
        list(zip(funding.ts.tolist(), funding.rate.tolist(), strict=True)),
    )
    assert_summaries_agree(ours, ref)
