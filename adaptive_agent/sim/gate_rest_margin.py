"""Gate REST routes of the simulator for leverage, margin mode and server time (margin slice).

``POST /futures/{settle}/dual_comp/positions/{contract}/leverage`` (query ``leverage``,
optional ``cross_leverage_limit``) and ``POST /futures/{settle}/dual_comp/positions/cross_mode``
(body ``{"mode", "contract"}``) answer both dual positions (gateapi-python docs/FuturesApi.md
update_dual_mode_position_leverage, update_dual_comp_position_cross_mode); both need dual mode,
as their paths say. ``GET /spot/time`` answers ``{"server_time": ms}`` (docs/SpotApi.md
get_system_time): the server's wall clock, the one request timestamps are checked against.
"""

from __future__ import annotations

import time

from aiohttp import web

from ..exchange.gate_constants import Label, Path
from . import gate_render as render
from .gate_rest_base import (
    Route,
    RouteGroup,
    check_contract,
    check_settle,
    decimal_sizes,
    json_body,
    number,
)
from .margin_modes import control
from .orders import SimError


class MarginRoutes(RouteGroup):
    def public(self) -> list[Route]:
        return [("GET", Path.SPOT_TIME, self.server_time)]

    def private(self) -> list[Route]:
        return [
            ("POST", Path.FUTURES_DUAL_LEVERAGE, self.leverage),
            ("POST", Path.FUTURES_DUAL_CROSS_MODE, self.cross_mode),
        ]

    async def server_time(self, request: web.Request) -> web.Response:
        return web.json_response({"server_time": int(time.time() * 1000)})

    def _dual(self, request: web.Request) -> web.Response:
        return web.json_response(render.positions(self.m, decimal_sizes(request)))

    def _need_dual(self) -> None:
        if not self.m.dual_mode:
            raise SimError(Label.POSITION_NOT_FOUND, "dual-mode positions need dual mode")

    async def leverage(self, request: web.Request) -> web.Response:
        check_settle(request)
        check_contract(request.match_info["contract"])
        self._need_dual()
        q = request.query
        if "leverage" not in q:
            raise SimError(Label.MISSING_REQUIRED_PARAM, "leverage is required")
        limit = q.get("cross_leverage_limit")
        control(self.m).set_leverage(
            number(q["leverage"], "leverage"),
            None if limit is None else number(limit, "cross_leverage_limit"),
        )
        return self._dual(request)

    async def cross_mode(self, request: web.Request) -> web.Response:
        check_settle(request)
        body = await json_body(request)
        if not isinstance(body, dict) or "mode" not in body or "contract" not in body:
            raise SimError(Label.MISSING_REQUIRED_PARAM, "mode and contract are required")
        check_contract(str(body["contract"]))
        self._need_dual()
        control(self.m).set_mode(str(body["mode"]))
        return self._dual(request)
