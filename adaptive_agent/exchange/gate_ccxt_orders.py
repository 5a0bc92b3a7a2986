"""Orders on Gate through ccxt as Gate reports them: the lifecycle status from Gate's own
``status``/``finish_as`` fields, and batch replies matched to their requests by position.

ccxt's unified ``status`` is not trusted: ccxt ``gate.py`` ``parse_order_status`` passes
``finish_as`` values it does not know (``poc``, ``stp``, ``reduce_only``, ...) through
unchanged and calls every finished futures order ``closed``. The adapter reads
``info.finish_as``/``info.status`` and maps them with ``lifecycle.order_status``.

Batches: Gate API v4 ``POST /futures/{settle}/batch_orders``: "The returned result is in array
format, and the order corresponds to the orders in the request body"; the spot
``POST /spot/batch_orders`` docs say nothing about the order, so for both the reply is matched
by position and each element's ``text`` is checked when it has one (a rejected element may
come back without it). A reply of another length, or a ``text`` that names another order, is
ambiguous: the orders are looked up by client id, never assumed. ccxt's ``create_orders``
sorts its parsed result by timestamp (rejected elements have none), which loses the position,
so the batch is sent through ccxt's own request builder and implicit endpoint and parsed
element by element.
"""

from __future__ import annotations

import logging
from typing import Any

from ..lifecycle import OrderStatus, order_status
from .exchange_gate import (
    AmbiguousOrderError,
    ExchangeError,
    Market,
    OrderRequest,
    OrderState,
    RateLimitedError,
)
from .gate_constants import POC_LABEL

log = logging.getLogger("adaptive_agent.gate")


def _f(x: Any, default: float = 0.0) -> float:
    try:
        return default if x is None or x == "" else float(x)
    except (TypeError, ValueError):
        return default


def market_of_raw(raw: dict[str, Any]) -> Market:
    """Spot or futures, from a ccxt order (its symbol) or Gate's reply (``contract``)."""
    info = raw.get("info") or {}
    if ":" in str(raw.get("symbol") or "") or "contract" in info:
        return Market.FUTURES
    return Market.SPOT


def text_of(raw: dict[str, Any]) -> str:
    return str(raw.get("clientOrderId") or (raw.get("info") or {}).get("text") or "")


def order_state(raw: dict[str, Any], cid: str) -> OrderState:
    """One ccxt-parsed Gate order as the port's ``OrderState``."""
    info = raw.get("info", {}) or {}
    if info.get("succeeded") is False or (raw.get("status") == "rejected" and not raw.get("id")):
        label = str(info.get("label") or info.get("message") or "rejected")
        return OrderState(cid, OrderStatus.REJECTED, error=label)
    market = market_of_raw(raw)
    filled = abs(_f(raw.get("filled")))
    finish_as = str(info.get("finish_as") or "")
    status = order_status(str(market), info.get("status"), finish_as, filled)
    if status is OrderStatus.UNKNOWN:
        log.warning(
            "order %s: Gate status %r finish_as %r not understood; it will be looked up",
            cid,
            info.get("status"),
            finish_as,
        )
    avg = raw.get("average") or raw.get("price") if filled else None
    avg_f = _f(avg) if avg is not None else None
    fee = 0.0
    fee_info = raw.get("fee") or {}
    if fee_info.get("cost") is not None:
        cost = abs(_f(fee_info.get("cost")))
        fee = cost * (avg_f or 0.0) if fee_info.get("currency") == "BTC" else cost
    # A finished zero-fill ``poc`` is the post-only rejection, reported as an order rather
    # than an HTTP error: the same label as the error, so the executor treats both alike.
    error = POC_LABEL[str(market)] if status is OrderStatus.REJECTED else ""
    how = "" if finish_as == "open" else finish_as
    return OrderState(cid, status, filled, avg_f, fee, raw.get("id"), error, how)


def match_batch(requests: list[OrderRequest], raws: list[dict[str, Any]]) -> list[OrderState]:
    """Batch reply elements -> states, by position, each ``text`` (when present) checked."""
    if len(raws) != len(requests):
        raise AmbiguousOrderError(
            f"batch reply has {len(raws)} elements for {len(requests)} orders"
        )
    out = []
    for r, raw in zip(requests, raws, strict=True):
        text = text_of(raw)
        if text and text != r.client_id:
            raise AmbiguousOrderError(
                f"batch reply element for {r.client_id} names {text}: looking orders up"
            )
        out.append(order_state(raw, r.client_id))
    return out


class GateOrdersMixin:
    """``create_orders`` of ``GateCcxtExchange``: single orders and position-matched batches."""

    ex: Any
    _call: Any
    _ccxt_order: Any

    def _state(self, raw: dict[str, Any], cid: str) -> OrderState:
        return order_state(raw, cid)

    async def create_orders(self, requests: list[OrderRequest]) -> list[OrderState]:
        if not requests:
            return []
        from .gate_ccxt import BATCH_MAX  # the adapter's module imports this one

        if len({r.market for r in requests}) != 1:
            raise ValueError("a batch holds orders of one market type")
        limit = BATCH_MAX[requests[0].market]
        if len(requests) > limit:
            raise ValueError(f"a {requests[0].market} batch holds at most {limit} orders")
        if len(requests) == 1:
            r = requests[0]
            o = self._ccxt_order(r)
            try:
                raw = await self._call(
                    self.ex.create_order,
                    o["symbol"],
                    o["type"],
                    o["side"],
                    o["amount"],
                    o["price"],
                    o["params"],
                )
            except ExchangeError as exc:
                if isinstance(exc, AmbiguousOrderError | RateLimitedError):
                    raise
                return [OrderState(r.client_id, OrderStatus.REJECTED, error=exc.label or str(exc))]
            return [self._state(raw, r.client_id)]
        return match_batch(
            requests, await self._send_batch([self._ccxt_order(r) for r in requests])
        )

    async def _send_batch(self, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """ccxt's ``create_orders`` without its sort: the reply parsed in request order."""
        ex = self.ex
        await self._call(ex.load_unified_status)  # as ccxt's create_orders does first
        body = ex.create_orders_request(orders, {})
        if requests_are_spot(orders):
            reply = await self._call(ex.privateSpotPostBatchOrders, body)
        else:
            reply = await self._call(ex.privateFuturesPostSettleBatchOrders, body)
        if not isinstance(reply, list):
            raise AmbiguousOrderError(f"batch reply is not a list: {type(reply).__name__}")
        return [ex.parse_order(element) for element in reply]


def requests_are_spot(orders: list[dict[str, Any]]) -> bool:
    return ":" not in str(orders[0]["symbol"])
