"""Backtest speed and memory, printed as figures (median of several runs); nothing is asserted.

    .venv/bin/python bench/backtest_speed.py [--runs 5]

1. ``run_backtest()`` on one year of 5-minute bars (105,120) with data already loaded
   (target <= 0.1 s, i.e. >= 1,000,000 bars/s).
2. The CLI end to end on the same year: start-up, load, simulate, CSV reports, no HTML
   (target <= 1.5 s); 2b. on the whole bundle (issue 11: <= 0.4 s), beside its floors (the
   interpreter alone, with numpy, with the configuration, with the CLI's imports) and the
   phases of one run in one process (imports, inputs, backtest, reports).
3. Peak memory (max RSS) of the CLI on the whole bundle with every report (target <= 300 MB).
4. ``equity.html`` for four years of 5-minute bars: size and write time (targets 20 MB, 1 s;
   bench/equity_html.py opens it in headless Chromium).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from adaptive_agent.backtest.rebalance_backtester import run_backtest
from adaptive_agent.data import FUNDING_8H, SPOT_5M
from adaptive_agent.io.loaders import Candles, load_candles, load_funding
from adaptive_agent.reports.equity_html import write_equity_html
from adaptive_agent.strategies.baseline_signals import ema_crossover_signals, write_signals

YEAR_BARS = 105_120
PHASES = """
import sys, time
t0 = time.perf_counter()
from pathlib import Path
from adaptive_agent.backtest.rebalance_backtester import run_backtest
from adaptive_agent.cli.inputs import build_run_inputs
from adaptive_agent.config import AppConfig
from adaptive_agent.reports.writer import write_reports
t1 = time.perf_counter()
cfg = AppConfig()
inp = build_run_inputs(cfg)
t2 = time.perf_counter()
res = run_backtest(inp.candles, inp.signals, inp.funding, inp.perp, cfg)
t3 = time.perf_counter()
write_reports(res, Path(sys.argv[1]), html=False)
t4 = time.perf_counter()
aot = "ahead of time" if "numba" not in sys.modules else "numba JIT"
print(f"imports {t1 - t0:.3f} s, inputs (cached) {t2 - t1:.3f} s, backtest {t3 - t2:.3f} s"
      f" ({aot} loop), CSV reports {t4 - t3:.3f} s")
"""


def median_time(fn, runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "adaptive_agent", *args]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    runs = ap.parse_args().runs

    spot = load_candles(SPOT_5M)
    funding = load_funding(FUNDING_8H)
    year = spot.slice(0, YEAR_BARS)
    signals = ema_crossover_signals(year)
    for label, sig in (("no signals", None), ("baseline signals", signals)):
        run_backtest(year, sig, funding)  # warm-up
        med, times = median_time(lambda sig=sig: run_backtest(year, sig, funding), runs)
        res = run_backtest(year, sig, funding)
        print(
            f"1. run_backtest, 1 year ({YEAR_BARS:,} bars), data loaded, funding, {label}"
            f" ({res.summary['rebalances']:,} rebalances): median {med * 1000:.1f} ms"
            f" = {YEAR_BARS / med:,.0f} bars/s"
            f"  (runs: {', '.join(f'{t * 1000:.1f}' for t in times)} ms; target <= 100 ms)"
        )

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        with (d / "year.csv").open("w") as fh:
            fh.write("timestamp,open,high,low,close\n")
            for row in zip(
                year.ts.tolist(),
                year.open.tolist(),
                year.high.tolist(),
                year.low.tolist(),
                year.close.tolist(),
                strict=True,
            ):
                fh.write(",".join(map(repr, row)) + "\n")
        write_signals(signals, d / "signals.csv")
        args = cli(
            "backtest",
            "--candles",
            str(d / "year.csv"),
            "--signals",
            str(d / "signals.csv"),
            "--funding",
            str(FUNDING_8H),
            "--no-html",
            "--quiet",
            "--out",
            str(d / "out"),
        )
        subprocess.run(args, check=True, capture_output=True)  # warm-up (.pyc)
        med, times = median_time(
            lambda: subprocess.run(args, check=True, capture_output=True), runs
        )
        print(
            f"2. CLI end to end, 1 year, CSV reports, no HTML: median {med:.3f} s"
            f"  (runs: {', '.join(f'{t:.3f}' for t in times)} s; target <= 1.5 s)"
        )

        bundle = cli("backtest", "--no-html", "--quiet", "--out", str(d / "bundle"))
        med, times = median_time(
            lambda: subprocess.run(bundle, check=True, capture_output=True), runs
        )
        floors = {
            "Python alone": "pass",
            "+ numpy": "import numpy",
            "+ the configuration (pydantic)": "import adaptive_agent.config as c; c.AppConfig()",
            "the CLI's imports": "import adaptive_agent.cli",
        }
        py = sys.executable
        floor = {
            k: median_time(lambda c=c: subprocess.run([py, "-c", c], check=True), runs)[0]
            for k, c in floors.items()
        }
        phases = subprocess.run(
            [sys.executable, "-c", PHASES, str(d / "phases")],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        print(
            f"2b. CLI end to end, whole bundle ({len(spot):,} bars), CSV reports, no HTML:"
            f" median {med:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in times)} s;"
            f" target <= 0.4 s). Floors: "
            + ", ".join(f"{k} {v:.3f} s" for k, v in floor.items())
            + f". In one process: {phases}"
        )

        full = cli("backtest", "--out", str(d / "full"), "--quiet")
        t = time.perf_counter()
        subprocess.run(full, check=True, capture_output=True)
        wall = time.perf_counter() - t
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"3. CLI on the whole bundle ({len(spot):,} bars, all reports incl. HTML):"
            f" peak RSS {peak_mb:.0f} MB, wall {wall:.2f} s  (target <= 300 MB)"
        )

        four = 4 * 365 * 288
        rng = np.random.default_rng(0)
        close = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.0015, four)))
        ts = 1_600_000_000_000 // 300_000 * 300_000 + 300_000 * np.arange(four, dtype=np.int64)
        path4 = Candles("4y", ts, close, close * 1.0005, close * 0.9995, close)
        res = run_backtest(path4)
        page = d / "equity.html"
        med, times = median_time(lambda: write_equity_html(res, page), runs)
        print(
            f"4. equity.html, 4 years ({four:,} bars, {len(res.rebalances):,} rebalances):"
            f" {page.stat().st_size / 1e6:.2f} MB, written in median {med * 1000:.0f} ms"
            " (targets < 20 MB, <= 1 s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
