"""The calendar rules all modes share: day of a close, completed day, funding, UTC text."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptive_agent.core import time_rules
from adaptive_agent.core.time_rules import (
    BAR_MS,
    DAY_MS,
    HOUR_MS,
    completed_day,
    day_of_close,
    day_of_open,
    funding_instants,
    next_funding_ms,
    utc_seconds,
    utc_text,
)

D = 19_305  # 2022-11-09 as a day index
MIDNIGHT = D * DAY_MS


def test_a_close_at_midnight_ends_the_day_before():
    assert day_of_close(MIDNIGHT) == D - 1
    assert day_of_close(MIDNIGHT + BAR_MS) == D
    assert day_of_open(MIDNIGHT - BAR_MS) == D - 1  # the 23:55 bar, whose close is 00:00
    closes = np.array([MIDNIGHT, MIDNIGHT + BAR_MS, MIDNIGHT + DAY_MS])
    assert day_of_close(closes).tolist() == [D - 1, D, D]


def test_completed_day_at_midnight_and_after_a_gap_over_it():
    assert completed_day(MIDNIGHT - BAR_MS, MIDNIGHT) == D - 1
    assert completed_day(MIDNIGHT, MIDNIGHT + BAR_MS) is None  # completed at 00:00 already
    assert completed_day(MIDNIGHT - 2 * HOUR_MS, MIDNIGHT + HOUR_MS) == D - 1  # gap over 00:00
    assert completed_day(None, MIDNIGHT + HOUR_MS) is None
    assert completed_day(MIDNIGHT + BAR_MS, MIDNIGHT + 2 * BAR_MS) is None


def test_funding_instants_are_half_open_and_sorted():
    hours = (16, 0, 8)
    inst = funding_instants(MIDNIGHT, MIDNIGHT + DAY_MS, hours)
    assert inst.tolist() == [MIDNIGHT + 8 * HOUR_MS, MIDNIGHT + 16 * HOUR_MS, MIDNIGHT + DAY_MS]
    assert funding_instants(MIDNIGHT, MIDNIGHT, hours).size == 0
    assert funding_instants(MIDNIGHT, MIDNIGHT + DAY_MS, ()).size == 0
    assert next_funding_ms(MIDNIGHT, (0, 8, 16)) == MIDNIGHT + 8 * HOUR_MS
    assert next_funding_ms(MIDNIGHT - 1, (0, 8, 16)) == MIDNIGHT


@given(
    st.integers(1_600_000_000_000, 1_900_000_000_000),
    st.integers(1, 10 * DAY_MS),
    st.sets(st.integers(0, 23), min_size=1, max_size=24),
)
def test_funding_instants_are_exactly_the_whole_hours_in_the_window(after, span, hours):
    inst = funding_instants(after, after + span, tuple(hours))
    assert np.all((inst > after) & (inst <= after + span))
    assert np.all(np.diff(inst) > 0)
    assert all((t % DAY_MS) // HOUR_MS in hours and t % HOUR_MS == 0 for t in inst.tolist())
    first_hour = (after // HOUR_MS + 1) * HOUR_MS
    expected = [
        t for t in range(first_hour, after + span + 1, HOUR_MS) if (t % DAY_MS) // HOUR_MS in hours
    ]
    assert inst.tolist() == expected


@pytest.mark.parametrize(
    ("ms", "seconds", "text"),
    [
        (MIDNIGHT + 10 * HOUR_MS + 5 * 60_000, False, "2022-11-09 10:05 UTC"),
        (MIDNIGHT + 1_500, True, "2022-11-09 00:00:01 UTC"),
        (None, False, "never"),
        (10**20, False, f"{10**20} ms (not a time)"),  # a corrupt value never raises
    ],
)
def test_utc_text(ms, seconds, text):
    assert utc_text(ms, seconds=seconds) == text


@settings(max_examples=300, deadline=None)
@given(
    now=st.integers(0, 4_000_000_000_000),
    hours=st.sets(st.integers(0, 23), min_size=1, max_size=6).map(tuple),
)
def test_next_funding_is_the_first_instant_of_the_coming_day(now, hours):
    # the scalar rule asked at every close equals the array rule the backtest uses
    assert next_funding_ms(now, hours) == int(funding_instants(now, now + DAY_MS, hours)[0])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 4_102_444_800_000), min_size=0, max_size=50))
def test_report_times_at_once_are_the_texts_one_at_a_time(times):
    assert time_rules.iso_texts(times) == [time_rules.iso_text(t) for t in times]
    assert time_rules.iso_text(1_667_988_300_000) == "2022-11-09T10:05:00Z"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(-(10**13), 253_402_300_799_999),  # 1653 .. 9999-12-31T23:59:59.999
            st.integers(0, 2 * 86_400_000),  # around midnights
            st.sampled_from([0, 999, 1000, 86_399_999, 86_400_000, 253_402_300_799_999]),
        ),
        min_size=1,
        max_size=60,
    ),
    st.booleans(),
)
def test_times_are_numpys_datetime_text(ms, ordered):
    ms = np.array(sorted(ms) if ordered else ms, dtype=np.int64)
    want = ms.astype("datetime64[ms]").astype("datetime64[s]").astype("S19")
    assert utc_seconds(ms).tobytes() == want.tobytes()
