"""Kill the live agent with SIGKILL at random points of rebalances, restart it, check the venue.

Shared by tests/test_crash_safety.py (>= 20 trials) and bench/crash_trials.py (more). The agent
is a real ``adaptive-agent live`` process talking to the Gate-protocol simulator on loopback;
the simulator keeps the truth (its order history), the agent keeps its SQLite state.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from adaptive_agent.sim.faults import Faults
from adaptive_agent.sim.gate_server import HUB
from adaptive_agent.sim.runner import running_sim
from tests.support.live_harness import last_bar, query

KEY, SECRET = "crash-key", "crash-secret-0123456789abcdef"
AGENT_ENV = {
    "GATE_API_KEY": KEY,
    "GATE_API_SECRET": SECRET,
    # rebalance at (almost) every close, all four futures order types in play
    "ADAPTIVE_AGENT__STRATEGY__TARGETS__BTC_SPOT": "0.3",
    "ADAPTIVE_AGENT__STRATEGY__TARGETS__BTC_PERP_LONG": "0.2",
    "ADAPTIVE_AGENT__STRATEGY__TARGETS__BTC_PERP_SHORT": "0.5",
    "ADAPTIVE_AGENT__STRATEGY__THRESHOLD_FLOOR": "0.0002",
    "ADAPTIVE_AGENT__STRATEGY__ATR_MULTIPLIER": "0",
    "ADAPTIVE_AGENT__STRATEGY__MIN_REBALANCE_INTERVAL_MINUTES": "0",
    "ADAPTIVE_AGENT__EXECUTION__POST_ONLY_TIMEOUT_S": "0.2",
}


@dataclass
class TrialLog:
    kill_after_s: list[float] = field(default_factory=list)
    venue_orders: int = 0
    store_orders: int = 0
    interrupted: int = 0
    decisions_after_restart: int = 0


def _store(db: Path) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return {
            cid: (status, rid)
            for cid, status, rid in c.execute("SELECT client_id, status, rebalance_id FROM orders")
        }


def events(db: Path, *kinds: str) -> list[tuple[str, str]]:
    q = f"SELECT kind, detail FROM events WHERE kind IN ({', '.join('?' * len(kinds))})"
    return [(str(k), str(d)) for k, d in query(db, q, kinds)]


def venue_texts(market) -> list[str]:
    return [
        o.text for m in ("spot", "futures") for o in market.order_history(m) + market.open_orders(m)
    ]


def check_invariants(market, db: Path) -> None:
    texts = venue_texts(market)
    dup = [t for t, k in Counter(texts).items() if k > 1]
    assert not dup, f"two orders share a client id: {dup}"
    known = _store(db)
    unknown = [t for t in texts if t not in known]
    assert not unknown, f"orders at the venue the state store does not know: {unknown}"


async def start_agent(db: Path, url: str, log: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, **AGENT_ENV}
    fh = log.open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "adaptive_agent",
            "live",
            "--state",
            str(db),
            "--gate-url",
            url,
            "--binance-url",
            url,
            "--set-dual-mode",
            stdout=fh,
            stderr=fh,
            env=env,
        )
    finally:
        fh.close()


async def wait_for(pred, timeout_s: float, what: str, proc=None) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if pred():
            return
        if proc is not None and proc.returncode is not None:
            raise AssertionError(f"agent exited ({proc.returncode}) while waiting for {what}")
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def run_trials(
    candles, tmp: Path, trials: int, seed: int, kill_window_s: float = 0.9
) -> TrialLog:
    rng = random.Random(seed)
    db, log = tmp / "live.sqlite", tmp / "agent.log"
    out = TrialLog()
    faults = Faults(latency_ms=25.0)
    async with running_sim(candles, KEY, SECRET, usdt=100_000.0, faults=faults) as sim:
        hub = sim.app[HUB]

        def subscribed_new(old: set) -> bool:
            # `old` holds the connection objects themselves: a dead one's id() could be reused
            return any("btcusdt@kline_5m" in c.subs and c not in old for c in hub.conns)

        proc = await start_agent(db, sim.url, log)
        await wait_for(lambda: subscribed_new(set()), 60, "the agent to subscribe", proc)
        for _ in range(trials):
            old = set(hub.conns)
            sim.market.advance()  # a close: the agent decides and (nearly always) rebalances
            delay = rng.uniform(0.0, kill_window_s)
            out.kill_after_s.append(delay)
            await asyncio.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            check_invariants(sim.market, db)  # nothing doubled, nothing unknown, even mid-way
            proc = await start_agent(db, sim.url, log)
            await wait_for(lambda old=old: subscribed_new(old), 60, "restart", proc)
            check_invariants(sim.market, db)  # after reconciliation too
            # Reconciliation closed every order it found open; the store agrees with the venue.
            open_at_venue = {o.text for m in ("spot", "futures") for o in sim.market.open_orders(m)}
            assert not open_at_venue, f"orders left open after reconciliation: {open_at_venue}"
            stuck = {c for c, (st, _) in _store(db).items() if st in ("intent", "open")}
            assert not stuck, f"orders still unresolved in the store: {stuck}"
            # A crash is not a lost state: the restarted agent finds the book it expects.
            lost = events(db, "venue_state_mismatch", "venue_state_unknown")
            assert not lost, f"a crash was taken for a lost state: {lost}"
        # Trading resumes: the restarted agent decides at the next close.
        sim.market.advance()
        want = sim.market.now_ms
        await wait_for(lambda: last_bar(db) == want, 30, "a decision after the last restart", proc)
        out.decisions_after_restart = 1
        proc.send_signal(signal.SIGTERM)
        rc = await asyncio.wait_for(proc.wait(), 30)
        assert rc == 0, f"SIGTERM should exit 0, got {rc}"
        check_invariants(sim.market, db)
        out.venue_orders = len(venue_texts(sim.market))
        store = _store(db)
        out.store_orders = len(store)
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
            out.interrupted = c.execute(
                "SELECT COUNT(*) FROM rebalances WHERE status='interrupted'"
            ).fetchone()[0]
    return out


LOST_STATES = ("truncated", "older_copy", "wal_deleted")


@dataclass
class LostStateLog:
    alerts: list[tuple[str, str]]
    venue_orders_before: int
    venue_orders_after: int
    closes_after: int


async def run_lost_state_trial(candles, tmp: Path, how: str, closes: int = 3) -> LostStateLog:
    """Trade a few closes, stop the agent, lose part of its state (``how``: the file truncated
    to 0 bytes, an older copy restored, or the WAL deleted after a SIGKILL), restart it and let
    it see ``closes`` more closes. The venue keeps the truth."""
    if how not in LOST_STATES:
        raise ValueError(how)
    db, log = tmp / "live.sqlite", tmp / "agent.log"
    async with running_sim(candles, KEY, SECRET, usdt=100_000.0) as sim:
        hub = sim.app[HUB]

        def subscribed_new(old: set) -> bool:
            return any("btcusdt@kline_5m" in c.subs and c not in old for c in hub.conns)

        async def trade(proc, n: int) -> None:
            for _ in range(n):
                sim.market.advance()
                want = sim.market.now_ms
                await wait_for(
                    lambda w=want: last_bar(db) == w,
                    30,
                    f"a decision at {want} ({last_bar(db)})",
                    proc,
                )

        procs = []
        try:
            proc = await start_agent(db, sim.url, log)
            procs.append(proc)
            await wait_for(lambda: subscribed_new(set()), 60, "the agent to subscribe", proc)
            await trade(proc, 3)
            copy = tmp / "older.sqlite"
            src, dst = sqlite3.connect(f"file:{db}?mode=ro", uri=True), sqlite3.connect(copy)
            try:
                src.backup(dst)  # a consistent copy, as a backup tool makes it
            finally:  # closed now: a connection left open would hold the replaced file's locks
                src.close()
                dst.close()
            await trade(proc, 3)
            proc.send_signal(signal.SIGKILL if how == "wal_deleted" else signal.SIGTERM)
            await proc.wait()
            for suffix in ("-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            if how == "truncated":
                db.write_bytes(b"")
            elif how == "older_copy":
                db.write_bytes(copy.read_bytes())
            before = len(venue_texts(sim.market))
            old = set(hub.conns)
            proc = await start_agent(db, sim.url, log)
            procs.append(proc)
            await wait_for(lambda: subscribed_new(old), 60, "restart", proc)
            await trade(proc, closes)
            after = len(venue_texts(sim.market))
            proc.send_signal(signal.SIGTERM)
            rc = await asyncio.wait_for(proc.wait(), 30)
            assert rc == 0, f"SIGTERM should exit 0, got {rc}"
            return LostStateLog(
                events(db, "venue_state_mismatch", "venue_state_unknown"), before, after, closes
            )
        finally:  # an assertion above must not leave an agent running
            for p in procs:
                if p.returncode is None:
                    p.kill()
                    await p.wait()


@dataclass
class ErrorRateLog:
    closes: int
    decided: int  # closes whose heartbeat the agent wrote
    rebalances: int
    server_errors: int  # signed calls the simulator refused


async def run_error_rate_trial(candles, tmp: Path, closes: int, error_rate: float) -> ErrorRateLog:
    """The live agent against a venue that answers ``error_rate`` of its signed calls with a
    server error, for ``closes`` closes: it must still be running (and deciding) at the end."""
    db, log = tmp / "live.sqlite", tmp / "agent.log"
    faults = Faults(error_rate=error_rate, seed=7)
    refused: list[int] = []
    draw = faults.fail_now

    def counted() -> bool:
        fail = draw()
        if fail:
            refused.append(1)
        return fail

    faults.fail_now = counted  # type: ignore[method-assign]
    async with running_sim(candles, KEY, SECRET, usdt=100_000.0, faults=faults) as sim:
        hub = sim.app[HUB]
        proc = await start_agent(db, sim.url, log)
        try:
            await wait_for(
                lambda: any("btcusdt@kline_5m" in c.subs for c in hub.conns),
                60,
                "the agent to subscribe",
                proc,
            )
            decided = 0
            for _ in range(closes):
                sim.market.advance()
                want = sim.market.now_ms
                await wait_for(lambda w=want: last_bar(db) == w, 30, f"a decision at {want}", proc)
                decided += 1
            assert proc.returncode is None, "the agent exited under venue errors"
            proc.send_signal(signal.SIGTERM)
            rc = await asyncio.wait_for(proc.wait(), 30)
            assert rc == 0, f"SIGTERM should exit 0, got {rc}"
            (rebalances,) = query(db, "SELECT COUNT(*) FROM rebalances")[0]
            return ErrorRateLog(closes, decided, int(rebalances), len(refused))
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


# --- transfers (accounts and wallets, issue 8) ------------------------------------------------


@dataclass
class TransferTrialLog:
    killed_before_send: int = 0  # recorded, never reached the venue
    killed_after_send: int = 0  # the venue moved it, the answer never came back
    transfers_at_venue: int = 0  # the agent's, in the simulator's records
    transfers_in_store: int = 0
    failed_in_store: int = 0
    bars: int = 0


def _transfers(db: Path) -> dict[str, tuple[str, str, float, str | None]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        rows = c.execute("SELECT client_id, status, to_wallet, amount, book_id FROM transfers")
        return {cid: (st, to, amt, book) for cid, st, to, amt, book in rows}


def check_transfers(market, db: Path, foreign: set[str]) -> tuple[int, int]:
    """No transfer doubled or lost: the store's done transfers are exactly the agent's ones at
    the venue (same direction and amount, oldest first), and none is left unsettled."""
    store = _transfers(db)
    stuck = {c for c, (st, *_) in store.items() if st in ("intent", "unknown")}
    assert not stuck, f"transfers still unsettled in the store: {stuck}"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        done = c.execute(
            "SELECT to_wallet, amount FROM transfers WHERE status='done'"
            " ORDER BY created_ms, client_id"
        ).fetchall()
    venue = [(r.to_account, r.amount) for r in market.wallets.records if r.tx_id not in foreign]
    assert [tuple(d) for d in done] == venue, f"store {done} != venue {venue}"
    return len(venue), sum(1 for st, *_ in store.values() if st == "failed")


async def run_transfer_trials(candles, tmp: Path, trials: int, seed: int) -> TransferTrialLog:
    """Kill the agent while a transfer of its own is in flight, ``trials`` times: the request
    is held at the simulator, the agent is SIGKILLed, then the request is dropped unapplied
    (a kill between the transfer's record and its send) or applied (a kill after the send),
    alternately. Before each trial the futures wallet's free USDT is taken out by a foreign
    transfer (the user, in Gate's web UI), so that the agent has to fund it again."""
    rng = random.Random(seed)
    db, log = tmp / "transfers.sqlite", tmp / "agent-transfers.log"
    out = TransferTrialLog()
    foreign: set[str] = set()
    async with running_sim(
        candles, KEY, SECRET, spot_usdt=100_000.0, futures_usdt=0.0, faults=Faults()
    ) as sim:
        m, hub = sim.market, sim.app[HUB]
        loop = asyncio.get_running_loop()
        armed = {"on": False}
        held = asyncio.Event()
        verdict: asyncio.Future[bool] = loop.create_future()

        async def hold() -> bool:
            if not armed["on"]:
                return True
            armed["on"] = False
            held.set()
            return await verdict

        m.wallets.hold = hold

        def subscribed_new(old: set) -> bool:
            return any("btcusdt@kline_5m" in c.subs and c not in old for c in hub.conns)

        proc = await start_agent(db, sim.url, log)
        await wait_for(lambda: subscribed_new(set()), 60, "the agent to subscribe", proc)
        for i in range(trials):
            free = m.futures_account()["available"] - rng.uniform(0.5, 5.0)
            if free > 1:  # a foreign, odd amount: it never looks like one of ours
                foreign.add(m.wallets.transfer("USDT", "futures", "spot", round(free, 3), "usdt",
                                               m.now_ms).tx_id)  # fmt: skip
            held.clear()
            verdict = loop.create_future()
            armed["on"] = True
            for _ in range(20):  # until a rebalance needs a transfer
                want = m.now_ms + 300_000
                m.advance()
                out.bars += 1
                done = asyncio.ensure_future(held.wait())
                while not done.done() and last_bar(db) != want:
                    await asyncio.sleep(0.02)
                if done.done() or held.is_set():
                    break
                done.cancel()
            assert held.is_set(), "no transfer in 20 closes"
            recorded = _transfers(db)
            assert any(st == "intent" for st, *_ in recorded.values()), "sent before recorded"
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            apply = i % 2 == 1
            verdict.set_result(apply)
            out.killed_after_send += apply
            out.killed_before_send += not apply
            await asyncio.sleep(0.05)  # the held request finishes at the venue
            old = set(hub.conns)
            proc = await start_agent(db, sim.url, log)
            await wait_for(lambda old=old: subscribed_new(old), 60, "restart", proc)
            check_transfers(m, db, foreign)
            check_invariants(m, db)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        out.transfers_at_venue, out.failed_in_store = check_transfers(m, db, foreign)
        out.transfers_in_store = len(_transfers(db))
    return out
