"""The decision at one close, as numbers: the one statement of the trigger, the safe-mode
conditions, the target sizes and the gates (docs/rules.md, Threshold and trigger, Target sizes
and orders, Signal gate, Safe mode and circuit breaker).

Written as plain scalar arithmetic on floats, ints and tuples, so that it is read two ways and
written once: ``rebalance_engine.build_orders()`` calls ``decide()`` as ordinary Python (live,
paper, and every test of the core) and dresses its numbers as a ``Plan`` with texts; the
backtester compiles these very functions with numba (``backtest/kernel.py``) and calls them at
every close of its loop. Nothing here imports numba, does I/O or reads a clock.

Conventions that let the compiled and the interpreted readings agree bit for bit: no ``None``
(``NEVER`` stands for "no such time", ``nan`` for "not measured"), comparisons spelled out the
way Python's ``max`` makes them, and codes instead of enums and texts.
"""

from __future__ import annotations

import math

from ..metrics import drawdown_of
from .liquidation_rules import liquidation_near
from .portfolio_manager import basis, margin_used_usdt, nav_usdt, weights_of

# docs/rules.md, Target sizes and orders: floor(w x NAV / P / lot + 1e-9) absorbs float noise.
LOT_EPS = 1e-9
NEVER = -(2**62)  # "no such time" (no rebalance, no breach yet): far before any epoch ms

# Safe-mode conditions as bits (rebalance_engine.SAFE_BITS names them with SafeCode).
BASIS_BIT = 1
MARGIN_BIT = 2
DRAWDOWN_BIT = 4
STALE_REF_BIT = 8
ERROR_STREAK_BIT = 16
WATCHDOG_BIT = 32
LIQUIDATION_BIT = 64

# Why a close did not trigger (TRIGGERED: it did).
TRIGGERED, NAV_NOT_POSITIVE, WITHIN_THRESHOLD, WITHIN_INTERVAL = 0, 1, 2, 3

# What became of a leg's size change.
NO_CHANGE, SEND, HELD_SIGNAL, HELD_SAFE_MODE, HELD_MINIMUM = 0, 1, 2, 3, 4

# Which (down, up) order of each leg (LEGS order) a signal blocks, by signal code + 1
# (SELL = -1, NONE = 0, BUY = 1). BUY: nothing may sell BTC exposure away (spot SELL,
# CLOSE_LONG, OPEN_SHORT); SELL: the short leg may not be bought back (CLOSE_SHORT).
SIGNAL_BLOCKS = (
    ((False, False), (False, False), (True, False)),  # SELL
    ((False, False), (False, False), (False, False)),  # NONE
    ((True, False), (True, False), (False, True)),  # BUY
)


def threshold_of(atr_frac, floor, multiplier):
    """thr = max(floor, multiplier x atr_frac) (Python's ``max``: the floor unless above it)."""
    t = multiplier * atr_frac
    return t if t > floor else floor


def drift_of(w_spot, w_long, w_short, t_spot, t_long, t_short):
    """Largest absolute distance of a leg's weight from its target."""
    d = abs(w_spot - t_spot)
    x = abs(w_long - t_long)
    if x > d:
        d = x
    x = abs(w_short - t_short)
    if x > d:
        d = x
    return d


def interval_passed(now_ms, last_ms, min_interval_ms):
    """At least the minimum interval since the last rebalance; the first may come at once."""
    return last_ms == NEVER or now_ms - last_ms >= min_interval_ms


def market_bits(basis_, margin_frac, drawdown_, max_abs_basis, max_margin_frac, max_drawdown):
    """The safe-mode conditions that follow from prices and the book, as bits."""
    bits = 0
    if abs(basis_) > max_abs_basis:
        bits |= BASIS_BIT
    if margin_frac > max_margin_frac:
        bits |= MARGIN_BIT
    if drawdown_ > max_drawdown:
        bits |= DRAWDOWN_BIT
    return bits


def margin_frac_of(long_btc, short_btc, p_perp, leverage, nav):
    """Initial margin of both sides over NAV (infinite when NAV is not positive)."""
    return margin_used_usdt(long_btc, short_btc, p_perp, leverage) / nav if nav > 0 else math.inf


def market_conditions(
    nav, long_btc, short_btc, p_perp, p_ref, peak_nav, leverage, max_basis, max_margin, max_dd
):
    """At one close: the NAV peak through it, basis, margin fraction, drawdown and the
    condition bits they set (``decide()`` and the backtest loop's closes without a decision)."""
    peak = nav if nav > peak_nav else peak_nav
    mfrac = margin_frac_of(long_btc, short_btc, p_perp, leverage, nav)
    dd = drawdown_of(nav, peak)
    bas = basis(p_perp, p_ref)
    return peak, bas, mfrac, dd, market_bits(bas, mfrac, dd, max_basis, max_margin, max_dd)


def safe_mode_on(last_breach_ms, now_ms, manual, safe_clear_ms):
    """On while a condition held within ``safe_clear_ms``; the kill switch acts at once."""
    return manual or (last_breach_ms != NEVER and now_ms - last_breach_ms < safe_clear_ms)


def target_lots_of(weight, nav, price, lot):
    """Target size in whole lots, rounded toward zero: never above w x NAV / P."""
    if weight <= 0.0 or nav <= 0.0:
        return 0
    return math.floor(weight * nav / price / lot + LOT_EPS)


