"""Websockets: ccxt.pro gate and binance, and plain aiohttp clients, against the simulator."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import ccxt.pro as pro
import pytest

from adaptive_agent.io.loaders import Candles
from adaptive_agent.sim.runner import RunningSim, running_sim
from adaptive_agent.sim.signing import sign_ws
from tests.support.sim_clients import (
    BINANCE_OPTIONS,
    GATE_OPTIONS,
    redirect_binance,
    redirect_gate,
)

KEY, SECRET = "ws-key", "ws-secret"
SPOT, PERP = "BTC/USDT", "BTC/USDT:USDT"
WAIT = 5.0


@pytest.fixture(scope="module")
def path(spot) -> Candles:
    return spot.slice(1000, 1300)


def pro_gate(sim: RunningSim, secret: str = SECRET) -> Any:
    ex = pro.gate(
        {
            "apiKey": KEY,
            "secret": secret,
            "uid": "1",
            "enableRateLimit": False,
            "options": dict(GATE_OPTIONS),
        }
    )
    redirect_gate(ex, sim.url)
    return ex


async def soon(awaitable: Any) -> Any:
    return await asyncio.wait_for(awaitable, WAIT)


async def subscribed(coro: Any) -> asyncio.Task:
    """Start a watch and give it time to subscribe before the test makes something happen."""
    task = asyncio.ensure_future(coro)
    await asyncio.sleep(0.2)
    return task


def test_watch_orders_spot_and_swap_see_put_fill_and_cancel(path):
    async def main() -> None:
        async with running_sim(path, KEY, SECRET, dual_mode=True) as sim:
            ex = pro_gate(sim)
            try:
                await ex.load_markets()
                watch = await subscribed(ex.watch_orders(SPOT))
                ob = await ex.fetch_order_book(SPOT)
                bid = ob["bids"][0][0]
                placed = await ex.create_order(
                    SPOT, "limit", "buy", 0.001, bid, {"postOnly": True, "clientOrderId": "w1"}
                )
                first = (await soon(watch))[-1]
                assert first["id"] == placed["id"] and first["status"] == "open"
                assert first["clientOrderId"] == "t-w1"
                watch = await subscribed(ex.watch_orders(SPOT))
                await ex.cancel_order(placed["id"], SPOT)
                done = (await soon(watch))[-1]
                assert done["id"] == placed["id"] and done["status"] == "canceled"

                swap = await subscribed(ex.watch_orders(PERP))
                await ex.create_order(PERP, "market", "buy", 3, None, {"clientOrderId": "w2"})
                put = (await soon(swap))[0]
                assert put["clientOrderId"] == "t-w2" and put["symbol"] == PERP
                await asyncio.sleep(0.2)  # the fill and finish arrive into ccxt's order cache
                final = next(o for o in ex.orders if o["clientOrderId"] == "t-w2")
                assert final["status"] == "closed" and final["filled"] == 3
            finally:
                await ex.close()

    asyncio.run(main())


def test_watch_ticker_and_bids_asks_update_on_every_bar(path):
    async def main() -> None:
        async with running_sim(path, KEY, SECRET) as sim:
            ex = pro_gate(sim)
            try:
                await ex.load_markets()
                for symbol in (SPOT, PERP):
                    snap = await soon(ex.watch_ticker(symbol))  # a snapshot on subscribe
                    assert snap["last"] == sim.market.last()
                    nxt = await subscribed(ex.watch_ticker(symbol))
                    sim.market.advance()
                    tick = await soon(nxt)
                    assert tick["symbol"] == symbol and tick["last"] == sim.market.last()
                    assert (tick["bid"], tick["ask"]) == sim.market.top("spot")
                ba = await soon(ex.watch_bids_asks([PERP]))
                assert (ba[PERP]["bid"], ba[PERP]["ask"]) == sim.market.top("futures")
                candles = await subscribed(ex.watch_ohlcv(SPOT, "5m"))
                sim.market.advance()
                c, i = sim.market.candles, sim.market.bar
                assert (await soon(candles))[-1] == [
                    int(c.ts[i]),
                    c.open[i],
                    c.high[i],
                    c.low[i],
                    c.close[i],
                    0.0,
                ]
            finally:
                await ex.close()

    asyncio.run(main())


def test_watch_positions_sees_fills(path):
    async def main() -> None:
        async with running_sim(path, KEY, SECRET, dual_mode=True) as sim:
            ex = pro_gate(sim)
            try:
                await ex.load_markets()
                await soon(ex.watch_positions([PERP]))  # the REST snapshot: nothing held
                nxt = await subscribed(ex.watch_positions([PERP]))
                await ex.create_order(PERP, "market", "sell", 4)
                rows = await soon(nxt)
                short = next(p for p in rows if p["side"] == "short")
                assert short["contracts"] == 4 and short["info"]["mode"] == "dual_short"
            finally:
                await ex.close()

    asyncio.run(main())


def test_private_subscription_with_a_wrong_secret_is_refused(path):
    async def main() -> None:
        async with running_sim(path, KEY, SECRET) as sim:
            ex = pro_gate(sim, secret="not-the-secret")
            try:
                await ex.load_markets()
                with pytest.raises(pro.AuthenticationError):
                    await soon(ex.watch_orders(SPOT))
            finally:
                await ex.close()

    asyncio.run(main())


def test_plain_client_gate_protocol_and_signed_auth(path):
    async def main() -> None:
        async with (
            running_sim(path, KEY, SECRET) as sim,
            aiohttp.ClientSession() as http,
            http.ws_connect(sim.gate_ws_spot) as ws,
        ):
            t = 1_700_000_000
            auth = {
                "method": "api_key",
                "KEY": KEY,
                "SIGN": sign_ws(SECRET, "spot.orders", "subscribe", t),
            }
            await ws.send_json(
                {
                    "time": t,
                    "id": 7,
                    "channel": "spot.orders",
                    "event": "subscribe",
                    "payload": ["BTC_USDT"],
                    "auth": auth,
                }
            )
            ack = await soon(ws.receive_json())
            assert ack["id"] == 7 and ack["result"] == {"status": "success"}
            await ws.send_json({"time": t, "id": 8, "channel": "spot.nope", "event": "subscribe"})
            err = await soon(ws.receive_json())
            assert err["error"]["code"] == 2 and err["result"] is None
            sim.market.place("spot", "buy", 20.0, None, text="t-plain")
            events = [(await soon(ws.receive_json()))["result"][0] for _ in range(3)]
            assert [e["event"] for e in events] == ["put", "update", "finish"]
            assert events[-1]["finish_as"] == "filled" and events[-1]["text"] == "t-plain"

    asyncio.run(main())


def test_binance_klines_with_ccxt_pro_and_a_plain_client(path):
    async def main() -> None:
        async with running_sim(path, KEY, SECRET) as sim:
            ex = pro.binance({"options": dict(BINANCE_OPTIONS), "enableRateLimit": False})
            redirect_binance(ex, sim.url)
            async with aiohttp.ClientSession() as http, http.ws_connect(sim.url + "/ws") as ws:
                try:
                    await ex.load_markets()
                    watch = await subscribed(ex.watch_ohlcv("BTC/USDT", "5m"))
                    await ws.send_json(
                        {"method": "SUBSCRIBE", "params": ["btcusdt@kline_5m"], "id": 1}
                    )
                    assert await soon(ws.receive_json()) == {"result": None, "id": 1}
                    sim.market.advance()
                    c, i = sim.market.candles, sim.market.bar
                    candles = await soon(watch)
                    event = await soon(ws.receive_json())
                finally:
                    await ex.close()
        assert candles[-1] == [int(c.ts[i]), c.open[i], c.high[i], c.low[i], c.close[i], 0.0]
        k = event["k"]
        assert event["e"] == "kline" and k["x"] is True and k["i"] == "5m"
        assert (k["t"], float(k["o"]), float(k["c"])) == (int(c.ts[i]), c.open[i], c.close[i])
        assert k["T"] == int(c.ts[i]) + 299_999

    asyncio.run(main())


def test_ws_drop_breaks_watchers_and_ccxt_reconnects(path):
    async def main() -> None:
        async with (
            running_sim(path, KEY, SECRET) as sim,
            aiohttp.ClientSession() as http,
        ):
            ex = pro_gate(sim)
            try:
                await ex.load_markets()
                await soon(ex.watch_ticker(SPOT))
                pending = await subscribed(ex.watch_ticker(SPOT))
                async with http.post(f"{sim.url}/sim/faults", json={"ws_drop": 0}) as r:
                    assert (await r.json())["ws_drop"] is None  # done: every socket cut
                with pytest.raises(pro.NetworkError):
                    await soon(pending)
                again = await soon(ex.watch_ticker(SPOT))  # a new connection, a new snapshot
                assert again["last"] == sim.market.last()
                sim.faults.ws_drop = 1  # one more message goes through, then the cut
                nxt = await subscribed(ex.watch_ticker(SPOT))
                sim.market.advance()
                assert (await soon(nxt))["last"] == sim.market.last()
                after = await subscribed(ex.watch_ticker(SPOT))
                sim.market.advance()
                with pytest.raises(pro.NetworkError):
                    await soon(after)
            finally:
                await ex.close()

    asyncio.run(main())
