"""The Gate-protocol simulator server: one aiohttp application, one port, everything on it.

Routes (``P`` = the port; bind 127.0.0.1 only):

* Gate REST ``http://127.0.0.1:P/api/v4/...`` (``gate_rest``), Gate websockets spot
  ``ws://127.0.0.1:P/ws/v4/`` and USDT futures ``ws://127.0.0.1:P/v4/ws/usdt`` (alias
  ``/v4/ws/futures/usdt``), Binance REST ``/api/v3/...`` and kline stream ``/ws`` (or
  ``/ws/<anything>``), simulator control under ``/sim/``: ``POST /sim/advance {"bars": n}``,
  ``GET /sim/state``, ``POST /sim/faults {...}`` (``Faults`` field names).

ccxt overrides (unmodified ccxt 4.5.x):

* ``ccxt.async_support.gate`` / ``ccxt.pro.gate``: every value of ``urls['api']['public']`` and
  ``urls['api']['private']`` -> ``http://127.0.0.1:P/api/v4`` (keep ``/api/v4``: ccxt signs that
  path). ``urls['api']['spot'] = 'ws://127.0.0.1:P/ws/v4/'`` and
  ``urls['api']['swap']['usdt'] = 'ws://127.0.0.1:P/v4/ws/futures/usdt'``: ccxt.pro tells the
  market type of a socket from its URL (``fx`` or ``/ws/futures/`` means swap), so use the
  ``/ws/futures/`` alias. ``watch_orders`` on swap needs ``uid`` set (any value).
  Options ``{'fetchMarkets': {'types': ['spot', 'swap']}, 'swap': {'fetchMarkets':
  {'settlementCurrencies': ['usdt']}}, 'unifiedAccount': False}`` avoid needless calls; the
  defaults work too (other markets answer empty lists, ``/account/detail`` says classic).
* ``ccxt.async_support.binance`` / ``ccxt.pro.binance`` with
  ``options={'fetchMarkets': {'types': ['spot']}}``: ``urls['api']['public']`` (and
  ``private``) -> ``http://127.0.0.1:P/api/v3``, ``urls['api']['ws']['spot']`` ->
  ``ws://127.0.0.1:P/stream/ws``. The path must contain ``/stream`` because ccxt.pro binance
  decides spot vs contract klines by that substring; ccxt appends ``/<n>`` to it.
* gate-api SDK: ``Configuration(host="http://127.0.0.1:P/api/v4", key=..., secret=...)``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from .binance import BinanceRest
from .faults import Faults
from .gate_rest import GateRest
from .matching import SimMarket
from .orders import FUTURES, SPOT
from .ws import WsHub

__all__ = ["HUB", "REST", "Faults", "create_app", "state"]

HUB = web.AppKey("sim_ws_hub", WsHub)
REST = web.AppKey("sim_gate_rest", GateRest)
_TICKER = web.AppKey("sim_auto_advance", asyncio.Task)


def state(m: SimMarket) -> dict[str, Any]:
    """A JSON snapshot of the clock, prices and accounts (``GET /sim/state``)."""
    spot_bid, spot_ask = m.top(SPOT)
    fut_bid, fut_ask = m.top(FUTURES)
    return {
        "bar": m.bar,
        "bars": len(m.candles),
        "now_ms": m.now_ms,
        "done": m.done,
        "fill_model": m.fill_model,
        "dual_mode": m.dual_mode,
        "prices": {
            "spot": {"last": m.last(SPOT), "bid": spot_bid, "ask": spot_ask},
            "futures": {
                "last": m.last(FUTURES),
                "mark": m.mark(),
                "bid": fut_bid,
                "ask": fut_ask,
                "funding_rate": m.funding_rate(),
                "next_funding_ms": m.next_funding_ms(),
            },
        },
        "spot": {cur: b._asdict() for cur, b in m.spot_balances().items()},
        "futures": m.futures_account(),
        "positions": m.positions(),
        "open_orders": {SPOT: len(m.open_orders(SPOT)), FUTURES: len(m.open_orders(FUTURES))},
    }


def create_app(
    market: SimMarket,
    *,
    api_key: str,
    api_secret: str,
    faults: Faults | None = None,
    speed: float = 0.0,
) -> web.Application:
    """Build the server for ``market``. ``speed`` > 0 advances that many bars per second."""
    if speed < 0:
        raise ValueError("speed must be >= 0")
    faults = faults if faults is not None else Faults()
    app = web.Application()
    rest = GateRest(market, api_key, api_secret, faults)
    rest.add_routes(app)
    BinanceRest(market, faults).add_routes(app)
    hub = WsHub(market, api_key, api_secret, faults)
    hub.add_routes(app)
    app[HUB], app[REST] = hub, rest

    async def advance(request: web.Request) -> web.Response:
        body = await _json_object(request)
        bars = body.get("bars", 1)
        if not isinstance(bars, int) or bars < 0:
            return web.json_response({"error": "bars must be a whole number >= 0"}, status=400)
        market.advance(bars)
        return web.json_response(state(market))

    async def get_state(request: web.Request) -> web.Response:
        return web.json_response(state(market))

    async def set_faults(request: web.Request) -> web.Response:
        try:
            faults.update(await _json_object(request))
        except (TypeError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if faults.ws_drop == 0:
            hub.drop_all()
        return web.json_response(faults.public())

    app.router.add_post("/sim/advance", advance)
    app.router.add_get("/sim/state", get_state)
    app.router.add_post("/sim/faults", set_faults)

    async def auto_advance() -> None:
        while not market.done:
            await asyncio.sleep(1.0 / speed)
            market.advance(1)

    async def start(app: web.Application) -> None:
        if speed > 0:
            app[_TICKER] = asyncio.create_task(auto_advance())

    async def shutdown(app: web.Application) -> None:
        rest.stopping.set()
        if _TICKER in app:
            app[_TICKER].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await app[_TICKER]
        await hub.close_all()
        market.unsubscribe(hub.on_event)  # the market may outlive this server

    app.on_startup.append(start)
    app.on_shutdown.append(shutdown)
    return app


async def _json_object(request: web.Request) -> dict[str, Any]:
    if not await request.read():
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body
