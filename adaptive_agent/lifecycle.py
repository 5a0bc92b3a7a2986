"""The order lifecycle: one status enum for the port, the state store and the executor.

An order of ours is first an ``INTENT`` (committed to the store before the request is sent).
The venue's answer makes it ``OPEN`` (resting), or finished: ``CLOSED`` (filled, or an
IOC/market order that ended), ``CANCELED`` (possibly partly filled) or ``REJECTED`` (refused,
nothing filled). ``UNKNOWN`` means sent but its fate is not known: it must be looked up by its
client id, never re-sent; after ``MAX_LOOKUPS`` reconciles that could not find it, it is
``PARKED``: reported once and no longer looked up (a resting order would still show in the
venue's open-order list, which every reconcile reads). A rebalance is ``EXECUTING`` until it
is ``DONE``, or closed as ``INTERRUPTED`` by the reconcile after a crash.
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
    INTERRUPTED = "interrupted"
