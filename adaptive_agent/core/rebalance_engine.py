"""The decision core: threshold, trigger, order building, signal gating, safe mode.

The rules are stated in docs/rules.md (Threshold and trigger, Target sizes and orders, Signal
gate, Safe mode and circuit breaker).

``build_orders()`` is a pure function: book + prices + signal + time (+ the state it returned
last time) in, a ``Plan`` out. No I/O, no clock, no globals, so backtest, paper and live all
decide with exactly this code. The small rule functions accept numpy arrays as well as floats,
which lets the backtester find trigger bars for a whole window at once with the same rules.
Execution of a plan (``execute()``) lives with the drivers, outside the core.
"""

from __future__ import annotations

import math

import numpy as np

from ..metrics import drawdown
from .liquidation_rules import liquidation_near
from .model import (
    LEGS,
    Book,
    EngineState,
    HeldOrder,
    HoldGate,
    Leg,
    Order,
    OrderType,
    Params,
    Plan,
    Prices,
    RiskInputs,
    SafeCode,
    Signal,
)
from .portfolio_manager import basis, book_nav, leg_sizes_btc, margin_used_usdt, weights
from .time_rules import MINUTE_MS

# docs/rules.md, Target sizes and orders: floor(w x NAV / P / lot + 1e-9) absorbs float noise.
LOT_EPS = 1e-9


# --- rules that work on floats and on numpy arrays -------------------------------------------


def threshold(atr_frac, params: Params):
    """thr = max(floor, multiplier x atr_frac)."""
    # np.maximum on arrays, the builtin on floats: same rule, ~20x cheaper per decision.
    pick = np.maximum if isinstance(atr_frac, np.ndarray) else max
    return pick(params.threshold_floor, params.atr_multiplier * atr_frac)


def drift(w_spot, w_long, w_short, targets: tuple[float, float, float]):
    """Largest absolute distance of a leg's weight from its target."""
    if isinstance(w_spot, np.ndarray):
        return np.maximum(
            np.maximum(np.abs(w_spot - targets[0]), np.abs(w_long - targets[1])),
            np.abs(w_short - targets[2]),
        )
    return max(abs(w_spot - targets[0]), abs(w_long - targets[1]), abs(w_short - targets[2]))


def interval_elapsed(now_ms, last_ms: int | None, params: Params):
    """At least ``min_interval`` since the last triggered rebalance (the first may come at once)."""
    if last_ms is None:
        return np.ones_like(now_ms, dtype=bool) if isinstance(now_ms, np.ndarray) else True
    return (now_ms - last_ms) >= params.min_interval_ms


def rebalance_due(drift_, thr, now_ms, last_ms: int | None, params: Params):
    """Trigger: drift strictly above threshold and the interval elapsed."""
    return (drift_ > thr) & interval_elapsed(now_ms, last_ms, params)


def market_breach(basis_, margin_frac, drawdown_, params: Params):
    """Safe-mode conditions that follow from prices and the book (the others come from drivers)."""
    return (
        (np.abs(basis_) > params.max_abs_basis)
        | (margin_frac > params.max_margin_frac)
        | (drawdown_ > params.max_drawdown)
    )


def safe_mode_active(last_breach_ms: int | None, now_ms: int, manual: bool, params: Params) -> bool:
    """On while a condition held within ``safe_clear_ms``; the kill switch acts at once."""
    if manual:
        return True
    return last_breach_ms is not None and now_ms - last_breach_ms < params.safe_clear_ms


# --- order mapping and gates -------------------------------------------------------------------


def order_type_for(leg: Leg, delta_lots: int) -> OrderType:
    """Map a signed size change on a leg to the venue's order type (docs/rules.md, Legs)."""
    if delta_lots == 0:
        raise ValueError("no order for a zero size change")
    return _ORDER_TYPES[LEGS.index(leg)][delta_lots > 0]


