"""Running the live agent (run_live) against gate-sim inside a test, and watching its state."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from adaptive_agent.runner.live import LiveOptions, run_live
from adaptive_agent.sim.gate_server import HUB


def query(db: Path, sql: str, args: tuple = ()) -> list[tuple]:
    """Read the agent's state database without disturbing it (read-only), and close it."""
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def last_bar(db: Path) -> int | None:
    """The agent's heartbeat: the close it last finished processing."""
    try:
        rows = query(db, "SELECT value FROM meta WHERE key='last_bar_ms'")
    except sqlite3.OperationalError:
        return None
    return int(rows[0][0]) if rows else None


def start_live(sim, cfg, db: Path, **options) -> tuple[asyncio.Task, asyncio.Event]:
    """The live agent on this loop, pointed at the simulator (REST, websockets, Binance)."""
    stop = asyncio.Event()
    opts = LiveOptions(
        state_path=db,
        gate_url=sim.url,
        binance_url=sim.url,
        set_dual_mode=True,
        backfill_days=1,
        **options,
    )
    return asyncio.create_task(run_live(cfg, opts, stop)), stop


async def stop_live(task: asyncio.Task, stop: asyncio.Event) -> int:
    stop.set()
    return await asyncio.wait_for(task, 30)


async def wait_subscribed(sim, task: asyncio.Task, timeout_s: float = 30.0) -> None:
    """The agent listens to the reference stream once its start-up is done."""
    hub = sim.app[HUB]
    for _ in range(int(timeout_s / 0.01)):
        if task.done():
            raise AssertionError(f"agent stopped during start-up: {task.exception()!r}")
        if any("btcusdt@kline_5m" in c.subs for c in hub.conns):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("agent never subscribed to the kline stream")


async def wait_last_bar(db: Path, want: int, task: asyncio.Task, timeout_s: float = 15.0) -> None:
    """Until the agent has finished processing the close at ``want``."""
    for _ in range(int(timeout_s / 0.01)):
        if task.done():
            raise AssertionError(f"agent stopped early: {task.exception()!r}")
        if last_bar(db) == want:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"agent did not decide at {want}")
