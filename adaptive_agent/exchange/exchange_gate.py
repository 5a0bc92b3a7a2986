"""The port the engine trades through: ``ExchangeGate``, and the values it speaks in.

The engine never sees ccxt, HTTP or the simulator: it talks to this interface, which the ccxt
Gate adapter (``gate_ccxt.py``) and the in-process paper exchange (``paper.py``) implement.
Sizes cross the port in venue units, the same as in the core: spot in BTC, perpetual in whole
contracts; every order carries our client id (Gate ``text``, ``t-...``).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..core.model import REDUCE_ONLY, SIDE_OF, OrderType, VenueRules
from ..core.wallet_plan import Wallet
from ..lifecycle import FINISHED, OrderStatus
from ..records import FillRecord, FundingRecord  # the ledger's values (runner/ledger.py)

__all__ = ["OrderStatus", "Wallet"]  # the lifecycle enum, as the port speaks it (see lifecycle.py)


class Market(StrEnum):
    SPOT = "spot"
    FUTURES = "futures"


FUTURES_TYPES = frozenset(
    {OrderType.OPEN_LONG, OrderType.CLOSE_LONG, OrderType.OPEN_SHORT, OrderType.CLOSE_SHORT}
)


def market_of(order_type: OrderType) -> Market:
    return Market.FUTURES if order_type in FUTURES_TYPES else Market.SPOT


class ExchangeError(Exception):
    """A venue or transport failure. ``label`` is Gate's error label when there is one."""

    def __init__(self, message: str, label: str = "") -> None:
        super().__init__(message)
        self.label = label


class AmbiguousOrderError(ExchangeError):
    """The request may or may not have reached the venue (timeout, dropped connection)."""


@dataclass(frozen=True, slots=True)
class BookTop:
    bid: float
    ask: float


@dataclass(frozen=True, slots=True)
class Balances:
    spot_usdt: float  # available + locked
    spot_btc: float
    futures_usdt: float  # futures account balance (realised PnL, fees, funding; no uPnL)
    futures_available: float


@dataclass(frozen=True, slots=True)
class DualPositions:
    """Both sides of the dual-mode perpetual position, sizes in contracts (>= 0)."""

    long_contracts: int
    long_entry: float
    short_contracts: int
    short_entry: float
    mark_price: float


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One order to send. ``amount``: BTC (spot) or contracts (futures). ``price`` None: market.

    ``ioc`` makes a limit order immediate-or-cancel (a market order always is). A spot market
    buy is sized in quote currency on Gate: ``cost`` (USDT) is sent instead of ``amount``.
    """

    client_id: str
    order_type: OrderType
    amount: float
    price: float | None = None
    post_only: bool = False
    cost: float | None = None
    ioc: bool = False

    @property
    def market(self) -> Market:
        return market_of(self.order_type)

    @property
    def side(self) -> str:
        return str(SIDE_OF[self.order_type])

    @property
    def reduce_only(self) -> bool:
        """Closes are always reduce-only: they can never open the other dual-mode side."""
        return self.order_type in REDUCE_ONLY


@dataclass(frozen=True, slots=True)
class OrderState:
    """What the venue says about one of our orders. ``filled`` in the request's unit."""

    client_id: str
    status: OrderStatus
    filled: float = 0.0
    avg_price: float | None = None
    fee_usdt: float = 0.0
    exchange_id: str | None = None
    error: str = ""  # the venue's label for a rejection, e.g. ORDER_POC_IMMEDIATE
    finish_as: str = ""  # how the venue says it finished (Gate ``finish_as``), if it did

    @property
    def done(self) -> bool:
        """Finished for sure: an UNKNOWN order may still rest (look it up, never act on it)."""
        return self.status in FINISHED

    @property
    def post_only_rejected(self) -> bool:
        # Gate's labels for a post-only order that would take liquidity, classified in one
        # place (gate_constants.error_kind): POC_FILL_IMMEDIATELY, ORDER_POC_IMMEDIATE.
        from .gate_constants import ErrorKind, error_kind

        return (
            self.status is OrderStatus.REJECTED
            and error_kind(self.error) is ErrorKind.POST_ONLY_CROSS
        )


