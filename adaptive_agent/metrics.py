"""Performance metrics: the one definition of each figure the backtest, the agent, the digest
and the audit report (docs/rules.md, "Reports").

Pure: arrays or sequences of numbers in, numbers out; no I/O, no clock. A figure that is not
defined (too few returns, no NAV, no traded notional) is ``nan``; a caller that shows
"unknown" as ``None`` converts it (``or_none``).

- Day-end NAV: the NAV at the last close of each UTC day. A day owns the closes in
  ``(00:00, 24:00]``: a close exactly at midnight belongs to the day before
  (``core.time_rules.day_of_close``). Days without closes are simply absent.
- Daily returns: simple returns between consecutive day-end NAVs (consecutive days that have
  closes); with ``nav0`` the first day is measured from ``nav0``. A return whose base NAV is
  not positive is left out (a wiped-out account has no return).
- Sharpe: ``mean / std(ddof=1) x sqrt(365)`` of the daily returns; ``nan`` with fewer than
  two returns or zero spread.
- Drawdown at a close: ``1 - NAV / peak``, the peak running over the closes so far and
  starting at ``nav0`` where given (0 while the peak is not positive). Max drawdown: the
  largest over the closes.
- ROI: ``NAV_end / NAV_start - 1``.
- Turnover: traded notional (sum of ``|size x price|`` over the fills) / mean NAV.
- Fees/NAV per day: fees / mean NAV / days.
- Maker share: the makers' part of the traded notional.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .core.time_rules import day_of_close

ANNUALISATION_DAYS = 365.0  # crypto trades every day of the year


def or_none(value: float) -> float | None:
    """``None`` for an undefined (``nan``) figure, else the figure: how reports show it."""
    return None if math.isnan(value) else value


def day_end_navs(close_ms: Iterable[int], navs: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
    """``(days, NAV at each day's last close)`` for closes in time order, by UTC day index."""
    close = np.asarray(close_ms, dtype=np.int64)
    nav = np.asarray(navs, dtype=np.float64)
    if len(close) == 0:
        return close, nav
    day = day_of_close(close)
    last = np.flatnonzero(np.r_[day[1:] != day[:-1], True])
    return day[last], nav[last]


def daily_returns(day_navs: Iterable[float], nav0: float | None = None) -> np.ndarray:
    """Simple returns between consecutive day-end NAVs; the first from ``nav0`` if given."""
    nav = np.asarray(day_navs, dtype=np.float64)
    if nav0 is None:
        base, cur = nav[:-1], nav[1:]
    else:
        base, cur = np.r_[float(nav0), nav[:-1]], nav
    ok = base > 0
    return cur[ok] / base[ok] - 1.0


def sharpe(returns: Iterable[float]) -> float:
    """Annualised Sharpe of daily returns: ``mean / std(ddof=1) x sqrt(365)``, else ``nan``."""
    r = np.asarray(returns, dtype=np.float64)
    if len(r) < 2:
        return math.nan
    sd = float(np.std(r, ddof=1))
    if not sd > 0:
        return math.nan
    return float(np.mean(r)) / sd * math.sqrt(ANNUALISATION_DAYS)


def drawdown(nav, peak):
    """``1 - NAV / peak`` (0 while the peak is not positive); floats or numpy arrays. The one
    definition: the reports' max DD and the safe-mode drawdown condition both use it."""
    if isinstance(peak, np.ndarray):
        up = peak > 0
        return np.where(up, 1.0 - nav / np.where(up, peak, 1.0), 0.0)
    return 1.0 - nav / peak if peak > 0 else 0.0


def drawdowns(navs: Iterable[float], nav0: float | None = None) -> np.ndarray:
    """Drawdown at each close from the running peak (the peak starts at ``nav0``)."""
    nav = np.asarray(navs, dtype=np.float64)
    if nav0 is None:
        peak = np.maximum.accumulate(nav)
    else:
        peak = np.maximum.accumulate(np.r_[float(nav0), nav])[1:]
    return drawdown(nav, peak)


def max_drawdown(navs: Iterable[float], nav0: float | None = None) -> float:
    """The largest drawdown over the closes; ``nan`` without closes."""
    dd = drawdowns(navs, nav0)
    return float(np.max(dd)) if len(dd) else math.nan


def roi(nav_start: float, nav_end: float) -> float:
    """``NAV_end / NAV_start - 1``; ``nan`` when the start NAV is not positive."""
    return nav_end / nav_start - 1.0 if nav_start > 0 else math.nan


def mean_nav(navs: Iterable[float]) -> float:
    """Mean NAV over the closes; ``nan`` without closes."""
    nav = np.asarray(navs, dtype=np.float64)
    return float(np.mean(nav)) if len(nav) else math.nan


def _per_mean_nav(total: float, navs: Iterable[float]) -> float:
    m = mean_nav(navs)
    return total / m if m > 0 else math.nan


def turnover(notionals: Iterable[float], navs: Iterable[float]) -> float:
    """Traded notional (``sum |size x price|`` of the fills) over the mean NAV."""
    return _per_mean_nav(math.fsum(abs(x) for x in notionals), navs)


def fees_nav_per_day(fees: Iterable[float], navs: Iterable[float], days: float = 1.0) -> float:
    """Fees over the mean NAV, per day of ``days``."""
    if not days > 0:
        return math.nan
    return _per_mean_nav(math.fsum(fees), navs) / days


def maker_share(notionals: Iterable[float], is_maker: Iterable[bool]) -> float:
    """The makers' share of the traded notional; ``nan`` when nothing traded."""
    pairs = [(abs(x), bool(m)) for x, m in zip(notionals, is_maker, strict=True)]
    total = math.fsum(x for x, _ in pairs)
    if not total > 0:
        return math.nan
    return math.fsum(x for x, m in pairs if m) / total


__all__ = [
    "ANNUALISATION_DAYS",
    "daily_returns",
    "day_end_navs",
    "drawdowns",
    "fees_nav_per_day",
    "maker_share",
    "max_drawdown",
    "mean_nav",
    "or_none",
    "roi",
    "sharpe",
    "turnover",
]
