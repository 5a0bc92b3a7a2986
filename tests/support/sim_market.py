"""Building ``SimMarket``s for unit tests, and reading the Gate label of a refusal."""

from __future__ import annotations

import pytest

from adaptive_agent.io.loaders import Candles
from adaptive_agent.sim.matching import SimMarket
from adaptive_agent.sim.orders import SimError, SimFees

FEES = SimFees(spot_maker=0.001, spot_taker=0.002, perp_maker=0.0002, perp_taker=0.0005)
SLIP = 0.0002


def make(path: Candles, **kw) -> SimMarket:
    """A dual-mode market with the test fees and slippage unless ``kw`` says otherwise."""
    kw.setdefault("fees", FEES)
    kw.setdefault("slippage", SLIP)
    kw.setdefault("dual_mode", True)
    return SimMarket(path, **kw)


def on_tick(x: float) -> bool:
    return abs(x * 10 - round(x * 10)) < 1e-6


def error_of(call) -> SimError:
    with pytest.raises(SimError) as err:
        call()
    return err.value


def label_of(call) -> str:
    return error_of(call).label
