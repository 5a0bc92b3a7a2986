"""``LiveSimMarket``: the simulator's account, matching and accounting, driven by live prices.

``paper --live`` (docs/rules.md, "Dry run") trades a simulated account against Gate's real
public market data. Rather than a second accounting, this is ``SimMarket`` itself (spot and
futures wallets, dual positions, fees, funding, liquidation, the wallet transfers, Gate's
order checks) with its clock and prices taken from looks at Gate (``LivePrices``) instead of
a candle file:

* the book is Gate's top of book for each market, the mark price and the funding rate are
  Gate's (``FuturesTicker.mark_price`` / ``funding_rate``, gateapi-python docs/FuturesTicker.md);
* orders fill by the ``DryRun`` fill model (``fill_models``): takers at the live touch moved
  by ``slippage``, resting limits only when a later look shows a new last trade price strictly
  beyond their limit;
* funding settles at the funding instants the clock passes (``backtest.funding_hours_utc``,
  Gate's 00/08/16 UTC) at the rate Gate showed before the instant;
* a side is liquidated when the mark price reaches its liquidation price (``liquidation``).

No I/O: ``exchange/dry_run_exchange.py`` reads Gate and calls ``observe``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..core.time_rules import BAR_MS
from ..io.loaders import Candles
from . import liquidation
from . import order_checks as checks
from .fill_models import DryRun, fill_resting
from .funding import DEFAULT_HOURS_UTC
from .matching import SimMarket
from .orders import FUTURES, MARKETS, SPOT, SimEvent, SimFees, SimOrder


@dataclass(frozen=True, slots=True)
class LivePrices:
    """One look at Gate's public market data, taken at ``time_ms`` (the agent's clock)."""

    time_ms: int
    spot_last: float
    spot_bid: float
    spot_ask: float
    perp_last: float
    perp_bid: float
    perp_ask: float
    mark: float
    funding_rate: float

    def last(self, market: str) -> float:
        return self.spot_last if market == SPOT else self.perp_last

    def top(self, market: str) -> tuple[float, float]:
        return (self.spot_bid, self.spot_ask) if market == SPOT else (self.perp_bid, self.perp_ask)


class LiveSimMarket(SimMarket):
    """A ``SimMarket`` whose present is the newest ``LivePrices`` (see the module text)."""

    def __init__(
        self,
        first: LivePrices,
        *,
        spot_usdt: float,
        futures_usdt: float = 0.0,
        fees: SimFees | None = None,
        slippage: float = 0.0002,
        leverage: float = 3,
        funding_hours_utc: tuple[int, ...] = DEFAULT_HOURS_UTC,
    ) -> None:
        self._live = first
        one = np.array([first.spot_last])
        bar = Candles("gate (live)", np.array([first.time_ms - BAR_MS]), one, one, one, one)
        super().__init__(
            bar,
            spot_usdt=spot_usdt,
            futures_usdt=futures_usdt,
            fees=fees,
            fill_model="realistic",
            slippage=slippage,
            funding_rate_default=first.funding_rate,
            funding_hours_utc=funding_hours_utc,
            leverage=leverage,
            dual_mode=True,
        )
        self._model = DryRun()
        self.fill_model = self._model.name
        self._last_at_place: dict[str, float] = {}  # order id -> the last price it was placed at

    # ---- the present: Gate's, as last looked at ------------------------------------------

    @property
    def live(self) -> LivePrices:
        return self._live

    @property
    def now_ms(self) -> int:
        return self._live.time_ms

    @property
    def done(self) -> bool:
        return False  # a live market never runs out of bars

    def last(self, market: str = SPOT) -> float:
        checks.check_market(market)
        return self._live.last(market)

    def mark(self) -> float:
        return self._live.mark

    def top(self, market: str = SPOT) -> tuple[float, float]:
        checks.check_market(market)
        return self._live.top(market)

    def rate_at(self, t_ms: int) -> float:
        return self._live.funding_rate  # Gate's rate for the coming instant, as last seen

    def advance(self, n: int = 1) -> list[SimEvent]:
        raise NotImplementedError("a live market moves with observe(), not advance()")

    # ---- orders ----------------------------------------------------------------------------

    def place(self, market: str, side: str | None, amount: float, *args, **kwargs) -> SimOrder:
        order = super().place(market, side, amount, *args, **kwargs)
        if order.is_open:
            self._last_at_place[order.id] = self._live.last(market)
        return order

    # ---- moving on -------------------------------------------------------------------------

    def observe(self, prices: LivePrices) -> list[SimEvent]:
        """Take a new look at Gate; returns the events it caused (fills, funding, liquidation).

        The clock never runs backwards. Funding instants passed since the last look settle at
        the rate and mark seen then (the last ones known before the instant). A resting order
        fills when this look's last price is new since the order was placed (a trade after
        it) and strictly beyond its limit."""
        before = self._live
        prices = replace(prices, time_ms=max(int(prices.time_ms), before.time_ms))
        self._sink = events = []
        try:
            self._settle_funding(before.time_ms, prices.time_ms, before.mark)
            self._live = prices
            for market in MARKETS:
                last = prices.last(market)
                moved = [
                    o
                    for o in self.open_orders(market)
                    if self._last_at_place.get(o.id) != last  # a trade since it was placed
                ]
                fill_resting(self, moved, last, last, at_touch=False)
            liquidation.on_bar(self, prices.mark, prices.mark)
        finally:
            self._sink = None
        open_ids = {o.id for m in MARKETS for o in self.open_orders(m)}
        self._last_at_place = {k: v for k, v in self._last_at_place.items() if k in open_ids}
        return events


__all__ = ["FUTURES", "SPOT", "LivePrices", "LiveSimMarket"]
