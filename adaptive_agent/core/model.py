"""Value types of the decision core: legs, order types, the book, prices, orders and plans.

Sizes are kept in whole venue units (spot lots of 1e-6 BTC, perpetual contracts of 1e-4 BTC)
so that positions never accumulate float error; BTC sizes are derived from them. The values
made at every decision are NamedTuples: immutable like frozen dataclasses, ~5x cheaper to build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple


class Leg(StrEnum):
    BTC_SPOT = "BTC_SPOT"
    BTC_PERP_LONG = "BTC_PERP_LONG"
    BTC_PERP_SHORT = "BTC_PERP_SHORT"


LEGS: tuple[Leg, Leg, Leg] = (Leg.BTC_SPOT, Leg.BTC_PERP_LONG, Leg.BTC_PERP_SHORT)


class OrderType(StrEnum):
    BUY = "BUY"  # spot
    SELL = "SELL"  # spot
    OPEN_LONG = "OPEN_LONG"
    CLOSE_LONG = "CLOSE_LONG"
    OPEN_SHORT = "OPEN_SHORT"
    CLOSE_SHORT = "CLOSE_SHORT"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class Signal(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    NONE = "NONE"


SIDE_OF: dict[OrderType, Side] = {
    OrderType.BUY: Side.BUY,
    OrderType.SELL: Side.SELL,
    OrderType.OPEN_LONG: Side.BUY,
    OrderType.CLOSE_LONG: Side.SELL,
    OrderType.OPEN_SHORT: Side.SELL,
    OrderType.CLOSE_SHORT: Side.BUY,
}
REDUCE_ONLY: frozenset[OrderType] = frozenset({OrderType.CLOSE_LONG, OrderType.CLOSE_SHORT})
# What one unit filled of each order type does to the book: (spot lots, long contracts, short
# contracts). The one home of that rule (fills applied to a book, the wallets' legs after a plan).
BOOK_CHANGE: dict[OrderType, tuple[int, int, int]] = {
    OrderType.BUY: (1, 0, 0),
    OrderType.SELL: (-1, 0, 0),
    OrderType.OPEN_LONG: (0, 1, 0),
    OrderType.CLOSE_LONG: (0, -1, 0),
    OrderType.OPEN_SHORT: (0, 0, 1),
    OrderType.CLOSE_SHORT: (0, 0, -1),
}


@dataclass(frozen=True, slots=True)
class VenueRules:
    """Lot, minimum and tick rules of the venue's markets (Gate BTC_USDT spot and perpetual).

    One object, shared by the decision core (target rounding, minimums) and the executor
    (price ticks, remainders), built once from the configuration by the drivers.
    """

    spot_lot: float = 0.000001
    perp_contract: float = 0.0001
    spot_min_notional: float = 3.0
    perp_min_contracts: int = 1
    spot_tick: float = 0.1
    perp_tick: float = 0.1


@dataclass(frozen=True, slots=True)
class Params:
    """The numbers the core needs. The core never reads the configuration: the drivers build
    this once (``AppConfig.core_params()``), so the hot path avoids pydantic."""

    targets: tuple[float, float, float] = (0.5, 0.0, 0.5)
    leverage: float = 3.0
    threshold_floor: float = 0.005
    atr_multiplier: float = 0.2
    atr_period: int = 14
    min_interval_ms: int = 3_600_000
    apply_signal_logic: bool = True
    signal_ttl_ms: int | None = None
    venue: VenueRules = field(default_factory=VenueRules)
    max_ref_age_ms: int = 600_000
    max_abs_basis: float = 0.01
    max_error_streak: int = 5
    max_margin_frac: float = 0.70
    max_drawdown: float = 0.20
    safe_clear_ms: int = 1_800_000
    min_liq_distance: float = 0.15  # margin slice: LIQUIDATION_NEAR under this

    def lot_of(self, leg: Leg) -> float:
        return self.venue.spot_lot if leg is Leg.BTC_SPOT else self.venue.perp_contract


class SafeCode(StrEnum):
    """Why safe mode is on: typed codes that code acts on; the texts beside them are for people."""

    BASIS = "basis"
    MARGIN = "margin"
    DRAWDOWN = "drawdown"
    STALE_REF = "stale_ref"
    ERROR_STREAK = "error_streak"
    WATCHDOG = "watchdog"
    MANUAL = "manual"
    CLEARING = "clearing"  # conditions clear for less than the required time
    LIQUIDATION_NEAR = "liquidation_near"  # a side nearer its liquidation price than allowed


# The circuit breaker (cancel open orders, alarm) acts on these (docs/rules.md, Safe mode).
BREAKER_CODES: frozenset[SafeCode] = frozenset({SafeCode.DRAWDOWN, SafeCode.ERROR_STREAK})


class HoldGate(StrEnum):
    """Why an order of a plan was not sent."""

    SIGNAL = "signal"
    SAFE_MODE = "safe_mode"
    MINIMUM = "minimum"


class Candle(NamedTuple):
    """One 5-minute bar of P_ref; ``ts`` is its open time (epoch ms)."""

    ts: int
    open: float
    high: float
    low: float
    close: float


class Book(NamedTuple):
    """Holdings: USDT cash, spot lots, both dual-mode perpetual sides (contracts, entry price)."""

    cash: float
    spot_lots: int = 0
    long_contracts: int = 0
    short_contracts: int = 0
    long_entry: float = 0.0
    short_entry: float = 0.0

    def lots(self, leg: Leg) -> int:
        if leg is Leg.BTC_SPOT:
            return self.spot_lots
        return self.long_contracts if leg is Leg.BTC_PERP_LONG else self.short_contracts


class Prices(NamedTuple):
    """``ref`` = P_ref (Binance spot close); ``spot``/``perp`` = each leg's own P_contract."""

    ref: float
    spot: float
    perp: float

    def of(self, leg: Leg) -> float:
        return self.spot if leg is Leg.BTC_SPOT else self.perp


