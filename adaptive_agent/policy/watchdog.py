"""Resource watchdog: CPU and RSS of the agent's own process, sampled with psutil.

* CPU is ``psutil.Process().cpu_percent()`` over the last sampling interval divided by 100, i.e.
  the fraction of ONE core (1.0 = one core fully busy; it can exceed 1.0 with several busy threads).
  So ``max_cpu_frac = 0.5`` means "half a core", the figure ``top`` shows as 50 %. This is stricter
  than "50 % of the machine" on a multi-core host, and it does not depend on the core count.
* RSS is in MiB (``rss / 2**20``), compared with ``max_rss_mb`` (2048 = 2 GB; docs/rules.md,
  Policy).

``breaches(sample, limits)`` is the pure decision. :class:`Watchdog` adds the state machine: each
resource (cpu, rss) enters the breach state after ``trip_after`` consecutive breaching samples and
leaves it after ``clear_after`` consecutive clean ones; only those two transitions are logged and
reported (``on_breach(reason)`` / ``on_clear(message)``), never every sample. Requiring a few
samples filters one-off spikes (start-up imports, a backfill) that would otherwise put the engine
in safe mode for 30 minutes; with the defaults (5 s, 3 samples) a sustained breach trips in 15 s.

The sampler runs on a daemon *thread*, not an asyncio task: a task cannot run while the event loop
is busy, which is exactly when CPU must be watched, and a thread keeps the loop free of psutil
calls. Callbacks are therefore called on the watchdog thread; to act on the event loop wrap them
with :func:`in_loop` (``loop.call_soon_threadsafe``). A callback that raises is logged and the
watchdog carries on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

__all__ = ["Limits", "ProcessSampler", "Sample", "Watchdog", "breaches", "in_loop"]

log = logging.getLogger("adaptive_agent.policy.watchdog")
Callback = Callable[[str], object]


@dataclass(frozen=True, slots=True)
class Sample:
    cpu_frac: float  # CPU over the last interval, as a fraction of one core
    rss_mb: float  # resident set size in MiB
    time: float = 0.0  # time.monotonic() when taken


@dataclass(frozen=True, slots=True)
class Limits:
    max_cpu_frac: float = 0.5
    max_rss_mb: float = 2048.0

    @classmethod
    def from_policy(cls, policy: Any) -> Limits:
        """From ``AppConfig.policy`` (``max_cpu_frac``, ``max_rss_mb``)."""
        return cls(float(policy.max_cpu_frac), float(policy.max_rss_mb))


def _breach_map(sample: Sample, limits: Limits) -> dict[str, str]:
    out = {}
    if sample.cpu_frac > limits.max_cpu_frac:
        out["cpu"] = f"cpu {sample.cpu_frac:.0%} of one core > limit {limits.max_cpu_frac:.0%}"
    if sample.rss_mb > limits.max_rss_mb:
        out["rss"] = f"rss {sample.rss_mb:.0f} MB > limit {limits.max_rss_mb:.0f} MB"
    return out


def breaches(sample: Sample, limits: Limits) -> list[str]:
    """The limits ``sample`` exceeds (strictly), one readable reason each; empty when within."""
    return list(_breach_map(sample, limits).values())


class ProcessSampler:
    """Samples one process (default: this one). The first CPU reading starts at construction."""

    def __init__(self, pid: int | None = None) -> None:
        self._proc = psutil.Process(pid)
        self._proc.cpu_percent(None)  # psutil's first call only sets the baseline

    def __call__(self) -> Sample:
        with self._proc.oneshot():
            cpu = self._proc.cpu_percent(None) / 100.0
            rss = self._proc.memory_info().rss / 2**20
        return Sample(cpu_frac=cpu, rss_mb=rss, time=time.monotonic())


def in_loop(loop: asyncio.AbstractEventLoop, callback: Callback) -> Callback:
    """Wrap ``callback`` so that the watchdog thread schedules it on ``loop`` instead."""

    def schedule(message: str) -> None:
        loop.call_soon_threadsafe(callback, message)

    return schedule


class Watchdog:
    """Watches CPU and RSS; reports entering and leaving the breach state, once each."""

    def __init__(
        self,
        limits: Limits,
        *,
        on_breach: Callback | None = None,
        on_clear: Callback | None = None,
        interval_s: float = 5.0,
        trip_after: int = 3,
        clear_after: int = 3,
        sampler: Callable[[], Sample] | None = None,
    ) -> None:
        if interval_s <= 0 or trip_after < 1 or clear_after < 1:
            raise ValueError("watchdog: interval_s > 0, trip_after >= 1, clear_after >= 1")
        self.limits = limits
        self.interval_s = float(interval_s)
        self.trip_after, self.clear_after = int(trip_after), int(clear_after)
        self._on_breach, self._on_clear = on_breach, on_clear
        self._sampler = sampler
        self._over = {"cpu": 0, "rss": 0}
        self._under = {"cpu": 0, "rss": 0}
        self._tripped: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error: str | None = None
        self.last_sample: Sample | None = None

    # --- state -------------------------------------------------------------------------------

    @property
    def breached(self) -> bool:
        """True while any resource is in the breach state (the engine's safe-mode input)."""
        return bool(self._tripped)

    @property
    def reasons(self) -> tuple[str, ...]:
        """The reasons of the resources currently in the breach state."""
        return tuple(self._tripped.values())

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def observe(self, sample: Sample) -> list[str]:
        """Feed one sample; returns the breach reasons *entered* with it (usually none)."""
        current = _breach_map(sample, self.limits)
        entered: list[tuple[str, str]] = []
        cleared: list[tuple[str, str]] = []
        with self._lock:
            self.last_sample = sample
            for key in self._over:
                if key in current:
                    self._over[key] += 1
                    self._under[key] = 0
                    if key not in self._tripped and self._over[key] >= self.trip_after:
                        self._tripped[key] = current[key]
                        entered.append((key, current[key]))
                else:
                    self._under[key] += 1
                    self._over[key] = 0
                    if key in self._tripped and self._under[key] >= self.clear_after:
                        was = self._tripped.pop(key)
                        cleared.append((key, f"{key} back within limits (was: {was})"))
        for _, reason in entered:
            log.warning("resource watchdog: breach: %s", reason)
            self._call(self._on_breach, reason)
        for _, message in cleared:
            log.info("resource watchdog: cleared: %s", message)
            self._call(self._on_clear, message)
        return [reason for _, reason in entered]

    def _call(self, callback: Callback | None, message: str) -> None:
        if callback is None:
            return
        try:
            callback(message)
        except Exception:
            log.exception("resource watchdog: callback failed for %r", message)

    # --- thread ------------------------------------------------------------------------------

    def start(self) -> Watchdog:
        """Start sampling on a daemon thread (idempotent)."""
        if self.running:
            return self
        if self._sampler is None:
            self._sampler = ProcessSampler()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="resource-watchdog", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (idempotent); the breach state is kept for inspection."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        sampler = self._sampler
        assert sampler is not None
        while not self._stop.wait(self.interval_s):
            try:
                sample = sampler()
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                if error != self._last_error:  # log each distinct failure once, not every tick
                    log.error("resource watchdog: sampling failed: %s", error)
                    self._last_error = error
                continue
            self._last_error = None
            self.observe(sample)

    def __enter__(self) -> Watchdog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
