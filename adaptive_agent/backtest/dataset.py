"""A backtest's market data with the work that depends only on it done once: the aligned
perpetual prices, the basis, and — cached by the settings they depend on — the ATR series
(``strategy.atr_period``), the signal codes at each decision (``strategy.signal_ttl_minutes``)
and the funding schedule (``backtest.funding_rate_default``, ``funding_hours_utc``).

One backtest builds one; a sweep builds one and runs every configuration on it (shipped once
to each worker of a cluster), so a grid of 1,000 settings does not redo this 1,000 times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.indicators import atr_frac_at
from ..core.portfolio_manager import basis
from ..core.signals import SignalSeries
from ..core.time_rules import BAR_MS
from ..io.loaders import Candles, FundingSeries, InputError
from .fill_model import funding_schedule

PERP_END_SLACK_MS = 3_600_000  # perp candles may stop up to an hour before the spot ones


def _align_perp(perp: Candles, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Perpetual close/open at each spot bar: same open time, else the last perp close before it."""
    idx = np.searchsorted(perp.ts, ts, side="right") - 1
    if idx[0] < 0:
        raise InputError(
            f"{perp.path}: perpetual candles start after the first spot candle; use --start to"
            " begin the backtest inside their span"
        )
    if int(perp.ts[-1]) < int(ts[-1]) - PERP_END_SLACK_MS:
        # As-of joining past their end would price the perpetual legs at a stale close for
        # the rest of the run: a result that looks fine and is wrong.
        raise InputError(
            f"{perp.path}: perpetual candles end at {int(perp.ts[-1])}, before the last spot"
            f" candle ({int(ts[-1])}); use --end to stop the backtest inside their span"
        )
    same = perp.ts[idx] == ts
    return perp.close[idx], np.where(same, perp.open[idx], perp.close[idx])


@dataclass
class BacktestData:
    candles: Candles  # P_ref
    signals: SignalSeries | None = None
    funding: FundingSeries | None = None
    perp: Candles | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        n = len(self.candles)
        if n < 2:
            raise InputError(f"{self.candles.path}: at least 2 candles are needed, found {n}")
        c = self.candles
        self.ts = c.ts
        self.dec = c.ts + BAR_MS  # decision time = close of the bar
        self.ref_c, self.ref_o = c.close, c.open
        self.perp_c, self.perp_o = (
            (c.close, c.open) if self.perp is None else _align_perp(self.perp, c.ts)
        )
        self.basis = basis(self.perp_c, self.ref_c)

    def __len__(self) -> int:
        return len(self.ts)

    def atr(self, period: int) -> np.ndarray:
        key = ("atr", period)
        if key not in self._cache:
            c = self.candles
            self._cache[key] = atr_frac_at(self.dec, self.ts, c.high, c.low, c.close, period)
        return self._cache[key]

    def signal_codes(self, ttl_ms: int | None) -> np.ndarray:
        key = ("signals", ttl_ms)
        if key not in self._cache:
            self._cache[key] = (
                self.signals.codes_at(self.dec, ttl_ms)
                if self.signals is not None
                else np.zeros(len(self.ts), dtype=np.int8)
            )
        return self._cache[key]

    def funding_schedule(
        self, default_rate: float, hours: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
        """``(gap_k, bar_k, instants, cumsum(gap_k + bar_k))`` (``fill_model.funding_schedule``)."""
        key = ("funding", float(default_rate), tuple(hours))
        if key not in self._cache:
            gap_k, bar_k, n = funding_schedule(
                self.ts, self.dec, self.perp_c, self.funding, default_rate, hours
            )
            self._cache[key] = (gap_k, bar_k, n, np.cumsum(gap_k + bar_k))
        return self._cache[key]

    def __getstate__(self) -> dict:
        """Pickled (to a worker) without the caches: each worker fills its own."""
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state
