"""What the running agent reports, as plain values, and the port every sink implements.

The runner builds these records; sinks (InfluxDB, Telegram, files) consume them. A sink must
never block or break trading: ``Monitor`` methods return at once and swallow their own errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class BarSnapshot:
    """The book at one 5-minute close (after any rebalance decided there was recorded)."""

    time_ms: int
    nav: float
    price_ref: float
    basis: float  # Basis_Gate = P_perp / P_ref - 1
    w_spot: float
    w_long: float
    w_short: float
    delta_usdt: float
    delta_frac: float
    margin_frac: float
    safe_mode: bool
    safe_mode_reasons: tuple[str, ...] = ()
    signal: str = "NONE"
    funding_rate: float | None = None  # per 8 h, when known
    sharpe_30d: float | None = None  # rolling 30 days of daily returns, annualised


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One fill. ``ref_price`` is P_ref at the decision; slippage is measured against it."""

    time_ms: int
    rebalance_id: str
    client_id: str
    leg: str
    order_type: str
    side: str  # buy | sell
    size_btc: float
    price: float
    ref_price: float
    fee_usdt: float
    liquidity: str  # maker | taker

    @property
    def slippage_usdt(self) -> float:
        """Cost against P_ref: paying above it on a buy, receiving below it on a sell."""
        sign = 1.0 if self.side == "buy" else -1.0
        return sign * (self.price - self.ref_price) * self.size_btc

    @property
    def cost_usdt(self) -> float:
        return self.fee_usdt + self.slippage_usdt


@dataclass(frozen=True, slots=True)
class RebalanceRecord:
    time_ms: int  # decision time
    rebalance_id: str
    orders: int
    blocked: int
    skipped: int
    fees_usdt: float
    slippage_usdt: float
    notional_usdt: float
    signal_to_first_ack_ms: float | None  # decision (candle close) -> first venue reply
    complete_ms: float | None  # decision -> last fill recorded


class Monitor(Protocol):
    """A consumer of the agent's reports. Implementations must not raise or block."""

    def on_bar(self, bar: BarSnapshot) -> None: ...

    def on_rebalance(self, rebalance: RebalanceRecord, trades: list[TradeRecord]) -> None: ...

    def on_alert(self, kind: str, text: str, time_ms: int) -> None: ...

    def close(self) -> None: ...
