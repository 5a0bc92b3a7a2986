"""The daily tasks: the digest at once, the audit in a worker process of its own."""

from __future__ import annotations

import asyncio
import logging
import os
from types import SimpleNamespace

import pytest

from adaptive_agent.config import AppConfig
from adaptive_agent.records import BarSnapshot
from adaptive_agent.reports.audit_log import DeferredLog
from adaptive_agent.runner import services
from adaptive_agent.state.store import StateStore

DAY_INDEX = 20_000  # 2024-10-04


def _cfg(tmp_path, **audit):
    cfg = AppConfig()
    return cfg.model_copy(
        update={
            "reports": cfg.reports.model_copy(
                update={"daily_dir": str(tmp_path / "d"), "audit_dir": str(tmp_path / "a")}
            ),
            "audit": cfg.audit.model_copy(update=audit),
        }
    )


def _run(tasks, days):
    async def go():
        for d in days:
            await tasks(d)
        await tasks.drain()

    asyncio.run(go())


def test_the_audit_runs_in_another_process_and_its_logs_come_back(tmp_path, caplog):
    store = StateStore(tmp_path / "s.db")
    alerts: list[tuple[str, str]] = []
    agent = SimpleNamespace(store=store, alert=lambda k, t: alerts.append((k, t)))
    tasks = services.daily_tasks(_cfg(tmp_path), agent, [])
    try:
        with caplog.at_level(logging.INFO, logger="adaptive_agent.audit"):
            _run(tasks, [DAY_INDEX, DAY_INDEX + 1])
    finally:
        store.close()
    assert (tmp_path / "d" / "digest-2024-10-04.json").exists()  # the digest, at once
    audit_logs = [r for r in caplog.records if r.name == "adaptive_agent.audit"]
    assert [r.getMessage()[:16] for r in audit_logs] == ["audit 2024-10-04", "audit 2024-10-05"]
    assert {r.process for r in audit_logs} != {os.getpid()}  # logged by the worker process
    assert tasks._pool is None and tasks._logs is None  # drained: the worker is gone


def test_a_replay_gets_the_rows_back_for_its_one_log_save(tmp_path):
    store = StateStore(tmp_path / "s.db")
    start = DAY_INDEX * 86_400_000
    for i, nav in enumerate((100.0, 95.0, 90.0)):  # a 10 % drawdown: Max DD flagged
        store.add_bar(BarSnapshot(start + (i + 1) * 300_000, nav, *_REST))
    agent = SimpleNamespace(store=store, alert=lambda k, t: None)
    deferred = DeferredLog()
    cfg = _cfg(tmp_path, target_max_dd=0.01)
    tasks = services.daily_tasks(cfg, agent, [], log_rows=deferred, evidence=False)
    try:
        _run(tasks, [DAY_INDEX])
    finally:
        store.close()
    assert (tmp_path / "a" / "proposal-2024-10-04.md").exists()  # written by the worker
    assert not (tmp_path / "a" / "Log.xlsx").exists()  # its log row came back instead
    assert len(deferred.rows) == 1 and deferred.out == tmp_path / "a"
    assert deferred.rows[0][0] == "2024-10-04"


_REST = (20_000.0, 0.001, 0.5, 0.0, 0.5, 1.0, 1e-5, 0.1, False)


def test_log_rows_is_the_workbook_or_a_deferred_log(tmp_path):
    with pytest.raises(TypeError, match="DeferredLog"):
        services.daily_tasks(_cfg(tmp_path), SimpleNamespace(), [], log_rows=print)


def _audit_worker_pids() -> list[int]:
    """The worker processes forked by this process's forkserver."""
    import psutil

    me = psutil.Process()
    servers = [c for c in me.children() if "forkserver" in " ".join(c.cmdline())]
    return [w.pid for s in servers for w in s.children()]


