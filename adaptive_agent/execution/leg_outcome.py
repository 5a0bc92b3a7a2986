"""How each leg of an execution ended, and what that leaves: pure rules, no I/O.

A leg is ``FILLED`` (what is left is below the venue minimum), ``SHORT`` (it filled less and
nothing more can be sent in this rebalance), ``REJECTED`` (the venue refused it: balance,
margin, reduce-only, rate limit, ...) or ``UNKNOWN`` (an order's fate is not settled). A
rebalance whose legs are not all ``FILLED`` is ``INCOMPLETE`` (docs/rules.md, Execution:
rejected legs). ``book_after`` applies the fills to the book the decision saw, so the agent can
say how far from neutral an incomplete rebalance left it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from ..core.model import BOOK_CHANGE, Book, OrderType, Params
from ..core.portfolio_manager import net_delta_btc
from ..lifecycle import RebalanceStatus


class LegResult(StrEnum):
    FILLED = "filled"
    SHORT = "short"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


def rebalance_status(results: Iterable[LegResult]) -> RebalanceStatus:
    """DONE only when every leg reached its target (to the venue's minimum)."""
    done = all(r is LegResult.FILLED for r in results)
    return RebalanceStatus.DONE if done else RebalanceStatus.INCOMPLETE


def book_after(book: Book, fills: Iterable[tuple[str, float]], params: Params) -> Book:
    """``book`` with ``fills`` applied: (order type, amount filled in venue units: BTC for
    spot, contracts for futures). Cash is left as it was (fees and prices do not move the
    delta)."""
    spot, long_c, short_c = book.spot_lots, book.long_contracts, book.short_contracts
    for order_type, amount in fills:
        ds, dl, dh = BOOK_CHANGE[OrderType(order_type)]
        units = round(amount / params.venue.spot_lot) if ds else round(amount)
        spot, long_c, short_c = spot + ds * units, long_c + dl * units, short_c + dh * units
    return book._replace(spot_lots=spot, long_contracts=long_c, short_contracts=short_c)


def delta_frac(book: Book, price: float, nav: float, params: Params) -> float:
    """Net BTC delta of ``book`` at ``price`` as a fraction of ``nav`` (signed)."""
    if nav <= 0:
        return 0.0
    return net_delta_btc(book, params) * price / nav
