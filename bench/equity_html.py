"""``equity.html`` for four years of 5-minute bars: file size, write time, and in headless
Chromium the time to first render and to a one-day zoom (medians of several loads); nothing is
asserted.

    .venv/bin/python bench/equity_html.py [--loads 5] [--keep DIR]

Four years are the bundled real run (2.9 years of Binance 5-minute candles and funding) with
its first 1.1 years appended again, prices scaled to continue from the last close, so the page
carries real-looking curves and markers. Targets (issue 10): < 20 MB, first render < 3 s.
Needs Debian ``chromium`` (scripts/setup_debs.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adaptive_agent.backtest.rebalance_backtester import run_backtest
from adaptive_agent.core.time_rules import BAR_MS
from adaptive_agent.data import FUNDING_8H, SPOT_5M
from adaptive_agent.io.loaders import Candles, FundingSeries, load_candles, load_funding
from adaptive_agent.reports.equity_html import write_equity_html
from adaptive_agent.strategies.baseline_signals import ema_crossover_signals
from tests.support.headless_chromium import chromium

FOUR_YEARS = 4 * 365 * 288


def four_years() -> tuple[Candles, FundingSeries]:
    spot, fund = load_candles(SPOT_5M), load_funding(FUNDING_8H)
    extra = FOUR_YEARS - len(spot)
    shift = int(spot.ts[-1] - spot.ts[0]) + BAR_MS
    k = float(spot.close[-1] / spot.open[0])
    cat = lambda a, b: np.concatenate([a, b])  # noqa: E731
    candles = Candles(
        "bundled+tiled",
        cat(spot.ts, spot.ts[:extra] + shift),
        *(cat(a, a[:extra] * k) for a in (spot.open, spot.high, spot.low, spot.close)),
    )
    f_end = np.searchsorted(fund.ts, spot.ts[extra - 1], side="right")
    funding = FundingSeries(
        "bundled+tiled",
        cat(fund.ts, fund.ts[:f_end] + shift),
        cat(fund.rate, fund.rate[:f_end]),
    )
    return candles, funding


async def browse(url: str, loads: int, day: str) -> tuple[list[float], list[float], list[str]]:
    first, zoom, problems, phases = [], [], [], []
    async with chromium() as browser:
        for _ in range(loads):
            page = await browser.new_page(1400, 1000)
            await page.goto(url, timeout=60)
            await page.wait_for("window.equityChart.ready || window.equityChart.error", 60)
            first.append(await page.evaluate("window.equityChart.renderedMs"))
            phases.append(
                await page.evaluate(
                    "Object.fromEntries(performance.getEntriesByType('mark')"
                    ".map(m => [m.name.replace('equity-', ''), m.startTime]))"
                )
            )
            zoom.append(
                await page.evaluate(
                    "new Promise(r => { const t = performance.now();"
                    f" window.equityChart.zoomDay('{day}');"
                    " requestAnimationFrame(() => r(performance.now() - t)); })"
                )
            )
            state = await page.evaluate("window.equityChart.state()")
            if state["points"] != 288:
                problems.append(f"one-day zoom drew {state['points']} points, not 288")
            problems += page.errors + [u for u in page.requests if u != url]
            await page.send("Page.close")
    med = {k: statistics.median(p[k] for p in phases) for k in phases[0]}
    print(
        "  median phase ends (ms from navigation start): script starts {start:.0f}, base64"
        " {base64:.0f}, inflated {inflated:.0f}, decoded {decoded:.0f}, charts built {built:.0f},"
        " first frame {rendered:.0f}".format(**med)
    )
    return first, zoom, problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--keep", type=Path, help="write equity.html here instead of a temp folder")
    args = ap.parse_args()
    candles, funding = four_years()
    t = time.perf_counter()
    res = run_backtest(candles, ema_crossover_signals(candles), funding)
    print(
        f"backtest: {len(candles):,} bars ({len(candles) * BAR_MS / 86_400_000 / 365:.2f} years),"
        f" {len(res.rebalances):,} rebalances, {len(res.fills):,} fills,"
        f" {time.perf_counter() - t:.1f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        page = folder / "equity.html"
        writes = []
        for _ in range(3):
            t = time.perf_counter()
            write_equity_html(res, page, "4 years, bundled run tiled")
            writes.append(time.perf_counter() - t)
        size = page.stat().st_size
        print(
            f"equity.html: {size / 1e6:.2f} MB ({size:,} bytes; target < 20 MB),"
            f" written in median {statistics.median(writes):.2f} s of {len(writes)}"
        )
        day = time.strftime("%Y-%m-%d", time.gmtime(int(candles.ts[len(candles) // 2]) / 1000))
        first, zoom, problems = asyncio.run(browse(page.resolve().as_uri(), args.loads, day))
        print(
            f"headless Chromium, {args.loads} loads: first render median"
            f" {statistics.median(first) / 1000:.2f} s (min {min(first) / 1000:.2f},"
            f" max {max(first) / 1000:.2f}; target < 3 s); one-day zoom ({day}) median"
            f" {statistics.median(zoom):.0f} ms"
        )
        for p in problems:
            print("problem:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
