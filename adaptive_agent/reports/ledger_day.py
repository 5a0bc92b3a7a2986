"""A span's fees and funding as the venue charged them, from the state store's ledger tables
(``fills``, ``funding_payments``; see ``runner/ledger.py``), for the digest and the audit.

A store without those tables (or a span before the ledger started) has no venue figures: the
digest then falls back on the fees of its trade records and the funding estimate.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..core.time_rules import DAY_MS


@dataclass(frozen=True, slots=True)
class LedgerSpan:
    fills: int = 0  # venue trades recorded in the span
    unpriced: int = 0  # of them, fees that could not be priced in USDT (left out of fees_usdt)
    fees: tuple[float, ...] = ()  # USDT fee of each priced fill
    funding_payments: int = 0
    funding_usdt: float | None = None  # sum of the funding lines (+ received); None: none

    @property
    def fees_usdt(self) -> float:
        return math.fsum(self.fees)


def day_spans(start_ms: int, end_ms: int) -> Iterator[tuple[int, int]]:
    """``[start_ms, end_ms)`` cut into spans of at most a day, in time order. A report over
    weeks reads its records one day at a time and keeps only the figures it needs: reading
    them all at once made a long-running agent's memory peak (and RSS) grow with its age."""
    lo = int(start_ms)
    while lo < end_ms:
        hi = min(lo + DAY_MS, int(end_ms))
        yield lo, hi
        lo = hi


def ledger_span(store: Any, start_ms: int, end_ms: int) -> LedgerSpan:
    """Fills and funding lines with ``start_ms <= time < end_ms`` (``digest.day_bounds``),
    read a day at a time (``day_spans``)."""
    if not hasattr(store, "fills"):
        return LedgerSpan()
    fills = unpriced = payments = 0
    fees: list[float] = []
    funding: list[float] = []
    for lo, hi in day_spans(start_ms, end_ms):
        day_fills = store.fills(lo, hi)
        fills += len(day_fills)
        unpriced += sum(1 for f in day_fills if f.fee_usdt is None)
        fees += [f.fee_usdt for f in day_fills if f.fee_usdt is not None]
        day_funding = store.funding_payments(lo, hi)
        payments += len(day_funding)
        funding += [p.change_usdt for p in day_funding]
    return LedgerSpan(
        fills=fills,
        unpriced=unpriced,
        fees=tuple(fees),
        funding_payments=payments,
        funding_usdt=math.fsum(funding) if funding else None,
    )
