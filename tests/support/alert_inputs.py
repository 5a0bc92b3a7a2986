"""Inputs for the alert rules in tests: a settable wall clock and a bar to vary."""

from __future__ import annotations

from dataclasses import replace

from adaptive_agent.core.time_rules import MINUTE_MS
from adaptive_agent.records import BarSnapshot

MIN = MINUTE_MS


class Clock:
    def __init__(self, t: int = 1_750_000_000_000) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t

    def advance(self, minutes: float) -> None:
        self.t += int(minutes * MIN)


def bar(t: int = 0, **kw) -> BarSnapshot:
    base = BarSnapshot(
        time_ms=1_750_000_000_000 + t,
        nav=10_000.0,
        price_ref=60_000.0,
        basis=0.0,
        w_spot=0.5,
        w_long=0.0,
        w_short=0.5,
        delta_usdt=0.0,
        delta_frac=0.0,
        margin_frac=0.2,
        safe_mode=False,
        funding_rate=0.0001,
    )
    return replace(base, **kw)
