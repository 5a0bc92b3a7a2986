"""The liquidation watch of the live and paper loops (docs/rules.md, Liquidation watch).

At every close it reads both dual-mode sides (liquidation price, maintenance margin) and
measures the nearest side's distance to liquidation (``core.liquidation_rules``). Under
``safe_mode.min_liquidation_distance`` it first tries to top the futures wallet up, when the
account is cross-margined and a ``top_up`` hook is given (classic account: the wallet manager
moves USDT from spot; it returns the USDT actually moved), then alerts once per episode. The
distance goes to the core, whose ``LIQUIDATION_NEAR`` safe-mode code holds exposure-raising
orders. A top-up does not help an isolated side (its margin is its own), so none is tried.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from ..config import AppConfig
from ..core.liquidation_rules import SideRisk, cross_top_up, liquidation_near, nearest
from ..exchange.exchange_gate import ExchangeError, ExchangeGate, MarginSide

log = logging.getLogger("adaptive_agent.liquidation")
TopUp = Callable[[float], Awaitable[float]]  # USDT wanted -> USDT actually moved


def side_risks(sides: tuple[MarginSide, ...], contract_btc: float) -> list[SideRisk]:
    return [
        SideRisk(s.side, s.contracts * contract_btc, s.entry_price, s.mark_price, s.liq_price)
        for s in sides
    ]


class LiquidationWatch:
    def __init__(
        self,
        gate: ExchangeGate,
        cfg: AppConfig,
        alert: Callable[[str, str], None],
        top_up: TopUp | None = None,
    ) -> None:
        self.gate, self.alert, self.top_up = gate, alert, top_up
        self.min_distance = cfg.safe_mode.min_liquidation_distance
        self.target = cfg.safe_mode.liquidation_top_up_distance
        self.taker = cfg.fees.perp_taker
        self.contract_btc = cfg.venue.perp_contract_btc
        self.near = False  # an alert went out for the present episode
        self.topped_up_usdt = 0.0

    async def _read(self) -> tuple[tuple[MarginSide, ...], float]:
        sides = await self.gate.get_margin_sides()
        return sides, nearest(side_risks(sides, self.contract_btc))

    async def check(self) -> float | None:
        """The nearest distance after any top-up; None when it cannot be read."""
        try:
            sides, dist = await self._read()
            if not liquidation_near(dist, self.min_distance):
                self.near = False
                return dist
            held = [s for s in sides if s.contracts > 0]
            if self.top_up is not None and held and all(s.leverage == 0 for s in held):
                rate = max(s.maintenance_rate for s in held) + self.taker
                want = cross_top_up(side_risks(held, self.contract_btc), rate, self.target)
                moved = await self.top_up(want) if want > 0 else 0.0
                if moved > 0:
                    self.topped_up_usdt += moved
                    sides, after = await self._read()
                    self.alert(
                        "liquidation_top_up",
                        f"liquidation {dist:.1%} away: moved {moved:.2f} of {want:.2f} USDT"
                        f" to the futures wallet; now {after:.1%} away",
                    )
                    dist = after
        except ExchangeError as exc:
            log.warning("liquidation watch: cannot read the positions: %s", exc)
            return None
        if liquidation_near(dist, self.min_distance) and not self.near:
            self.near = True
            self.alert(
                "liquidation_near",
                f"a perpetual side is {dist:.1%} from its liquidation price (under"
                f" {self.min_distance:.0%}); safe mode holds exposure-raising orders",
            )
        elif not liquidation_near(dist, self.min_distance):
            self.near = False
        return dist
