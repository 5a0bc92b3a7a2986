"""Test support: point unmodified ccxt clients at a running simulator."""

from __future__ import annotations

from typing import Any

from adaptive_agent.exchange.gate_constants import redirect_ccxt

GATE_OPTIONS: dict[str, Any] = {
    "fetchMarkets": {"types": ["spot", "swap"]},
    "swap": {"fetchMarkets": {"settlementCurrencies": ["usdt"]}},
    "unifiedAccount": False,
}
BINANCE_OPTIONS: dict[str, Any] = {"fetchMarkets": {"types": ["spot"]}}


def _ws(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1)


def redirect_gate(exchange: Any, base_url: str) -> None:
    """Send a ccxt gate instance (async or pro) to ``base_url`` (``http://127.0.0.1:PORT``).

    REST keeps ``/api/v4`` (ccxt signs that path); the futures socket uses the
    ``/v4/ws/futures/usdt`` alias so that ccxt.pro recognises it as a swap socket.
    """
    if "spot" in exchange.urls["api"]:  # ccxt.pro only
        ws = _ws(base_url)
        redirect_ccxt(exchange, base_url, ws + "/ws/v4/", ws + "/v4/ws/futures/usdt")
    else:
        redirect_ccxt(exchange, base_url)


def redirect_binance(exchange: Any, base_url: str) -> None:
    """Send a ccxt binance instance (async or pro) to ``base_url`` for spot market data.

    The websocket path contains ``/stream`` because ccxt.pro binance tells spot from
    contract kline sockets by that substring.
    """
    api = exchange.urls["api"]
    for kind in ("public", "private"):
        api[kind] = base_url + "/api/v3"
    if isinstance(api.get("ws"), dict):  # ccxt.pro only
        api["ws"]["spot"] = _ws(base_url) + "/stream/ws"
