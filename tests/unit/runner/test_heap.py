"""Memory a daily task freed goes back to the system (glibc ``malloc_trim``), or nothing."""

from __future__ import annotations

import platform

import pytest

from adaptive_agent.runner import heap


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
