"""Small market-data makers for tests: a CSV writer and a synthetic random walk."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adaptive_agent.io.loaders import Candles

ROOT = Path(__file__).resolve().parents[2]  # the repository


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
