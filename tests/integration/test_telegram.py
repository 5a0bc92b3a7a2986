"""TelegramMonitor end to end: alerts sent, commands obeyed once, restarts and outages.

Against the loopback fake Bot API server; the alert rules alone are in
tests/unit/monitoring/test_alert_rules.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time

import pytest

from adaptive_agent.config import AppConfig
from adaptive_agent.monitoring.monitor import Monitor
from adaptive_agent.monitoring.telegram import (
    HELP_TEXT,
    REFUSAL_TEXT,
    AgentControl,
    TelegramMonitor,
)
from adaptive_agent.policy.policy_layer import Secret
from tests.support.alert_inputs import Clock, bar
from tests.support.fake_telegram import TOKEN, FakeTelegram

CHAT = 4242
OTHER = 9999


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


def live(tg: FakeTelegram, control=None, chat: int = CHAT, **kw) -> TelegramMonitor:
    kw.setdefault("poll_timeout_s", 1)
    kw.setdefault("retry_backoff_s", 0.05)
    kw.setdefault("close_timeout_s", 2.0)
    kw.setdefault("send_timeout_s", 2.0)
    return TelegramMonitor(
        Secret("TELEGRAM_BOT_TOKEN", TOKEN), chat, control, base_url=tg.base_url, **kw
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


def test_restart_does_not_rerun_old_commands(tmp_path) -> None:
    """PTB confirms handled updates when polling stops: a restart is not handed them again."""

    async def main() -> None:
        async with FakeTelegram() as tg:
            ctl = FakeControl()
            first = live(tg, ctl)
            first.start()
            tg.inject(CHAT, "/safemode on")
            await tg.wait_sent(1)
            await first.aclose()
            assert tg.pending_updates() == []

            second = live(tg, ctl)
            second.start()
            tg.inject(CHAT, "/status")
            await tg.wait_sent(2)
            await second.aclose()
            assert ctl.calls == [("set_safe_mode", True), ("status",)]

    asyncio.run(main())


def test_restart_after_a_crash_does_not_rerun_old_commands(tmp_path) -> None:
    """Telegram never saw the confirmation (the process died): the offset file still holds."""

    async def main() -> None:
        async with FakeTelegram() as tg:
            tg.forget_confirmations = True
            ctl = FakeControl()
            offsets = tmp_path / "tg_offset.json"
            first = live(tg, ctl, offset_path=offsets)
            first.start()
            tg.inject(CHAT, "/safemode on")
            tg.inject(CHAT, "/stop")
            await tg.wait_sent(2)
            await first.aclose()
            assert tg.pending_updates() == [1, 2]  # Telegram would hand them out again
            assert json.loads(offsets.read_text()) == {"offset": 3}

            second = live(tg, ctl, offset_path=offsets)
            second.start()
            tg.inject(CHAT, "/status")
            await tg.wait_sent(3)
            await second.aclose()
            assert ctl.calls == [("set_safe_mode", True), ("stop",), ("status",)]
            assert json.loads(offsets.read_text()) == {"offset": 4}

            # without the file the same restart would run them again: the file is what holds
            third = live(tg, ctl)
            third.start()
            await tg.wait_sent(6)
            await third.aclose()
            assert ctl.calls[3:] == [("set_safe_mode", True), ("stop",), ("status",)]

    asyncio.run(main())


def test_help_plain_text_and_empty_messages() -> None:
    async def main() -> None:
        async with FakeTelegram() as tg:
            ctl = FakeControl()
            mon = live(tg, ctl)
            mon.start()
            tg.inject(CHAT, "/help")
            tg.inject(CHAT, "")  # nothing to answer
            tg.inject(CHAT, "hello")
            tg.inject(CHAT, "/stop@some_other_bot")  # not addressed to this bot: silence
            tg.inject(CHAT, "/help@fake_test_bot")  # addressed to this one
            await tg.wait_sent(3)
            await mon.aclose()
            assert tg.texts(CHAT) == [HELP_TEXT, HELP_TEXT, HELP_TEXT]
            assert ctl.calls == [] and mon.stats.commands == 2

    asyncio.run(main())


def test_in_a_group_only_allowed_users_command_and_by_default_nobody() -> None:
    group = -100_42

    async def scenario(allowed: tuple[int, ...]) -> tuple[list[str], list[str]]:
        async with FakeTelegram() as tg:
            ctl = FakeControl()
            mon = live(tg, ctl, chat=group, allowed_user_ids=allowed)
            mon.start()
            tg.inject(group, "/stop", user_id=555)  # a member of the group
            tg.inject(group, "/safemode on", user_id=999)
            await tg.wait_sent(2)
            await mon.aclose()
            return ctl.calls, tg.texts(group)

    calls, texts = asyncio.run(scenario(()))
    assert calls == [] and all("may not command" in t for t in texts)
    calls, texts = asyncio.run(scenario((999,)))
    assert calls == [("set_safe_mode", True)] and "User 555 may not command" in texts[0]


class SlowControl(FakeControl):
    def __init__(self) -> None:
        super().__init__()
        self.never = asyncio.Event()

    async def status(self) -> str:
        self._note("status")
        await asyncio.sleep(5)
        return "late"

    async def stop(self) -> str:
        self._note("stop")
        await self.never.wait()
        return "never"


def test_command_timeout_and_commands_interrupted_by_close() -> None:
    async def main() -> None:
        async with FakeTelegram() as tg:
            ctl = SlowControl()
            mon = live(tg, ctl, command_timeout_s=0.2)
            mon.start()
            tg.inject(CHAT, "/status")
            await tg.wait_sent(1)
            assert tg.sent[0]["text"] == "/status: no answer from the agent within 0.2 s"
            mon._commands._command_timeout_s = 30.0
            tg.inject(CHAT, "/stop")
            await wait_until(lambda: ("stop",) in ctl.calls)
            t0 = time.perf_counter()
            await mon.aclose()
            assert time.perf_counter() - t0 < 3.0
            assert tg.sent[-1]["text"] == "/stop: interrupted, the monitor is shutting down"

    asyncio.run(main())


def test_without_an_agent_loop_commands_run_on_the_worker() -> None:
    async def main() -> None:
        async with FakeTelegram() as tg:
            tg.fail_updates = [409, 502]  # another poller for a moment, then a bad gateway
            ctl = FakeControl()
            mon = live(tg, ctl)
            await asyncio.to_thread(mon.start)  # no running loop in that thread
            tg.inject(CHAT, "/status")
            await tg.wait_sent(1, timeout=10.0)
            await mon.aclose()
            assert ctl.calls == [("status",)]
            assert ctl.loops and id(asyncio.get_running_loop()) not in ctl.loops

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
