"""A 1,000-configuration sweep over one year of bundled bars: wall and CPU time, printed
(issue 11, item 6; target <= 30 s wall on this 2-core machine). Nothing is asserted.

    .venv/bin/python bench/sweep_speed.py [--workers 2] [--side 10]

The grid is side^3 points over strategy.threshold_floor (0.003..0.012), strategy.atr_multiplier
(0..0.9) and strategy.min_rebalance_interval_minutes (30..300), the rest the bundled run's
defaults (baseline signals, bundled funding), through ``research.sweep.run_sweep`` as
``adaptive-agent sweep`` runs it (local worker processes, data given to each worker once).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np

from adaptive_agent.backtest.dataset import BacktestData
from adaptive_agent.config import AppConfig
from adaptive_agent.data import FUNDING_8H, SPOT_5M
from adaptive_agent.io.loaders import load_candles, load_funding
from adaptive_agent.research.grid import configure
from adaptive_agent.research.sweep import run_sweep
from adaptive_agent.strategies.baseline_signals import ema_crossover_signals

YEAR_BARS = 105_120


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--side", type=int, default=10, help="points per key (side^3 configurations)")
    args = ap.parse_args()
    spot = load_candles(SPOT_5M)
    year = spot.slice(len(spot) - YEAR_BARS, len(spot))
    data = BacktestData(year, ema_crossover_signals(year), load_funding(FUNDING_8H))
    k = args.side
    floors = np.round(np.linspace(0.003, 0.012, k), 6).tolist()
    mults = np.round(np.linspace(0.0, 0.9, k), 6).tolist()
    minutes = np.round(np.linspace(30, 300, k)).tolist()
    base = AppConfig()
    configs = [
        configure(
            base,
            {
                "strategy.threshold_floor": f,
                "strategy.atr_multiplier": m,
                "strategy.min_rebalance_interval_minutes": i,
            },
        )
        for f in floors
        for m in mults
        for i in minutes
    ]
    load0 = os.getloadavg()[0]
    t, p, c = time.perf_counter(), time.process_time(), children_cpu()
    rows = run_sweep(data, configs, workers=args.workers)
    wall = time.perf_counter() - t
    cpu = time.process_time() - p + children_cpu() - c
    print(
        f"sweep: {len(rows):,} configurations x {len(year):,} bars, {args.workers} workers:"
        f" {wall:.1f} s wall, {cpu:.1f} s CPU (all processes), {1000 * cpu / len(rows):.0f} ms"
        f" CPU per configuration; load average {load0:.2f} -> {os.getloadavg()[0]:.2f}"
        " (target <= 30 s wall)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