class ExchangeGate(ABC):
    """Everything the engine needs from a venue; all methods are coroutines."""

    # Independent reads are sent together (one round trip over the network); an in-process
    # venue answers at once, and running its reads one after the other saves the tasks.
    overlapping_reads: bool = True

    async def read_all(self, *calls: Awaitable[Any]) -> list[Any]:
        """The results of independent reads, in order (concurrent when ``overlapping_reads``)."""
        if self.overlapping_reads:
            return list(await asyncio.gather(*calls))
        out, rest = [], iter(calls)
        try:
            for c in rest:
                out.append(await c)
        except BaseException:
            for c in rest:  # never started: closed, not left unawaited
                close = getattr(c, "close", None)
                if close is not None:
                    close()
            raise
        return out

    @abstractmethod
    async def get_price(self, market: Market = Market.SPOT) -> float:
        """Last traded price (spot) or mark price (futures)."""

    @abstractmethod
    async def get_book_top(self, market: Market) -> BookTop: ...

    @abstractmethod
    async def get_balances(self) -> Balances: ...

    @abstractmethod
    async def get_positions(self) -> DualPositions: ...

    @abstractmethod
    async def get_funding_rate(self) -> float: ...

    @abstractmethod
    async def create_orders(self, requests: list[OrderRequest]) -> list[OrderState]:
        """Send orders of ONE market as a batch; one state per request, in request order.

        A rejected element comes back with status REJECTED and the venue's label; it never
        raises for that. Raises AmbiguousOrderError when the outcome is unknown.
        """

    async def create_futures_order(
        self,
        order_type: OrderType,
        contracts: int,
        client_id: str,
        price: float | None = None,
        post_only: bool = False,
    ) -> OrderState:
        """One OPEN_LONG / CLOSE_LONG / OPEN_SHORT / CLOSE_SHORT order."""
        if order_type not in FUTURES_TYPES:
            raise ValueError(f"{order_type} is not a futures order type")
        req = OrderRequest(client_id, order_type, float(contracts), price, post_only)
        return (await self.create_orders([req]))[0]

    @abstractmethod
    async def cancel_order(self, market: Market, client_id: str) -> OrderState | None:
        """Cancel by client id; returns the final state, None if the venue never saw it."""

    @abstractmethod
    async def fetch_order(self, market: Market, client_id: str) -> OrderState | None:
        """Look an order up by client id; None if the venue does not know it."""

    @abstractmethod
    async def fetch_open_orders(self, market: Market) -> list[OrderState]: ...

    #: True when the adapter streams order updates (websocket); executors then wait on them
    #: and poll only as a fallback.
    has_order_stream: bool = False

    async def wait_order_update(self, timeout_s: float) -> bool:
        """Wait until any order update arrives (True) or ``timeout_s`` passes (False)."""
        await asyncio.sleep(timeout_s)
        return False

    def latest_order_state(self, client_id: str) -> OrderState | None:
        """The newest streamed state of an order, if the stream has seen it."""
        return None

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    # --- margin slice: leverage, margin mode, liquidation, pre-flight reads ----------------
    # Defaults fit a venue without these controls (the test fakes): no sides, nothing set,
    # nothing to compare. GateCcxtExchange (gate_ccxt_margin.py) and PaperExchange implement
    # them.

    async def get_margin_sides(self) -> tuple[MarginSide, ...]:
        """Both dual-mode sides with leverage, margin mode, liquidation price, maintenance."""
        return ()

    async def set_margin(self, leverage: float, mode: str) -> tuple[MarginSide, ...]:
        """Set the contract's margin mode (``gate_constants.MarginMode``) and leverage (cross:
        the cross leverage limit) for both dual sides; returns the sides as the venue has them
        now. Raises ExchangeError (Gate's label) when the venue refuses."""
        raise ExchangeError("this venue has no margin settings", "NOT_SUPPORTED")

    async def market_rules(self) -> VenueRules | None:
        """Lot, tick and minimums from the venue's loaded markets; None when it has none."""
        return None

    async def server_time_ms(self) -> int | None:
        """The venue's clock (Gate ``GET /spot/time``); None when it has none."""
        return None

    async def in_dual_mode(self) -> bool:
        """Is the USDT futures account in dual (hedge) position mode?"""
        return True

    async def probe_scopes(self) -> dict[str, str]:
        """API key scope -> "" when the key can use it, else the venue's refusal label."""
        return {}

    # --- accounts and wallets (issue 8): defaults for a venue without transfers ---

    async def get_account_mode(self) -> AccountMode:
        return AccountMode.CLASSIC

    async def transfer(self, to: Wallet, amount_usdt: float, client_id: str) -> str:
        """Move USDT to ``to`` from the other wallet; returns the venue's ``tx_id``.

        Raises ``ExchangeError`` for a refusal, ``AmbiguousOrderError`` when the outcome is
        unknown (look it up with ``transfer_moves``, never resend blindly)."""
        raise ExchangeError("this venue does not transfer between wallets", "NOT_SUPPORTED")

    async def transfer_moves(self, since_ms: int) -> list[WalletMove]:
        """The futures wallet's transfer lines (account book ``dnw``) since ``since_ms``."""
        return []

    async def get_unified_account(self) -> UnifiedAccount:
        raise ExchangeError("not a unified account", "NOT_SUPPORTED")

    # --- ledger: fills and funding as the venue charged them ---------------------------------
    # Defaults: a venue without a trade history reports none.

    async def fetch_fills(self, market: Market, since_ms: int, until_ms: int) -> list[FillRecord]:
        """Our fills from ``since_ms`` up to the venue's present (``until_ms``: the caller's,
        which may lag or lead the venue's), oldest first. Reads overlap: callers deduplicate
        on (market, trade_id)."""
        return []

    async def fetch_funding_payments(self, since_ms: int, until_ms: int) -> list[FundingRecord]:
        """Funding lines (``type=fund`` only) of the futures account book from ``since_ms`` up
        to the venue's present (as ``fetch_fills``), oldest first; transfers and fees in that
        book are not funding."""
        return []


