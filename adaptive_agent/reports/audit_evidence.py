"""The figures an audit proposal rests on (docs/rules.md, "Daily audit"): a small sweep around
the current settings, backtested on the trailing window of what the agent recorded.

The window's data come from the bar snapshots alone: each close's P_ref candle (open, high,
low, close), the signal in force there (the agent's own, its TTL already applied) and the
funding rate it read. The neighbourhood (``[audit]`` ``evidence_*``, by default):
``strategy.threshold_floor`` x 0.5, 0.75, 1, 1.5, 2, ``strategy.atr_multiplier`` -0.1, +0, +0.1
and ``strategy.min_rebalance_interval_minutes`` x 0.5, 1, 2 (45 settings, those the
configuration accepts). The proposed one has the best
Sharpe among those with a max drawdown within ``audit.target_max_dd``; the current one is in
the grid, so the two are compared on the same window and the same fill model.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backtest.dataset import BacktestData
from ..config import AppConfig
from ..core.signals import CODE_OF_NAME, SignalSeries
from ..core.time_rules import BAR_MS, DAY_MS
from ..io.loaders import Candles, FundingSeries
from ..research.grid import configure
from ..research.sweep import best, run_sweep

FIGURES = ("sharpe", "max_dd", "fees_nav_per_day", "roi")
_COLS = ("time_ms", "ref_open", "ref_high", "ref_low", "price_ref", "nav")


def window_data(store: Any, end_ms: int, days: int) -> tuple[BacktestData, float] | None:
    """The trailing ``days`` before ``end_ms`` as backtest data, and the NAV at its start;
    ``None`` when fewer than two closes or a close without its candle (an older state)."""
    lo = end_ms - days * DAY_MS
    bars = store.bars(lo, end_ms)
    if len(bars) < 2 or any(b.ref_open is None or b.ref_high is None or b.ref_low is None
                            for b in bars):  # fmt: skip
        return None
    ts = np.array([b.time_ms - BAR_MS for b in bars], dtype=np.int64)  # bar opens
    candles = Candles(
        f"state database, {len(bars)} closes",
        ts,
        np.array([b.ref_open for b in bars], dtype=np.float64),
        np.array([b.ref_high for b in bars], dtype=np.float64),
        np.array([b.ref_low for b in bars], dtype=np.float64),
        np.array([b.price_ref for b in bars], dtype=np.float64),
    )
    close = ts + BAR_MS
    codes = np.array([CODE_OF_NAME.get(b.signal, 0) for b in bars], dtype=np.int8)
    signals = SignalSeries(close, codes)  # the signal in force at each close
    rated = [(b.time_ms, b.funding_rate) for b in bars if b.funding_rate is not None]
    funding = None
    if rated:
        funding = FundingSeries(
            "bar snapshots",
            np.array([t for t, _ in rated], dtype=np.int64),
            np.array([r for _, r in rated], dtype=np.float64),
        )
    return BacktestData(candles, signals, funding), float(bars[0].nav)


def neighbourhood(cfg: AppConfig) -> list[tuple[dict[str, Any], AppConfig]]:
    s, a = cfg.strategy, cfg.audit
    out = []
    for f in a.evidence_floor_factors:
        for da in a.evidence_atr_steps:
            for fi in a.evidence_interval_factors:
                point = {
                    "strategy.threshold_floor": round(s.threshold_floor * f, 10),
                    "strategy.atr_multiplier": round(max(0.0, s.atr_multiplier + da), 10),
                    "strategy.min_rebalance_interval_minutes": round(
                        s.min_rebalance_interval_minutes * fi, 10
                    ),
                }
                try:
                    out.append((point, configure(cfg, point)))
                except argparse.ArgumentTypeError:  # outside the configuration's bounds
                    continue
    unique = {tuple(p.items()): (p, c) for p, c in out}
    return list(unique.values())


@dataclass(frozen=True)
class Evidence:
    start_ms: int
    end_ms: int
    bars: int
    configurations: int
    point: dict[str, Any]  # the proposed settings
    current: dict[str, float]
    proposed: dict[str, float]

    @property
    def improves(self) -> bool:
        return self.point != {} and self.proposed != self.current

    def summary(self) -> str:
        def f(d: dict[str, float]) -> str:
            return (
                f"Sharpe {_num(d['sharpe'], 2)}, max DD {_pct(d['max_dd'])},"
                f" fees/NAV/day {_pct(d['fees_nav_per_day'], 4)}"
            )

        days = (self.end_ms - self.start_ms) / DAY_MS
        if not self.improves:
            return (
                f"evidence ({days:.0f} d, {self.configurations} settings): none beats the"
                f" current ({f(self.current)})"
            )
        shown = ", ".join(f"{k}={v:g}" for k, v in self.point.items())
        return (
            f"evidence ({days:.0f} d, {self.configurations} settings): {shown}:"
            f" {f(self.proposed)} vs current {f(self.current)}"
        )


def _num(x: float, d: int) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.{d}f}"


def _pct(x: float, d: int = 2) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.{d}%}"


def evidence(store: Any, cfg: AppConfig, end_ms: int) -> Evidence | None:
    """The sweep on the trailing ``audit.window_days``; ``None`` without the data."""
    got = window_data(store, end_ms, cfg.audit.window_days)
    if got is None:
        return None
    data, nav0 = got
    grid = neighbourhood(cfg)
    if not grid or nav0 <= 0:
        return None
    rows = run_sweep(data, [c for _, c in grid], nav0, workers=1)
    s = cfg.strategy
    here = {
        "strategy.threshold_floor": round(s.threshold_floor, 10),
        "strategy.atr_multiplier": round(s.atr_multiplier, 10),
        "strategy.min_rebalance_interval_minutes": round(s.min_rebalance_interval_minutes, 10),
    }
    cur = next(i for i, (p, _) in enumerate(grid) if p == here)
    i = best(rows, "sharpe", cfg.audit.target_max_dd)[0]
    return Evidence(
        int(data.ts[0]),
        int(data.dec[-1]),
        len(data),
        len(grid),
        {} if i == cur else grid[i][0],
        {k: float(rows[cur][k]) for k in FIGURES},
        {k: float(rows[i][k]) for k in FIGURES},
    )


def evidence_markdown(ev: Evidence | None) -> str:
    """The proposal file's evidence section."""
    if ev is None:
        return (
            "\n## Evidence\n\nNo backtest: the state database has no candles for the trailing"
            " window (closes recorded before the snapshots kept them).\n"
        )
    rows = ["| | Sharpe | max DD | fees/NAV/day | ROI |", "| --- | --- | --- | --- | --- |"]
    for name, d in (("current", ev.current), ("proposed", ev.proposed)):
        rows.append(
            f"| {name} | {_num(d['sharpe'], 3)} | {_pct(d['max_dd'], 3)} |"
            f" {_pct(d['fees_nav_per_day'], 4)} | {_pct(d['roi'], 3)} |"
        )
    settings = (
        ", ".join(f"`{k} = {v:g}`" for k, v in ev.point.items())
        if ev.improves
        else "the current settings (none of the neighbourhood beats them)"
    )
    days = (ev.end_ms - ev.start_ms) / DAY_MS
    return (
        f"\n## Evidence\n\nA backtest of {ev.configurations} settings around the current ones"
        f" on the trailing {days:.0f} days ({ev.bars:,} closes recorded by the agent: its P_ref"
        f" candles, signals and funding rates); best Sharpe with max DD within"
        f" `audit.target_max_dd`: {settings}.\n\n" + "\n".join(rows) + "\n"
    )
