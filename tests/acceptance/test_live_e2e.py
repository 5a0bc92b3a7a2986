"""Live mode end to end: the real ccxt Gate client and the Binance feed against gate-sim.

Nothing is mocked: the agent process logic (run_live) talks HTTP and websockets on loopback to
the Gate-protocol simulator, which replays real candles; the test only moves its clock.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter

import numpy as np
import pytest

from adaptive_agent.config import load_config
from adaptive_agent.core.model import Book, Prices
from adaptive_agent.core.portfolio_manager import weights
from adaptive_agent.core.rebalance_engine import drift
from adaptive_agent.sim.gate_server import HUB
from adaptive_agent.sim.runner import running_sim
from tests.support.live_harness import start_live, stop_live, wait_last_bar, wait_subscribed

KEY, SECRET = "sim-key-e2e", "sim-secret-e2e-0123456789"
ENV = {
    "ADAPTIVE_AGENT__STRATEGY__TARGETS__BTC_SPOT": "0.3",
    "ADAPTIVE_AGENT__STRATEGY__TARGETS__BTC_PERP_LONG": "0.2",
    "ADAPTIVE_AGENT__STRATEGY__TARGETS__BTC_PERP_SHORT": "0.5",
    "ADAPTIVE_AGENT__STRATEGY__MIN_REBALANCE_INTERVAL_MINUTES": "30",
    "ADAPTIVE_AGENT__EXECUTION__POST_ONLY_TIMEOUT_S": "0.05",
}


async def drive(sim, db, bars: int, task: asyncio.Task) -> None:
    """Advance the simulator one bar at a time, each once the agent has decided on the last."""
    await wait_subscribed(sim, task)
    for _ in range(bars):
        sim.market.advance()
        await wait_last_bar(db, sim.market.now_ms, task, timeout_s=4.0)


@pytest.fixture()
def gate_env(monkeypatch):
    monkeypatch.setenv("GATE_API_KEY", KEY)
    monkeypatch.setenv("GATE_API_SECRET", SECRET)


def test_a_simulated_day_through_ccxt(spot, tmp_path, gate_env, caplog):
    cfg = load_config(None, env=ENV)
    day = spot.slice(28_800, 28_800 + 289)  # 2022-11-09, a real day of big moves (FTX)
    db = tmp_path / "live.sqlite"

    async def scenario():
        async with running_sim(day, KEY, SECRET, usdt=100_000.0) as sim:
            task, stop = start_live(sim, cfg, db)
            await drive(sim, db, 287, task)
            # Fills were followed over Gate's websocket orders channels, not only by polling.
            subs = set().union(*(c.subs for c in sim.app[HUB].conns))
            assert "spot.orders" in subs and "futures.orders" in subs, subs
            return await stop_live(task, stop), sim.market

    with caplog.at_level(logging.WARNING, logger="adaptive_agent"):
        rc, market = asyncio.run(scenario())
    assert rc == 0
    # A replay of 2022 is recognised: the watchdog's CPU limit (a full core is normal here)
    # is not applied, so the rehearsal is not put in safe mode by its own speed.
    assert "rehearsing a replay" in caplog.text
    with sqlite3.connect(db) as c:
        ours = dict(c.execute("SELECT client_id, order_type FROM orders").fetchall())
        rebalances = c.execute("SELECT COUNT(*) FROM rebalances").fetchone()[0]
    assert rebalances >= 3
    seen = Counter()
    for o in market.order_history("futures") + market.order_history("spot"):
        otype = ours[o.text]  # every order at the venue is known to the state store
        seen[otype] += 1
        if o.market == "futures":
            expected_sign, expected_reduce = {
                "OPEN_LONG": (1, False),
                "CLOSE_LONG": (-1, True),
                "OPEN_SHORT": (-1, False),
                "CLOSE_SHORT": (1, True),
            }[otype]
            assert (o.amount > 0) == (expected_sign > 0), (otype, o.amount)
            assert o.reduce_only is expected_reduce, otype
        else:
            assert o.side == {"BUY": "buy", "SELL": "sell"}[otype]
    assert set(seen) == {"BUY", "SELL", "OPEN_LONG", "CLOSE_LONG", "OPEN_SHORT", "CLOSE_SHORT"}
    texts = [o.text for m in ("spot", "futures") for o in market.order_history(m)]
    assert len(texts) == len(set(texts))  # one order per client id
    # The book ends at target weights within the threshold (priced where it last traded).
    params = cfg.core_params()
    bal, pos = market.spot_balances(), market.positions()
    book = Book(
        cash=sum(bal["USDT"]) + market.futures_account()["total"],
        spot_lots=round(sum(bal["BTC"]) / params.venue.spot_lot),
        long_contracts=round(abs(pos["dual_long"]["size"])),
        short_contracts=round(abs(pos["dual_short"]["size"])),
        long_entry=pos["dual_long"]["entry_price"],
        short_entry=pos["dual_short"]["entry_price"],
    )
    # Judged at the prices of the last rebalance that traded (positions have not moved since).
    with sqlite3.connect(db) as c:
        last = c.execute("SELECT MAX(decision_ms) FROM rebalances WHERE status='done'").fetchone()[
            0
        ]
    i = int(np.searchsorted(day.ts + 300_000, last))
    px = float(day.close[i])
    w = weights(book, Prices(px, px, px), params)
    assert drift(*w, params.targets) <= params.threshold_floor  # within the threshold
