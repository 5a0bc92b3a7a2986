"""TelegramMonitor: alert rules and rate limits, commands, and outages (fake Bot API server)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from dataclasses import replace

import pytest

from adaptive_agent.config import AppConfig
from adaptive_agent.monitoring.events import BarSnapshot, Monitor
from adaptive_agent.monitoring.telegram import (
    HELP_TEXT,
    REFUSAL_TEXT,
    AgentControl,
    AlertLimiter,
    TelegramMonitor,
)
from adaptive_agent.policy.policy_layer import Secret
from tests.support.fake_telegram import TOKEN, FakeTelegram

CHAT = 4242
OTHER = 9999
MIN = 60_000


class Clock:
    def __init__(self, t: int = 1_750_000_000_000) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t

    def advance(self, minutes: float) -> None:
        self.t += int(minutes * MIN)


def bar(t: int = 0, **kw) -> BarSnapshot:
    base = BarSnapshot(
        time_ms=1_750_000_000_000 + t,
        nav=10_000.0,
        price_ref=60_000.0,
        basis=0.0,
        w_spot=0.5,
        w_long=0.0,
        w_short=0.5,
        delta_usdt=0.0,
        delta_frac=0.0,
        margin_frac=0.2,
        safe_mode=False,
        funding_rate=0.0001,
    )
    return replace(base, **kw)


def offline(clock: Clock, **kw) -> TelegramMonitor:
    """A monitor that is never started: its queue shows what it would send."""
    return TelegramMonitor(
        Secret("TELEGRAM_BOT_TOKEN", TOKEN), CHAT, base_url="http://127.0.0.1:9/bot",
        clock_ms=clock, repeat_interval_s=1800, **kw,
    )  # fmt: skip


def drain(mon: TelegramMonitor) -> list[str]:
    out = mon.pending_texts()
    mon._sender.pending.clear()
    return out


class FakeControl:
    """The agent side of the commands, as the test's (agent's) loop sees it."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.safe_mode = False
        self.stopped = False
        self.loops: set[int] = set()

    def _note(self, *call) -> None:
        self.calls.append(call)
        self.loops.add(id(asyncio.get_running_loop()))

    async def status(self) -> str:
        self._note("status")
        return f"status: safe_mode={self.safe_mode}"

    async def balance(self) -> str:
        self._note("balance")
        return "NAV 10,000.00 USDT"

    async def digest(self) -> str:
        self._note("digest")
        return "digest: no data"

    async def set_safe_mode(self, on: bool) -> str:
        self._note("set_safe_mode", on)
        self.safe_mode = on
        return f"safe mode {'on' if on else 'off'}"

    async def stop(self) -> str:
        self._note("stop")
        self.stopped = True
        return "stopping"


def test_protocols_are_met() -> None:
    assert isinstance(FakeControl(), AgentControl)
    mon: Monitor = offline(Clock())
    assert callable(mon.on_bar) and callable(mon.close)
    mon.close()


def test_token_never_in_repr_and_config_thresholds() -> None:
    mon = TelegramMonitor.from_config(
        AppConfig(), Secret("TELEGRAM_BOT_TOKEN", TOKEN), str(CHAT), base_url="http://x/bot"
    )
    assert TOKEN not in repr(mon) and TOKEN not in str(mon)
    assert mon._rules.funding_bps == 5.0 and mon._rules.margin_frac == 0.70
    mon.close()
    with pytest.raises(ValueError, match="chat_id"):
        TelegramMonitor(Secret("T", TOKEN), "@channel")


# --- alert rules (no network) ---------------------------------------------------------------


