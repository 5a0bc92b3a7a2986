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
- CAGR: ``(NAV_end / NAV_start) ^ (365 / days) - 1`` over the run's days.
- Sortino: ``mean / downside deviation x sqrt(365)`` of the daily returns, the downside
  deviation ``sqrt(mean(min(r, 0)^2))`` over all of them (target 0); ``nan`` with fewer than
  two returns or no losing day.
- Calmar: CAGR / max drawdown; ``nan`` without a drawdown.
- Longest drawdown: the longest time from a close at a running peak (``nav0`` counts as one
  at the start) to the first close back at or above it, or to the last close if never.
- Monthly returns: NAV at the last close of each UTC month over the previous month's (the
  first from ``nav0``).
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
    n = len(r)
    if n < 2:
        return math.nan
    # np.mean and np.std(ddof=1) spelled out: the same operations in the same order (so the
    # same bits, a property test checks it) without their per-call overhead, which dominated
    # the 30-day Sharpe the agent records at every close
    mean = float(np.add.reduce(r)) / n
    x = r - mean
    sd = math.sqrt(float(np.add.reduce(x * x)) / (n - 1))
    if not sd > 0:
        return math.nan
    return mean / sd * math.sqrt(ANNUALISATION_DAYS)


def drawdown_of(nav, peak):
    """``1 - NAV / peak`` (0 while the peak is not positive) for floats. The one definition:
    the reports' max DD (``drawdown`` on arrays) and the safe-mode drawdown condition (the
    decision core, compiled too by the backtest's loop) both use it."""
    return 1.0 - nav / peak if peak > 0 else 0.0


def drawdown(nav, peak):
    """``drawdown_of`` on floats or numpy arrays."""
    if isinstance(peak, np.ndarray):
        up = peak > 0
        return np.where(up, 1.0 - nav / np.where(up, peak, 1.0), 0.0)
    return drawdown_of(nav, peak)


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


def _array(values: Iterable, dtype) -> np.ndarray:
    """An array of ``values`` (a list, an array or any iterable, read once)."""
    return np.asarray(values if hasattr(values, "__len__") else list(values), dtype=dtype)


def _abs_values(values: Iterable[float]) -> np.ndarray:
    return np.abs(_array(values, np.float64))


def turnover(notionals: Iterable[float], navs: Iterable[float]) -> float:
    """Traded notional (``sum |size x price|`` of the fills) over the mean NAV."""
    return _per_mean_nav(math.fsum(_abs_values(notionals).tolist()), navs)


def fees_nav_per_day(fees: Iterable[float], navs: Iterable[float], days: float = 1.0) -> float:
    """Fees over the mean NAV, per day of ``days``."""
    if not days > 0:
        return math.nan
    return _per_mean_nav(math.fsum(fees), navs) / days


def maker_share(notionals: Iterable[float], is_maker: Iterable[bool]) -> float:
    """The makers' share of the traded notional; ``nan`` when nothing traded."""
    x = _abs_values(notionals)
    maker = _array(is_maker, bool)
    if len(maker) != len(x):
        raise ValueError("maker_share: one maker flag per notional is needed")
    total = math.fsum(x.tolist())
    if not total > 0:
        return math.nan
    return math.fsum(x[maker].tolist()) / total


def cagr(nav_start: float, nav_end: float, days: float) -> float:
    """Compound annual growth over ``days``; ``nan`` for no time or a non-positive NAV."""
    if not (days > 0 and nav_start > 0 and nav_end > 0):
        return math.nan
    return (nav_end / nav_start) ** (ANNUALISATION_DAYS / days) - 1.0


def sortino(returns: Iterable[float]) -> float:
    """Annualised Sortino of daily returns (target 0), else ``nan``."""
    r = np.asarray(returns, dtype=np.float64)
    if len(r) < 2:
        return math.nan
    down = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    if not down > 0:
        return math.nan
    return float(np.mean(r)) / down * math.sqrt(ANNUALISATION_DAYS)


def calmar(cagr_value: float, max_dd: float) -> float:
    return cagr_value / max_dd if max_dd > 0 else math.nan


def longest_drawdown_ms(close_ms: Iterable[int], navs: Iterable[float], nav0: float) -> int:
    """The longest drawdown in ms, from the close at its peak to the first close back at or
    above it (or to the last close); 0 when the NAV never fell below a peak. The run starts at
    a peak of ``nav0``, one bar before its first close."""
    t = np.asarray(close_ms, dtype=np.int64)
    nav = np.asarray(navs, dtype=np.float64)
    if len(t) == 0:
        return 0
    start = int(t[0]) - (int(t[1] - t[0]) if len(t) > 1 else 0)
    tt = np.r_[start, t]
    values = np.r_[float(nav0), nav]
    at_peak = values >= np.maximum.accumulate(values)
    peak_time = np.maximum.accumulate(np.where(at_peak, tt, start))
    under = ~at_peak
    ends = np.flatnonzero(at_peak[1:] & under[:-1]) + 1  # recoveries: at a peak after a dip
    spans = [int(tt[i] - peak_time[i - 1]) for i in ends]
    if under[-1]:
        spans.append(int(tt[-1] - peak_time[-1]))
    return max(spans, default=0)


def monthly_returns(
    close_ms: Iterable[int], navs: Iterable[float], nav0: float
) -> list[tuple[int, int, float]]:
    """``(year, month, return)`` for each UTC month with closes, in order."""
    t = np.asarray(close_ms, dtype=np.int64)
    nav = np.asarray(navs, dtype=np.float64)
    if len(t) == 0:
        return []
    # a close exactly at 00:00 on the 1st ends the month before (as a day owns (00:00, 24:00])
    month = ((t - 1).astype("datetime64[ms]").astype("datetime64[M]")).astype(np.int64)
    last = np.flatnonzero(np.r_[month[1:] != month[:-1], True])
    ends = nav[last]
    bases = np.r_[float(nav0), ends[:-1]]
    rets = np.where(bases > 0, ends / np.where(bases > 0, bases, 1.0) - 1.0, np.nan)
    return [
        (1970 + int(m) // 12, int(m) % 12 + 1, float(r))
        for m, r in zip(month[last], rets, strict=True)
    ]


__all__ = [
    "ANNUALISATION_DAYS",
    "cagr",
    "calmar",
    "daily_returns",
    "day_end_navs",
    "drawdowns",
    "fees_nav_per_day",
    "longest_drawdown_ms",
    "maker_share",
    "max_drawdown",
    "mean_nav",
    "monthly_returns",
    "or_none",
    "roi",
    "sharpe",
    "sortino",
    "turnover",
]
