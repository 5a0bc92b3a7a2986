"""A run's summary row (docs/rules.md, Metrics) and the result a backtest (or a paper replay's
report) hands to the report writers: the curves, fills and rebalances, the summary figures and
the PnL attribution (``attribution.py``). One definition for both kinds of run."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import metrics
from ..attribution import (
    ATTRIBUTION_COLUMNS,
    AttributedFill,
    Attribution,
    attribute,
    decision_price,
)
from ..core.model import Plan
from ..core.time_rules import BAR_MS, DAY_MS
from .fill_model import Fill

SUMMARY_COLUMNS = (
    "start",
    "end",
    "days",
    "bars",
    "missing_bars",
    "nav_start",
    "nav_end",
    "roi",
    "sharpe",
    "max_dd",
    "fees_usdt",
    "fees_nav_per_day",
    "turnover",
    "funding_pnl",
    "rebalances",
    "orders",
    "blocked_orders",
    "maker_share",
    "delta_frac_mean",
    "delta_frac_max",
    # issue 10: risk-adjusted figures, benchmarks over the same period, PnL attribution
    "cagr",
    "sortino",
    "calmar",
    "longest_dd_days",
    "rebalances_filled",
    "bench_usdt_roi",
    "bench_btc_roi",
    "bench_btc_max_dd",
    *ATTRIBUTION_COLUMNS,
)


@dataclass(frozen=True, slots=True)
class Rebalance:
    rebalance_id: int
    plan: Plan


@dataclass
class BacktestResult:
    summary: dict[str, object]
    ts_ms: np.ndarray  # bar open times
    nav: np.ndarray  # NAV at each bar close
    delta_frac: np.ndarray
    w_spot: np.ndarray
    w_long: np.ndarray
    w_short: np.ndarray
    fills: list[Fill] = field(default_factory=list)
    rebalances: list[Rebalance] = field(default_factory=list)
    funding_events: int = 0
    funding_cum: np.ndarray | None = None  # funding settled up to each bar close, USDT
    price: np.ndarray | None = None  # P_ref close of each bar (the report's BTC price)


@dataclass(frozen=True, slots=True)
class Benchmark:
    """BTC bought with NAV_start at the first bar's open and held: its price path."""

    price_start: float
    closes: np.ndarray  # P_ref at each bar close


def attribute_fills(
    fills: list[Fill],
    dec: np.ndarray,
    spot_c: np.ndarray,
    perp_c: np.ndarray,
    sizes_end: tuple[float, float, float],
    funding_pnl: float,
    nav0: float,
    nav: np.ndarray,
) -> Attribution:
    """The backtest's fills against their decision prices: the leg's close at the deciding
    bar (a fill's time is that bar's close, the open of the bar it filled in)."""
    at = np.searchsorted(dec, np.array([f.time_ms for f in fills], dtype=np.int64))
    spot_d, perp_d = spot_c[at].tolist(), perp_c[at].tolist()
    attributed = [
        AttributedFill(
            f.leg.value,
            f.side,
            f.size_btc,
            f.price,
            f.fee,
            f.liquidity,
            decision_price(f.leg.value, spot_d[i], perp_d[i]),
        )
        for i, f in enumerate(fills)
    ]
    sb, lb, shb = sizes_end
    end = {
        "BTC_SPOT": (sb, float(spot_c[-1])),
        "BTC_PERP_LONG": (lb, float(perp_c[-1])),
        "BTC_PERP_SHORT": (-shb, float(perp_c[-1])),
    }
    return attribute(attributed, {}, end, funding_pnl, nav0, float(nav[-1]))


def summarize(
    ts: np.ndarray,
    dec: np.ndarray,
    nav: np.ndarray,
    delta: np.ndarray,
    nav0: float,
    fills: list[Fill],
    rebalances: list[Rebalance],
    funding_pnl: float,
    attribution: Attribution | None = None,
    btc: Benchmark | None = None,
) -> dict[str, object]:
    """The ``SUMMARY_COLUMNS`` of a run from its bar curves (``ts`` bar opens, ``dec`` their
    closes) and fills: the backtest's, and the paper replay's end-of-run report's."""
    n = len(ts)
    start, end = int(ts[0]), int(dec[-1])
    days = (end - start) / DAY_MS
    _, day_nav = metrics.day_end_navs(dec, nav)  # dec: the bar closes
    fees_usdt = math.fsum(f.fee for f in fills)
    notionals = [f.notional for f in fills]
    abs_delta = np.abs(delta)
    return {
        "start": start,
        "end": end,
        "days": days,
        "bars": n,
        "missing_bars": round((end - start) / BAR_MS) - n,
        "nav_start": nav0,
        "nav_end": float(nav[-1]),
        "roi": metrics.roi(nav0, float(nav[-1])),
        "sharpe": metrics.sharpe(metrics.daily_returns(day_nav, nav0)),
        "max_dd": metrics.max_drawdown(nav, nav0),
        "fees_usdt": fees_usdt,
        "fees_nav_per_day": metrics.fees_nav_per_day([f.fee for f in fills], nav, days),
        "turnover": metrics.turnover(notionals, nav),
        "funding_pnl": float(funding_pnl),
        "rebalances": len(rebalances),
        "orders": sum(len(r.plan.orders) for r in rebalances),
        "blocked_orders": sum(1 for r in rebalances for h in r.plan.blocked if h.gate == "signal"),
        "maker_share": metrics.maker_share(notionals, [f.liquidity == "maker" for f in fills]),
        "delta_frac_mean": float(np.mean(abs_delta)),
        "delta_frac_max": float(np.max(abs_delta)),
        **_issue10_figures(dec, nav, nav0, days, day_nav, fills, attribution, btc),
    }


def _issue10_figures(dec, nav, nav0, days, day_nav, fills, attribution, btc) -> dict:
    growth = metrics.cagr(nav0, float(nav[-1]), days)
    max_dd = metrics.max_drawdown(nav, nav0)
    out: dict[str, object] = {
        "cagr": growth,
        "sortino": metrics.sortino(metrics.daily_returns(day_nav, nav0)),
        "calmar": metrics.calmar(growth, max_dd),
        "longest_dd_days": metrics.longest_drawdown_ms(dec, nav, nav0) / DAY_MS,
        "rebalances_filled": len({f.rebalance_id for f in fills}),
        "bench_usdt_roi": 0.0,  # USDT held: nothing gained, nothing lost
        "bench_btc_roi": math.nan,
        "bench_btc_max_dd": math.nan,
    }
    if btc is not None and btc.price_start > 0:
        out["bench_btc_roi"] = float(btc.closes[-1]) / btc.price_start - 1.0
        out["bench_btc_max_dd"] = metrics.max_drawdown(btc.closes, btc.price_start)
    cols = attribution.columns() if attribution is not None else {}
    out.update({c: cols.get(c, math.nan) for c in ATTRIBUTION_COLUMNS})
    return out
