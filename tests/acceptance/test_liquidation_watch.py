"""The liquidation watch through the unmodified ccxt client against gate-sim: a rally drains
a cross-margined futures wallet that holds a short."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from adaptive_agent.clock import VirtualClock
from adaptive_agent.config import load_config
from adaptive_agent.core.model import Candle, SafeCode
from adaptive_agent.exchange.gate_ccxt import GateCcxtExchange
from adaptive_agent.exchange.paper_exchange import PaperExchange
from adaptive_agent.io.loaders import Candles
from adaptive_agent.runner.agent import Agent
from adaptive_agent.runner.liquidation_watch import LiquidationWatch
from adaptive_agent.runner.wallets import WalletManager
from adaptive_agent.sim.liquidation import maintenance_margin
from adaptive_agent.sim.runner import running_sim
from adaptive_agent.state.store import StateStore
from tests.support.sim_market import make
from tests.support.top_up import SimTopUp

KEY, SECRET = "liq-key", "liq-secret"
SHORT = 1_000  # contracts: 0.1 BTC


def rally(bars: int = 70, step: float = 0.01) -> Candles:
    """Flat for 5 bars, then +1 % a bar: 30k to ~55k."""
    c = 30_000.0 * np.r_[np.ones(5), (1 + step) ** np.arange(1, bars - 4)]
    o = np.r_[c[0], c[:-1]]
    ts = 1_700_006_400_000 + 300_000 * np.arange(len(c), dtype=np.int64)
    return Candles("rally", ts, o, np.maximum(o, c) * 1.002, np.minimum(o, c) * 0.998, c)


class RecordingTopUp:
    """The wallet manager's real top-up (``POST /wallet/transfers`` through ccxt), recorded."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, []

    async def __call__(self, wanted: float) -> float:
        moved = await self.inner(wanted)
        self.calls.append((wanted, moved))
        return moved


def watch_the_rally(spot_usdt: float, store_path=None):
    """Hold the short through the rally, the watch checked at every close. With ``store_path``
    the top-up is the wallet manager's (transfers recorded in that state store), else the
    in-process stand-in."""
    cfg = load_config(None, env={})
    alerts: list[tuple[str, str]] = []
    seen: list[dict] = []

    def alerts_to(kind: str, text: str) -> None:
        alerts.append((kind, text))

    async def main():
        async with running_sim(
            rally(), KEY, SECRET, usdt=spot_usdt, futures_usdt=1_500.0, dual_mode=True
        ) as sim:
            m = sim.market
            gate = GateCcxtExchange(KEY, SECRET, rest_url=sim.url, rate_limit=False)
            if store_path is None:
                top_up = SimTopUp(m)
            else:
                store = StateStore(store_path, durable=False)
                manager = WalletManager(
                    gate, store, cfg.wallet_params(), lambda: int(m.now_ms), alerts_to
                )
                top_up = RecordingTopUp(manager.top_up)
            watch = LiquidationWatch(gate, cfg, lambda k, t: alerts.append((k, t)), top_up)
            try:
                await gate.start()
                await gate.set_margin(cfg.strategy.leverage, "cross")
                m.place("futures", None, -SHORT, None)
                while not m.done:
                    m.advance()
                    before = m.positions()["dual_short"]["liq_price"]
                    dist = await watch.check()
                    a, pos = m.futures_account(), m.positions()["dual_short"]
                    seen.append(
                        {
                            "high": float(m.candles.high[m.bar]),
                            "liq_before": before,
                            "dist": dist,
                            "size": pos["size"],
                            "equity": a["total"] + a["unrealised_pnl"],
                            "maint": maintenance_margin(m._futures, "short", m.mark()),
                        }
                    )
            finally:
                await gate.close()
                if store_path is not None:
                    store.close()
            return m, top_up

    m, top_up = asyncio.run(main())
    return m, top_up, alerts, seen