# --- lifecycle slice ---------------------------------------------------------------------------


class RateLimitedError(ExchangeError):
    """The venue refused the request for its rate limit (Gate: HTTP 429, label
    TOO_MANY_REQUESTS): nothing was done, so the same request may be sent again after a pause.
    Not ambiguous, unlike a timeout or a 5xx reply."""


def is_transient(exc: ExchangeError) -> bool:
    """A failure the same request may not meet again: a transport error (it may not have
    arrived), a server error (HTTP 5xx, Gate SERVER_ERROR) or rate limiting (429)."""
    from .gate_constants import ErrorKind, error_kind

    return isinstance(exc, AmbiguousOrderError | RateLimitedError) or error_kind(exc.label) in (
        ErrorKind.TRANSIENT,
        ErrorKind.RATE_LIMITED,
    )


# --- margin slice ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MarginSide:
    """One dual-mode side as Gate reports it (docs/Position.md). ``leverage`` 0 means cross
    margin (then ``cross_leverage_limit`` is the leverage); ``liq_price`` 0 means none."""

    side: str  # "long" | "short"
    contracts: int
    entry_price: float
    mark_price: float
    leverage: float
    cross_leverage_limit: float
    margin: float
    liq_price: float
    maintenance_rate: float
    maintenance_margin: float = 0.0

    @property
    def margin_mode(self) -> str:
        from .gate_constants import MarginMode

        return str(MarginMode.CROSS if self.leverage == 0 else MarginMode.ISOLATED)

    @property
    def effective_leverage(self) -> float:
        return self.cross_leverage_limit if self.leverage == 0 else self.leverage


# --- accounts and wallets (issue 8) ---------------------------------------------------------


class AccountMode(StrEnum):
    """Classic: separate spot and futures wallets. Unified: one shared USDT balance."""

    CLASSIC = "classic"
    UNIFIED = "unified"


class AccountModeError(ExchangeError):
    """The account is of a kind the agent does not trade (e.g. portfolio margin)."""


@dataclass(frozen=True, slots=True)
class WalletMove:
    """One ``dnw`` line of the futures account book: USDT in (+) or out (-) of futures."""

    book_id: str
    time_ms: int
    change: float


@dataclass(frozen=True, slots=True)
class UnifiedAccount:
    """A unified account's USDT figures (``GET /unified/accounts``)."""

    equity: float  # balance + unrealised PnL
    available: float  # free for new orders or withdrawal
    initial_margin: float
    maintenance_margin: float
