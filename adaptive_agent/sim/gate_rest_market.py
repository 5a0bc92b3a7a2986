"""Public Gate REST routes of the simulator: currencies, markets, tickers, books, candles,
funding history."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..exchange.gate_constants import Label, Path
from . import gate_render as render
from .gate_rest_base import (
    Route,
    RouteGroup,
    check_contract,
    check_pair,
    check_settle,
    int_arg,
    number,
)
from .markets import CONTRACT, SETTLE
from .orders import FUTURES, SPOT, SimError


class MarketRoutes(RouteGroup):
    def public(self) -> list[Route]:
        return [
            ("GET", Path.SPOT_CURRENCIES, self.currencies),
            ("GET", Path.SPOT_PAIRS, self.pairs),
            ("GET", Path.SPOT_PAIR, self.pair),
            ("GET", Path.MARGIN_PAIRS, self.empty),
            ("GET", Path.FUTURES_CONTRACTS, self.contracts),
            ("GET", Path.FUTURES_CONTRACT, self.contract),
            ("GET", Path.DELIVERY_CONTRACTS, self.empty),
            ("GET", Path.OPTIONS_UNDERLYINGS, self.empty),
            ("GET", Path.SPOT_TICKERS, self.spot_tickers),
            ("GET", Path.FUTURES_TICKERS, self.futures_tickers),
            ("GET", Path.SPOT_ORDER_BOOK, self.spot_book),
            ("GET", Path.FUTURES_ORDER_BOOK, self.futures_book),
            ("GET", Path.SPOT_CANDLES, self.spot_candles),
            ("GET", Path.FUTURES_CANDLES, self.futures_candles),
            ("GET", Path.FUTURES_FUNDING_RATE, self.funding_rates),
        ]

    async def empty(self, request: web.Request) -> web.Response:
        return web.json_response([])

    async def currencies(self, request: web.Request) -> web.Response:
        names = {"BTC": "Bitcoin", "USDT": "Tether"}
        return web.json_response(
            [
                {
                    "currency": cur,
                    "name": name,
                    "delisted": False,
                    "withdraw_disabled": False,
                    "withdraw_delayed": False,
                    "deposit_disabled": False,
                    "trade_disabled": False,
                    "chain": cur,
                }
                for cur, name in names.items()
            ]
        )

    async def pairs(self, request: web.Request) -> web.Response:
        return web.json_response([render.spot_pair(self.m)])

    async def pair(self, request: web.Request) -> web.Response:
        check_pair({"currency_pair": request.match_info["pair"]})
        return web.json_response(render.spot_pair(self.m))

    async def contracts(self, request: web.Request) -> web.Response:
        if request.match_info["settle"].lower() != SETTLE:
            return web.json_response([])
        return web.json_response([render.contract(self.m)])

    async def contract(self, request: web.Request) -> web.Response:
        check_settle(request)
        check_contract(request.match_info["contract"])
        return web.json_response(render.contract(self.m))

    async def spot_tickers(self, request: web.Request) -> web.Response:
        check_pair(request.query, required=False)
        return web.json_response([render.spot_ticker(self.m)])

    async def futures_tickers(self, request: web.Request) -> web.Response:
        check_settle(request)
        check_contract(request.query.get("contract"))
        return web.json_response([render.futures_ticker(self.m)])

    async def spot_book(self, request: web.Request) -> web.Response:
        check_pair(request.query)
        return web.json_response(render.order_book(self.m, SPOT))

    async def futures_book(self, request: web.Request) -> web.Response:
        check_settle(request)
        check_contract(request.query.get("contract", CONTRACT))
        return web.json_response(render.order_book(self.m, FUTURES))

    def _candles(self, q: Any) -> list[render.CandleRow]:
        if q.get("interval", "30m") != "5m":
            raise SimError(Label.INVALID_PARAM_VALUE, "only the 5m interval is simulated")
        start = q.get("from")
        end = q.get("to")
        limit = int_arg(q, "limit", 100, 2000)
        return render.candle_window(
            self.m,
            None if start is None else int(number(start, "from") * 1000),
            None if end is None else int(number(end, "to") * 1000),
            limit if start is None or end is None else 2000,
        )

    async def spot_candles(self, request: web.Request) -> web.Response:
        check_pair(request.query)
        rows = [
            [
                str(t // 1000),
                "0",
                render.num(c),
                render.num(h),
                render.num(lo),
                render.num(o),
                "0",
                "true" if closed else "false",
            ]
            for t, o, h, lo, c, closed in self._candles(request.query)
        ]
        return web.json_response(rows)

    async def futures_candles(self, request: web.Request) -> web.Response:
        check_settle(request)
        check_contract(request.query.get("contract"))
        rows = [
            {
                "t": t // 1000,
                "v": 0,
                "c": render.num(c),
                "h": render.num(h),
                "l": render.num(lo),
                "o": render.num(o),
                "sum": "0",
            }
            for t, o, h, lo, c, _ in self._candles(request.query)
        ]
        return web.json_response(rows)

    async def funding_rates(self, request: web.Request) -> web.Response:
        """Past settlements, newest first: every funding instant since the replay began."""
        check_settle(request)
        check_contract(request.query.get("contract"))
        limit = int_arg(request.query, "limit", 100)
        instants = self.m.funding_instants(int(self.m.candles.ts[0]), self.m.now_ms)
        newest = instants[::-1][:limit]
        return web.json_response(
            [{"t": t // 1000, "r": render.num(self.m.rate_at(t))} for t in newest]
        )
