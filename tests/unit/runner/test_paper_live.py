"""``run_paper_live``: a new simulated account per run, the state file locked, no key read."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from adaptive_agent.config import load_config
from adaptive_agent.runner.live import LiveOptions
from adaptive_agent.runner.paper_live import PAPER_LIVE_STATE, open_account, run_paper_live
from adaptive_agent.sim.gate_server import HUB
from adaptive_agent.sim.live_market import LivePrices
from adaptive_agent.sim.runner import running_sim
from adaptive_agent.state.store import StateError, StateStore

KEY, SECRET = "sim-key-runner", "sim-secret-runner-0123456789"
ENV = {
    "ADAPTIVE_AGENT__BACKTEST__NAV0": "25000",
    "ADAPTIVE_AGENT__FEES__SPOT_TAKER": "0.004",
    "ADAPTIVE_AGENT__BACKTEST__SLIPPAGE": "0.001",
}


def test_the_account_is_a_new_users_with_the_configured_fees_and_slippage():
    cfg = load_config(None, env=ENV)
    first = LivePrices(1_700_000_000_000, 100.0, 99.9, 100.1, 100.0, 99.9, 100.1, 100.0, 0.0)
    m = open_account(cfg, first)
    assert sum(m.spot_balances()["USDT"]) == 25_000.0 and m.futures_account()["total"] == 0.0
    assert m.fees.spot_taker == 0.004 and m.slippage == 0.001
    assert m.dual_mode and m.leverage == cfg.strategy.leverage
    assert m.funding_hours_utc == cfg.backtest.funding_hours_utc
    assert PAPER_LIVE_STATE.name == "paper-live.sqlite"


def _opts(sim, db, bars: int = 1) -> LiveOptions:
    return LiveOptions(
        state_path=db, gate_url=sim.url, binance_url=sim.url, backfill_days=1, max_bars=bars
    )


def test_a_second_dry_run_on_the_same_state_is_refused(spot, tmp_path, monkeypatch):
    monkeypatch.delenv("GATE_API_KEY", raising=False)
    db = tmp_path / "paper-live.sqlite"

    async def scenario():
        async with running_sim(spot.slice(0, 300), KEY, SECRET) as sim:
            held = StateStore(db, lock=True)  # another agent runs on it
            try:
                with pytest.raises(StateError):
                    await run_paper_live(load_config(None), _opts(sim, db))
            finally:
                held.close()
            return sim.signed_requests

    assert asyncio.run(scenario()) == 0


def test_each_run_starts_over_but_keeps_the_kill_switch(spot, tmp_path, monkeypatch):
    monkeypatch.delenv("GATE_API_KEY", raising=False)
    db = tmp_path / "paper-live.sqlite"
    old = StateStore(db)
    old.add_event(1, "from_an_earlier_run", "an account that is gone")
    old.set_manual_safe_mode(True, 1)
    old.close()

    async def scenario():
        async with running_sim(spot.slice(0, 300), KEY, SECRET) as sim:
            task = asyncio.create_task(run_paper_live(load_config(None), _opts(sim, db)))
            for _ in range(2000):  # until it listens to the closes, then one close
                if any("btcusdt@kline_5m" in c.subs for c in sim.app[HUB].conns):
                    break
                assert not task.done(), task.result()
                await asyncio.sleep(0.01)
            sim.market.advance()
            return await asyncio.wait_for(task, 30)

    assert asyncio.run(scenario()) == 0
    with sqlite3.connect(db) as c:
        kinds = {k for (k,) in c.execute("SELECT kind FROM events")}
        switch = c.execute("SELECT value FROM meta WHERE key='manual_safe_mode'").fetchone()
    assert "from_an_earlier_run" not in kinds
    assert switch == ("on",)
