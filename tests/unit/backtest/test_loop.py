"""The loop compiled ahead of time is the JIT loop: the same numbers bit for bit, taken only
for the argument types and sources it was built for, and a CLI backtest that finds it never
imports numba. The orders a report lists as held come from the loop's record through the
core's own functions, exactly as the rebuilt plans list them, and so do the equity page's
markers."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from adaptive_agent.backtest import kernel, loop
from adaptive_agent.backtest.dataset import BacktestData
from adaptive_agent.backtest.rebalance_backtester import loop_args, run_backtest
from adaptive_agent.backtest.run_summary import Rebalance, held_orders, rebalance_marks
from adaptive_agent.config import AppConfig
from adaptive_agent.core.model import HoldGate
from adaptive_agent.core.signals import SignalSeries
from adaptive_agent.io.loaders import Candles
from tests.support.market_data import random_walk

ALL_GATES = frozenset(HoldGate)
CONFIGS = (
    {},
    {
        "strategy": {"threshold_floor": 0.002, "min_rebalance_interval_minutes": 15},
        "safe_mode": {"max_abs_basis": 0.0008},
        "backtest": {"maker_fill_ratio": 0.4},
    },
    {"strategy": {"threshold_floor": 0.0005}, "backtest": {"nav0": 300.0}},  # minimum skips
)


def _inputs(seed: int = 7, n: int = 6_000):
    c = random_walk(seed, n, vol=0.004)
    wobble = 1.0 + 0.001 * np.sin(np.arange(len(c)) / 40.0)
    perp = Candles("perp", c.ts, c.open * wobble, c.high * wobble, c.low * wobble, c.close * wobble)
    rng = np.random.default_rng(seed)
    sig_ts = np.sort(rng.integers(int(c.ts[0]), int(c.ts[-1]), 200)).astype(np.int64)
    signals = SignalSeries(sig_ts, rng.choice(np.array([-1, 0, 1], dtype=np.int8), 200))
    return c, signals, perp


def _args(data: BacktestData, cfg: AppConfig) -> tuple:
    return loop_args(data, cfg, cfg.core_params(), float(cfg.backtest.nav0))[0]


def _fresh_curves(args: tuple) -> tuple:
    return (*args[:5], tuple(np.empty_like(a) for a in args[5]))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """An ahead-of-time module built into a folder of the test's own (~10 s of compiling)."""
    folder = tmp_path_factory.mktemp("aot")
    c, signals, perp = _inputs()
    args = _args(BacktestData(c, signals, None, perp), AppConfig())
    path = loop.build(args, folder)
    assert path.parent == folder and path.name.startswith(f"_loop_{loop.SOURCE_HASH}_")
    return folder, loop.ahead_of_time(loop.type_key(loop.canonical(args)), folder)


@pytest.mark.parametrize("config", CONFIGS)
def test_the_ahead_of_time_loop_gives_the_jit_loops_numbers(built, config):
    _, aot = built
    assert aot is not None
    c, signals, perp = _inputs(11)
    args = loop.canonical(_args(BacktestData(c, signals, None, perp), AppConfig(**config)))
    jit_args, aot_args = _fresh_curves(args), _fresh_curves(args)
    want, got = kernel.run(*jit_args), aot(*aot_args)
    assert len(want[0]) > 10 and len(want[1]) > 10
    for a, b in zip(want[:2], got[:2], strict=True):
        assert a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    assert want[2:] == got[2:]
    for a, b in zip(jit_args[5], aot_args[5], strict=True):
        assert np.array_equal(a, b, equal_nan=True)


def test_other_types_or_sources_never_reach_a_module(built, monkeypatch):
    folder, _ = built
    c, signals, perp = _inputs()
    args = loop.canonical(_args(BacktestData(c, signals, None, perp), AppConfig()))
    key = loop.type_key(args)
    assert loop.ahead_of_time(key, folder) is not None
    other = (args[0], args[1], (*args[2][:-1], 7), *args[3:])  # an int where a float was
    assert loop.type_key(other) != key
    assert loop.ahead_of_time(loop.type_key(other), folder) is None
    assert loop.type_key((object(),)) is None
    monkeypatch.setattr(loop, "SOURCE_HASH", "0" * 16)  # a changed rule: another name
    assert loop.module_path(key, folder).name.startswith("_loop_0000000000000000_")
    assert not loop.module_path(key, folder).exists()
    # Writable or not, contiguous or not: the same canonical types.
    bars = tuple(np.array(a) for a in args[0])
    strided = tuple(np.repeat(a, 2)[::2] for a in args[0])
    for variant in (bars, strided):
        assert loop.type_key(loop.canonical((variant, *args[1:]))) == key


def test_a_cli_backtest_that_finds_the_module_never_imports_numba(built, tmp_path):
    folder, _ = built
    c, _, _ = _inputs()
    csv = tmp_path / "c.csv"
    with csv.open("w") as fh:
        fh.write("timestamp,open,high,low,close\n")
        for row in zip(c.ts, c.open, c.high, c.low, c.close, strict=True):
            fh.write(",".join(map(repr, (int(row[0]), *map(float, row[1:])))) + "\n")
    code = (
        "import sys\n"
        "from adaptive_agent.cli import main\n"
        f"code = main(['backtest', '--candles', {str(csv)!r}, '--no-html', '--quiet',"
        f" '--out', {str(tmp_path / 'out')!r}])\n"
        "print(code, 'numba' in sys.modules)\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(folder)}
    # without signals the loop's types are the same: the codes are an int8 array of NONE
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.stdout.split()[-2:] == ["0", "False"], run.stderr
    assert (tmp_path / "out" / "trades.csv").stat().st_size > 100


@pytest.mark.parametrize("config", CONFIGS)
def test_held_orders_from_the_loops_record_are_the_plans_ones(config):
    c, signals, perp = _inputs(5, 8_000)
    res = run_backtest(c, signals, perp=perp, config=AppConfig(**config))
    plans = [Rebalance(r.rebalance_id, r.plan) for r in res.rebalances]  # plain records
    for gates in (ALL_GATES, frozenset({HoldGate.MINIMUM}), frozenset({HoldGate.SIGNAL})):
        assert list(held_orders(res.rebalances, gates)) == list(held_orders(plans, gates))
    for got, want in zip(rebalance_marks(res.rebalances), rebalance_marks(plans), strict=True):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    found = {h.gate for _, _, _, h in held_orders(res.rebalances, ALL_GATES)}
    assert found  # each configuration holds something
    if config.get("safe_mode"):
        assert HoldGate.SAFE_MODE in found
    if config.get("backtest", {}).get("nav0"):
        assert HoldGate.MINIMUM in found
