"""The simulator's own ledger of what it charged: each trade's fee (in the currency Gate
charges it: a spot buy's in BTC, the coin received; a spot sell's and every futures fee in
USDT) with its USDT value at the fill, and each funding payment of the futures account book.

This is what a test holds the agent's recorded fees and funding to (``runner/ledger.py``); it
reads the market's records and charges nothing itself. GT deduction is not simulated: the
simulator's trades carry ``gt_fee`` 0 (docs/rules.md, "Fees and funding as paid").
"""

from __future__ import annotations

from dataclasses import dataclass

from .matching import SimMarket
from .orders import MARKETS, BookEntry


@dataclass(frozen=True, slots=True)
class FeeLine:
    market: str
    trade_id: str
    text: str  # the order's client id
    fee: float
    currency: str
    fee_usdt: float  # at the fill's price for a fee in BTC


def fee_ledger(m: SimMarket) -> list[FeeLine]:
    """Every trade's fee, oldest first per market (spot, then futures)."""
    return [
        FeeLine(
            market,
            t.id,
            t.text,
            t.fee,
            t.fee_currency,
            t.fee * t.price if t.fee_currency == "BTC" else t.fee,
        )
        for market in MARKETS
        for t in m.my_trades(market)
    ]


def funding_ledger(m: SimMarket) -> list[BookEntry]:
    """Every funding payment (account-book ``type=fund`` lines), oldest first."""
    return m.account_book("fund")
