"""Crash safety: SIGKILL at random points of rebalances, >= 20 randomized trials, restart.

Never two orders with one client id, never an order the state store does not know, every
interrupted order reconciled, trading resumes, and SIGTERM exits 0 (bench/crash_trials.py
runs many more trials).
"""

from __future__ import annotations

import asyncio

from tests.support.crash_harness import run_trials


def test_sigkill_mid_rebalance_never_doubles_or_loses_an_order(spot, tmp_path):
    log = asyncio.run(run_trials(spot.slice(28_800, 28_900), tmp_path, trials=20, seed=20261124))
    assert log.decisions_after_restart == 1
    assert log.venue_orders > 20  # the kills really landed among live orders
    assert log.store_orders >= log.venue_orders
    assert log.interrupted >= 1  # at least one kill hit a rebalance in flight