_SIGNAL_BLOCKS: dict[Signal, frozenset[OrderType]] = {
    # BUY: nothing may sell BTC exposure away: spot SELL, CLOSE_LONG (sell), OPEN_SHORT (sell).
    Signal.BUY: frozenset({OrderType.SELL, OrderType.CLOSE_LONG, OrderType.OPEN_SHORT}),
    # SELL: the short leg may not be bought back.
    Signal.SELL: frozenset({OrderType.CLOSE_SHORT}),
    Signal.NONE: frozenset(),
}

# Orders that raise a leg's absolute size raise gross exposure. A spot buy always raises net
# delta (delta = spot + long - short), so every spot buy is held in safe mode.
_EXPOSURE_RAISING: frozenset[OrderType] = frozenset(
    {OrderType.OPEN_LONG, OrderType.OPEN_SHORT, OrderType.BUY}
)


# (down, up) order type of each leg, in LEGS order.
_ORDER_TYPES = (
    (OrderType.SELL, OrderType.BUY),
    (OrderType.CLOSE_LONG, OrderType.OPEN_LONG),
    (OrderType.CLOSE_SHORT, OrderType.OPEN_SHORT),
)


def signal_block_reason(signal: Signal, order_type: OrderType) -> str | None:
    if order_type in _SIGNAL_BLOCKS[signal]:
        return f"signal {signal} blocks {order_type}"
    return None


def remember(state: EngineState, navs=(), breach_times_ms=()) -> EngineState:
    """The core's memory after closes at which it was not asked to decide (the backtester's
    scanned windows): the running NAV peak, and the time of the last safe-mode breach."""
    peak = state.peak_nav
    if len(navs):
        peak = max(peak, float(np.max(navs)))
    last_breach = state.last_breach_ms
    if len(breach_times_ms):
        last_breach = max(int(np.max(breach_times_ms)), last_breach or 0)
    return EngineState(state.last_rebalance_ms, peak, last_breach, state.safe_mode)


def _safe_mode_conditions(
    book: Book, prices: Prices, nav: float, peak: float, risk: RiskInputs, params: Params
) -> list[tuple[SafeCode, str]]:
    """The safe-mode conditions that hold now, as (code, text for people)."""
    _, long_btc, short_btc = leg_sizes_btc(book, params)
    margin_frac = (
        margin_used_usdt(long_btc, short_btc, prices.perp, params.leverage) / nav
        if nav > 0
        else math.inf
    )
    dd = drawdown(nav, peak)
    bas = basis(prices.perp, prices.ref)
    found: list[tuple[SafeCode, str]] = []
    if abs(bas) > params.max_abs_basis:
        found.append((SafeCode.BASIS, f"basis {bas:+.4%} beyond {params.max_abs_basis:.2%}"))
    if margin_frac > params.max_margin_frac:
        found.append(
            (
                SafeCode.MARGIN,
                f"margin {margin_frac:.1%} of NAV above {params.max_margin_frac:.0%}",
            )
        )
    if dd > params.max_drawdown:
        found.append((SafeCode.DRAWDOWN, f"drawdown {dd:.1%} above {params.max_drawdown:.0%}"))
    if risk.ref_age_ms is not None and risk.ref_age_ms > params.max_ref_age_ms:
        found.append(
            (SafeCode.STALE_REF, f"P_ref stale ({risk.ref_age_ms / MINUTE_MS:.1f} min old)")
        )
    if risk.error_streak >= params.max_error_streak:
        found.append((SafeCode.ERROR_STREAK, f"{risk.error_streak} consecutive exchange errors"))
    if risk.watchdog_tripped:
        found.append((SafeCode.WATCHDOG, "resource watchdog tripped"))
    if liquidation_near(risk.liq_distance, params.min_liq_distance):
        found.append(
            (
                SafeCode.LIQUIDATION_NEAR,
                f"liquidation {risk.liq_distance:.1%} away, under {params.min_liq_distance:.0%}",
            )
        )
    return found


