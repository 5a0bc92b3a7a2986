"""The order lifecycle: one status enum for the port, the state store and the executor.

An order of ours is first an ``INTENT`` (committed to the store before the request is sent).
The venue's answer makes it ``OPEN`` (resting), or finished: ``CLOSED`` (filled, or an
IOC/market order that ended), ``CANCELED`` (possibly partly filled) or ``REJECTED`` (refused,
nothing filled). ``UNKNOWN`` means sent but its fate is not known: it must be looked up by its
client id, never re-sent; after ``MAX_LOOKUPS`` reconciles that could not find it, it is
``PARKED``: reported once and no longer looked up (a resting order would still show in the
venue's open-order list, which every reconcile reads). A rebalance is ``EXECUTING`` until it
is ``DONE`` (every leg reached its target), ``INCOMPLETE`` (a leg was refused or came up short:
the book is off target until a later rebalance), or closed as ``INTERRUPTED`` by the reconcile
after a crash.

How Gate reports the end of an order (``finish_as``) maps to these statuses in one table,
``FINISH_AS`` below; ``order_status()`` applies it. A value Gate may send that the table does
not know is ``UNKNOWN`` (look the order up), never ``OPEN``.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    INTENT = "intent"  # ours only: recorded, not yet acknowledged by the venue
    OPEN = "open"  # resting on the book (possibly partly filled)
    CLOSED = "closed"  # done: fully filled, or an IOC/market order that finished
    CANCELED = "canceled"  # cancelled (possibly partly filled)
    REJECTED = "rejected"  # refused by the venue, nothing filled
    UNKNOWN = "unknown"  # ours only: sent, fate unknown: look it up by client id
    PARKED = "parked"  # ours only: still unknown after the bounded lookups; reported, left


# Orders whose fate the agent still has to settle with the venue (reconcile looks them up).
UNFINISHED: tuple[OrderStatus, ...] = (OrderStatus.INTENT, OrderStatus.OPEN, OrderStatus.UNKNOWN)
MAX_LOOKUPS = 5  # reconciles that look an UNKNOWN order up before it is parked
FINISHED: frozenset[OrderStatus] = frozenset(
    {OrderStatus.CLOSED, OrderStatus.CANCELED, OrderStatus.REJECTED}
)


class RebalanceStatus(StrEnum):
    EXECUTING = "executing"
    DONE = "done"
    INCOMPLETE = "incomplete"  # finished, but a leg was refused or fell short of its target
    INTERRUPTED = "interrupted"


# --- Gate's finish_as -> the lifecycle ------------------------------------------------------
# Gate API v4 (gateapi-python docs/Order.md and the spot "Order" schema of the API docs,
# ``finish_as``): open (processing), filled, cancelled, ioc, stp (self-trade prevention),
# poc (post-only would have taken), fok, trader_not_enough, depth_not_enough, small (amount
# too small), liquidate_cancelled, "-" (unknown). Futures (docs/FuturesOrder.md and
# ``POST /futures/{settle}/batch_orders`` enumerated values): filled, cancelled, liquidated,
# ioc, auto_deleveraged, reduce_only (would increase the position while reduce-only),
# position_closed (the position was closed), reduce_out ("only reduce positions by excluding
# hard-to-fill orders"), stp. Futures docs do not list ``poc`` but a futures order can be
# ``tif=poc``: read strictly, a finished zero-fill ``poc`` is the post-only rejection on both.
# Every finish other than ``filled`` leaves the rest cancelled (partly filled or not).
FINISH_AS: dict[str, dict[str, OrderStatus]] = {
    "spot": {
        "open": OrderStatus.OPEN,
        "filled": OrderStatus.CLOSED,
        **dict.fromkeys(
            (
                "cancelled",
                "ioc",
                "stp",
                "fok",
                "trader_not_enough",
                "depth_not_enough",
                "small",
                "liquidate_cancelled",
            ),
            OrderStatus.CANCELED,
        ),
        "poc": OrderStatus.REJECTED,
    },
    "futures": {
        "filled": OrderStatus.CLOSED,
        **dict.fromkeys(
            (
                "cancelled",
                "liquidated",
                "ioc",
                "auto_deleveraged",
                "reduce_only",
                "position_closed",
                "reduce_out",
                "stp",
            ),
            OrderStatus.CANCELED,
        ),
        "poc": OrderStatus.REJECTED,
    },
}
# Finishes that say a reduce-only order met the end of its position (futures).
REDUCE_FINISHES = frozenset({"reduce_only", "position_closed", "reduce_out"})
# ``status`` of an order without a ``finish_as`` (Gate: spot open/closed/cancelled; futures
# open/finished, where only ``finish_as`` tells how: a finished one without it is UNKNOWN).
_STATUS_ONLY = {
    "spot": {
        "open": OrderStatus.OPEN,
        "closed": OrderStatus.CLOSED,
        "cancelled": OrderStatus.CANCELED,
    },
    "futures": {"open": OrderStatus.OPEN},
}


def order_status(
    market: str, status: str | None, finish_as: str | None, filled: float
) -> OrderStatus:
    """The lifecycle status of a Gate order from its ``status`` and ``finish_as`` (``market``
    "spot" or "futures"). A ``poc`` finish that filled something is a cancel, not a rejection.
    Anything not in Gate's documented lists is ``UNKNOWN``."""
    table = FINISH_AS[market]
    how = (finish_as or "").lower()
    if how and how != "-":
        got = table.get(how, OrderStatus.UNKNOWN)
        if got is OrderStatus.OPEN and (status or "open").lower() != "open":
            return OrderStatus.UNKNOWN  # "open" finish of a finished order: contradictory
        if got is OrderStatus.REJECTED and filled > 0:
            return OrderStatus.CANCELED
        return got
    return _STATUS_ONLY[market].get((status or "").lower(), OrderStatus.UNKNOWN)
