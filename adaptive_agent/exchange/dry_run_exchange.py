"""``DryRunExchange``: Gate's public market data, a simulated account (``paper --live``).

The ``ExchangeGate`` port as the live agent uses it, with no keys and no signed request: the
market data (spot and perpetual top of book, last prices, mark price, funding rate, market
rules, server time) come from Gate's public endpoints through the unmodified ccxt client
(``GateCcxtExchange`` built without keys, only its public reads are called); the account
(balances, wallets and transfers, dual positions, orders, fills, fees, funding) is the
simulator's (``sim.live_market.LiveSimMarket``, through ``PaperExchange``), fed a new look at
Gate before each port call that needs one.

A look costs four public reads (two tickers, two order books); looks are at least
``refresh_s`` apart, except right before orders are placed (a fresh book). Gate allows 200
public requests per 10 s per endpoint and IP (Gate announcement "API Rate Limit
Adjustments", 2024-01-14), far above one look a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ..core.model import VenueRules
from ..records import FillRecord, FundingRecord
from ..sim.live_market import LivePrices, LiveSimMarket
from .exchange_gate import (
    AmbiguousOrderError,
    Balances,
    BookTop,
    DualPositions,
    ExchangeError,
    MarginSide,
    Market,
    OrderRequest,
    OrderState,
    Wallet,
    WalletMove,
)
from .gate_ccxt import GateCcxtExchange
from .paper_exchange import PaperExchange

OpenAccount = Callable[[LivePrices], LiveSimMarket]  # the first look -> the simulated account


class DryRunExchange(PaperExchange):
    """Public Gate reads + a ``LiveSimMarket`` account. ``start()`` opens the account."""

    overlapping_reads = True  # its reads may go to Gate

    def __init__(
        self,
        public: GateCcxtExchange,
        open_account: OpenAccount,
        now_ms: Callable[[], int],
        refresh_s: float = 1.0,
    ) -> None:
        self.public, self._open = public, open_account
        self.now_ms, self.refresh_s = now_ms, refresh_s
        self.m: LiveSimMarket | None = None  # type: ignore[assignment]
        self.looks = 0
        self._looked_at = -float("inf")  # monotonic seconds of the last look
        self._lock = asyncio.Lock()

    # --- start-up, as the live agent calls it on GateCcxtExchange ----------------------------

    async def start(self) -> None:
        """Gate's markets (public), a first look, and a new simulated account."""
        await self.public.load_markets()
        if self.m is None:
            self.m = self._open(await self._look())

    async def start_order_stream(self) -> None:
        """Nothing to stream: the simulated orders change when the exchange looks at Gate."""

    def maintenance_rate(self) -> float | None:
        return self.public.maintenance_rate()

    async def close(self) -> None:
        await self.public.close()

    # --- looking at Gate ----------------------------------------------------------------------

    async def _look(self) -> LivePrices:
        (spot_last, spot_top, perp_top, (perp_last, mark, rate)) = await asyncio.gather(
            self.public.get_price(Market.SPOT),
            self.public.get_book_top(Market.SPOT),
            self.public.get_book_top(Market.FUTURES),
            self.public.perp_ticker(),
        )
        self.looks += 1
        self._looked_at = time.monotonic()
        return LivePrices(
            int(self.now_ms()),
            spot_last,
            spot_top.bid,
            spot_top.ask,
            perp_last,
            perp_top.bid,
            perp_top.ask,
            mark,
            rate,
        )

    async def refresh(self, force: bool = False) -> LiveSimMarket:
        """The account, after a new look at Gate when the last one is ``refresh_s`` old."""
        if self.m is None:
            raise ExchangeError("the dry-run exchange is not started", "NOT_STARTED")
        asked = time.monotonic()
        async with self._lock:  # concurrent reads share one look: one that ended since asked
            if force or self._looked_at < asked - self.refresh_s:
                self.m.observe(await self._look())
        return self.m

    # --- the port: public reads from Gate --------------------------------------------------

    async def market_rules(self) -> VenueRules | None:
        return await self.public.market_rules()

    async def server_time_ms(self) -> int | None:
        return await self.public.server_time_ms()

    # --- the port: the simulated account, at Gate's prices ---------------------------------

    async def get_price(self, market: Market = Market.SPOT) -> float:
        await self.refresh()
        return await super().get_price(market)

    async def get_book_top(self, market: Market) -> BookTop:
        await self.refresh()
        return await super().get_book_top(market)

    async def get_balances(self) -> Balances:
        await self.refresh()
        return await super().get_balances()

    async def get_positions(self) -> DualPositions:
        await self.refresh()
        return await super().get_positions()

    async def get_funding_rate(self) -> float:
        await self.refresh()
        return await super().get_funding_rate()

    async def create_orders(self, requests: list[OrderRequest]) -> list[OrderState]:
        try:
            await self.refresh(force=True)  # take and cross against the book as it is now
        except AmbiguousOrderError as exc:  # only a read failed: no order was placed
            raise ExchangeError(f"no look at Gate's book before placing: {exc}") from None
        return await super().create_orders(requests)

    async def cancel_order(self, market: Market, client_id: str) -> OrderState | None:
        await self.refresh()
        return await super().cancel_order(market, client_id)

    async def fetch_order(self, market: Market, client_id: str) -> OrderState | None:
        await self.refresh()
        return await super().fetch_order(market, client_id)

    async def fetch_open_orders(self, market: Market) -> list[OrderState]:
        await self.refresh()
        return await super().fetch_open_orders(market)

    async def get_margin_sides(self) -> tuple[MarginSide, ...]:
        await self.refresh()
        return await super().get_margin_sides()

    async def transfer(self, to: Wallet, amount_usdt: float, client_id: str) -> str:
        await self.refresh()
        return await super().transfer(to, amount_usdt, client_id)

    async def transfer_moves(self, since_ms: int) -> list[WalletMove]:
        await self.refresh()
        return await super().transfer_moves(since_ms)

    async def fetch_fills(self, market: Market, since_ms: int, until_ms: int) -> list[FillRecord]:
        await self.refresh()
        return await super().fetch_fills(market, since_ms, until_ms)

    async def fetch_funding_payments(self, since_ms: int, until_ms: int) -> list[FundingRecord]:
        await self.refresh()
        return await super().fetch_funding_payments(since_ms, until_ms)