def test_a_top_up_comes_before_any_liquidation():
    m, top_up, alerts, seen = watch_the_rally(spot_usdt=100_000.0)
    assert top_up.calls and all(moved > 0 for _, moved in top_up.calls)
    assert not [o for o in m.order_history("futures") if o.text == "liquidation"]
    assert all(s["size"] == -SHORT for s in seen)  # never liquidated
    assert all(s["equity"] >= s["maint"] for s in seen)  # the wallet above maintenance
    assert [k for k, _ in alerts if k == "liquidation_top_up"]
    # after each top-up the distance is back at the target, above the alarm
    assert all(s["dist"] >= 0.15 for s in seen)


def test_the_wallet_managers_top_up_through_ccxt_keeps_the_short_alive(tmp_path):
    """The same rally with the real hook that ``adaptive-agent live`` wires in a classic
    account: each top-up is a transfer recorded in the store, the venue's records agree."""
    db = tmp_path / "live.sqlite"
    m, top_up, alerts, seen = watch_the_rally(spot_usdt=100_000.0, store_path=db)
    assert top_up.calls and all(moved > 0 for _, moved in top_up.calls)
    assert not [o for o in m.order_history("futures") if o.text == "liquidation"]
    assert all(s["size"] == -SHORT for s in seen) and all(s["equity"] >= s["maint"] for s in seen)
    store = StateStore(db, create=False)
    try:
        done = [(t.to_wallet, t.amount) for t in store.transfers() if t.status == "done"]
    finally:
        store.close()
    venue = [(r.to_account, r.amount) for r in m.wallets.records]
    assert done == venue and len(done) == len(top_up.calls)
    assert [k for k, _ in alerts if k == "liquidation_top_up"]


def test_with_no_top_up_possible_the_watch_alerts_and_gates_rule_liquidates():
    m, top_up, alerts, seen = watch_the_rally(spot_usdt=0.0)
    assert top_up.calls and all(moved == 0 for _, moved in top_up.calls)
    assert [k for k, _ in alerts].count("liquidation_near") == 1  # once per episode
    first_near = next(i for i, s in enumerate(seen) if s["dist"] is not None and s["dist"] < 0.15)
    gone = next(i for i, s in enumerate(seen) if s["size"] == 0)
    assert gone > first_near  # the alarm came first
    # liquidated on the first bar whose high reached the liquidation price, at that price
    assert all(s["high"] < s["liq_before"] for s in seen[:gone])
    liq = next(o for o in m.order_history("futures") if o.text == "liquidation")
    assert liq.finish_as == "liquidated" and liq.avg_price == pytest.approx(
        seen[gone - 1]["liq_before"], rel=1e-9
    )
    assert m.futures_account()["total"] == pytest.approx(0.0, abs=1e-6)  # cross: all lost


def test_safe_mode_holds_exposure_raising_orders_near_liquidation(tmp_path):
    cfg = load_config(None, env={})
    m = make(rally(40), usdt=10_000.0, futures_usdt=1_500.0, leverage=3)
    paper = PaperExchange(m)
    asyncio.run(paper.set_margin(3, "cross"))
    m.place("futures", None, -SHORT, None)
    m.advance(33)  # ~41k: the short's liquidation price is near
    store = StateStore(tmp_path / "s.sqlite", durable=False)
    agent = Agent(cfg, paper, store, _NoSignal(), clock=VirtualClock(lambda: int(m.now_ms)))
    agent.liq_watch = LiquidationWatch(paper, cfg, agent.alert)  # no top-up wired
    bar = m.bar
    c = m.candles
    candle = Candle(int(c.ts[bar]), *(float(x[bar]) for x in (c.open, c.high, c.low, c.close)))
    plan = asyncio.run(agent.on_candle_close(candle))
    store.close()
    assert plan is not None and SafeCode.LIQUIDATION_NEAR in plan.safe_mode_codes
    raising = {"BUY", "OPEN_LONG", "OPEN_SHORT"}
    assert not [o for o in plan.orders if o.order_type in raising]
    assert [h for h in plan.blocked if h.order.order_type in raising]


class _NoSignal:
    def at(self, time_ms):
        from adaptive_agent.core.model import Signal

        return Signal.NONE
