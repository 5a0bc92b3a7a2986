"""The candle path the simulator unit tests replay: the first 600 bundled bars (August 2022)."""

from __future__ import annotations

import pytest

from adaptive_agent.io.loaders import Candles


@pytest.fixture(scope="module")
def path(spot) -> Candles:
    return spot.slice(0, 600)
