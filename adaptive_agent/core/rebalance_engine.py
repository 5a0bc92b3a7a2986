"""The decision core: threshold, trigger, order building, signal gating, safe mode.

The rules are stated in docs/rules.md (Threshold and trigger, Target sizes and orders, Signal
gate, Safe mode and circuit breaker) and written once, as numbers, in ``decision.py``.

``build_orders()`` is a pure function: book + prices + signal + time (+ the state it returned
last time) in, a ``Plan`` out. No I/O, no clock, no globals. It asks ``decision.decide()`` and
dresses the numbers as a plan with orders, held orders and texts for people; the backtester
compiles the same ``decide()`` for its loop, so backtest, paper and live decide with one code.
Execution of a plan (``execute()``) lives with the drivers, outside the core.
"""

from __future__ import annotations

import math

from . import decision as dn
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
from .signals import CODE_OF_NAME
from .time_rules import MINUTE_MS

# --- the small rules, for callers that hold Params --------------------------------------------


def threshold(atr_frac: float, params: Params) -> float:
    """thr = max(floor, multiplier x atr_frac)."""
    return dn.threshold_of(atr_frac, params.threshold_floor, params.atr_multiplier)


def drift(w_spot: float, w_long: float, w_short: float, targets: tuple[float, float, float]):
    """Largest absolute distance of a leg's weight from its target."""
    return dn.drift_of(w_spot, w_long, w_short, *targets)


def interval_elapsed(now_ms: int, last_ms: int | None, params: Params) -> bool:
    """At least ``min_interval`` since the last triggered rebalance (the first may come at once)."""
    return dn.interval_passed(now_ms, _time(last_ms), params.min_interval_ms)


def rebalance_due(drift_: float, thr: float, now_ms: int, last_ms: int | None, params: Params):
    """Trigger: drift strictly above threshold and the interval elapsed."""
    return drift_ > thr and interval_elapsed(now_ms, last_ms, params)


def safe_mode_active(last_breach_ms: int | None, now_ms: int, manual: bool, params: Params) -> bool:
    """On while a condition held within ``safe_clear_ms``; the kill switch acts at once."""
    return dn.safe_mode_on(_time(last_breach_ms), now_ms, manual, params.safe_clear_ms)


def target_lots(weight: float, nav: float, price: float, lot: float) -> int:
    """Target size in whole lots, rounded toward zero: never above w x NAV / P."""
    return dn.target_lots_of(weight, nav, price, lot)


def _time(ms: int | None) -> int:
    return dn.NEVER if ms is None else ms


def _or_none(ms: int) -> int | None:
    return None if ms == dn.NEVER else ms


# --- order mapping and gates -------------------------------------------------------------------

# (down, up) order type of each leg, in LEGS order.
ORDER_TYPES = (
    (OrderType.SELL, OrderType.BUY),
    (OrderType.CLOSE_LONG, OrderType.OPEN_LONG),
    (OrderType.CLOSE_SHORT, OrderType.OPEN_SHORT),
)


def order_type_for(leg: Leg, delta_lots: int) -> OrderType:
    """Map a signed size change on a leg to the venue's order type (docs/rules.md, Legs)."""
    if delta_lots == 0:
        raise ValueError("no order for a zero size change")
    return ORDER_TYPES[LEGS.index(leg)][delta_lots > 0]


# The order types each signal blocks, as decision.SIGNAL_BLOCKS states them.
_SIGNAL_BLOCKS: dict[Signal, frozenset[OrderType]] = {
    signal: frozenset(
        ORDER_TYPES[k][up]
        for k in range(3)
        for up in (0, 1)
        if dn.SIGNAL_BLOCKS[CODE_OF_NAME[signal.value] + 1][k][up]
    )
    for signal in Signal
}


def signal_block_reason(signal: Signal, order_type: OrderType) -> str | None:
    if order_type in _SIGNAL_BLOCKS[signal]:
        return f"signal {signal} blocks {order_type}"
    return None


# Condition bits of decision.decide() and the codes they stand for, in the order plans list them.
SAFE_BITS: tuple[tuple[int, SafeCode], ...] = (
    (dn.BASIS_BIT, SafeCode.BASIS),
    (dn.MARGIN_BIT, SafeCode.MARGIN),
    (dn.DRAWDOWN_BIT, SafeCode.DRAWDOWN),
    (dn.STALE_REF_BIT, SafeCode.STALE_REF),
    (dn.ERROR_STREAK_BIT, SafeCode.ERROR_STREAK),
    (dn.WATCHDOG_BIT, SafeCode.WATCHDOG),
    (dn.LIQUIDATION_BIT, SafeCode.LIQUIDATION_NEAR),
)


def _condition_text(code: SafeCode, bas, mfrac, dd, risk: RiskInputs, params: Params) -> str:
    if code is SafeCode.BASIS:
        return f"basis {bas:+.4%} beyond {params.max_abs_basis:.2%}"
    if code is SafeCode.MARGIN:
        return f"margin {mfrac:.1%} of NAV above {params.max_margin_frac:.0%}"
    if code is SafeCode.DRAWDOWN:
        return f"drawdown {dd:.1%} above {params.max_drawdown:.0%}"
    if code is SafeCode.STALE_REF:
        return f"P_ref stale ({risk.ref_age_ms / MINUTE_MS:.1f} min old)"
    if code is SafeCode.ERROR_STREAK:
        return f"{risk.error_streak} consecutive exchange errors"
    if code is SafeCode.WATCHDOG:
        return "resource watchdog tripped"
    return f"liquidation {risk.liq_distance:.1%} away, under {params.min_liq_distance:.0%}"


