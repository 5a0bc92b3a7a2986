"""Unmodified ccxt (async gate and binance) against the simulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import pytest

from adaptive_agent.io.loaders import Candles
from adaptive_agent.sim.runner import RunningSim, running_sim
from tests.support.sim_clients import BINANCE_OPTIONS, GATE_OPTIONS, redirect_binance
from tests.support.sim_clients import redirect_gate as point

KEY, SECRET = "sim-key", "sim-secret"
SPOT, PERP = "BTC/USDT", "BTC/USDT:USDT"


@pytest.fixture(scope="module")
def path(spot) -> Candles:
    return spot.slice(0, 400)


def gate_client(sim: RunningSim, secret: str = SECRET, options: Any = GATE_OPTIONS) -> Any:
    ex = ccxt.gate(
        {"apiKey": KEY, "secret": secret, "enableRateLimit": False, "options": dict(options)}
    )
    point(ex, sim.url)
    return ex


@asynccontextmanager
async def gate_session(path: Candles, **kw: Any) -> AsyncIterator[tuple[RunningSim, Any]]:
    async with running_sim(path, KEY, SECRET, **kw) as sim:
        ex = gate_client(sim)
        try:
            await ex.load_markets()
            yield sim, ex
        finally:
            await ex.close()


def run(path: Candles, body: Callable[[RunningSim, Any], Awaitable[None]], **kw: Any) -> None:
    async def main() -> None:
        async with gate_session(path, **kw) as (sim, ex):
            await body(sim, ex)

    asyncio.run(main())


async def book(ex: Any, symbol: str) -> tuple[float, float]:
    ob = await ex.fetch_order_book(symbol)
    return ob["bids"][0][0], ob["asks"][0][0]


def test_load_markets_with_restricted_and_with_default_options(path):
    async def main() -> None:
        async with running_sim(path, KEY, SECRET) as sim:
            for options in (GATE_OPTIONS, {}):
                ex = gate_client(sim, options=options)
                try:
                    markets = await ex.load_markets()
                finally:
                    await ex.close()
                assert set(markets) == {SPOT, PERP}
                perp = markets[PERP]
                assert perp["contractSize"] == 0.0001 and perp["precision"]["price"] == 0.1
                assert markets[SPOT]["limits"]["cost"]["min"] == 3
                assert markets[SPOT]["precision"]["amount"] == 1e-6

    asyncio.run(main())


def test_dual_mode_the_four_intents_and_reduce_only_overshoot(path):
    async def body(sim: RunningSim, ex: Any) -> None:
        await ex.set_position_mode(True)
        assert sim.market.dual_mode
        bid, ask = await book(ex, PERP)
        open_long = await ex.create_order(PERP, "limit", "buy", 5, bid, {"postOnly": True})
        open_short = await ex.create_order(PERP, "limit", "sell", 3, ask, {"postOnly": True})
        assert (open_long["side"], open_long["status"], open_long["postOnly"]) == (
            "buy",
            "open",
            True,
        )
        assert open_short["side"] == "sell" and not open_short["reduceOnly"]
        assert [o.reduce_only for o in sim.market.open_orders("futures")] == [False, False]
        await ex.cancel_all_orders(PERP)
        await ex.create_order(PERP, "market", "buy", 5)  # OPEN_LONG at market
        await ex.create_order(PERP, "market", "sell", 3)  # OPEN_SHORT at market
        legs = {p["side"]: p for p in await ex.fetch_positions([PERP])}
        assert legs["long"]["contracts"] == 5 and legs["short"]["contracts"] == 3
        assert legs["long"]["info"]["mode"] == "dual_long"
        assert legs["short"]["info"]["mode"] == "dual_short"
        bid, ask = await book(ex, PERP)
        close_long = await ex.create_order(
            PERP, "limit", "sell", 2, ask, {"postOnly": True, "reduceOnly": True}
        )
        close_short = await ex.create_order(
            PERP, "limit", "buy", 3, bid, {"postOnly": True, "reduceOnly": True}
        )
        assert close_long["reduceOnly"] and close_long["side"] == "sell"
        assert close_short["reduceOnly"] and close_short["side"] == "buy"
        with pytest.raises(ccxt.ExchangeError, match="REDUCE_EXCEEDED"):
            await ex.create_order(PERP, "market", "sell", 4, None, {"reduceOnly": True})
        await ex.create_order(PERP, "market", "sell", 3, None, {"reduceOnly": True})  # CLOSE_LONG
        await ex.cancel_order(close_short["id"], PERP)
        await ex.create_order(PERP, "market", "buy", 3, None, {"reduceOnly": True})  # CLOSE_SHORT
        pos = sim.market.positions()
        assert pos["dual_long"]["size"] == 2 and pos["dual_short"]["size"] == 0
        with pytest.raises(ccxt.ExchangeError, match="POSITION_HOLDING"):
            await ex.set_position_mode(False)

    run(path, body)


def test_post_only_rests_or_is_rejected_as_immediately_fillable(path):
    async def body(sim: RunningSim, ex: Any) -> None:
        for symbol, amount in ((SPOT, 0.001), (PERP, 2)):
            bid, ask = await book(ex, symbol)
            rest = await ex.create_order(symbol, "limit", "buy", amount, bid, {"postOnly": True})
            assert rest["status"] == "open" and rest["timeInForce"] == "PO"
            with pytest.raises(ccxt.OrderImmediatelyFillable):
                await ex.create_order(symbol, "limit", "buy", amount, ask, {"postOnly": True})
            with pytest.raises(ccxt.OrderImmediatelyFillable):
                await ex.create_order(symbol, "limit", "sell", amount, bid, {"postOnly": True})
        assert len(sim.market.open_orders("spot")) == len(sim.market.open_orders("futures")) == 1

    run(path, body)


def test_market_orders_spot_by_cost_spot_sell_and_futures(path):
    async def body(sim: RunningSim, ex: Any) -> None:
        buy = await ex.create_order(SPOT, "market", "buy", None, None, {"cost": 200})
        assert buy["status"] == "closed" and buy["type"] == "market"
        assert buy["cost"] == pytest.approx(200, abs=0.05)  # whole lots of 1e-6 BTC
        btc = (await ex.fetch_balance())["BTC"]["free"]
        assert btc == pytest.approx(buy["filled"] * (1 - 0.001))  # fee taken in BTC
        sell = await ex.create_order(SPOT, "market", "sell", 0.005)
        assert sell["status"] == "closed" and sell["filled"] == pytest.approx(0.005)
        perp = await ex.create_order(PERP, "market", "buy", 4)
        assert (perp["status"], perp["filled"], perp["type"]) == ("closed", 4, "market")
        swap = await ex.fetch_balance({"type": "swap"})
        assert swap["USDT"]["total"] < 100_000
        with pytest.raises(ccxt.InsufficientFunds):
            await ex.create_order(SPOT, "market", "sell", 1.0)
        with pytest.raises(ccxt.BadRequest, match="too small"):  # Gate's 3 USDT minimum
            await ex.create_order(SPOT, "market", "buy", None, None, {"cost": 1})

    run(path, body)


def test_batches_of_ten_eleven_and_with_one_bad_element(path):
    async def body(sim: RunningSim, ex: Any) -> None:
        await ex.set_position_mode(True)
        bid, _ = await book(ex, PERP)
        ten = [
            {
                "symbol": PERP,
                "type": "limit",
                "side": "buy",
                "amount": 1,
                "price": bid - i,
                "params": {"postOnly": True, "clientOrderId": f"b{i}"},
            }
            for i in range(10)
        ]
        placed = await ex.create_orders(ten)
        assert [o["clientOrderId"] for o in placed] == [f"t-b{i}" for i in range(10)]
        assert all(o["status"] == "open" for o in placed)
        with pytest.raises(ccxt.BadRequest):  # refused by ccxt before sending
            await ex.create_orders(ten + ten[:1])
        raw = [
            {"settle": "usdt", "contract": "BTC_USDT", "size": 1, "price": str(bid), "tif": "poc"}
        ] * 11
        with pytest.raises(ccxt.BadRequest):  # and by the server when sent anyway
            await ex.privateFuturesPostSettleBatchOrders(raw)
        sbid, _ = await book(ex, SPOT)
        mixed = [
            {
                "symbol": SPOT,
                "type": "limit",
                "side": "buy",
                "amount": amount,
                "price": sbid,
                "params": {"postOnly": True, "clientOrderId": cid},
            }
            for cid, amount in (("ok1", 0.001), ("small", 0.00001), ("ok2", 0.002), ("trap", 0.001))
        ]
        results = {o["clientOrderId"]: o for o in await ex.create_orders(mixed)}
        assert results["t-ok1"]["status"] == results["t-ok2"]["status"] == "open"
        assert results["t-small"]["status"] == "rejected" and results["t-small"]["id"] is None
        assert results["t-small"]["info"]["label"] == "INVALID_PARAM_VALUE"
        # ccxt adds "t-" only to ids not starting with "t": Gate refuses the bare "trap"
        assert results["trap"]["status"] == "rejected"
        assert "must start with 't-'" in results["trap"]["info"]["message"]
        assert len(sim.market.open_orders("spot")) == 2

    run(path, body)


def test_cancel_fetch_by_client_id_history_and_trades(path):
    async def body(sim: RunningSim, ex: Any) -> None:
        await ex.set_position_mode(True)
        bid, _ = await book(ex, PERP)
        o = await ex.create_order(PERP, "limit", "buy", 2, bid - 10, {"clientOrderId": "keep1"})
        by_text = await ex.fetch_order("t-keep1", PERP)
        assert by_text["id"] == o["id"] and by_text["clientOrderId"] == "t-keep1"
        sbid, _ = await book(ex, SPOT)
        s = await ex.create_order(SPOT, "limit", "buy", 0.001, sbid - 10, {"clientOrderId": "s1"})
        assert (await ex.fetch_order("t-s1", SPOT))["id"] == s["id"]
        assert [x["id"] for x in await ex.fetch_open_orders(SPOT)] == [s["id"]]
        assert [x["id"] for x in await ex.fetch_open_orders(PERP)] == [o["id"]]
        cancelled = await ex.cancel_order(o["id"], PERP)
        assert cancelled["status"] == "canceled"
        assert (await ex.fetch_order(o["id"], PERP))["status"] == "canceled"
        await ex.cancel_order("t-s1", SPOT)
        with pytest.raises(ccxt.OrderNotFound):  # Gate: spot text lookups only while open
            await ex.fetch_order("t-s1", SPOT)
        await ex.create_order(PERP, "market", "buy", 3, None, {"clientOrderId": "m1"})
        closed = await ex.fetch_closed_orders(PERP)
        assert [c["clientOrderId"] for c in closed] == ["t-m1", "t-keep1"]
        assert [c["status"] for c in closed] == ["closed", "canceled"]
        spot_closed = await ex.fetch_closed_orders(SPOT)
        assert [c["clientOrderId"] for c in spot_closed] == ["t-s1"]
        trades = await ex.fetch_my_trades(PERP)
        assert len(trades) == 1 and trades[0]["amount"] == 3 and trades[0]["side"] == "buy"
        assert trades[0]["takerOrMaker"] == "taker" and trades[0]["fee"]["currency"] == "USDT"
        since = sim.market.now_ms - 1  # orders_timerange, Gate's historical listing
        ranged = await ex.fetch_closed_orders(PERP, since=since)
        assert {c["clientOrderId"] for c in ranged} == {"t-m1", "t-keep1"}
        await ex.create_order(PERP, "limit", "buy", 1, bid - 20)
        await ex.create_order(PERP, "limit", "buy", 1, bid - 21)
        assert len(await ex.cancel_all_orders(PERP)) == 2
        assert sim.market.open_orders("futures") == []
        await ex.create_order(SPOT, "limit", "buy", 0.001, sbid - 20)
        assert len(await ex.cancel_all_orders(SPOT)) == 1
        await ex.create_order(SPOT, "market", "buy", None, None, {"cost": 50})
        (fill,) = await ex.fetch_my_trades(SPOT)
        assert fill["side"] == "buy" and fill["fee"]["currency"] == "BTC"
        assert fill["cost"] == pytest.approx(50, abs=0.05)

    run(path, body)


def test_funding_after_0800_shows_in_history_balance_and_positions(path):
    async def body(sim: RunningSim, ex: Any) -> None:
        await ex.set_position_mode(True)
        await ex.create_order(PERP, "market", "sell", 20)
        total0 = (await ex.fetch_balance({"type": "swap"}))["USDT"]["total"]
        assert await ex.fetch_funding_history(PERP) == []
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{sim.url}/sim/advance", json={"bars": 100}) as r,
        ):
            state = await r.json()
        assert state["bar"] == 100 and state["positions"]["dual_short"]["size"] == -20
        history = await ex.fetch_funding_history(PERP)
        assert len(history) == 1 and history[0]["symbol"] == PERP
        assert history[0]["datetime"] == "2022-08-01T08:00:00.000Z"
        expected = 0.0001 * 20 * 0.0001 * float(sim.market.candles.close[95])
        assert history[0]["amount"] == pytest.approx(expected)  # a short receives
        total1 = (await ex.fetch_balance({"type": "swap"}))["USDT"]["total"]
        assert total1 == pytest.approx(total0 + expected)
        short = next(p for p in await ex.fetch_positions([PERP]) if p["side"] == "short")
        assert float(short["info"]["pnl_fund"]) == pytest.approx(expected)
        rates = await ex.fetch_funding_rate_history(PERP)
        assert [(r["datetime"], r["fundingRate"]) for r in rates] == [
            ("2022-08-01T08:00:00.000Z", 0.0001)
        ]

    run(path, body)


def test_market_data_ticker_book_candles_funding_rate(path):
    async def body(sim: RunningSim, ex: Any) -> None:
        sim.market.advance(20)
        close = float(sim.market.candles.close[20])
        for symbol in (SPOT, PERP):
            t = await ex.fetch_ticker(symbol)
            assert t["last"] == close and t["bid"] < close < t["ask"]
            bid, ask = await book(ex, symbol)
            assert (bid, ask) == (t["bid"], t["ask"])
        rows = await ex.fetch_ohlcv(SPOT, "5m", limit=4)
        c = sim.market.candles
        assert rows[:3] == [
            [int(c.ts[i]), c.open[i], c.high[i], c.low[i], c.close[i], 0.0] for i in (18, 19, 20)
        ]
        assert rows[3][0] == sim.market.now_ms and rows[3][1] == close  # the forming bar
        fr = await ex.fetch_funding_rate(PERP)
        assert fr["fundingRate"] == 0.0001 and fr["interval"] == "8h"
        assert fr["fundingTimestamp"] == sim.market.next_funding_ms()

    run(path, body)


def test_wrong_secret_or_key_is_an_authentication_error(path):
    async def main() -> None:
        async with running_sim(path, KEY, SECRET) as sim:
            for ex in (
                gate_client(sim, secret="wrong"),
                ccxt.gate({"apiKey": "x", "secret": SECRET}),
            ):
                point(ex, sim.url)
                ex.options.update(GATE_OPTIONS)
                try:
                    await ex.load_markets()  # public: fine
                    with pytest.raises(ccxt.AuthenticationError):
                        await ex.fetch_balance()
                finally:
                    await ex.close()

    asyncio.run(main())


def test_binance_fetch_ohlcv_returns_the_replayed_candles(path):
    async def main() -> None:
        async with running_sim(path, KEY, SECRET) as sim:
            sim.market.advance(30)
            ex = ccxt.binance({"options": dict(BINANCE_OPTIONS), "enableRateLimit": False})
            redirect_binance(ex, sim.url)
            try:
                await ex.load_markets()
                rows = await ex.fetch_ohlcv("BTC/USDT", "5m", limit=3)
                c = sim.market.candles
                since = await ex.fetch_ohlcv("BTC/USDT", "5m", since=int(c.ts[5]), limit=2)
            finally:
                await ex.close()
        assert [r[0] for r in rows] == [int(c.ts[29]), int(c.ts[30]), sim.market.now_ms]
        assert rows[1][1:5] == [c.open[30], c.high[30], c.low[30], c.close[30]]
        assert [r[0] for r in since] == [int(c.ts[5]), int(c.ts[6])]

    asyncio.run(main())
