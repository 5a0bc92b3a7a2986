"""Records of the simulated exchange: orders, trades, events, fees and Gate-labelled errors.

They carry exactly what Gate's REST and websocket answers need (ids, times, fills, fees,
finish reasons), so ``gate_render`` can draw Gate's JSON from them without asking the market.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

SPOT, FUTURES = "spot", "futures"
MARKETS = (SPOT, FUTURES)


class SimError(Exception):
    """A rejected request, labelled as Gate labels it (the REST layer sends both fields)."""

    def __init__(self, label: str, message: str) -> None:
        super().__init__(f"{label}: {message}")
        self.label, self.message = label, message


@dataclass(frozen=True, slots=True)
class SimFees:
    """Fee rates as fractions of the notional (0.001 = 0.1 %)."""

    spot_maker: float = 0.001
    spot_taker: float = 0.001
    perp_maker: float = 0.0002
    perp_taker: float = 0.0005

    def rate(self, market: str, role: str) -> float:
        if market == SPOT:
            return self.spot_maker if role == "maker" else self.spot_taker
        return self.perp_maker if role == "maker" else self.perp_taker


class Balance(NamedTuple):
    """One spot currency: free to use and reserved by open orders."""

    available: float
    locked: float


@dataclass(slots=True)
class SimOrder:
    """An order as the exchange holds it; mutated by fills and cancels, copied into events.

    ``amount`` is Gate's: spot BTC (USDT cost for a spot market buy), futures a signed contract
    count. ``filled`` counts BTC (spot) or contracts (futures); ``fill_value`` is the sum of
    fill quantity x price in the same unit, so ``avg_price`` is a plain ratio.
    """

    id: str
    market: str
    side: str
    amount: float
    price: float | None  # None: market order
    tif: str
    reduce_only: bool
    text: str
    create_ms: int
    update_ms: int
    status: str = "open"  # "open" | "finished"
    finish_as: str | None = None  # filled | cancelled | ioc | reduce_only
    finish_ms: int | None = None
    filled: float = 0.0
    fill_value: float = 0.0
    fee: float = 0.0
    fee_currency: str = "USDT"
    fee_usdt: float = 0.0
    auto_size: str | None = None
    locked: float = 0.0  # spot: still reserved (USDT for a buy, BTC for a sell)
    awaiting_open: bool = False  # "backtest" taker order: fills at the next bar's open

    @property
    def is_market(self) -> bool:
        return self.price is None

    @property
    def by_cost(self) -> bool:
        """A spot market buy: ``amount`` is the USDT to spend, as on Gate."""
        return self.market == SPOT and self.side == "buy" and self.price is None

    @property
    def size(self) -> float:
        """Unsigned size in the order's own unit (BTC, USDT cost or contracts)."""
        return abs(self.amount)

    @property
    def left(self) -> float:
        """Unsigned remainder in the order's own unit."""
        done = self.fill_value if self.by_cost else self.filled
        return max(self.size - done, 0.0)

    @property
    def avg_price(self) -> float:
        return self.fill_value / self.filled if self.filled > 0 else 0.0

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True, slots=True)
class SimTrade:
    """One fill. ``qty`` is unsigned (BTC for spot, contracts for futures)."""

    id: str
    order_id: str
    market: str
    side: str
    qty: float
    price: float
    fee: float
    fee_currency: str
    role: str  # "maker" | "taker"
    time_ms: int
    text: str
    close_qty: float = 0.0  # futures: the part of qty that reduced a position


@dataclass(frozen=True, slots=True)
class BookEntry:
    """One line of the futures account book (Gate's ``account_book`` types)."""

    id: str
    time_ms: int
    type: str  # dnw | fee | pnl | fund
    change: float
    balance: float
    text: str


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """An order was put, updated by a fill, or finished; ``order`` is a snapshot."""

    order: SimOrder
    phase: str  # "put" | "update" | "finish"


@dataclass(frozen=True, slots=True)
class TradeEvent:
    trade: SimTrade


@dataclass(frozen=True, slots=True)
class FundingEvent:
    """A funding settlement: ``change`` is the futures cash change (shorts receive a + rate)."""

    time_ms: int
    rate: float
    mark: float
    change: float


@dataclass(frozen=True, slots=True)
class BarEvent:
    """The clock moved: bar ``bar`` is now the last completed one."""

    bar: int
    now_ms: int


SimEvent = OrderEvent | TradeEvent | FundingEvent | BarEvent
