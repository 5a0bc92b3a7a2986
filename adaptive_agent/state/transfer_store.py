"""The state store's wallet transfers (``transfers`` table, schema in ``store.py``): each one
is recorded, and committed, before it is sent, like an order (docs/rules.md, Wallets)."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass

from ..core.wallet_plan import TransferStatus


@dataclass(frozen=True, slots=True)
class StoredTransfer:
    client_id: str
    created_ms: int
    to_wallet: str
    amount: float
    reason: str
    status: TransferStatus
    tx_id: str | None
    book_id: str | None
    error: str


_TRANSFER_SELECT = (
    "SELECT client_id, created_ms, to_wallet, amount, reason, status, tx_id, book_id, error"
    " FROM transfers"
)


def _stored_transfer(row: tuple) -> StoredTransfer:
    return StoredTransfer(*row[:5], TransferStatus(row[5]), *row[6:])


class TransferStoreMixin:
    """Methods of ``StateStore`` for the ``transfers`` table."""

    _db: sqlite3.Connection

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]: ...  # pragma: no cover

    def _update_row(self, *args: object) -> None: ...  # pragma: no cover - StateStore's

    def add_transfer(
        self, client_id: str, now_ms: int, to_wallet: str, amount: float, reason: str
    ) -> None:
        """Record a transfer's intent, committed before it is sent (like an order's)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO transfers(client_id, created_ms, to_wallet, amount, reason, status,"
                " updated_ms) VALUES(?, ?, ?, ?, ?, ?, ?)",
                (client_id, now_ms, to_wallet, amount, reason, TransferStatus.INTENT, now_ms),
            )

    def update_transfer(self, client_id: str, now_ms: int, **fields: object) -> None:
        allowed = {"status", "tx_id", "book_id", "error"}
        self._update_row("transfers", TransferStatus, allowed, client_id, now_ms, fields)

    def transfer(self, client_id: str) -> StoredTransfer | None:
        row = self._db.execute(_TRANSFER_SELECT + " WHERE client_id = ?", (client_id,)).fetchone()
        return None if row is None else _stored_transfer(row)

    def transfers(
        self, statuses: tuple[TransferStatus, ...] = (), since_ms: int | None = None
    ) -> list[StoredTransfer]:
        """Oldest first; optionally only these statuses, or created at or after ``since_ms``."""
        q, clauses, args = _TRANSFER_SELECT, [], []  # type: ignore[var-annotated]
        if statuses:
            clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
            args.extend(statuses)
        if since_ms is not None:
            clauses.append("created_ms >= ?")
            args.append(since_ms)
        if clauses:
            q += " WHERE " + " AND ".join(clauses)
        rows = self._db.execute(q + " ORDER BY created_ms, client_id", args)
        return [_stored_transfer(r) for r in rows]
