"""Fees and funding as paid, end to end: the live agent (run_live, the real ccxt client) against
gate-sim over two volatile days with a restart in the middle.

Held to the simulator's own ledger (``sim/fee_ledger.py``): every venue trade is recorded once,
with its fee to the cent (a spot buy's fee is charged in BTC), every funding line of the futures
account book is recorded once, and the daily digest and audit show them.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict

import pytest

from adaptive_agent.config import load_config
from adaptive_agent.reports.audit import run_audit
from adaptive_agent.reports.digest import build_digest, day_bounds, format_digest, utc_day
from adaptive_agent.sim.fee_ledger import fee_ledger, funding_ledger
from adaptive_agent.sim.gate_server import HUB
from adaptive_agent.sim.runner import running_sim
from adaptive_agent.state.store import StateStore
from tests.acceptance.test_live_e2e import ENV, KEY, SECRET, drive
from tests.support.live_harness import start_live, stop_live


@pytest.fixture()
def gate_env(monkeypatch):
    monkeypatch.setenv("GATE_API_KEY", KEY)
    monkeypatch.setenv("GATE_API_SECRET", SECRET)


async def _wait_unsubscribed(sim) -> None:
    """The stopped agent's sockets are gone, so the next one's subscription is its own."""
    hub = sim.app[HUB]
    for _ in range(500):
        if not any("btcusdt@kline_5m" in c.subs for c in hub.conns):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the stopped agent's kline subscription is still open")


def test_fees_and_funding_as_paid_across_a_restart(spot, funding, tmp_path, gate_env):
    cfg = load_config(None, env=ENV)
    days = spot.slice(28_800, 28_800 + 2 * 288 + 1)  # 2022-11-09/10: FTX, big moves both ways
    db = tmp_path / "live.sqlite"

    async def scenario():
        async with running_sim(days, KEY, SECRET, usdt=100_000.0, funding=funding) as sim:
            task, stop = start_live(sim, cfg, db)
            await drive(sim, db, 300, task)  # past the first day's midnight
            assert await stop_live(task, stop) == 0
            await _wait_unsubscribed(sim)
            # Down for 9 hours: the 08:00 funding settles while no agent is running.
            sim.market.advance(108)
            task, stop = start_live(sim, cfg, db)  # a restart on the same state database
            await drive(sim, db, 2 * 288 - 300 - 108 - 1, task)
            assert await stop_live(task, stop) == 0
            return sim.market

    market = asyncio.run(scenario())
    sim_fees = fee_ledger(market)
    sim_funding = funding_ledger(market)
    store = StateStore(db)
    try:
        fills = store.fills(0, 2**62)
        recorded = {(f.market, f.trade_id): f for f in fills}
        assert len(recorded) == len(fills)  # no trade recorded twice
        # every trade of the venue is recorded, and nothing else
        assert set(recorded) == {(x.market, x.trade_id) for x in sim_fees}
        assert any(x.currency == "BTC" for x in sim_fees)  # spot buys: fee in the coin received
        assert {x.market for x in sim_fees} == {"spot", "futures"}
        for x in sim_fees:
            f = recorded[(x.market, x.trade_id)]
            assert f.fee_currency == x.currency and f.client_id == x.text
            assert f.fee_usdt is not None and round(f.fee_usdt, 2) == round(x.fee_usdt, 2), x
            assert math.isclose(f.fee_usdt, x.fee_usdt, rel_tol=1e-9, abs_tol=1e-9), x
        # the trade records carry the fills' fees: per order, the sum of its fills'
        per_order: dict[str, float] = defaultdict(float)
        for x in sim_fees:
            per_order[x.text] += x.fee_usdt
        trades = store.trades(0, 2**62)
        assert trades and any(t.leg != "BTC_SPOT" and t.fee_usdt > 0 for t in trades)
        for t in trades:
            assert math.isclose(t.fee_usdt, per_order[t.client_id], rel_tol=1e-9, abs_tol=1e-9)
        # funding: each line once, equal to the account book's, and the sum
        paid = store.funding_payments(0, 2**62)
        assert len(sim_funding) >= 5  # 00/08/16 UTC over two days, for both legs
        assert [(p.key, p.time_ms) for p in paid] == [(e.id, e.time_ms) for e in sim_funding]
        for p, e in zip(paid, sim_funding, strict=True):
            assert round(p.change_usdt, 2) == round(e.change, 2) and p.change_usdt == e.change
        assert math.isclose(
            math.fsum(p.change_usdt for p in paid), math.fsum(e.change for e in sim_funding)
        )
        assert any(p.change_usdt < 0 for p in paid) and any(p.change_usdt > 0 for p in paid)
        # the digest and the audit of the first full day show them
        day = utc_day(days.ts[0] + 288 * 300_000)
        digest = build_digest(store, day)
        lo, hi = day_bounds(day)
        day_fees = math.fsum(f.fee_usdt for f in fills if lo <= f.time_ms < hi)
        day_funding = [p.change_usdt for p in paid if lo <= p.time_ms < hi]
        assert digest.fees_source == "fills" and digest.venue_fills > 0
        assert math.isclose(digest.fees_usdt, day_fees)
        assert digest.funding_payments == len(day_funding) > 0
        assert math.isclose(digest.funding_paid_usdt or 0.0, math.fsum(day_funding))
        text = format_digest(digest)
        assert "Fees as charged" in text and "Funding as paid" in text
        audit = run_audit(store, cfg, day, tmp_path / "audit")
        assert audit.kpis["fees_nav"] == digest.fees_nav
        assert any("venue fill" in n for n in audit.notes)
        assert any("funding as paid" in n for n in audit.notes)
    finally:
        store.close()
