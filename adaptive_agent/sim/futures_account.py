"""The simulator's USDT-futures account: the wallet, the two position legs, margins, funding
settlement and the account book.

Sizes are contracts of ``CONTRACT_BTC`` BTC. Orders that open exposure need notional /
``leverage`` of ``available`` = wallet + min(unrealised, 0) - position margin - order margin.
In dual mode each leg is its own position (an order opens its side's leg unless reduce-only);
in single mode an order first closes the opposite leg. Funding: longs pay and shorts receive
rate x size (BTC) x mark.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..exchange.gate_constants import Label
from .liquidation import margin_view
from .margin_modes import MarginSettings
from .markets import CONTRACT, CONTRACT_BTC
from .orders import BookEntry, SimError, SimOrder
from .retention import HISTORY_MAX, check_history_max

BOOK_TYPES = ("dnw", "pnl", "fee", "fund")
_EPS = 1e-12


@dataclass(slots=True)
class Leg:
    """One dual-mode position side; ``size`` in contracts, never negative."""

    size: float = 0.0
    entry: float = 0.0
    pnl: float = 0.0  # realised trading pnl
    fee: float = 0.0  # fees paid (positive)
    fund: float = 0.0  # funding received (+) or paid (-)
    open_ms: int = 0
    update_ms: int = 0


def closed_leg(side: str) -> str:
    """The leg an order of this side reduces: a sell reduces the long, a buy the short."""
    return "long" if side == "sell" else "short"


class FuturesAccount:
    """Wallet balance (``cash``, excluding unrealised pnl), legs and the account book."""

    def __init__(
        self,
        cash: float,
        leverage: float,
        dual_mode: bool,
        ids: Iterator[int],
        deposit: float,
        now_ms: int,
        history_max: int = HISTORY_MAX,
    ) -> None:
        self.cash = float(cash)
        self.leverage = float(leverage)
        self.margin_settings = MarginSettings(isolated_leverage=self.leverage)  # margin slice
        self.dual_mode = dual_mode
        self.legs = {"long": Leg(), "short": Leg()}
        self._ids = ids  # shared with the market: one id sequence, as before
        self._book: deque[BookEntry] = deque(maxlen=check_history_max(history_max))  # newest
        self._totals = dict.fromkeys(BOOK_TYPES, 0.0)  # account book sums by type
        self.book_line("dnw", float(deposit), "", now_ms)

    # ---- margins ------------------------------------------------------------------------

    def opening_qty(self, side: str, reduce_only: bool, qty: float) -> float:
        if reduce_only:
            return 0.0
        if self.dual_mode:
            return qty
        return max(0.0, qty - self.legs[closed_leg(side)].size)

    def order_margin(
        self, orders: Iterable[SimOrder], ref_price: Callable[[SimOrder], float]
    ) -> float:
        return math.fsum(
            o.left * CONTRACT_BTC * ref_price(o) / self.leverage
            for o in orders
            if not o.reduce_only
        )

    def position_margin(self) -> float:
        return math.fsum(
            leg.size * CONTRACT_BTC * leg.entry / self.leverage for leg in self.legs.values()
        )

    def unrealised(self, mark: float) -> float:
        lng, sht = self.legs["long"], self.legs["short"]
        return (lng.size * (mark - lng.entry) - sht.size * (mark - sht.entry)) * CONTRACT_BTC

    def available(self, upnl: float, pos_margin: float, order_margin: float) -> float:
        """Wallet less margins; losses count at once, gains only once realised."""
        return self.cash + min(upnl, 0.0) - pos_margin - order_margin

    def reserve(
        self,
        order: SimOrder,
        mark: float,
        orders: list[SimOrder],
        ref_price: Callable[[SimOrder], float],
    ) -> None:
        """Refuse an order whose opening part needs more margin than is available."""
        opening = self.opening_qty(order.side, order.reduce_only, order.size)
        if opening <= 0:
            return
        need = opening * CONTRACT_BTC * ref_price(order) / self.leverage
        available = self.available(
            self.unrealised(mark), self.position_margin(), self.order_margin(orders, ref_price)
        )
        if need > available + 1e-9:
            raise SimError(
                Label.INSUFFICIENT_AVAILABLE,
                f"margin {need:.2f} USDT needed, {available:.2f} USDT available",
            )

    def check_reduce(self, side: str, size: float, pending: float) -> None:
        """A reduce-only order may not exceed its leg less pending reduce-only orders."""
        leg = self.legs[closed_leg(side)]
        if leg.size <= 0:
            raise SimError(Label.REDUCE_EXCEEDED, "empty position")
        if size > leg.size - pending + 1e-9:
            raise SimError(
                Label.REDUCE_EXCEEDED,
                f"reduce size {size:g} exceeds position {leg.size:g}"
                f" less {pending:g} in pending reduce-only orders",
            )

    def auto_size(self, auto_size: str) -> float:
        """The signed size that closes a whole dual-mode leg (Gate's ``auto_size``)."""
        if not self.dual_mode:
            raise SimError(Label.INVALID_PARAM_VALUE, "auto_size is for dual mode only")
        leg = self.legs["long" if auto_size == "close_long" else "short"]
        if leg.size <= 0:
            raise SimError(Label.REDUCE_EXCEEDED, "empty position")
        return -leg.size if auto_size == "close_long" else leg.size

    # ---- fills --------------------------------------------------------------------------

    def fill(
        self, order: SimOrder, qty: float, px: float, rate: float, now_ms: int
    ) -> tuple[float, float]:
        """Book a fill of ``qty`` contracts at ``px``; return (fee, contracts closed)."""
        fee = qty * CONTRACT_BTC * px * rate
        pnl, closed = 0.0, 0.0
        for name, kind, part in self._parts(order.side, order.reduce_only, qty):
            leg = self.legs[name]
            leg.fee += fee * part / qty
            leg.update_ms = now_ms
            if kind == "close":
                sign = 1.0 if name == "long" else -1.0
                gain = sign * part * CONTRACT_BTC * (px - leg.entry)
                leg.pnl += gain
                pnl += gain
                closed += part
                leg.size -= part
                if leg.size <= _EPS:
                    leg.size, leg.entry = 0.0, 0.0
            else:
                if leg.size <= 0:
                    leg.open_ms = now_ms
                leg.entry = (leg.entry * leg.size + px * part) / (leg.size + part)
                leg.size += part
        self.cash -= fee
        self.book_line("fee", -fee, CONTRACT, now_ms)
        if closed > 0:
            self.cash += pnl
            self.book_line("pnl", pnl, CONTRACT, now_ms)
        return fee, closed

    def _parts(self, side: str, reduce_only: bool, qty: float) -> list[tuple[str, str, float]]:
        """Split a futures fill into (leg, "open"|"close", contracts) parts."""
        opposite = closed_leg(side)
        own = "long" if side == "buy" else "short"
        if self.dual_mode:
            return [(opposite, "close", qty)] if reduce_only else [(own, "open", qty)]
        closing = min(qty, self.legs[opposite].size)
        parts = [(opposite, "close", closing)] if closing > 0 else []
        if qty - closing > _EPS and not reduce_only:
            parts.append((own, "open", qty - closing))
        return parts

    def settle_funding(self, t_ms: int, rate: float, mark: float) -> float:
        """Longs pay, shorts receive rate x size x mark; return the wallet change."""
        total = 0.0
        for name, sign in (("long", -1.0), ("short", 1.0)):
            leg = self.legs[name]
            if leg.size <= 0:
                continue
            change = sign * rate * leg.size * CONTRACT_BTC * mark
            leg.fund += change
            self.cash += change
            total += change
            self.book_line("fund", change, CONTRACT, t_ms)
        return total

    # ---- views --------------------------------------------------------------------------

    def summary(self, mark: float, order_margin: float) -> dict[str, Any]:
        upnl = self.unrealised(mark)
        pos_margin = self.position_margin()
        return {
            "currency": "USDT",
            "total": self.cash,
            "unrealised_pnl": upnl,
            "position_margin": pos_margin,
            "order_margin": order_margin,
            "available": self.available(upnl, pos_margin, order_margin),
            "in_dual_mode": self.dual_mode,
            "history": dict(self._totals),
        }

    def positions(self, mark: float, orders: list[SimOrder]) -> dict[str, dict[str, Any]]:
        lng, sht = self.legs["long"], self.legs["short"]
        if self.dual_mode:
            return {
                "dual_long": self._leg_view("dual_long", lng, 1, mark, orders),
                "dual_short": self._leg_view("dual_short", sht, -1, mark, orders),
            }
        leg, sign = (sht, -1) if sht.size > 0 else (lng, 1)
        return {"single": self._leg_view("single", leg, sign, mark, orders)}

    def _leg_view(
        self, mode: str, leg: Leg, sign: int, mark: float, orders: list[SimOrder]
    ) -> dict[str, Any]:
        upnl = sign * leg.size * CONTRACT_BTC * (mark - leg.entry) if leg.size > 0 else 0.0
        name = "long" if sign > 0 else "short"
        pending = sum(1 for o in orders if _touches(o, name))
        return {
            "mode": mode,
            "size": sign * leg.size + 0.0,  # never -0.0
            "entry_price": leg.entry,
            "mark_price": mark,
            "value": leg.size * CONTRACT_BTC * mark,
            "margin": leg.size * CONTRACT_BTC * leg.entry / self.leverage,
            "leverage": self.leverage,
            "unrealised_pnl": upnl,
            "realised_pnl": leg.pnl - leg.fee + leg.fund,
            "pnl_pnl": leg.pnl,
            "pnl_fee": 0.0 - leg.fee,
            "pnl_fund": leg.fund,
            "open_time_ms": leg.open_ms,
            "update_time_ms": leg.update_ms,
            "pending_orders": pending,
            **margin_view(self, name, mark),  # leverage, liq_price, ... (margin slice)
        }

    def set_dual_mode(self, dual: bool, orders_open: bool) -> None:
        """Switch position mode; Gate refuses while a position or futures order is open."""
        if any(leg.size > 0 for leg in self.legs.values()):
            raise SimError(Label.POSITION_HOLDING, "Operation forbidden with holding position")
        if orders_open:
            raise SimError(Label.ORDER_PENDING, "Operation forbidden with pending orders")
        self.dual_mode = bool(dual)

    def account_book(self, type: str | None = None) -> list[BookEntry]:
        """Oldest first: dnw (deposit), fee, pnl and fund lines (the newest ``history_max``;
        ``_totals`` and the legs' sums keep counting everything)."""
        return [e for e in self._book if type is None or e.type == type]

    def book_line(self, type_: str, change: float, text: str, time_ms: int) -> None:
        """Record a cash change already applied to the wallet."""
        self._totals[type_] += change
        self._book.append(BookEntry(str(next(self._ids)), time_ms, type_, change, self.cash, text))


def _touches(order: SimOrder, leg: str) -> bool:
    if order.reduce_only:
        return (order.side == "sell") == (leg == "long")
    return (order.side == "buy") == (leg == "long")