def safe_mode_findings(
    bits: int, safe: bool, bas: float, mfrac: float, dd: float, risk: RiskInputs, params: Params
) -> list[tuple[SafeCode, str]]:
    """What keeps safe mode on, as (code, text), from ``decide()``'s condition bits and figures."""
    found = [
        (code, _condition_text(code, bas, mfrac, dd, risk, params))
        for bit, code in SAFE_BITS
        if bits & bit
    ]
    if risk.manual:
        found.append((SafeCode.MANUAL, "manual kill switch"))
    if safe and not found:
        found.append((SafeCode.CLEARING, "conditions clear for less than the required time"))
    return found


def leg_orders(
    deltas: tuple[int, int, int],
    gates: tuple[int, int, int],
    p_spot: float,
    p_perp: float,
    signal: Signal,
    reasons: tuple[str, ...],
    params: Params,
) -> tuple[list[Order], list[HeldOrder], list[HeldOrder]]:
    """A triggered plan's (orders, blocked, skipped) from ``decide()``'s size change and outcome
    of each leg (LEGS order): the orders sent, those the signal gate or safe mode held, those
    under the venue minimum, each held one with its reason (``reasons``: safe mode's)."""
    venue = params.venue
    orders: list[Order] = []
    blocked: list[HeldOrder] = []
    skipped: list[HeldOrder] = []
    for k in range(3):
        gate, delta = gates[k], deltas[k]
        if gate == dn.NO_CHANGE:
            continue
        lot, price = (venue.spot_lot, p_spot) if k == 0 else (venue.perp_contract, p_perp)
        size = abs(delta) * lot
        order = Order(LEGS[k], ORDER_TYPES[k][delta > 0], abs(delta), size, price, size * price)
        if gate == dn.SEND:
            orders.append(order)
        elif gate == dn.HELD_MINIMUM:
            text = (
                f"notional below {venue.spot_min_notional} USDT"
                if k == 0
                else f"below {venue.perp_min_contracts} contract(s)"
            )
            skipped.append(HeldOrder(order, HoldGate.MINIMUM, text))
        elif gate == dn.HELD_SIGNAL:
            reason = signal_block_reason(signal, order.order_type)
            blocked.append(HeldOrder(order, HoldGate.SIGNAL, reason))  # type: ignore[arg-type]
        else:
            blocked.append(HeldOrder(order, HoldGate.SAFE_MODE, "safe mode: " + "; ".join(reasons)))
    return orders, blocked, skipped


_WHY = {
    dn.NAV_NOT_POSITIVE: "NAV is not positive",
    dn.WITHIN_THRESHOLD: "drift within threshold",
    dn.WITHIN_INTERVAL: "within minimum interval",
}


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
    rule: tuple | None = None,
) -> Plan:
    """Decide at one close. Pure: the same inputs always give the same plan. ``rule``:
    ``decision.rule_numbers(params)``, when the caller keeps it (built here otherwise)."""
    out = dn.decide(
        book.cash,
        book.spot_lots,
        book.long_contracts,
        book.short_contracts,
        book.long_entry,
        book.short_entry,
        prices.ref,
        prices.spot,
        prices.perp,
        CODE_OF_NAME[signal.value],
        now_ms,
        atr_frac,
        _time(state.last_rebalance_ms),
        state.peak_nav,
        _time(state.last_breach_ms),
        -1 if risk.ref_age_ms is None else risk.ref_age_ms,
        risk.error_streak,
        risk.watchdog_tripped,
        risk.manual,
        math.nan if risk.liq_distance is None else risk.liq_distance,
        dn.rule_numbers(params) if rule is None else rule,
    )
    nav, ws, wl, wsh, thr, d, bas, mfrac, dd, bits, last_breach, peak, safe, why = out[:14]
    nav, thr, d, peak = float(nav), float(thr), float(d), float(peak)
    found = safe_mode_findings(bits, safe, bas, mfrac, dd, risk, params)
    codes = tuple(c for c, _ in found)
    reasons = tuple(t for _, t in found)
    w = (float(ws), float(wl), float(wsh))
    after = EngineState(
        now_ms if why == dn.TRIGGERED else state.last_rebalance_ms,
        peak,
        _or_none(last_breach),
        safe,
    )
    if why != dn.TRIGGERED:
        return Plan(
            now_ms, nav, d, thr, False, _WHY[why], signal, safe, reasons, w, state=after,
            safe_mode_codes=codes,
        )  # fmt: skip

    targets = (out[14], out[15], out[16])
    held = (book.spot_lots, book.long_contracts, book.short_contracts)
    deltas = (targets[0] - held[0], targets[1] - held[1], targets[2] - held[2])
    orders, blocked, skipped = leg_orders(
        deltas, out[17:20], prices.spot, prices.perp, signal, reasons, params
    )
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
        after,
        codes,
    )
