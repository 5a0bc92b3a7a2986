"""When funding settles in the simulator, and at which rate.

Instants come from ``core.time_rules`` (the rule every mode shares): the whole UTC hours in
``hours_utc``, by default Gate's 00/08/16 (docs/rules.md, "Time"). The backtester takes the
same hours from ``backtest.funding_hours_utc``.
"""

from __future__ import annotations

import numpy as np

from ..core.time_rules import funding_instants, next_funding_ms
from ..io.loaders import FundingSeries

DEFAULT_HOURS_UTC = (0, 8, 16)


def check_hours(hours_utc: tuple[int, ...]) -> tuple[int, ...]:
    """Distinct whole hours in 0..23, at least one (the simulator always has a next instant)."""
    hours = tuple(int(h) for h in hours_utc)
    if not hours or any(h < 0 or h > 23 for h in hours) or len(set(hours)) != len(hours):
        raise ValueError(f"funding hours must be distinct whole hours in 0..23, got {hours_utc!r}")
    return hours


class FundingSchedule:
    """Funding instants and rates. ``due`` walks the clock forward without rescanning days."""

    def __init__(
        self,
        start_ms: int,
        hours_utc: tuple[int, ...] = DEFAULT_HOURS_UTC,
        series: FundingSeries | None = None,
        default_rate: float = 0.0001,
    ) -> None:
        self.hours_utc = check_hours(hours_utc)
        self.series = series
        self.default_rate = float(default_rate)
        self._next = next_funding_ms(start_ms, self.hours_utc)  # first instant not yet due
        self._rate_memo: tuple[int | None, float] = (None, 0.0)

    def instants(self, after_ms: int, upto_ms: int) -> list[int]:
        """Funding instants t with after < t <= upto."""
        return [int(t) for t in funding_instants(after_ms, upto_ms, self.hours_utc)]

    def next_after(self, now_ms: int) -> int:
        return next_funding_ms(now_ms, self.hours_utc)

    def due(self, after_ms: int, upto_ms: int) -> list[int]:
        """The instants in (after, upto] as the clock moves from ``after`` to ``upto``;
        calls must follow the clock (each ``after`` the previous ``upto``)."""
        if upto_ms < self._next:
            return []
        out = self.instants(after_ms, upto_ms)
        self._next = self.next_after(upto_ms)
        return out

    def rate_at(self, t_ms: int) -> float:
        """The rate that settles at ``t_ms`` (the series' last rate at or before it)."""
        if self.series is None:
            return self.default_rate
        if self._rate_memo[0] != t_ms:  # asked at every close for the same next instant
            rate = float(
                self.series.rate_at(np.array([t_ms], dtype=np.int64), self.default_rate)[0]
            )
            self._rate_memo = (t_ms, rate)
        return self._rate_memo[1]
