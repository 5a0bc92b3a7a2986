"""Signed Gate REST routes of the simulator for wallets: spot<->futures transfers, their status,
and the unified account (mode and balances). Gate sources: ``wallet_transfers`` / ``unified``."""

from __future__ import annotations

from aiohttp import web

from ..exchange.gate_constants import UNIFIED_MODE_CLASSIC, Label, WalletPath
from . import unified as uni
from .gate_rest_base import Route, RouteGroup, json_body, number
from .orders import SimError
from .wallet_transfers import SimTransfer


class WalletRoutes(RouteGroup):
    def private(self) -> list[Route]:
        return [
            ("POST", WalletPath.WALLET_TRANSFERS, self.transfer),
            ("GET", WalletPath.WALLET_ORDER_STATUS, self.order_status),
            ("GET", WalletPath.UNIFIED_MODE, self.unified_mode),
            ("GET", WalletPath.UNIFIED_ACCOUNTS, self.unified_accounts),
        ]

    async def transfer(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise SimError(Label.INVALID_REQUEST_BODY, "a transfer must be a JSON object")
        for name in ("currency", "from", "to", "amount"):
            if name not in body:
                raise SimError(Label.MISSING_REQUIRED_PARAM, f"{name} is required")
        cid = body.get("client_order_id")
        hold = self.m.wallets.hold
        if hold is not None and not await hold():
            return web.Response(status=499)  # dropped unapplied: as if it never arrived
        rec = self.m.wallets.transfer(
            str(body["currency"]),
            str(body["from"]),
            str(body["to"]),
            number(body["amount"], "amount"),
            body.get("settle"),
            self.m.now_ms,
            None if cid is None else str(cid),
        )
        # TransactionID (WalletApi.md transfer); a held/dropped reply still moved the money
        return await self.accepted(request, {"tx_id": rec.tx_id})

    async def order_status(self, request: web.Request) -> web.Response:
        q = request.query
        if "tx_id" not in q and "client_order_id" not in q:
            raise SimError(Label.MISSING_REQUIRED_PARAM, "client_order_id or tx_id is required")
        rec: SimTransfer | None = self.m.wallets.find(q.get("tx_id"), q.get("client_order_id"))
        if rec is None:
            raise SimError(Label.NOT_FOUND, "transfer not found")
        return web.json_response({"tx_id": rec.tx_id, "status": rec.status})

    async def unified_mode(self, request: web.Request) -> web.Response:
        mode = uni.UNIFIED_MODE if self.m.wallets.unified else UNIFIED_MODE_CLASSIC
        return web.json_response({"mode": mode, "settings": {}})

    async def unified_accounts(self, request: web.Request) -> web.Response:
        if not self.m.wallets.unified:
            # docs silent on a classic account asking: the stricter answer, a refusal
            raise SimError(Label.INVALID_PARAM_VALUE, "not a unified account")
        return web.json_response(uni.unified_account(self.m))
