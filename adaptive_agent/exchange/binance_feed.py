"""``P_ref``: Binance spot BTCUSDT 5-minute candles, streamed, with REST backfill of any gap.

The stream is Binance's kline websocket (a candle is used only once Binance marks it closed,
``k.x``). After a disconnect the feed reconnects with back-off and fetches the candles it
missed from ``/api/v3/klines`` before streaming again, so the agent sees every close once and
in order. Plain aiohttp is enough here: public data, no signing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import AsyncIterator

import aiohttp

from ..core.model import Candle
from ..core.time_rules import BAR_MS

log = logging.getLogger("adaptive_agent.binance")
KLINES_LIMIT = 1000


class BinanceReference:
    def __init__(
        self,
        rest_url: str = "https://api.binance.com",
        ws_url: str = "wss://stream.binance.com:9443/ws",
        symbol: str = "BTCUSDT",
        *,
        reconnect_delay_s: float = 1.0,
        max_reconnect_delay_s: float = 30.0,
    ) -> None:
        self.rest_url, self.ws_url = rest_url.rstrip("/"), ws_url.rstrip("/")
        self.symbol = symbol
        self.reconnect_delay_s, self.max_delay = reconnect_delay_s, max_reconnect_delay_s
        self.last_ts: int | None = None  # open time of the last candle delivered
        self.reconnects = 0
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        return self._session

    async def close(self) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()

    async def backfill(self, start_ms: int, end_ms: int) -> list[Candle]:
        """Closed candles with open time in [start_ms, end_ms - 5 min] (their close <= end_ms)."""
        out: list[Candle] = []
        cursor = start_ms
        http = await self._http()
        while cursor + BAR_MS <= end_ms:
            params = {
                "symbol": self.symbol,
                "interval": "5m",
                "startTime": str(cursor),
                "endTime": str(end_ms - BAR_MS),
                "limit": str(KLINES_LIMIT),
            }
            async with http.get(f"{self.rest_url}/api/v3/klines", params=params) as r:
                if r.status != 200:
                    raise ConnectionError(f"klines: HTTP {r.status}: {(await r.text())[:200]}")
                rows = await r.json()
            page = [
                Candle(int(k[0]), float(k[1]), float(k[2]), float(k[3]), float(k[4]))
                for k in rows
                if int(k[0]) + BAR_MS <= end_ms
            ]
            if not page:
                break
            out.extend(page)
            cursor = page[-1].ts + BAR_MS
            if len(rows) < KLINES_LIMIT:
                break
        return out

    async def server_time(self) -> int:
        """Binance's clock (``/api/v3/time``): the feed's "now", also when rehearsing a replay."""
        http = await self._http()
        async with http.get(f"{self.rest_url}/api/v3/time") as r:
            if r.status != 200:
                raise ConnectionError(f"time: HTTP {r.status}")
            return int((await r.json())["serverTime"])

    async def drop(self) -> None:
        """Close the stream (tests use it to simulate a network drop)."""
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()

    async def closed_candles(self) -> AsyncIterator[tuple[Candle, int]]:
        """Every closed candle from now on, in order, with the feed time it was received at.

        Survives disconnects: after a reconnect the missed candles are fetched over REST.
        """
        delay = self.reconnect_delay_s
        while True:
            try:
                http = await self._http()
                async with http.ws_connect(self.ws_url, heartbeat=30) as ws:
                    self._ws = ws
                    stream = f"{self.symbol.lower()}@kline_5m"
                    await ws.send_json({"method": "SUBSCRIBE", "params": [stream], "id": 1})
                    if self.last_ts is not None:  # fill the gap left by the disconnect
                        now = await self.server_time()
                        for c in await self.backfill(self.last_ts + BAR_MS, now):
                            self.last_ts = c.ts
                            yield c, now
                    delay = self.reconnect_delay_s
                    async for msg in ws:
                        if msg.type is not aiohttp.WSMsgType.TEXT:
                            break
                        parsed = _closed_kline(msg.data)
                        if parsed is None:
                            continue
                        c, event_ms = parsed
                        if self.last_ts is not None and c.ts <= self.last_ts:
                            continue
                        if self.last_ts is not None and c.ts > self.last_ts + BAR_MS:
                            for g in await self.backfill(self.last_ts + BAR_MS, c.ts):
                                self.last_ts = g.ts
                                yield g, event_ms
                        self.last_ts = c.ts
                        yield c, event_ms
            except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
                log.warning("reference stream: %s; reconnecting in %.1f s", exc, delay)
            self.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay)


def _closed_kline(data: str) -> tuple[Candle, int] | None:
    """A closed 5-minute kline and its event time (``E``: Binance's clock), else None."""
    try:
        msg = json.loads(data)
    except json.JSONDecodeError:
        return None
    k = msg.get("k") if isinstance(msg, dict) else None
    if not k or not k.get("x"):
        return None
    try:
        candle = Candle(int(k["t"]), float(k["o"]), float(k["h"]), float(k["l"]), float(k["c"]))
        event_ms = int(msg.get("E") or candle.ts + BAR_MS)
    except (KeyError, TypeError, ValueError) as exc:  # a broken message must not end the feed
        log.warning("reference stream: closed kline skipped, %s: %r", type(exc).__name__, exc)
        return None
    prices = (candle.open, candle.high, candle.low, candle.close)
    if not all(math.isfinite(v) and v > 0 for v in prices):
        log.warning("reference stream: closed kline at %d skipped: prices %s", candle.ts, prices)
        return None
    return candle, event_ms
