"""Run the simulator server on 127.0.0.1: ``running_sim`` for tests, ``serve`` for the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..io.loaders import Candles
from .faults import Faults
from .gate_server import HUB, REST, create_app
from .matching import SimMarket

HOST = "127.0.0.1"
SHUTDOWN_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class RunningSim:
    """A live server: ``url`` is ``http://127.0.0.1:PORT``; the rest are the ccxt overrides."""

    url: str
    market: SimMarket
    faults: Faults
    app: web.Application

    @property
    def gate_rest(self) -> str:
        return f"{self.url}/api/v4"

    @property
    def gate_ws_spot(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws/v4/"

    @property
    def gate_ws_futures(self) -> str:
        return self.url.replace("http://", "ws://") + "/v4/ws/futures/usdt"

    @property
    def binance_rest(self) -> str:
        return f"{self.url}/api/v3"

    @property
    def binance_ws(self) -> str:
        return self.url.replace("http://", "ws://") + "/stream/ws"

    @property
    def signed_requests(self) -> int:
        """REST requests that carried Gate's auth headers (KEY or SIGN), valid or not."""
        return self.app[REST].signed_requests

    @property
    def private_requests(self) -> int:
        """REST requests to a private (signed) route, answered or refused."""
        return self.app[REST].private_requests

    def drop_websockets(self) -> None:
        """Cut every websocket now (the ``ws_drop`` fault, immediately)."""
        self.app[HUB].drop_all()


@asynccontextmanager
async def running_sim(
    candles_or_market: Candles | SimMarket,
    api_key: str,
    api_secret: str,
    *,
    port: int = 0,
    faults: Faults | None = None,
    speed: float = 0.0,
    **market_options: Any,
) -> AsyncIterator[RunningSim]:
    """Serve a simulator on 127.0.0.1 (``port`` 0: a free one) until the block exits.

    ``market_options`` go to ``SimMarket`` when candles are given.
    """
    if isinstance(candles_or_market, SimMarket):
        if market_options:
            raise TypeError("market options need candles, not a ready SimMarket")
        market = candles_or_market
    else:
        market = SimMarket(candles_or_market, **market_options)
    faults = faults if faults is not None else Faults()
    app = create_app(market, api_key=api_key, api_secret=api_secret, faults=faults, speed=speed)
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT_S, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, HOST, port)
        await site.start()
        bound = runner.addresses[0][1]
        yield RunningSim(f"http://{HOST}:{bound}", market, faults, app)
    finally:
        await runner.cleanup()


async def serve(
    market: SimMarket,
    api_key: str,
    api_secret: str,
    *,
    port: int,
    faults: Faults,
    speed: float,
    stop: asyncio.Event,
    announce: Any = print,
) -> None:
    """Serve until ``stop`` is set; ``announce`` gets the one-line URL message."""
    async with running_sim(
        market, api_key, api_secret, port=port, faults=faults, speed=speed
    ) as sim:
        announce(f"gate-sim listening on {sim.url} (Gate REST {sim.gate_rest})")
        await stop.wait()