def target_lots(weight: float, nav: float, price: float, lot: float) -> int:
    """Target size in whole lots, rounded toward zero: never above w x NAV / P."""
    if weight <= 0.0 or nav <= 0.0:
        return 0
    return math.floor(weight * nav / price / lot + LOT_EPS)


# --- the decision -------------------------------------------------------------------------------


def build_orders(
    book: Book,
    prices: Prices,
    signal: Signal,
    now_ms: int,
    atr_frac: float,
    state: EngineState,
    params: Params,
    risk: RiskInputs = RiskInputs(),  # noqa: B008 - immutable
) -> Plan:
    """Decide at one candle close. Pure: the same inputs always give the same plan."""
    nav = book_nav(book, prices, params)
    w = weights(book, prices, params, nav)
    thr = float(threshold(atr_frac, params))
    d = float(drift(w[0], w[1], w[2], params.targets))

    # Safe mode (docs/rules.md, Safe mode and circuit breaker).
    peak = max(state.peak_nav, nav)
    found = _safe_mode_conditions(book, prices, nav, peak, risk, params)
    last_breach = now_ms if found else state.last_breach_ms
    if risk.manual:
        found.append((SafeCode.MANUAL, "manual kill switch"))
    safe = safe_mode_active(last_breach, now_ms, risk.manual, params)
    if safe and not found:
        found.append((SafeCode.CLEARING, "conditions clear for less than the required time"))
    codes = tuple(c for c, _ in found)
    reasons = tuple(t for _, t in found)

    if nav <= 0.0 or not rebalance_due(d, thr, now_ms, state.last_rebalance_ms, params):
        if nav <= 0.0:
            why = "NAV is not positive"
        else:
            why = "drift within threshold" if d <= thr else "within minimum interval"
        return Plan(
            now_ms,
            nav,
            d,
            thr,
            False,
            why,
            signal,
            safe,
            reasons,
            w,
            state=EngineState(state.last_rebalance_ms, peak, last_breach, safe),
            safe_mode_codes=codes,
        )

    orders: list[Order] = []
    blocked: list[HeldOrder] = []
    skipped: list[HeldOrder] = []
    blocks = _SIGNAL_BLOCKS[signal] if params.apply_signal_logic else frozenset()
    leg_prices = (prices.spot, prices.perp, prices.perp)
    held = (book.spot_lots, book.long_contracts, book.short_contracts)
    lots = (params.venue.spot_lot, params.venue.perp_contract, params.venue.perp_contract)
    targets = tuple(target_lots(params.targets[k], nav, leg_prices[k], lots[k]) for k in range(3))
    for k in range(3):
        delta = targets[k] - held[k]
        if delta == 0:
            continue
        leg, price, lot = LEGS[k], leg_prices[k], lots[k]
        otype = order_type_for(leg, delta)
        size = abs(delta) * lot
        order = Order(leg, otype, abs(delta), size, price, size * price)
        venue = params.venue
        if k == 0:
            if order.notional < venue.spot_min_notional:
                why = f"notional below {venue.spot_min_notional} USDT"
                skipped.append(HeldOrder(order, HoldGate.MINIMUM, why))
                continue
        elif abs(delta) < venue.perp_min_contracts:
            why = f"below {venue.perp_min_contracts} contract(s)"
            skipped.append(HeldOrder(order, HoldGate.MINIMUM, why))
            continue
        if otype in blocks:
            why = signal_block_reason(signal, otype)
            blocked.append(HeldOrder(order, HoldGate.SIGNAL, why))
        elif safe and otype in _EXPOSURE_RAISING:
            why = "safe mode: " + "; ".join(reasons)
            blocked.append(HeldOrder(order, HoldGate.SAFE_MODE, why))
        else:
            orders.append(order)
    return Plan(
        now_ms,
        nav,
        d,
        thr,
        True,
        f"drift {d:.4%} > threshold {thr:.4%}",
        signal,
        safe,
        reasons,
        w,
        targets,
        tuple(orders),
        tuple(blocked),
        tuple(skipped),
        EngineState(now_ms, peak, last_breach, safe),
        codes,
    )