def test_limiter_fire_repeat_clear_refire() -> None:
    lim = AlertLimiter(repeat_interval_ms=30 * MIN, event_clear_ms=15 * MIN)
    assert lim.condition("k", True, 0).action == "start"
    assert lim.condition("k", True, 5 * MIN) is None
    assert lim.condition("k", True, 29 * MIN) is None
    d = lim.condition("k", True, 30 * MIN)
    assert (d.action, d.suppressed) == ("repeat", 2)
    assert lim.condition("k", False, 31 * MIN).action == "clear"
    assert lim.condition("k", False, 32 * MIN) is None
    assert lim.condition("k", True, 33 * MIN).action == "start"  # back: fires at once
    # event-style: quiet longer than event_clear_ms means the next one is a new onset
    assert lim.event("e", 0).action == "start"
    assert lim.event("e", 10 * MIN) is None
    # the gap is measured from the last call: 10 -> 26 min is 16 min of quiet, a new onset
    assert lim.event("e", 26 * MIN).action == "start"


@pytest.mark.parametrize("kind", ["funding", "margin", "safe_mode", "circuit_breaker", "watchdog"])
def test_alert_fires_once_is_rate_limited_and_fires_again(kind: str) -> None:
    clock = Clock()
    mon = offline(clock)
    on = {
        "funding": {"funding_rate": 0.0008},  # 8 bps > 5
        "margin": {"margin_frac": 0.75},
        "safe_mode": {"safe_mode": True, "safe_mode_reasons": ("basis 1.2% > 1%",)},
    }

    def observe(active: bool) -> None:
        if kind in on:
            mon.on_bar(bar(clock.t - 1_750_000_000_000, **(on[kind] if active else {})))
        elif active:
            mon.on_alert(kind, f"{kind} tripped", clock.t)

    observe(False)
    assert drain(mon) == []
    observe(True)
    first = drain(mon)
    assert len(first) == 1
    assert {"funding": "FUNDING", "margin": "USED MARGIN", "safe_mode": "SAFE MODE ENTERED"}.get(
        kind, kind.upper().replace("_", " ")
    ) in first[0]
    for _ in range(5):  # persists for 25 minutes: nothing more
        clock.advance(5)
        observe(True)
    assert drain(mon) == []
    clock.advance(5)  # 30 minutes after the first: one reminder, with the suppressed count
    observe(True)
    reminder = drain(mon)
    assert len(reminder) == 1 and "still" in reminder[0] and "5 repeat(s) suppressed" in reminder[0]
    clock.advance(5)
    observe(True)
    assert drain(mon) == []
    # clears ...
    if kind in on:
        clock.advance(5)
        observe(False)
        cleared = drain(mon)
        assert len(cleared) == 1
        assert ("LEFT" if kind == "safe_mode" else "back") in cleared[0]
    else:
        clock.advance(16)  # event kinds clear after 15 quiet minutes
    # ... and comes back 5 minutes later (well inside the 30-minute interval): fires at once
    clock.advance(5)
    observe(True)
    again = drain(mon)
    assert len(again) == 1 and "still" not in again[0]
    mon.close()


def test_negative_funding_and_unknown_funding() -> None:
    clock = Clock()
    mon = offline(clock)
    mon.on_bar(bar(funding_rate=-0.0006))
    [msg] = drain(mon)
    assert "-6.00 bps" in msg and "shorts pay longs" in msg
    clock.advance(5)
    mon.on_bar(bar(funding_rate=None))  # unknown: no change, no "cleared"
    assert drain(mon) == []
    mon.on_bar(bar(funding_rate=0.0004))  # 4 bps: within the limit
    assert "back within" in drain(mon)[0]
    mon.close()


def test_safe_mode_left_clears_breaker_and_texts_carry_reasons() -> None:
    clock = Clock()
    mon = offline(clock)
    mon.on_alert("circuit_breaker", "drawdown 21% > 20%", clock.t)
    mon.on_bar(bar(safe_mode=True, safe_mode_reasons=("drawdown", "error streak")))
    msgs = drain(mon)
    assert "CIRCUIT BREAKER: drawdown 21% > 20%" in msgs[0]
    assert "SAFE MODE ENTERED: drawdown, error streak" in msgs[1]
    clock.advance(40)
    mon.on_bar(bar(safe_mode=False))
    assert "SAFE MODE LEFT after 40 min" in drain(mon)[0]
    clock.advance(1)  # the breaker trips again at once: a new alert, not a suppressed repeat
    mon.on_alert("circuit_breaker", "error streak 5", clock.t)
    assert "CIRCUIT BREAKER: error streak 5" in drain(mon)[0]
    mon.close()


