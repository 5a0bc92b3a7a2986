"""How the executor prices and sizes its orders, and names them: client ids, the rounding of
prices to the tick and sizes to the lot, the IOC request for a remainder and whether an IOC
fell short (docs/rules.md, Execution). Pure functions of their arguments."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..core.model import Leg, Order, Side, VenueRules
from ..exchange.exchange_gate import Market, OrderRequest, OrderState, market_of
from ..exchange.gate_constants import CLIENT_ID_PREFIX, QUOTE_EPS, is_client_id

LEG_CODE = {Leg.BTC_SPOT: "s", Leg.BTC_PERP_LONG: "l", Leg.BTC_PERP_SHORT: "h"}


def rebalance_id_for(decision_ms: int) -> str:
    """Rebalances are at least a bar apart, so the decision second names one uniquely."""
    return f"{decision_ms // 1000:x}"


def client_id(rebalance_id: str, leg: Leg, phase: str) -> str:
    """Gate ``text``: ``t-`` + rebalance id + leg + phase (p post-only, m IOC), by Gate's rule
    for a user-defined ``text`` (``gate_constants.CLIENT_ID_RE``)."""
    cid = f"{CLIENT_ID_PREFIX}{rebalance_id}{LEG_CODE[leg]}{phase}"
    if not is_client_id(cid):
        raise ValueError(f"client id {cid!r} breaks Gate's text rule")
    return cid


@dataclass(frozen=True, slots=True)
class ExecParams:
    post_only_timeout_s: float = 5.0
    poll_interval_s: float = 0.25
    batch_limit: int = 10
    lookup_attempts: int = 3
    lookup_delay_s: float = 0.5
    venue: VenueRules = field(default_factory=VenueRules)
    ioc_protection: float = 0.005  # IOC limit this far through the touch caps slippage
    market_style: str = "ioc_limit"  # or "market": true market orders (spot buys sized in USDT)
    exact_remainder: bool = False  # paper with the backtest's fill model: no rounding, no minimum
    rate_limit_retries: int = 3  # a batch refused with 429 is sent again at most this often
    rate_limit_backoff_s: float = 1.0  # first pause after a 429; doubles at each retry


def _round_to(value: float, tick: float, up: bool) -> float:
    steps = value / tick
    steps = math.ceil(steps - 1e-9) if up else math.floor(steps + 1e-9)
    return round(steps * tick, 10)


def _floor_lots(amount: float, lot: float) -> float:
    return round(math.floor(amount / lot + 1e-9) * lot, 10)


def ioc_request(rid: str, o: Order, rest: float, top, p: ExecParams) -> OrderRequest | None:
    m = market_of(o.order_type)
    buy = o.side is Side.BUY
    touch = top.ask if buy else top.bid
    if p.exact_remainder:
        if rest <= 1e-12:
            return None
        amount = rest
        tick = p.venue.perp_tick if m is Market.FUTURES else p.venue.spot_tick
    elif m is Market.FUTURES:
        amount = float(math.floor(rest + 1e-9))
        if amount < p.venue.perp_min_contracts:
            return None
        tick = p.venue.perp_tick
    else:
        amount = _floor_lots(rest, p.venue.spot_lot)
        # Gate compares the quote amount in decimals (min_quote_amount): gate_constants.QUOTE_EPS
        if amount <= 0 or amount * touch < p.venue.spot_min_notional - QUOTE_EPS:
            return None
        tick = p.venue.spot_tick
    cid = client_id(rid, o.leg, "m")
    if p.market_style == "market":
        cost = round(amount * touch, 8) if (buy and m is Market.SPOT) else None
        return OrderRequest(cid, o.order_type, amount, None, cost=cost)
    limit = touch * (1 + p.ioc_protection) if buy else touch * (1 - p.ioc_protection)
    return OrderRequest(cid, o.order_type, amount, _round_to(limit, tick, up=buy), ioc=True)


def ioc_short(q: OrderRequest, s: OrderState, p: ExecParams) -> bool:
    """Did an IOC leave more than the venue's minimum unfilled? (A spot market buy sized in
    USDT is judged by its amount in BTC, which ``q.amount`` holds too.)"""
    rest = q.amount - s.filled
    if p.exact_remainder:
        return rest > 1e-12
    if q.market is Market.FUTURES:
        return rest >= p.venue.perp_min_contracts
    return rest >= max(p.venue.spot_lot, 1e-12) and rest * (s.avg_price or 0.0) >= (
        p.venue.spot_min_notional - QUOTE_EPS
    )
