"""The liquidation watch's own rules: a failed read, an isolated account, one alert per episode."""

from __future__ import annotations

import asyncio

from adaptive_agent.config import AppConfig
from adaptive_agent.exchange.exchange_gate import ExchangeError, MarginSide
from adaptive_agent.exchange.paper_exchange import PaperExchange
from adaptive_agent.runner.liquidation_watch import LiquidationWatch
from tests.support.market_data import random_walk
from tests.support.sim_market import make


class Sides(PaperExchange):
    """A venue whose sides the test sets; ``None`` makes the read fail."""

    def __init__(self) -> None:
        super().__init__(make(random_walk(2, 5)))
        self.sides: tuple[MarginSide, ...] | None = ()

    async def get_margin_sides(self):
        if self.sides is None:
            raise ExchangeError("HTTP 502", "SERVER_ERROR")
        return self.sides


def short(liq: float, leverage: float = 0.0) -> MarginSide:
    return MarginSide("short", 1_000, 20_000.0, 20_000.0, leverage, 3.0, 600.0, liq, 0.003)


def test_watch_rules():
    venue, alerts, asked = Sides(), [], []

    async def top_up(usdt):
        asked.append(usdt)
        return 0.0

    watch = LiquidationWatch(venue, AppConfig(), lambda k, t: alerts.append(k), top_up)

    async def run():
        venue.sides = None
        assert await watch.check() is None  # unreadable: no condition, a warning
        venue.sides = (short(30_000.0),)
        assert await watch.check() == 0.5
        venue.sides = (short(22_000.0),)
        assert abs(await watch.check() - 0.1) < 1e-12
        assert await watch.check() < 0.15  # still near: no second alert
        venue.sides = (short(30_000.0),)
        await watch.check()  # the episode ends
        venue.sides = (short(22_000.0, leverage=3.0),)  # isolated: a top-up cannot help
        n = len(asked)
        await watch.check()
        assert len(asked) == n

    asyncio.run(run())
    assert alerts == ["liquidation_near", "liquidation_near"]
    assert len(asked) == 2 and all(a > 0 for a in asked)  # cross, twice while near
