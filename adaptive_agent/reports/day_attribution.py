"""The day's PnL attribution for the digest: the run's rule (``attribution.py``) over one UTC
day, from what the agent recorded.

A bar snapshot is the book read at a close, before that close's rebalance. So the NAV change
from the snapshot at ``D 00:00`` (the previous day's last) to the one at ``D+1 00:00`` (the
day's last) is made by the fills decided at the closes in ``[D 00:00, D+1 00:00)``, the funding
settled in ``(D 00:00, D+1 00:00]``, and the prices. With no previous snapshot the day starts
flat at ``nav0`` (a new agent), else at its own first snapshot. Decision prices are the leg's
venue price in the deciding close's snapshot. ``None`` when a snapshot lacks the book (one
recorded before the book was kept in it) or a fill's deciding close has no snapshot.
"""

from __future__ import annotations

from typing import Any

from ..attribution import AttributedFill, Attribution, attribute, decision_price
from ..records import BarSnapshot


def _book(b: BarSnapshot) -> dict[str, tuple[float, float]] | None:
    if None in (b.spot_btc, b.long_btc, b.short_btc, b.p_spot, b.p_perp):
        return None
    return {
        "BTC_SPOT": (b.spot_btc, b.p_spot),  # type: ignore[dict-item]
        "BTC_PERP_LONG": (b.long_btc, b.p_perp),  # type: ignore[dict-item]
        "BTC_PERP_SHORT": (-b.short_btc, b.p_perp),  # type: ignore[operator,dict-item]
    }


def day_attribution(
    store: Any, day_lo: int, bars: list[BarSnapshot], prev: BarSnapshot | None, nav0: float | None
) -> Attribution | None:
    """``day_lo``: the first time the day owns (``digest.day_bounds``); ``bars``: its
    snapshots; ``prev``: the previous day's last, if any."""
    if not bars:
        return None
    first = prev if prev is not None else (None if nav0 is not None else bars[0])
    last = bars[-1]
    start_ms = first.time_ms if first is not None else day_lo - 1
    end = _book(last)
    start = {} if first is None else _book(first)
    if end is None or start is None:
        return None
    by_time = {b.time_ms: b for b in ([prev] if prev is not None else []) + bars}
    fills: list[AttributedFill] = []
    for t in store.trades(start_ms, last.time_ms):  # decided in [start, last close)
        b = by_time.get(t.time_ms)
        if b is None or _book(b) is None:
            return None
        decision = decision_price(t.leg, b.p_spot, b.p_perp)  # type: ignore[arg-type]
        fills.append(
            AttributedFill(t.leg, t.side, t.size_btc, t.price, t.fee_usdt, t.liquidity, decision)  # type: ignore[arg-type]
        )
    nav_start = first.nav if first is not None else float(nav0)  # type: ignore[arg-type]
    funding = 0.0
    if hasattr(store, "funding_payments"):
        funding = sum(p.change_usdt for p in store.funding_payments(start_ms + 1, last.time_ms + 1))
    return attribute(fills, start, end, funding, nav_start, last.nav)
