"""The daily digest (docs/rules.md, "Daily digest"): one UTC day's ROI, turnover, costs and
costliest trades.

Bars are stamped with their 5-minute close, and the last bar of a UTC day (by open time,
docs/rules.md, "Time") is the one that opens at 23:55 and closes at 00:00 of the next day. So a
UTC day ``D`` owns the closes (and fills, rebalance decisions, funding settlements) with time in
``(D 00:00, D+1 00:00]``: a close exactly at midnight completes the day before it.

Numbers come from the state store (bar snapshots and fills) only, with the definitions in
``adaptive_agent.metrics``:

- ROI: NAV at the day's last bar (normally its 24:00 close) over the previous UTC day's last
  bar (normally the 00:00 close that starts the day), minus 1. When the previous day has no
  bar, the base is ``nav0`` if given, else the day's first bar (``roi_basis`` says which).
- Turnover: traded notional (sum of ``size_btc x price`` over the day's fills) / mean bar NAV.
- Fees (and fees / mean NAV), slippage against P_ref, and the top-3 fills by ``cost_usdt``
  (fee + slippage against P_ref).
- Funding (estimate): at each settlement of the day, ``funding_rate x (w_short - w_long) x NAV``:
  the rate read at the last close before it (up to 10 minutes before: the venue's rate is the
  one its next settlement applies), the book at the settlement's own close; ``None`` when no
  such close carries a rate.
  The settlement at hour 0 that belongs to day ``D`` is the one at ``D+1 00:00``.
- Rebalances: distinct rebalance ids among the day's decisions and the day's fills.
- Fees and funding as paid (live and paper, ``reports/ledger_day.py``): when the venue's fills
  of the day are recorded, Fees (and fees / NAV) are theirs, in USDT at each fill
  (``fees_source`` "fills"; fills whose fee could not be priced are counted in
  ``fills_unpriced`` and left out), else the trade records' (``fees_source`` "trades"); the
  day's recorded funding payments are ``funding_paid_usdt``, next to the estimate.

A day without bars or fills gives a digest with ``has_data=False`` that says so.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from .. import metrics
from ..core.time_rules import DAY_MS, MINUTE_MS, day_of_close, funding_instants
from ..records import BarSnapshot, TradeRecord
from .ledger_day import ledger_span

FUNDING_BAR_TOLERANCE_MS = 10 * MINUTE_MS
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _midnight(day: date) -> int:
    """``day`` 00:00 UTC in epoch ms."""
    return (day.toordinal() - _EPOCH_ORDINAL) * DAY_MS


def day_bounds(day: date) -> tuple[int, int]:
    """``[lo, hi)`` query bounds (epoch ms, for ``store.bars``/``store.trades``) of the times a
    UTC day owns: ``(D 00:00, D+1 00:00]``, i.e. ``[D 00:00 + 1, D+1 00:00 + 1)``. The close at
    ``D+1 00:00`` (the bar opened at 23:55) is the day's last; the one at ``D 00:00`` is not."""
    midnight = _midnight(day)
    return midnight + 1, midnight + DAY_MS + 1


def utc_day(time_ms: int) -> date:
    """The UTC day that owns ``time_ms``: a time exactly at midnight belongs to the day before."""
    return date.fromordinal(_EPOCH_ORDINAL + day_of_close(time_ms))


