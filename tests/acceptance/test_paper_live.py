"""``paper --live`` end to end: the live agent on gate-sim's PUBLIC endpoints, no keys.

The unmodified ccxt client reads Gate's public market data from gate-sim, the Binance feed
streams closes from the same simulator, and the account is simulated by the agent itself: the
simulator's own account must stay untouched and no request may carry a key or reach a private
route.
"""

from __future__ import annotations

import asyncio
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from adaptive_agent.config import load_config
from adaptive_agent.runner.live import LiveOptions
from adaptive_agent.runner.paper_live import run_paper_live
from adaptive_agent.sim.gate_server import HUB
from adaptive_agent.sim.runner import running_sim
from tests.support.live_harness import last_bar, query

SIM_KEY, SIM_SECRET = "sim-key-dry", "sim-secret-dry-0123456789"  # gate-sim's own, never ours
ENV = {  # rebalance-happy: a tight threshold, short intervals, a short post-only wait
    "ADAPTIVE_AGENT__STRATEGY__TARGETS__BTC_SPOT": "0.3",
    "ADAPTIVE_AGENT__STRATEGY__TARGETS__BTC_PERP_LONG": "0.2",
    "ADAPTIVE_AGENT__STRATEGY__TARGETS__BTC_PERP_SHORT": "0.5",
    "ADAPTIVE_AGENT__STRATEGY__MIN_REBALANCE_INTERVAL_MINUTES": "10",
    "ADAPTIVE_AGENT__STRATEGY__THRESHOLD_FLOOR": "0.001",
    "ADAPTIVE_AGENT__STRATEGY__ATR_MULTIPLIER": "0",
    "ADAPTIVE_AGENT__EXECUTION__POST_ONLY_TIMEOUT_S": "1.0",
}
CLOSES = 36


async def _subscribed(sim, task: asyncio.Task) -> None:
    for _ in range(3000):
        if task.done():
            raise AssertionError(f"paper --live stopped during start-up: {task.result()!r}")
        if any("btcusdt@kline_5m" in c.subs for c in sim.app[HUB].conns):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("paper --live never subscribed to the kline stream")


def _resting(db) -> set[str]:
    """Post-only orders the agent has sent and not yet seen finish (its state store)."""
    try:
        rows = query(db, "SELECT client_id FROM orders WHERE phase='post_only' AND status='open'")
    except sqlite3.OperationalError:  # not created yet
        return set()
    return {cid for (cid,) in rows}


async def _drive(sim, db, task: asyncio.Task) -> None:
    """One close after another, each once the agent has decided on the last; while post-only
    orders rest, Gate's price moves on once (the next bar), as it does during the wait live,
    so some of them are traded through and fill as makers."""
    sent, moved = 0, set()
    while sent < CLOSES:
        sim.market.advance()
        sent += 1
        for _ in range(1000):
            if task.done():
                raise AssertionError(f"paper --live stopped early: {task.exception()!r}")
            if last_bar(db) == sim.market.now_ms:
                break
            resting = _resting(db) - moved
            if resting and sent < CLOSES:
                moved |= resting
                sim.market.advance()
                sent += 1
            await asyncio.sleep(0.01)
        else:
            raise AssertionError(f"paper --live did not decide at {sim.market.now_ms}")


