"""Retrying a venue call that failed for a reason that may pass (docs/rules.md, Execution).

Only transient failures are retried: a transport error (the request may not have arrived), a
server error (HTTP 5xx, Gate ``SERVER_ERROR``) or rate limiting (429). A definite refusal (bad
key, wrong account mode, invalid request) is raised at once: waiting would not change it. Used
on the start-up path, where one failed call would otherwise stop the agent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..exchange.exchange_gate import ExchangeError, is_transient

log = logging.getLogger("adaptive_agent.agent")
T = TypeVar("T")
__all__ = ["is_transient", "retrying"]

ATTEMPTS = 6  # 1 + 2 + 4 + 8 + 16 s of waiting: about half a minute
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 30.0


async def retrying(
    call: Callable[[], Awaitable[T]],
    what: str,
    *,
    attempts: int = ATTEMPTS,
    first_delay_s: float = FIRST_DELAY_S,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """``await call()``; a transient ``ExchangeError`` is retried after 1, 2, 4 ... s (at most
    ``MAX_DELAY_S``), ``attempts`` tries in all; the last failure, or a definite one, raises."""
    delay = first_delay_s
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except ExchangeError as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            log.warning(
                "%s: try %d of %d failed (%s); again in %.0f s", what, attempt, attempts, exc, delay
            )
            await sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)
    raise AssertionError("unreachable")  # pragma: no cover
