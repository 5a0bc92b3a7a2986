"""Fault injection settings of the simulator server, changeable while it runs."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from typing import Any

TIMEOUT_MODES = ("delay", "drop")


@dataclass
class Faults:
    """What goes wrong, on purpose.

    ``latency_ms``: added to every REST reply. ``error_rate``: fraction of signed Gate REST
    calls answered with Gate's SERVER_ERROR before anything is done (seeded, deterministic).
    ``timeout_after_accept``: the next N order-creating requests are executed and stored, then
    the reply is held for ``timeout_delay_s`` ("delay") or the connection is cut ("drop").
    ``ws_drop``: let this many more websocket messages through, then cut every websocket
    (0: at the next message; ``POST /sim/faults`` with 0 cuts them at once).
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    seed: int = 0
    timeout_after_accept: int = 0
    timeout_delay_s: float = 30.0
    timeout_mode: str = "delay"
    ws_drop: int | None = None
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._check()
        self._rng = random.Random(self.seed)

    def _check(self) -> None:
        if self.latency_ms < 0 or self.timeout_delay_s < 0 or self.timeout_after_accept < 0:
            raise ValueError("latency_ms, timeout_delay_s and timeout_after_accept must be >= 0")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be within [0, 1]")
        if self.timeout_mode not in TIMEOUT_MODES:
            raise ValueError(f"timeout_mode must be one of {TIMEOUT_MODES}")
        if self.ws_drop is not None and self.ws_drop < 0:
            raise ValueError("ws_drop must be >= 0 or null")

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a JSON object of settings; unknown names or bad values raise ValueError."""
        names = {f.name: f for f in fields(self) if f.init}
        unknown = set(changes) - set(names)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        old = self.public()
        try:
            for name, value in changes.items():
                setattr(self, name, _coerce(name, value))
            self._check()
        except (TypeError, ValueError):
            for name, value in old.items():
                setattr(self, name, value)
            raise
        if "seed" in changes:
            self._rng = random.Random(self.seed)

    def public(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    def fail_now(self) -> bool:
        """Draw whether this private call gets a server error."""
        return self.error_rate > 0 and self._rng.random() < self.error_rate

    def take_timeout(self) -> bool:
        """Consume one 'accepted, then timed out' token if any is left."""
        if self.timeout_after_accept <= 0:
            return False
        self.timeout_after_accept -= 1
        return True


def _coerce(name: str, value: Any) -> Any:
    if name == "timeout_mode":
        return str(value)
    if name == "ws_drop":
        return None if value is None else int(value)
    if name in ("seed", "timeout_after_accept"):
        return int(value)
    return float(value)