def test_other_alert_kinds_do_not_disturb_bar_driven_state() -> None:
    clock = Clock()
    mon = offline(clock)
    mon.on_bar(bar(safe_mode=True, safe_mode_reasons=("manual",)))
    mon.on_alert("safe_mode", "entered by the agent", clock.t)  # own key, own limit
    mon.on_alert("reconcile", "2 unknown orders", clock.t)
    mon.on_alert("reconcile", "2 unknown orders", clock.t)
    msgs = drain(mon)
    assert len(msgs) == 3 and "SAFE MODE ENTERED: manual" in msgs[0]
    assert "RECONCILE: 2 unknown orders" in msgs[2]
    clock.advance(5)
    mon.on_bar(bar(safe_mode=True, safe_mode_reasons=("manual",)))
    assert drain(mon) == []  # still the same safe-mode episode
    mon.close()


def test_monitor_methods_swallow_bad_input() -> None:
    mon = offline(Clock())
    mon.on_bar(None)  # type: ignore[arg-type]
    mon.on_alert("watchdog", None, None)  # type: ignore[arg-type]
    mon.on_rebalance(None, [])  # type: ignore[arg-type]
    mon.close()
    mon.close()  # idempotent
    mon.on_bar(bar(margin_frac=0.9))  # after close: dropped, no error
    assert mon.pending_texts() == []


# --- end to end against the fake Bot API ----------------------------------------------------


def live(tg: FakeTelegram, control=None, **kw) -> TelegramMonitor:
    kw.setdefault("poll_timeout_s", 1)
    kw.setdefault("retry_backoff_s", 0.05)
    kw.setdefault("close_timeout_s", 2.0)
    kw.setdefault("send_timeout_s", 2.0)
    return TelegramMonitor(
        Secret("TELEGRAM_BOT_TOKEN", TOKEN), CHAT, control, base_url=tg.base_url, **kw
    )


