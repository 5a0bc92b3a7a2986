"""What an operator can ask of the running agent (the Telegram commands' ``AgentControl``)."""

from __future__ import annotations

import asyncio
import time

from ..core.time_rules import utc_text
from ..reports.digest import build_digest, format_digest, utc_day
from .agent import Agent


class LiveControl:
    def __init__(self, agent: Agent, stop: asyncio.Event, nav0: float | None = None) -> None:
        self.agent, self.stop_event, self.nav0 = agent, stop, nav0

    async def status(self) -> str:
        a = self.agent
        last = a.plans[-1] if a.plans else None
        if last is None:
            return "no close processed yet"
        return (
            f"last close {utc_text(last.time_ms)}: NAV {last.nav:,.2f} USDT, drift {last.drift:.3%}"
            f" (threshold {last.threshold:.3%}), signal {last.signal},"
            f" safe mode {'ON: ' + '; '.join(last.safe_mode_reasons) if last.safe_mode else 'off'},"
            f" rebalances so far {a.rebalance_count}"
        )

    async def balance(self) -> str:
        bal = await self.agent.gate.get_balances()
        pos = await self.agent.gate.get_positions()
        return (
            f"spot: {bal.spot_usdt:,.2f} USDT, {bal.spot_btc:.6f} BTC\n"
            f"futures: {bal.futures_usdt:,.2f} USDT ({bal.futures_available:,.2f} available)\n"
            f"long {pos.long_contracts} ct @ {pos.long_entry:,.1f},"
            f" short {pos.short_contracts} ct @ {pos.short_entry:,.1f}, mark {pos.mark_price:,.1f}"
        )

    async def digest(self) -> str:
        # Today so far, as /help says (the daily digest at midnight covers the day just ended);
        # on the agent's clock: the replay's in paper.
        day = utc_day(self.agent.now_ms())
        return format_digest(build_digest(self.agent.store, day, self.nav0))

    async def set_safe_mode(self, on: bool) -> str:
        self.agent.store.set_manual_safe_mode(on, int(time.time() * 1000))
        return f"manual safe mode {'ON: exposure-raising orders are held' if on else 'off'}"

    async def stop(self) -> str:
        self.stop_event.set()
        return "stopping after the current bar"
