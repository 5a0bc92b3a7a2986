"""The simulator's spot account: USDT and BTC, free and reserved by open orders.

Spot orders reserve what they may spend (USDT notional or cost to buy, BTC to sell). Fees are
charged in the currency received (BTC on a buy), as Gate does, unless the fill model books
them in USDT as the backtester does; then the free USDT may go below zero, as the
backtester's cash can (only notionals are reserved).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..exchange.gate_constants import Label
from .orders import Balance, SimError, SimOrder


def lock_currency(order: SimOrder) -> str:
    """What a spot order reserves: BTC to sell, USDT to buy."""
    return "BTC" if order.side == "sell" else "USDT"


class SpotWallet:
    """Free balances by currency; each open order holds its own ``locked`` part."""

    def __init__(self, usdt: float) -> None:
        self.free = {"USDT": float(usdt), "BTC": 0.0}

    def reserve(self, order: SimOrder) -> None:
        cur = lock_currency(order)
        need = order.size if order.side == "sell" or order.by_cost else order.size * order.price
        if need > self.free[cur] + 1e-9:
            raise SimError(
                Label.BALANCE_NOT_ENOUGH,
                f"{need:.8g} {cur} needed, {self.free[cur]:.8g} {cur} available",
            )
        order.locked = min(need, self.free[cur])
        self.free[cur] -= order.locked

    def release(self, order: SimOrder) -> None:
        self.free[lock_currency(order)] += order.locked
        order.locked = 0.0

    def _use_lock(self, order: SimOrder, amount: float) -> None:
        """Spend ``amount`` of what the order reserved (float dust beyond it: free balance)."""
        used = min(amount, order.locked)
        order.locked -= used
        self.free[lock_currency(order)] -= amount - used

    def fill(self, order: SimOrder, qty: float, px: float, rate: float, fee_in_coin: bool) -> float:
        """Book a fill of ``qty`` BTC at ``px``; return the fee (in ``order.fee_currency``)."""
        quote = qty * px
        if order.side == "sell":
            fee = quote * rate
            self._use_lock(order, qty)
            self.free["USDT"] += quote - fee
            return fee
        self._use_lock(order, quote)
        if fee_in_coin:  # Gate takes the fee from the coin received
            fee = qty * rate
            self.free["BTC"] += qty - fee
            return fee
        # the backtester's booking: the fee in USDT from the free balance
        fee = quote * rate
        self.free["USDT"] -= fee
        self.free["BTC"] += qty
        return fee

    def balances(self, open_orders: Iterable[SimOrder]) -> dict[str, Balance]:
        locked = dict.fromkeys(self.free, 0.0)
        for o in open_orders:
            locked[lock_currency(o)] += o.locked
        return {cur: Balance(free, locked[cur]) for cur, free in self.free.items()}