class RiskInputs(NamedTuple):
    """Facts about the outside world the safe-mode rules need; the drivers measure them."""

    ref_age_ms: int | None = None  # None: not applicable (backtest)
    error_streak: int = 0
    watchdog_tripped: bool = False
    manual: bool = False
    liq_distance: float | None = None  # nearest side's distance to liquidation (margin slice)


class EngineState(NamedTuple):
    """What the core remembers between decisions; returned anew in every plan."""

    last_rebalance_ms: int | None = None
    peak_nav: float = 0.0
    last_breach_ms: int | None = None
    safe_mode: bool = False


class Order(NamedTuple):
    leg: Leg
    order_type: OrderType
    lots: int  # > 0, in the leg's unit
    size_btc: float
    price: float  # P_contract at the decision
    notional: float

    @property
    def side(self) -> Side:
        return SIDE_OF[self.order_type]

    @property
    def reduce_only(self) -> bool:
        return self.order_type in REDUCE_ONLY


class HeldOrder(NamedTuple):
    """An order that was not sent: blocked by a gate or skipped under the venue minimum."""

    order: Order
    gate: HoldGate
    reason: str


class Plan(NamedTuple):
    time_ms: int
    nav: float
    drift: float
    threshold: float
    triggered: bool
    reason: str
    signal: Signal
    safe_mode: bool
    safe_mode_reasons: tuple[str, ...]  # for people, one per code
    weights: tuple[float, float, float]
    target_lots: tuple[int, int, int] | None = None
    orders: tuple[Order, ...] = ()
    blocked: tuple[HeldOrder, ...] = ()
    skipped: tuple[HeldOrder, ...] = ()
    state: EngineState = EngineState()
    safe_mode_codes: tuple[SafeCode, ...] = ()  # what code acts on (the breaker, the store)
