"""The ledger's pure rules: a fill's fee in USDT, a funding line's key, when to read."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptive_agent.core.ledger_rules import (
    FUNDING_READ_LAG_MS,
    REREAD_OVERLAP_MS,
    FeeParts,
    fee_usdt,
    funding_key,
    funding_read_due,
    read_since,
)
from adaptive_agent.core.time_rules import HOUR_MS, MINUTE_MS

HOURS = (0, 8, 16)
fees = st.floats(0, 1e4, allow_nan=False)
prices = st.floats(1, 1e6, allow_nan=False)


def test_usdt_fees_count_as_they_are_and_btc_fees_at_the_fills_price():
    assert fee_usdt(FeeParts(0.12, "USDT", 20_000.0)) == 0.12
    assert fee_usdt(FeeParts(0.00001, "BTC", 20_000.0)) == pytest.approx(0.2)
    assert fee_usdt(FeeParts(0.00001, "btc", 20_000.0)) == pytest.approx(0.2)


def test_gt_fees_are_priced_at_gt_usdt_whichever_field_carries_them():
    # GT named as the fee currency, or paid beside a zero fee in gt_fee: counted once
    assert fee_usdt(FeeParts(2.0, "GT", 20_000.0, gt_fee=2.0, gt_usdt=5.0)) == 10.0
    assert fee_usdt(FeeParts(0.0, "GT", 20_000.0, gt_fee=2.0, gt_usdt=5.0)) == 10.0
    assert fee_usdt(FeeParts(2.0, "GT", 20_000.0, gt_usdt=5.0)) == 10.0
    assert fee_usdt(FeeParts(0.0, "USDT", 20_000.0, gt_fee=2.0, gt_usdt=5.0)) == 10.0
    assert fee_usdt(FeeParts(0.5, "USDT", 20_000.0, gt_fee=2.0, gt_usdt=5.0)) == 10.5


def test_a_fee_that_cannot_be_priced_is_none_never_zero():
    assert fee_usdt(FeeParts(2.0, "GT", 20_000.0)) is None  # no GT_USDT price
    assert fee_usdt(FeeParts(0.0, "USDT", 20_000.0, gt_fee=2.0)) is None
    assert fee_usdt(FeeParts(0.1, "USDT", 20_000.0, point_fee=1.0)) is None  # points: no value
    assert fee_usdt(FeeParts(0.1, "DOGE", 20_000.0)) is None
    assert fee_usdt(FeeParts(0.0, "", 20_000.0)) == 0.0  # nothing charged is 0 in any unit
    assert fee_usdt(FeeParts(0.0, "GT", 20_000.0)) == 0.0


@given(fees, prices, st.sampled_from(["USDT", "BTC"]))
def test_a_priced_fee_is_never_negative_and_scales_with_the_fee(fee, price, cur):
    one = fee_usdt(FeeParts(fee, cur, price))
    two = fee_usdt(FeeParts(2 * fee, cur, price))
    assert one is not None and two is not None and one >= 0
    assert two == pytest.approx(2 * one)


@given(
    st.integers(0, 2**40),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(0, 1e9, allow_nan=False),
    st.integers(1, 10**6),
)
def test_funding_keys_are_gates_id_or_distinct_per_line(t, change, balance, dt):
    assert funding_key("42", t, change, balance) == "42"
    k = funding_key(None, t, change, balance)
    assert k == funding_key("", t, change, balance)  # an empty id is no id
    assert k != funding_key(None, t + dt, change, balance)
    assert k != funding_key(None, t, change, balance + 1.0)


def test_the_funding_book_is_read_on_the_first_close_and_just_after_each_instant():
    midnight = 19_000 * 24 * HOUR_MS
    assert funding_read_due(None, midnight + 3 * HOUR_MS, HOURS)  # a (re)start reads
    at = [midnight + 8 * HOUR_MS + k * 5 * MINUTE_MS for k in range(1, 5)]  # 08:05 .. 08:20
    due = [funding_read_due(prev, now, HOURS) for prev, now in itertools.pairwise(at)]
    assert funding_read_due(midnight + 8 * HOUR_MS - 5 * MINUTE_MS, at[0], HOURS)
    assert due == [True, False, False]  # 08:10 (a second look), then not until 16:00
    assert FUNDING_READ_LAG_MS == 10 * MINUTE_MS
    assert not funding_read_due(at[-1], midnight + 15 * HOUR_MS, HOURS)


@given(st.one_of(st.none(), st.integers(0, 2**40)), st.integers(0, 2**40))
def test_a_read_starts_before_the_newest_record_never_before_the_start(newest, start):
    since = read_since(newest, start)
    assert since >= start
    if newest is not None:
        assert since <= max(start, newest) and since >= newest - REREAD_OVERLAP_MS


@settings(max_examples=300, deadline=None)
@given(
    last=st.integers(0, 2_000_000_000_000),
    step=st.integers(0, 3 * 86_400_000),
    hours=st.sets(st.integers(0, 23), min_size=1, max_size=4).map(tuple),
)
def test_funding_read_due_is_an_instant_since_the_last_read(last, step, hours):
    from adaptive_agent.core.ledger_rules import FUNDING_READ_LAG_MS
    from adaptive_agent.core.time_rules import funding_instants

    now = last + step
    want = len(funding_instants(last - FUNDING_READ_LAG_MS, now, hours)) > 0
    assert funding_read_due(last, now, hours) is want
