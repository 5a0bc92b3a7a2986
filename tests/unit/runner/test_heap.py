"""Memory a daily task freed goes back to the system (glibc ``malloc_trim``), or nothing."""

from __future__ import annotations

import asyncio
import platform
from types import SimpleNamespace

import pytest

from adaptive_agent.config import AppConfig
from adaptive_agent.runner import heap, services
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


def test_the_daily_reports_give_their_memory_back(tmp_path, monkeypatch):
    cfg = AppConfig()
    cfg = cfg.model_copy(
        update={
            "reports": cfg.reports.model_copy(
                update={"daily_dir": str(tmp_path / "d"), "audit_dir": str(tmp_path / "a")}
            )
        }
    )
    calls: list[int] = []
    monkeypatch.setattr(services, "release_free_memory", lambda: calls.append(1) or True)
    store = StateStore(tmp_path / "s.db")
    try:
        run = services.daily_tasks(cfg, SimpleNamespace(store=store, alert=print), [])

        async def day() -> None:
            await run(20_000)  # 2024-10-04: a day without data still writes its digest
            await run.drain()  # the audit runs off the trading path, then gives memory back

        asyncio.run(day())
    finally:
        store.close()
    assert calls == [1]
    assert list((tmp_path / "d").iterdir())
