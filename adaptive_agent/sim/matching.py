"""``SimMarket``: a deterministic in-memory Gate exchange replaying a 5-minute candle path.

It holds a spot account (USDT, BTC) and a USDT-futures account trading one perpetual
(BTC_USDT, 0.0001 BTC per contract), both funded with ``usdt`` at the start. There is no I/O
and no wall clock: the time is the close of the last completed bar, and only ``advance()``
moves it. The REST/websocket server and the in-process paper mode drive the same object.

Fill models
-----------
``realistic``: the book is one tick wide around the close (``top()``). Taker orders (market,
or a limit that crosses) fill at once at the touch moved by ``slippage`` against the taker,
bounded by the limit. Resting orders fill on a later bar that trades through their price:
fully when the bar's low (buy) / high (sell) goes beyond it, half the remainder (whole lots or
contracts, at least one) when it only touches it. Maker fees for resting fills, taker
otherwise. Spot fees are charged in the currency received (BTC on a buy), as Gate does.

``backtest`` (the backtester's SPEC 6 model, to prove paper == backtest): zero spread at the
close; a post-only/GTC limit on its own side or at the touch fills ``maker_fill_ratio`` of its
size at once at its limit price (maker fee, exact fractions) and the rest stays open, never
matched, until cancelled; market and IOC orders fill in full at the NEXT bar's open moved by
``slippage`` (taker fee), when ``advance()`` reaches it. All fees are booked in USDT, as the
backtester books them; orders reserve only their notional, so a spot fee may take the free
USDT below zero, as the backtester's cash can. Crossing GTC limits are not part of that
model and are refused.

Balances: spot orders reserve what they may spend (USDT notional or cost to buy, BTC to
sell); futures orders that open exposure need notional / ``leverage`` of ``available``.
The spot and futures wallets are separate, as on Gate; there are no transfers between them.

Funding settles at every funding instant (00/08/16 UTC) that ``advance()`` passes: longs pay
and shorts receive rate x size (BTC) x the bar's close; an instant inside a data gap settles
at the close before the gap, before the next bar's fills (the backtester's convention).

Order lookups by client ``text`` follow Gate's documented rule when ``text_lookup="gate"``
(the default): spot only while the order is open, futures while open or up to 60 s after it
finished; ``"always"`` accepts finished orders too. Order history always lists them.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..io.loaders import BAR_MS, Candles, FundingSeries
from .markets import (
    CONTRACT,
    CONTRACT_BTC,
    FUNDING_INTERVAL_S,
    FUTURES_MIN_SIZE,
    FUTURES_TICK,
    PRICE_DEVIATE,
    SPOT_LOT,
    SPOT_MIN_BASE,
    SPOT_MIN_QUOTE,
    SPOT_TICK,
)
from .orders import (
    FUTURES,
    MARKETS,
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

FILL_MODELS = ("realistic", "backtest")
TEXT_LOOKUPS = ("gate", "always")
FUTURES_TEXT_GRACE_MS = 60_000  # Gate: a finished futures order is found by text for 60 s
DEFAULT_TEXT = "apiv4"  # what Gate puts in ``text`` when the client sets none
_TEXT_RE = re.compile(r"t-[0-9A-Za-z_.\-]{1,28}")
_EPS = 1e-12
POC_LABEL = {SPOT: "POC_FILL_IMMEDIATELY", FUTURES: "ORDER_POC_IMMEDIATE"}
_BOOK_TYPES = ("dnw", "pnl", "fee", "fund")


@dataclass(slots=True)
class _Leg:
    """One dual-mode position side; ``size`` in contracts, never negative."""

    size: float = 0.0
    entry: float = 0.0
    pnl: float = 0.0  # realised trading pnl
    fee: float = 0.0  # fees paid (positive)
    fund: float = 0.0  # funding received (+) or paid (-)
    open_ms: int = 0
    update_ms: int = 0


def _multiple(x: float, step: float) -> bool:
    n = x / step
    return abs(n - round(n)) <= 1e-6


def _lock_currency(order: SimOrder) -> str:
    """What a spot order reserves: BTC to sell, USDT to buy."""
    return "BTC" if order.side == "sell" else "USDT"


def _same_price(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b))


class SimMarket:
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
        leverage: float = 3,
        dual_mode: bool = False,
        text_lookup: str = "gate",
        futures_usdt: float | None = None,
        price_tick: float | None = None,
    ) -> None:
        if len(candles) == 0:
            raise ValueError("SimMarket needs at least one candle")
        if fill_model not in FILL_MODELS:
            raise ValueError(f"fill_model must be one of {FILL_MODELS}, got {fill_model!r}")
        if text_lookup not in TEXT_LOOKUPS:
            raise ValueError(f"text_lookup must be one of {TEXT_LOOKUPS}, got {text_lookup!r}")
        if not 0.0 <= maker_fill_ratio <= 1.0:
            raise ValueError("maker_fill_ratio must be within [0, 1]")
        if slippage < 0 or leverage <= 0 or usdt < 0:
            raise ValueError("slippage and usdt must be >= 0 and leverage > 0")
        self.candles = candles
        self.fees = fees or SimFees()
        self.fill_model = fill_model
        self.maker_fill_ratio = float(maker_fill_ratio)
        self.slippage = float(slippage)
        self.funding = funding
        self.funding_rate_default = float(funding_rate_default)
        self.leverage = float(leverage)
        self.dual_mode = dual_mode
        self.text_lookup = text_lookup
        self.bar = 0
        self._ts = np.asarray(candles.ts, dtype=np.int64)
        self._free = {"USDT": float(usdt), "BTC": 0.0}  # spot; locked = open orders' ``locked``
        # futures wallet balance (excludes unrealised pnl); by default as much as the spot one
        self._cash = float(usdt if futures_usdt is None else futures_usdt)
        # price grid for orders: Gate's 0.1 unless replaying finer reference prices (paper)
        self._ticks = {SPOT: price_tick or SPOT_TICK, FUTURES: price_tick or FUTURES_TICK}
        self._legs = {"long": _Leg(), "short": _Leg()}
        self._orders: dict[str, dict[str, SimOrder]] = {m: {} for m in MARKETS}
        self._open: dict[str, dict[str, SimOrder]] = {m: {} for m in MARKETS}
        self._history: dict[str, list[SimOrder]] = {m: [] for m in MARKETS}  # finish order
        self._texts: dict[str, dict[str, SimOrder]] = {m: {} for m in MARKETS}
        self._trades: dict[str, list[SimTrade]] = {m: [] for m in MARKETS}
        self._book: list[BookEntry] = []
        self._totals = dict.fromkeys(_BOOK_TYPES, 0.0)  # account book sums by type
        self._ids = itertools.count(1_000_001)
        self._listeners: list[Callable[[SimEvent], None]] = []
        self._sink: list[SimEvent] | None = None
        self._book_line("dnw", float(usdt), "", self.now_ms)

    # ---- clock and prices ---------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        """Close time of the last completed bar: the simulator's present."""
        return int(self._ts[self.bar]) + BAR_MS

    @property
    def done(self) -> bool:
        return self.bar >= len(self._ts) - 1

    def last(self, market: str = SPOT) -> float:
        self._market(market)
        return float(self.candles.close[self.bar])

    def mark(self) -> float:
        return float(self.candles.close[self.bar])

    def top(self, market: str = SPOT) -> tuple[float, float]:
        """(bid, ask): one tick around the close ("realistic") or the close itself."""
        tick = self._tick(market)
        close = float(self.candles.close[self.bar])
        if self.fill_model == "backtest":
            return close, close
        x = close / tick
        n = round(x)
        if abs(x - n) < 1e-6:  # the close sits on a tick: one tick either side of it
            bid, ask = n - 1, n + 1
        else:
            bid = math.floor(x)
            ask = bid + 1
        return round(bid * tick, 10), round(ask * tick, 10)

    def stats_24h(self) -> tuple[float, float, float]:
        """(open, high, low) over the last 288 bars up to now, for tickers."""
        lo = max(0, self.bar - 287)
        c = self.candles
        return (
            float(c.open[lo]),
            float(np.max(c.high[lo : self.bar + 1])),
            float(np.min(c.low[lo : self.bar + 1])),
        )

    def funding_rate(self) -> float:
        """The rate that the next funding instant will settle."""
        return self.rate_at(self.next_funding_ms())

    def next_funding_ms(self) -> int:
        step = FUNDING_INTERVAL_S * 1000
        return (self.now_ms // step + 1) * step

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
        for t in self.funding_instants(before, opens):  # inside a data gap
            self._settle_funding(t, float(self.candles.close[self.bar]))
        self.bar = j
        if self.fill_model == "backtest":
            self._fill_at_open(j)
        else:
            self._match_resting(j)
        for t in self.funding_instants(opens, self.now_ms):
            self._settle_funding(t, float(self.candles.close[j]))
        self._emit(BarEvent(j, self.now_ms))

    def _fill_at_open(self, j: int) -> None:
        for market in MARKETS:
            for order in [o for o in self._open[market].values() if o.awaiting_open]:
                order.awaiting_open = False
                px = self._taker_px(order.side, float(self.candles.open[j]))
                if order.price is not None and not self._within_limit(order, px):
                    self._finish(order, "ioc")
                    continue
                self._fill(order, self._qty_for(order, px), px, "taker")
                if order.is_open:
                    self._finish(order, "filled")

    def _match_resting(self, j: int) -> None:
        low, high = float(self.candles.low[j]), float(self.candles.high[j])
        for market in MARKETS:
            unit = SPOT_LOT if market == SPOT else 1.0
            for order in list(self._open[market].values()):
                p = order.price
                assert p is not None  # only limit orders rest in this fill model
                touch = low if order.side == "buy" else high
                through = touch < p if order.side == "buy" else touch > p
                if through:
                    qty = order.left
                elif _same_price(touch, p):
                    units = round(order.left / unit)
                    qty = min(order.left, max(1, units // 2) * unit)
                else:
                    continue
                self._fill(order, qty, p, "maker")
                if order.is_open and order.left <= _EPS * order.size:
                    self._finish(order, "filled")

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
    ) -> SimOrder:
        """Place an order as Gate would take it; raise ``SimError`` where Gate refuses it.

        Spot ``amount`` is BTC, except for a market buy (``price`` None) where it is the USDT
        cost. Futures ``amount`` is Gate's signed ``size`` (+ buy, - sell); ``side`` may be
        None then, and must agree with the sign when given. ``tif`` defaults to "ioc" for
        market and "gtc" for limit orders. ``auto_size`` ("close_long"/"close_short", dual
        mode, ``amount`` 0) closes a whole leg, as Gate's field of that name does.
        """
        self._market(market)
        price = None if price is None or float(price) == 0.0 else float(price)
        amount = float(amount)
        if auto_size is not None:
            amount, reduce_only = self._auto_size(market, amount, auto_size), True
        side = self._side(market, side, amount)
        tif = tif or ("ioc" if price is None else "gtc")
        if tif not in ("gtc", "ioc", "poc"):
            raise SimError("INVALID_PARAM_VALUE", f"time in force {tif!r} is not simulated")
        if price is None and tif != "ioc":
            raise SimError("INVALID_PARAM_VALUE", "a market order must be ioc")
        text = self._check_text(market, text)
        if market == SPOT:
            self._check_spot(side, amount, price, reduce_only)
        else:
            self._check_futures(side, amount, price, reduce_only)
        crossing = self._crosses(market, side, price)
        if tif == "poc" and crossing:
            bid, ask = self.top(market)
            counter = ask if side == "buy" else bid
            raise SimError(
                POC_LABEL[market], f"order price {price:g} while counter price {counter:g}"
            )
        if self.fill_model == "backtest" and tif == "gtc" and crossing:
            raise SimError(
                "INVALID_PARAM_VALUE",
                "the backtest fill model has no crossing GTC limit orders: use ioc or market",
            )
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
        self._orders[market][order.id] = self._open[market][order.id] = order
        if text.startswith("t-"):
            self._texts[market][text] = order
        self._order_event(order, "put")
        self._execute(order, crossing)
        return order

    def _execute(self, order: SimOrder, crossing: bool) -> None:
        if self.fill_model == "backtest":
            if order.tif == "ioc":
                order.awaiting_open = True
            elif self.maker_fill_ratio > 0:
                self._fill(order, order.size * self.maker_fill_ratio, order.price, "maker")
                if order.is_open and order.left <= _EPS * order.size:
                    self._finish(order, "filled")
            return
        if crossing:
            bid, ask = self.top(order.market)
            px = self._taker_px(order.side, ask if order.side == "buy" else bid)
            if order.price is not None:
                px = min(px, order.price) if order.side == "buy" else max(px, order.price)
            self._fill(order, self._qty_for(order, px), px, "taker")
            if order.is_open:
                self._finish(order, "filled")
        elif order.tif == "ioc":
            self._finish(order, "ioc")

    def get_order(self, market: str, key: str) -> SimOrder:
        """The order with this numeric id or client ``text`` (see ``text_lookup``)."""
        self._market(market)
        key = str(key)
        if key.startswith("t-"):
            order = self._texts[market].get(key)
            if order is not None and self._text_visible(order):
                return order
        elif key in self._orders[market]:
            return self._orders[market][key]
        raise SimError("ORDER_NOT_FOUND", "Order not found")

    def cancel(self, market: str, key: str) -> SimOrder:
        order = self.get_order(market, key)
        if not order.is_open:
            if market == FUTURES:
                raise SimError("ORDER_FINISHED", "Order already finished")
            if order.finish_as == "filled":
                raise SimError("ORDER_CLOSED", "Order already closed")
            raise SimError("ORDER_CANCELLED", "Order already cancelled")
        self._finish(order, "cancelled")
        return order

    def cancel_all(self, market: str) -> list[SimOrder]:
        return [self.cancel(market, o.id) for o in self.open_orders(market)]

    def open_orders(self, market: str) -> list[SimOrder]:
        self._market(market)
        return list(self._open[market].values())

    def order_history(self, market: str) -> list[SimOrder]:
        """Finished orders, newest first (as Gate lists ``status=finished``)."""
        self._market(market)
        return self._history[market][::-1]

    def my_trades(self, market: str) -> list[SimTrade]:
        """Fills, oldest first."""
        self._market(market)
        return list(self._trades[market])

    # ---- accounts -----------------------------------------------------------------------

    def spot_balances(self) -> dict[str, Balance]:
        locked = dict.fromkeys(self._free, 0.0)
        for o in self._open[SPOT].values():
            locked[_lock_currency(o)] += o.locked
        return {cur: Balance(free, locked[cur]) for cur, free in self._free.items()}

    def futures_account(self) -> dict[str, Any]:
        """USDT futures account: ``total`` is the wallet (deposits, realised pnl, fees,
        funding); margins are notional at entry (positions) or order price / ``leverage``;
        ``available`` = total + min(unrealised, 0) - margins."""
        upnl = self._unrealised()
        pos_margin = self._position_margin()
        order_margin = self._order_margin()
        hist = dict(self._totals)
        return {
            "currency": "USDT",
            "total": self._cash,
            "unrealised_pnl": upnl,
            "position_margin": pos_margin,
            "order_margin": order_margin,
            "available": self._available(upnl, pos_margin, order_margin),
            "in_dual_mode": self.dual_mode,
            "history": hist,
        }

    def positions(self) -> dict[str, dict[str, Any]]:
        """Dual mode: ``dual_long`` and ``dual_short`` (short size negative, as Gate has it);
        single mode: one ``single`` net position."""
        lng, sht = self._legs["long"], self._legs["short"]
        if self.dual_mode:
            return {
                "dual_long": self._leg_view("dual_long", lng, 1),
                "dual_short": self._leg_view("dual_short", sht, -1),
            }
        leg, sign = (sht, -1) if sht.size > 0 else (lng, 1)
        return {"single": self._leg_view("single", leg, sign)}

    def set_dual_mode(self, dual: bool) -> None:
        """Switch position mode; Gate refuses while a position or futures order is open."""
        if any(leg.size > 0 for leg in self._legs.values()):
            raise SimError("POSITION_HOLDING", "Operation forbidden with holding position")
        if self.open_orders(FUTURES):
            raise SimError("ORDER_PENDING", "Operation forbidden with pending orders")
        self.dual_mode = bool(dual)

    def account_book(self, type: str | None = None) -> list[BookEntry]:
        """Futures account book, oldest first: dnw (deposit), fee, pnl and fund lines."""
        return [e for e in self._book if type is None or e.type == type]

    # ---- validation ---------------------------------------------------------------------

    @staticmethod
    def _market(market: str) -> None:
        if market not in MARKETS:
            raise SimError("INVALID_PARAM_VALUE", f"market must be 'spot' or 'futures': {market!r}")

    def _tick(self, market: str) -> float:
        self._market(market)
        return self._ticks[market]

    @property
    def _fees_in_btc(self) -> bool:
        return self.fill_model == "realistic"

    def _fee_currency(self, market: str, side: str) -> str:
        """Gate charges spot fees in the currency received; the backtester books USDT."""
        return "BTC" if market == SPOT and side == "buy" and self._fees_in_btc else "USDT"

    @staticmethod
    def _side(market: str, side: str | None, amount: float) -> str:
        if market == FUTURES:
            signed = "buy" if amount > 0 else "sell"
            if side is not None and side != signed and amount != 0:
                raise SimError("INVALID_PARAM_VALUE", f"size {amount:g} disagrees with {side}")
            return signed if amount != 0 else (side or "buy")
        if side not in ("buy", "sell"):
            raise SimError("INVALID_PARAM_VALUE", f"side must be buy or sell: {side!r}")
        return side

    def _auto_size(self, market: str, amount: float, auto_size: str) -> float:
        if market != FUTURES or auto_size not in ("close_long", "close_short") or amount != 0:
            raise SimError("INVALID_PARAM_VALUE", "auto_size needs a futures order of size 0")
        if not self.dual_mode:
            raise SimError("INVALID_PARAM_VALUE", "auto_size is for dual mode only")
        leg = self._legs["long" if auto_size == "close_long" else "short"]
        if leg.size <= 0:
            raise SimError("REDUCE_EXCEEDED", "empty position")
        return -leg.size if auto_size == "close_long" else leg.size

    def _check_text(self, market: str, text: str | None) -> str:
        if text is None or text == "":
            return DEFAULT_TEXT
        if not _TEXT_RE.fullmatch(text):
            raise SimError(
                "INVALID_PARAM_VALUE",
                f"text {text!r} must start with 't-' and have 1 to 28 more characters"
                " of 0-9 A-Z a-z _ . -",
            )
        if text in self._texts[market]:
            raise SimError("REPEATED_CREATION", f"order text {text} is already in use")
        return text

    def _check_spot(self, side: str, amount: float, price: float | None, reduce_only: bool) -> None:
        if reduce_only:
            raise SimError("INVALID_PARAM_VALUE", "reduce_only is for futures orders")
        if not amount > 0:
            raise SimError("INVALID_PARAM_VALUE", f"amount must be positive: {amount:g}")
        tick = self._ticks[SPOT]
        if price is not None and (price < 0 or not _multiple(price, tick)):
            raise SimError("INVALID_PRECISION", f"price {price:g} is not a multiple of {tick}")
        if self.fill_model == "backtest":
            return  # the backtester's fill split is not rounded; the core checked the minimums
        if price is None and side == "buy":
            cost = amount
        else:
            if not _multiple(amount, SPOT_LOT):
                raise SimError("INVALID_PRECISION", f"amount {amount:g} has more than 6 decimals")
            if amount < SPOT_MIN_BASE - _EPS:
                raise SimError(
                    "INVALID_PARAM_VALUE",
                    f"Your order size {amount:g} BTC is too small. The minimum is"
                    f" {SPOT_MIN_BASE:g} BTC",
                )
            cost = amount * (price if price is not None else self.top(SPOT)[0])
        if cost < SPOT_MIN_QUOTE - 1e-9:
            raise SimError(
                "INVALID_PARAM_VALUE",
                f"Your order size {cost:.8g} USDT is too small. The minimum is"
                f" {SPOT_MIN_QUOTE:g} USDT",
            )

    def _check_futures(
        self, side: str, amount: float, price: float | None, reduce_only: bool
    ) -> None:
        size = abs(amount)
        exact = self.fill_model == "backtest"  # unrounded fill split, as in the backtester
        if not exact and abs(size - round(size)) > 1e-9:
            raise SimError("INVALID_PARAM_VALUE", f"size {amount:g} is not a whole contract count")
        if not exact and size < FUTURES_MIN_SIZE:
            raise SimError("SIZE_TOO_SMALL", f"size {amount:g} below minimum {FUTURES_MIN_SIZE}")
        if price is not None:
            if price < 0 or not _multiple(price, self._ticks[FUTURES]):
                raise SimError(
                    "INVALID_PARAM_VALUE",
                    f"price {price:g} is not a multiple of {self._ticks[FUTURES]}",
                )
            mark = self.mark()
            if abs(price - mark) > mark * PRICE_DEVIATE:
                raise SimError(
                    "PRICE_TOO_DEVIATED",
                    f"order price {price:g} deviates more than {PRICE_DEVIATE:g} from mark"
                    f" {mark:g}",
                )
        if reduce_only:
            leg = self._legs["long" if side == "sell" else "short"]
            if leg.size <= 0:
                raise SimError("REDUCE_EXCEEDED", "empty position")
            pending = math.fsum(
                o.left for o in self.open_orders(FUTURES) if o.reduce_only and o.side == side
            )
            if size > leg.size - pending + 1e-9:
                raise SimError(
                    "REDUCE_EXCEEDED",
                    f"reduce size {size:g} exceeds position {leg.size:g}"
                    f" less {pending:g} in pending reduce-only orders",
                )

    def _crosses(self, market: str, side: str, price: float | None) -> bool:
        """Would this order take liquidity now? At the touch counts only in "realistic"."""
        if price is None:
            return True
        bid, ask = self.top(market)
        if self.fill_model == "backtest":
            return price > ask if side == "buy" else price < bid
        return price >= ask if side == "buy" else price <= bid

    def _text_visible(self, order: SimOrder) -> bool:
        if order.is_open or self.text_lookup == "always":
            return True
        if order.market == SPOT:
            return False
        return self.now_ms - (order.finish_ms or 0) <= FUTURES_TEXT_GRACE_MS

    # ---- reservations -------------------------------------------------------------------

    def _reserve(self, order: SimOrder) -> None:
        if order.market == SPOT:
            self._lock_spot(order)
            return
        opening = self._opening_qty(order.side, order.reduce_only, order.size)
        if opening <= 0:
            return
        need = opening * CONTRACT_BTC * self._ref_price(order) / self.leverage
        available = self._available(
            self._unrealised(), self._position_margin(), self._order_margin()
        )
        if need > available + 1e-9:
            raise SimError(
                "INSUFFICIENT_AVAILABLE",
                f"margin {need:.2f} USDT needed, {available:.2f} USDT available",
            )

    def _lock_spot(self, order: SimOrder) -> None:
        cur = _lock_currency(order)
        need = order.size if order.side == "sell" or order.by_cost else order.size * order.price
        if need > self._free[cur] + 1e-9:
            raise SimError(
                "BALANCE_NOT_ENOUGH",
                f"{need:.8g} {cur} needed, {self._free[cur]:.8g} {cur} available",
            )
        order.locked = min(need, self._free[cur])
        self._free[cur] -= order.locked

    def _release(self, order: SimOrder) -> None:
        if order.market == SPOT:
            self._free[_lock_currency(order)] += order.locked
            order.locked = 0.0

    def _use_lock(self, order: SimOrder, amount: float) -> None:
        """Spend ``amount`` of what the order reserved (float dust beyond it: free balance)."""
        used = min(amount, order.locked)
        order.locked -= used
        self._free[_lock_currency(order)] -= amount - used

    # ---- fills --------------------------------------------------------------------------

    def _qty_for(self, order: SimOrder, px: float) -> float:
        if not order.by_cost:
            return order.left
        qty = order.left / px
        if self.fill_model == "realistic":
            qty = math.floor(qty / SPOT_LOT + 1e-9) * SPOT_LOT
        return qty

    def _fill(self, order: SimOrder, qty: float, px: float, role: str) -> None:
        capped = False
        if order.reduce_only:
            room = self._legs["long" if order.side == "sell" else "short"].size
            capped, qty = qty > room + _EPS, min(qty, room)
        if qty > _EPS:
            self._book_fill(order, qty, px, role)
        if capped:  # the position shrank under a reduce-only order: Gate cancels the rest
            self._finish(order, "reduce_only")

    def _book_fill(self, order: SimOrder, qty: float, px: float, role: str) -> None:
        rate = self.fees.rate(order.market, role)
        if order.market == SPOT:
            fee, close_qty = self._fill_spot(order, qty, px, rate), 0.0
        else:
            fee, close_qty = self._fill_futures(order, qty, px, rate)
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
        self._trades[order.market].append(trade)
        self._emit(TradeEvent(trade))
        self._order_event(order, "update")

    def _fill_spot(self, order: SimOrder, qty: float, px: float, rate: float) -> float:
        quote = qty * px
        if order.side == "sell":
            fee = quote * rate
            self._use_lock(order, qty)
            self._free["USDT"] += quote - fee
            return fee
        self._use_lock(order, quote)
        if self._fees_in_btc:  # Gate takes the fee from the coin received
            fee = qty * rate
            self._free["BTC"] += qty - fee
            return fee
        # "backtest": the fee is booked in USDT from the free balance, which may go below
        # zero as the backtester's cash can (only notionals are reserved)
        fee = quote * rate
        self._free["USDT"] -= fee
        self._free["BTC"] += qty
        return fee

    def _fill_futures(
        self, order: SimOrder, qty: float, px: float, rate: float
    ) -> tuple[float, float]:
        fee = qty * CONTRACT_BTC * px * rate
        pnl, closed = 0.0, 0.0
        for name, kind, part in self._futures_parts(order.side, order.reduce_only, qty):
            leg = self._legs[name]
            leg.fee += fee * part / qty
            leg.update_ms = self.now_ms
            if kind == "close":
                sign = 1.0 if name == "long" else -1.0
                gain = sign * part * CONTRACT_BTC * (px - leg.entry)
                leg.pnl += gain
                pnl += gain
                closed += part
                leg.size -= part
                if leg.size <= _EPS:
                    leg.size, leg.entry = 0.0, 0.0
            else:
                if leg.size <= 0:
                    leg.open_ms = self.now_ms
                leg.entry = (leg.entry * leg.size + px * part) / (leg.size + part)
                leg.size += part
        self._cash -= fee
        self._book_line("fee", -fee, CONTRACT, self.now_ms)
        if closed > 0:
            self._cash += pnl
            self._book_line("pnl", pnl, CONTRACT, self.now_ms)
        return fee, closed

    def _futures_parts(
        self, side: str, reduce_only: bool, qty: float
    ) -> list[tuple[str, str, float]]:
        """Split a futures fill into (leg, "open"|"close", contracts) parts."""
        opposite = "long" if side == "sell" else "short"
        own = "long" if side == "buy" else "short"
        if self.dual_mode:
            return [(opposite, "close", qty)] if reduce_only else [(own, "open", qty)]
        closing = min(qty, self._legs[opposite].size)
        parts = [(opposite, "close", closing)] if closing > 0 else []
        if qty - closing > _EPS and not reduce_only:
            parts.append((own, "open", qty - closing))
        return parts

    def _finish(self, order: SimOrder, how: str) -> None:
        order.status = "finished"
        order.finish_as = how
        order.finish_ms = order.update_ms = self.now_ms
        order.awaiting_open = False
        del self._open[order.market][order.id]
        self._history[order.market].append(order)
        self._release(order)
        self._order_event(order, "finish")

    # ---- futures margin and pnl ---------------------------------------------------------

    def _opening_qty(self, side: str, reduce_only: bool, qty: float) -> float:
        if reduce_only:
            return 0.0
        if self.dual_mode:
            return qty
        return max(0.0, qty - self._legs["long" if side == "sell" else "short"].size)

    def _ref_price(self, order: SimOrder) -> float:
        if order.price is not None:
            return order.price
        return self._taker_px(order.side, self.mark())

    def _order_margin(self) -> float:
        return math.fsum(
            o.left * CONTRACT_BTC * self._ref_price(o) / self.leverage
            for o in self.open_orders(FUTURES)
            if not o.reduce_only
        )

    def _position_margin(self) -> float:
        return math.fsum(
            leg.size * CONTRACT_BTC * leg.entry / self.leverage for leg in self._legs.values()
        )

    def _unrealised(self) -> float:
        mark = self.mark()
        lng, sht = self._legs["long"], self._legs["short"]
        return (lng.size * (mark - lng.entry) - sht.size * (mark - sht.entry)) * CONTRACT_BTC

    def _available(self, upnl: float, pos_margin: float, order_margin: float) -> float:
        """Wallet less margins; losses count at once, gains only once realised."""
        return self._cash + min(upnl, 0.0) - pos_margin - order_margin

    def _leg_view(self, mode: str, leg: _Leg, sign: int) -> dict[str, Any]:
        mark = self.mark()
        upnl = sign * leg.size * CONTRACT_BTC * (mark - leg.entry) if leg.size > 0 else 0.0
        pending = sum(
            1
            for o in self.open_orders(FUTURES)
            if self._touches(o, "long" if sign > 0 else "short")
        )
        return {
            "mode": mode,
            "size": sign * leg.size + 0.0,  # never -0.0
            "entry_price": leg.entry,
            "mark_price": mark,
            "value": leg.size * CONTRACT_BTC * mark,
            "margin": leg.size * CONTRACT_BTC * leg.entry / self.leverage,
            "leverage": self.leverage,
            "unrealised_pnl": upnl,
            "realised_pnl": leg.pnl - leg.fee + leg.fund,
            "pnl_pnl": leg.pnl,
            "pnl_fee": 0.0 - leg.fee,
            "pnl_fund": leg.fund,
            "open_time_ms": leg.open_ms,
            "update_time_ms": leg.update_ms,
            "pending_orders": pending,
        }

    def _touches(self, order: SimOrder, leg: str) -> bool:
        if order.reduce_only:
            return (order.side == "sell") == (leg == "long")
        return (order.side == "buy") == (leg == "long")

    # ---- funding ------------------------------------------------------------------------

    @staticmethod
    def funding_instants(after_ms: int, upto_ms: int) -> list[int]:
        """Funding instants t with after < t <= upto (every 8 h from 00:00 UTC)."""
        step = FUNDING_INTERVAL_S * 1000
        first = (after_ms // step + 1) * step
        return list(range(first, upto_ms + 1, step))

    def rate_at(self, t_ms: int) -> float:
        """The funding rate that settles at ``t_ms`` (the series' last rate at or before it)."""
        if self.funding is None:
            return self.funding_rate_default
        return float(
            self.funding.rate_at(np.array([t_ms], dtype=np.int64), self.funding_rate_default)[0]
        )

    def _settle_funding(self, t_ms: int, mark: float) -> None:
        rate = self.rate_at(t_ms)
        total = 0.0
        for name, sign in (("long", -1.0), ("short", 1.0)):
            leg = self._legs[name]
            if leg.size <= 0:
                continue
            change = sign * rate * leg.size * CONTRACT_BTC * mark
            leg.fund += change
            self._cash += change
            total += change
            self._book_line("fund", change, CONTRACT, t_ms)
        self._emit(FundingEvent(t_ms, rate, mark, total))

    # ---- helpers ------------------------------------------------------------------------

    def _taker_px(self, side: str, ref: float) -> float:
        return ref * (1.0 + self.slippage) if side == "buy" else ref * (1.0 - self.slippage)

    @staticmethod
    def _within_limit(order: SimOrder, px: float) -> bool:
        assert order.price is not None
        return px <= order.price if order.side == "buy" else px >= order.price

    def _book_line(self, type_: str, change: float, text: str, time_ms: int) -> None:
        """Record a cash change already applied to the wallet."""
        self._totals[type_] += change
        self._book.append(BookEntry(str(next(self._ids)), time_ms, type_, change, self._cash, text))
