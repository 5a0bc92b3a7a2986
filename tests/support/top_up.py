"""A stand-in for the wallet manager's futures top-up: moves spot USDT into the simulator's
futures wallet in process (the real one goes through ``POST /wallet/transfers``)."""

from __future__ import annotations

from adaptive_agent.sim.matching import SimMarket


class SimTopUp:
    """``await top_up(usdt_wanted) -> usdt_moved``: as much as spot USDT allows."""

    def __init__(self, market: SimMarket) -> None:
        self.m = market
        self.calls: list[tuple[float, float]] = []  # (wanted, moved)

    async def __call__(self, wanted: float) -> float:
        spot = self.m._spot.free
        moved = max(0.0, min(wanted, spot["USDT"]))
        if moved > 0:
            spot["USDT"] -= moved
            self.m._futures.cash += moved
            self.m._futures.book_line("dnw", moved, "", self.m.now_ms)
        self.calls.append((wanted, moved))
        return moved
