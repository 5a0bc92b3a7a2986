"""SIGKILL the live agent mid-transfer (between a transfer's record and its send, and after
its send), restart it: no transfer is ever doubled or lost (tests/support/crash_harness.py)."""

from __future__ import annotations

import asyncio

from tests.support.crash_harness import run_transfer_trials


def test_kills_mid_transfer_never_double_or_lose_one(spot, tmp_path):
    candles = spot.slice(28_800, 28_800 + 200)
    log = asyncio.run(run_transfer_trials(candles, tmp_path, trials=6, seed=3))
    assert log.killed_before_send == 3 and log.killed_after_send == 3
    # each kill after the send left exactly one transfer at the venue, recorded done; each
    # kill before it a failed record, and the agent funded the wallet afterwards anew
    assert log.failed_in_store >= 3
    assert log.transfers_at_venue >= 3
