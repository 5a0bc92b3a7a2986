"""The state store's history tables: events, signals, bar snapshots and trade records
(``events``, ``signals``, ``bars``, ``trades`` in ``store._SCHEMA``), mixed into ``StateStore``
for the digest, the audit, ``status`` and the dashboards."""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager

import numpy as np

from ..records import BarSnapshot, TradeRecord

# The bars table holds one column per BarSnapshot field (schema version 2; version 1 kept each
# snapshot as a JSON text, which the daily audit decoded 8,640 times a day in a replay). The
# two text tuples are stored as JSON lists, '' when empty (the usual case).
BAR_COLUMNS = tuple(BarSnapshot.__dataclass_fields__)
_TUPLE_COLUMNS = frozenset({"safe_mode_reasons", "safe_mode_codes"})
_TEXT_COLUMNS = _TUPLE_COLUMNS | {"signal"}
_TUPLE_AT = tuple(i for i, c in enumerate(BAR_COLUMNS) if c in _TUPLE_COLUMNS)
_SAFE_AT = BAR_COLUMNS.index("safe_mode")
_BAR_INSERT = (
    f"INSERT OR REPLACE INTO bars({', '.join(BAR_COLUMNS)})"
    f" VALUES({', '.join('?' * len(BAR_COLUMNS))})"
)
BARS_TABLE = """
CREATE TABLE IF NOT EXISTS bars (          -- one BarSnapshot per 5-minute close
    time_ms INTEGER PRIMARY KEY, nav REAL NOT NULL, price_ref REAL NOT NULL,
    basis REAL NOT NULL, w_spot REAL NOT NULL, w_long REAL NOT NULL, w_short REAL NOT NULL,
    delta_usdt REAL NOT NULL, delta_frac REAL NOT NULL, margin_frac REAL NOT NULL,
    safe_mode INTEGER NOT NULL, safe_mode_reasons TEXT NOT NULL, safe_mode_codes TEXT NOT NULL,
    signal TEXT NOT NULL, funding_rate REAL, sharpe_30d REAL,
    spot_btc REAL, long_btc REAL, short_btc REAL, p_spot REAL, p_perp REAL,
    ref_open REAL, ref_high REAL, ref_low REAL
);
"""


def _bar_row(bar: BarSnapshot) -> tuple:
    row = [getattr(bar, c) for c in BAR_COLUMNS]
    for i in _TUPLE_AT:
        row[i] = json.dumps(list(row[i])) if row[i] else ""
    row[_SAFE_AT] = int(bool(row[_SAFE_AT]))
    return tuple(row)


def _bar_of(row: tuple) -> BarSnapshot:
    vals = list(row)
    for i in _TUPLE_AT:
        vals[i] = tuple(json.loads(vals[i])) if vals[i] else ()
    vals[_SAFE_AT] = bool(vals[_SAFE_AT])
    return BarSnapshot(*vals)


def _numeric(columns: tuple[str, ...]) -> tuple[str, ...]:
    """``columns`` if each is a numeric bar column (they are put into SQL as names)."""
    bad = [c for c in columns if c not in BAR_COLUMNS or c in _TEXT_COLUMNS]
    if bad or not columns:
        raise ValueError(f"not a numeric bar column: {bad or columns}")
    return columns


def migrate_bars_v1(db: sqlite3.Connection) -> int:
    """Schema 1 -> 2: the JSON snapshots of ``bars`` become columns, inside the caller's
    transaction; returns the number of bars moved."""
    db.execute("ALTER TABLE bars RENAME TO bars_v1")
    db.execute(BARS_TABLE)
    moved = 0
    for (raw,) in db.execute("SELECT snapshot FROM bars_v1 ORDER BY time_ms").fetchall():
        d = json.loads(raw)
        d["safe_mode_reasons"] = tuple(d.get("safe_mode_reasons", ()))
        d["safe_mode_codes"] = tuple(d.get("safe_mode_codes", ()))
        db.execute(_BAR_INSERT, _bar_row(BarSnapshot(**d)))
        moved += 1
    db.execute("DROP TABLE bars_v1")
    return moved


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
        with self._tx() as db:
            db.execute(_BAR_INSERT, _bar_row(bar))

    def bars(self, start_ms: int, end_ms: int) -> list[BarSnapshot]:
        """Snapshots with start_ms <= time < end_ms, in time order."""
        rows = self._db.execute(
            f"SELECT {', '.join(BAR_COLUMNS)} FROM bars WHERE time_ms >= ? AND time_ms < ?"
            " ORDER BY time_ms",
            (start_ms, end_ms),
        )
        return [_bar_of(r) for r in rows]

    def bar_values(self, start_ms: int, end_ms: int, *columns: str) -> list[tuple]:
        """Some columns of the snapshots with start_ms <= time < end_ms, in time order: what
        the daily audit reads over its 30-day window (two numbers a bar, not whole snapshots)."""
        rows = self._db.execute(
            f"SELECT {', '.join(_numeric(columns))} FROM bars WHERE time_ms >= ? AND time_ms < ?"
            " ORDER BY time_ms",
            (start_ms, end_ms),
        )
        return rows.fetchall()

    def bar_values_at(self, times: list[int], *columns: str) -> dict[int, tuple]:
        """Some columns of the snapshots at the given close times (the decision prices of a
        window's trades), by time; times without a snapshot are absent."""
        cols = ", ".join(_numeric(columns))
        out: dict[int, tuple] = {}
        wanted = sorted(set(times))
        for i in range(0, len(wanted), 500):  # well under SQLite's bound variables limit
            chunk = wanted[i : i + 500]
            q = f"SELECT time_ms, {cols} FROM bars WHERE time_ms IN ({', '.join('?' * len(chunk))})"
            out.update((int(r[0]), tuple(r[1:])) for r in self._db.execute(q, chunk))
        return out

    def bar_arrays(self, *columns: str) -> dict[str, np.ndarray]:
        """Numeric columns of every snapshot, in time order, as float64 arrays (read in
        chunks: a replay's 300,000 bars never exist as Python tuples at once)."""
        n = int(self._db.execute("SELECT COUNT(*) FROM bars").fetchone()[0])
        out = np.empty((len(columns), n), dtype=np.float64)
        cur = self._db.execute(f"SELECT {', '.join(_numeric(columns))} FROM bars ORDER BY time_ms")
        i = 0
        while rows := cur.fetchmany(10_000):
            out[:, i : i + len(rows)] = np.array(rows, dtype=np.float64).T
            i += len(rows)
        return dict(zip(columns, out[:, :i], strict=True))

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

    def has_trade(self, client_id: str, liquidity: str) -> bool:
        q = "SELECT 1 FROM trades WHERE client_id = ? AND liquidity = ?"
        return self._db.execute(q, (client_id, liquidity)).fetchone() is not None

    def trades(self, start_ms: int, end_ms: int) -> list[TradeRecord]:
        rows = self._db.execute(
            "SELECT record FROM trades WHERE time_ms >= ? AND time_ms < ?"
            " ORDER BY time_ms, client_id",
            (start_ms, end_ms),
        )
        return [TradeRecord(**json.loads(r[0])) for r in rows]