def test_paper_live_trades_a_simulated_account_on_public_data_only(spot, tmp_path, monkeypatch):
    for name in ("GATE_API_KEY", "GATE_API_SECRET", "GATE_UID"):
        monkeypatch.delenv(name, raising=False)
    cfg = load_config(None, env=ENV)
    day = spot.slice(28_800, 28_800 + 289)  # 2022-11-09, a real day of big moves (FTX)
    db = tmp_path / "paper-live.sqlite"

    async def scenario():
        async with running_sim(day, SIM_KEY, SIM_SECRET, usdt=100_000.0) as sim:
            opts = LiveOptions(
                state_path=db,
                gate_url=sim.url,
                binance_url=sim.url,
                backfill_days=1,
                max_bars=CLOSES,
            )
            stop = asyncio.Event()
            task = asyncio.create_task(run_paper_live(cfg, opts, stop))
            await _subscribed(sim, task)
            subs = set().union(*(c.subs for c in sim.app[HUB].conns))
            await _drive(sim, db, task)
            rc = await asyncio.wait_for(task, 30)
            return rc, sim, subs

    rc, sim, subs = asyncio.run(scenario())
    assert rc == 0
    assert "GATE_API_KEY" not in os.environ and "GATE_API_SECRET" not in os.environ
    # nothing signed, nothing private, no private socket: public market data only
    assert sim.signed_requests == 0
    assert sim.private_requests == 0
    assert subs == {"btcusdt@kline_5m"}, subs
    # gate-sim's own account was never traded: the orders were simulated by the agent
    assert sim.market.order_history("spot") == [] and sim.market.order_history("futures") == []
    with sqlite3.connect(db) as c:
        done = c.execute("SELECT COUNT(*) FROM rebalances WHERE status='done'").fetchone()[0]
        filled = c.execute(
            "SELECT order_type, COUNT(*) FROM orders WHERE filled > 0 GROUP BY order_type"
        ).fetchall()
        fills = c.execute("SELECT market, role, COUNT(*) FROM fills GROUP BY 1, 2").fetchall()
        transfers = c.execute("SELECT COUNT(*) FROM transfers WHERE status='done'").fetchone()[0]
    assert done >= 3, done
    assert {t for t, _ in filled} >= {"BUY", "OPEN_LONG", "OPEN_SHORT"}, filled
    assert {m for m, _, _ in fills} == {"spot", "futures"}, fills  # the ledger has them
    assert {r for _, r, _ in fills} == {"maker", "taker"}, fills  # resting orders filled too
    assert transfers >= 1  # nav0 starts in spot: the wallet manager funded futures


def test_the_command_line_dry_run_against_a_gate_sim_process(tmp_path):
    """``adaptive-agent gate-sim`` (its own throwaway keys) and ``adaptive-agent paper --live``
    (no keys at all) as two processes, as an operator rehearses it."""
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATE_", "ADAPTIVE_AGENT"))}
    env["PYTHONPATH"] = str(root)
    sim_env = dict(env, GATE_API_KEY="cli-sim-key", GATE_API_SECRET="cli-sim-secret-value")
    cmd = [sys.executable, "-m", "adaptive_agent"]
    sim = subprocess.Popen(
        [*cmd, "gate-sim", "--port", "0", "--speed", "20"],
        env=sim_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    again: subprocess.Popen | None = None
    try:
        ready, _, _ = select.select([sim.stdout], [], [], 30)
        assert ready, "gate-sim printed no URL within 30 s"
        url = re.match(r"gate-sim listening on (\S+) ", sim.stdout.readline()).group(1)
        db = tmp_path / "dry.sqlite"
        args = ["--gate-url", url, "--binance-url", url, "--bars", "4", "--state", str(db)]
        run = subprocess.run(
            [*cmd, "paper", "--live", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        first_closes, first_last = _count(db, "bars"), query(db, "SELECT MAX(time_ms) FROM bars")
        # again on the same state, until Ctrl-C: a new account, the close in flight finished
        again = subprocess.Popen(
            [*cmd, "paper", "--live", *args[:4], "--state", str(db)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(1200):
            if again.poll() is not None or _new_closes(db, first_last[0][0]) >= 2:
                break
            time.sleep(0.05)
        again.send_signal(signal.SIGINT)
        out, err = again.communicate(timeout=60)
    finally:
        if again is not None and again.poll() is None:  # the test failed before it stopped
            again.kill()
            again.communicate()
        sim.send_signal(signal.SIGTERM)
        sim.communicate(timeout=15)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr and "cli-sim-secret-value" not in run.stderr
    assert first_closes == 4
    assert run.stdout.strip().endswith(f"adaptive-agent status --state {db}")
    assert again.returncode == 0, err[-2000:]
    assert "Traceback" not in err and out.strip().endswith(f"--state {db}")
    assert _new_closes(db, first_last[0][0]) == _count(db, "bars") >= 2  # the first run's: gone


def _count(db: Path, table: str) -> int:
    try:
        return query(db, f"SELECT COUNT(*) FROM {table}")[0][0]
    except sqlite3.OperationalError:  # not there yet, or being created
        return 0


def _new_closes(db: Path, after_ms: int) -> int:
    """Closes after ``after_ms`` once nothing from before it is left (a new run's own)."""
    try:
        ((n, old),) = query(
            db, "SELECT SUM(time_ms > ?), SUM(time_ms <= ?) FROM bars", (after_ms, after_ms)
        )
    except sqlite3.OperationalError:
        return 0
    return int(n or 0) if not old else 0
