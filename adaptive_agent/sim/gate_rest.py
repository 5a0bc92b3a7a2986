"""Gate API v4 REST under ``/api/v4``: the endpoints ccxt's gate client and the gate-api SDK
call for spot BTC_USDT and the USDT perpetual, answered from a ``SimMarket``.

Every signed request is verified (``KEY``/``Timestamp``/``SIGN``) before anything else; then
fault injection may answer SERVER_ERROR. Errors use Gate's ``{"label", "message"}`` body and
status codes, so clients map them to the same exceptions as against Gate. The routes are in
``gate_rest_market`` (public), ``gate_rest_account``, ``gate_rest_spot`` and
``gate_rest_futures`` (signed).
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import unquote, unquote_plus

from aiohttp import web

from ..exchange.gate_constants import REST_PREFIX, Label, http_status
from .faults import Faults
from .gate_rest_account import AccountRoutes
from .gate_rest_base import Handler, RouteGroup
from .gate_rest_futures import FuturesRoutes
from .gate_rest_margin import MarginRoutes
from .gate_rest_market import MarketRoutes
from .gate_rest_spot import SpotRoutes
from .gate_rest_wallet import WalletRoutes
from .matching import SimMarket
from .orders import SimError
from .signing import same, sign_rest

PREFIX = REST_PREFIX
MAX_CLOCK_SKEW_S = 60.0  # Gate rejects a Timestamp further than this from its clock
GROUPS: tuple[type[RouteGroup], ...] = (
    MarketRoutes,
    AccountRoutes,
    SpotRoutes,
    FuturesRoutes,
    MarginRoutes,  # margin slice
    WalletRoutes,  # accounts and wallets (issue 8)
)


def error_response(label: str, message: str) -> web.Response:
    return web.json_response({"label": label, "message": message}, status=http_status(label))


class GateRest:
    """Route table and request checks; one instance per server."""

    def __init__(self, market: SimMarket, api_key: str, api_secret: str, faults: Faults) -> None:
        self.m, self.key, self.secret, self.faults = market, api_key, api_secret, faults
        self.stopping = asyncio.Event()  # set on shutdown: releases held ("timeout") replies
        self.groups = [group(market, faults, self.stopping) for group in GROUPS]
        # requests that came with Gate's auth headers (KEY or SIGN), valid or not, and those to
        # a private route: a keyless client (paper --live) must leave both at 0
        self.signed_requests = 0
        self.private_requests = 0

    def add_routes(self, app: web.Application) -> None:
        for group in self.groups:
            for method, path, handler in group.public():
                app.router.add_route(method, PREFIX + path, self._wrap(handler, private=False))
            for method, path, handler in group.private():
                app.router.add_route(method, PREFIX + path, self._wrap(handler, private=True))

    def _wrap(self, handler: Handler, private: bool) -> Handler:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            self.signed_requests += any(h in request.headers for h in ("KEY", "SIGN"))
            self.private_requests += private
            if self.faults.latency_ms > 0:
                await asyncio.sleep(self.faults.latency_ms / 1000.0)
            try:
                if private:
                    await self._authenticate(request)
                    if self.faults.fail_now():
                        raise SimError(Label.SERVER_ERROR, "Internal server error")
                    if self.faults.rate_limited_now():  # Gate: HTTP 429, nothing done
                        raise SimError(Label.TOO_MANY_REQUESTS, "Request Rate limit Exceeded")
                    if self.faults.unavailable_now():
                        return web.Response(status=503, text="503 Service Temporarily Unavailable")
                return await handler(request)
            except SimError as exc:
                return error_response(exc.label, exc.message)
            except ConnectionResetError:  # the client went away mid-request (e.g. killed)
                return web.Response(status=499)

        return endpoint

    async def _authenticate(self, request: web.Request) -> None:
        key, ts, sign = (request.headers.get(h) for h in ("KEY", "Timestamp", "SIGN"))
        if not key or not ts or not sign:
            raise SimError(
                Label.MISSING_REQUIRED_HEADER, "Missing required header: KEY/Timestamp/SIGN"
            )
        if key != self.key:
            raise SimError(Label.INVALID_KEY, "Invalid key provided")
        try:
            skew = abs(float(ts) - time.time())
        except ValueError:
            raise SimError(Label.INVALID_SIGNATURE, "Timestamp is not a number") from None
        if skew > MAX_CLOCK_SKEW_S:
            raise SimError(Label.REQUEST_EXPIRED, "Request Timestamp is far from the server time")
        body = await request.read()
        path = unquote(request.rel_url.raw_path)
        query = unquote_plus(request.rel_url.raw_query_string)
        expected = sign_rest(self.secret, request.method, path, query, body, ts)
        if not same(expected, sign):
            raise SimError(Label.INVALID_SIGNATURE, "Signature mismatch")
