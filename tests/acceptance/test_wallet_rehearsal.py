"""Rehearsals funded as a new user funds Gate, through the unmodified ccxt client.

A volatile real week (2022-11-07 -> 2022-11-14, FTX) replayed by gate-sim, the live agent
(run_live) trading it over HTTP and websockets on loopback:

- classic: all USDT in the spot wallet, the futures wallet empty; the agent funds futures;
- unified: one USDT balance; no transfers at all.

Checked at every bar: the futures side never below its maintenance margin; at every
rebalance completion: |delta| / NAV under 1 %; at the end: every leg within the threshold of
its target, and every transfer in the store equal to the simulator's record of it.
"""

from __future__ import annotations

import asyncio
import sqlite3

import numpy as np
import pytest

from adaptive_agent.config import load_config
from adaptive_agent.core.model import Book, Prices
from adaptive_agent.core.portfolio_manager import weights
from adaptive_agent.core.rebalance_engine import drift
from adaptive_agent.sim.markets import CONTRACT_BTC, MAINTENANCE_RATE
from adaptive_agent.sim.runner import running_sim
from tests.support.live_harness import start_live, stop_live, wait_last_bar, wait_subscribed

KEY, SECRET = "sim-key-wallets", "sim-secret-wallets-0123456789"
WEEK_START = 28_224  # 2022-11-07 00:00 UTC in the bundled 5-minute data
NAV0 = 100_000.0


@pytest.fixture()
def gate_env(monkeypatch):
    monkeypatch.setenv("GATE_API_KEY", KEY)
    monkeypatch.setenv("GATE_API_SECRET", SECRET)


def snapshot(m, unified: bool) -> tuple[float, float, float, float]:
    """(NAV, delta USDT, futures equity, maintenance margin) at the market's price now."""
    px = m.mark()
    bal, fa, pos = m.spot_balances(), m.futures_account(), m.positions()
    lng, sht = abs(pos["dual_long"]["size"]), abs(pos["dual_short"]["size"])
    usdt = sum(bal["USDT"]) + (0.0 if unified else fa["total"])
    nav = usdt + sum(bal["BTC"]) * px + fa["unrealised_pnl"]
    delta = (sum(bal["BTC"]) + (lng - sht) * CONTRACT_BTC) * px
    equity = (nav - sum(bal["BTC"]) * px) if unified else fa["total"] + fa["unrealised_pnl"]
    mm = (lng + sht) * CONTRACT_BTC * px * MAINTENANCE_RATE
    return nav, delta, equity, mm


@pytest.mark.parametrize("unified", [False, True], ids=["classic", "unified"])
def test_a_volatile_week_funded_as_a_new_user(spot, tmp_path, gate_env, unified):
    cfg = load_config(None, env={"ADAPTIVE_AGENT__EXECUTION__POST_ONLY_TIMEOUT_S": "0.05"})
    week = spot.slice(WEEK_START, WEEK_START + 2017)
    db = tmp_path / "live.sqlite"
    deltas: list[float] = []
    margin_ok: list[bool] = []

    async def scenario():
        async with running_sim(
            week, KEY, SECRET, spot_usdt=NAV0, futures_usdt=0.0, unified=unified
        ) as sim:
            task, stop = start_live(sim, cfg, db)
            await wait_subscribed(sim, task)
            done = 0
            for _ in range(len(week) - 2):
                sim.market.advance()
                await wait_last_bar(db, sim.market.now_ms, task, timeout_s=10.0)
                nav, delta, equity, mm = snapshot(sim.market, unified)
                margin_ok.append(equity >= mm)
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
                    n = c.execute("SELECT COUNT(*) FROM rebalances WHERE status='done'").fetchone()
                if n[0] > done:  # a rebalance completed at this close
                    done = n[0]
                    deltas.append(abs(delta) / nav)
            return await stop_live(task, stop), sim.market

    rc, market = asyncio.run(scenario())
    assert rc == 0
    assert len(deltas) >= 5 and max(deltas) < 0.01, max(deltas)
    assert all(margin_ok)
    with sqlite3.connect(db) as c:
        rows = c.execute(
            "SELECT to_wallet, amount, status FROM transfers ORDER BY created_ms, client_id"
        ).fetchall()
        rejected = c.execute("SELECT COUNT(*) FROM orders WHERE status='rejected'").fetchone()[0]
        last = c.execute("SELECT MAX(decision_ms) FROM rebalances WHERE status='done'").fetchone()
    assert rejected == 0
    done = [(to, amt) for to, amt, st in rows if st == "done"]
    assert [st for *_, st in rows if st != "done"] == []  # nothing failed, nothing unsettled
    assert done == [(r.to_account, r.amount) for r in market.wallets.records]
    if unified:
        assert done == []
    else:
        assert done and done[0][0] == "futures"  # the first move funds the futures wallet
    # the book ends at its targets, within the threshold (priced at its last rebalance)
    params = cfg.core_params()
    bal, pos, fa = market.spot_balances(), market.positions(), market.futures_account()
    book = Book(
        cash=sum(bal["USDT"]) + (0.0 if unified else fa["total"]),
        spot_lots=round(sum(bal["BTC"]) / params.venue.spot_lot),
        long_contracts=round(abs(pos["dual_long"]["size"])),
        short_contracts=round(abs(pos["dual_short"]["size"])),
        long_entry=pos["dual_long"]["entry_price"],
        short_entry=pos["dual_short"]["entry_price"],
    )
    px = float(week.close[int(np.searchsorted(week.ts + 300_000, last[0]))])
    assert (
        drift(*weights(book, Prices(px, px, px), params), params.targets) <= params.threshold_floor
    )
