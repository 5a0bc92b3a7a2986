"""A websocket drop mid-rebalance: reconnect, backfill the missed closes, reconcile, continue."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter

from adaptive_agent.config import load_config
from adaptive_agent.runner.live import LiveOptions, run_live
from adaptive_agent.sim.faults import Faults
from adaptive_agent.sim.runner import running_sim

from .crash_harness import AGENT_ENV, KEY, SECRET
from .test_live_e2e import wait_subscribed


def _q(db, sql):
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return c.execute(sql).fetchall()


def test_websocket_drop_mid_rebalance(spot, tmp_path, monkeypatch):
    for k, v in AGENT_ENV.items():
        monkeypatch.setenv(k, v)
    cfg = load_config()
    db = tmp_path / "live.sqlite"

    async def scenario():
        faults = Faults(latency_ms=30.0)  # a rebalance spans a few hundred ms
        async with running_sim(spot.slice(28_800, 28_900), KEY, SECRET, faults=faults) as sim:
            stop = asyncio.Event()
            opts = LiveOptions(
                state_path=db,
                gate_url=sim.url,
                binance_url=sim.url,
                set_dual_mode=True,
                backfill_days=1,
            )
            task = asyncio.create_task(run_live(cfg, opts, stop))
            await wait_subscribed(sim, task)
            sim.market.advance()
            first = sim.market.now_ms
            await asyncio.sleep(0.15)  # the rebalance at `first` is in flight
            sim.drop_websockets()
            sim.market.advance()  # two closes while the agent is cut off
            sim.market.advance()
            last = sim.market.now_ms
            for _ in range(1500):
                got = _q(db, "SELECT value FROM meta WHERE key='last_bar_ms'")
                if got and int(got[0][0]) == last:
                    break
                await asyncio.sleep(0.01)
            stop.set()
            assert await asyncio.wait_for(task, 30) == 0
            return first, last, sim.market

    first, last, market = asyncio.run(scenario())
    decided = [t for (t,) in _q(db, "SELECT time_ms FROM bars ORDER BY time_ms")]
    assert decided == [first, first + 300_000, last]  # every close once, in order
    events = [k for (k,) in _q(db, "SELECT kind FROM events")]
    assert events.count("reconciled") >= 2  # at start, and again after the reconnect
    texts = [o.text for m in ("spot", "futures") for o in market.order_history(m)]
    known = {c for (c,) in _q(db, "SELECT client_id FROM orders")}
    assert texts and set(texts) <= known
    assert max(Counter(texts).values()) == 1
    assert len({r for (r,) in _q(db, "SELECT rebalance_id FROM orders")}) >= 2


def test_a_silent_reference_feed_is_alerted_once_and_cleared(spot, tmp_path, monkeypatch):
    """No close for longer than allowed: one 'stale_feed' alert, then 'cleared' on the next."""
    for k, v in AGENT_ENV.items():
        monkeypatch.setenv(k, v)
    cfg = load_config()
    db = tmp_path / "live.sqlite"

    async def scenario():
        async with running_sim(spot.slice(28_800, 28_900), KEY, SECRET) as sim:
            stop = asyncio.Event()
            opts = LiveOptions(
                state_path=db,
                gate_url=sim.url,
                binance_url=sim.url,
                set_dual_mode=True,
                backfill_days=1,
                feed_silence_s=0.3,
            )
            task = asyncio.create_task(run_live(cfg, opts, stop))
            await wait_subscribed(sim, task)
            await asyncio.sleep(1.2)  # four silence windows pass: still one alert
            sim.market.advance()
            want = sim.market.now_ms
            for _ in range(500):
                got = _q(db, "SELECT value FROM meta WHERE key='last_bar_ms'")
                if got and int(got[0][0]) == want:
                    break
                await asyncio.sleep(0.01)
            stop.set()
            assert await asyncio.wait_for(task, 30) == 0

    asyncio.run(scenario())
    kinds = [
        k for (k,) in _q(db, "SELECT kind FROM events ORDER BY rowid") if k.startswith("stale_feed")
    ]
    assert kinds == ["stale_feed", "stale_feed_cleared"]
