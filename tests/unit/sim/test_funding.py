"""Funding in the simulator: who pays, at which rate, at which instants (also in data gaps)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from adaptive_agent.core.time_rules import BAR_MS, DAY_MS, HOUR_MS
from adaptive_agent.io.loaders import Candles, FundingSeries
from adaptive_agent.sim.funding import FundingSchedule, check_hours
from adaptive_agent.sim.markets import CONTRACT_BTC
from adaptive_agent.sim.orders import FundingEvent
from tests.support.sim_market import make


def test_funding_longs_pay_shorts_receive_at_0800(path):
    m = make(path, funding_rate_default=0.0003)
    m.place("futures", "buy", 10, None)
    m.place("futures", "sell", -4, None)
    before = m.futures_account()["total"]
    eight = int(path.ts[0]) + 8 * 3_600_000
    k = int(np.searchsorted(path.ts, eight)) - 1  # the bar that closes at 08:00
    events = m.advance(k)
    funding = [e for e in events if isinstance(e, FundingEvent)]
    assert [e.time_ms for e in funding] == [eight]
    close = float(path.close[k])
    expected = 0.0003 * (4 - 10) * CONTRACT_BTC * close
    assert funding[0].change == pytest.approx(expected) and funding[0].mark == close
    assert m.futures_account()["total"] == pytest.approx(before + expected)
    book = m.account_book("fund")
    assert [e.change for e in book] == pytest.approx(
        [-0.0003 * 10 * CONTRACT_BTC * close, 0.0003 * 4 * CONTRACT_BTC * close]
    )
    pos = m.positions()
    assert pos["dual_long"]["pnl_fund"] < 0 < pos["dual_short"]["pnl_fund"]


def test_funding_rates_come_from_the_series(path, funding):
    m = make(path, funding=funding)
    m.place("futures", "sell", -10, None)
    eight = int(path.ts[0]) + 8 * 3_600_000
    rate = float(funding.rate[np.searchsorted(funding.ts, eight)])
    assert m.funding_rate() == rate
    m.advance(120)
    fund = m.account_book("fund")[0]
    assert fund.time_ms == eight
    assert fund.change == pytest.approx(rate * 10 * CONTRACT_BTC * path.close[95])


def test_funding_inside_a_data_gap_settles_at_the_close_before_it(path):
    eight = int(path.ts[0]) + 8 * 3_600_000
    cut = int(np.searchsorted(path.ts, eight))  # bar opening at 08:00
    gappy = Candles(
        "gap",
        *(
            np.r_[a[: cut - 3], a[cut + 5 : cut + 50]]
            for a in (path.ts, path.open, path.high, path.low, path.close)
        ),
    )
    m = make(gappy, funding=FundingSeries("f", np.array([eight]), np.array([0.001])))
    m.place("futures", "sell", -10, None)
    m.advance(cut - 4)  # at the last close before the gap
    before_gap_close = m.mark()
    events = m.advance()
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("FundingEvent") < kinds.index("BarEvent")
    fund = next(e for e in events if isinstance(e, FundingEvent))
    assert fund.mark == before_gap_close
    assert fund.change == pytest.approx(0.001 * 10 * CONTRACT_BTC * before_gap_close)


def _funding_times(m, bars: int) -> list[int]:
    return [e.time_ms for e in m.advance(bars) if isinstance(e, FundingEvent)]


def test_funding_settles_only_at_the_configured_hours(path):
    """``funding_hours_utc=(4, 12, 20)``: 04:00, 12:00 and 20:00 UTC, never 00/08/16."""
    m = make(path, funding_hours_utc=(4, 12, 20))
    m.place("futures", "sell", -10, None)
    times = _funding_times(m, len(path))
    assert len(times) >= 5
    assert {t % DAY_MS // HOUR_MS for t in times} == {4, 12, 20}
    start, day0 = int(path.ts[0]) + BAR_MS, int(path.ts[0]) // DAY_MS * DAY_MS
    assert times[0] == min(
        day0 + h * HOUR_MS for h in (4, 12, 20, 28) if day0 + h * HOUR_MS > start
    )
    assert all(b - a == 8 * HOUR_MS for a, b in pairwise(times))
    assert [e.time_ms for e in m.account_book("fund")] == times
    assert m.funding_hours_utc == (4, 12, 20)


def test_next_funding_and_the_rate_history_follow_the_hours(path):
    m = make(path, funding_hours_utc=(4, 12, 20))
    assert m.next_funding_ms() % DAY_MS in (4 * HOUR_MS, 12 * HOUR_MS, 20 * HOUR_MS)
    assert m.next_funding_ms() > m.now_ms
    m.advance(300)
    instants = m.funding_instants(int(path.ts[0]), m.now_ms)
    assert instants and all(isinstance(t, int) for t in instants)
    assert {t % DAY_MS // HOUR_MS for t in instants} <= {4, 12, 20}
    assert make(path).funding_instants(int(path.ts[0]), int(path.ts[0]) + DAY_MS) == [
        int(path.ts[0]) // DAY_MS * DAY_MS + h * HOUR_MS for h in (8, 16, 24)
    ]


@pytest.mark.parametrize("hours", [(), (24,), (-1,), (8, 8)])
def test_funding_hours_must_be_distinct_hours_of_the_day(path, hours):
    with pytest.raises(ValueError, match="funding hours"):
        make(path, funding_hours_utc=hours)


def test_the_schedule_reports_each_instant_once_as_the_clock_moves():
    start = 1_000 * DAY_MS + 7 * HOUR_MS
    s = FundingSchedule(start, (0, 8, 16))
    assert s.due(start, start + HOUR_MS - 1) == []
    assert s.due(start + HOUR_MS - 1, start + HOUR_MS) == [start + HOUR_MS]
    assert s.due(start + HOUR_MS, start + 2 * HOUR_MS) == []
    later = start + 2 * DAY_MS
    assert s.due(start + 2 * HOUR_MS, later) == [start + h * HOUR_MS for h in (9, 17, 25, 33, 41)]
    assert s.rate_at(later) == 0.0001 and check_hours((16, 0)) == (16, 0)
