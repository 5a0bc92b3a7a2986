"""Where the simulator keeps its orders and fills, per market, and how it finds them.

Order lookups by client ``text`` follow Gate's documented rule when ``text_lookup="gate"``
(the default): spot only while the order is open, futures while open or up to
``FUTURES_TEXT_GRACE_MS`` after it finished; ``"always"`` accepts finished orders too. Order
history lists them while they are among the newest ``history_max`` finished orders of their
market (``retention``): an older finished order leaves the index, its id and its ``text``.
"""

from __future__ import annotations

from collections import deque

from ..exchange.gate_constants import (
    CLIENT_ID_MAX_BODY,
    CLIENT_ID_PREFIX,
    DEFAULT_TEXT,
    FUTURES_TEXT_GRACE_MS,
    ZERO_FILL_HISTORY_MS,
    Label,
    is_client_id,
    names_client_id,
)
from .orders import FUTURES, MARKETS, SPOT, SimError, SimOrder, SimTrade
from .retention import HISTORY_MAX, check_history_max

TEXT_LOOKUPS = ("gate", "always")
_EPS = 1e-12


def hidden(order: SimOrder, now_ms: int) -> bool:
    """A zero-fill futures order Gate no longer returns: ``ZERO_FILL_HISTORY_MS`` after it
    finished it is gone from the order lists and the lookup by id (``order_finish``)."""
    return (
        order.market == FUTURES
        and not order.is_open
        and order.filled <= _EPS
        and now_ms - (order.finish_ms or 0) > ZERO_FILL_HISTORY_MS
    )


class OrderIndex:
    """Orders by id, the open ones, the newest finished ones in finish order, texts, and the
    newest fills (``history_max`` of each per market)."""

    def __init__(self, text_lookup: str = "gate", history_max: int = HISTORY_MAX) -> None:
        if text_lookup not in TEXT_LOOKUPS:
            raise ValueError(f"text_lookup must be one of {TEXT_LOOKUPS}, got {text_lookup!r}")
        self.text_lookup = text_lookup
        self.history_max = check_history_max(history_max)
        self.orders: dict[str, dict[str, SimOrder]] = {m: {} for m in MARKETS}
        self.open: dict[str, dict[str, SimOrder]] = {m: {} for m in MARKETS}
        self.history: dict[str, deque[SimOrder]] = {m: deque() for m in MARKETS}  # finish order
        self.texts: dict[str, dict[str, SimOrder]] = {m: {} for m in MARKETS}
        self.trades: dict[str, deque[SimTrade]] = {m: deque(maxlen=history_max) for m in MARKETS}

    def check_text(self, market: str, text: str | None) -> str:
        """The ``text`` a new order gets: Gate's default when none, else a valid, unused one."""
        if text is None or text == "":
            return DEFAULT_TEXT
        if not is_client_id(text):
            raise SimError(
                Label.INVALID_PARAM_VALUE,
                f"text {text!r} must start with {CLIENT_ID_PREFIX!r} and have 1 to"
                f" {CLIENT_ID_MAX_BODY} more characters of 0-9 A-Z a-z _ . -",
            )
        if text in self.texts[market]:
            raise SimError(Label.REPEATED_CREATION, f"order text {text} is already in use")
        return text

    def add(self, order: SimOrder) -> None:
        self.orders[order.market][order.id] = self.open[order.market][order.id] = order
        if names_client_id(order.text):
            self.texts[order.market][order.text] = order

    def finish(self, order: SimOrder) -> None:
        del self.open[order.market][order.id]
        history = self.history[order.market]
        history.append(order)
        if len(history) > self.history_max:
            self._forget(history.popleft())

    def _forget(self, old: SimOrder) -> None:
        del self.orders[old.market][old.id]
        if self.texts[old.market].get(old.text) is old:
            del self.texts[old.market][old.text]

    def add_trade(self, trade: SimTrade) -> None:
        self.trades[trade.market].append(trade)

    def find(self, market: str, key: str, now_ms: int) -> SimOrder:
        """The order with this numeric id or client ``text`` (see ``text_lookup``)."""
        if names_client_id(key):
            order = self.texts[market].get(key)
            if order is not None and self._text_visible(order, now_ms):
                return order
        elif key in self.orders[market] and not hidden(self.orders[market][key], now_ms):
            return self.orders[market][key]
        raise SimError(Label.ORDER_NOT_FOUND, "Order not found")

    def _text_visible(self, order: SimOrder, now_ms: int) -> bool:
        if order.is_open or self.text_lookup == "always":
            return True
        if order.market == SPOT:
            return False
        return now_ms - (order.finish_ms or 0) <= FUTURES_TEXT_GRACE_MS
