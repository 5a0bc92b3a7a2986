"""Distance to liquidation and the top-up that restores it: pure rules (docs/rules.md,
Liquidation watch). Prices in, numbers out: no I/O, no clock.

A side's distance is how far the mark price may still move before it reaches the side's
liquidation price, as a fraction of the mark: |mark - liq| / mark. The direction is not the
side's own: in cross margin both sides share one liquidation price, on the side of the net
position (above the mark for a net short, even for the long side). A side without a
liquidation price (none, or 0 as Gate reports it) is infinitely far.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple


class SideRisk(NamedTuple):
    """What the rules need of one dual-mode side (the drivers read it from the venue)."""

    side: str  # "long" | "short"
    btc: float  # position size in BTC, >= 0
    entry: float
    mark: float
    liq_price: float  # 0: none


def distance(side: SideRisk) -> float:
    if side.btc <= 0 or side.liq_price <= 0 or side.mark <= 0:
        return math.inf
    return abs(side.mark - side.liq_price) / side.mark


def nearest(sides: Iterable[SideRisk]) -> float:
    """The smallest distance over the sides (inf when none can be liquidated)."""
    return min((distance(s) for s in sides), default=math.inf)


def liquidation_near(dist: float | None, min_distance: float) -> bool:
    """The safe-mode condition: a side is closer to liquidation than ``min_distance``."""
    return dist is not None and dist < min_distance


def cross_top_up(sides: Iterable[SideRisk], liq_rate: float, target: float) -> float:
    """USDT to add to a CROSS futures wallet so that its liquidation price lies ``target``
    (a fraction of the mark) away from the mark; 0 when it is that far already.

    Cross margin (sim/liquidation.py, Gate's formula summed over the sides): the wallet W
    plus both sides' uPnL must cover ``liq_rate`` x notional, so the liquidation price moves
    by dW / D with D = q_short - q_long + liq_rate x (q_long + q_short) (BTC): a net short
    (D > 0) is liquidated above the mark, a net long below.
    """
    sides = [s for s in sides if s.btc > 0]
    if not sides:
        return 0.0
    q_long = sum(s.btc for s in sides if s.side == "long")
    q_short = sum(s.btc for s in sides if s.side == "short")
    d = q_short - q_long + liq_rate * (q_long + q_short)
    mark = sides[0].mark
    liq = next((s.liq_price for s in sides if s.liq_price > 0), 0.0)
    if abs(d) < 1e-15 or liq <= 0 or mark <= 0:
        return 0.0
    wanted = mark * (1 + target) if d > 0 else mark * (1 - target)
    return max(0.0, (wanted - liq) * d)
