"""``SimMarket``: a deterministic in-memory Gate exchange replaying a 5-minute candle path.

It holds a spot account (USDT, BTC; ``spot_wallet``) and a USDT-futures account trading one
perpetual (BTC_USDT, 0.0001 BTC per contract; ``futures_account``), funded with ``spot_usdt``
and ``futures_usdt`` (default ``usdt`` each; ``unified``: one shared balance). No I/O, no clock:
the time is the close of the last completed bar, and only ``advance()`` moves it. The
REST/websocket server and the in-process paper mode drive the same object.

The parts: ``fill_models`` (how orders fill: "realistic" or "backtest"), ``order_checks``
(what Gate refuses), ``order_index`` (orders, fills, client-text lookups), ``funding`` (when
funding settles), ``retention`` (how many finished records it keeps: ``history_max``). The
spot and futures wallets are separate, as on Gate; USDT moves between them only by
``POST /wallet/transfers``.

Funding settles at every funding instant that ``advance()`` passes, at the UTC hours
``funding_hours_utc`` (default 00/08/16, as on Gate; the backtester's
``backtest.funding_hours_utc``): longs pay and shorts receive rate x size (BTC) x the bar's
close; an instant inside a data gap settles at the close before the gap, before the next
bar's fills (the backtester's convention).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from ..core.time_rules import BAR_MS
from ..exchange.gate_constants import POC_LABEL
from ..io.loaders import Candles, FundingSeries
from . import liquidation
from . import order_checks as checks
from .fill_models import FILL_MODELS
from .fill_models import fill_model as make_fill_model
from .funding import DEFAULT_HOURS_UTC, FundingSchedule
from .futures_account import closed_leg
from .markets import FUTURES_TICK, SPOT_TICK
from .order_finish import OrderFinishing
from .order_index import TEXT_LOOKUPS, OrderIndex
from .orders import (
    FUTURES,
    SPOT,
    Balance,
    BarEvent,
    BookEntry,
    FundingEvent,
    OrderEvent,
    SimError,
    SimEvent,
    SimFees,
    SimOrder,
    SimTrade,
    TradeEvent,
)
from .retention import HISTORY_MAX
from .unified import open_accounts
from .wallet_transfers import WalletTransfers

__all__ = ["FILL_MODELS", "TEXT_LOOKUPS", "SimError", "SimFees", "SimMarket"]

_EPS = 1e-12


class SimMarket(OrderFinishing):
    """The simulated exchange. Quantities are floats; errors are ``SimError`` with Gate labels."""

    def __init__(
        self,
        candles: Candles,
        *,
        usdt: float = 100_000.0,
        fees: SimFees | None = None,
        fill_model: str = "realistic",
        maker_fill_ratio: float = 0.5,
        slippage: float = 0.0002,
        funding: FundingSeries | None = None,
        funding_rate_default: float = 0.0001,
        funding_hours_utc: tuple[int, ...] = DEFAULT_HOURS_UTC,
        leverage: float = 3,
        dual_mode: bool = False,
        text_lookup: str = "gate",
        history_max: int = HISTORY_MAX,
        futures_usdt: float | None = None,
        price_tick: float | None = None,
        spot_usdt: float | None = None,
        unified: bool = False,
    ) -> None:
        if len(candles) == 0:
            raise ValueError("SimMarket needs at least one candle")
        self._model = make_fill_model(fill_model, maker_fill_ratio)
        self.fill_model = self._model.name
        self._index = OrderIndex(text_lookup, history_max)
        if not 0.0 <= maker_fill_ratio <= 1.0:
            raise ValueError("maker_fill_ratio must be within [0, 1]")
        if slippage < 0 or leverage <= 0 or usdt < 0:
            raise ValueError("slippage and usdt must be >= 0 and leverage > 0")
        self.candles = candles
        self.fees = fees or SimFees()
        self.slippage = float(slippage)
        self.bar = 0
        self._ts = np.asarray(candles.ts, dtype=np.int64)
        self._funding = FundingSchedule(
            self.now_ms, funding_hours_utc, funding, funding_rate_default
        )
        self._ids = itertools.count(1_000_001)
        spot_cash = float(usdt if spot_usdt is None else spot_usdt)
        cash = float(usdt if futures_usdt is None else futures_usdt)  # excludes unrealised pnl
        accounts = open_accounts(
            spot_cash, cash, unified, leverage, dual_mode, self._ids, self, history_max
        )
        self._spot, self._futures = accounts
        self.wallets = WalletTransfers(
            *accounts, self._ids, self.futures_account, unified, history_max
        )
        self._futures.margin_settings.taker_fee = self.fees.perp_taker
        # price grid for orders: Gate's 0.1 unless replaying finer reference prices (paper)
        self._ticks = {SPOT: price_tick or SPOT_TICK, FUTURES: price_tick or FUTURES_TICK}
        self._texts = self._index.texts  # client text -> order, per market
        self._listeners: list[Callable[[SimEvent], None]] = []
        self._sink: list[SimEvent] | None = None

    # ---- settings -----------------------------------------------------------------------

    @property
    def dual_mode(self) -> bool:
        return self._futures.dual_mode

    @property
    def leverage(self) -> float:
        return self._futures.leverage

    @property
    def text_lookup(self) -> str:
        return self._index.text_lookup

    @property
    def funding_hours_utc(self) -> tuple[int, ...]:
        return self._funding.hours_utc

    # ---- clock and prices ---------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        """Close time of the last completed bar: the simulator's present."""
        return int(self._ts[self.bar]) + BAR_MS

    @property
    def done(self) -> bool:
        return self.bar >= len(self._ts) - 1

    def last(self, market: str = SPOT) -> float:
        checks.check_market(market)
        return float(self.candles.close[self.bar])

    def mark(self) -> float:
        return float(self.candles.close[self.bar])

    def top(self, market: str = SPOT) -> tuple[float, float]:
        """(bid, ask): one tick around the close ("realistic") or the close itself."""
        checks.check_market(market)
        return self._model.top(float(self.candles.close[self.bar]), self._ticks[market])

    def stats_24h(self) -> tuple[float, float, float]:
        """(open, high, low) over the last 288 bars up to now, for tickers."""
        lo = max(0, self.bar - 287)
        c = self.candles
        return (
            float(c.open[lo]),
            float(np.max(c.high[lo : self.bar + 1])),
            float(np.min(c.low[lo : self.bar + 1])),
        )

    # ---- funding ------------------------------------------------------------------------

    def funding_rate(self) -> float:
        """The rate that the next funding instant will settle."""
        return self.rate_at(self.next_funding_ms())

    def next_funding_ms(self) -> int:
        return self._funding.next_after(self.now_ms)

    def funding_instants(self, after_ms: int, upto_ms: int) -> list[int]:
        """Funding instants t with after < t <= upto, at ``funding_hours_utc``."""
        return self._funding.instants(after_ms, upto_ms)

    def rate_at(self, t_ms: int) -> float:
        """The funding rate that settles at ``t_ms`` (the series' last rate at or before it)."""
        return self._funding.rate_at(t_ms)

    def _settle_funding(self, after_ms: int, upto_ms: int, mark: float) -> None:
        for t in self._funding.due(after_ms, upto_ms):
            rate = self.rate_at(t)
            change = self._futures.settle_funding(t, rate, mark)
            self._emit(FundingEvent(t, rate, mark, change))

    # ---- events -------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[SimEvent], None]) -> None:
        """Call ``listener`` synchronously with every event (orders, trades, funding, bars)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[SimEvent], None]) -> None:
        self._listeners.remove(listener)

    def _emit(self, event: SimEvent) -> None:
        if self._sink is not None:
            self._sink.append(event)
        for listener in list(self._listeners):
            listener(event)

    def _order_event(self, order: SimOrder, phase: str) -> None:
        self._emit(OrderEvent(replace(order), phase))

    # ---- advancing ----------------------------------------------------------------------

    def advance(self, n: int = 1) -> list[SimEvent]:
        """Complete the next ``n`` bars (fewer at the end of the data); return their events."""
        if n < 0:
            raise ValueError("advance(n) needs n >= 0")
        self._sink = events = []
        try:
            for _ in range(n):
                if self.done:
                    break
                self._next_bar()
        finally:
            self._sink = None
        return events

    def _next_bar(self) -> None:
        j = self.bar + 1
        before = self.now_ms
        opens = int(self._ts[j])
        self._settle_funding(before, opens, float(self.candles.close[self.bar]))  # in a gap
        self.bar = j
        self._model.on_bar(self, j)
        self._settle_funding(opens, self.now_ms, float(self.candles.close[j]))
        liquidation.on_bar(self, float(self.candles.low[j]), float(self.candles.high[j]))
        self._emit(BarEvent(j, self.now_ms))

    # ---- orders -------------------------------------------------------------------------

    def place(
        self,
        market: str,
        side: str | None,
        amount: float,
        price: float | None = None,
        tif: str | None = None,
        reduce_only: bool = False,
        text: str | None = None,
        *,
        auto_size: str | None = None,
        poc_as_order: bool = False,
    ) -> SimOrder:
        """Place an order as Gate would take it; raise ``SimError`` where Gate refuses it.

        Spot ``amount`` is BTC, except for a market buy (``price`` None) where it is the USDT
        cost. Futures ``amount`` is Gate's signed ``size`` (+ buy, - sell); ``side`` may be
        None then, and must agree with the sign when given. ``tif`` defaults to "ioc" for
        market and "gtc" for limit orders. ``auto_size`` ("close_long"/"close_short", dual
        mode, ``amount`` 0) closes a whole leg, as Gate's field of that name does. A crossing
        post-only order is Gate's error label, or with ``poc_as_order`` an order finished
        ``poc`` at once (spot: Gate reports it either way; fault knob ``post_only_reject``).
        """
        checks.check_market(market)
        price = None if price is None or float(price) == 0.0 else float(price)
        amount = float(amount)
        if auto_size is not None:
            checks.check_auto_size(market, amount, auto_size)
            amount, reduce_only = self._futures.auto_size(auto_size), True
        side = checks.order_side(market, side, amount)
        tif = tif or ("ioc" if price is None else "gtc")
        checks.check_tif(tif, price)
        text = self._index.check_text(market, text)
        self._check(market, side, amount, price, reduce_only)
        crossing = self._crosses(market, side, price)
        if tif == "poc" and crossing and not poc_as_order:
            bid, ask = self.top(market)
            counter = ask if side == "buy" else bid
            raise SimError(
                POC_LABEL[market], f"order price {price:g} while counter price {counter:g}"
            )
        self._model.refuse(tif, crossing)
        order = SimOrder(
            id=str(next(self._ids)),
            market=market,
            side=side,
            amount=amount,
            price=price,
            tif=tif,
            reduce_only=reduce_only,
            text=text,
            create_ms=self.now_ms,
            update_ms=self.now_ms,
            fee_currency=self._fee_currency(market, side),
            auto_size=auto_size,
        )
        self._reserve(order)
        self._index.add(order)
        self._order_event(order, "put")
        if tif == "poc" and crossing:
            self.finish_order(order, "poc")
        else:
            self._model.on_place(self, order, crossing)
        return order

    def _check(
        self, market: str, side: str, amount: float, price: float | None, reduce_only: bool
    ) -> None:
        exact, tick = self._model.exact, self._ticks[market]
        if market == SPOT:
            bid = self.top(SPOT)[0]
            checks.check_spot(side, amount, price, reduce_only, tick=tick, exact=exact, bid=bid)
            return
        checks.check_futures(amount, price, tick=tick, exact=exact, mark=self.mark())
        if reduce_only:
            pending = math.fsum(
                o.left for o in self.open_orders(FUTURES) if o.reduce_only and o.side == side
            )
            self._futures.check_reduce(side, abs(amount), pending)

    def _crosses(self, market: str, side: str, price: float | None) -> bool:
        """Would this order take liquidity now? At the touch counts only in "realistic"."""
        if price is None:
            return True
        bid, ask = self.top(market)
        return self._model.crosses(side, price, bid, ask)

    def get_order(self, market: str, key: str) -> SimOrder:
        """The order with this numeric id or client ``text`` (see ``text_lookup``)."""
        checks.check_market(market)
        return self._index.find(market, str(key), self.now_ms)

    def open_orders(self, market: str) -> list[SimOrder]:
        checks.check_market(market)
        return list(self._index.open[market].values())

    def order_history(self, market: str) -> list[SimOrder]:
        """Finished orders, newest first (as Gate lists ``status=finished``)."""
        checks.check_market(market)
        return list(reversed(self._index.history[market]))

    def my_trades(self, market: str) -> list[SimTrade]:
        """Fills, oldest first."""
        checks.check_market(market)
        return list(self._index.trades[market])

    # ---- accounts -----------------------------------------------------------------------

    def spot_balances(self) -> dict[str, Balance]:
        return self._spot.balances(self._index.open[SPOT].values())

    def futures_account(self) -> dict[str, Any]:
        """USDT futures account: ``total`` is the wallet (deposits, realised pnl, fees,
        funding); margins are notional at entry (positions) or order price / ``leverage``;
        ``available`` = total + min(unrealised, 0) - margins."""
        return self._futures.summary(self.mark(), self._order_margin())

    def positions(self) -> dict[str, dict[str, Any]]:
        """Dual mode: ``dual_long`` and ``dual_short`` (short size negative, as Gate has it);
        single mode: one ``single`` net position."""
        return self._futures.positions(self.mark(), self.open_orders(FUTURES))

    def set_dual_mode(self, dual: bool) -> None:
        """Switch position mode; Gate refuses while a position or futures order is open."""
        self._futures.set_dual_mode(dual, bool(self.open_orders(FUTURES)))

    def account_book(self, type: str | None = None) -> list[BookEntry]:
        """Futures account book, oldest first: dnw (deposit), fee, pnl and fund lines."""
        return self._futures.account_book(type)

    def _order_margin(self) -> float:
        return self._futures.order_margin(self.open_orders(FUTURES), self._ref_price)

    def _ref_price(self, order: SimOrder) -> float:
        if order.price is not None:
            return order.price
        return self.taker_px(order.side, self.mark())

    def _reserve(self, order: SimOrder) -> None:
        if order.market == SPOT:
            self._spot.reserve(order)
        else:
            self._futures.reserve(order, self.mark(), self.open_orders(FUTURES), self._ref_price)

    def _fee_currency(self, market: str, side: str) -> str:
        """Gate charges spot fees in the currency received; the backtester books USDT."""
        return "BTC" if market == SPOT and side == "buy" and self._model.fee_in_coin else "USDT"

    # ---- fills (called by the fill models) ----------------------------------------------

    def taker_px(self, side: str, ref: float) -> float:
        """``ref`` moved by ``slippage`` against a taker."""
        return ref * (1.0 + self.slippage) if side == "buy" else ref * (1.0 - self.slippage)

    def fill_order(self, order: SimOrder, qty: float, px: float, role: str) -> None:
        """Fill ``qty`` of an open order at ``px``; a reduce-only order beyond its position
        fills what is left of it and the rest is cancelled, as Gate does."""
        capped = False
        if order.reduce_only:
            room = self._futures.legs[closed_leg(order.side)].size
            capped, qty = qty > room + _EPS, min(qty, room)
        if qty > _EPS:
            self._book_fill(order, qty, px, role)
        if capped:
            self.finish_order(order, "reduce_only")
        self.close_orders_of_closed_leg(order)

    def _book_fill(self, order: SimOrder, qty: float, px: float, role: str) -> None:
        rate = self.fees.rate(order.market, role)
        if order.market == SPOT:
            fee = self._spot.fill(order, qty, px, rate, self._model.fee_in_coin)
            close_qty = 0.0
        else:
            fee, close_qty = self._futures.fill(order, qty, px, rate, self.now_ms)
        order.filled += qty
        order.fill_value += qty * px
        order.fee += fee
        order.fee_usdt += fee * px if order.fee_currency == "BTC" else fee
        order.update_ms = self.now_ms
        trade = SimTrade(
            id=str(next(self._ids)),
            order_id=order.id,
            market=order.market,
            side=order.side,
            qty=qty,
            price=px,
            fee=fee,
            fee_currency=order.fee_currency,
            role=role,
            time_ms=self.now_ms,
            text=order.text,
            close_qty=close_qty,
        )
        self._index.add_trade(trade)
        self._emit(TradeEvent(trade))
        self._order_event(order, "update")
