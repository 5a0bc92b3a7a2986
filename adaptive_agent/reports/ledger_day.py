"""A span's fees and funding as the venue charged them, from the state store's ledger tables
(``fills``, ``funding_payments``; see ``runner/ledger.py``), for the digest and the audit.

A store without those tables (or a span before the ledger started) has no venue figures: the
digest then falls back on the fees of its trade records and the funding estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


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


def ledger_span(store: Any, start_ms: int, end_ms: int) -> LedgerSpan:
    """Fills and funding lines with ``start_ms <= time < end_ms`` (``digest.day_bounds``)."""
    if not hasattr(store, "fills"):
        return LedgerSpan()
    fills = store.fills(start_ms, end_ms)
    funding = store.funding_payments(start_ms, end_ms)
    return LedgerSpan(
        fills=len(fills),
        unpriced=sum(1 for f in fills if f.fee_usdt is None),
        fees=tuple(f.fee_usdt for f in fills if f.fee_usdt is not None),
        funding_payments=len(funding),
        funding_usdt=math.fsum(p.change_usdt for p in funding) if funding else None,
    )
