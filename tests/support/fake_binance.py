"""A small Binance spot market-data server on 127.0.0.1 for the reference feed's unit tests.

It speaks Binance's shapes (rendered by the simulator's own ``kline_row`` / ``kline_event``,
so there is one rendering of them): REST ``/api/v3/klines`` and ``/api/v3/time``, and the
``/ws`` kline stream with ``SUBSCRIBE``. Unlike the full simulator it lets a test decide every
message: push any text, drop every connection, refuse the next websocket handshakes, fail a
REST call, and it records what the client asked for.

Binance's documented paging, which ``klines`` follows: "With startTime, returns oldest items
from startTime up to the limit. With both, behaves like startTime but does not exceed endTime"
(developers.binance.com/docs/binance-spot-api-docs/rest-api, General API Information); klines
``limit`` defaults to 500, at most 1000 (Market data endpoints, Kline/Candlestick data).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType, web

from adaptive_agent.core.time_rules import BAR_MS
from adaptive_agent.sim.binance import KLINE_STREAM, kline_event, kline_row
from adaptive_agent.sim.gate_render import CandleRow

T0 = 1_700_000_000_000 // BAR_MS * BAR_MS  # a bar boundary (Nov 2023)


def bar_open(i: int) -> int:
    return T0 + i * BAR_MS


def closed_row(i: int) -> CandleRow:
    """Bar ``i``'s candle, closed; prices tell the bars apart (close = 30000 + i)."""
    px = 30_000.0 + i
    return (bar_open(i), px - 0.5, px + 1.0, px - 1.0, px, True)


class FakeBinance:
    def __init__(self) -> None:
        self.closed: dict[int, CandleRow] = {}  # open ms -> closed candle
        self.now_ms = T0
        self.kline_requests: list[dict[str, str]] = []
        self.subscribes: list[dict[str, Any]] = []
        self.refuse_ws = 0  # the next N handshakes get HTTP 503
        self.fail_klines = 0  # the next N klines calls get HTTP 500
        self.fail_time = 0
        self._conns: list[web.WebSocketResponse] = []
        self._subscribed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- the market -----------------------------------------------------------------------
    def close_bars(self, first: int, last: int) -> None:
        """Bars first..last have closed; the clock is 1 s into bar ``last + 1``."""
        for i in range(first, last + 1):
            row = closed_row(i)
            self.closed[row[0]] = row
        self.now_ms = max(self.now_ms, bar_open(last + 1) + 1_000)

    # --- the server -----------------------------------------------------------------------
    async def __aenter__(self) -> FakeBinance:
        app = web.Application()
        app.router.add_get("/api/v3/klines", self._klines)
        app.router.add_get("/api/v3/time", self._time)
        app.router.add_get("/ws", self._ws)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.drop()
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def ws_url(self) -> str:
        return f"{self.base_url}/ws"

    async def _klines(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        self.kline_requests.append(q)
        if self.fail_klines > 0:
            self.fail_klines -= 1
            return web.json_response({"code": -1000, "msg": "An unknown error."}, status=500)
        start = int(q["startTime"]) if "startTime" in q else None
        end = int(q["endTime"]) if "endTime" in q else None
        limit = min(int(q.get("limit", 500)), 1000)
        forming_open = self.now_ms - self.now_ms % BAR_MS
        rows: list[CandleRow] = [self.closed[t] for t in sorted(self.closed)]
        if forming_open not in self.closed:
            px = rows[-1][4] if rows else 30_000.0
            rows.append((forming_open, px, px, px, px, False))
        rows = [
            r for r in rows if (start is None or r[0] >= start) and (end is None or r[0] <= end)
        ]
        rows = rows[:limit] if start is not None else rows[-limit:]
        return web.json_response([kline_row(r) for r in rows])

    async def _time(self, request: web.Request) -> web.Response:
        if self.fail_time > 0:
            self.fail_time -= 1
            return web.json_response({"code": -1000, "msg": "An unknown error."}, status=500)
        return web.json_response({"serverTime": self.now_ms})

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_ws > 0:
            self.refuse_ws -= 1
            return web.Response(status=503, text="busy")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._conns.append(ws)
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                sub = json.loads(msg.data)
                if sub.get("method") == "SUBSCRIBE" and sub.get("params") == [KLINE_STREAM]:
                    await ws.send_json({"result": None, "id": sub.get("id")})
                    async with self._subscribed:
                        self.subscribes.append(sub)
                        self._subscribed.notify_all()
        finally:
            if ws in self._conns:
                self._conns.remove(ws)
        return ws

    # --- what a test does -----------------------------------------------------------------
    async def wait_subscribed(self, n: int, timeout_s: float = 5.0) -> None:
        """Until ``n`` SUBSCRIBE requests have arrived in all (one per connection)."""
        async with self._subscribed:
            await asyncio.wait_for(
                self._subscribed.wait_for(lambda: len(self.subscribes) >= n), timeout_s
            )

    async def push_text(self, text: str) -> None:
        for ws in list(self._conns):
            await ws.send_str(text)

    async def push_kline(self, row: CandleRow, event_ms: int | None = None) -> None:
        """One kline event as Binance sends it (``E`` event time, ``k.x`` closed flag)."""
        event = kline_event(row, self.now_ms if event_ms is None else event_ms)
        await self.push_text(json.dumps(event))

    async def push_forming(self, i: int) -> None:
        t, o, h, lo, c, _ = closed_row(i)
        await self.push_kline((t, o, h, lo, c - 0.25, False), bar_open(i) + 60_000)

    async def push_closed(self, i: int) -> None:
        row = closed_row(i)
        self.closed[row[0]] = row
        self.now_ms = max(self.now_ms, bar_open(i + 1) + 100)
        await self.push_kline(row, bar_open(i + 1) + 100)

    async def drop(self) -> None:
        """Close every websocket from the server's side (a network drop for the client)."""
        for ws in list(self._conns):
            await ws.close()
