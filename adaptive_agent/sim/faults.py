"""Fault injection settings of the simulator server, changeable while it runs."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from typing import Any

TIMEOUT_MODES = ("delay", "drop")
POST_ONLY_REJECTS = ("error", "order")  # a crossing post-only order: Gate's label, or finish_as poc
BATCH_TEXTS = ("echo", "omit")  # a rejected batch element with or without its request's text


@dataclass
class Faults:
    """What goes wrong, on purpose.

    ``latency_ms``: added to every REST reply. ``error_rate``: fraction of signed Gate REST
    calls answered with Gate's SERVER_ERROR before anything is done (seeded, deterministic).
    ``timeout_after_accept``: the next N order-creating requests are executed and stored, then
    the reply is held for ``timeout_delay_s`` ("delay") or the connection is cut ("drop").
    ``ws_drop``: let this many more websocket messages through, then cut every websocket
    (0: at the next message; ``POST /sim/faults`` with 0 cuts them at once).

    Gate's own ways of saying no (the lifecycle slice). ``post_only_reject``: "error" answers
    a crossing post-only order with Gate's label (POC_FILL_IMMEDIATELY / ORDER_POC_IMMEDIATE);
    "order" creates a spot one finished with ``finish_as = poc`` (spot ``Order.finish_as``
    documents ``poc``; the futures ``finish_as`` enum, in the docs and in the gate-api SDK's
    validation, has none, so futures always answer with the label). ``batch_text``: "omit"
    leaves ``text`` out of rejected batch elements. ``rate_limit_next`` / ``rate_limit_rate``:
    the next N signed calls, or this fraction of them, answer HTTP 429 TOO_MANY_REQUESTS.
    ``unavailable_next``: the next N answer HTTP 503 with no JSON body (as a gateway does).
    All of these refuse before anything is done.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    seed: int = 0
    timeout_after_accept: int = 0
    timeout_delay_s: float = 30.0
    timeout_mode: str = "delay"
    ws_drop: int | None = None
    post_only_reject: str = "error"
    batch_text: str = "echo"
    rate_limit_next: int = 0
    rate_limit_rate: float = 0.0
    unavailable_next: int = 0
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
        if self.post_only_reject not in POST_ONLY_REJECTS:
            raise ValueError(f"post_only_reject must be one of {POST_ONLY_REJECTS}")
        if self.batch_text not in BATCH_TEXTS:
            raise ValueError(f"batch_text must be one of {BATCH_TEXTS}")
        if self.rate_limit_next < 0 or self.unavailable_next < 0:
            raise ValueError("rate_limit_next and unavailable_next must be >= 0")
        if not 0.0 <= self.rate_limit_rate <= 1.0:
            raise ValueError("rate_limit_rate must be within [0, 1]")

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

    def rate_limited_now(self) -> bool:
        """Consume a 429 token, or draw one at ``rate_limit_rate``."""
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return True
        return self.rate_limit_rate > 0 and self._rng.random() < self.rate_limit_rate

    def unavailable_now(self) -> bool:
        """Consume a 503 token if any is left."""
        if self.unavailable_next <= 0:
            return False
        self.unavailable_next -= 1
        return True

    def take_timeout(self) -> bool:
        """Consume one 'accepted, then timed out' token if any is left."""
        if self.timeout_after_accept <= 0:
            return False
        self.timeout_after_accept -= 1
        return True


def _coerce(name: str, value: Any) -> Any:
    if name in ("timeout_mode", "post_only_reject", "batch_text"):
        return str(value)
    if name == "ws_drop":
        return None if value is None else int(value)
    if name in ("seed", "timeout_after_accept", "rate_limit_next", "unavailable_next"):
        return int(value)
    return float(value)
