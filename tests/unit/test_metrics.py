"""The metrics' definitions, on small cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptive_agent import metrics
from adaptive_agent.core.time_rules import DAY_MS, HOUR_MS, MINUTE_MS

D0 = 20_000 * DAY_MS  # some UTC midnight


def test_day_end_navs_midnight_close_belongs_to_the_day_before() -> None:
    closes = [
        D0 + 5 * MINUTE_MS,  # day 20000
        D0 + 12 * HOUR_MS,
        D0 + DAY_MS,  # 24:00: still day 20000, its last close
        D0 + DAY_MS + 5 * MINUTE_MS,  # day 20001
        D0 + 3 * DAY_MS + HOUR_MS,  # day 20003: day 20002 has no close (a gap)
    ]
    days, navs = metrics.day_end_navs(closes, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert days.tolist() == [20_000, 20_001, 20_003]
    assert navs.tolist() == [3.0, 4.0, 5.0]


def test_day_end_navs_single_day_and_empty() -> None:
    days, navs = metrics.day_end_navs([D0 + HOUR_MS, D0 + 2 * HOUR_MS], [7.0, 8.0])
    assert days.tolist() == [20_000] and navs.tolist() == [8.0]
    days, navs = metrics.day_end_navs([], [])
    assert len(days) == 0 and len(navs) == 0


def test_daily_returns_between_consecutive_days_and_from_nav0() -> None:
    assert metrics.daily_returns([100.0, 110.0, 99.0]) == pytest.approx([0.1, -0.1])
    assert metrics.daily_returns([110.0, 99.0], nav0=100.0) == pytest.approx([0.1, -0.1])
    assert metrics.daily_returns([110.0], nav0=100.0) == pytest.approx([0.1])  # a single day
    assert len(metrics.daily_returns([110.0])) == 0
    assert len(metrics.daily_returns([])) == 0


def test_daily_returns_over_a_gap_day_join_the_days_that_have_closes() -> None:
    closes = [D0 + DAY_MS, D0 + 2 * DAY_MS, D0 + 4 * DAY_MS]  # the day ended by D0+3d is absent
    _, navs = metrics.day_end_navs(closes, [100.0, 102.0, 99.96])
    assert metrics.daily_returns(navs) == pytest.approx([0.02, -0.02])


def test_daily_returns_leave_out_a_non_positive_base() -> None:
    assert metrics.daily_returns([100.0, 0.0, 50.0, 55.0]) == pytest.approx([-1.0, 0.1])
    assert metrics.daily_returns([5.0], nav0=0.0).tolist() == []


def test_sharpe_by_hand() -> None:
    # mean 0.02, std(ddof=1) = sqrt(2 x 0.01^2 / 1) = 0.01 sqrt(2): sharpe = sqrt(2) sqrt(365)
    assert metrics.sharpe([0.01, 0.03]) == pytest.approx(math.sqrt(730.0), rel=1e-12)
    r = np.array([0.01, -0.02, 0.005, 0.0])
    want = r.mean() / r.std(ddof=1) * math.sqrt(365.0)
    assert metrics.sharpe(r) == pytest.approx(want, rel=1e-12)


def test_sharpe_undefined_with_one_return_or_zero_spread() -> None:
    assert math.isnan(metrics.sharpe([]))
    assert math.isnan(metrics.sharpe([0.01]))  # a single day
    assert math.isnan(metrics.sharpe([0.01, 0.01, 0.01]))
    assert metrics.or_none(metrics.sharpe([0.01])) is None
    assert metrics.or_none(1.5) == 1.5


def test_drawdowns_from_the_running_peak() -> None:
    navs = [100.0, 120.0, 90.0, 130.0, 65.0]
    assert metrics.drawdowns(navs) == pytest.approx([0.0, 0.0, 0.25, 0.0, 0.5])
    assert metrics.max_drawdown(navs) == pytest.approx(0.5)
    # the peak starts at nav0
    assert metrics.drawdowns(navs, nav0=200.0) == pytest.approx([0.5, 0.4, 0.55, 0.35, 0.675])
    assert metrics.max_drawdown(navs, nav0=200.0) == pytest.approx(0.675)
    assert metrics.max_drawdown([100.0, 90.0], nav0=50.0) == pytest.approx(0.1)


def test_max_drawdown_edges() -> None:
    assert math.isnan(metrics.max_drawdown([]))
    assert metrics.max_drawdown([100.0]) == 0.0
    assert metrics.max_drawdown([100.0, 101.0, 102.0]) == 0.0
    assert metrics.drawdowns([0.0, -1.0]).tolist() == [0.0, 0.0]  # no positive peak yet


def test_roi() -> None:
    assert metrics.roi(1_000.0, 1_030.0) == pytest.approx(0.03)
    assert math.isnan(metrics.roi(0.0, 5.0))


def test_turnover_fees_and_maker_share() -> None:
    navs = [1_000.0, 1_100.0, 900.0]  # mean 1_000
    assert metrics.mean_nav(navs) == 1_000.0
    assert math.isnan(metrics.mean_nav([]))
    assert metrics.turnover([300.0, -200.0], navs) == pytest.approx(0.5)  # |sizes|
    assert metrics.turnover([], navs) == 0.0
    assert math.isnan(metrics.turnover([1.0], []))
    assert metrics.fees_nav_per_day([1.0, 2.0], navs) == pytest.approx(0.003)
    assert metrics.fees_nav_per_day([1.0, 2.0], navs, days=1.5) == pytest.approx(0.002)
    assert math.isnan(metrics.fees_nav_per_day([1.0], navs, days=0.0))
    assert math.isnan(metrics.fees_nav_per_day([1.0], [0.0]))
    assert metrics.maker_share([300.0, 100.0], [True, False]) == pytest.approx(0.75)
    assert math.isnan(metrics.maker_share([], []))


def test_cagr_sortino_calmar():
    from adaptive_agent.metrics import cagr, calmar, sortino

    assert cagr(100.0, 121.0, 730.0) == pytest.approx(0.1)
    assert math.isnan(cagr(100.0, 121.0, 0.0)) and math.isnan(cagr(0.0, 1.0, 10.0))
    r = [0.02, -0.01, 0.01, -0.02]
    down = math.sqrt((0.01**2 + 0.02**2) / 4)
    assert sortino(r) == pytest.approx(0.0 / down * math.sqrt(365))
    assert sortino([0.01, -0.01, 0.03]) == pytest.approx(
        0.01 / math.sqrt(1e-4 / 3) * math.sqrt(365)
    )
    assert math.isnan(sortino([0.01, 0.02]))  # no losing day
    assert calmar(0.1, 0.05) == pytest.approx(2.0) and math.isnan(calmar(0.1, 0.0))


@pytest.mark.parametrize(
    ("navs", "want"),
    [
        ([100, 99, 98, 100, 101], 3),  # peak at the start, back at the 4th close
        ([101, 102, 103], 0),  # never below a peak
        ([99, 98, 97], 3),  # never recovered: to the last close, from nav0 a bar before
        ([101, 100, 102, 101, 100, 99], 3),  # the open drawdown at the end is the longest
    ],
)
def test_longest_drawdown(navs, want):
    from adaptive_agent.metrics import longest_drawdown_ms

    assert longest_drawdown_ms(list(range(1, len(navs) + 1)), navs, 100.0) == want


def test_monthly_returns_compound_to_the_roi():
    from adaptive_agent.metrics import monthly_returns

    aug1 = 1_659_312_000_000  # 2022-08-01 00:00 UTC
    day = 86_400_000
    close = np.array([aug1 + 300_000, aug1 + 31 * day, aug1 + 31 * day + 300_000, aug1 + 70 * day])
    navs = [101.0, 102.0, 103.0, 99.0]
    got = monthly_returns(close, navs, 100.0)
    # a close at 2022-09-01 00:00 still ends August; October's close is the last
    assert [(y, m) for y, m, _ in got] == [(2022, 8), (2022, 9), (2022, 10)]
    assert got[0][2] == pytest.approx(0.02) and got[1][2] == pytest.approx(103 / 102 - 1)
    assert math.prod(1 + r for *_, r in got) - 1 == pytest.approx(99 / 100 - 1)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.floats(-10.0, 10.0, allow_nan=False) | st.sampled_from([0.0, 1e-300, -1e-9]),
        max_size=200,
    )
)
def test_sharpe_has_the_bits_of_numpy_mean_over_std(returns) -> None:
    r = np.asarray(returns, dtype=np.float64)
    expected = math.nan
    if len(r) >= 2 and float(np.std(r, ddof=1)) > 0:
        expected = float(np.mean(r)) / float(np.std(r, ddof=1)) * math.sqrt(365.0)
    got = metrics.sharpe(returns)
    assert got == expected or (math.isnan(got) and math.isnan(expected))