def previous_utc_day(now_ms: int) -> date:
    """The last complete UTC day at ``now_ms``: the one that ends at the latest midnight at or
    before ``now_ms`` (at exactly midnight, the day that midnight's close completes)."""
    return utc_day((now_ms // DAY_MS) * DAY_MS)


def funding_settlements(day: date, hours: tuple[int, ...]) -> list[int]:
    """The funding settlement instants (epoch ms) that ``day`` owns, in ``(D 00:00, D+1 00:00]``:
    hour 0 is the settlement at ``D+1 00:00``, which ends the day."""
    midnight = _midnight(day)
    return funding_instants(midnight, midnight + DAY_MS, hours).tolist()


@dataclass(frozen=True, slots=True)
class CostlyTrade:
    time_ms: int
    rebalance_id: str
    client_id: str
    leg: str
    side: str
    size_btc: float
    price: float
    ref_price: float
    notional_usdt: float
    fee_usdt: float
    slippage_usdt: float
    cost_usdt: float
    liquidity: str

    @classmethod
    def of(cls, t: TradeRecord) -> CostlyTrade:
        return cls(
            t.time_ms,
            t.rebalance_id,
            t.client_id,
            t.leg,
            t.side,
            t.size_btc,
            t.price,
            t.ref_price,
            abs(t.size_btc) * t.price,
            t.fee_usdt,
            t.slippage_usdt,
            t.cost_usdt,
            t.liquidity,
        )


@dataclass(frozen=True, slots=True)
class Digest:
    day: date
    has_data: bool
    bars: int = 0
    trades: int = 0
    nav_start: float | None = None
    nav_end: float | None = None
    roi: float | None = None
    roi_basis: str | None = None  # prev_day_close | nav0 | first_bar
    mean_nav: float | None = None
    notional_usdt: float = 0.0
    turnover: float | None = None
    fees_usdt: float = 0.0
    fees_nav: float | None = None
    slippage_usdt: float = 0.0
    funding_usdt: float | None = None
    funding_settlements: int = 0
    rebalances: int = 0
    attribution: dict[str, float] | None = None  # attribution.ATTRIBUTION_COLUMNS, for the day
    safe_mode_bars: int = 0
    top_trades: tuple[CostlyTrade, ...] = field(default_factory=tuple)
    # --- ledger: fees and funding as the venue charged them
    fees_source: str = "trades"  # fills | trades
    venue_fills: int = 0
    fills_unpriced: int = 0
    funding_paid_usdt: float | None = None
    funding_payments: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["day"] = self.day.isoformat()
        d["top_trades"] = [asdict(t) for t in self.top_trades]
        return _finite(d)


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_finite(x) for x in v]
    return v


def _funding_estimate(bars: list[BarSnapshot], settlements: list[int]) -> tuple[float | None, int]:
    """At each settlement ``S``: the rate read at the last close before it (within the
    tolerance) times ``(w_short - w_long) x NAV`` of the book at ``S`` (the close at ``S``,
    else that last close). The venue's ``funding_rate`` is the rate its *next* settlement
    applies (Gate ``funding_rate`` with ``funding_next_apply``; ccxt gate.py
    ``parse_funding_rate``): read at the close at ``S`` itself it is already the next period's."""
    by_time = {b.time_ms: b for b in bars}
    total, n = 0.0, 0
    for settle in settlements:
        before = [
            b
            for b in bars
            if settle - FUNDING_BAR_TOLERANCE_MS <= b.time_ms < settle
            and b.funding_rate is not None
        ]
        if not before:
            continue
        rate = before[-1].funding_rate
        book = by_time.get(settle, before[-1])
        total += rate * (book.w_short - book.w_long) * book.nav  # type: ignore[operator]
        n += 1
    return (total if n else None), n


def _rebalance_ids(store: Any, start_ms: int, end_ms: int) -> set[str]:
    """Ids of the rebalances decided in ``[start_ms, end_ms)`` (``day_bounds``)."""
    try:
        rows = store.rebalance_ids(start_ms, end_ms)  # the day's only: the table keeps growing
    except Exception:  # a store without the rebalance table: count fills only
        return set()
    return {rid for rid, _decision_ms, _plan in rows}


def build_digest(
    store: Any,
    day: date,
    nav0: float | None = None,
    *,
    funding_hours_utc: tuple[int, ...] = (0, 8, 16),
) -> Digest:
    """The digest of one UTC ``day`` from ``store`` (a ``StateStore``): the closes, fills and
    rebalance decisions in ``(day 00:00, day+1 00:00]`` (see ``day_bounds``)."""
    start, end = day_bounds(day)
    bars = store.bars(start, end)
    trades: list[TradeRecord] = store.trades(start, end)
    venue = ledger_span(store, start, end)
    if not bars and not trades and not venue.fills and not venue.funding_payments:
        return Digest(day=day, has_data=False)

    rebalance_ids = _rebalance_ids(store, start, end) | {t.rebalance_id for t in trades}
    notionals = [t.size_btc * t.price for t in trades]
    notional = math.fsum(abs(x) for x in notionals)
    fee_list = list(venue.fees) if venue.fills else [t.fee_usdt for t in trades]
    fees = math.fsum(fee_list)
    slippage = math.fsum(t.slippage_usdt for t in trades)
    top = sorted(trades, key=lambda t: (-t.cost_usdt, t.time_ms, t.client_id))[:3]

    nav_start = nav_end = roi = mean_nav = turnover = fees_nav = None
    basis = None
    funding, settlements = None, 0
    attribution = None
    if bars:
        from .day_attribution import day_attribution

        nav_end = bars[-1].nav
        prev = store.bars(start - DAY_MS, start)
        parts = day_attribution(store, start, bars, prev[-1] if prev else None, nav0)
        attribution = None if parts is None else parts.columns()
        if prev:
            nav_start, basis = prev[-1].nav, "prev_day_close"
        elif nav0 is not None:
            nav_start, basis = float(nav0), "nav0"
        else:
            nav_start, basis = bars[0].nav, "first_bar"
        navs = [b.nav for b in bars]
        roi = metrics.or_none(metrics.roi(nav_start, nav_end))
        mean_nav = metrics.mean_nav(navs)
        turnover = metrics.or_none(metrics.turnover(notionals, navs))
        fees_nav = metrics.or_none(metrics.fees_nav_per_day(fee_list, navs))
        # the day's settlements are whole hours in (00:00, 24:00]: its own bars cover them
        funding, settlements = _funding_estimate(bars, funding_settlements(day, funding_hours_utc))

    return Digest(
        day=day,
        has_data=True,
        bars=len(bars),
        trades=len(trades),
        nav_start=nav_start,
        nav_end=nav_end,
        roi=roi,
        roi_basis=basis,
        mean_nav=mean_nav,
        notional_usdt=notional,
        turnover=turnover,
        fees_usdt=fees,
        fees_nav=fees_nav,
        slippage_usdt=slippage,
        funding_usdt=funding,
        funding_settlements=settlements,
        rebalances=len(rebalance_ids),
        safe_mode_bars=sum(1 for b in bars if b.safe_mode),
        top_trades=tuple(CostlyTrade.of(t) for t in top),
        fees_source="fills" if venue.fills else "trades",
        venue_fills=venue.fills,
        fills_unpriced=venue.unpriced,
        funding_paid_usdt=venue.funding_usdt,
        funding_payments=venue.funding_payments,
        attribution=attribution,
    )


_BASIS_TEXT = {
    "prev_day_close": "vs previous day's close",
    "nav0": "vs starting NAV",
    "first_bar": "vs the day's first bar",
}


def _hm(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%H:%M")


def format_digest(d: Digest) -> str:
    """Plain text for Telegram (no markup, well under 4096 characters)."""
    head = f"Daily digest {d.day.isoformat()} (UTC)"
    if not d.has_data:
        return f"{head}\nNo data for this day: no bars or trades were recorded."
    lines = [head]
    if d.roi is not None and d.nav_start is not None and d.nav_end is not None:
        lines.append(
            f"ROI: {d.roi:+.3%} (NAV {d.nav_start:,.2f} -> {d.nav_end:,.2f} USDT,"
            f" {_BASIS_TEXT.get(d.roi_basis or '', d.roi_basis)})"
        )
    else:
        lines.append("ROI: n/a (no NAV recorded this day)")
    if d.turnover is not None:
        lines.append(f"Turnover: {d.turnover:.3f}x NAV ({d.notional_usdt:,.2f} USDT traded)")
    else:
        lines.append(f"Turnover: n/a ({d.notional_usdt:,.2f} USDT traded)")
    fees_pct = f", {d.fees_nav:.4%} of NAV" if d.fees_nav is not None else ""
    lines.append(
        f"Fees: {d.fees_usdt:,.2f} USDT{fees_pct}; slippage vs P_ref {d.slippage_usdt:,.2f} USDT"
    )
    if d.fees_source == "fills":
        unpriced = f"; {d.fills_unpriced} unpriced, left out" if d.fills_unpriced else ""
        lines.append(f"Fees as charged: {d.venue_fills} venue fill(s){unpriced}")
    if d.funding_paid_usdt is not None:
        lines.append(
            f"Funding as paid ({d.funding_payments} payment(s)): {d.funding_paid_usdt:+,.2f} USDT"
        )
    if d.funding_usdt is not None:
        lines.append(
            f"Funding (estimate, {d.funding_settlements} settlement(s)):"
            f" {d.funding_usdt:+,.2f} USDT"
        )
    if d.attribution is not None:
        a = d.attribution
        lines.append(
            f"PnL {a['pnl_total']:+,.2f} USDT: price+basis spot {a['pnl_price_spot']:+,.2f},"
            f" perp long {a['pnl_price_long']:+,.2f}, perp short {a['pnl_price_short']:+,.2f};"
            f" slippage {a['pnl_slippage']:+,.2f}; funding {a['pnl_funding']:+,.2f};"
            f" fees {a['pnl_fees']:+,.2f} (spot {a['fees_spot_maker']:,.2f} maker"
            f" {a['fees_spot_taker']:,.2f} taker, perp {a['fees_perp_maker']:,.2f} maker"
            f" {a['fees_perp_taker']:,.2f} taker); unexplained {a['pnl_unexplained']:+,.2f}"
        )
    lines.append(f"Rebalances: {d.rebalances}; fills: {d.trades}; bars: {d.bars}")
    if d.safe_mode_bars:
        lines.append(f"Safe mode: {d.safe_mode_bars} bar(s)")
    if d.top_trades:
        lines.append("Costliest trades (fee + slippage vs P_ref):")
        for i, t in enumerate(d.top_trades, 1):
            lines.append(
                f"{i}. {_hm(t.time_ms)} {t.leg} {t.side} {t.size_btc:.6f} BTC @ {t.price:,.2f}"
                f" ({t.liquidity}): {t.cost_usdt:,.4f} USDT"
                f" (fee {t.fee_usdt:,.4f}, slippage {t.slippage_usdt:,.4f})"
            )
    else:
        lines.append("No trades.")
    return "\n".join(lines)


def _markdown(d: Digest) -> str:
    body = format_digest(d).split("\n")
    out = [f"# {body[0]}", ""]
    out += [f"- {line}" if not line[:1].isdigit() else f"  {line}" for line in body[1:]]
    return "\n".join(out) + "\n"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_digest(d: Digest, out_dir: str | Path = Path("reports") / "daily") -> tuple[Path, Path]:
    """Write ``digest-YYYY-MM-DD.md`` and ``.json`` into ``out_dir`` (the agent uses
    ``reports/daily``), each atomically. Returns both paths."""
    out = Path(out_dir)
    stem = f"digest-{d.day.isoformat()}"
    md, js = out / f"{stem}.md", out / f"{stem}.json"
    atomic_write_text(js, json.dumps(d.to_dict(), indent=2, allow_nan=False) + "\n")
    atomic_write_text(md, _markdown(d))
    return md, js


__all__ = [
    "CostlyTrade",
    "Digest",
    "atomic_write_text",
    "build_digest",
    "day_bounds",
    "format_digest",
    "funding_settlements",
    "previous_utc_day",
    "utc_day",
    "write_digest",
]
