"""LiveControl (what an operator may ask of the running agent), alone and behind Telegram.

The agent is the real paper agent (live ``Agent`` over the in-process simulator, real SQLite
state store); the Telegram side is ``TelegramMonitor`` talking to the fake Bot API server.
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from adaptive_agent.config import AppConfig
from adaptive_agent.core.model import Candle
from adaptive_agent.core.time_rules import utc_text
from adaptive_agent.monitoring.telegram import REFUSAL_TEXT, AgentControl, TelegramMonitor
from adaptive_agent.policy.policy_layer import Secret
from adaptive_agent.reports.digest import build_digest, previous_utc_day, utc_day
from adaptive_agent.runner.control import LiveControl
from adaptive_agent.runner.paper import make_market, paper_agent, replay
from adaptive_agent.state.store import StateStore
from adaptive_agent.strategies.baseline_signals import ema_crossover_signals
from tests.support.fake_telegram import TOKEN, FakeTelegram

CFG = AppConfig()
CHAT, OTHER = 4242, 9999
DAY_MS = 86_400_000


def candle(market) -> Candle:
    c, i = market.candles, market.bar
    return Candle(
        int(c.ts[i]), float(c.open[i]), float(c.high[i]), float(c.low[i]), float(c.close[i])
    )


def raising_at_venue(market) -> list[str]:
    """Client ids of the exposure-raising orders the venue ever saw (spot buys, opening)."""
    spot = market.order_history("spot") + market.open_orders("spot")
    fut = market.order_history("futures") + market.open_orders("futures")
    return [o.text for o in spot if o.side == "buy"] + [o.text for o in fut if not o.reduce_only]


@pytest.fixture()
def setup(spot, tmp_path):
    """A paper agent on 2022-08-01 (real bars, baseline signals), not started yet."""
    candles = spot.slice(0, 400)  # 00:00 .. 09:15 of the next day: one midnight
    market = make_market(CFG, candles, None, "backtest")
    store = StateStore(tmp_path / "state.sqlite", durable=False)
    agent = paper_agent(CFG, market, store, ema_crossover_signals(candles, 3, 12))
    stop = asyncio.Event()
    yield agent, market, candles, store, stop
    store.close()


def test_live_control_is_an_agent_control() -> None:
    assert issubclass(LiveControl, AgentControl)


def test_status_balance_and_digest_of_a_paper_run(setup) -> None:
    agent, market, candles, store, stop = setup
    ctl = LiveControl(agent, stop, CFG.backtest.nav0)

    async def main() -> None:
        assert await ctl.status() == "no close processed yet"
        await replay(agent, market, candles)
        status = await ctl.status()
        last = agent.plans[-1]
        assert f"last close {utc_text(last.time_ms)}:" in status
        assert f"NAV {last.nav:,.2f} USDT" in status
        assert "safe mode off" in status
        rebalances = sum(p.triggered for p in agent.plans)
        assert rebalances > 2 and status.endswith(f"rebalances so far {rebalances}")

        bal = await agent.gate.get_balances()
        pos = await agent.gate.get_positions()
        text = await ctl.balance()
        lines = text.split("\n")
        assert len(lines) == 3, text  # three lines for Telegram, not one with "\n" in it
        assert "\\n" not in text
        assert lines[0] == f"spot: {bal.spot_usdt:,.2f} USDT, {bal.spot_btc:.6f} BTC"
        assert lines[1].startswith(f"futures: {bal.futures_usdt:,.2f} USDT")
        assert f"short {pos.short_contracts} ct" in lines[2] and pos.short_contracts > 0

        # today so far, on the agent's clock (the replay's, in paper), as /help says
        digest = await ctl.digest()
        day = utc_day(agent.now_ms())
        assert day != previous_utc_day(agent.now_ms())
        assert digest.startswith(f"Daily digest {day.isoformat()} (UTC)")
        assert "No data" not in digest
        expected = build_digest(store, day, CFG.backtest.nav0)
        assert expected.bars > 0 and f"bars: {expected.bars}" in digest

    asyncio.run(main())


def test_set_safe_mode_holds_exposure_raising_orders(setup) -> None:
    agent, market, _candles, store, stop = setup
    ctl = LiveControl(agent, stop, CFG.backtest.nav0)

    async def main() -> None:
        reply = await ctl.set_safe_mode(True)
        assert "ON" in reply and store.manual_safe_mode
        assert store.events("manual_safe_mode")[-1][2] == "on"
        for _ in range(30):
            await agent.on_candle_close(candle(market))
            market.advance()
        assert raising_at_venue(market) == []
        held = [h for p in agent.plans for h in p.blocked if h.gate == "safe_mode"]
        assert held and all(p.safe_mode for p in agent.plans)
        assert "safe mode ON: manual kill switch" in await ctl.status()

        reply = await ctl.set_safe_mode(False)
        assert "off" in reply and not store.manual_safe_mode
        for _ in range(30):
            await agent.on_candle_close(candle(market))
            market.advance()
        assert raising_at_venue(market)  # trading resumed
        assert not agent.plans[-1].safe_mode

    asyncio.run(main())


def test_stop_ends_the_replay_after_the_current_bar(setup) -> None:
    agent, market, candles, store, stop = setup
    ctl = LiveControl(agent, stop, CFG.backtest.nav0)

    async def main() -> None:
        task = asyncio.create_task(replay(agent, market, candles, stop, speed=2_000.0))
        while len(agent.plans) < 20:
            await asyncio.sleep(0.001)
        n = len(agent.plans)
        assert await ctl.stop() == "stopping after the current bar"
        await asyncio.wait_for(task, 5.0)
        # the bar in progress (if any) is finished, then nothing more
        assert len(agent.plans) in (n, n + 1) and len(agent.plans) < len(candles) - 1
        assert int(store.get_meta("last_bar_ms")) == agent.plans[-1].time_ms
        assert stop.is_set()

    asyncio.run(main())


# --- behind Telegram ---------------------------------------------------------------------------


async def wait_until(pred, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def monitor(tg: FakeTelegram, control: LiveControl) -> TelegramMonitor:
    return TelegramMonitor(
        Secret("TELEGRAM_BOT_TOKEN", TOKEN),
        CHAT,
        control,
        base_url=tg.base_url,
        poll_timeout_s=1,
        retry_backoff_s=0.05,
        close_timeout_s=2.0,
        send_timeout_s=2.0,
    )


def test_safemode_from_telegram_only_from_the_configured_chat(setup) -> None:
    agent, market, _candles, store, stop = setup

    async def main() -> None:
        async with FakeTelegram() as tg:
            mon = monitor(tg, LiveControl(agent, stop, CFG.backtest.nav0))
            agent.monitors = [mon]
            mon.start()  # from the agent's loop: commands run here, between bars
            try:
                # a stranger cannot switch it on ...
                tg.inject(OTHER, "/safemode on")
                await wait_until(lambda: mon.stats.refused == 1)
                await tg.wait_sent(1)
                assert tg.sent[0] == {**tg.sent[0], "chat_id": OTHER, "text": REFUSAL_TEXT}
                assert not store.manual_safe_mode

                # ... the operator's chat can
                tg.inject(CHAT, "/safemode on")
                await tg.wait_sent(2)
                assert tg.sent[1]["chat_id"] == CHAT and "ON" in tg.sent[1]["text"]
                assert store.manual_safe_mode

                # and a stranger cannot switch it off again
                tg.inject(OTHER, "/safemode off")
                tg.inject(OTHER, "/stop")
                await wait_until(lambda: mon.stats.refused == 3)
                assert store.manual_safe_mode and not stop.is_set()

                # the next decisions hold every exposure-raising order
                for _ in range(12):
                    plan = await agent.on_candle_close(candle(market))
                    market.advance()
                    assert plan.safe_mode and plan.orders == ()
                first = agent.plans[0]
                assert first.triggered and len(first.blocked) == 2
                assert {h.gate for h in first.blocked} == {"safe_mode"}
                assert raising_at_venue(market) == []
                await wait_until(lambda: any("SAFE MODE ENTERED" in t for t in tg.texts(CHAT)))
                assert any("manual kill switch" in t for t in tg.texts(CHAT))

                n = len(tg.sent)
                tg.inject(CHAT, "/status")
                await tg.wait_sent(n + 1)
                assert "safe mode ON: manual kill switch" in tg.sent[-1]["text"]

                tg.inject(CHAT, "/safemode off")
                await wait_until(lambda: not store.manual_safe_mode)
                for _ in range(3):
                    await agent.on_candle_close(candle(market))
                    market.advance()
                assert not agent.plans[-1].safe_mode
                assert raising_at_venue(market)  # exposure-raising orders went out again
                assert [e[2] for e in store.events("manual_safe_mode")] == ["on", "off"]
            finally:
                await mon.aclose()
            assert mon.stats.commands == 3 and mon.stats.refused == 3

    asyncio.run(main())


def test_telegram_digest_and_balance_of_the_paper_agent(setup) -> None:
    agent, market, candles, _store, stop = setup

    async def main() -> None:
        await replay(agent, market, candles)
        async with FakeTelegram() as tg:
            mon = monitor(tg, LiveControl(agent, stop, CFG.backtest.nav0))
            mon.start()
            try:
                tg.inject(CHAT, "/digest")
                tg.inject(CHAT, "/balance")
                sent = await tg.wait_sent(2)
            finally:
                await mon.aclose()
        digest, balance = sent[0]["text"], sent[1]["text"]
        assert re.match(r"Daily digest 2022-08-02 \(UTC\)\nROI: ", digest), digest  # today so far
        assert balance.count("\n") == 2 and balance.startswith("spot: ")

    asyncio.run(main())
