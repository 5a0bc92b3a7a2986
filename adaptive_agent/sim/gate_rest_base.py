"""What every group of simulated Gate REST routes shares: argument parsing, the checks of
pair / contract / settle currency, and the reply to an order-creating request."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from aiohttp import web

from ..exchange.gate_constants import (
    SPOT_TRADES_OFFSET_MAX,
    SPOT_TRADES_RANGE_MAX_MS,
    SPOT_TRADES_SPAN_MS,
    Label,
)
from . import gate_render as render
from .faults import Faults
from .markets import CONTRACT, PAIR, SETTLE
from .matching import SimMarket
from .orders import SimError, SimOrder

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = tuple[str, str, Handler]  # method, path under /api/v4, handler


def number(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SimError(Label.INVALID_PARAM_VALUE, f"invalid argument: {name}") from None


def int_arg(q: Any, name: str, default: int, high: int = 1000) -> int:
    raw = q.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SimError(Label.INVALID_PARAM_VALUE, f"invalid argument: {name}") from None
    if not 0 <= value <= high:
        raise SimError(Label.INVALID_PARAM_VALUE, f"invalid argument: {name} out of range")
    return value


def bool_arg(raw: Any) -> bool:
    return str(raw).lower() in ("true", "1")


def page(q: Any) -> tuple[int, int]:
    """(offset, limit) of a futures-style listing."""
    return int_arg(q, "offset", 0, 10**9), int_arg(q, "limit", 100)


def spot_page(items: list[Any], q: Any) -> list[Any]:
    """One page of a spot listing: Gate's ``page`` counts from 1, ``limit`` rows each."""
    page, limit = max(int_arg(q, "page", 1, 10**9), 1), int_arg(q, "limit", 100)
    return items[(page - 1) * limit : page * limit]


def spot_trades_range(q: Any, now_ms: int) -> tuple[float, float]:
    """The time range a spot ``my_trades`` read covers, as Gate answers it (gateapi-python
    docs/SpotApi.md list_my_trades): no ``from``/``to``, the last 7 days; only one of them, 7
    days from (or up to) it; both, at most 30 days apart; and ``limit * (page - 1) <= 1000``."""
    start, end = time_range(q)
    if "from" in q and "to" in q:
        if end - start > SPOT_TRADES_RANGE_MAX_MS:
            raise SimError(Label.INVALID_PARAM_VALUE, "time range exceeds 30 days")
    elif "from" in q:
        end = start + SPOT_TRADES_SPAN_MS
    else:
        end = end if "to" in q else now_ms
        start = end - SPOT_TRADES_SPAN_MS
    page, limit = max(int_arg(q, "page", 1, 10**9), 1), int_arg(q, "limit", 100)
    if limit * (page - 1) > SPOT_TRADES_OFFSET_MAX:
        raise SimError(Label.INVALID_PARAM_VALUE, "limit * (page - 1) exceeds 1000")
    return start, end


def text_of(item: Any) -> str | None:
    return item.get("text") if isinstance(item, dict) else None


def time_range(q: Any) -> tuple[float, float]:
    start = number(q["from"], "from") * 1000 if "from" in q else -np.inf
    end = number(q["to"], "to") * 1000 if "to" in q else np.inf
    return start, end


def orders_in_range(orders: list[SimOrder], q: Any) -> list[SimOrder]:
    start, end = time_range(q)
    return [o for o in orders if start <= o.create_ms <= end]


def trades_in_range(trades: list[Any], q: Any) -> list[Any]:
    start, end = time_range(q)
    return [t for t in trades if start <= t.time_ms <= end]


def check_settle(request: web.Request) -> None:
    if request.match_info["settle"].lower() != SETTLE:
        raise SimError(Label.INVALID_PARAM_VALUE, "only the usdt settle currency is simulated")


def check_pair(q: Any, required: bool = True) -> None:
    pair = q.get("currency_pair")
    if (pair is None and required) or (pair is not None and pair != PAIR):
        raise SimError(Label.INVALID_CURRENCY_PAIR, f"unknown currency pair {pair}")


def check_contract(value: str | None) -> None:
    if value is not None and value != CONTRACT:
        raise SimError(Label.CONTRACT_NOT_FOUND, f"contract {value} not found")


def decimal_sizes(request: web.Request) -> bool:
    """Gate's ``X-Gate-Size-Decimal: 1`` header: contract sizes as decimal strings."""
    return request.headers.get("X-Gate-Size-Decimal") == "1"


async def json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"null")
    except ValueError:
        raise SimError(Label.INVALID_REQUEST_BODY, "request body is not valid JSON") from None


class RouteGroup:
    """A set of handlers over one market; ``public``/``private`` list their routes."""

    def __init__(self, market: SimMarket, faults: Faults, stopping: asyncio.Event) -> None:
        self.m, self.faults, self.stopping = market, faults, stopping

    def public(self) -> list[Route]:
        return []

    def private(self) -> list[Route]:
        return []

    def echoed_text(self, item: Any) -> str | None:
        """A rejected batch element's ``text``: the request's, unless the fault omits it."""
        return text_of(item) if self.faults.batch_text == "echo" else None

    def futures_row(self, o: SimOrder, request: web.Request) -> dict[str, Any]:
        return render.futures_order(o, self.m.fees, decimal_sizes(request))

    async def accepted(self, request: web.Request, payload: Any) -> web.StreamResponse:
        """Reply to an order-creating request, unless a 'timeout after accept' is armed."""
        if self.faults.take_timeout():
            if self.faults.timeout_mode == "drop":
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=499)  # never sent: the connection is gone
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.faults.timeout_delay_s)
        return web.json_response(payload, status=201)

    async def batch(self, request: web.Request, limit: int) -> list[Any]:
        """A batch body: a non-empty JSON array of at most ``limit`` orders."""
        body = await json_body(request)
        if not isinstance(body, list) or not body:
            raise SimError(Label.INVALID_REQUEST_BODY, "a batch must be a non-empty JSON array")
        if len(body) > limit:
            raise SimError(Label.INVALID_PARAM_VALUE, f"at most {limit} orders per batch")
        return body
