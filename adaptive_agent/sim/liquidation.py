"""Maintenance margin, liquidation prices and liquidation of the simulated perpetual position.

Gate's rule (Gate customer-service statement of the USDT-margined liquidation price, gate.com
post 3870211; the fields are gateapi-python docs/Position.md ``liq_price``,
``maintenance_rate``, ``margin``): liquidation price = (entry -/+ margin / multiplier / size)
/ [1 -/+ (maintenance rate + taker fee rate)], minus for a long, plus for a short. That is the
price at which a side's margin plus its unrealised pnl falls to (maintenance rate + taker fee
rate) x notional. In cross mode the sides share the futures wallet: the whole wallet plus
both sides' unrealised pnl must cover both sides' requirement (the same rule, summed).

Stricter where Gate's docs are silent:

* Gate watches the mark price continuously; the simulator knows 5-minute bars, so a side is
  liquidated when its bar's adverse extreme (low for a long, high for a short) reaches the
  liquidation price, not only its close.
* The position is closed at the liquidation price by an order of Gate's ``text``
  "liquidation" (docs/FuturesOrder.md) that pays the taker fee; the margin that remains goes
  to the insurance fund (an account book ``pnl`` line), so an isolated side loses its whole
  margin and a cross account its whole wallet. Open futures orders finish with
  ``finish_as = "liquidated"`` ("cancelled because of liquidation"), and so does the
  liquidation order itself.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..exchange.gate_constants import CONTRACT, LIQUIDATION_TEXT, MAINTENANCE_RATE, MarginMode
from .markets import CONTRACT_BTC
from .orders import FUTURES, SimOrder

if TYPE_CHECKING:  # pragma: no cover
    from .futures_account import FuturesAccount
    from .matching import SimMarket

_SIGN = {"long": 1.0, "short": -1.0}
CROSS = "cross"  # the one group of a cross account


def _open_legs(a: FuturesAccount) -> list[str]:
    return [n for n in ("long", "short") if a.legs[n].size > 0]


def leg_margin(a: FuturesAccount, name: str) -> float:
    leg = a.legs[name]
    return leg.size * CONTRACT_BTC * leg.entry / a.leverage


def maintenance_margin(a: FuturesAccount, name: str, mark: float) -> float:
    """Maintenance margin of one side at ``mark`` (the contract's maintenance rate)."""
    return a.legs[name].size * CONTRACT_BTC * mark * MAINTENANCE_RATE


def groups(a: FuturesAccount) -> dict[str, list[str]]:
    """What is liquidated together: each isolated side alone, a cross account as a whole."""
    legs = _open_legs(a)
    if not legs:
        return {}
    if a.margin_settings.mode is MarginMode.CROSS:
        return {CROSS: legs}
    return {n: [n] for n in legs}


def _line(a: FuturesAccount, names: list[str]) -> tuple[float, float]:
    """(intercept, slope) of margin + uPnL - requirement as a linear function of the price."""
    k = a.margin_settings.liq_rate
    base = a.cash if names and a.margin_settings.mode is MarginMode.CROSS else 0.0
    slope = 0.0
    for n in names:
        leg = a.legs[n]
        q = leg.size * CONTRACT_BTC
        if a.margin_settings.mode is not MarginMode.CROSS:
            base += leg_margin(a, n)
        base -= _SIGN[n] * q * leg.entry
        slope += _SIGN[n] * q - k * q
    return base, slope


def shortfall(a: FuturesAccount, price: float) -> dict[str, float]:
    """Margin + uPnL less the requirement at ``price``, per group (negative: liquidation)."""
    out = {}
    for g, names in groups(a).items():
        base, slope = _line(a, names)
        out[g] = base + slope * price
    return out


def liq_prices(a: FuturesAccount) -> dict[str, float]:
    """Each side's liquidation price; 0 when it has none (no position, or none reachable)."""
    out = {"long": 0.0, "short": 0.0}
    for names in groups(a).values():
        base, slope = _line(a, names)
        price = -base / slope if abs(slope) > 1e-15 else 0.0
        for n in names:
            out[n] = price if math.isfinite(price) and price > 0 else 0.0
    return out


def margin_view(a: FuturesAccount, name: str, mark: float) -> dict[str, float]:
    """The position fields of this slice, for ``FuturesAccount._leg_view``."""
    s = a.margin_settings
    return {
        "leverage": s.reported_leverage,
        "cross_leverage_limit": s.cross_leverage_limit if s.mode is MarginMode.CROSS else 0.0,
        "liq_price": liq_prices(a)[name],
        "maintenance_margin": maintenance_margin(a, name, mark),
    }


def due(a: FuturesAccount, low: float, high: float) -> list[tuple[list[str], float]]:
    """Groups whose requirement is not covered somewhere in [low, high], with the price they
    are closed at (their liquidation price, within the bar)."""
    out = []
    for names in groups(a).values():
        base, slope = _line(a, names)
        if min(base + slope * low, base + slope * high) >= 0:
            continue
        price = -base / slope if abs(slope) > 1e-15 else low
        out.append((names, min(max(price, low), high)))
    return out


def on_bar(m: SimMarket, low: float, high: float) -> None:
    """Liquidate whatever the bar's range reached (called once per bar by ``SimMarket``)."""
    a: FuturesAccount = m._futures
    for names, price in due(a, low, high):
        liquidate(m, names, price)


def liquidate(m: SimMarket, names: list[str], price: float) -> None:
    a: FuturesAccount = m._futures
    cross = a.margin_settings.mode is MarginMode.CROSS
    kept = a.cash if cross else a.cash - sum(leg_margin(a, n) for n in names)
    for o in m.open_orders(FUTURES):
        m.finish_order(o, "liquidated")
    for n in names:
        qty = a.legs[n].size
        order = SimOrder(
            id=str(next(m._ids)),
            market=FUTURES,
            side="sell" if n == "long" else "buy",
            amount=-qty if n == "long" else qty,
            price=price,
            tif="ioc",
            reduce_only=True,
            text=LIQUIDATION_TEXT,
            create_ms=m.now_ms,
            update_ms=m.now_ms,
        )
        m._index.add(order)
        m._order_event(order, "put")
        m._book_fill(order, qty, price, "taker")
        m.finish_order(order, "liquidated")
    # what is left of the liquidated margin goes to the insurance fund
    to_fund = a.cash - (0.0 if cross else kept)
    if to_fund > 0:
        a.cash -= to_fund
        a.book_line("pnl", -to_fund, CONTRACT, m.now_ms)
