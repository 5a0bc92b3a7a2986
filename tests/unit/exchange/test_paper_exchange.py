"""The in-process venue's reads: one after the other, none left unawaited."""

from __future__ import annotations

import pytest


def test_reads_run_one_after_the_other_in_process_and_a_failure_leaves_none_unawaited():
    import asyncio

    from adaptive_agent.exchange.exchange_gate import ExchangeError
    from adaptive_agent.exchange.paper_exchange import PaperExchange

    order: list[str] = []

    async def ok(tag: str) -> str:
        order.append(tag)
        return tag

    async def boom() -> str:
        raise ExchangeError("down")

    gate = PaperExchange.__new__(PaperExchange)  # no market needed for read_all
    assert asyncio.run(gate.read_all(ok("a"), ok("b"))) == ["a", "b"] and order == ["a", "b"]
    later = ok("c")
    with pytest.raises(ExchangeError):
        asyncio.run(gate.read_all(boom(), later))
    assert order == ["a", "b"] and later.cr_frame is None  # closed, never run
