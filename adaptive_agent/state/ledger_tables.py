"""The state store's ledger tables: fills and funding payments as the venue charged them
(``fills``, ``funding_payments`` in ``store._SCHEMA``), mixed into ``StateStore``.

Each row is keyed by the venue's identity (market and trade id; the funding line's key), so a
re-read after a restart inserts nothing twice; the newest stored time is where the next read
starts (``core.ledger_rules.read_since``): the cursor is the data itself, committed with it.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager

from ..records import FillRecord, FundingRecord

LEDGER_TABLES = ("fills", "funding_payments")
_FILL_FIELDS = tuple(FillRecord.__dataclass_fields__)  # in the fills table's column order
_FUNDING_FIELDS = tuple(FundingRecord.__dataclass_fields__)


class LedgerTables:
    """Methods over ``StateStore``'s connection (``_db``) and transactions (``_tx``)."""

    _db: sqlite3.Connection

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:  # pragma: no cover
        raise NotImplementedError

    def add_fills(self, fills: list[FillRecord]) -> list[FillRecord]:
        """Insert fills not yet known (by market and trade id); returns the new ones."""
        return self._insert_new(
            f"INSERT OR IGNORE INTO fills VALUES({', '.join('?' * len(_FILL_FIELDS))})",
            fills,
            _FILL_FIELDS,
        )

    def _insert_new(self, sql: str, records: list, fields: tuple[str, ...]) -> list:
        new = []
        with self._tx() as db:
            for r in records:
                if db.execute(sql, tuple(getattr(r, k) for k in fields)).rowcount == 1:
                    new.append(r)
        return new

    def fills(self, start_ms: int, end_ms: int) -> list[FillRecord]:
        """Fills with start_ms <= time < end_ms, in time order."""
        rows = self._db.execute(
            f"SELECT {', '.join(_FILL_FIELDS)} FROM fills WHERE time_ms >= ? AND time_ms < ?"
            " ORDER BY time_ms, market, trade_id",
            (start_ms, end_ms),
        )
        return [FillRecord(*r) for r in rows]

    def fill_fees(self, client_ids: list[str]) -> dict[str, float | None]:
        """USDT fees of the fills of these orders, by client id (None: one is unpriced)."""
        out: dict[str, float | None] = {}
        q = "SELECT client_id, fee_usdt FROM fills WHERE client_id = ?"
        for cid in client_ids:
            for _, fee in self._db.execute(q, (cid,)):
                prev = out.get(cid, 0.0)
                out[cid] = None if prev is None or fee is None else prev + fee
        return out

    def newest_fill_ms(self, market: str) -> int | None:
        row = self._db.execute("SELECT MAX(time_ms) FROM fills WHERE market = ?", (market,))
        value = row.fetchone()[0]
        return None if value is None else int(value)

    def add_funding(self, payments: list[FundingRecord]) -> list[FundingRecord]:
        """Insert funding lines not yet known (by key); returns the new ones."""
        return self._insert_new(
            "INSERT OR IGNORE INTO funding_payments VALUES(?, ?, ?, ?, ?, ?)",
            payments,
            _FUNDING_FIELDS,
        )

    def funding_payments(self, start_ms: int, end_ms: int) -> list[FundingRecord]:
        rows = self._db.execute(
            f"SELECT {', '.join(_FUNDING_FIELDS)} FROM funding_payments"
            " WHERE time_ms >= ? AND time_ms < ? ORDER BY time_ms, key",
            (start_ms, end_ms),
        )
        return [FundingRecord(*r) for r in rows]

    def newest_funding_ms(self) -> int | None:
        value = self._db.execute("SELECT MAX(time_ms) FROM funding_payments").fetchone()[0]
        return None if value is None else int(value)
