"""Signed Gate REST routes of the simulator for spot orders and fills."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..exchange.gate_constants import SPOT_BATCH_MAX, Label, Path
from . import gate_render as render
from .gate_rest_base import (
    Route,
    RouteGroup,
    check_pair,
    json_body,
    number,
    orders_in_range,
    spot_page,
    spot_trades_range,
)
from .markets import PAIR
from .orders import SPOT, SimError, SimOrder


class SpotRoutes(RouteGroup):
    def private(self) -> list[Route]:
        return [
            ("POST", Path.SPOT_ORDERS, self.create),
            ("GET", Path.SPOT_ORDERS, self.list),
            ("DELETE", Path.SPOT_ORDERS, self.cancel_all),
            ("GET", Path.SPOT_ORDER, self.get),
            ("DELETE", Path.SPOT_ORDER, self.cancel),
            ("GET", Path.SPOT_OPEN_ORDERS, self.open),
            ("POST", Path.SPOT_BATCH_ORDERS, self.create_batch),
            ("POST", Path.SPOT_CANCEL_BATCH, self.cancel_batch),
            ("GET", Path.SPOT_MY_TRADES, self.trades),
        ]

    def _place(self, body: Any) -> SimOrder:
        if not isinstance(body, dict):
            raise SimError(Label.INVALID_REQUEST_BODY, "an order must be a JSON object")
        check_pair(body)
        # a unified account's orders may say account=unified (Order.md ``account``)
        allowed = ("spot", "unified") if self.m.wallets.unified else ("spot",)
        if body.get("account", "spot") not in allowed:
            raise SimError(Label.INVALID_PARAM_VALUE, "only the spot account is simulated")
        for name in ("side", "amount"):
            if name not in body:
                raise SimError(Label.MISSING_REQUIRED_PARAM, f"{name} is required")
        market_order = body.get("type", "limit") == "market"
        if not market_order and "price" not in body:
            raise SimError(Label.MISSING_REQUIRED_PARAM, "price is required")
        return self.m.place(
            SPOT,
            body["side"],
            number(body["amount"], "amount"),
            None if market_order else number(body["price"], "price"),
            tif=body.get("time_in_force", "ioc" if market_order else "gtc"),
            text=body.get("text"),
            poc_as_order=self.faults.post_only_reject == "order",
        )

    async def create(self, request: web.Request) -> web.StreamResponse:
        order = self._place(await json_body(request))
        return await self.accepted(request, render.spot_order(order))

    async def create_batch(self, request: web.Request) -> web.StreamResponse:
        out = []
        for item in await self.batch(request, SPOT_BATCH_MAX):
            try:
                row = render.spot_order(self._place(item))
                row.update(succeeded=True, label="", message="", order_id=row["id"])
            except SimError as exc:
                row = {"succeeded": False, "label": exc.label, "message": exc.message}
                row.update(account="spot", text=self.echoed_text(item))
            out.append(row)
        return await self.accepted(request, out)

    async def get(self, request: web.Request) -> web.Response:
        check_pair(request.query)
        order = self.m.get_order(SPOT, request.match_info["order_id"])
        return web.json_response(render.spot_order(order))

    async def cancel(self, request: web.Request) -> web.Response:
        check_pair(request.query)
        order = self.m.cancel(SPOT, request.match_info["order_id"])
        return web.json_response(render.spot_order(order))

    async def cancel_all(self, request: web.Request) -> web.Response:
        check_pair(request.query)
        side = request.query.get("side")
        done = [
            self.m.cancel(SPOT, o.id) for o in self.m.open_orders(SPOT) if side in (None, o.side)
        ]
        return web.json_response([render.spot_order(o) for o in done])

    async def cancel_batch(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        if not isinstance(body, list):
            raise SimError(Label.INVALID_REQUEST_BODY, "expected a JSON array")
        out = []
        for item in body:
            oid = str(item.get("id", "")) if isinstance(item, dict) else ""
            row: dict[str, Any] = {"currency_pair": PAIR, "id": oid}
            try:
                check_pair(item)
                self.m.cancel(SPOT, oid)
                row.update(succeeded=True, label="", message="")
            except SimError as exc:
                row.update(succeeded=False, label=exc.label, message=exc.message)
            out.append(row)
        return web.json_response(out)

    async def list(self, request: web.Request) -> web.Response:
        q = request.query
        check_pair(q)
        status = q.get("status", "open")
        if status not in ("open", "finished"):
            raise SimError(Label.INVALID_PARAM_VALUE, "invalid argument: status")
        orders = self.m.open_orders(SPOT) if status == "open" else self.m.order_history(SPOT)
        orders = orders_in_range(orders, q)
        return web.json_response([render.spot_order(o) for o in spot_page(orders, q)])

    async def open(self, request: web.Request) -> web.Response:
        orders = self.m.open_orders(SPOT)
        if not orders:
            return web.json_response([])
        rows = [render.spot_order(o) for o in orders]
        return web.json_response([{"currency_pair": PAIR, "total": len(rows), "orders": rows}])

    async def trades(self, request: web.Request) -> web.Response:
        q = request.query
        check_pair(q, required=False)
        trades = self.m.my_trades(SPOT)[::-1]
        if "order_id" in q:
            trades = [t for t in trades if t.order_id == q["order_id"]]
        start, end = spot_trades_range(q, self.m.now_ms)
        trades = [t for t in trades if start <= t.time_ms <= end]
        return web.json_response([render.spot_trade(t) for t in spot_page(trades, q)])
