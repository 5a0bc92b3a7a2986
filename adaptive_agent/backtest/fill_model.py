"""The backtest's fill model and book (docs/rules.md, Backtest fill model; Funding).

Orders decided at the close of bar r fill during bar j = r + 1: ``maker_fill_ratio`` of each
order as maker at close_r, the rest as taker at open_j moved by the slippage against us, with
fees on each part's notional. Funding instants settle ``rate x size x price`` on the positions
held at them. Deterministic, so any two correct implementations agree exactly.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..core.model import Leg
from ..core.time_rules import funding_instants
from ..io.loaders import FundingSeries


class Fill(NamedTuple):
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


def fill_order(book, k, up, lots, maker_px, open_px, ratio, slip, fee_maker, fee_taker, lot):
    """Fill one order of ``lots`` on leg ``k`` (0 spot, 1 long, 2 short; ``up``: it raises the
    leg's size): ``ratio`` of it as maker at ``maker_px`` (the deciding close), the rest as
    taker at ``open_px`` (the next open) moved by the slippage against us, fees on each part's
    notional. The position moves by the whole order; cash, fees and entry price follow each
    part (a perpetual side's entry is the size-weighted price of its opening fills; closing
    realises ``size x (price - entry)``, sign by side).

    ``book``: (cash, spot lots, long contracts, short contracts, long entry, short entry).
    Returns the book after it and the parts (maker size, price, fee, taker size, price, fee;
    a part of size 0 did not happen). Plain scalar arithmetic: the backtest's compiled loop
    (``kernel.py``) runs this.
    """
    cash, spot, lng, sht, le, se = book
    buy = up if k < 2 else not up  # spot BUY, OPEN_LONG, CLOSE_SHORT buy
    size = lots * lot
    mq = size * ratio
    tq = size * (1.0 - ratio)
    taker_px = open_px * (1.0 + slip) if buy else open_px * (1.0 - slip)
    mfee = mq * maker_px * fee_maker if mq > 0 else 0.0
    tfee = tq * taker_px * fee_taker if tq > 0 else 0.0
    if k == 0:
        sign = 1.0 if buy else -1.0
        if mq > 0:
            cash -= sign * mq * maker_px + mfee
        if tq > 0:
            cash -= sign * tq * taker_px + tfee
        spot += lots if up else -lots
        return (cash, spot, lng, sht, le, se), (mq, maker_px, mfee, tq, taker_px, tfee)
    held_lots = lng if k == 1 else sht
    entry = le if k == 1 else se
    if mq > 0:
        cash -= mfee
    if tq > 0:
        cash -= tfee
    if up:
        flow = 0.0
        if mq > 0:
            flow += mq * maker_px
        if tq > 0:
            flow += tq * taker_px
        new_lots = held_lots + lots
        entry = (held_lots * lot * entry + flow) / (new_lots * lot)
    else:
        sgn = 1.0 if k == 1 else -1.0
        pnl = 0.0
        if mq > 0:
            pnl += sgn * mq * (maker_px - entry)
        if tq > 0:
            pnl += sgn * tq * (taker_px - entry)
        cash += pnl
        new_lots = held_lots - lots
        if new_lots == 0:
            entry = 0.0
    if k == 1:
        return (cash, spot, new_lots, sht, entry, se), (mq, maker_px, mfee, tq, taker_px, tfee)
    return (cash, spot, lng, new_lots, le, entry), (mq, maker_px, mfee, tq, taker_px, tfee)
