"""The ccxt adapter's call wrapper: errors mapped to ours, reads (never writes) asked again."""

from __future__ import annotations

import asyncio

import ccxt.async_support as ccxt_async
import pytest

from adaptive_agent.exchange.exchange_gate import AmbiguousOrderError, ExchangeError
from adaptive_agent.exchange.gate_ccxt import GateCcxtExchange, _is_read


@pytest.fixture()
def gate():
    g = GateCcxtExchange("k", "s", rest_url="http://127.0.0.1:9")
    g.read_retry_delays_s = (0.0, 0.0, 0.0)
    yield g
    asyncio.run(g.ex.close())


def test_reads_and_writes_are_told_apart_on_the_pinned_ccxt(gate):
    ex = gate.ex
    assert _is_read(ex.fetch_balance) and _is_read(ex.fetch_order) and _is_read(ex.load_markets)
    assert _is_read(ex.privateSpotGetAccounts) and _is_read(ex.privateFuturesGetSettleAccounts)
    assert not _is_read(ex.create_order) and not _is_read(ex.cancel_order)
    assert not _is_read(ex.privateSpotPostBatchOrders)
    assert not _is_read(ex.privateWalletPostTransfers)
    assert not _is_read(lambda: None)  # unknown: not a read


def flaky(name: str, failures: list[Exception]):
    calls = []

    async def fn():
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return "ok"

    fn.__name__ = name
    return fn, calls


def test_a_read_meeting_server_errors_is_asked_again(gate):
    fn, calls = flaky("fetch_balance", [ccxt_async.ExchangeNotAvailable("502")] * 3)
    assert asyncio.run(gate._call(fn)) == "ok" and len(calls) == 4
    fn, calls = flaky("fetch_balance", [ccxt_async.ExchangeNotAvailable("502")] * 4)
    with pytest.raises(AmbiguousOrderError):
        asyncio.run(gate._call(fn))
    assert len(calls) == 4


def test_a_write_or_a_definite_refusal_is_not_repeated(gate):
    fn, calls = flaky("create_order", [ccxt_async.ExchangeNotAvailable("502")])
    with pytest.raises(AmbiguousOrderError):
        asyncio.run(gate._call(fn))
    assert len(calls) == 1
    fn, calls = flaky("fetch_order", [ccxt_async.AuthenticationError('{"label": "INVALID_KEY"}')])
    with pytest.raises(ExchangeError) as info:
        asyncio.run(gate._call(fn))
    assert len(calls) == 1 and info.value.label == "INVALID_KEY"


def test_the_streamed_order_states_are_bounded(gate, monkeypatch):
    from adaptive_agent.exchange import gate_ccxt
    from adaptive_agent.exchange.exchange_gate import OrderState, OrderStatus

    monkeypatch.setattr(gate_ccxt, "STREAM_MEMORY", 5)
    for i in range(12):
        gate._remember(f"t-{i}", OrderState(f"t-{i}", OrderStatus.OPEN))
    gate._remember("t-8", OrderState("t-8", OrderStatus.CLOSED, 1.0))  # an update: newest again
    assert len(gate._latest) == 5
    assert gate.latest_order_state("t-0") is None  # the oldest are forgotten
    assert gate.latest_order_state("t-8").status is OrderStatus.CLOSED
    assert list(gate._latest) == ["t-7", "t-9", "t-10", "t-11", "t-8"]
