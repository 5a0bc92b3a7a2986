"""The signal in force at a time: the one-close lookup equals the array rule of the backtest."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptive_agent.core.signals import SIGNAL_OF, SignalSeries


@settings(max_examples=300, deadline=None)
@given(
    times=st.lists(st.integers(0, 10_000), max_size=20).map(sorted),
    codes=st.lists(st.sampled_from([-1, 0, 1]), min_size=20, max_size=20),
    at=st.integers(-100, 11_000),
    ttl=st.none() | st.integers(0, 3_000),
)
def test_at_equals_codes_at(times, codes, at, ttl):
    series = SignalSeries(np.array(times, dtype=np.int64), np.array(codes[: len(times)], np.int8))
    want = SIGNAL_OF[int(series.codes_at(np.array([at], dtype=np.int64), ttl)[0])]
    assert series.at(at, ttl) is want
