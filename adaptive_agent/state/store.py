"""Durable agent state in SQLite (WAL, synchronous=FULL): nothing is lost on a crash.

The one rule that keeps orders from doubling: an order's client id is written here, and
committed, *before* the request leaves the process. After a crash every order the venue could
possibly know is therefore known here too, and reconciliation can look each one up by id.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..core.model import EngineState
from ..lifecycle import OrderStatus, RebalanceStatus
from .history_tables import BARS_TABLE, HistoryTables, migrate_bars_v1
from .ledger_tables import LEDGER_TABLES, LedgerTables
from .transfer_store import TransferStoreMixin

SCHEMA_VERSION = 2  # 2: bars in columns (history_tables.BARS_TABLE)

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rebalances (
    id TEXT PRIMARY KEY,
    decision_ms INTEGER NOT NULL,
    status TEXT NOT NULL,            -- executing | done | interrupted
    plan TEXT NOT NULL,              -- JSON summary of the plan (orders, blocked, reasons)
    started_ms INTEGER NOT NULL,
    finished_ms INTEGER
);
CREATE TABLE IF NOT EXISTS orders (
    client_id TEXT PRIMARY KEY,
    rebalance_id TEXT NOT NULL REFERENCES rebalances(id),
    leg TEXT NOT NULL,
    order_type TEXT NOT NULL,
    market TEXT NOT NULL,
    phase TEXT NOT NULL,             -- post_only | market
    amount REAL NOT NULL,
    price REAL,
    cost REAL,
    status TEXT NOT NULL,  -- intent | open | closed | canceled | rejected | unknown
    filled REAL NOT NULL DEFAULT 0,
    avg_price REAL,
    fee REAL NOT NULL DEFAULT 0,
    exchange_id TEXT,
    error TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders(status);
CREATE INDEX IF NOT EXISTS rebalances_by_decision ON rebalances(decision_ms);
CREATE TABLE IF NOT EXISTS signals (
    time_ms INTEGER NOT NULL, signal TEXT NOT NULL, source TEXT NOT NULL, received_ms INTEGER
);
CREATE TABLE IF NOT EXISTS events (time_ms INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT);
CREATE TABLE IF NOT EXISTS trades (        -- one TradeRecord per fill
    time_ms INTEGER NOT NULL, client_id TEXT NOT NULL, liquidity TEXT NOT NULL,
    record TEXT NOT NULL, PRIMARY KEY (client_id, liquidity)
);
CREATE INDEX IF NOT EXISTS trades_by_time ON trades(time_ms);
CREATE TABLE IF NOT EXISTS transfers (     -- wallet transfers: recorded before they are sent
    client_id TEXT PRIMARY KEY,             -- ours, deterministic (Gate keeps no client id)
    created_ms INTEGER NOT NULL,
    to_wallet TEXT NOT NULL,                -- spot | futures
    amount REAL NOT NULL,                   -- USDT, whole cents
    reason TEXT NOT NULL,
    status TEXT NOT NULL,                   -- intent | unknown | done | failed
    tx_id TEXT,
    book_id TEXT,                           -- the futures account-book line that shows it
    error TEXT NOT NULL DEFAULT '',
    updated_ms INTEGER NOT NULL
);
-- ledger: one row per venue trade (FillRecord) and per funding line (FundingRecord); the
-- primary keys make a re-read idempotent
CREATE TABLE IF NOT EXISTS fills (
    market TEXT NOT NULL, trade_id TEXT NOT NULL, time_ms INTEGER NOT NULL,
    order_id TEXT NOT NULL, client_id TEXT NOT NULL, side TEXT NOT NULL, amount REAL NOT NULL,
    price REAL NOT NULL, role TEXT NOT NULL, fee REAL NOT NULL, fee_currency TEXT NOT NULL,
    gt_fee REAL NOT NULL, point_fee REAL NOT NULL,
    fee_usdt REAL,                   -- NULL: the fee could not be priced in USDT
    gt_usdt REAL,                    -- the GT_USDT price a GT-paid fee was priced at
    PRIMARY KEY (market, trade_id)
);
CREATE INDEX IF NOT EXISTS fills_by_time ON fills(time_ms);
CREATE INDEX IF NOT EXISTS fills_by_client ON fills(client_id);
CREATE INDEX IF NOT EXISTS fills_by_market_time ON fills(market, time_ms);
CREATE TABLE IF NOT EXISTS funding_payments (
    key TEXT PRIMARY KEY, time_ms INTEGER NOT NULL, change_usdt REAL NOT NULL,
    balance_usdt REAL NOT NULL, contract TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS funding_by_time ON funding_payments(time_ms);
"""
    + BARS_TABLE
)


