"""The backtest's loop over the bars, compiled with numba: the decision core's own rules, run at
every close (docs/rules.md, Backtest fill model; Funding).

No rule is written here. At each close the loop marks the book to market (``nav_usdt``), and
where the minimum interval has passed it asks ``decision.decide()`` — the very function that
``build_orders()`` calls in live and paper — what to do; orders it sends fill by
``fill_model.fill_order()``. Those functions are plain Python in their own modules; this module
compiles copies of them whose calls go to each other's compiled versions (``_compiled``), so
the core is read by the interpreter in live and by LLVM here, and written once.

What the loop hands back is numbers: per bar the NAV, weights, delta and funding so far; per
decision that triggered the book and the core's memory it decided from (``decision_log.py``
rebuilds its ``Plan`` from them with ``build_orders()`` when a report asks); per fill its
figures. Compiled code is cached on disk (numba ``cache=True``); the cache names carry a hash of
the sources of every compiled rule, so a changed rule is never served from a stale cache.
"""

from __future__ import annotations

import math
import types

import numba
import numpy as np

from .. import metrics
from ..core import decision as dn
from ..core import portfolio_manager as pm
from ..core.decision import (
    HELD_SIGNAL,
    NEVER,
    SEND,
    TRIGGERED,
    decide,
    interval_passed,
    market_conditions,
)
from ..core.liquidation_rules import liquidation_near
from ..core.portfolio_manager import leg_values_usdt, nav_usdt
from . import fill_model as fm
from .fill_model import fill_order
from .loop import (
    D_BAR,
    D_BASIS,
    D_BITS,
    D_CASH,
    D_DRAWDOWN,
    D_GATES,
    D_LAST_BREACH,
    D_LAST_REBALANCE,
    D_LONG,
    D_LONG_ENTRY,
    D_MARGIN_FRAC,
    D_ORDERS,
    D_PEAK,
    D_SAFE,
    D_SHORT,
    D_SHORT_ENTRY,
    D_SIGNAL_HELD,
    D_SPOT,
    D_TARGETS,
    DECISION_COLUMNS,
    F_BUY,
    F_FEE,
    F_LEG,
    F_MAKER,
    F_PRICE,
    F_RID,
    F_SIZE,
    F_TIME,
    F_UP,
    FILL_COLUMNS,
    SOURCE_HASH,
)

_RULES = (  # leaves first: each is compiled with the ones before it in reach
    pm.nav_usdt,
    pm.leg_values_usdt,
    pm.margin_used_usdt,
    pm.basis,
    pm.weights_of,
    dn.threshold_of,
    dn.drift_of,
    dn.interval_passed,
    metrics.drawdown_of,
    liquidation_near,
    dn.market_bits,
    dn.margin_frac_of,
    dn.market_conditions,
    dn.safe_mode_on,
    dn.target_lots_of,
    dn.leg_gate,
    dn.decide,
    fm.fill_order,
)


def _compiled(fn, done: dict):
    """``fn`` compiled, its global names of compiled rules bound to their compiled versions."""
    scope = dict(fn.__globals__)
    scope.update(done)
    copy = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = f"{fn.__qualname__}_{SOURCE_HASH}"  # a changed rule: a new cache entry
    copy.__module__ = fn.__module__
    return numba.njit(cache=True, nogil=True)(copy)


def _grow(a, m):  # pragma: no cover - compiled
    if m < a.shape[0]:
        return a
    b = np.empty((2 * a.shape[0], a.shape[1]))
    b[: a.shape[0]] = a
    return b


def _run(bars, funding, rule, nav0, model, curves):  # pragma: no cover - compiled
    """The whole run. ``bars``: ts, dec, ref close, spot close/open, perp close/open, ATR
    fraction, signal codes. ``funding``: gap_k, bar_k, cumsum (``fill_model.funding_schedule``).
    ``model``: maker ratio, slippage, spot maker/taker fee, perp maker/taker fee. ``curves``
    (written): NAV, spot/long/short weight, delta, funding so far, at each close.
    Returns (decision log, fills, funding PnL, spot/long/short BTC at the end)."""
    ts, dec, ref_c, spot_c, spot_o, perp_c, perp_o, atr, sig = bars
    gap_k, bar_k, cum_k = funding
    ratio, slip, spot_maker, spot_taker, perp_maker, perp_taker = model
    nav, w_spot, w_long, w_short, delta, funding_cum = curves
    min_int = rule[6]
    spot_lot, contract = rule[8], rule[9]
    n = len(dec)
    log = np.empty((256, DECISION_COLUMNS))
    fills = np.empty((512, FILL_COLUMNS))
    m = q = 0
    book = (nav0, 0, 0, 0, 0.0, 0.0)
    sb = lb = shb = 0.0
    f = 0.0  # funding factor of the stretch: cash per unit of rate x price
    s = 0  # first bar of the current constant-position stretch; book[0] is its cash
    funding_s = funding_pnl = 0.0
    peak = nav0
    last_breach = last_reb = NEVER
    j = 0
    while j < n:
        cash, spot, lng, sht, le, se = book
        cash_j = cash if f == 0.0 else cash + f * (cum_k[j] - cum_k[s])
        ps, pc = spot_c[j], perp_c[j]
        nav_j = nav_usdt(cash_j, sb, lb, shb, le, se, ps, pc)
        nav[j] = nav_j
        vs, vl, vsh = leg_values_usdt(sb, lb, shb, ps, pc)
        w_spot[j], w_long[j], w_short[j] = vs / nav_j, vl / nav_j, vsh / nav_j
        delta[j] = (sb + lb - shb) * ref_c[j] / nav_j
        funding_cum[j] = funding_s + f * (cum_k[j] - cum_k[s])
        now = dec[j]
        if j < n - 1 and interval_passed(now, last_reb, min_int):
            out = decide(
                cash_j, spot, lng, sht, le, se, ref_c[j], ps, pc, sig[j], now, atr[j],
                last_reb, peak, last_breach, -1, 0, False, False, math.nan, rule,
            )  # fmt: skip
            if out[13] == TRIGGERED:
                gates = (out[17], out[18], out[19])
                targets = (out[14], out[15], out[16])
                log = _grow(log, m)
                row = log[m]
                row[D_BAR], row[D_CASH] = j, cash_j
                row[D_SPOT], row[D_LONG], row[D_SHORT] = spot, lng, sht
                row[D_LONG_ENTRY], row[D_SHORT_ENTRY] = le, se
                row[D_LAST_REBALANCE], row[D_PEAK], row[D_LAST_BREACH] = last_reb, peak, last_breach
                sent = held = 0
                for k in range(3):
                    sent += gates[k] == SEND
                    held += gates[k] == HELD_SIGNAL
                row[D_ORDERS], row[D_SIGNAL_HELD] = sent, held
                row[D_BASIS], row[D_MARGIN_FRAC], row[D_DRAWDOWN] = out[6], out[7], out[8]
                row[D_BITS], row[D_SAFE] = out[9], 1.0 if out[12] else 0.0
                for k in range(3):
                    row[D_TARGETS + k], row[D_GATES + k] = targets[k], gates[k]
                m += 1
                last_reb = now
                if sent:
                    # Orders decided at the close of bar j fill during bar j + 1: funding in a
                    # gap before it settles on the old positions, at its close on the new ones.
                    jj = j + 1
                    accrued = 0.0 if f == 0.0 else f * (cum_k[j] - cum_k[s])
                    funding_pnl += accrued + f * gap_k[jj]
                    book = (cash + (accrued + f * gap_k[jj]), spot, lng, sht, le, se)
                    held_lots = (spot, lng, sht)
                    for k in range(3):
                        if gates[k] != SEND:
                            continue
                        d = targets[k] - held_lots[k]
                        up = d > 0
                        if k == 0:
                            px = (spot_c[j], spot_o[jj], spot_maker, spot_taker, spot_lot)
                        else:
                            px = (perp_c[j], perp_o[jj], perp_maker, perp_taker, contract)
                        book, parts = fill_order(
                            book, k, up, abs(d), px[0], px[1], ratio, slip, px[2], px[3], px[4]
                        )
                        for part in range(2):
                            size = parts[3 * part]
                            if size > 0:
                                fills = _grow(fills, q)
                                fr = fills[q]
                                fr[F_TIME], fr[F_RID], fr[F_LEG] = ts[jj], m, k
                                fr[F_UP] = 1.0 if up else 0.0
                                fr[F_BUY] = 1.0 if up == (k < 2) else 0.0
                                fr[F_SIZE], fr[F_PRICE] = size, parts[3 * part + 1]
                                fr[F_MAKER] = 1.0 if part == 0 else 0.0
                                fr[F_FEE] = parts[3 * part + 2]
                                q += 1
                    cash, spot, lng, sht, le, se = book
                    f = (sht - lng) * contract
                    book = (cash + f * bar_k[jj], spot, lng, sht, le, se)
                    funding_pnl += f * bar_k[jj]
                    sb, lb, shb = spot * spot_lot, lng * contract, sht * contract
                    s, funding_s = jj, funding_pnl
                    peak, last_breach = out[11], out[10]
                    j = jj
                    continue
            peak, last_breach = out[11], out[10]
        else:
            peak, _, _, _, bits = market_conditions(
                nav_j, lb, shb, pc, ref_c[j], peak, rule[3], rule[13], rule[15], rule[16]
            )
            if bits != 0:
                last_breach = now
        j += 1
    funding_pnl += f * (cum_k[n - 1] - cum_k[s])
    return log[:m], fills[:q], funding_pnl, sb, lb, shb


_done: dict = {}
for _fn in _RULES:
    _done[_fn.__name__] = _compiled(_fn, _done)
_done["_grow"] = _compiled(_grow, _done)
run = _compiled(_run, _done)
