"""Resource watchdog: the pure decision, breach/clear reporting, the thread, a real sample."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

import psutil
import pytest

from adaptive_agent.config import AppConfig
from adaptive_agent.policy.watchdog import (
    Limits,
    ProcessSampler,
    Sample,
    Watchdog,
    breaches,
    in_loop,
)

LIMITS = Limits(max_cpu_frac=0.5, max_rss_mb=2048.0)
OK = Sample(cpu_frac=0.10, rss_mb=300.0)
HOT = Sample(cpu_frac=0.73, rss_mb=300.0)
FAT = Sample(cpu_frac=0.10, rss_mb=2100.0)
BOTH = Sample(cpu_frac=1.50, rss_mb=4096.0)


def test_breaches_is_a_pure_strict_comparison() -> None:
    assert breaches(OK, LIMITS) == []
    assert breaches(Sample(0.5, 2048.0), LIMITS) == []  # at the limit is within it
    assert breaches(HOT, LIMITS) == ["cpu 73% of one core > limit 50%"]
    assert breaches(FAT, LIMITS) == ["rss 2100 MB > limit 2048 MB"]
    assert breaches(BOTH, LIMITS) == [
        "cpu 150% of one core > limit 50%",
        "rss 4096 MB > limit 2048 MB",
    ]


def test_limits_come_from_the_configuration() -> None:
    assert Limits.from_policy(AppConfig().policy) == LIMITS


def recording_watchdog(**kwargs) -> tuple[Watchdog, list[str], list[str]]:  # type: ignore[no-untyped-def]
    breached: list[str] = []
    cleared: list[str] = []
    dog = Watchdog(LIMITS, on_breach=breached.append, on_clear=cleared.append, **kwargs)
    return dog, breached, cleared


def test_breach_is_reported_on_entering_and_on_leaving_only(caplog) -> None:
    dog, breached, cleared = recording_watchdog(trip_after=1, clear_after=1)
    with caplog.at_level(logging.INFO, logger="adaptive_agent.policy.watchdog"):
        assert dog.observe(OK) == []
        assert dog.observe(HOT) == ["cpu 73% of one core > limit 50%"]
        for _ in range(10):
            assert dog.observe(HOT) == []  # still breached: not reported again
        assert dog.breached and dog.reasons == ("cpu 73% of one core > limit 50%",)
        assert dog.observe(BOTH) == ["rss 4096 MB > limit 2048 MB"]  # a new resource
        assert dog.observe(OK) == []
        assert dog.observe(OK) == []
    assert breached == ["cpu 73% of one core > limit 50%", "rss 4096 MB > limit 2048 MB"]
    assert cleared == [
        "cpu back within limits (was: cpu 73% of one core > limit 50%)",
        "rss back within limits (was: rss 4096 MB > limit 2048 MB)",
    ]
    assert not dog.breached and dog.last_sample == OK
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(warnings) == 2 and len(infos) == 2  # 14 samples, 4 log lines
    assert "resource watchdog: breach: cpu 73%" in warnings[0].getMessage()


def test_spikes_shorter_than_trip_after_are_ignored_and_clearing_needs_a_streak() -> None:
    dog, breached, cleared = recording_watchdog(trip_after=3, clear_after=2)
    for s in (HOT, HOT, OK, HOT, HOT, OK, FAT, OK):
        dog.observe(s)
    assert breached == [] and not dog.breached
    for s in (HOT, HOT, HOT):
        dog.observe(s)
    assert len(breached) == 1
    dog.observe(OK)
    dog.observe(HOT)  # the clean streak restarts
    dog.observe(OK)
    assert cleared == [] and dog.breached
    dog.observe(OK)
    assert len(cleared) == 1 and not dog.breached


def test_a_failing_callback_is_logged_and_the_watchdog_carries_on(caplog) -> None:
    def explode(reason: str) -> None:
        raise RuntimeError("alert channel down")

    dog = Watchdog(LIMITS, on_breach=explode, trip_after=1)
    with caplog.at_level(logging.ERROR, logger="adaptive_agent.policy.watchdog"):
        assert dog.observe(FAT) == ["rss 2100 MB > limit 2048 MB"]
    assert dog.breached and "callback failed" in caplog.text


def test_bad_parameters_are_rejected() -> None:
    for kwargs in ({"interval_s": 0}, {"trip_after": 0}, {"clear_after": 0}):
        with pytest.raises(ValueError):
            Watchdog(LIMITS, **kwargs)


def test_the_thread_samples_reports_and_stops() -> None:
    samples = iter([OK, HOT, HOT, OK, OK] + [OK] * 10_000)
    entered, left = threading.Event(), threading.Event()
    seen: list[str] = []
    dog = Watchdog(
        LIMITS,
        on_breach=lambda r: (seen.append(threading.current_thread().name), entered.set()),
        on_clear=lambda m: left.set(),
        interval_s=0.005,
        trip_after=2,
        clear_after=2,
        sampler=lambda: next(samples),
    )
    with dog:
        assert dog.start() is dog and dog.running  # start is idempotent
        assert entered.wait(10) and left.wait(10)
    assert not dog.running
    assert seen == ["resource-watchdog"]
    dog.stop()  # idempotent


def test_sampling_failures_are_logged_once(caplog) -> None:
    calls = []

    def broken() -> Sample:
        calls.append(1)
        raise psutil.AccessDenied(os.getpid())

    dog = Watchdog(LIMITS, interval_s=0.002, sampler=broken)
    with caplog.at_level(logging.ERROR, logger="adaptive_agent.policy.watchdog"), dog:
        deadline = time.monotonic() + 10
        while len(calls) < 5 and time.monotonic() < deadline:
            time.sleep(0.005)
    assert len(calls) >= 5
    assert caplog.text.count("sampling failed") == 1


def test_a_real_psutil_sample_of_this_process() -> None:
    sampler = ProcessSampler()
    sum(i * i for i in range(200_000))  # a little CPU between the baseline and the sample
    sample = sampler()
    rss_now = psutil.Process().memory_info().rss / 2**20
    assert 0.0 <= sample.cpu_frac < 64.0  # fraction of one core, bounded by the core count
    assert 10.0 < sample.rss_mb < 8192.0
    assert abs(sample.rss_mb - rss_now) < 0.5 * rss_now
    assert sample.time <= time.monotonic()
    assert breaches(sample, Limits(max_cpu_frac=1e9, max_rss_mb=1.0)) == [
        f"rss {sample.rss_mb:.0f} MB > limit 1 MB"
    ]


def test_in_loop_hands_the_report_to_the_event_loop() -> None:
    async def scenario() -> tuple[str, str]:
        loop = asyncio.get_running_loop()
        got: asyncio.Future[tuple[str, str]] = loop.create_future()
        callback = in_loop(loop, lambda r: got.set_result((r, threading.current_thread().name)))
        threading.Thread(target=callback, args=("rss 1 MB > limit",), name="other").start()
        return await asyncio.wait_for(got, 10)

    reason, thread = asyncio.run(scenario())
    assert reason == "rss 1 MB > limit" and thread == threading.main_thread().name
