"""Shared fixtures: the bundled real data (loaded once) and small CSV writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adaptive_agent.data import FUNDING_8H, SPOT_5M
from adaptive_agent.io.loaders import Candles, load_candles, load_funding
from adaptive_agent.policy import netguard


def pytest_configure(config):
    """SPEC 9: in test mode no connection may leave the machine (loopback only)."""
    config._netguard = netguard.install()


def pytest_unconfigure(config):
    config._netguard.uninstall()


@pytest.fixture(scope="session")
def spot() -> Candles:
    return load_candles(SPOT_5M)


@pytest.fixture(scope="session")
def funding():
    return load_funding(FUNDING_8H)


def write_candles_csv(path: Path, c: Candles) -> Path:
    with path.open("w") as fh:
        fh.write("timestamp,open,high,low,close,volume\n")
        for row in zip(
            c.ts.tolist(),
            c.open.tolist(),
            c.high.tolist(),
            c.low.tolist(),
            c.close.tolist(),
            strict=True,
        ):
            fh.write(f"{row[0]},{row[1]!r},{row[2]!r},{row[3]!r},{row[4]!r},1.0\n")
    return path


def random_walk(
    seed: int, n: int, start_ms: int = 1_700_006_400_000, vol: float = 0.004
) -> Candles:
    """A synthetic 5-minute path (used where real data cannot reach a corner case)."""
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0, vol, n)))
    open_ = np.r_[30_000.0, close[:-1]] * (1 + rng.normal(0, vol / 4, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, vol / 2, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, vol / 2, n)))
    ts = start_ms + 300_000 * np.arange(n, dtype=np.int64)
    return Candles("synthetic", ts, open_, high, low, close)
