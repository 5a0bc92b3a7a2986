"""``ExchangeGate`` on Gate.io through ccxt (``ccxt.async_support``; no hand-written signing).

Gate facts (limits, labels, URLs) live in ``gate_constants``, with their sources. What this
adapter adds: perpetual sizes are whole contracts (ccxt truncates silently, so we convert
ourselves); dual-mode legs are chosen by the sign of ``size`` plus ``reduce_only``; a batch
holds orders of one market type (``SPOT_BATCH_MAX`` / ``FUTURES_BATCH_MAX``) and its reply is
matched to the requests by position (``gate_ccxt_orders``, which also maps Gate's
``finish_as`` to the lifecycle); a post-only order that would cross is rejected
(``ErrorKind.POST_ONLY_CROSS``); a 429 is a ``RateLimitedError``, a definite refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from typing import Any

from .exchange_gate import (
    AccountMode,
    AmbiguousOrderError,
    Balances,
    BookTop,
    DualPositions,
    ExchangeError,
    ExchangeGate,
    Market,
    OrderRequest,
    OrderState,
    RateLimitedError,
    is_transient,
)
from .gate_ccxt_ledger import GateLedgerMixin
from .gate_ccxt_margin import GateMarginMixin
from .gate_ccxt_orders import GateOrdersMixin
from .gate_ccxt_wallets import GateWalletsMixin
from .gate_constants import (
    FUTURES_BATCH_MAX,
    SETTLE,
    SPOT_BATCH_MAX,
    ErrorKind,
    Label,
    error_kind,
    label_in,
    redirect_ccxt,
)

log = logging.getLogger("adaptive_agent.gate")
SPOT = "BTC/USDT"
PERP = "BTC/USDT:USDT"
SYMBOL = {Market.SPOT: SPOT, Market.FUTURES: PERP}
BATCH_MAX = {Market.SPOT: SPOT_BATCH_MAX, Market.FUTURES: FUTURES_BATCH_MAX}  # one pair each


def _f(x: Any, default: float = 0.0) -> float:
    try:
        return default if x is None or x == "" else float(x)
    except (TypeError, ValueError):
        return default


STREAM_MEMORY = 1_000  # streamed order states kept: far more than one rebalance sends


def _name(fn) -> str:
    return getattr(fn, "__name__", "") or type(fn).__name__


def _is_read(fn) -> bool:
    """ccxt's unified reads (``fetch_*``, ``load_*``) and implicit GET endpoints
    (``privateSpotGetAccounts``: ccxt makes those from an ``Entry`` that holds the HTTP method;
    tests/unit/exchange/test_gate_ccxt.py pins this on the pinned ccxt). Unknown: not a read."""
    name = _name(fn)
    if name.startswith(("fetch", "load")):
        return True
    for cell in getattr(getattr(fn, "__func__", fn), "__closure__", None) or ():
        method = getattr(cell.cell_contents, "method", None)
        if isinstance(method, str):
            return method.upper() == "GET"
    return False


class GateCcxtExchange(
    GateOrdersMixin, GateMarginMixin, GateWalletsMixin, GateLedgerMixin, ExchangeGate
):
    """Spot ``BTC/USDT`` + USDT perpetual ``BTC/USDT:USDT`` in dual position mode."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        rest_url: str | None = None,
        ws_spot_url: str | None = None,
        ws_futures_url: str | None = None,
        uid: str | None = None,
        timeout_ms: int = 10_000,
        set_dual_mode: bool = False,
        rate_limit: bool = True,
    ) -> None:
        import ccxt.async_support as ccxt_async

        self._ccxt = ccxt_async
        self.set_dual_mode = set_dual_mode
        config: dict[str, Any] = {
            "apiKey": api_key,
            "secret": api_secret,
            "timeout": timeout_ms,
            "enableRateLimit": rate_limit,
            "options": {
                "fetchMarkets": {"types": ["spot", "swap"]},
                "swap": {"fetchMarkets": {"settlementCurrencies": ["usdt"]}},
                "unifiedAccount": False,
                "createMarketBuyOrderRequiresPrice": False,
            },
        }
        if uid:
            config["uid"] = uid
        self.ex = ccxt_async.gate(config)
        redirect_ccxt(self.ex, rest_url)
        self.ws_spot_url, self.ws_futures_url = ws_spot_url, ws_futures_url
        self._config, self._rest_base, self.uid = config, rest_url, uid
        self._pro = None
        self._streams: list[asyncio.Task] = []
        # the newest streamed state per client id, the most recent STREAM_MEMORY orders only
        # (a long-running agent must not keep every order it ever saw)
        self._latest: OrderedDict[str, OrderState] = OrderedDict()
        self._update = asyncio.Event()

    # --- lifecycle ---------------------------------------------------------------------------

    async def load_markets(self) -> None:
        """Gate's spot pairs and USDT contracts: public endpoints only (no key needed)."""
        await self._call(self.ex.load_markets)

    async def start(self) -> None:
        """Load markets and make sure the futures account is in dual (hedge) position mode."""
        await self.load_markets()
        account = await self._call(self.ex.privateFuturesGetSettleAccounts, {"settle": SETTLE})
        dual = bool(account.get("in_dual_mode")) if isinstance(account, dict) else False
        if not dual:
            if not self.set_dual_mode:
                raise ExchangeError(
                    "the USDT futures account is not in dual (hedge) position mode; enable it"
                    " on Gate or set exchange.set_dual_mode = true"
                )
            await self._call(self.ex.set_position_mode, True)

    async def start_order_stream(self) -> None:
        """Follow our orders over Gate's websocket (``spot.orders``; ``futures.orders`` needs
        the account ``uid``). Polling stays the fallback whenever the stream is quiet."""
        import ccxt.pro as ccxt_pro

        pro = ccxt_pro.gate(dict(self._config, newUpdates=True))
        redirect_ccxt(pro, self._rest_base, self.ws_spot_url, self.ws_futures_url)
        self._pro = pro
        symbols = [SPOT] + ([PERP] if self.uid else [])
        self._streams = [asyncio.create_task(self._pump(sym)) for sym in symbols]
        self.has_order_stream = True

    async def _pump(self, symbol: str) -> None:
        delay = 0.5
        while True:
            try:
                for raw in await self._pro.watch_orders(symbol):
                    cid = raw.get("clientOrderId") or (raw.get("info") or {}).get("text")
                    if cid:
                        self._remember(cid, self._state(raw, cid))
                        self._update.set()
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a dropped socket: ccxt reconnects on the next watch
                log.warning("order stream %s: %s; polling covers meanwhile", symbol, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def wait_order_update(self, timeout_s: float) -> bool:
        if not self.has_order_stream:
            return await super().wait_order_update(timeout_s)
        self._update.clear()
        try:
            await asyncio.wait_for(self._update.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def _remember(self, cid: str, state: OrderState) -> None:
        self._latest[cid] = state
        self._latest.move_to_end(cid)
        while len(self._latest) > STREAM_MEMORY:
            self._latest.popitem(last=False)

    def latest_order_state(self, client_id: str) -> OrderState | None:
        return self._latest.get(client_id)

    async def close(self) -> None:
        for t in self._streams:
            t.cancel()
        for t in self._streams:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.ex.close()
        if self._pro is not None:
            await self._pro.close()

    # --- errors ------------------------------------------------------------------------------

    #: A read (GET) that meets a transient failure is asked again after these pauses: reads
    #: change nothing at the venue, so repeating one is always safe. Writes are never retried
    #: here (an order or a transfer is looked up, never re-sent blindly).
    read_retry_delays_s: tuple[float, ...] = (0.1, 0.3)

    async def _call(self, fn, *args, **kwargs):
        """ccxt errors -> ours. A transport failure may hide a request that did arrive."""
        delays = self.read_retry_delays_s if _is_read(fn) else ()
        for delay in (*delays, None):
            try:
                return await self._call_once(fn, *args, **kwargs)
            except ExchangeError as exc:
                if delay is None or not is_transient(exc):
                    raise
                log.debug("%s: %s; asked again in %.1f s", _name(fn), exc, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _call_once(self, fn, *args, **kwargs):
        try:
            return await fn(*args, **kwargs)
        except (self._ccxt.RateLimitExceeded, self._ccxt.DDoSProtection) as exc:  # lifecycle
            raise RateLimitedError(
                f"{type(exc).__name__}: {exc}", Label.TOO_MANY_REQUESTS
            ) from None
        except self._ccxt.NetworkError as exc:
            raise AmbiguousOrderError(f"{type(exc).__name__}: {exc}") from None
        except self._ccxt.BaseError as exc:
            label = label_in(str(exc)) or type(exc).__name__
            raise ExchangeError(f"{type(exc).__name__}: {exc}", label) from None

    # --- market data -------------------------------------------------------------------------

    async def get_price(self, market: Market = Market.SPOT) -> float:
        if market is Market.FUTURES:
            return (await self.perp_ticker())[1]
        t = await self._call(self.ex.fetch_ticker, SPOT)
        return _f(t.get("last"))

    async def perp_ticker(self) -> tuple[float, float, float]:
        """The perpetual's (last trade price, mark price, funding rate) from one public
        ticker read (gateapi-python docs/FuturesTicker.md ``last``, ``mark_price``,
        ``funding_rate``); the mark falls back to the last price when Gate leaves it out."""
        t = await self._call(self.ex.fetch_ticker, PERP)
        info = t.get("info") or {}
        last = _f(t.get("last"))
        return last, _f(info.get("mark_price"), last), _f(info.get("funding_rate"))

    async def get_book_top(self, market: Market) -> BookTop:
        ob = await self._call(self.ex.fetch_order_book, SYMBOL[market], 5)
        if not ob["bids"] or not ob["asks"]:
            raise ExchangeError(f"empty order book for {SYMBOL[market]}")
        return BookTop(float(ob["bids"][0][0]), float(ob["asks"][0][0]))

    async def get_funding_rate(self) -> float:
        fr = await self._call(self.ex.fetch_funding_rate, PERP)
        return _f(fr.get("fundingRate"))

    # --- account -----------------------------------------------------------------------------

    async def get_balances(self) -> Balances:
        if self.account_mode is AccountMode.UNIFIED:  # one shared balance (gate_ccxt_wallets)
            return await self.unified_balances()
        spot, fut = await asyncio.gather(
            self._call(self.ex.fetch_balance),
            self._call(self.ex.fetch_balance, {"type": "swap"}),
        )
        usdt = fut.get("USDT", {})
        return Balances(
            spot_usdt=_f(spot.get("USDT", {}).get("total")),
            spot_btc=_f(spot.get("BTC", {}).get("total")),
            futures_usdt=_f(usdt.get("total")),
            futures_available=_f(usdt.get("free")),
        )

    async def get_positions(self) -> DualPositions:
        rows = await self._call(self.ex.fetch_positions, [PERP])
        long_c = short_c = 0
        long_e = short_e = mark = 0.0
        for p in rows:
            info = p.get("info", {})
            size = int(_f(info.get("size")))
            mark = _f(info.get("mark_price"), mark)
            mode = info.get("mode", "")
            if mode == "dual_long" or (mode != "dual_short" and size > 0):
                long_c, long_e = abs(size), _f(info.get("entry_price"))
            elif mode == "dual_short" or size < 0:
                short_c, short_e = abs(size), _f(info.get("entry_price"))
        return DualPositions(long_c, long_e, short_c, short_e, mark)

    # --- orders ------------------------------------------------------------------------------

    def _ccxt_order(self, r: OrderRequest) -> dict[str, Any]:
        side, reduce_only = r.side, r.reduce_only
        params: dict[str, Any] = {"clientOrderId": r.client_id}
        if r.market is Market.FUTURES and reduce_only:
            params["reduceOnly"] = True
        if r.post_only:
            params["postOnly"] = True
        elif r.ioc and r.price is not None:
            params["timeInForce"] = "IOC"
        amount: float = r.amount
        if r.market is Market.FUTURES:
            amount = float(round(r.amount))
            if abs(amount - r.amount) > 1e-9:
                raise ValueError(f"{r.client_id}: futures size must be whole contracts")
        if r.price is None and r.cost is not None:
            params["cost"] = r.cost
        return {
            "symbol": SYMBOL[r.market],
            "type": "market" if r.price is None else "limit",
            "side": side,
            "amount": amount,
            "price": r.price,
            "params": params,
        }

    async def cancel_order(self, market: Market, client_id: str) -> OrderState | None:
        try:
            raw = await self._call(self.ex.cancel_order, client_id, SYMBOL[market])
        except ExchangeError as exc:
            if error_kind(exc.label) in (ErrorKind.NOT_FOUND, ErrorKind.FINISHED):
                return await self.fetch_order(market, client_id)
            raise
        return self._state(raw, client_id)

    async def fetch_order(self, market: Market, client_id: str) -> OrderState | None:
        """By client id. Gate finds a ``text`` only while the order is open (futures: a minute
        longer), so a finished order is looked for in the recent order history too."""
        try:
            raw = await self._call(self.ex.fetch_order, client_id, SYMBOL[market])
            return self._state(raw, client_id)
        except ExchangeError as exc:
            if error_kind(exc.label) is not ErrorKind.NOT_FOUND:
                raise
        for raw in await self._call(self.ex.fetch_closed_orders, SYMBOL[market], None, 100):
            if (raw.get("clientOrderId") or raw.get("info", {}).get("text")) == client_id:
                return self._state(raw, client_id)
        return None

    async def fetch_open_orders(self, market: Market) -> list[OrderState]:
        raws = await self._call(self.ex.fetch_open_orders, SYMBOL[market])
        return [self._state(r, r.get("clientOrderId") or "") for r in raws]
