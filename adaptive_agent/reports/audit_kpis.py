"""The daily audit's KPIs (docs/rules.md, "Daily audit"): one UTC day's figures from the state
store, with the definitions in ``adaptive_agent.metrics``.

A day owns the bars that close in ``(D 00:00, D+1 00:00]`` (``digest.day_bounds``): its last
bar is the 00:00 close that ends it.

- Sharpe: daily returns of the day-end NAVs over the 30 days ending with ``day`` (returns
  between consecutive days that have bars; at most 30), annualised. ``None`` with fewer than
  2 returns or zero spread.
- Max DD: of the day's bar NAVs (up to and including the 00:00 close that ends it) from their
  running peak.
- Fees/NAV: the day's fees over the day's mean bar NAV (the digest's figure: in live and paper
  the fees of the venue's fills as charged, ``reports/ledger_day.py``).

Deviation is relative and signed so that positive means worse: Sharpe
``(target - actual) / |target|``, Max DD and fees ``(actual - target) / target``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from .. import metrics
from ..config import AppConfig
from ..core.time_rules import DAY_MS
from .digest import Digest, day_bounds
from .ledger_day import day_spans, ledger_span

SHARPE_DAYS = 30
KPIS = ("sharpe", "max_dd", "fees_nav")


@dataclass(frozen=True, slots=True)
class DayKpis:
    values: dict[str, float | None]  # by KPIS name; None when undefined
    returns: list[float]  # the daily returns the Sharpe is computed from
    bars: int  # the day's bars


def _day_end_navs(rows: list[tuple]) -> tuple[Any, Any]:
    """Day-end NAVs of ``(time_ms, nav, ...)`` rows (``store.bar_values``)."""
    return metrics.day_end_navs([r[0] for r in rows], [r[1] for r in rows])


def daily_returns(store: Any, day: date, days: int = SHARPE_DAYS) -> list[float]:
    """Returns of the day-end NAV between consecutive UTC days with bars, ending with ``day``
    (a day's last bar is normally the 00:00 close that ends it); the last ``days`` of them."""
    start, end = day_bounds(day)
    _, navs = _day_end_navs(store.bar_values(start - days * DAY_MS, end, "time_ms", "nav"))
    return metrics.daily_returns(navs)[-days:].tolist()


def day_kpis(store: Any, day: date, digest: Digest) -> DayKpis:
    """The KPIs of one UTC ``day``; ``digest`` is that day's (it holds the fees/NAV)."""
    start, end = day_bounds(day)
    navs = [nav for (nav,) in store.bar_values(start, end, "nav")]
    rets = daily_returns(store, day)
    values = {
        "sharpe": metrics.or_none(metrics.sharpe(rets)),
        "max_dd": metrics.or_none(metrics.max_drawdown(navs)),
        "fees_nav": digest.fees_nav,
    }
    return DayKpis(values, rets, len(navs))


def targets(cfg: AppConfig) -> dict[str, float]:
    a = cfg.audit
    return {
        "sharpe": a.target_sharpe,
        "max_dd": a.target_max_dd,
        "fees_nav": a.target_fees_nav_per_day,
    }


def deviation(kpi: str, actual: float | None, target: float) -> float | None:
    """Relative deviation, positive when worse than the target."""
    if actual is None:
        return None
    if kpi == "sharpe":
        if target == 0:
            return 0.0 if actual >= 0 else math.inf
        return (target - actual) / abs(target)
    if target == 0:
        return 0.0 if actual <= 0 else math.inf
    return (actual - target) / target


def proposal_context(store: Any, day: date, digest: Digest, n_returns: int) -> dict[str, Any]:
    """What the proposals explain a miss with: the day's rebalances, turnover, delta drift and
    margin, and the fees and funding over the Sharpe window."""
    start, end = day_bounds(day)
    day_rows = store.bar_values(start, end, "delta_frac", "margin_frac")
    w_start = start - (SHARPE_DAYS - 1) * DAY_MS
    window = store.bar_values(w_start, end, "time_ms", "nav", "funding_rate")
    venue = ledger_span(store, w_start, end)  # fees as charged, where the venue's are known
    fees = list(venue.fees) if venue.fills else _trade_fees(store, w_start, end)
    days = len(_day_end_navs(window)[0])
    fees30 = metrics.fees_nav_per_day(fees, [r[1] for r in window], days)
    rates = [r[2] for r in window if r[2] is not None]
    return {
        "rebalances": digest.rebalances,
        "turnover": digest.turnover or 0.0,
        "max_abs_delta_frac": max((abs(d) for d, _ in day_rows), default=0.0),
        "max_margin_frac": max((m for _, m in day_rows), default=0.0),
        "fees_nav_30d": metrics.or_none(fees30),
        "mean_funding_30d": (math.fsum(rates) / len(rates)) if rates else None,
        "n_returns": n_returns,
    }


def _trade_fees(store: Any, start_ms: int, end_ms: int) -> list[float]:
    return [t.fee_usdt for lo, hi in day_spans(start_ms, end_ms) for t in store.trades(lo, hi)]
