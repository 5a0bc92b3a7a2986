"""Does the venue hold the book the state database expects? (docs/rules.md, Safe mode).

At every close the agent stores the book it read from the venue (``LAST_BOOK_KEY``). At a start,
the book the store expects is that one plus the fills of every order decided since (the store
records each fill before the next close, and the reconcile has just settled interrupted
orders). A venue book that differs means the store lost part of its history (a deleted WAL, a
restored backup) or someone traded on the account: the agent does not know how the book got
there, so it starts in safe mode with an alert. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from ..core.model import BOOK_CHANGE, Book, OrderType
from ..state.store import StoredOrder

LAST_BOOK_KEY = "last_book"
SPOT_SLACK_LOTS = 2  # rounding of BTC amounts to lots
SPOT_FEE_SLACK = 0.005  # spot fees charged in BTC shrink a buy (Gate: fee in the coin received)


@dataclass(frozen=True, slots=True)
class KnownBook:
    """The venue's book as the agent last read it, at the close ``time_ms``."""

    time_ms: int
    spot_lots: int
    long_contracts: int
    short_contracts: int


def encode(time_ms: int, book: Book) -> str:
    return json.dumps(
        [time_ms, int(book.spot_lots), int(book.long_contracts), int(book.short_contracts)]
    )


def decode(text: str | None) -> KnownBook | None:
    """The stored book; None when there is none or it cannot be read (then nothing is checked
    here: an empty or unreadable history is ``Agent.check_venue_state``'s own case)."""
    if not text:
        return None
    try:
        t, spot, long_, short = json.loads(text)
        return KnownBook(int(t), int(spot), int(long_), int(short))
    except (ValueError, TypeError):
        return None


def mismatch(
    known: KnownBook, since: Iterable[StoredOrder], venue: Book, spot_lot: float
) -> str | None:
    """What differs between the venue's book and the one the store expects, or None."""
    spot = float(known.spot_lots)
    long_, short = known.long_contracts, known.short_contracts
    spot_traded = 0.0
    for o in since:
        ds, dl, dh = BOOK_CHANGE[OrderType(o.order_type)]
        if ds:
            spot += ds * o.filled / spot_lot
            spot_traded += o.filled / spot_lot
        long_ += dl * round(o.filled)
        short += dh * round(o.filled)
    slack = SPOT_SLACK_LOTS + SPOT_FEE_SLACK * spot_traded
    problems = []
    if abs(venue.spot_lots - spot) > slack:
        problems.append(f"spot {venue.spot_lots} lots (expected {spot:.0f})")
    if venue.long_contracts != long_:
        problems.append(f"long {venue.long_contracts} contracts (expected {long_})")
    if venue.short_contracts != short:
        problems.append(f"short {venue.short_contracts} contracts (expected {short})")
    return "; ".join(problems) or None


@dataclass(frozen=True, slots=True)
class VenueProblem:
    kind: str  # the alert kind: venue_state_unknown | venue_state_mismatch
    text: str


def venue_problem(
    known_history: bool,
    last: KnownBook | None,
    since: Iterable[StoredOrder],
    venue: Book,
    spot_lot: float,
) -> VenueProblem | None:
    """Why the venue's book cannot be trusted at a start, or None.

    No history in the store (new, emptied, truncated) while the venue holds something; or a
    history whose last read book plus the fills since is not what the venue holds.
    """
    holds = venue.spot_lots or venue.long_contracts or venue.short_contracts
    if not known_history:
        if not holds:
            return None
        return VenueProblem(
            "venue_state_unknown",
            f"the state database knows no history but the venue holds spot {venue.spot_lots}"
            f" lots, long {venue.long_contracts}, short {venue.short_contracts} contracts",
        )
    if last is None:
        return None
    differs = mismatch(last, since, venue, spot_lot)
    if differs is None:
        return None
    return VenueProblem(
        "venue_state_mismatch",
        f"the venue's book is not the one the state database expects: {differs}; part of the"
        " state may be lost (a deleted WAL, a restored backup) or the account was traded by hand",
    )
