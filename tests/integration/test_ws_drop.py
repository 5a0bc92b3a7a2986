"""A websocket drop mid-rebalance: reconnect, backfill the missed closes, reconcile, continue."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from adaptive_agent.config import load_config
from adaptive_agent.sim.faults import Faults
from adaptive_agent.sim.runner import running_sim
from tests.support.crash_harness import AGENT_ENV, KEY, SECRET
from tests.support.live_harness import query, start_live, stop_live, wait_last_bar, wait_subscribed


@pytest.fixture()
def cfg(monkeypatch):
    """The crash harness's agent settings (rebalance at nearly every close) and secrets."""
    for k, v in AGENT_ENV.items():
        monkeypatch.setenv(k, v)
    return load_config()


def test_websocket_drop_mid_rebalance(spot, tmp_path, cfg):
    db = tmp_path / "live.sqlite"

    async def scenario():
        faults = Faults(latency_ms=30.0)  # a rebalance spans a few hundred ms
        async with running_sim(spot.slice(28_800, 28_900), KEY, SECRET, faults=faults) as sim:
            task, stop = start_live(sim, cfg, db)
            await wait_subscribed(sim, task)
            sim.market.advance()
            first = sim.market.now_ms
            await asyncio.sleep(0.15)  # the rebalance at `first` is in flight
            sim.drop_websockets()
            sim.market.advance()  # two closes while the agent is cut off
            sim.market.advance()
            last = sim.market.now_ms
            await wait_last_bar(db, last, task)
            assert await stop_live(task, stop) == 0
            return first, last, sim.market

    first, last, market = asyncio.run(scenario())
    decided = [t for (t,) in query(db, "SELECT time_ms FROM bars ORDER BY time_ms")]
    assert decided == [first, first + 300_000, last]  # every close once, in order
    events = [k for (k,) in query(db, "SELECT kind FROM events")]
    assert events.count("reconciled") >= 2  # at start, and again after the reconnect
    texts = [o.text for m in ("spot", "futures") for o in market.order_history(m)]
    known = {c for (c,) in query(db, "SELECT client_id FROM orders")}
    assert texts and set(texts) <= known
    assert max(Counter(texts).values()) == 1
    assert len({r for (r,) in query(db, "SELECT rebalance_id FROM orders")}) >= 2


def test_a_silent_reference_feed_is_alerted_once_and_cleared(spot, tmp_path, cfg):
    """No close for longer than allowed: one 'stale_feed' alert, then 'cleared' on the next."""
    db = tmp_path / "live.sqlite"

    async def scenario():
        async with running_sim(spot.slice(28_800, 28_900), KEY, SECRET) as sim:
            task, stop = start_live(sim, cfg, db, feed_silence_s=0.3)
            await wait_subscribed(sim, task)
            await asyncio.sleep(1.2)  # four silence windows pass: still one alert
            sim.market.advance()
            want = sim.market.now_ms
            await wait_last_bar(db, want, task)
            assert await stop_live(task, stop) == 0

    asyncio.run(scenario())
    kinds = [
        k
        for (k,) in query(db, "SELECT kind FROM events ORDER BY rowid")
        if k.startswith("stale_feed")
    ]
    assert kinds == ["stale_feed", "stale_feed_cleared"]
