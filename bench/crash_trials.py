"""Crash trials at scale: SIGKILL the live agent at random points of rebalances, N times;
then a lost state (file truncated, an older copy restored, the WAL deleted after a SIGKILL) and
a venue that refuses 30 % of the signed calls for 200 closes.

    .venv/bin/python bench/crash_trials.py [--trials 100] [--transfer-trials 20] [--seed 1]
        [--error-closes 200]

Same harness and invariants as tests/test_crash_safety.py (never two orders with one client
id, never an order the state store does not know, nothing left open or unresolved after
reconciliation, trading resumes, SIGTERM exits 0); prints what the kills hit. Then kills the
agent mid-transfer (between a transfer's record and its send, and after the send; see
``run_transfer_trials``): no transfer doubled or lost. Then the lost states and the error rate.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adaptive_agent.data import SPOT_5M
from adaptive_agent.io.loaders import load_candles
from tests.support.crash_harness import (
    LOST_STATES,
    run_error_rate_trial,
    run_lost_state_trial,
    run_transfer_trials,
    run_trials,
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--transfer-trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="keep the state db and agent log in this folder")
    ap.add_argument("--error-closes", type=int, default=200, help="closes at a 30 %% error rate")
    args = ap.parse_args()
    candles = load_candles(SPOT_5M).slice(28_800, 28_800 + args.trials + 50)
    t0 = time.perf_counter()
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
        log = asyncio.run(run_trials(candles, Path(args.keep), args.trials, args.seed))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            log = asyncio.run(run_trials(candles, Path(tmp), args.trials, args.seed))
    wall = time.perf_counter() - t0
    print(f"{args.trials} SIGKILL trials in {wall:.0f} s: all invariants held")
    print(
        f"  kill delay after the close: median {statistics.median(log.kill_after_s):.2f} s,"
        f" range {min(log.kill_after_s):.2f}-{max(log.kill_after_s):.2f} s"
    )
    print(
        f"  orders at the venue {log.venue_orders}, known to the store {log.store_orders},"
        f" rebalances interrupted and reconciled {log.interrupted}"
    )
    if args.transfer_trials > 0:
        t0 = time.perf_counter()
        path = load_candles(SPOT_5M).slice(28_800, 28_800 + 30 * args.transfer_trials + 50)
        with tempfile.TemporaryDirectory() as tmp:
            tl = asyncio.run(run_transfer_trials(path, Path(tmp), args.transfer_trials, args.seed))
        print(
            f"{args.transfer_trials} SIGKILL trials mid-transfer in"
            f" {time.perf_counter() - t0:.0f} s ({tl.bars} closes): no transfer doubled or lost"
        )
        print(
            f"  killed between record and send {tl.killed_before_send}, after the send"
            f" {tl.killed_after_send}; transfers at the venue {tl.transfers_at_venue} = done in"
            f" the store; failed (never arrived) {tl.failed_in_store};"
            f" recorded {tl.transfers_in_store}"
        )
    for how in LOST_STATES:
        with tempfile.TemporaryDirectory() as tmp:
            lost = asyncio.run(run_lost_state_trial(candles, Path(tmp), how))
        kinds = ", ".join(sorted({k for k, _ in lost.alerts})) or "NONE"
        print(
            f"lost state ({how}): alerts {kinds}; venue orders {lost.venue_orders_before}"
            f" before the restart, {lost.venue_orders_after} after {lost.closes_after} closes"
        )
    t0 = time.perf_counter()
    errs = load_candles(SPOT_5M).slice(28_800, 28_800 + args.error_closes + 50)
    with tempfile.TemporaryDirectory() as tmp:
        e = asyncio.run(run_error_rate_trial(errs, Path(tmp), args.error_closes, 0.3))
    print(
        f"30 % error rate: {e.decided} of {e.closes} closes processed, {e.server_errors} signed"
        f" calls refused, {e.rebalances} rebalances, agent running to the end"
        f" ({time.perf_counter() - t0:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
