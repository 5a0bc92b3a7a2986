"""Websockets on the simulator's port: Gate v4 spot and USDT futures, Binance kline streams.

Gate: subscribe/unsubscribe with ``{"time","id","channel","event","payload"}``, acknowledged
``{"result": {"status": "success"}}``; private channels need an ``auth`` object signed
``channel=<c>&event=<e>&time=<t>`` (verified; failures answer error code 4 like Gate).
Updates: ``*.tickers`` / ``*.book_ticker`` (and ``*.candlesticks`` 5m) at every bar, plus a
snapshot right after subscribing; ``*.orders`` on every put/fill/finish; ``futures.positions``
on fills and funding. Binance (``/ws``, ``/stream/ws``, either with any suffix): ``SUBSCRIBE``
to ``btcusdt@kline_5m`` answered ``{"result": null, "id": n}``, then one final
(``"x": true``) kline per completed bar.

Each connection has its own queue and writer task, so messages keep the market's event order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from ..exchange.gate_constants import Label
from . import binance
from . import gate_render as render
from .faults import Faults
from .markets import PAIR
from .matching import SimMarket
from .orders import FUTURES, SPOT, BarEvent, FundingEvent, OrderEvent, SimEvent, TradeEvent
from .signing import same, sign_ws

PUBLIC = {
    SPOT: ("spot.tickers", "spot.book_ticker", "spot.candlesticks"),
    FUTURES: ("futures.tickers", "futures.book_ticker", "futures.candlesticks"),
}
PRIVATE = {SPOT: ("spot.orders",), FUTURES: ("futures.orders", "futures.positions")}
SPOT_PATHS = ("/ws/v4/", "/ws/v4")
FUTURES_PATHS = ("/v4/ws/usdt", "/v4/ws/futures/usdt")
BINANCE_PATHS = ("/ws", "/ws/{tail:.*}", "/stream/ws", "/stream/ws/{tail:.*}")


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    request: web.Request
    kind: str  # spot | futures | binance
    decimal_sizes: bool
    id: str
    subs: set[str] = field(default_factory=set)
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)

    def push(self, payload: dict[str, Any]) -> None:
        self.queue.put_nowait(json.dumps(payload))


class WsHub:
    """All websocket connections of one server, fed by the market's events."""

    def __init__(self, market: SimMarket, api_key: str, api_secret: str, faults: Faults) -> None:
        self.m, self.key, self.secret, self.faults = market, api_key, api_secret, faults
        self.conns: set[_Conn] = set()
        self._ids = itertools.count(1)
        market.subscribe(self.on_event)

    def add_routes(self, app: web.Application) -> None:
        for path in SPOT_PATHS:
            app.router.add_get(path, self.gate_spot)
        for path in FUTURES_PATHS:
            app.router.add_get(path, self.gate_futures)
        for path in BINANCE_PATHS:
            app.router.add_get(path, self.binance)

    async def gate_spot(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, SPOT)

    async def gate_futures(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, FUTURES)

    async def binance(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, "binance")

    # ---- connection lifecycle -----------------------------------------------------------

    async def _serve(self, request: web.Request, kind: str) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        decimal = request.headers.get("X-Gate-Size-Decimal") == "1"
        conn = _Conn(ws, request, kind, decimal, f"sim-{next(self._ids)}")
        writer = asyncio.create_task(self._write(conn))
        self.conns.add(conn)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
        finally:
            self.conns.discard(conn)
            conn.queue.put_nowait(None)
            await writer
        return ws

    async def _write(self, conn: _Conn) -> None:
        while (text := await conn.queue.get()) is not None:
            if conn.ws.closed:
                continue
            if self.faults.ws_drop is not None:  # the ``ws_drop`` fault counts messages down
                if self.faults.ws_drop <= 0:
                    self.drop_all()
                    continue
                self.faults.ws_drop -= 1
            with contextlib.suppress(ConnectionError):
                await conn.ws.send_str(text)

    def drop_all(self) -> None:
        """Cut every websocket abruptly, as a network failure would (no close handshake)."""
        self.faults.ws_drop = None
        for conn in list(self.conns):
            if conn.request.transport is not None:
                conn.request.transport.abort()

    async def close_all(self) -> None:
        """Graceful close for server shutdown."""
        for conn in list(self.conns):
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

    # ---- incoming -----------------------------------------------------------------------

    def _on_text(self, conn: _Conn, data: str) -> None:
        try:
            msg = json.loads(data)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        if conn.kind == "binance":
            self._on_binance(conn, msg)
        else:
            self._on_gate(conn, msg)

    def _on_binance(self, conn: _Conn, msg: dict[str, Any]) -> None:
        method, rid = msg.get("method"), msg.get("id")
        params = msg.get("params") or []
        if method == "LIST_SUBSCRIPTIONS":
            conn.push({"result": sorted(conn.subs), "id": rid})
            return
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            conn.push({"error": {"code": 2, "msg": f"Invalid request: {method}"}, "id": rid})
            return
        unknown = [p for p in params if p != binance.KLINE_STREAM]
        if unknown:
            text = f"Invalid request: unknown stream(s) {', '.join(map(str, unknown))}"
            conn.push({"error": {"code": 2, "msg": text}, "id": rid})
            return
        for p in params:
            (conn.subs.add if method == "SUBSCRIBE" else conn.subs.discard)(p)
        conn.push({"result": None, "id": rid})

    def _on_gate(self, conn: _Conn, msg: dict[str, Any]) -> None:
        channel, event = str(msg.get("channel", "")), msg.get("event")
        head = {"time": self.m.now_ms // 1000, "time_ms": self.m.now_ms, "id": msg.get("id")}
        if channel.endswith(".ping"):
            conn.push({**head, "channel": channel[:-5] + ".pong", "event": "", "result": None})
            return
        payload = msg.get("payload") or []
        reply = {**head, "conn_id": conn.id, "channel": channel, "event": event}
        reply["payload"] = payload
        error = self._check_subscription(conn.kind, channel, event, msg, payload)
        if error is not None:
            conn.push({**reply, "error": {"code": error[0], "message": error[1]}, "result": None})
            return
        if event == "subscribe":
            conn.subs.add(channel)
        else:
            conn.subs.discard(channel)
        conn.push({**reply, "result": {"status": "success"}})
        if event == "subscribe" and channel.endswith(("tickers", "book_ticker")):
            conn.push(self._market_update(conn.kind, channel))

    def _check_subscription(
        self, kind: str, channel: str, event: Any, msg: dict[str, Any], payload: Any
    ) -> tuple[int, str] | None:
        if event not in ("subscribe", "unsubscribe"):
            return 1, f"unknown event {event!r}"
        if channel not in PUBLIC[kind] + PRIVATE[kind]:
            return 2, f"unknown channel {channel}"
        if not isinstance(payload, list):
            return 2, "payload must be a list"
        markets = payload  # the rest of the payload after a leading uid or interval
        if channel.endswith("candlesticks"):
            if payload[:1] != ["5m"]:
                return 2, "only 5m candlesticks are simulated"
            markets = payload[1:]
        elif channel in PRIVATE[FUTURES]:
            markets = payload[1:]  # [uid, contract]: any uid is accepted
        if any(m not in (PAIR, "!all") for m in markets):
            return 2, f"unknown currency pair or contract in {payload!r}"
        if channel in PRIVATE[kind]:
            return self._check_auth(channel, str(event), msg)
        return None

    def _check_auth(self, channel: str, event: str, msg: dict[str, Any]) -> tuple[int, str] | None:
        auth = msg.get("auth")
        if not isinstance(auth, dict) or auth.get("method") != "api_key":
            return _auth_error(Label.MISSING_REQUIRED_HEADER, "auth missing")
        if auth.get("KEY") != self.key:
            return _auth_error(Label.INVALID_KEY, "Invalid key provided")
        expected = sign_ws(self.secret, channel, event, msg.get("time", ""))
        if not same(expected, str(auth.get("SIGN", ""))):
            return _auth_error(Label.INVALID_SIGNATURE, "Signature mismatch")
        return None

    # ---- outgoing -----------------------------------------------------------------------

    def _update(self, channel: str, result: Any) -> dict[str, Any]:
        now = self.m.now_ms
        return {
            "time": now // 1000,
            "time_ms": now,
            "channel": channel,
            "event": "update",
            "result": result,
        }

    def _market_update(self, kind: str, channel: str) -> dict[str, Any]:
        if channel.endswith("book_ticker"):
            return self._update(channel, render.book_ticker(self.m, kind))
        ticker = render.ticker(self.m, kind)
        return self._update(channel, ticker if kind == SPOT else [ticker])

    def _candle_update(self, kind: str) -> dict[str, Any]:
        t, o, h, lo, c, _ = render.candle_window(self.m, None, self.m.now_ms - 1, 1)[0]
        n = render.num
        row = {
            "t": str(t // 1000),
            "v": "0",
            "c": n(c),
            "h": n(h),
            "l": n(lo),
            "o": n(o),
            "n": f"5m_{PAIR}",
            "a": "0",
            "w": True,
        }
        return self._update(f"{'spot' if kind == SPOT else 'futures'}.candlesticks", row)

    def _subscribers(self, channel: str) -> list[_Conn]:
        return [c for c in self.conns if channel in c.subs]

    def on_event(self, event: SimEvent) -> None:
        """Market listener: turn one event into the messages subscribers expect."""
        if isinstance(event, OrderEvent):
            self._push_order(event)
        elif isinstance(event, TradeEvent | FundingEvent):
            if isinstance(event, FundingEvent) or event.trade.market == FUTURES:
                self._push_positions()
        elif isinstance(event, BarEvent):
            self._push_bar()

    def _push_order(self, event: OrderEvent) -> None:
        o = event.order
        channel = "spot.orders" if o.market == SPOT else "futures.orders"
        for conn in self._subscribers(channel):
            row = render.order(o, self.m.fees, conn.decimal_sizes)
            row["user"] = str(render.USER_ID)
            if o.market == SPOT:
                row["event"] = event.phase
            else:
                row["create_time_ms"] = o.create_ms
                row["update_time_ms"] = o.update_ms
            conn.push(self._update(channel, [row]))

    def _push_positions(self) -> None:
        for conn in self._subscribers("futures.positions"):
            rows = render.positions(self.m, conn.decimal_sizes)
            for row in rows:
                row.update(time=self.m.now_ms // 1000, time_ms=self.m.now_ms)
            conn.push(self._update("futures.positions", rows))

    def _push_bar(self) -> None:
        for kind in (SPOT, FUTURES):
            prefix = "spot" if kind == SPOT else "futures"
            for name in ("tickers", "book_ticker"):
                channel = f"{prefix}.{name}"
                for conn in self._subscribers(channel):
                    conn.push(self._market_update(kind, channel))
            for conn in self._subscribers(f"{prefix}.candlesticks"):
                conn.push(self._candle_update(kind))
        rows = render.candle_window(self.m, None, self.m.now_ms - 1, 1)
        for conn in self._subscribers(binance.KLINE_STREAM):
            conn.push(binance.kline_event(rows[0], self.m.now_ms))


def _auth_error(label: str, message: str) -> tuple[int, str]:
    """Gate's websocket error 4 (authentication), with the REST label and message as text."""
    return 4, json.dumps({"label": label, "message": message})
