"""How the simulator fills orders: the two fill models.

``realistic``: the book is one tick wide around the close (``top``). Taker orders (market, or
a limit that crosses) fill at once at the touch moved by ``slippage`` against the taker,
bounded by the limit. Resting orders fill on a later bar that trades through their price:
fully when the bar's low (buy) / high (sell) goes beyond it, half the remainder (whole lots or
contracts, at least one) when it only touches it. Maker fees for resting fills, taker
otherwise. Spot fees are charged in the currency received (BTC on a buy), as Gate does.

``backtest`` (the backtester's fill model, docs/rules.md "Fills", to prove paper ==
backtest): zero spread at the close; a post-only/GTC limit on its own side or at the touch
fills ``maker_fill_ratio`` of its size at once at its limit price (maker fee, exact
fractions) and the rest stays open, never matched, until cancelled; market and IOC orders
fill in full at the NEXT bar's open moved by ``slippage`` (taker fee), when the clock reaches
it. All fees are booked in USDT, as the backtester books them. Crossing GTC limits are not
part of that model and are refused.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..exchange.gate_constants import Label
from .markets import SPOT_LOT
from .orders import MARKETS, SPOT, SimError, SimOrder

if TYPE_CHECKING:
    from .matching import SimMarket

_EPS = 1e-12


def same_price(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def within_limit(order: SimOrder, px: float) -> bool:
    assert order.price is not None
    return px <= order.price if order.side == "buy" else px >= order.price


class FillModel:
    """The choices a fill model makes; ``m`` is the market whose orders it fills."""

    name = ""
    fee_in_coin = False  # spot buy fees in BTC (Gate) rather than USDT (the backtester)
    exact = False  # sizes are not rounded to Gate's lots and minimums

    def top(self, close: float, tick: float) -> tuple[float, float]:
        raise NotImplementedError

    def crosses(self, side: str, price: float, bid: float, ask: float) -> bool:
        """Would a limit at ``price`` take liquidity now?"""
        raise NotImplementedError

    def refuse(self, tif: str, crossing: bool) -> None:
        """Raise for an order this model does not take (all are taken by default)."""

    def on_place(self, m: SimMarket, order: SimOrder, crossing: bool) -> None:
        raise NotImplementedError

    def on_bar(self, m: SimMarket, j: int) -> None:
        """Bar ``j`` has just completed: fill what it fills."""
        raise NotImplementedError

    def qty_for(self, order: SimOrder, px: float) -> float:
        """What is left of the order, in BTC or contracts, at ``px``."""
        if not order.by_cost:
            return order.left
        qty = order.left / px
        if not self.exact:
            qty = math.floor(qty / SPOT_LOT + 1e-9) * SPOT_LOT
        return qty


class Realistic(FillModel):
    name = "realistic"
    fee_in_coin = True

    def top(self, close: float, tick: float) -> tuple[float, float]:
        """One tick around the close; a close on a tick has one tick either side of it."""
        x = close / tick
        n = round(x)
        if abs(x - n) < 1e-6:
            bid, ask = n - 1, n + 1
        else:
            bid = math.floor(x)
            ask = bid + 1
        return round(bid * tick, 10), round(ask * tick, 10)

    def crosses(self, side: str, price: float, bid: float, ask: float) -> bool:
        return price >= ask if side == "buy" else price <= bid

    def on_place(self, m: SimMarket, order: SimOrder, crossing: bool) -> None:
        if crossing:
            bid, ask = m.top(order.market)
            px = m.taker_px(order.side, ask if order.side == "buy" else bid)
            if order.price is not None:
                px = min(px, order.price) if order.side == "buy" else max(px, order.price)
            m.fill_order(order, self.qty_for(order, px), px, "taker")
            if order.is_open:
                m.finish_order(order, "filled")
        elif order.tif == "ioc":
            m.finish_order(order, "ioc")

    def on_bar(self, m: SimMarket, j: int) -> None:
        c = m.candles
        low, high = float(c.low[j]), float(c.high[j])
        for market in MARKETS:
            fill_resting(m, m.open_orders(market), low, high, at_touch=True)


def fill_resting(
    m: SimMarket, orders: list[SimOrder], low: float, high: float, at_touch: bool
) -> None:
    """Fill resting limit ``orders`` that prices from ``low`` to ``high`` reached, at their
    limit (maker): in full when the price traded through the limit; when it only touched it,
    half the remainder (whole lots or contracts, at least one) if ``at_touch``, else nothing."""
    for order in orders:
        p = order.price
        assert p is not None  # only limit orders rest in these fill models
        unit = SPOT_LOT if order.market == SPOT else 1.0
        touch = low if order.side == "buy" else high
        through = touch < p if order.side == "buy" else touch > p
        if through:
            qty = order.left
        elif at_touch and same_price(touch, p):
            units = round(order.left / unit)
            qty = min(order.left, max(1, units // 2) * unit)
        else:
            continue
        m.fill_order(order, qty, p, "maker")
        if order.is_open and order.left <= _EPS * order.size:
            m.finish_order(order, "filled")


class DryRun(Realistic):
    """``paper --live`` (docs/rules.md, "Dry run"): the book is Gate's live top of book, so
    a taker fills at the live touch moved by ``slippage`` (never better than the book) and a
    crossing post-only order is refused as Gate refuses it. A resting order fills in full at
    its limit only when a later look at Gate's last trade price shows a new price strictly
    beyond it (``LiveSimMarket.observe``); at its limit it does not fill (the queue ahead of
    it is unknown). Not driven by bars."""

    name = "dry-run"

    def on_bar(self, m: SimMarket, j: int) -> None:
        raise NotImplementedError("the dry-run model is driven by live prices, not bars")


class Backtest(FillModel):
    name = "backtest"
    exact = True

    def __init__(self, maker_fill_ratio: float) -> None:
        self.maker_fill_ratio = float(maker_fill_ratio)

    def top(self, close: float, tick: float) -> tuple[float, float]:
        return close, close

    def crosses(self, side: str, price: float, bid: float, ask: float) -> bool:
        return price > ask if side == "buy" else price < bid

    def refuse(self, tif: str, crossing: bool) -> None:
        if tif == "gtc" and crossing:
            raise SimError(
                Label.INVALID_PARAM_VALUE,
                "the backtest fill model has no crossing GTC limit orders: use ioc or market",
            )

    def on_place(self, m: SimMarket, order: SimOrder, crossing: bool) -> None:
        if order.tif == "ioc":
            order.awaiting_open = True
        elif self.maker_fill_ratio > 0:
            m.fill_order(order, order.size * self.maker_fill_ratio, order.price, "maker")
            if order.is_open and order.left <= _EPS * order.size:
                m.finish_order(order, "filled")

    def on_bar(self, m: SimMarket, j: int) -> None:
        opened = float(m.candles.open[j])
        for market in MARKETS:
            for order in [o for o in m.open_orders(market) if o.awaiting_open]:
                order.awaiting_open = False
                px = m.taker_px(order.side, opened)
                if order.price is not None and not within_limit(order, px):
                    m.finish_order(order, "ioc")
                    continue
                m.fill_order(order, self.qty_for(order, px), px, "taker")
                if order.is_open:
                    m.finish_order(order, "filled")


FILL_MODELS = ("realistic", "backtest")


def fill_model(name: str, maker_fill_ratio: float) -> FillModel:
    if name not in FILL_MODELS:
        raise ValueError(f"fill_model must be one of {FILL_MODELS}, got {name!r}")
    return Realistic() if name == "realistic" else Backtest(maker_fill_ratio)