@dataclass(frozen=True, slots=True)
class StoredOrder:
    client_id: str
    rebalance_id: str
    leg: str
    order_type: str
    market: str
    phase: str
    amount: float
    price: float | None
    cost: float | None
    status: OrderStatus
    filled: float
    avg_price: float | None
    fee: float
    exchange_id: str | None
    error: str


class StateError(Exception):
    """A state database that cannot be used as asked; the message names the path."""


class StateStore(HistoryTables, TransferStoreMixin, LedgerTables):  # see the mixins' modules
    """A thin, synchronous repository; every method commits before it returns."""

    def __init__(
        self, path: str | Path, durable: bool = True, *, create: bool = True, lock: bool = False
    ) -> None:
        """``durable=False`` (paper replays) skips the fsync per commit; live always syncs.

        ``create=False`` opens only an existing database of this program (commands that act on
        a running agent must never make a new, empty one: the agent would not see it).
        ``lock=True`` takes the single-instance lock: one agent per state file.
        """
        self.path = Path(path)
        self._lock_fh = None
        if not create:
            _check_existing(self.path)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if lock:
            self._lock_fh = _single_instance_lock(self.path)
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        try:
            # Recognise the file before changing anything in it (a foreign database stays as
            # it was: not even its journal mode is touched).
            if not create and self._get_meta_or_none("schema_version") is None:
                raise StateError(f"{self.path}: not a state database of adaptive-agent")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=OFF")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
        except (sqlite3.DatabaseError, StateError) as exc:
            self.close()
            if isinstance(exc, StateError):
                raise
            raise StateError(
                f"{self.path}: not a state database of adaptive-agent ({exc})"
            ) from None
        version = self.get_meta("schema_version")
        if version is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        elif version == "1":  # an agent's state from before bars had columns: moved in place
            with self._tx() as db:
                migrate_bars_v1(db)
                db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", ("2",))
        elif version != str(SCHEMA_VERSION):
            self.close()
            raise StateError(
                f"{self.path}: state schema {version}, this program reads {SCHEMA_VERSION}"
            )

    def _get_meta_or_none(self, key: str) -> str | None:
        try:
            return self.get_meta(key)
        except sqlite3.OperationalError:  # no meta table: not ours
            return None

    def close(self) -> None:
        self._db.close()
        if self._lock_fh is not None:
            self._lock_fh.close()  # releases the lock
            self._lock_fh = None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        if self._db.in_transaction:  # inside batch(): its one commit covers this write
            yield self._db
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Several writes in one transaction: all of them or none. Only for writes that go
        together with no venue call between them (an order intent must be committed before
        its request is sent, so ``execute()`` never runs inside a batch)."""
        if self._db.in_transaction:
            yield
            return
        with self._tx():
            yield

    # --- meta and engine state ---------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta(key, value) VALUES(?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def load_engine_state(self) -> EngineState | None:
        raw = self.get_meta("engine_state")
        if raw is None:
            return None
        d = json.loads(raw)
        return EngineState(
            d["last_rebalance_ms"], d["peak_nav"], d["last_breach_ms"], d["safe_mode"]
        )

    def save_engine_state(self, state: EngineState) -> None:
        self.set_meta("engine_state", json.dumps(state._asdict()))

    @property
    def manual_safe_mode(self) -> bool:
        """The kill switch. Fail closed: only a stored "off" (or never set) is off; any other
        stored value, unreadable or foreign, reads as on."""
        return self.get_meta("manual_safe_mode") not in (None, "off")

    def set_manual_safe_mode(self, on: bool, now_ms: int) -> None:
        self.set_meta("manual_safe_mode", "on" if on else "off")
        self.add_event(now_ms, "manual_safe_mode", "on" if on else "off")

    # --- rebalances and orders ---------------------------------------------------------------

    def begin_rebalance(
        self, rebalance_id: str, decision_ms: int, plan: dict, orders: list[dict], now_ms: int
    ) -> None:
        """Record a rebalance and the intent of each of its first-phase orders, atomically."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO rebalances(id, decision_ms, status, plan, started_ms)"
                " VALUES(?, ?, ?, ?, ?)",
                (rebalance_id, decision_ms, RebalanceStatus.EXECUTING, json.dumps(plan), now_ms),
            )
            self._insert_orders(db, rebalance_id, orders, now_ms)

    def add_orders(self, rebalance_id: str, orders: list[dict], now_ms: int) -> None:
        """Record intents (before sending) for a later phase of a rebalance."""
        with self._tx() as db:
            self._insert_orders(db, rebalance_id, orders, now_ms)

    @staticmethod
    def _insert_orders(db: sqlite3.Connection, rid: str, orders: list[dict], now_ms: int) -> None:
        db.executemany(
            "INSERT INTO orders(client_id, rebalance_id, leg, order_type, market, phase, amount,"
            " price, cost, status, created_ms, updated_ms)"
            " VALUES(:client_id, :rid, :leg, :order_type, :market, :phase, :amount, :price,"
            " :cost, :intent, :now, :now)",
            [
                {
                    **o,
                    "rid": rid,
                    "now": now_ms,
                    "cost": o.get("cost"),
                    "intent": OrderStatus.INTENT,
                }
                for o in orders
            ],
        )

    def update_order(self, client_id: str, now_ms: int, **fields: object) -> None:
        allowed = {"status", "filled", "avg_price", "fee", "exchange_id", "error"}
        # a status outside the lifecycle fails
        self._update_row("orders", OrderStatus, allowed, client_id, now_ms, fields)

    def _update_row(
        self, table: str, status: type, allowed: set[str], cid: str, now_ms: int, fields: dict
    ) -> None:
        """Update some ``allowed`` fields of one row of ``table`` (orders, transfers)."""
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"cannot update {bad}")
        if "status" in fields:
            fields["status"] = status(fields["status"])
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE {table} SET {sets}, updated_ms = :now WHERE client_id = :cid",
                {**fields, "now": now_ms, "cid": cid},
            )
            if cur.rowcount != 1:
                raise KeyError(f"unknown client id {cid}")

    def finish_rebalance(self, rebalance_id: str, status: str, now_ms: int) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE rebalances SET status = ?, finished_ms = ? WHERE id = ?",
                (status, now_ms, rebalance_id),
            )

    def order_fill_times(self, start_ms: int, end_ms: int) -> list[tuple[str, str, int, int]]:
        """(client id, phase, intent recorded, last update) of the orders with a fill whose
        rebalance was decided in ``[start_ms, end_ms)`` (the audit's window, not every order)."""
        q = (
            "SELECT client_id, phase, created_ms, updated_ms FROM orders WHERE filled > 0 AND"
            " rebalance_id IN (SELECT id FROM rebalances WHERE decision_ms >= ? AND"
            " decision_ms < ?) ORDER BY created_ms, client_id"
        )
        return [(r[0], r[1], int(r[2]), int(r[3])) for r in self._db.execute(q, (start_ms, end_ms))]

    def order(self, client_id: str) -> StoredOrder | None:
        row = self._db.execute(_ORDER_SELECT + " WHERE client_id = ?", (client_id,)).fetchone()
        return None if row is None else _stored(row)

    def orders(
        self, rebalance_id: str | None = None, statuses: tuple[OrderStatus, ...] = ()
    ) -> list[StoredOrder]:
        q, args = _ORDER_SELECT, []
        clauses = []
        if rebalance_id is not None:
            clauses.append("rebalance_id = ?")
            args.append(rebalance_id)
        if statuses:
            clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
            args.extend(statuses)
        if clauses:
            q += " WHERE " + " AND ".join(clauses)
        return [_stored(r) for r in self._db.execute(q + " ORDER BY created_ms, client_id", args)]

    def reset_trading_history(self) -> None:
        """Forget orders, rebalances, bars, trades, signals, events and the engine state; keep
        the schema and the manual kill switch (paper replays start over on a new venue)."""
        with self._tx() as db:
            for table in (
                "orders",
                "rebalances",
                "bars",
                "trades",
                "signals",
                "events",
                *LEDGER_TABLES,
            ):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM transfers")  # accounts and wallets (issue 8)
            db.execute("DELETE FROM meta WHERE key NOT IN ('schema_version', 'manual_safe_mode')")

    def rebalance_decision_ms(self, rebalance_id: str) -> int | None:
        q = "SELECT decision_ms FROM rebalances WHERE id = ?"
        row = self._db.execute(q, (rebalance_id,)).fetchone()
        return None if row is None else int(row[0])

    def has_rebalance(self, rebalance_id: str) -> bool:
        q = "SELECT 1 FROM rebalances WHERE id = ?"
        return self._db.execute(q, (rebalance_id,)).fetchone() is not None

    def unfinished_rebalances(self) -> list[str]:
        rows = self._db.execute(
            "SELECT id FROM rebalances WHERE status = ? ORDER BY decision_ms",
            (RebalanceStatus.EXECUTING,),
        )
        return [r[0] for r in rows]

    def rebalance_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM rebalances").fetchone()[0])

    def last_rebalance(self) -> tuple[str, int, str, int | None] | None:
        """(id, decision time, status, finished time) of the latest rebalance, if any."""
        row = self._db.execute(
            "SELECT id, decision_ms, status, finished_ms FROM rebalances"
            " ORDER BY decision_ms DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (row[0], int(row[1]), row[2], row[3])

    def orders_decided_since(self, decision_ms: int) -> list[StoredOrder]:
        """The orders of every rebalance decided at or after ``decision_ms`` (book checks)."""
        q = _ORDER_SELECT + (
            " WHERE rebalance_id IN (SELECT id FROM rebalances WHERE decision_ms >= ?)"
            " ORDER BY created_ms, client_id"
        )
        return [_stored(r) for r in self._db.execute(q, (decision_ms,))]

    def rebalance_ids(
        self, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[tuple[str, int, str]]:
        """(id, decision time, plan) of the rebalances decided in ``[start_ms, end_ms)`` (all
        when not given), oldest first. A daily report asks for its day only: the whole table
        grows with every rebalance, and reading it each day made the agent's memory grow."""
        lo = -(2**63) if start_ms is None else int(start_ms)
        hi = 2**63 - 1 if end_ms is None else int(end_ms)
        rows = self._db.execute(
            "SELECT id, decision_ms, plan FROM rebalances"
            " WHERE decision_ms >= ? AND decision_ms < ? ORDER BY decision_ms",
            (lo, hi),
        )
        return [(r[0], int(r[1]), r[2]) for r in rows]


_ORDER_SELECT = (
    "SELECT client_id, rebalance_id, leg, order_type, market, phase, amount, price, cost, status,"
    " filled, avg_price, fee, exchange_id, error FROM orders"
)


_INTENT = OrderStatus.INTENT


def _stored(row: tuple) -> StoredOrder:
    return StoredOrder(*row[:9], OrderStatus(row[9]), *row[10:])


def _check_existing(path: Path) -> None:
    if not path.exists():
        raise StateError(f"{path}: no such state database")
    if not path.is_file():
        raise StateError(f"{path}: not a file")


def _single_instance_lock(path: Path):
    """An exclusive, non-blocking lock on ``<state>.lock``; held while the store is open. The
    kernel drops it when the process dies, so a crash never leaves the file locked."""
    import fcntl
    import os

    fh = open(f"{path}.lock", "a+")  # noqa: SIM115 - held open for the store's lifetime
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise StateError(
            f"{path}: already in use by another agent (pid {holder}); one agent per state file"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh
