"""Gate API v4 REST under ``/api/v4``: the endpoints ccxt's gate client and the gate-api SDK
call for spot BTC_USDT and the USDT perpetual, answered from a ``SimMarket``.

Every signed request is verified (``KEY``/``Timestamp``/``SIGN``) before anything else; then
fault injection may answer SERVER_ERROR. Errors use Gate's ``{"label", "message"}`` body and
status codes, so clients map them to the same exceptions as against Gate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote, unquote_plus

import numpy as np
from aiohttp import web

from . import gate_render as render
from .faults import Faults
from .markets import CONTRACT, PAIR, SETTLE
from .matching import SimMarket
from .orders import FUTURES, SPOT, SimError, SimOrder
from .signing import same, sign_rest

PREFIX = "/api/v4"
MAX_BATCH = 10
MAX_CLOCK_SKEW_S = 60.0  # Gate rejects a Timestamp further than this from its clock
_STATUS = {
    "INVALID_KEY": 401,
    "INVALID_SIGNATURE": 401,
    "MISSING_REQUIRED_HEADER": 401,
    "REQUEST_EXPIRED": 401,
    "ORDER_NOT_FOUND": 404,
    "NOT_FOUND": 404,
    "SERVER_ERROR": 500,
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(label: str, message: str) -> web.Response:
    return web.json_response({"label": label, "message": message}, status=_STATUS.get(label, 400))


def _number(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SimError("INVALID_PARAM_VALUE", f"invalid argument: {name}") from None


def _int_arg(q: Any, name: str, default: int, high: int = 1000) -> int:
    raw = q.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SimError("INVALID_PARAM_VALUE", f"invalid argument: {name}") from None
    if not 0 <= value <= high:
        raise SimError("INVALID_PARAM_VALUE", f"invalid argument: {name} out of range")
    return value


def _bool_arg(raw: Any) -> bool:
    return str(raw).lower() in ("true", "1")


class GateRest:
    """Route table and handlers; one instance per server."""

    def __init__(self, market: SimMarket, api_key: str, api_secret: str, faults: Faults) -> None:
        self.m, self.key, self.secret, self.faults = market, api_key, api_secret, faults
        self.stopping = asyncio.Event()  # set on shutdown: releases held ("timeout") replies

    def add_routes(self, app: web.Application) -> None:
        public = [
            ("GET", "/spot/currencies", self.currencies),
            ("GET", "/spot/currency_pairs", self.pairs),
            ("GET", "/spot/currency_pairs/{pair}", self.pair),
            ("GET", "/margin/currency_pairs", self.empty),
            ("GET", "/futures/{settle}/contracts", self.contracts),
            ("GET", "/futures/{settle}/contracts/{contract}", self.contract),
            ("GET", "/delivery/{settle}/contracts", self.empty),
            ("GET", "/options/underlyings", self.empty),
            ("GET", "/spot/tickers", self.spot_tickers),
            ("GET", "/futures/{settle}/tickers", self.futures_tickers),
            ("GET", "/spot/order_book", self.spot_book),
            ("GET", "/futures/{settle}/order_book", self.futures_book),
            ("GET", "/spot/candlesticks", self.spot_candles),
            ("GET", "/futures/{settle}/candlesticks", self.futures_candles),
            ("GET", "/futures/{settle}/funding_rate", self.funding_rates),
        ]
        private = [
            ("GET", "/account/detail", self.account_detail),
            ("GET", "/wallet/fee", self.wallet_fee),
            ("GET", "/spot/accounts", self.spot_accounts),
            ("POST", "/spot/orders", self.spot_create),
            ("GET", "/spot/orders", self.spot_list),
            ("DELETE", "/spot/orders", self.spot_cancel_all),
            ("GET", "/spot/orders/{order_id}", self.spot_get),
            ("DELETE", "/spot/orders/{order_id}", self.spot_cancel),
            ("GET", "/spot/open_orders", self.spot_open),
            ("POST", "/spot/batch_orders", self.spot_batch),
            ("POST", "/spot/cancel_batch_orders", self.spot_cancel_batch),
            ("GET", "/spot/my_trades", self.spot_trades),
            ("GET", "/futures/{settle}/accounts", self.futures_accounts),
            ("POST", "/futures/{settle}/dual_mode", self.dual_mode),
            ("GET", "/futures/{settle}/positions", self.positions),
            ("GET", "/futures/{settle}/positions/{contract}", self.position),
            ("GET", "/futures/{settle}/dual_comp/positions/{contract}", self.dual_positions),
            ("POST", "/futures/{settle}/orders", self.futures_create),
            ("GET", "/futures/{settle}/orders", self.futures_list),
            ("DELETE", "/futures/{settle}/orders", self.futures_cancel_all),
            ("GET", "/futures/{settle}/orders/{order_id}", self.futures_get),
            ("DELETE", "/futures/{settle}/orders/{order_id}", self.futures_cancel),
            ("GET", "/futures/{settle}/orders_timerange", self.futures_timerange),
            ("POST", "/futures/{settle}/batch_orders", self.futures_batch),
            ("POST", "/futures/{settle}/batch_cancel_orders", self.futures_cancel_batch),
            ("GET", "/futures/{settle}/my_trades", self.futures_trades),
            ("GET", "/futures/{settle}/my_trades_timerange", self.futures_trades),
            ("GET", "/futures/{settle}/account_book", self.account_book),
        ]
        for method, path, handler in public:
            app.router.add_route(method, PREFIX + path, self._wrap(handler, private=False))
        for method, path, handler in private:
            app.router.add_route(method, PREFIX + path, self._wrap(handler, private=True))

    # ---- plumbing -----------------------------------------------------------------------

    def _wrap(self, handler: Handler, private: bool) -> Handler:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            if self.faults.latency_ms > 0:
                await asyncio.sleep(self.faults.latency_ms / 1000.0)
            try:
                if private:
                    await self._authenticate(request)
                    if self.faults.fail_now():
                        raise SimError("SERVER_ERROR", "Internal server error")
                return await handler(request)
            except SimError as exc:
                return error_response(exc.label, exc.message)
            except ConnectionResetError:  # the client went away mid-request (e.g. killed)
                return web.Response(status=499)

        return endpoint

    async def _authenticate(self, request: web.Request) -> None:
        key, ts, sign = (request.headers.get(h) for h in ("KEY", "Timestamp", "SIGN"))
        if not key or not ts or not sign:
            raise SimError("MISSING_REQUIRED_HEADER", "Missing required header: KEY/Timestamp/SIGN")
        if key != self.key:
            raise SimError("INVALID_KEY", "Invalid key provided")
        try:
            skew = abs(float(ts) - time.time())
        except ValueError:
            raise SimError("INVALID_SIGNATURE", "Timestamp is not a number") from None
        if skew > MAX_CLOCK_SKEW_S:
            raise SimError("REQUEST_EXPIRED", "Request Timestamp is far from the server time")
        body = await request.read()
        path = unquote(request.rel_url.raw_path)
        query = unquote_plus(request.rel_url.raw_query_string)
        expected = sign_rest(self.secret, request.method, path, query, body, ts)
        if not same(expected, sign):
            raise SimError("INVALID_SIGNATURE", "Signature mismatch")

    @staticmethod
    async def _json(request: web.Request) -> Any:
        try:
            return json.loads(await request.read() or b"null")
        except ValueError:
            raise SimError("INVALID_REQUEST_BODY", "request body is not valid JSON") from None

    @staticmethod
    def _settle(request: web.Request) -> None:
        if request.match_info["settle"].lower() != SETTLE:
            raise SimError("INVALID_PARAM_VALUE", "only the usdt settle currency is simulated")

    @staticmethod
    def _pair(q: Any, required: bool = True) -> None:
        pair = q.get("currency_pair")
        if (pair is None and required) or (pair is not None and pair != PAIR):
            raise SimError("INVALID_CURRENCY_PAIR", f"unknown currency pair {pair}")

    @staticmethod
    def _contract(value: str | None) -> None:
        if value is not None and value != CONTRACT:
            raise SimError("CONTRACT_NOT_FOUND", f"contract {value} not found")

    def _fut(self, o: SimOrder, request: web.Request) -> dict[str, Any]:
        as_string = request.headers.get("X-Gate-Size-Decimal") == "1"
        return render.futures_order(o, self.m.fees, as_string)

    async def _accepted(self, request: web.Request, payload: Any) -> web.StreamResponse:
        """Reply to an order-creating request, unless a 'timeout after accept' is armed."""
        if self.faults.take_timeout():
            if self.faults.timeout_mode == "drop":
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=499)  # never sent: the connection is gone
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.faults.timeout_delay_s)
        return web.json_response(payload, status=201)

    # ---- public market data -------------------------------------------------------------

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
        self._pair({"currency_pair": request.match_info["pair"]})
        return web.json_response(render.spot_pair(self.m))

    async def contracts(self, request: web.Request) -> web.Response:
        if request.match_info["settle"].lower() != SETTLE:
            return web.json_response([])
        return web.json_response([render.contract(self.m)])

    async def contract(self, request: web.Request) -> web.Response:
        self._settle(request)
        self._contract(request.match_info["contract"])
        return web.json_response(render.contract(self.m))

    async def spot_tickers(self, request: web.Request) -> web.Response:
        self._pair(request.query, required=False)
        return web.json_response([render.spot_ticker(self.m)])

    async def futures_tickers(self, request: web.Request) -> web.Response:
        self._settle(request)
        self._contract(request.query.get("contract"))
        return web.json_response([render.futures_ticker(self.m)])

    async def spot_book(self, request: web.Request) -> web.Response:
        self._pair(request.query)
        return web.json_response(render.order_book(self.m, SPOT))

    async def futures_book(self, request: web.Request) -> web.Response:
        self._settle(request)
        self._contract(request.query.get("contract", CONTRACT))
        return web.json_response(render.order_book(self.m, FUTURES))

    def _candles(self, q: Any) -> list[render.CandleRow]:
        if q.get("interval", "30m") != "5m":
            raise SimError("INVALID_PARAM_VALUE", "only the 5m interval is simulated")
        start = q.get("from")
        end = q.get("to")
        limit = _int_arg(q, "limit", 100, 2000)
        return render.candle_window(
            self.m,
            None if start is None else int(_number(start, "from") * 1000),
            None if end is None else int(_number(end, "to") * 1000),
            limit if start is None or end is None else 2000,
        )

    async def spot_candles(self, request: web.Request) -> web.Response:
        self._pair(request.query)
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
        self._settle(request)
        self._contract(request.query.get("contract"))
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
        self._settle(request)
        self._contract(request.query.get("contract"))
        limit = _int_arg(request.query, "limit", 100)
        instants = self.m.funding_instants(int(self.m.candles.ts[0]), self.m.now_ms)
        newest = instants[::-1][:limit]
        return web.json_response(
            [{"t": t // 1000, "r": render.num(self.m.rate_at(t))} for t in newest]
        )

    # ---- accounts -----------------------------------------------------------------------

    async def account_detail(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "user_id": render.USER_ID,
                "ip_whitelist": [],
                "currency_pairs": [],
                "key": {"mode": 1},  # classic account, not unified
                "tier": 0,
                "tier_expire_time": "0001-01-01T00:00:00Z",
                "copy_trading_role": 0,
            }
        )

    async def wallet_fee(self, request: web.Request) -> web.Response:
        f = self.m.fees
        return web.json_response(
            {
                "user_id": render.USER_ID,
                "taker_fee": render.num(f.spot_taker),
                "maker_fee": render.num(f.spot_maker),
                "futures_taker_fee": render.num(f.perp_taker),
                "futures_maker_fee": render.num(f.perp_maker),
                "gt_discount": False,
                "gt_taker_fee": "0",
                "gt_maker_fee": "0",
                "point_type": "1",
            }
        )

    async def spot_accounts(self, request: web.Request) -> web.Response:
        rows = render.spot_accounts(self.m)
        cur = request.query.get("currency")
        return web.json_response([r for r in rows if cur is None or r["currency"] == cur])

    async def futures_accounts(self, request: web.Request) -> web.Response:
        self._settle(request)
        return web.json_response(render.futures_account(self.m))

    async def dual_mode(self, request: web.Request) -> web.Response:
        self._settle(request)
        if "dual_mode" not in request.query:
            raise SimError("MISSING_REQUIRED_PARAM", "dual_mode is required")
        self.m.set_dual_mode(_bool_arg(request.query["dual_mode"]))
        return web.json_response(render.futures_account(self.m))

    def _position_rows(self, request: web.Request) -> list[dict[str, Any]]:
        as_string = request.headers.get("X-Gate-Size-Decimal") == "1"
        return render.positions(self.m, as_string)

    async def positions(self, request: web.Request) -> web.Response:
        self._settle(request)
        rows = self._position_rows(request)
        if _bool_arg(request.query.get("holding", "false")):
            rows = [r for r in rows if float(r["size"]) != 0]
        return web.json_response(rows)

    async def position(self, request: web.Request) -> web.Response:
        self._settle(request)
        self._contract(request.match_info["contract"])
        if self.m.dual_mode:
            raise SimError("POSITION_DUAL_MODE", "Operation forbidden in dual-mode")
        return web.json_response(self._position_rows(request)[0])

    async def dual_positions(self, request: web.Request) -> web.Response:
        self._settle(request)
        self._contract(request.match_info["contract"])
        if not self.m.dual_mode:
            raise SimError("POSITION_NOT_FOUND", "dual-mode positions need dual mode")
        return web.json_response(self._position_rows(request))

    async def account_book(self, request: web.Request) -> web.Response:
        self._settle(request)
        q = request.query
        self._contract(q.get("contract"))
        start, end = _range(q)
        entries = [e for e in self.m.account_book(q.get("type")) if start <= e.time_ms <= end]
        entries.reverse()
        offset, limit = _int_arg(q, "offset", 0, 10**9), _int_arg(q, "limit", 100)
        return web.json_response([render.book_entry(e) for e in entries[offset : offset + limit]])

    # ---- spot orders --------------------------------------------------------------------

    def _spot_place(self, body: Any) -> SimOrder:
        if not isinstance(body, dict):
            raise SimError("INVALID_REQUEST_BODY", "an order must be a JSON object")
        self._pair(body)
        if body.get("account", "spot") != "spot":
            raise SimError("INVALID_PARAM_VALUE", "only the spot account is simulated")
        for name in ("side", "amount"):
            if name not in body:
                raise SimError("MISSING_REQUIRED_PARAM", f"{name} is required")
        market_order = body.get("type", "limit") == "market"
        if not market_order and "price" not in body:
            raise SimError("MISSING_REQUIRED_PARAM", "price is required")
        return self.m.place(
            SPOT,
            body["side"],
            _number(body["amount"], "amount"),
            None if market_order else _number(body["price"], "price"),
            tif=body.get("time_in_force", "ioc" if market_order else "gtc"),
            text=body.get("text"),
        )

    async def spot_create(self, request: web.Request) -> web.StreamResponse:
        order = self._spot_place(await self._json(request))
        return await self._accepted(request, render.spot_order(order))

    async def spot_batch(self, request: web.Request) -> web.StreamResponse:
        body = await self._batch(request)
        out = []
        for item in body:
            try:
                row = render.spot_order(self._spot_place(item))
                row.update(succeeded=True, label="", message="", order_id=row["id"])
            except SimError as exc:
                row = {"succeeded": False, "label": exc.label, "message": exc.message}
                row.update(account="spot", text=_text_of(item))
            out.append(row)
        return await self._accepted(request, out)

    async def _batch(self, request: web.Request) -> list[Any]:
        body = await self._json(request)
        if not isinstance(body, list) or not body:
            raise SimError("INVALID_REQUEST_BODY", "a batch must be a non-empty JSON array")
        if len(body) > MAX_BATCH:
            raise SimError("INVALID_PARAM_VALUE", f"at most {MAX_BATCH} orders per batch")
        return body

    async def spot_get(self, request: web.Request) -> web.Response:
        self._pair(request.query)
        order = self.m.get_order(SPOT, request.match_info["order_id"])
        return web.json_response(render.spot_order(order))

    async def spot_cancel(self, request: web.Request) -> web.Response:
        self._pair(request.query)
        order = self.m.cancel(SPOT, request.match_info["order_id"])
        return web.json_response(render.spot_order(order))

    async def spot_cancel_all(self, request: web.Request) -> web.Response:
        self._pair(request.query)
        side = request.query.get("side")
        done = [
            self.m.cancel(SPOT, o.id) for o in self.m.open_orders(SPOT) if side in (None, o.side)
        ]
        return web.json_response([render.spot_order(o) for o in done])

    async def spot_cancel_batch(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        if not isinstance(body, list):
            raise SimError("INVALID_REQUEST_BODY", "expected a JSON array")
        out = []
        for item in body:
            oid = str(item.get("id", "")) if isinstance(item, dict) else ""
            row: dict[str, Any] = {"currency_pair": PAIR, "id": oid}
            try:
                self._pair(item)
                self.m.cancel(SPOT, oid)
                row.update(succeeded=True, label="", message="")
            except SimError as exc:
                row.update(succeeded=False, label=exc.label, message=exc.message)
            out.append(row)
        return web.json_response(out)

    async def spot_list(self, request: web.Request) -> web.Response:
        q = request.query
        self._pair(q)
        status = q.get("status", "open")
        if status not in ("open", "finished"):
            raise SimError("INVALID_PARAM_VALUE", "invalid argument: status")
        orders = self.m.open_orders(SPOT) if status == "open" else self.m.order_history(SPOT)
        orders = _in_range(orders, q)
        page, limit = _int_arg(q, "page", 1, 10**9), _int_arg(q, "limit", 100)
        chunk = orders[(max(page, 1) - 1) * limit : max(page, 1) * limit]
        return web.json_response([render.spot_order(o) for o in chunk])

    async def spot_open(self, request: web.Request) -> web.Response:
        orders = self.m.open_orders(SPOT)
        if not orders:
            return web.json_response([])
        rows = [render.spot_order(o) for o in orders]
        return web.json_response([{"currency_pair": PAIR, "total": len(rows), "orders": rows}])

    async def spot_trades(self, request: web.Request) -> web.Response:
        q = request.query
        self._pair(q, required=False)
        trades = self.m.my_trades(SPOT)[::-1]
        if "order_id" in q:
            trades = [t for t in trades if t.order_id == q["order_id"]]
        trades = _trades_in_range(trades, q)
        return web.json_response(
            [render.spot_trade(t) for t in trades[: _int_arg(q, "limit", 100)]]
        )

    # ---- futures orders -----------------------------------------------------------------

    def _futures_place(self, body: Any) -> SimOrder:
        if not isinstance(body, dict):
            raise SimError("INVALID_REQUEST_BODY", "an order must be a JSON object")
        self._contract(body.get("contract"))
        if "contract" not in body or "size" not in body:
            raise SimError("MISSING_REQUIRED_PARAM", "contract and size are required")
        if _bool_arg(body.get("close", False)):
            raise SimError("INVALID_PARAM_VALUE", "close=true is not simulated: use reduce_only")
        price = _number(body.get("price", "0"), "price")
        return self.m.place(
            FUTURES,
            None,
            _number(body["size"], "size"),
            price or None,
            tif=body.get("tif", "gtc"),
            reduce_only=_bool_arg(body.get("reduce_only", False)),
            text=body.get("text"),
            auto_size=body.get("auto_size") or None,
        )

    async def futures_create(self, request: web.Request) -> web.StreamResponse:
        self._settle(request)
        order = self._futures_place(await self._json(request))
        return await self._accepted(request, self._fut(order, request))

    async def futures_batch(self, request: web.Request) -> web.StreamResponse:
        self._settle(request)
        body = await self._batch(request)
        out = []
        for item in body:
            try:
                row = self._fut(self._futures_place(item), request)
                row.update(succeeded=True)
            except SimError as exc:
                row = {"succeeded": False, "label": exc.label, "message": exc.message}
                row.update(detail=exc.message, text=_text_of(item))
            out.append(row)
        return await self._accepted(request, out)

    async def futures_get(self, request: web.Request) -> web.Response:
        self._settle(request)
        order = self.m.get_order(FUTURES, request.match_info["order_id"])
        return web.json_response(self._fut(order, request))

    async def futures_cancel(self, request: web.Request) -> web.Response:
        self._settle(request)
        order = self.m.cancel(FUTURES, request.match_info["order_id"])
        return web.json_response(self._fut(order, request))

    async def futures_cancel_all(self, request: web.Request) -> web.Response:
        self._settle(request)
        self._contract(request.query.get("contract"))
        side = request.query.get("side")  # Gate: "ask" cancels sells, "bid" buys
        wanted = {"ask": "sell", "bid": "buy"}.get(side or "")
        done = [
            self.m.cancel(FUTURES, o.id)
            for o in self.m.open_orders(FUTURES)
            if wanted in (None, o.side)
        ]
        return web.json_response([self._fut(o, request) for o in done])

    async def futures_cancel_batch(self, request: web.Request) -> web.Response:
        self._settle(request)
        body = await self._json(request)
        if not isinstance(body, list):
            raise SimError("INVALID_REQUEST_BODY", "expected a JSON array of order ids")
        out = []
        for oid in body:
            row: dict[str, Any] = {"id": str(oid), "user_id": render.USER_ID}
            try:
                self.m.cancel(FUTURES, str(oid))
                row.update(succeeded=True, message="")
            except SimError as exc:
                row.update(succeeded=False, message=exc.label)
            out.append(row)
        return web.json_response(out)

    async def futures_list(self, request: web.Request) -> web.Response:
        self._settle(request)
        q = request.query
        self._contract(q.get("contract"))
        status = q.get("status", "open")
        if status not in ("open", "finished"):
            raise SimError("INVALID_PARAM_VALUE", "invalid argument: status")
        orders = self.m.open_orders(FUTURES) if status == "open" else self.m.order_history(FUTURES)
        if "last_id" in q:
            ids = [o.id for o in orders]
            orders = orders[ids.index(q["last_id"]) + 1 :] if q["last_id"] in ids else []
        offset, limit = _int_arg(q, "offset", 0, 10**9), _int_arg(q, "limit", 100)
        return web.json_response([self._fut(o, request) for o in orders[offset : offset + limit]])

    async def futures_timerange(self, request: web.Request) -> web.Response:
        self._settle(request)
        q = request.query
        self._contract(q.get("contract"))
        orders = _in_range(self.m.order_history(FUTURES) + self.m.open_orders(FUTURES), q)
        offset, limit = _int_arg(q, "offset", 0, 10**9), _int_arg(q, "limit", 100)
        return web.json_response([self._fut(o, request) for o in orders[offset : offset + limit]])

    async def futures_trades(self, request: web.Request) -> web.Response:
        self._settle(request)
        q = request.query
        self._contract(q.get("contract"))
        trades = self.m.my_trades(FUTURES)[::-1]
        if "order" in q:
            trades = [t for t in trades if t.order_id == q["order"]]
        trades = _trades_in_range(trades, q)
        offset, limit = _int_arg(q, "offset", 0, 10**9), _int_arg(q, "limit", 100)
        return web.json_response([render.futures_trade(t) for t in trades[offset : offset + limit]])


def _text_of(item: Any) -> str | None:
    return item.get("text") if isinstance(item, dict) else None


def _range(q: Any) -> tuple[float, float]:
    start = _number(q["from"], "from") * 1000 if "from" in q else -np.inf
    end = _number(q["to"], "to") * 1000 if "to" in q else np.inf
    return start, end


def _in_range(orders: list[SimOrder], q: Any) -> list[SimOrder]:
    start, end = _range(q)
    return [o for o in orders if start <= o.create_ms <= end]


def _trades_in_range(trades: list[Any], q: Any) -> list[Any]:
    start, end = _range(q)
    return [t for t in trades if start <= t.time_ms <= end]
