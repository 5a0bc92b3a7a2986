"""Clocks the imperative shell waits on: the system's for live, a virtual one for replays.

The executor and the agent loop never call ``time`` or ``asyncio.sleep`` themselves; they are
handed a ``Clock``. In a replay (paper) time does not pass while the agent waits for a fill, so
the virtual clock's ``sleep`` moves its own monotonic time on at once: the post-only timeout
keeps its configured value and its meaning, and a replay still runs at full speed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Epoch milliseconds (the venue's or the replay's time)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: deadlines are measured on it."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall time; ``now_ms`` and ``sleep`` may be replaced (a feed's clock, a test's sleep)."""

    def __init__(
        self,
        now_ms: Callable[[], int] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._now_ms = now_ms or (lambda: int(time.time() * 1000))
        self._sleep = sleep or asyncio.sleep

    def now_ms(self) -> int:
        return self._now_ms()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await self._sleep(seconds)


class VirtualClock:
    """A replay's clock: ``sleep`` advances monotonic time without waiting."""

    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms
        self._elapsed = 0.0

    def now_ms(self) -> int:
        return self._now_ms()

    def monotonic(self) -> float:
        return self._elapsed

    async def sleep(self, seconds: float) -> None:
        self._elapsed += max(0.0, seconds)
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would
