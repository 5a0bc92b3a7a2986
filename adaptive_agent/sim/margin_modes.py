"""Leverage and margin mode of the simulated dual-mode position, as Gate sets them.

Gate (gateapi-python docs/FuturesApi.md, docs/Position.md):

* ``POST /futures/{settle}/dual_comp/positions/{contract}/leverage?leverage=L`` (optional
  ``cross_leverage_limit=C``): ``leverage`` "0 means cross margin" with ``C`` as its leverage;
  the answer is list[Position], both dual sides: Gate sets one leverage per contract in dual
  mode, for both sides together.
* ``POST /futures/{settle}/dual_comp/positions/cross_mode`` with ``{"mode": "ISOLATED" |
  "CROSS", "contract": ...}``: the margin mode of both sides.

Refusals: a leverage outside the contract's ``leverage_min`` .. ``leverage_max`` is
``LEVERAGE_TOO_LOW`` / ``LEVERAGE_TOO_HIGH`` (labels of ccxt gate.py ``exceptions``); a change
that needs more margin than is available is ``INSUFFICIENT_AVAILABLE``; one that would put a
side under its maintenance margin at once is ``LIQUIDATE_IMMEDIATELY`` ("Operation may cause
liquidation"). The docs do not say whether the margin MODE may change while a position or an
order is open: the simulator refuses then (the stricter reading), with the labels of the
dual-mode switch (``POSITION_HOLDING``, ``ORDER_PENDING``), whichever endpoint asks for it
(``leverage=0`` is a switch to cross, as ccxt gate.py ``setLeverage`` uses it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..exchange.gate_constants import (
    CROSS_LEVERAGE_DEFAULT,
    LEVERAGE_MAX,
    LEVERAGE_MIN,
    MAINTENANCE_RATE,
    Label,
    MarginMode,
)
from .orders import FUTURES, SimError


@dataclass(slots=True)
class MarginSettings:
    """The contract's margin settings (both dual sides share them, as on Gate)."""

    mode: MarginMode = MarginMode.ISOLATED
    isolated_leverage: float = 3.0
    cross_leverage_limit: float = CROSS_LEVERAGE_DEFAULT
    # Gate's liquidation price adds the taker fee rate to the maintenance rate (see
    # liquidation.py); the market sets its own taker rate here.
    taker_fee: float = 0.0005

    @property
    def effective_leverage(self) -> float:
        """The leverage margins are computed with: isolated, or the cross limit."""
        if self.mode is MarginMode.CROSS:
            return self.cross_leverage_limit
        return self.isolated_leverage

    @property
    def liq_rate(self) -> float:
        """Maintenance rate plus taker fee rate: the fraction of notional a side must keep."""
        return MAINTENANCE_RATE + self.taker_fee

    @property
    def reported_leverage(self) -> float:
        """Position ``leverage`` as Gate reports it: 0 in cross mode."""
        return 0.0 if self.mode is MarginMode.CROSS else self.isolated_leverage


def check_leverage(value: float, name: str = "leverage") -> float:
    """A leverage Gate accepts for BTC_USDT, else its label."""
    if not math.isfinite(value):
        raise SimError(Label.INVALID_PARAM_VALUE, f"invalid argument: {name}")
    if value < LEVERAGE_MIN:
        raise SimError(Label.LEVERAGE_TOO_LOW, f"{name} {value:g} below {LEVERAGE_MIN:g}")
    if value > LEVERAGE_MAX:
        raise SimError(Label.LEVERAGE_TOO_HIGH, f"{name} {value:g} above {LEVERAGE_MAX:g}")
    return float(value)


class MarginControl:
    """Applies leverage / mode changes to a ``FuturesAccount`` and undoes a refused one."""

    def __init__(self, account, mark: float, order_margin: float, orders_open: bool) -> None:
        self.a, self.mark, self.order_margin, self.orders_open = (
            account,
            mark,
            order_margin,
            orders_open,
        )

    def set_leverage(self, leverage: float, cross_limit: float | None = None) -> None:
        s: MarginSettings = self.a.margin_settings
        before = (s.mode, s.isolated_leverage, s.cross_leverage_limit)
        if leverage == 0:
            limit = s.cross_leverage_limit if cross_limit is None else cross_limit
            limit = check_leverage(limit, "cross_leverage_limit")
            self._may_switch(MarginMode.CROSS)
            s.cross_leverage_limit, s.mode = limit, MarginMode.CROSS
        else:
            value = check_leverage(leverage)
            self._may_switch(MarginMode.ISOLATED)
            s.isolated_leverage, s.mode = value, MarginMode.ISOLATED
        self._apply_or_undo(before)

    def _may_switch(self, wanted: MarginMode) -> None:
        """A change of margin mode (through either endpoint) needs a flat book, no orders."""
        if wanted is self.a.margin_settings.mode:
            return
        if any(leg.size > 0 for leg in self.a.legs.values()):
            raise SimError(Label.POSITION_HOLDING, "Operation forbidden with holding position")
        if self.orders_open:
            raise SimError(Label.ORDER_PENDING, "Operation forbidden with pending orders")

    def set_mode(self, mode: str) -> None:
        try:
            wanted = MarginMode(str(mode).upper())
        except ValueError:
            raise SimError(Label.INVALID_PARAM_VALUE, "mode must be ISOLATED or CROSS") from None
        s: MarginSettings = self.a.margin_settings
        if wanted is s.mode:
            return
        self._may_switch(wanted)
        s.mode = wanted
        self.a.leverage = s.effective_leverage

    def _apply_or_undo(self, before: tuple[MarginMode, float, float]) -> None:
        from .liquidation import shortfall  # the one home of the maintenance rule

        s: MarginSettings = self.a.margin_settings
        self.a.leverage = s.effective_leverage
        upnl = self.a.unrealised(self.mark)
        available = self.a.available(upnl, self.a.position_margin(), self.order_margin)
        label = ""
        if available < -1e-9:
            label = Label.INSUFFICIENT_AVAILABLE
        elif any(w < 0 for w in shortfall(self.a, self.mark).values()):
            label = Label.LIQUIDATE_IMMEDIATELY
        if label:
            s.mode, s.isolated_leverage, s.cross_leverage_limit = before
            self.a.leverage = s.effective_leverage
            raise SimError(label, "the change would leave the position without enough margin")


def control(m) -> MarginControl:
    """The margin controls over a ``SimMarket``'s futures account, as it is now."""
    return MarginControl(m._futures, m.mark(), m._order_margin(), bool(m.open_orders(FUTURES)))
