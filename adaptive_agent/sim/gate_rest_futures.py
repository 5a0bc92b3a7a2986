"""Signed Gate REST routes of the simulator for USDT-perpetual orders and fills."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..exchange.gate_constants import FUTURES_BATCH_MAX, Label, Path
from . import gate_render as render
from .gate_rest_base import (
    Route,
    RouteGroup,
    bool_arg,
    check_contract,
    check_settle,
    json_body,
    number,
    orders_in_range,
    page,
    trades_in_range,
)
from .orders import FUTURES, SimError, SimOrder


class FuturesRoutes(RouteGroup):
    def private(self) -> list[Route]:
        return [
            ("POST", Path.FUTURES_ORDERS, self.create),
            ("GET", Path.FUTURES_ORDERS, self.list),
            ("DELETE", Path.FUTURES_ORDERS, self.cancel_all),
            ("GET", Path.FUTURES_ORDER, self.get),
            ("DELETE", Path.FUTURES_ORDER, self.cancel),
            ("GET", Path.FUTURES_ORDERS_TIMERANGE, self.timerange),
            ("POST", Path.FUTURES_BATCH_ORDERS, self.create_batch),
            ("POST", Path.FUTURES_CANCEL_BATCH, self.cancel_batch),
            ("GET", Path.FUTURES_MY_TRADES, self.trades),
            ("GET", Path.FUTURES_MY_TRADES_TIMERANGE, self.trades),
        ]

    def _place(self, body: Any) -> SimOrder:
        if not isinstance(body, dict):
            raise SimError(Label.INVALID_REQUEST_BODY, "an order must be a JSON object")
        check_contract(body.get("contract"))
        if "contract" not in body or "size" not in body:
            raise SimError(Label.MISSING_REQUIRED_PARAM, "contract and size are required")
        if bool_arg(body.get("close", False)):
            raise SimError(
                Label.INVALID_PARAM_VALUE, "close=true is not simulated: use reduce_only"
            )
        price = number(body.get("price", "0"), "price")
        return self.m.place(
            FUTURES,
            None,
            number(body["size"], "size"),
            price or None,
            tif=body.get("tif", "gtc"),
            reduce_only=bool_arg(body.get("reduce_only", False)),
            text=body.get("text"),
            auto_size=body.get("auto_size") or None,
        )

    async def create(self, request: web.Request) -> web.StreamResponse:
        check_settle(request)
        order = self._place(await json_body(request))
        return await self.accepted(request, self.futures_row(order, request))

    async def create_batch(self, request: web.Request) -> web.StreamResponse:
        check_settle(request)
        out = []
        for item in await self.batch(request, FUTURES_BATCH_MAX):
            try:
                row = self.futures_row(self._place(item), request)
                row.update(succeeded=True)
            except SimError as exc:
                row = {"succeeded": False, "label": exc.label, "message": exc.message}
                row.update(detail=exc.message, text=self.echoed_text(item))
            out.append(row)
        return await self.accepted(request, out)

    async def get(self, request: web.Request) -> web.Response:
        check_settle(request)
        order = self.m.get_order(FUTURES, request.match_info["order_id"])
        return web.json_response(self.futures_row(order, request))

    async def cancel(self, request: web.Request) -> web.Response:
        check_settle(request)
        order = self.m.cancel(FUTURES, request.match_info["order_id"])
        return web.json_response(self.futures_row(order, request))

    async def cancel_all(self, request: web.Request) -> web.Response:
        check_settle(request)
        check_contract(request.query.get("contract"))
        side = request.query.get("side")  # Gate: "ask" cancels sells, "bid" buys
        wanted = {"ask": "sell", "bid": "buy"}.get(side or "")
        done = [
            self.m.cancel(FUTURES, o.id)
            for o in self.m.open_orders(FUTURES)
            if wanted in (None, o.side)
        ]
        return web.json_response([self.futures_row(o, request) for o in done])

    async def cancel_batch(self, request: web.Request) -> web.Response:
        check_settle(request)
        body = await json_body(request)
        if not isinstance(body, list):
            raise SimError(Label.INVALID_REQUEST_BODY, "expected a JSON array of order ids")
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

    async def list(self, request: web.Request) -> web.Response:
        check_settle(request)
        q = request.query
        check_contract(q.get("contract"))
        status = q.get("status", "open")
        if status not in ("open", "finished"):
            raise SimError(Label.INVALID_PARAM_VALUE, "invalid argument: status")
        orders = (
            self.m.open_orders(FUTURES) if status == "open" else self.m.visible_history(FUTURES)
        )
        if "last_id" in q:
            ids = [o.id for o in orders]
            orders = orders[ids.index(q["last_id"]) + 1 :] if q["last_id"] in ids else []
        return self._page(orders, request)

    async def timerange(self, request: web.Request) -> web.Response:
        check_settle(request)
        q = request.query
        check_contract(q.get("contract"))
        orders = self.m.visible_history(FUTURES) + self.m.open_orders(FUTURES)
        return self._page(orders_in_range(orders, q), request)

    def _page(self, orders: list[SimOrder], request: web.Request) -> web.Response:
        offset, limit = page(request.query)
        rows = [self.futures_row(o, request) for o in orders[offset : offset + limit]]
        return web.json_response(rows)

    async def trades(self, request: web.Request) -> web.Response:
        check_settle(request)
        q = request.query
        check_contract(q.get("contract"))
        trades = self.m.my_trades(FUTURES)[::-1]
        if "order" in q:
            trades = [t for t in trades if t.order_id == q["order"]]
        trades = trades_in_range(trades, q)
        offset, limit = page(q)
        ranged = request.path.endswith("_timerange")
        rows = [render.futures_trade(t, ranged) for t in trades[offset : offset + limit]]
        return web.json_response(rows)
