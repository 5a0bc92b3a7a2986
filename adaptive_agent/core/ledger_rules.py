"""Pure rules of the fee and funding ledger: what a fill cost in USDT, how a funding line is
keyed, and when the funding book is due to be read (docs/rules.md, "Fees and funding as paid").

No I/O and no clock: values in, values out.
"""

from __future__ import annotations

from dataclasses import dataclass

from .time_rules import next_funding_ms

QUOTE = "USDT"
BASE = "BTC"  # the base of BTC_USDT: a spot buy's fee is charged in it (at the fill's price)
GT = "GT"  # Gate's GT token; fees it pays are priced at GT_USDT
# After a funding instant the book is read at each close up to this long after it (Gate
# writes the line shortly after the instant; a second read catches one that lagged).
FUNDING_READ_LAG_MS = 10 * 60_000
# Each read starts this far before the newest record already stored: a record written late
# with an older time is still seen; duplicates are dropped by key.
REREAD_OVERLAP_MS = 10 * 60_000


@dataclass(frozen=True, slots=True)
class FeeParts:
    """A fill's fee as the venue reports it: ``fee`` in ``currency``, plus what GT and points
    paid instead (Gate ``my_trades``: ``fee``, ``fee_currency``, ``gt_fee``, ``point_fee``)."""

    fee: float
    currency: str
    price: float  # the fill's price (USDT per BTC)
    gt_fee: float = 0.0
    point_fee: float = 0.0
    gt_usdt: float | None = None  # GT_USDT price, None when unavailable


def fee_usdt(p: FeeParts) -> float | None:
    """The fee in USDT at the fill, or None when part of it cannot be priced.

    USDT counts as is; BTC at the fill's own price; GT at ``gt_usdt``. Gate's docs do not say
    whether a GT-paid fee appears in ``fee`` (with ``fee_currency`` GT) or in ``gt_fee`` (with
    ``fee`` 0), so both are read and a ``gt_fee`` equal to a GT ``fee`` is counted once. Points
    (``point_fee``) have no documented USDT value: such a fill is unpriced (None), never 0.
    """
    cur = p.currency.upper()
    if cur == QUOTE:
        total = p.fee
    elif cur == BASE:
        total = p.fee * p.price
    elif cur == GT or p.fee == 0:
        total = 0.0  # a GT fee is counted below, once
    else:
        return None
    gt = max(p.fee, p.gt_fee) if cur == GT else p.gt_fee
    if gt:
        if p.gt_usdt is None:
            return None
        total += gt * p.gt_usdt
    if p.point_fee:
        return None
    return abs(total)


def funding_key(book_id: str | None, time_ms: int, change: float, balance: float) -> str:
    """A funding line's identity: Gate's account-book ``id`` (the SDK's FuturesAccountBook
    carries one), else its time, change and balance after it, which no two lines share."""
    if book_id:
        return str(book_id)
    return f"t{int(time_ms)}:{change!r}:{balance!r}"


def funding_read_due(
    last_read_ms: int | None,
    now_ms: int,
    hours_utc: tuple[int, ...],
    lag_ms: int = FUNDING_READ_LAG_MS,
) -> bool:
    """Read the funding book now? Always on the first close (a restart catches up), then at
    each close less than ``lag_ms`` after a funding instant."""
    if last_read_ms is None:
        return True
    # an instant in (last - lag, now]: the first one after ``last - lag`` is not later than now
    return next_funding_ms(last_read_ms - lag_ms, hours_utc) <= now_ms


def read_since(newest_ms: int | None, start_ms: int, overlap_ms: int = REREAD_OVERLAP_MS) -> int:
    """Where the next read starts: ``overlap_ms`` before the newest record stored, never before
    the ledger's own start (records before it belong to no run of this agent)."""
    if newest_ms is None:
        return start_ms
    return max(start_ms, newest_ms - overlap_ms)
