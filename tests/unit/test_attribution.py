"""PnL attribution: the parts add up to NAV_end - NAV_start, on random paths and settings."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptive_agent.attribution import AttributedFill, attribute
from adaptive_agent.backtest.rebalance_backtester import run_backtest
from adaptive_agent.config import AppConfig
from adaptive_agent.core.signals import SignalSeries
from tests.support.market_data import random_walk


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    vol=st.floats(0.001, 0.02),
    spot=st.floats(0.2, 0.7),
    long_=st.floats(0.0, 0.2),
    ratio=st.floats(0.0, 1.0),
    slip=st.floats(0.0, 0.002),
    rate=st.floats(-0.001, 0.001),
    flip=st.integers(50, 400),
)
def test_the_parts_sum_to_the_nav_change_to_the_cent(
    seed, vol, spot, long_, ratio, slip, rate, flip
):
    candles = random_walk(seed, 2_500, vol=vol)
    short = 1.0 - spot + long_  # BTC-neutral targets with a long leg too
    cfg = AppConfig.model_validate(
        {
            "strategy": {
                "targets": {"BTC_SPOT": spot, "BTC_PERP_LONG": long_, "BTC_PERP_SHORT": short},
                "threshold_floor": 0.002,
                "min_rebalance_interval_minutes": 30,
                "leverage": 5,
            },
            "backtest": {"maker_fill_ratio": ratio, "slippage": slip, "funding_rate_default": rate},
        }
    )
    ts = candles.ts[::flip]
    codes = [1 if i % 2 else -1 for i in range(len(ts))]
    signals = SignalSeries(ts, np.array(codes, dtype=np.int8))
    s = run_backtest(candles, signals, None, config=cfg).summary
    parts = [s[k] for k in ("pnl_price_spot", "pnl_price_long", "pnl_price_short")]
    parts += [s["pnl_slippage"], s["pnl_funding"], s["pnl_fees"]]
    assert abs(math.fsum(parts) - (s["nav_end"] - s["nav_start"])) < 0.01
    assert abs(s["pnl_unexplained"]) < 0.01
    assert s["pnl_funding"] == pytest.approx(s["funding_pnl"], abs=1e-9)
    assert -s["pnl_fees"] == pytest.approx(s["fees_usdt"], rel=1e-12, abs=1e-9)


def test_slippage_is_measured_against_the_decision_price():
    buy = AttributedFill("BTC_SPOT", "buy", 2.0, 101.0, 0.5, "taker", 100.0)
    sell = AttributedFill("BTC_PERP_SHORT", "sell", 2.0, 99.0, 0.1, "maker", 100.0)
    a = attribute(
        [buy, sell],
        {},
        {"BTC_SPOT": (2.0, 110.0), "BTC_PERP_SHORT": (-2.0, 110.0)},
        funding=3.0,
        nav_start=1_000.0,
        nav_end=1_000.0 + 2 * (110 - 101) + 2 * (99 - 110) + 3.0 - 0.6,
    )
    assert a.pnl_slippage == pytest.approx(-2.0 - 2.0)  # paid 1 above, sold 1 below
    assert a.pnl_price_spot == pytest.approx(20.0) and a.pnl_price_short == pytest.approx(-20.0)
    assert (a.fees_spot_taker, a.fees_perp_maker, a.pnl_fees) == (0.5, 0.1, pytest.approx(-0.6))
    assert abs(a.pnl_unexplained) < 1e-9
