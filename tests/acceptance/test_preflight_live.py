"""``run_live`` refuses to start on a failed pre-flight: one line each, exit 2, no order sent
(the unmodified ccxt client against gate-sim)."""

from __future__ import annotations

import asyncio

import pytest

from adaptive_agent.config import load_config
from adaptive_agent.sim.runner import running_sim
from tests.support.live_harness import start_live

KEY, SECRET = "pre-key", "pre-secret-0123456789"


@pytest.fixture()
def gate_env(monkeypatch):
    monkeypatch.setenv("GATE_API_KEY", KEY)
    monkeypatch.setenv("GATE_API_SECRET", SECRET)


def start_against(path, db, prepare, env=None, **market):
    cfg = load_config(None, env=env or {})

    async def main():
        async with running_sim(path, KEY, SECRET, dual_mode=True, **market) as sim:
            prepare(sim.market)
            before = len(sim.market.order_history("futures")) + len(
                sim.market.order_history("spot")
            )
            task, _stop = start_live(sim, cfg, db)
            rc = await asyncio.wait_for(task, 60)
            m = sim.market
            after = len(m.order_history("futures")) + len(m.order_history("spot"))
            return rc, after - before, len(m.open_orders("futures")) + len(m.open_orders("spot"))

    return asyncio.run(main())


def test_a_foreign_order_refuses_the_start(spot, tmp_path, gate_env, capsys):
    path = spot.slice(28_800, 28_900)

    def prepare(m):
        m.place("futures", None, 1, round(m.mark() * 0.97, 1), tif="gtc", text="t-manual")

    rc, sent, still_open = start_against(path, tmp_path / "a.sqlite", prepare)
    assert rc == 2 and sent == 0 and still_open == 1  # nothing sent, nothing cancelled
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("pre-flight:")]
    assert any("foreign open futures order" in x and "t-manual" in x for x in lines), lines


def test_a_margin_mode_gate_will_not_change_refuses_naming_the_setting(
    spot, tmp_path, gate_env, capsys
):
    path = spot.slice(28_800, 28_900)

    def prepare(m):
        m.place("futures", None, -5, None)  # a short held in isolated mode

    env = {"ADAPTIVE_AGENT__EXCHANGE__MARGIN_MODE": "cross"}
    rc, sent, _ = start_against(path, tmp_path / "b.sqlite", prepare, env=env, leverage=3)
    assert rc == 2 and sent == 0
    err = capsys.readouterr().err
    assert (
        "pre-flight: exchange.margin_mode = cross, but Gate's short side is ISOLATED"
        " (Gate refused the change: POSITION_HOLDING)"
    ) in err


def test_markets_disagreeing_with_the_config_refuse_naming_the_setting(
    spot, tmp_path, gate_env, capsys
):
    path = spot.slice(28_800, 28_900)
    env = {"ADAPTIVE_AGENT__VENUE__PERP_PRICE_TICK": "0.5"}
    rc, sent, _ = start_against(path, tmp_path / "c.sqlite", lambda m: None, env=env)
    assert rc == 2 and sent == 0
    assert (
        "pre-flight: venue.perp_price_tick = 0.5, but Gate's BTC_USDT order_price_round says 0.1"
    ) in capsys.readouterr().err


def test_dual_mode_off_is_one_line_too(spot, tmp_path, gate_env, capsys, monkeypatch):
    from tests.support import live_harness

    path = spot.slice(28_800, 28_900)
    cfg = load_config(None, env={})

    async def main():
        async with running_sim(path, KEY, SECRET, dual_mode=False) as sim:
            opts = live_harness.LiveOptions(
                state_path=tmp_path / "d.sqlite", gate_url=sim.url, binance_url=sim.url
            )
            return await asyncio.wait_for(live_harness.run_live(cfg, opts), 60)

    assert asyncio.run(main()) == 2
    err = capsys.readouterr().err
    assert "pre-flight: the USDT futures account is not in dual (hedge) position mode" in err
