"""Memory a daily task freed goes back to the system (glibc ``malloc_trim``), or nothing."""

from __future__ import annotations

import platform
from datetime import date

import pytest

from adaptive_agent.config import AppConfig
from adaptive_agent.runner import audit_worker, heap
from adaptive_agent.state.store import StateStore


def test_trims_with_glibc_and_does_nothing_without_it(monkeypatch):
    glibc = platform.libc_ver()[0] == "glibc"
    blocks = [bytearray(50_000) for _ in range(200)]  # freed below: whole free pages
    del blocks
    assert heap.release_free_memory() is glibc
    monkeypatch.setattr(heap, "_malloc_trim", lambda: None)
    assert heap.release_free_memory() is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim")
def test_the_lookup_finds_malloc_trim_once():
    assert heap._malloc_trim() is heap._malloc_trim() is not None


def test_the_daily_audit_gives_its_memory_back(tmp_path, monkeypatch):
    """The worker process's job (``audit_worker.audit_job``), run here to see the call."""
    cfg = AppConfig()
    cfg = cfg.model_copy(
        update={"reports": cfg.reports.model_copy(update={"audit_dir": str(tmp_path / "a")})}
    )
    calls: list[int] = []
    monkeypatch.setattr(audit_worker, "release_free_memory", lambda: calls.append(1) or True)
    StateStore(tmp_path / "s.db").close()
    day = date(2024, 10, 4)  # a day without data
    result, rows = audit_worker.audit_job(
        audit_worker.AuditJob(str(tmp_path / "s.db"), cfg, day, None, False, True)
    )
    assert calls == [1] and result.day == day and rows == []
