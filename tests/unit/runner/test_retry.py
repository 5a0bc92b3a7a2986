"""Retrying transient venue failures on the start-up path, and only those."""

from __future__ import annotations

import asyncio

import pytest

from adaptive_agent.exchange.exchange_gate import AmbiguousOrderError, ExchangeError
from adaptive_agent.runner.retry import MAX_DELAY_S, is_transient, retrying


class Flaky:
    def __init__(self, failures: list[ExchangeError]) -> None:
        self.failures, self.calls = list(failures), 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def run(call, **kw):
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)

    return asyncio.run(retrying(call, "test", sleep=sleep, **kw)), waits


def test_transient_failures_are_retried_with_growing_waits():
    call = Flaky([AmbiguousOrderError("timeout"), ExchangeError("502", "SERVER_ERROR")] * 2)
    result, waits = run(call)
    assert result == "ok" and call.calls == 5 and waits == [1.0, 2.0, 4.0, 8.0]


def test_waits_are_capped_and_the_last_failure_raises():
    call = Flaky([ExchangeError("busy", "TOO_MANY_REQUESTS")] * 10)
    with pytest.raises(ExchangeError, match="busy"):
        run(call, attempts=8)
    assert call.calls == 8


def test_a_definite_refusal_is_not_retried():
    call = Flaky([ExchangeError("bad key", "INVALID_KEY")])
    with pytest.raises(ExchangeError, match="bad key"):
        run(call)
    assert call.calls == 1


def test_what_is_transient():
    assert is_transient(AmbiguousOrderError("reset"))
    assert is_transient(ExchangeError("x", "SERVER_ERROR"))
    assert is_transient(ExchangeError("x", "TOO_MANY_REQUESTS"))
    assert not is_transient(ExchangeError("x", "BALANCE_NOT_ENOUGH"))
    assert not is_transient(ExchangeError("dual mode off"))
    assert MAX_DELAY_S == 30.0
