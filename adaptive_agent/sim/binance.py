"""Binance spot market data for the reference price: ``/api/v3`` exchangeInfo, klines, time.

Enough for ccxt's binance ``load_markets`` (with ``fetchMarkets: {types: ['spot']}``) and
``fetch_ohlcv``, and for a plain HTTP client. Klines follow Binance's convention: completed
bars, then the bar in progress last (see ``gate_render.candle_window`` for its prices).
Times are replay time: ``/api/v3/time`` answers the simulator's clock.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ..core.time_rules import BAR_MS
from .faults import Faults
from .gate_render import CandleRow, candle_window
from .matching import SimMarket

SYMBOL = "BTCUSDT"
KLINE_STREAM = "btcusdt@kline_5m"
MAX_KLINES = 1000


def _px(x: float) -> str:
    return f"{x:.8f}"


def kline_row(row: CandleRow) -> list[Any]:
    t, o, h, lo, c, _ = row
    return [
        t,
        _px(o),
        _px(h),
        _px(lo),
        _px(c),
        "0.00000000",
        t + BAR_MS - 1,
        "0.00000000",
        0,
        "0.00000000",
        "0.00000000",
        "0",
    ]


def kline_event(row: CandleRow, now_ms: int) -> dict[str, Any]:
    t, o, h, lo, c, closed = row
    k = {
        "t": t,
        "T": t + BAR_MS - 1,
        "s": SYMBOL,
        "i": "5m",
        "f": -1,
        "L": -1,
        "o": _px(o),
        "c": _px(c),
        "h": _px(h),
        "l": _px(lo),
        "v": "0.00000000",
        "n": 0,
        "x": closed,
        "q": "0.00000000",
        "V": "0.00000000",
        "Q": "0.00000000",
        "B": "0",
    }
    return {"e": "kline", "E": now_ms, "s": SYMBOL, "k": k}


def exchange_info(now_ms: int) -> dict[str, Any]:
    symbol = {
        "symbol": SYMBOL,
        "status": "TRADING",
        "baseAsset": "BTC",
        "baseAssetPrecision": 8,
        "quoteAsset": "USDT",
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01",
                "maxPrice": "1000000.00",
                "tickSize": "0.01",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00001",
                "maxQty": "9000.00000",
                "stepSize": "0.00001",
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": "5.00",
                "applyMinToMarket": True,
                "maxNotional": "9000000.00",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "rateLimits": [],
        "exchangeFilters": [],
        "symbols": [symbol],
    }


class BinanceRest:
    """``/api/v3`` handlers; replies are delayed by ``faults.latency_ms`` like Gate's."""

    def __init__(self, market: SimMarket, faults: Faults) -> None:
        self.m, self.faults = market, faults

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v3/ping", self.ping)
        app.router.add_get("/api/v3/time", self.time)
        app.router.add_get("/api/v3/exchangeInfo", self.info)
        app.router.add_get("/api/v3/klines", self.klines)

    async def _reply(self, payload: Any, status: int = 200) -> web.Response:
        if self.faults.latency_ms > 0:
            await asyncio.sleep(self.faults.latency_ms / 1000.0)
        return web.json_response(payload, status=status)

    async def ping(self, request: web.Request) -> web.Response:
        return await self._reply({})

    async def time(self, request: web.Request) -> web.Response:
        return await self._reply({"serverTime": self.m.now_ms})

    async def info(self, request: web.Request) -> web.Response:
        return await self._reply(exchange_info(self.m.now_ms))

    async def klines(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("symbol") != SYMBOL:
            return await self._reply({"code": -1121, "msg": "Invalid symbol."}, 400)
        if q.get("interval") != "5m":
            return await self._reply({"code": -1120, "msg": "Invalid interval: only 5m."}, 400)
        try:
            start = int(q["startTime"]) if "startTime" in q else None
            end = int(q["endTime"]) if "endTime" in q else None
            limit = min(max(int(q.get("limit", 500)), 1), MAX_KLINES)
        except ValueError:
            return await self._reply({"code": -1100, "msg": "Illegal characters found."}, 400)
        rows = candle_window(self.m, start, end, limit)
        return await self._reply([kline_row(r) for r in rows])
