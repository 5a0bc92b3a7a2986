"""The compiled loop reads the core as the interpreter does: ``decide()`` and ``fill_order()``
compiled give the very numbers they give as Python, and what the loop records rebuilds, through
``build_orders()``, the plans whose orders it filled."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptive_agent.backtest import kernel
from adaptive_agent.backtest.decision_log import Fills
from adaptive_agent.backtest.fill_model import fill_order
from adaptive_agent.backtest.rebalance_backtester import run_backtest
from adaptive_agent.config import AppConfig
from adaptive_agent.core.decision import NEVER, decide, rule_numbers
from adaptive_agent.core.model import Params
from adaptive_agent.core.signals import SignalSeries
from adaptive_agent.io.loaders import Candles
from tests.support.market_data import random_walk

PX = st.floats(1_000.0, 200_000.0)
RULE = rule_numbers(Params())


def _same(a, b) -> bool:
    return all(
        (math.isnan(x) and math.isnan(y)) or (x == y and type(x) is type(y))
        if isinstance(x, float)
        else int(x) == int(y)
        for x, y in zip(a, b, strict=True)
    )


@settings(max_examples=300, deadline=None)
@given(
    cash=st.floats(-50_000.0, 200_000.0),
    lots=st.tuples(*(st.integers(0, 3_000_000),) * 3),
    entries=st.tuples(PX, PX),
    prices=st.tuples(PX, PX, PX),
    signal=st.sampled_from([-1, 0, 1]),
    atr=st.floats(0.0, 0.2),
    last=st.sampled_from([NEVER, 1_700_000_000_000, 1_700_003_000_000]),
    peak=st.floats(0.0, 300_000.0),
    breach=st.sampled_from([NEVER, 1_699_999_000_000]),
    risk=st.tuples(st.integers(-1, 900_000), st.integers(0, 9), st.booleans(), st.booleans()),
    liq=st.sampled_from([math.nan, 0.05, 0.5]),
)
def test_compiled_decide_equals_the_python_one(
    cash, lots, entries, prices, signal, atr, last, peak, breach, risk, liq
):
    args = (cash, *lots, *entries, *prices, signal, 1_700_003_600_000, atr, last, peak, breach)
    args = (*args, *risk, liq, RULE)
    compiled = kernel._done["decide"](*args)
    assert _same(compiled, decide(*args))


@settings(max_examples=200, deadline=None)
@given(
    k=st.integers(0, 2),
    up=st.booleans(),
    lots=st.integers(1, 100_000),
    held=st.integers(0, 100_000),
    prices=st.tuples(PX, PX, PX),
    ratio=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
)
def test_compiled_fill_equals_the_python_one(k, up, lots, held, prices, ratio):
    lot = 1e-6 if k == 0 else 1e-4
    held_l, held_s = (held, 0) if k == 1 else (0, held)
    if not up and k > 0:
        lots = min(lots, held) or 1
        held_l, held_s = (max(held, lots), 0) if k == 1 else (0, max(held, lots))
    book = (10_000.0, held if k == 0 else 0, held_l, held_s, prices[0], prices[1])
    args = (book, k, up, lots, prices[2], prices[1], ratio, 0.0002, 0.001, 0.0005, lot)
    got_book, got_parts = kernel._done["fill_order"](*args)
    want_book, want_parts = fill_order(*args)
    assert _same(got_book, want_book) and _same(got_parts, want_parts)


def test_the_plans_rebuilt_from_the_log_are_the_ones_the_loop_filled():
    c = random_walk(7, 12_000, vol=0.004)
    wobble = 1.0 + 0.001 * np.sin(np.arange(len(c)) / 40.0)  # basis up to 0.1 %
    perp = Candles("perp", c.ts, c.open * wobble, c.high * wobble, c.low * wobble, c.close * wobble)
    rng = np.random.default_rng(7)
    sig_ts = np.sort(rng.integers(int(c.ts[0]), int(c.ts[-1]), 300)).astype(np.int64)
    signals = SignalSeries(sig_ts, rng.choice(np.array([-1, 0, 1], dtype=np.int8), 300))
    cfg = AppConfig.model_validate(
        {
            "strategy": {"threshold_floor": 0.002, "min_rebalance_interval_minutes": 15},
            "safe_mode": {"max_abs_basis": 0.0008},
            "backtest": {"maker_fill_ratio": 0.4},
        }
    )
    res = run_backtest(c, signals, perp=perp, config=cfg)
    plans = [r.plan for r in res.rebalances]
    assert plans and all(p.triggered for p in plans)
    assert res.summary["orders"] == sum(len(p.orders) for p in plans)
    assert res.summary["blocked_orders"] == sum(
        1 for p in plans for h in p.blocked if h.gate == "signal"
    )
    assert any(p.safe_mode for p in plans) and res.summary["blocked_orders"] > 0
    filled = defaultdict(float)
    for f in res.fills:
        filled[(f.rebalance_id, f.leg, f.order_type)] += f.size_btc
    ordered = {
        (r.rebalance_id, o.leg, o.order_type.value): o.size_btc
        for r in res.rebalances
        for o in r.plan.orders
    }
    assert filled.keys() == ordered.keys()
    assert all(math.isclose(filled[k], v, rel_tol=1e-12) for k, v in ordered.items())
    # The rebuilt plans decided at the recorded closes, in order, spaced by the interval.
    times = np.array([p.time_ms for p in plans])
    assert np.all(np.diff(times) >= 15 * 60_000)


def test_fills_compare_as_lists_and_keep_their_columns():
    res = run_backtest(random_walk(3, 3_000))
    assert isinstance(res.fills, Fills) and res.fills == list(res.fills)
    assert res.fills != [] and len(res.fills.columns.fee) == len(res.fills)
    assert res.rebalances[0].rebalance_id == 1 and res.rebalances[-1:] == [res.rebalances[-1]]


def test_the_cache_names_carry_the_rules_source_hash():
    assert kernel.run.py_func.__qualname__ == f"_run_{kernel.SOURCE_HASH}"
    assert kernel._done["decide"].py_func.__qualname__.endswith(kernel.SOURCE_HASH)
