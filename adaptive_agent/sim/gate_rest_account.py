"""Signed Gate REST routes of the simulator for accounts: account detail, fees, spot and
futures balances, position mode, positions and the futures account book."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..exchange.gate_constants import KEY_MODE_LEGACY_UNIFIED, Label, Path
from . import gate_render as render
from .gate_rest_base import (
    Route,
    RouteGroup,
    bool_arg,
    check_contract,
    check_settle,
    decimal_sizes,
    page,
    time_range,
)
from .orders import SimError


class AccountRoutes(RouteGroup):
    def private(self) -> list[Route]:
        return [
            ("GET", Path.ACCOUNT_DETAIL, self.account_detail),
            ("GET", Path.WALLET_FEE, self.wallet_fee),
            ("GET", Path.SPOT_ACCOUNTS, self.spot_accounts),
            ("GET", Path.FUTURES_ACCOUNTS, self.futures_accounts),
            ("POST", Path.FUTURES_DUAL_MODE, self.dual_mode),
            ("GET", Path.FUTURES_POSITIONS, self.positions),
            ("GET", Path.FUTURES_POSITION, self.position),
            ("GET", Path.FUTURES_DUAL_POSITIONS, self.dual_positions),
            ("GET", Path.FUTURES_ACCOUNT_BOOK, self.account_book),
        ]

    async def account_detail(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "user_id": render.USER_ID,
                "ip_whitelist": [],
                "currency_pairs": [],
                # AccountDetailKey.md: 1 classic, 2 (legacy) unified
                "key": {"mode": KEY_MODE_LEGACY_UNIFIED if self.m.wallets.unified else 1},
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
        check_settle(request)
        return web.json_response(render.futures_account(self.m))

    async def dual_mode(self, request: web.Request) -> web.Response:
        check_settle(request)
        if "dual_mode" not in request.query:
            raise SimError(Label.MISSING_REQUIRED_PARAM, "dual_mode is required")
        self.m.set_dual_mode(bool_arg(request.query["dual_mode"]))
        return web.json_response(render.futures_account(self.m))

    def _position_rows(self, request: web.Request) -> list[dict[str, Any]]:
        return render.positions(self.m, decimal_sizes(request))

    async def positions(self, request: web.Request) -> web.Response:
        check_settle(request)
        rows = self._position_rows(request)
        if bool_arg(request.query.get("holding", "false")):
            rows = [r for r in rows if float(r["size"]) != 0]
        return web.json_response(rows)

    async def position(self, request: web.Request) -> web.Response:
        check_settle(request)
        check_contract(request.match_info["contract"])
        if self.m.dual_mode:
            raise SimError(Label.POSITION_DUAL_MODE, "Operation forbidden in dual-mode")
        return web.json_response(self._position_rows(request)[0])

    async def dual_positions(self, request: web.Request) -> web.Response:
        check_settle(request)
        check_contract(request.match_info["contract"])
        if not self.m.dual_mode:
            raise SimError(Label.POSITION_NOT_FOUND, "dual-mode positions need dual mode")
        return web.json_response(self._position_rows(request))

    async def account_book(self, request: web.Request) -> web.Response:
        check_settle(request)
        q = request.query
        check_contract(q.get("contract"))
        start, end = time_range(q)
        entries = [e for e in self.m.account_book(q.get("type")) if start <= e.time_ms <= end]
        entries.reverse()
        offset, limit = page(q)
        return web.json_response([render.book_entry(e) for e in entries[offset : offset + limit]])
