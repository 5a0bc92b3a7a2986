"""A run's summary row (docs/rules.md, Metrics) and the result a backtest (or a paper replay's
report) hands to the report writers: the curves, fills and rebalances, the summary figures and
the PnL attribution (``attribution.py``). One definition for both kinds of run."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .. import metrics
from ..attribution import ATTRIBUTION_COLUMNS, Attribution, attribute_columns, decision_prices
from ..attribution import LEGS as LEG_NAMES
from ..core.model import HeldOrder, Plan, Signal
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
    fills: Sequence[Fill] = field(default_factory=list)
    rebalances: Sequence[Rebalance] = field(default_factory=list)
    funding_events: int = 0
    funding_cum: np.ndarray | None = None  # funding settled up to each bar close, USDT
    price: np.ndarray | None = None  # P_ref close of each bar (the report's BTC price)


@dataclass(frozen=True, slots=True)
class Benchmark:
    """BTC bought with NAV_start at the first bar's open and held: its price path."""

    price_start: float
    closes: np.ndarray  # P_ref at each bar close


class FillColumns(NamedTuple):
    """A run's fills as arrays (what the summary and the attribution read)."""

    time_ms: np.ndarray  # int64
    rebalance_id: np.ndarray  # int64 (backtest) or str (paper)
    leg: np.ndarray  # LEGS index
    buy: np.ndarray  # bool
    size_btc: np.ndarray
    price: np.ndarray
    maker: np.ndarray  # bool
    fee: np.ndarray

    @classmethod
    def of(cls, fills: Sequence[Fill]) -> FillColumns:
        """From ``Fill`` records (a paper replay's), or the columns a backtest already has."""
        cols = getattr(fills, "columns", None)
        if cols is not None:
            return cols
        return cls(
            np.array([f.time_ms for f in fills], dtype=np.int64),
            np.array([f.rebalance_id for f in fills]),  # a paper run's ids are texts
            np.array([LEG_NAMES.index(f.leg.value) for f in fills], dtype=np.int64),
            np.array([f.side == "buy" for f in fills], dtype=bool),
            np.array([f.size_btc for f in fills], dtype=np.float64),
            np.array([f.price for f in fills], dtype=np.float64),
            np.array([f.liquidity == "maker" for f in fills], dtype=bool),
            np.array([f.fee for f in fills], dtype=np.float64),
        )


def attribute_fills(
    fills: Sequence[Fill],
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
    c = FillColumns.of(fills)
    at = np.searchsorted(dec, c.time_ms)
    dprice = decision_prices(c.leg == 0, spot_c[at], perp_c[at])
    sb, lb, shb = sizes_end
    end = {
        "BTC_SPOT": (sb, float(spot_c[-1])),
        "BTC_PERP_LONG": (lb, float(perp_c[-1])),
        "BTC_PERP_SHORT": (-shb, float(perp_c[-1])),
    }
    return attribute_columns(
        c.leg, c.buy, c.size_btc, c.price, c.fee, c.maker, dprice, {}, end, funding_pnl, nav0,
        float(nav[-1]),
    )  # fmt: skip


def order_counts(rebalances) -> tuple[int, int]:
    """(orders sent, orders the signal gate held) over a run's rebalances. A backtest's log
    (``decision_log.Rebalances``) counts them from the compiled loop's figures, without
    building its plans."""
    counted = getattr(rebalances, "order_counts", None)
    if counted is not None:
        return counted()
    return (
        sum(len(r.plan.orders) for r in rebalances),
        sum(1 for r in rebalances for h in r.plan.blocked if h.gate == "signal"),
    )


def held_orders(rebalances, gates: frozenset) -> Iterator[tuple[int, int, Signal, HeldOrder]]:
    """(rebalance id, decision time, signal, held order) for each order of a run's plans held
    by one of ``gates`` (``HoldGate``), in plan order: blocked ones, then skipped ones. A
    backtest's log (``decision_log.Rebalances.held``) gives them without building plans."""
    held = getattr(rebalances, "held", None)
    if held is not None:
        yield from held(gates)
        return
    for r in rebalances:
        for h in (*r.plan.blocked, *r.plan.skipped):
            if h.gate in gates:
                yield r.rebalance_id, r.plan.time_ms, r.plan.signal, h


def rebalance_marks(rebalances) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per rebalance: its decision time, whether it sent orders, whether the signal gate or safe
    mode blocked one (what the equity page marks). A backtest's log (``Rebalances.marks``)
    gives them without building plans."""
    marks = getattr(rebalances, "marks", None)
    if marks is not None:
        return marks()
    plans = [r.plan for r in rebalances]
    return (
        np.array([p.time_ms for p in plans], dtype=np.int64),
        np.array([bool(p.orders) for p in plans], dtype=bool),
        np.array([bool(p.blocked) for p in plans], dtype=bool),
    )


def summarize(
    ts: np.ndarray,
    dec: np.ndarray,
    nav: np.ndarray,
    delta: np.ndarray,
    nav0: float,
    fills: Sequence[Fill],
    rebalances: Sequence[Rebalance],
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
    c = FillColumns.of(fills)
    fees = c.fee.tolist()
    fees_usdt = math.fsum(fees)
    notionals = (c.size_btc * c.price).tolist()  # Fill.notional
    abs_delta = np.abs(delta)
    orders, signal_held = order_counts(rebalances)
    max_dd = metrics.max_drawdown(nav, nav0)
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
        "max_dd": max_dd,
        "fees_usdt": fees_usdt,
        "fees_nav_per_day": metrics.fees_nav_per_day(fees, nav, days),
        "turnover": metrics.turnover(notionals, nav),
        "funding_pnl": float(funding_pnl),
        "rebalances": len(rebalances),
        "orders": orders,
        "blocked_orders": signal_held,
        "maker_share": metrics.maker_share(notionals, c.maker.tolist()),
        "delta_frac_mean": float(np.mean(abs_delta)),
        "delta_frac_max": float(np.max(abs_delta)),
        **_issue10_figures(dec, nav, nav0, days, day_nav, max_dd, c, attribution, btc),
    }


def _issue10_figures(dec, nav, nav0, days, day_nav, max_dd, fills, attribution, btc) -> dict:
    growth = metrics.cagr(nav0, float(nav[-1]), days)
    out: dict[str, object] = {
        "cagr": growth,
        "sortino": metrics.sortino(metrics.daily_returns(day_nav, nav0)),
        "calmar": metrics.calmar(growth, max_dd),
        "longest_dd_days": metrics.longest_drawdown_ms(dec, nav, nav0) / DAY_MS,
        # (a set, not np.unique, which imports numpy.ma: ~20 ms of a CLI run's start-up)
        "rebalances_filled": len(set(fills.rebalance_id.tolist())),
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
