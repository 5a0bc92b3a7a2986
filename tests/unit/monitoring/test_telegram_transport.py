"""Sending: chunking, bounded retries, Telegram's retry-after, refusals (a stub bot, no HTTP)."""

from __future__ import annotations

import asyncio
import datetime as dtm
import warnings

import pytest
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from adaptive_agent.monitoring.telegram_transport import (
    MAX_TEXT,
    Outgoing,
    Sender,
    TelegramStats,
    chunks,
)


def test_chunks_cut_at_line_breaks_within_the_limit() -> None:
    assert chunks("short") == ["short"]
    text = "\n".join(f"line {i:05d} " + "x" * 60 for i in range(200))
    parts = chunks(text)
    assert len(parts) > 1 and all(len(p) <= MAX_TEXT for p in parts)
    assert "\n".join(parts) == text  # cut at newlines: nothing lost but the cut itself
    unbroken = "y" * (MAX_TEXT + 10)  # no newline to cut at: a hard cut
    assert chunks(unbroken) == ["y" * MAX_TEXT, "y" * 10]


class StubBot:
    """``send_message`` raises the queued errors in turn, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.sent: list[tuple[int, str]] = []
        self.attempts = 0

    async def send_message(self, chat_id: int, text: str) -> None:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append((chat_id, text))


def run(bot: StubBot, *texts: str, max_attempts: int = 3) -> tuple[Sender, list[float]]:
    """Send ``texts`` through a Sender, then stop it; returns it and the back-off sleeps."""
    stats = TelegramStats()
    sender = Sender(stats, repr, max_queue=10, max_attempts=max_attempts, retry_backoff_s=0.5)
    sleeps: list[float] = []

    async def no_sleep(seconds: float) -> bool:
        sleeps.append(seconds)
        return False

    sender.sleep_or_stop = no_sleep  # type: ignore[method-assign]

    async def main() -> None:
        stop = sender.attach()
        for t in texts:
            sender.enqueue(Outgoing(1, t, "test", 0))
        task = asyncio.create_task(sender.run(bot))  # type: ignore[arg-type]
        while sender.pending or bot.attempts == 0:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.01)
        stop.set()
        sender.wake()
        await asyncio.wait_for(task, 2.0)

    asyncio.run(main())
    return sender, sleeps


def test_network_errors_are_retried_with_backoff_then_sent() -> None:
    bot = StubBot(NetworkError("down"), NetworkError("down"))
    sender, sleeps = run(bot, "hello")
    assert bot.sent == [(1, "hello")] and sleeps == [0.5, 1.0]
    assert sender.stats.sent == 1 and sender.stats.failed == 0


def test_retry_after_waits_what_telegram_asks() -> None:
    with warnings.catch_warnings():
        # PTB 22.8's own RetryAfter() reads its deprecated int attribute (a PTB matter)
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        error = RetryAfter(dtm.timedelta(seconds=7))
    bot = StubBot(error)
    sender, sleeps = run(bot, "hello")
    assert sleeps == [7.0] and sender.stats.sent == 1


def test_given_up_after_max_attempts() -> None:
    bot = StubBot(*(NetworkError("down") for _ in range(5)))
    sender, _ = run(bot, "lost", "second", max_attempts=2)
    assert sender.stats.failed == 2 and "down" in sender.stats.errors[-1]
    assert bot.sent == [] and sender.stats.sent == 0 and bot.attempts == 4


@pytest.mark.parametrize("error", [Forbidden("blocked"), BadRequest("chat not found")])
def test_refusals_are_not_retried(error: Exception) -> None:
    bot = StubBot(error)
    sender, sleeps = run(bot, "no", "yes")
    assert sleeps == [] and bot.sent == [(1, "yes")] and sender.stats.failed == 1


def test_rejected_token_disables_sending() -> None:
    bot = StubBot(InvalidToken("Unauthorized"))
    sender, _ = run(bot, "a", "b")
    assert sender.disabled and bot.attempts == 1 and sender.stats.failed == 2


def test_full_queue_drops_the_oldest_and_closed_queue_drops_all() -> None:
    stats = TelegramStats()
    sender = Sender(stats, repr, max_queue=2, max_attempts=1, retry_backoff_s=0.1)
    for t in "abc":
        sender.enqueue(Outgoing(1, t, "test", 0))
    assert [m.text for m in sender.pending] == ["b", "c"] and stats.dropped == 1
    sender.finished = True
    sender.enqueue(Outgoing(1, "d", "test", 0))
    assert stats.dropped == 2 and len(sender.pending) == 2
