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

LEGS = ("BTC_SPOT", "BTC_PERP_LONG", "BTC_PERP_SHORT")
FEE_KINDS = ("spot_maker", "spot_taker", "perp_maker", "perp_taker")


def decision_price(leg: str, p_spot: float, p_perp: float) -> float:
    """A fill's decision price: its leg's venue price at the close that decided it (the spot
    price for the spot leg, the contract's for both perpetual legs). The one rule for the
    attribution, the digest's day and ``calibrate``."""
    return p_spot if leg == "BTC_SPOT" else p_perp


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
    flows = {leg: [] for leg in LEGS}  # s q D terms
    slip: list[float] = []
    fees = {k: [] for k in FEE_KINDS}
    for f in fills:
        s = 1.0 if f.side == "buy" else -1.0
        flows[f.leg].append(s * f.size_btc * f.decision_price)
        slip.append(s * f.size_btc * (f.decision_price - f.price))
        market = "spot" if f.leg == "BTC_SPOT" else "perp"
        fees[f"{market}_{f.liquidity}"].append(f.fee)
    price = {}
    for leg in LEGS:
        q0, p0 = start.get(leg, (0.0, 0.0))
        q1, p1 = end.get(leg, (0.0, 0.0))
        price[leg] = math.fsum([q1 * p1, -q0 * p0, *(-x for x in flows[leg])])
    fee_sums = {k: math.fsum(v) for k, v in fees.items()}
    parts = [
        *price.values(),
        math.fsum(slip),
        float(funding),
        -math.fsum(fee_sums.values()),
    ]
    total = float(nav_end) - float(nav_start)
    return Attribution(
        pnl_total=total,
        pnl_price_spot=price["BTC_SPOT"],
        pnl_price_long=price["BTC_PERP_LONG"],
        pnl_price_short=price["BTC_PERP_SHORT"],
        pnl_slippage=parts[3],
        pnl_funding=parts[4],
        pnl_fees=parts[5],
        fees_spot_maker=fee_sums["spot_maker"],
        fees_spot_taker=fee_sums["spot_taker"],
        fees_perp_maker=fee_sums["perp_maker"],
        fees_perp_taker=fee_sums["perp_taker"],
        pnl_unexplained=total - math.fsum(parts),
    )
