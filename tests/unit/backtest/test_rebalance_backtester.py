"""The backtester against the independent reference of docs/rules.md, on real data and on
corner cases."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from adaptive_agent.backtest.rebalance_backtester import run_backtest
from adaptive_agent.config import load_config
from adaptive_agent.core.signals import SignalSeries
from adaptive_agent.io.loaders import Candles, FundingSeries, InputError
from tests.support.compare import assert_summaries_agree
from tests.support.market_data import random_walk
from tests.support.spec_reference import reference_backtest


def _with_gaps(c: Candles, rng: np.random.Generator, count: int) -> Candles:
    keep = np.ones(len(c), dtype=bool)
    for g in rng.integers(1, len(c) - 1, count):
        keep[g : g + int(rng.integers(1, 150))] = False
    keep[0] = keep[-1] = True
    return Candles(c.path, c.ts[keep], c.open[keep], c.high[keep], c.low[keep], c.close[keep])


def _random_signals(c: Candles, rng: np.random.Generator, k: int):
    ts = np.sort(rng.integers(int(c.ts[0]) - 3_600_000, int(c.ts[-1]), k)).astype(np.int64)
    names = rng.choice(["BUY", "SELL", "NONE", "buy"], k)
    codes = np.array([{"BUY": 1, "SELL": -1, "NONE": 0}[v.upper()] for v in names], dtype=np.int8)
    return SignalSeries(ts, codes), list(zip(ts.tolist(), names.tolist(), strict=True))


def _rows(c: Candles):
    return list(
        zip(
            c.ts.tolist(),
            c.open.tolist(),
            c.high.tolist(),
            c.low.tolist(),
            c.close.tolist(),
            strict=True,
        )
    )


@pytest.mark.parametrize(
    ("start", "bars", "gaps", "n_signals", "seed"),
    [
        (0, 12_000, 0, 0, 1),  # first days: ATR warm-up, first rebalance at once
        (40_000, 20_000, 6, 400, 2),  # gaps, frequent signals
        (68_000, 9_000, 0, 60, 3),  # spans the real 2023-03-24 Binance halt
        (150_000, 25_000, 3, 3_000, 4),  # very frequent signals
        (280_000, 26_704, 2, 200, 5),  # the end of the bundle
    ],
)
def test_agrees_with_spec_reference_on_real_data(spot, funding, start, bars, gaps, n_signals, seed):
    rng = np.random.default_rng(seed)
    c = _with_gaps(spot.slice(start, start + bars), rng, gaps)
    sig, sig_rows = _random_signals(c, rng, n_signals) if n_signals else (None, [])
    ours = run_backtest(c, sig, funding).summary
    ref = reference_backtest(
        _rows(c), sig_rows, list(zip(funding.ts.tolist(), funding.rate.tolist(), strict=True))
    )
    assert_summaries_agree(ours, ref)
    if n_signals > 100:
        assert ours["blocked_orders"] > 0
    assert ours["rebalances"] > 10


def test_agrees_with_reference_with_long_leg_and_safe_mode(spot, funding):
    env = {
        "ADAPTIVE_AGENT__STRATEGY__TARGETS__BTC_SPOT": "0.2",
        "ADAPTIVE_AGENT__STRATEGY__TARGETS__BTC_PERP_LONG": "0.3",
        "ADAPTIVE_AGENT__STRATEGY__TARGETS__BTC_PERP_SHORT": "0.6",
        "ADAPTIVE_AGENT__STRATEGY__LEVERAGE": "2",
        "ADAPTIVE_AGENT__SAFE_MODE__MAX_MARGIN_FRAC": "0.4499",
        "ADAPTIVE_AGENT__BACKTEST__MAKER_FILL_RATIO": "0.3",
    }
    cfg = load_config(None, env=env)
    rng = np.random.default_rng(9)
    c = _with_gaps(spot.slice(100_000, 118_000), rng, 2)
    sig, sig_rows = _random_signals(c, rng, 150)
    res = run_backtest(c, sig, funding, config=cfg)
    ref = reference_backtest(
        _rows(c),
        sig_rows,
        list(zip(funding.ts.tolist(), funding.rate.tolist(), strict=True)),
        targets=(0.2, 0.3, 0.6),
        leverage=2.0,
        max_margin=0.4499,
        maker_ratio=0.3,
    )
    assert_summaries_agree(res.summary, ref)
    types = {f.order_type for f in res.fills}
    assert {"OPEN_LONG", "CLOSE_LONG", "OPEN_SHORT", "CLOSE_SHORT", "BUY", "SELL"} <= types
    gates = {h.gate for r in res.rebalances for h in r.plan.blocked}
    assert gates == {"signal", "safe_mode"}


def test_funding_inside_a_gap_settles_on_positions_held_at_that_instant():
    """An 8-hour instant in a gap: settled at the last close before it, before the next fills."""
    c = random_walk(11, 400, start_ms=1_700_006_400_000)  # 2023-11-15 00:00
    keep = np.ones(len(c), dtype=bool)
    keep[90:100] = False  # bars 07:30-08:15 missing: 08:00 falls in the gap
    c = Candles(c.path, c.ts[keep], c.open[keep], c.high[keep], c.low[keep], c.close[keep])
    fund = FundingSeries("f", np.array([c.ts[0]], dtype=np.int64), np.array([0.001]))
    ours = run_backtest(c, None, fund).summary
    ref = reference_backtest(_rows(c), [], [(int(c.ts[0]), 0.001)])
    assert_summaries_agree(ours, ref)
    assert ours["funding_pnl"] > 0  # short leg receives a positive rate
    assert ours["missing_bars"] == 10


def test_report_curves_price_and_funding_at_each_close(spot, funding):
    """The BTC price is P_ref's close; funding accrues only at the 8-hour instants, in the bar
    that settles it, and adds up to the run's funding PnL."""
    c = spot.slice(40_000, 52_000)
    res = run_backtest(c, None, funding)
    assert np.array_equal(res.price, c.close)
    assert res.funding_cum[0] == 0.0
    assert res.funding_cum[-1] == pytest.approx(res.summary["funding_pnl"], rel=1e-12)
    steps = np.flatnonzero(np.diff(res.funding_cum)) + 1
    closes = c.ts[steps] + 300_000
    assert len(steps) > 100 and np.all(closes % 28_800_000 == 0)  # 00:00, 08:00, 16:00 UTC


