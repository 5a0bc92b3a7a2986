"""Fault injection: accepted-then-timed-out orders, server errors, latency, websocket drops."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import pytest

from adaptive_agent.io.loaders import Candles
from adaptive_agent.sim.faults import Faults
from adaptive_agent.sim.runner import RunningSim, running_sim
from tests.support.sim_clients import GATE_OPTIONS, redirect_gate

KEY, SECRET = "f-key", "f-secret"
SPOT, PERP = "BTC/USDT", "BTC/USDT:USDT"


@pytest.fixture(scope="module")
def path(spot) -> Candles:
    return spot.slice(5000, 5200)


def client(sim: RunningSim, timeout_ms: int = 10_000) -> Any:
    ex = ccxt.gate(
        {
            "apiKey": KEY,
            "secret": SECRET,
            "enableRateLimit": False,
            "timeout": timeout_ms,
            "options": dict(GATE_OPTIONS),
        }
    )
    redirect_gate(ex, sim.url)
    return ex


@pytest.mark.parametrize("mode", ["delay", "drop"])
def test_an_order_accepted_before_a_timeout_exists_exactly_once(path, mode):
    async def main() -> None:
        faults = Faults(timeout_after_accept=2, timeout_delay_s=30, timeout_mode=mode)
        async with running_sim(path, KEY, SECRET, faults=faults, dual_mode=True) as sim:
            ex = client(sim, timeout_ms=400)
            try:
                await ex.load_markets()
                bid = sim.market.top("futures")[0]
                with pytest.raises(ccxt.NetworkError):  # RequestTimeout or a cut connection
                    await ex.create_order(
                        PERP, "limit", "buy", 2, bid, {"postOnly": True, "clientOrderId": "k1"}
                    )
                with pytest.raises(ccxt.NetworkError):
                    await ex.create_order(PERP, "market", "buy", 1, None, {"clientOrderId": "k2"})
                assert faults.timeout_after_accept == 0
                found = await ex.fetch_order("t-k1", PERP)  # the agent's recovery path
                assert found["status"] == "open" and found["amount"] == 2
                with pytest.raises(ccxt.InvalidOrder, match="REPEATED_CREATION"):
                    await ex.create_order(
                        PERP, "limit", "buy", 2, bid, {"postOnly": True, "clientOrderId": "k1"}
                    )
                open_ids = [o["clientOrderId"] for o in await ex.fetch_open_orders(PERP)]
                assert open_ids == ["t-k1"]
                history = [o["clientOrderId"] for o in await ex.fetch_closed_orders(PERP)]
                assert history == ["t-k2"]  # the filled market order is in the history
                assert sim.market.positions()["dual_long"]["size"] == 1
            finally:
                await ex.close()

    asyncio.run(main())


def test_server_errors_are_seeded_and_change_nothing(path):
    async def outcomes(seed: int) -> tuple[list[bool], int]:
        faults = Faults(error_rate=0.5, seed=seed)
        async with running_sim(path, KEY, SECRET, faults=faults) as sim:
            ex = client(sim)
            pattern = []
            try:
                await ex.load_markets()  # public calls never fail
                for _ in range(12):
                    try:
                        await ex.create_order(SPOT, "market", "buy", None, None, {"cost": 10})
                        pattern.append(True)
                    except ccxt.ExchangeNotAvailable:  # Gate's SERVER_ERROR
                        pattern.append(False)
            finally:
                await ex.close()
            return pattern, len(sim.market.order_history("spot"))

    async def main() -> None:
        first, placed = await outcomes(7)
        again, _ = await outcomes(7)
        other, _ = await outcomes(8)
        assert first == again and first != other
        assert True in first and False in first
        assert placed == first.count(True)

    asyncio.run(main())


def test_latency_is_added_and_faults_change_at_run_time(path):
    async def main() -> None:
        async with running_sim(path, KEY, SECRET) as sim, aiohttp.ClientSession() as http:
            url = f"{sim.url}/api/v4/spot/tickers?currency_pair=BTC_USDT"
            async with http.post(f"{sim.url}/sim/faults", json={"latency_ms": 250}) as r:
                assert r.status == 200 and (await r.json())["latency_ms"] == 250
            start = time.monotonic()
            async with http.get(url) as r:
                assert r.status == 200
            assert time.monotonic() - start >= 0.25
            async with http.post(f"{sim.url}/sim/faults", json={"nope": 1}) as r:
                assert r.status == 400 and "nope" in (await r.json())["error"]
            async with http.post(f"{sim.url}/sim/faults", json={"error_rate": 2}) as r:
                assert r.status == 400
            assert sim.faults.error_rate == 0 and sim.faults.latency_ms == 250

    asyncio.run(main())


def test_auto_advance_moves_the_clock_at_the_given_speed(path):
    async def main() -> None:
        async with running_sim(path, KEY, SECRET, speed=40) as sim:
            await asyncio.sleep(0.5)
            assert 5 <= sim.market.bar <= 30
        bar = sim.market.bar
        await asyncio.sleep(0.1)
        assert sim.market.bar == bar  # stopped with the server

    asyncio.run(main())
