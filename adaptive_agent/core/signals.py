"""Signals: the one parser of signal names, and the signal state at a time (docs/rules.md,
Signal gate): the last signal at or before it, optionally expiring.

Signals are stored as int8 codes so that the backtester can look up every decision time at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import Signal

SIGNAL_OF = {0: Signal.NONE, 1: Signal.BUY, -1: Signal.SELL}
CODE_OF_NAME = {"BUY": 1, "SELL": -1, "NONE": 0}  # names as written in files and requests
SIGNAL_EXPECTED = "(expected BUY, SELL or NONE)"


def parse_signal(name: object) -> Signal:
    """``BUY``/``SELL``/``NONE`` in any case, surrounding blanks ignored; else ``ValueError``."""
    code = CODE_OF_NAME.get(str(name).strip().upper())
    if code is None or isinstance(name, bool):
        raise ValueError(f"unknown signal {name!r} {SIGNAL_EXPECTED}")
    return SIGNAL_OF[code]


@dataclass(frozen=True, slots=True)
class SignalSeries:
    ts_ms: np.ndarray  # int64, non-decreasing
    codes: np.ndarray  # int8

    @classmethod
    def empty(cls) -> SignalSeries:
        return cls(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int8))

    def codes_at(self, times_ms: np.ndarray, ttl_ms: int | None = None) -> np.ndarray:
        """Signal code in force at each time; a later row wins on equal timestamps."""
        if len(self.ts_ms) == 0:
            return np.zeros(len(times_ms), dtype=np.int8)
        idx = np.searchsorted(self.ts_ms, times_ms, side="right") - 1
        safe = np.clip(idx, 0, None)
        out = np.where(idx >= 0, self.codes[safe], 0).astype(np.int8)
        if ttl_ms is not None:
            out[(idx >= 0) & (times_ms - self.ts_ms[safe] > ttl_ms)] = 0
        return out

    def at(self, time_ms: int, ttl_ms: int | None = None) -> Signal:
        """``codes_at`` for one time (a live or paper close), without building arrays."""
        i = int(np.searchsorted(self.ts_ms, time_ms, side="right")) - 1
        if i < 0 or (ttl_ms is not None and time_ms - int(self.ts_ms[i]) > ttl_ms):
            return Signal.NONE
        return SIGNAL_OF[int(self.codes[i])]
