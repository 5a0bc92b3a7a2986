"""The port every sink implements. A sink must never block or break trading: ``Monitor``
methods return at once and swallow their own errors."""

from __future__ import annotations

from typing import Protocol

from ..records import BarSnapshot, RebalanceRecord, TradeRecord


class Monitor(Protocol):
    """A consumer of the agent's reports. Implementations must not raise or block."""

    def on_bar(self, bar: BarSnapshot) -> None: ...

    def on_rebalance(self, rebalance: RebalanceRecord, trades: list[TradeRecord]) -> None: ...

    def on_alert(self, kind: str, text: str, time_ms: int) -> None: ...

    def close(self) -> None: ...
