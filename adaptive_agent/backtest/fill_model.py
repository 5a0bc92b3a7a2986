"""The backtest's fill model and book (docs/rules.md, Backtest fill model; Funding).

Orders decided at the close of bar r fill during bar j = r + 1: ``maker_fill_ratio`` of each
order as maker at close_r, the rest as taker at open_j moved by the slippage against us, with
fees on each part's notional. Funding instants settle ``rate x size x price`` on the positions
held at them. Deterministic, so any two correct implementations agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.model import Book, Leg, Order, OrderType, Params, Side
from ..core.time_rules import funding_instants
from ..io.loaders import FundingSeries

_SPOT, _BUY = Leg.BTC_SPOT, Side.BUY  # module constants: enum attribute lookups are slow


@dataclass(frozen=True, slots=True)
class Fill:
    time_ms: int  # open of the bar during which it filled
    rebalance_id: int
    leg: Leg
    order_type: str
    side: str
    size_btc: float
    price: float
    liquidity: str  # "maker" | "taker"
    fee: float

    @property
    def notional(self) -> float:
        return self.size_btc * self.price


def funding_schedule(
    ts: np.ndarray,
    dec: np.ndarray,
    perp_close: np.ndarray,
    funding: FundingSeries | None,
    default_rate: float,
    hours: tuple[int, ...],
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-bar funding factors (rate x price), split by when they settle relative to the fills.

    ``gap_k[j]``: instants that fell in a gap before bar j opened: settled on the positions held
    before bar j's fills, at the last close before the gap. ``bar_k[j]``: instants inside bar j
    (normally its close): settled after its fills, at its close, before the decision.
    """
    n = len(ts)
    gap_k = np.zeros(n)
    bar_k = np.zeros(n)
    first, last = int(ts[0]), int(dec[-1])
    inst = funding_instants(first, last, hours)
    if len(inst) == 0:
        return gap_k, bar_k, 0
    rates = (
        funding.rate_at(inst, default_rate)
        if funding is not None
        else np.full(len(inst), default_rate)
    )
    j = np.searchsorted(dec, inst, side="left")
    in_gap = ts[j] >= inst
    np.add.at(gap_k, j[in_gap], rates[in_gap] * perp_close[j[in_gap] - 1])
    np.add.at(bar_k, j[~in_gap], rates[~in_gap] * perp_close[j[~in_gap]])
    return gap_k, bar_k, len(inst)


_OPENING = frozenset({OrderType.OPEN_LONG, OrderType.OPEN_SHORT})


class Ledger:
    """Cash, positions and entry prices of the simulated book, updated fill by fill."""

    __slots__ = ("cash", "contract", "le", "lng", "lot", "se", "sht", "spot")

    def __init__(self, cash: float, params: Params) -> None:
        self.cash = cash
        self.spot = self.lng = self.sht = 0
        self.le = self.se = 0.0
        self.lot = params.venue.spot_lot
        self.contract = params.venue.perp_contract

    def book(self, cash: float) -> Book:
        return Book(cash, self.spot, self.lng, self.sht, self.le, self.se)

    def sizes(self) -> tuple[float, float, float]:
        return self.spot * self.lot, self.lng * self.contract, self.sht * self.contract

    def funding_factor(self) -> float:
        """Cash change per unit of rate x price: shorts receive a positive rate, longs pay it."""
        return (self.sht - self.lng) * self.contract

    def apply(self, order: Order, parts: list[tuple[float, float, float, str]]) -> None:
        """Apply an order filled in ``parts`` of (size BTC, price, fee, liquidity).

        The position moves by the whole order; cash, fees and entry price follow each part.
        """
        ot = order.order_type
        if order.leg is Leg.BTC_SPOT:
            sign = 1.0 if order.side is Side.BUY else -1.0
            for q, p, fee, _ in parts:
                self.cash -= sign * q * p + fee
            self.spot += order.lots if sign > 0 else -order.lots
            return
        long_leg = order.leg is Leg.BTC_PERP_LONG
        held = (self.lng if long_leg else self.sht) * self.contract
        entry = self.le if long_leg else self.se
        opening = ot in _OPENING
        for _, _, fee, _ in parts:
            self.cash -= fee
        if opening:
            cost = held * entry + sum(q * p for q, p, _, _ in parts)
            new_lots = (self.lng if long_leg else self.sht) + order.lots
            entry = cost / (new_lots * self.contract)
        else:
            sgn = 1.0 if long_leg else -1.0
            self.cash += sum(sgn * q * (p - entry) for q, p, _, _ in parts)
            new_lots = (self.lng if long_leg else self.sht) - order.lots
            if new_lots == 0:
                entry = 0.0
        if long_leg:
            self.lng, self.le = new_lots, entry
        else:
            self.sht, self.se = new_lots, entry


def fill_orders(
    orders, rid, r, j, ledger, fills, ts, spot_c, spot_o, perp_c, perp_o, ratio, slip, fees
) -> None:
    """The fill model (docs/rules.md, Backtest fill model): ``ratio`` of each order as maker at
    close_r, the rest as taker at open_j moved by the slippage against us; fees on each part's
    notional."""
    for order in orders:
        spot_leg = order.leg is _SPOT
        maker_px = float(spot_c[r] if spot_leg else perp_c[r])
        open_px = float(spot_o[j] if spot_leg else perp_o[j])
        buy = order.side is _BUY
        taker_px = open_px * (1.0 + slip) if buy else open_px * (1.0 - slip)
        fm, ft = (
            (fees.spot_maker, fees.spot_taker) if spot_leg else (fees.perp_maker, fees.perp_taker)
        )
        mq = order.size_btc * ratio
        tq = order.size_btc * (1.0 - ratio)
        parts = []
        if mq > 0:
            parts.append((mq, maker_px, mq * maker_px * fm, "maker"))
        if tq > 0:
            parts.append((tq, taker_px, tq * taker_px * ft, "taker"))
        ledger.apply(order, parts)
        t = int(ts[j])
        for q, p, fee, liq in parts:
            fills.append(
                Fill(t, rid, order.leg, str(order.order_type), str(order.side), q, p, liq, fee)
            )