async def wait_until(pred, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def test_alerts_are_delivered_with_form_encoded_posts() -> None:
    async def main() -> None:
        async with FakeTelegram() as tg:
            mon = live(tg)
            mon.start()
            mon.on_bar(bar(margin_frac=0.8))
            mon.on_alert("watchdog", "RSS 2.3 GB > 2 GB", 1_750_000_000_000)
            sent = await tg.wait_sent(2)
            assert all(m["chat_id"] == CHAT for m in sent)
            assert "USED MARGIN 80.0%" in sent[0]["text"]
            assert "WATCHDOG: RSS 2.3 GB" in sent[1]["text"]
            assert "getMe" in [c for c, _ in tg.calls]
            assert ("sendMessage", "application/x-www-form-urlencoded") in tg.content_types
            await mon.aclose()
            assert mon.stats.sent == 2 and mon.stats.failed == 0

    asyncio.run(main())


def test_commands_from_the_configured_chat_only() -> None:
    async def main() -> None:
        async with FakeTelegram() as tg:
            ctl = FakeControl()
            mon = live(tg, ctl)
            mon.start()  # from the agent's loop: commands run on this loop
            tg.inject(CHAT, "/safemode on")
            await tg.wait_sent(1)
            assert ctl.calls == [("set_safe_mode", True)] and ctl.safe_mode
            assert tg.sent[-1] == {**tg.sent[-1], "chat_id": CHAT, "text": "safe mode on"}

            tg.inject(OTHER, "/safemode off")  # a stranger: refused, nothing changes
            tg.inject(OTHER, "/stop")
            await tg.wait_sent(2)
            assert tg.sent[-1]["chat_id"] == OTHER and tg.sent[-1]["text"] == REFUSAL_TEXT
            tg.inject(CHAT, "/status@fake_test_bot")
            await tg.wait_sent(3)
            assert ctl.calls == [("set_safe_mode", True), ("status",)]
            assert ctl.safe_mode is True and not ctl.stopped
            assert mon.stats.refused == 2
            # only one refusal per chat per minute goes out
            assert [m["text"] for m in tg.sent].count(REFUSAL_TEXT) == 1
            assert tg.sent[-1]["text"] == "status: safe_mode=True"

            tg.inject(CHAT, "/frobnicate")
            tg.inject(CHAT, "/safemode maybe")
            tg.inject(CHAT, "/balance")
            tg.inject(CHAT, "/digest")
            tg.inject(CHAT, "/safemode off")
            tg.inject(CHAT, "/stop")
            await tg.wait_sent(9)
            texts = tg.texts(CHAT)
            assert texts[2].startswith("Unknown command /frobnicate") and HELP_TEXT in texts[2]
            assert texts[3] == "Usage: /safemode on|off"
            assert texts[4:] == ["NAV 10,000.00 USDT", "digest: no data", "safe mode off",
                                 "stopping"]  # fmt: skip
            assert ctl.stopped and ctl.safe_mode is False
            assert ctl.loops == {id(asyncio.get_running_loop())}
            await mon.aclose()
            # every update was confirmed to the server: a restart would not see them again
            assert tg.pending_updates() == []
            n_calls = len(ctl.calls)
            assert n_calls == 6  # each command handled exactly once

    asyncio.run(main())


def test_stale_command_is_not_executed(tmp_path) -> None:
    async def main() -> None:
        async with FakeTelegram() as tg:
            ctl = FakeControl()
            mon = live(tg, ctl, offset_path=tmp_path / "tg_offset.json")
            tg.inject(CHAT, "/stop", date=int(time.time()) - 3600)  # queued while we were down
            mon.start()
            await tg.wait_sent(1)
            assert "too old" in tg.sent[0]["text"] and ctl.calls == []
            await mon.aclose()
            saved = json.loads((tmp_path / "tg_offset.json").read_text())
            assert saved == {"offset": 2}

    asyncio.run(main())


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_telegram_down_never_raises_or_blocks(caplog) -> None:
    async def main() -> None:
        mon = TelegramMonitor(
            Secret("TELEGRAM_BOT_TOKEN", TOKEN), CHAT, FakeControl(),
            base_url=f"http://127.0.0.1:{_closed_port()}/bot", poll_timeout_s=1,
            retry_backoff_s=0.02, max_attempts=2, close_timeout_s=1.0, send_timeout_s=1.0,
        )  # fmt: skip
        mon.start()
        clock_t = 0
        worst = 0.0
        for i in range(50):
            t0 = time.perf_counter()
            mon.on_bar(bar(i * 300_000, margin_frac=0.9 if i % 2 else 0.1))
            mon.on_alert("circuit_breaker", "x", clock_t)
            worst = max(worst, time.perf_counter() - t0)
            await asyncio.sleep(0)
        assert worst < 0.05
        await wait_until(lambda: mon.stats.failed >= 1)
        t0 = time.perf_counter()
        await mon.aclose()
        assert time.perf_counter() - t0 < 4.0
        assert mon.stats.sent == 0

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
    assert "dropped after 2 attempt(s)" in caplog.text
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text


def test_server_500_then_recovers() -> None:
    async def main() -> None:
        async with FakeTelegram() as tg:
            tg.fail_status = 500
            mon = live(tg, max_attempts=3)
            mon.start()
            mon.on_bar(bar(margin_frac=0.9))  # must not raise
            await wait_until(lambda: mon.stats.failed == 1)
            assert tg.failed_sends == 3 and tg.sent == []  # bounded retries, then dropped
            assert "Internal Server Error" in mon.stats.errors[-1]
            tg.fail_status = None
            mon.on_alert("watchdog", "CPU 80%", 0)
            await tg.wait_sent(1)
            assert "WATCHDOG" in tg.sent[0]["text"]
            await mon.aclose()

    asyncio.run(main())


def test_hung_server_does_not_block_close() -> None:
    """A server that accepts and never answers: sends time out, close() stays bounded."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    port = srv.getsockname()[1]
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(srv.accept()[0])
            except OSError:
                continue

    th = threading.Thread(target=accept, daemon=True)
    th.start()
    try:
        mon = TelegramMonitor(
            Secret("TELEGRAM_BOT_TOKEN", TOKEN), CHAT, base_url=f"http://127.0.0.1:{port}/bot",
            send_timeout_s=0.3, max_attempts=5, retry_backoff_s=0.05, close_timeout_s=0.5,
        )  # fmt: skip
        mon.start()
        t0 = time.perf_counter()
        mon.on_bar(bar(margin_frac=0.9))
        assert time.perf_counter() - t0 < 0.05
        time.sleep(0.2)
        t0 = time.perf_counter()
        mon.close()
        assert time.perf_counter() - t0 < 3.0
        assert mon.stats.sent == 0
    finally:
        stop.set()
        th.join()
        for c in accepted:
            c.close()
        srv.close()


def test_bad_token_is_reported_without_leaking_it(caplog) -> None:
    async def main() -> None:
        async with FakeTelegram() as tg:
            bad = "999999:WRONG-token-abcdefghij"
            mon = TelegramMonitor(
                Secret("TELEGRAM_BOT_TOKEN", bad), CHAT, FakeControl(), base_url=tg.base_url,
                poll_timeout_s=1,
            )  # fmt: skip
            mon.start()
            mon.on_bar(bar(margin_frac=0.9))
            await wait_until(lambda: mon.stats.failed == 1)
            await mon.aclose()
            assert tg.unauthorized >= 1 and tg.sent == []

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
    assert "rejected" in caplog.text
    assert "WRONG-token" not in caplog.text


def test_fake_server_speaks_json_and_rejects_bad_tokens() -> None:
    import httpx

    async def main() -> None:
        async with FakeTelegram() as tg, httpx.AsyncClient(timeout=5) as c:
            base = tg.base_url
            r = await c.post(f"{base}{TOKEN}/sendMessage", json={"chat_id": 42, "text": "hi"})
            assert r.status_code == 200 and r.json()["result"]["chat"]["id"] == 42
            r = await c.post(f"{base}{TOKEN}/sendMessage", data={"chat_id": "43", "text": "yo"})
            assert r.status_code == 200 and tg.sent[-1] == {**tg.sent[-1], "chat_id": 43}
            r = await c.post(f"{base}0:bad/getMe")
            assert r.status_code == 401 and r.json()["ok"] is False
            tg.inject(CHAT, "/status")
            tg.inject(CHAT, "/balance")
            r = await c.post(f"{base}{TOKEN}/getUpdates", json={"offset": 0, "timeout": 0})
            assert [u["update_id"] for u in r.json()["result"]] == [1, 2]
            r = await c.post(f"{base}{TOKEN}/getUpdates", data={"offset": "2", "timeout": "0"})
            assert [u["update_id"] for u in r.json()["result"]] == [2]
            t0 = time.monotonic()
            r = await c.post(f"{base}{TOKEN}/getUpdates", json={"offset": 3, "timeout": 0.3})
            assert r.json()["result"] == [] and time.monotonic() - t0 >= 0.25
            assert tg.pending_updates() == []

    asyncio.run(main())


def test_long_text_is_split() -> None:
    async def main() -> None:
        async with FakeTelegram() as tg:
            mon = live(tg)
            mon.start()
            mon.send_text("\n".join(f"line {i:05d} " + "x" * 60 for i in range(200)))
            sent = await tg.wait_sent(4)
            await mon.aclose()
            assert all(len(m["text"]) <= 4096 for m in sent)
            assert "".join(m["text"] for m in sent).count("line ") == 200

    asyncio.run(main())