def leg_gate(k, delta, price, lot, signal, safe, apply_signal, spot_min_notional, perp_min):
    """What becomes of leg ``k``'s size change of ``delta`` lots: sent, held by a gate, or
    skipped under the venue minimum (checked first, then the signal, then safe mode, where
    every order that raises a leg's size is held)."""
    if delta == 0:
        return NO_CHANGE
    size = abs(delta) * lot
    if k == 0:
        if size * price < spot_min_notional:
            return HELD_MINIMUM
    elif abs(delta) < perp_min:
        return HELD_MINIMUM
    up = delta > 0
    if apply_signal and SIGNAL_BLOCKS[signal + 1][k][1 if up else 0]:
        return HELD_SIGNAL
    if safe and up:
        return HELD_SAFE_MODE
    return SEND


def rule_numbers(params):
    """The ``Params`` as the flat tuple ``decide()`` takes (built once per run)."""
    v = params.venue
    t = params.targets
    return (
        t[0],
        t[1],
        t[2],
        params.leverage,
        params.threshold_floor,
        params.atr_multiplier,
        params.min_interval_ms,
        params.apply_signal_logic,
        v.spot_lot,
        v.perp_contract,
        v.spot_min_notional,
        v.perp_min_contracts,
        params.max_ref_age_ms,
        params.max_abs_basis,
        params.max_error_streak,
        params.max_margin_frac,
        params.max_drawdown,
        params.safe_clear_ms,
        params.min_liq_distance,
    )


def decide(
    cash,
    spot_lots,
    long_contracts,
    short_contracts,
    long_entry,
    short_entry,
    p_ref,
    p_spot,
    p_perp,
    signal,
    now_ms,
    atr_frac,
    last_rebalance_ms,
    peak_nav,
    last_breach_ms,
    ref_age_ms,
    error_streak,
    watchdog,
    manual,
    liq_distance,
    rule,
):
    """The decision at one close. ``signal``: -1 SELL, 0 NONE, 1 BUY; times in epoch ms or
    ``NEVER``; ``ref_age_ms`` < 0 and ``liq_distance`` nan: not measured. ``rule``:
    ``rule_numbers(params)``.

    Returns (nav, w_spot, w_long, w_short, threshold, drift, basis, margin_frac, drawdown,
    condition bits, last breach, peak NAV, safe mode, why (TRIGGERED or a reason code),
    target lots x3, leg outcomes x3 (NO_CHANGE, SEND, HELD_*)).
    """
    (t0, t1, t2, lev, floor, mult, min_int, apply_sig, spot_lot, contract, spot_min) = rule[:11]
    (perp_min, max_age, max_basis, max_err, max_margin, max_dd, clear_ms, min_liq) = rule[11:]
    sb = spot_lots * spot_lot
    lb = long_contracts * contract
    shb = short_contracts * contract
    nav = nav_usdt(cash, sb, lb, shb, long_entry, short_entry, p_spot, p_perp)
    ws, wl, wsh = weights_of(sb, lb, shb, p_spot, p_perp, nav)
    thr = threshold_of(atr_frac, floor, mult)
    d = drift_of(ws, wl, wsh, t0, t1, t2)
    peak, bas, mfrac, dd, bits = market_conditions(
        nav, lb, shb, p_perp, p_ref, peak_nav, lev, max_basis, max_margin, max_dd
    )
    if ref_age_ms >= 0 and ref_age_ms > max_age:
        bits |= STALE_REF_BIT
    if error_streak >= max_err:
        bits |= ERROR_STREAK_BIT
    if watchdog:
        bits |= WATCHDOG_BIT
    if liquidation_near(liq_distance, min_liq):  # nan (not measured) is never near
        bits |= LIQUIDATION_BIT
    last_breach = now_ms if bits != 0 else last_breach_ms
    safe = safe_mode_on(last_breach, now_ms, manual, clear_ms)
    why = TRIGGERED
    if nav <= 0.0:
        why = NAV_NOT_POSITIVE
    elif not (d > thr and interval_passed(now_ms, last_rebalance_ms, min_int)):
        why = WITHIN_THRESHOLD if d <= thr else WITHIN_INTERVAL
    g0 = g1 = g2 = NO_CHANGE
    n0 = n1 = n2 = 0
    if why == TRIGGERED:
        n0 = target_lots_of(t0, nav, p_spot, spot_lot)
        n1 = target_lots_of(t1, nav, p_perp, contract)
        n2 = target_lots_of(t2, nav, p_perp, contract)
        g0 = leg_gate(0, n0 - spot_lots, p_spot, spot_lot, signal, safe, apply_sig, spot_min, 0)
        g1 = leg_gate(
            1, n1 - long_contracts, p_perp, contract, signal, safe, apply_sig, 0, perp_min
        )
        g2 = leg_gate(
            2, n2 - short_contracts, p_perp, contract, signal, safe, apply_sig, 0, perp_min
        )
    return (
        nav,
        ws,
        wl,
        wsh,
        thr,
        d,
        bas,
        mfrac,
        dd,
        bits,
        last_breach,
        peak,
        safe,
        why,
        n0,
        n1,
        n2,
        g0,
        g1,
        g2,
    )
