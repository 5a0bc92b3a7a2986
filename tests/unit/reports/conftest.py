from __future__ import annotations

import pytest

from adaptive_agent.state.store import StateStore


@pytest.fixture
def store(tmp_path):
    s = StateStore(tmp_path / "state.db")
    yield s
    s.close()
