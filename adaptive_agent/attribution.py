"""Where the money came from: a run's (or a day's) NAV change split into price and basis PnL
per leg, slippage against the decision price, fees by market and liquidity, and funding
(docs/rules.md, "PnL attribution"). Pure: fills and prices in, figures out.

For a leg with signed position ``q`` (BTC; the short leg negative) marked at ``P`` (spot: the
spot price, perpetual legs: the contract price), its trading PnL over a span is
``q_end P_end - q_start P_start - sum(s_i q_i p_i)`` over its fills (size ``q_i``, price ``p_i``,
``s_i`` +1 buying, -1 selling): for spot and for linear USDT contracts alike, whatever the
entry-price bookkeeping. That PnL splits into

- slippage: ``sum(s_i q_i (D_i - p_i))``, against the decision price ``D_i`` of the fill's leg
  (the leg's price at the close that decided it): what the fills cost beyond it;
- price and basis: the rest, ``q_end P_end - q_start P_start - sum(s_i q_i D_i)``: the PnL had
  every fill been at its decision price.

With fees (as charged) and funding (as settled) the parts add up to ``NAV_end - NAV_start``
(the identity is checked on random paths in the tests; ``unexplained`` shows the float error).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields

import numpy as np

LEGS = ("BTC_SPOT", "BTC_PERP_LONG", "BTC_PERP_SHORT")


def decision_prices(is_spot, p_spot, p_perp):
    """Fills' decision prices: each leg's venue price at the close that decided it (the spot
    price for the spot leg, the contract's for both perpetual legs); arrays or floats. The one
    rule for the attribution, the digest's day and ``calibrate``."""
    return np.where(is_spot, p_spot, p_perp)


def decision_price(leg: str, p_spot: float, p_perp: float) -> float:
    """``decision_prices`` for one fill of leg ``leg`` (a LEGS name)."""
    return float(decision_prices(leg == "BTC_SPOT", p_spot, p_perp))


@dataclass(frozen=True, slots=True)
class AttributedFill:
    leg: str  # a LEGS name
    side: str  # buy | sell
    size_btc: float
    price: float
    fee: float  # USDT, as charged
    liquidity: str  # maker | taker
    decision_price: float  # the leg's price at the deciding close


@dataclass(frozen=True, slots=True)
class Attribution:
    pnl_total: float  # NAV_end - NAV_start
    pnl_price_spot: float
    pnl_price_long: float
    pnl_price_short: float
    pnl_slippage: float
    pnl_funding: float
    pnl_fees: float  # minus the fees
    fees_spot_maker: float
    fees_spot_taker: float
    fees_perp_maker: float
    fees_perp_taker: float
    pnl_unexplained: float  # pnl_total minus the parts: float error only

    def columns(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


ATTRIBUTION_COLUMNS = tuple(f.name for f in fields(Attribution))


def attribute(
    fills: Iterable[AttributedFill],
    start: dict[str, tuple[float, float]],
    end: dict[str, tuple[float, float]],
    funding: float,
    nav_start: float,
    nav_end: float,
) -> Attribution:
    """``start``/``end``: per leg name, (signed position BTC, mark price) at the span's ends
    (a leg absent from ``start`` starts flat)."""
    rows = [
        (LEGS.index(f.leg), f.side == "buy", f.size_btc, f.price, f.fee, f.liquidity == "maker")
        for f in fills
    ]
    cols = [np.array(c) for c in zip(*rows, strict=True)] if rows else [np.empty(0)] * 6
    dprice = np.array([f.decision_price for f in fills]) if rows else np.empty(0)
    return attribute_columns(*cols, dprice, start, end, funding, nav_start, nav_end)


def attribute_columns(
    leg, buy, size, price, fee, maker, dprice, start, end, funding, nav_start, nav_end
) -> Attribution:
    """``attribute`` on fills given as arrays: leg index (LEGS order), buys, size BTC, price,
    fee, maker, decision price (what a backtest's compiled loop hands back)."""
    leg = np.asarray(leg, dtype=np.int64)
    sign = np.where(np.asarray(buy, dtype=bool), 1.0, -1.0)
    flows = sign * size * dprice  # s q D
    slip = sign * size * (dprice - price)
    spot, maker = leg == 0, np.asarray(maker, dtype=bool)
    price_pnl = {}
    for k, name in enumerate(LEGS):
        q0, p0 = start.get(name, (0.0, 0.0))
        q1, p1 = end.get(name, (0.0, 0.0))
        price_pnl[name] = math.fsum([q1 * p1, -q0 * p0, *(-flows[leg == k]).tolist()])
    fee_sums = {
        "spot_maker": math.fsum(fee[spot & maker].tolist()),
        "spot_taker": math.fsum(fee[spot & ~maker].tolist()),
        "perp_maker": math.fsum(fee[~spot & maker].tolist()),
        "perp_taker": math.fsum(fee[~spot & ~maker].tolist()),
    }
    parts = [
        *price_pnl.values(),
        math.fsum(slip.tolist()),
        float(funding),
        -math.fsum(fee_sums.values()),
    ]
    total = float(nav_end) - float(nav_start)
    return Attribution(
        pnl_total=total,
        pnl_price_spot=price_pnl["BTC_SPOT"],
        pnl_price_long=price_pnl["BTC_PERP_LONG"],
        pnl_price_short=price_pnl["BTC_PERP_SHORT"],
        pnl_slippage=parts[3],
        pnl_funding=parts[4],
        pnl_fees=parts[5],
        fees_spot_maker=fee_sums["spot_maker"],
        fees_spot_taker=fee_sums["spot_taker"],
        fees_perp_maker=fee_sums["perp_maker"],
        fees_perp_taker=fee_sums["perp_taker"],
        pnl_unexplained=total - math.fsum(parts),
    )