def test_constant_funding_default_and_no_signals():
    c = random_walk(3, 2_000)
    ours = run_backtest(c).summary
    ref = reference_backtest(_rows(c))
    assert_summaries_agree(ours, ref)
    assert ours["blocked_orders"] == 0


def test_perpetual_candles_price_the_perp_legs(spot):
    c = random_walk(5, 3_000)
    perp = Candles(
        "perp", c.ts.copy(), c.open * 1.001, c.high * 1.001, c.low * 1.001, c.close * 1.001
    )
    base = run_backtest(c)
    with_perp = run_backtest(c, perp=perp)
    short_fills = [f for f in with_perp.fills if f.leg.value == "BTC_PERP_SHORT"]
    base_short = [f for f in base.fills if f.leg.value == "BTC_PERP_SHORT"]
    assert short_fills[0].price == pytest.approx(base_short[0].price * 1.001)
    # A 10% basis puts the engine in safe mode: no exposure-raising order after the first bar.
    far = Candles("perp", c.ts.copy(), c.open * 1.1, c.high * 1.1, c.low * 1.1, c.close * 1.1)
    safe = run_backtest(c, perp=far)
    assert safe.summary["orders"] == 0
    assert all(h.gate == "safe_mode" for r in safe.rebalances for h in r.plan.blocked)
    late = Candles("perp", c.ts[10:], c.open[10:], c.high[10:], c.low[10:], c.close[10:])
    with pytest.raises(InputError, match="start after"):
        run_backtest(c, perp=late)


def test_too_short_input():
    c = random_walk(1, 1)
    with pytest.raises(InputError, match="at least 2 candles"):
        run_backtest(c)


def test_progress_is_reported(spot):
    seen: list[float] = []
    run_backtest(spot.slice(0, 5_000), progress=seen.append)
    assert seen and seen[-1] == 1.0 and all(0 <= x <= 1 for x in seen)
    assert seen == sorted(seen)


# Regression fingerprint of trades.csv on the bundled data with the baseline signals and funding.
# A change here is a change in behaviour: explain it in the commit that updates the hash.
TRADES_SHA256 = "9a34718ed56687aa1950b2652bf8a832512c035cc4aed06ac02dd51ab98a722d"


def test_regression_fingerprint_of_bundled_run(spot, funding, tmp_path):
    from adaptive_agent.reports.writer import write_reports
    from adaptive_agent.strategies.baseline_signals import ema_crossover_signals

    result = run_backtest(spot, ema_crossover_signals(spot), funding)
    write_reports(result, tmp_path, html=False)
    digest = hashlib.sha256((tmp_path / "trades.csv").read_bytes()).hexdigest()
    assert digest == TRADES_SHA256, f"trades.csv fingerprint changed: {digest}"


@pytest.mark.parametrize("nav0", [0.0, -5.0, float("nan"), float("inf")])
def test_a_nav0_the_core_cannot_use_is_an_input_error(nav0):
    c = random_walk(3, 50)
    with pytest.raises(InputError, match="nav0"):
        run_backtest(c, nav0=nav0)
