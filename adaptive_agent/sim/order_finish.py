"""How orders end in the simulator, with Gate's ``finish_as`` (``SimMarket`` mixes this in).

``finish_order(order, how)`` is the one entry point: fills (``filled``, ``ioc``), cancels
(``cancelled``), reduce-only ends (``reduce_only``, ``position_closed``), post-only crossing
reported as an order (``poc``) and the liquidation engine (``liquidated``,
``auto_deleveraged``) all finish through it. Gate's meanings (API v4 ``FuturesOrder``
``finish_as``): ``reduce_only`` "cancelled because of increasing position while reduce-only
set", ``position_closed`` "cancelled because the position was closed". ``reduce_out`` ("only
reduce positions by excluding hard-to-fill orders") and ``stp`` (self-trade prevention) are not
produced: the docs do not say when Gate picks ``reduce_out``, and the simulator holds one
account, so it never trades with itself.

Gate's "Query futures order list" (``GET /futures/{settle}/orders``): "Zero-fill order cannot
be retrieved for 10 minutes after cancellation". Read as the issue and the older wording have
it ("cannot be retrieved 10 minutes after order cancellation"): a futures order that finished
with nothing filled is dropped from the order list, the time-range list and the lookup by id
``ZERO_FILL_HISTORY_MS`` after it finished (the lookup by ``text`` ends after 60 s anyway).
"""

from __future__ import annotations

from typing import Any

from ..exchange.gate_constants import Label
from .futures_account import closed_leg
from .order_index import hidden
from .orders import FUTURES, SPOT, SimError, SimOrder

_EPS = 1e-12


class OrderFinishing:
    """Cancels and finishes of ``SimMarket``'s orders."""

    now_ms: Any
    _index: Any
    _spot: Any
    _futures: Any
    _order_event: Any
    get_order: Any
    open_orders: Any

    def cancel(self, market: str, key: str) -> SimOrder:
        order = self.get_order(market, key)
        if not order.is_open:
            if market == FUTURES:
                raise SimError(Label.ORDER_FINISHED, "Order already finished")
            if order.finish_as == "filled":
                raise SimError(Label.ORDER_CLOSED, "Order already closed")
            raise SimError(Label.ORDER_CANCELLED, "Order already cancelled")
        self.finish_order(order, "cancelled")
        return order

    def cancel_all(self, market: str) -> list[SimOrder]:
        return [self.cancel(market, o.id) for o in self.open_orders(market)]

    def visible_history(self, market: str) -> list[SimOrder]:
        """Finished orders as Gate lists them, newest first (zero-fill futures orders drop
        out ``ZERO_FILL_HISTORY_MS`` after they finished)."""
        now = self.now_ms
        return [o for o in reversed(self._index.history[market]) if not hidden(o, now)]

    def finish_order(self, order: SimOrder, how: str) -> None:
        order.status = "finished"
        order.finish_as = how
        order.finish_ms = order.update_ms = self.now_ms
        order.awaiting_open = False
        self._index.finish(order)
        if order.market == SPOT:
            self._spot.release(order)
        self._order_event(order, "finish")

    def close_orders_of_closed_leg(self, order: SimOrder) -> None:
        """After a fill that closed a dual-mode leg, Gate cancels the leg's other reduce-only
        orders as ``position_closed``."""
        if order.market != FUTURES or not order.reduce_only:
            return
        if self._futures.legs[closed_leg(order.side)].size > _EPS:
            return
        for other in self.open_orders(FUTURES):
            if other is not order and other.reduce_only and other.side == order.side:
                self.finish_order(other, "position_closed")