def _kill_the_worker_after(tmp_path, caplog, settled: list[int], handed: list[int]) -> None:
    """Audits of the ``settled`` day offsets run to the end, then those of ``handed`` are
    handed over and the worker is SIGKILLed while it has them; every day has a 10 % drawdown
    (Max DD flagged), so each audit that runs writes its proposal file."""
    import signal as sig

    store = StateStore(tmp_path / "s.db")
    for day in (*settled, *handed):
        start = (DAY_INDEX + day) * 86_400_000
        for i, nav in enumerate((100.0, 95.0, 90.0)):
            store.add_bar(BarSnapshot(start + (i + 1) * 300_000, nav, *_REST))
    agent = SimpleNamespace(store=store, alert=lambda k, t: None)
    tasks = services.daily_tasks(_cfg(tmp_path, target_max_dd=0.01), agent, [])

    async def go():
        for d in settled:
            await tasks(DAY_INDEX + d)
        while tasks._pending:
            await asyncio.sleep(0.01)
        for d in handed:
            await tasks(DAY_INDEX + d)
        for pid in _audit_worker_pids():
            os.kill(pid, sig.SIGKILL)  # while it reads or runs those audits
        await tasks.drain()

    try:
        with caplog.at_level(logging.ERROR, logger="adaptive_agent.services"):
            asyncio.run(go())
    finally:
        store.close()
    assert "daily audit failed" not in caplog.text


def test_a_worker_killed_mid_audit_is_replaced_and_the_day_retried(tmp_path, caplog):
    _kill_the_worker_after(tmp_path, caplog, settled=[0], handed=[1])
    assert any("retrying it" in r.getMessage() for r in caplog.records), caplog.text
    assert (tmp_path / "a" / "proposal-2024-10-05.md").exists()  # the retried audit's
    assert _audit_worker_pids() == []  # and the new worker is gone after drain()


def test_every_audit_queued_in_a_worker_that_dies_is_retried(tmp_path, caplog):
    """Three days handed over at once (a fast replay), the worker killed: each failed audit is
    retried (in the one new worker: a second failure report must not discard it)."""
    _kill_the_worker_after(tmp_path, caplog, settled=[], handed=[0, 1, 2])
    for day in ("2024-10-04", "2024-10-05", "2024-10-06"):
        assert (tmp_path / "a" / f"proposal-{day}.md").exists(), caplog.text


def _day_by_day(tmp_path, days: int, recycle_after: int | None = None) -> list[list[int]]:
    """Run ``days`` audits one after another (each finished before the next day); the worker
    pids seen just after each was handed over."""
    store = StateStore(tmp_path / "s.db")
    tasks = services.daily_tasks(_cfg(tmp_path), SimpleNamespace(store=store, alert=print), [])
    if recycle_after is not None:
        tasks.recycle_after = recycle_after
    seen: list[list[int]] = []

    async def go():
        for d in range(DAY_INDEX, DAY_INDEX + days):
            await tasks(d)
            seen.append(_audit_worker_pids())
            while tasks._pending:
                await asyncio.sleep(0.01)
            for _ in range(500):  # a worker let go is gone soon after
                if tasks._pool is not None or not set(_audit_worker_pids()) & set(seen[-1]):
                    break
                await asyncio.sleep(0.01)
        await tasks.drain()

    try:
        asyncio.run(go())
    finally:
        store.close()
    return seen


def test_an_idle_worker_is_let_go_and_the_next_audit_gets_a_fresh_one(tmp_path):
    """What audits touched never adds up in the worker: after ``recycle_after`` audits, once
    none is pending, the worker exits, and the next day's audit runs in a new fork."""
    seen = _day_by_day(tmp_path, 2, recycle_after=1)
    assert len(seen[0]) == 1 and len(seen[1]) == 1 and seen[0] != seen[1]
    assert (tmp_path / "d" / "digest-2024-10-05.json").exists()


def test_a_worker_serves_a_month_of_audits(tmp_path):
    assert services.RECYCLE_AFTER == 30
    seen = _day_by_day(tmp_path, 4, recycle_after=3)
    # the first three days in one worker, the fourth in a new one
    assert len({p for pids in seen for p in pids}) == 2 and seen[0] == seen[2] != seen[3]


def test_a_worker_that_ran_the_evidence_backtests_is_let_go_when_idle(tmp_path):
    """The evidence's backtests load numba and the compiled loop: that worker is not kept
    for a month of audits."""
    from concurrent.futures import Future

    tasks = services.daily_tasks(_cfg(tmp_path), SimpleNamespace(alert=print), [])
    stopped: list[bool] = []
    for evidence, expect in ((None, []), (object(), [False])):
        pool = SimpleNamespace(shutdown=lambda wait: stopped.append(wait))
        tasks._pool, stopped[:] = pool, []
        fut: Future = Future()
        fut.set_result((SimpleNamespace(flagged=(), day=None), [], evidence is not None))
        tasks._done(fut, None, 1, pool)
        assert stopped == expect and (tasks._pool is None) == bool(expect)
