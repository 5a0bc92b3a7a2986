"""The records the running agent produces: the book at each close, fills, rebalances.

Plain values of the domain: the runner builds them, the state store persists them, and the
sinks (InfluxDB, Telegram, files; ``monitoring/monitor.py``) and the reports consume them.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    safe_mode_reasons: tuple[str, ...] = ()  # for people
    safe_mode_codes: tuple[str, ...] = ()  # SafeCode values, what code and dashboards act on
    signal: str = "NONE"
    funding_rate: float | None = None  # per 8 h, when known
    sharpe_30d: float | None = None  # rolling 30 days of daily returns, annualised
    # the book read at this close, before its rebalance (for the day's PnL attribution)
    spot_btc: float | None = None
    long_btc: float | None = None
    short_btc: float | None = None
    p_spot: float | None = None  # the venue's spot price
    p_perp: float | None = None  # the venue's contract (mark) price
    # the P_ref candle that closed (its close is price_ref): the audit's evidence backtests
    ref_open: float | None = None
    ref_high: float | None = None
    ref_low: float | None = None


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


# --- ledger: fees and funding as the venue charged them -------------------------------------


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One venue trade of ours (Gate ``my_trades``), with its fee as charged and in USDT.

    ``amount`` is BTC (spot) or contracts (futures), unsigned; ``fee`` is in ``fee_currency``
    (Gate charges a spot buy's fee in the coin received, BTC); ``gt_fee`` / ``point_fee`` are
    what GT or points paid instead. ``client_id`` is Gate's ``text`` (our ``t-...`` id). The
    venue port reports it with ``fee_usdt`` unset; the ledger prices it
    (``core.ledger_rules.fee_usdt``; None: it could not be priced) with ``gt_usdt``, the
    GT_USDT price the adapter read with the fills (None when it had none)."""

    market: str  # spot | futures
    trade_id: str
    time_ms: int
    order_id: str
    client_id: str
    side: str
    amount: float
    price: float
    role: str  # maker | taker
    fee: float
    fee_currency: str
    gt_fee: float = 0.0
    point_fee: float = 0.0
    fee_usdt: float | None = None
    gt_usdt: float | None = None


@dataclass(frozen=True, slots=True)
class FundingRecord:
    """One funding line of the futures account book (``type=fund``): ``change_usdt`` +
    received, ``balance_usdt`` after it. ``key``: Gate's line ``id``, or
    ``core.ledger_rules.funding_key`` when a reply has none."""

    key: str
    time_ms: int
    change_usdt: float
    balance_usdt: float
    contract: str
    text: str = ""
