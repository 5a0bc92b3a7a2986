"""The state store's history tables: events, signals, bar snapshots and trade records
(``events``, ``signals``, ``bars``, ``trades`` in ``store._SCHEMA``), mixed into ``StateStore``
for the digest, the audit, ``status`` and the dashboards."""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager

from ..records import BarSnapshot, TradeRecord


class HistoryTables:
    """Methods over ``StateStore``'s connection (``_db``) and transactions (``_tx``)."""

    _db: sqlite3.Connection

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:  # pragma: no cover
        raise NotImplementedError

    def add_event(self, time_ms: int, kind: str, detail: str = "") -> None:
        with self._tx() as db:
            db.execute("INSERT INTO events VALUES(?, ?, ?)", (time_ms, kind, detail))

    def events(self, kind: str | None = None) -> list[tuple[int, str, str]]:
        q = "SELECT time_ms, kind, detail FROM events"
        rows = self._db.execute(
            q + (" WHERE kind = ?" if kind else "") + " ORDER BY rowid", (kind,) if kind else ()
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]

    def add_signal(self, time_ms: int, signal: str, source: str, received_ms: int) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO signals VALUES(?, ?, ?, ?)", (time_ms, signal, source, received_ms)
            )

    def add_bar(self, bar: BarSnapshot) -> None:
        d = {f: getattr(bar, f) for f in BarSnapshot.__dataclass_fields__}
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO bars VALUES(?, ?)", (bar.time_ms, json.dumps(d)))

    def bars(self, start_ms: int, end_ms: int) -> list[BarSnapshot]:
        """Snapshots with start_ms <= time < end_ms, in time order."""
        rows = self._db.execute(
            "SELECT snapshot FROM bars WHERE time_ms >= ? AND time_ms < ? ORDER BY time_ms",
            (start_ms, end_ms),
        )
        out = []
        for (raw,) in rows:
            d = json.loads(raw)
            d["safe_mode_reasons"] = tuple(d.get("safe_mode_reasons", ()))
            d["safe_mode_codes"] = tuple(d.get("safe_mode_codes", ()))
            out.append(BarSnapshot(**d))
        return out

    def add_trades(self, trades: list[TradeRecord]) -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO trades VALUES(?, ?, ?, ?)",
                [
                    (
                        t.time_ms,
                        t.client_id,
                        t.liquidity,
                        json.dumps({f: getattr(t, f) for f in TradeRecord.__dataclass_fields__}),
                    )
                    for t in trades
                ],
            )

    def trades(self, start_ms: int, end_ms: int) -> list[TradeRecord]:
        rows = self._db.execute(
            "SELECT record FROM trades WHERE time_ms >= ? AND time_ms < ?"
            " ORDER BY time_ms, client_id",
            (start_ms, end_ms),
        )
        return [TradeRecord(**json.loads(r[0])) for r in rows]
