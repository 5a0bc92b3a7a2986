"""Candle close -> batch sent, for the live agent against the simulator (injected latency 0).

    .venv/bin/python bench/live_latency.py [--bars 200]

The agent runs as a real ``adaptive-agent live`` process (ccxt, websockets, SQLite) against
``gate-sim`` on loopback, configured to rebalance at every close. For each bar the simulator
side records when it published the closed kline and when the first order of the resulting
batch arrived; prints p50/p99 of the difference (target p99 <= 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adaptive_agent.data import SPOT_5M
from adaptive_agent.io.loaders import load_candles
from adaptive_agent.sim.gate_server import HUB
from adaptive_agent.sim.orders import OrderEvent
from adaptive_agent.sim.runner import running_sim
from tests.support.crash_harness import AGENT_ENV, KEY, SECRET


async def measure(bars: int) -> list[float]:
    candles = load_candles(SPOT_5M).slice(28_800, 28_800 + bars + 20)
    lat: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with running_sim(candles, KEY, SECRET, usdt=100_000.0) as sim:
            first_put: dict[int, float] = {}

            def on_event(ev) -> None:
                if isinstance(ev, OrderEvent) and ev.phase == "put":
                    first_put.setdefault(sim.market.bar, time.perf_counter())

            sim.market.subscribe(on_event)
            env = {
                **os.environ,
                **AGENT_ENV,
                "ADAPTIVE_AGENT__EXECUTION__POST_ONLY_TIMEOUT_S": "0.05",
            }
            log = open(Path(tmp) / "agent.log", "wb")  # noqa: SIM115
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "adaptive_agent",
                "--log-level",
                "WARNING",
                "live",
                "--state",
                str(Path(tmp) / "s.sqlite"),
                "--gate-url",
                sim.url,
                "--binance-url",
                sim.url,
                "--set-dual-mode",
                stdout=log,
                stderr=log,
                env=env,
            )
            hub = sim.app[HUB]
            while not any("btcusdt@kline_5m" in c.subs for c in hub.conns):
                await asyncio.sleep(0.01)
            for _ in range(bars):
                t0 = time.perf_counter()
                sim.market.advance()
                bar = sim.market.bar
                for _ in range(300):
                    if bar in first_put:
                        break
                    await asyncio.sleep(0.002)
                if bar in first_put:
                    lat.append((first_put[bar] - t0) * 1000)
                await asyncio.sleep(0.4)  # let the rebalance finish before the next close
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
            log.close()
    return lat


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=int, default=200)
    args = ap.parse_args()
    lat = asyncio.run(measure(args.bars))
    a = np.array(lat)
    print(
        f"candle close -> first order of the batch at the venue, {len(a)} rebalances:"
        f" p50 {np.percentile(a, 50):.1f} ms, p99 {np.percentile(a, 99):.1f} ms,"
        f" max {a.max():.1f} ms (target p99 <= 50 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
