"""Backtest driver: replays candles through the decision core with the fill model of
``fill_model.py`` (docs/rules.md, Backtest fill model).

``simulate`` prepares the arrays and hands them to the compiled loop (``kernel.py``), which
calls the core's own ``decide()`` at every close and ``fill_order()`` for each order; what it
returns becomes the result: curves, fills (``decision_log.Fills``), rebalances whose plans
``build_orders()`` rebuilds when read (``decision_log.Rebalances``), the summary and the PnL
attribution. Conventions (timestamps, funding timing, fills, metrics) follow docs/rules.md to
the letter so that any two correct implementations agree figure by figure.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import numpy as np

from ..config import AppConfig
from ..core.decision import rule_numbers
from ..core.model import Params
from ..core.signals import SignalSeries
from ..io.loaders import Candles, FundingSeries, InputError
from . import loop
from .dataset import PERP_END_SLACK_MS, BacktestData
from .decision_log import Fills, Rebalances
from .run_summary import (  # the result and its summary, re-exported for the callers
    SUMMARY_COLUMNS,
    BacktestResult,
    Benchmark,
    Rebalance,
    attribute_fills,
    summarize,
)

__all__ = [
    "PERP_END_SLACK_MS",
    "SUMMARY_COLUMNS",
    "BacktestData",
    "BacktestResult",
    "Benchmark",
    "Rebalance",
    "attribute_fills",
    "run_backtest",
    "simulate",
    "summarize",
]


def run_backtest(
    candles: Candles,
    signals: SignalSeries | None = None,
    funding: FundingSeries | None = None,
    perp: Candles | None = None,
    config: AppConfig | None = None,
    nav0: float | None = None,
    progress: Callable[[float], None] | None = None,
) -> BacktestResult:
    """Simulate the strategy over ``candles`` (P_ref) and return the run's figures and records."""
    return simulate(BacktestData(candles, signals, funding, perp), config, nav0, progress)


def simulate(
    data: BacktestData,
    config: AppConfig | None = None,
    nav0: float | None = None,
    progress: Callable[[float], None] | None = None,
) -> BacktestResult:
    """``run_backtest`` on prepared data (``dataset.BacktestData``): what a sweep calls once
    per configuration."""
    cfg = config or AppConfig()
    params = cfg.core_params()
    nav0 = float(cfg.backtest.nav0 if nav0 is None else nav0)
    if not math.isfinite(nav0) or nav0 <= 0.0:
        raise InputError(f"nav0: a finite amount of USDT above 0 is needed, got {nav0!r}")
    if progress is not None:
        progress(0.0)
    args, n_funding = loop_args(data, cfg, params, nav0)
    (ts, dec, ref_c, spot_c, _, perp_c, _, atr, sig), _, rule, _, _, curves = args
    nav, w_spot, w_long, w_short, delta, funding_cum = curves
    log, fill_rows, funding_pnl, sb, lb, shb = loop.run(*args)
    rebalances = Rebalances(log, (dec, ref_c, spot_c, perp_c, atr, sig), params, rule)
    fills = Fills(fill_rows)
    attribution = attribute_fills(fills, dec, spot_c, perp_c, (sb, lb, shb), funding_pnl, nav0, nav)
    btc = Benchmark(float(data.ref_o[0]), ref_c)
    summary = summarize(ts, dec, nav, delta, nav0, fills, rebalances, funding_pnl, attribution, btc)
    if progress is not None:
        progress(1.0)
    return BacktestResult(
        summary,
        ts,
        nav,
        delta,
        w_spot,
        w_long,
        w_short,
        fills,
        rebalances,
        n_funding,
        funding_cum,
        ref_c,
    )


def loop_args(data: BacktestData, cfg: AppConfig, params: Params, nav0: float) -> tuple[tuple, int]:
    """The compiled loop's arguments for a run (``kernel._run`` says what each is; the curves
    are empty arrays it fills), and the number of funding settlements in the run."""
    bt, fees = cfg.backtest, cfg.fees
    n = len(data)
    ref_c, ref_o, perp_c, perp_o = data.ref_c, data.ref_o, data.perp_c, data.perp_o
    spot_c, spot_o = ref_c, ref_o  # Gate spot is priced by the reference in backtest
    atr = data.atr(params.atr_period)
    sig = data.signal_codes(params.signal_ttl_ms)
    gap_k, bar_k, n_funding, cum_k = data.funding_schedule(
        bt.funding_rate_default, bt.funding_hours_utc
    )
    model = (
        float(bt.maker_fill_ratio),
        float(bt.slippage),
        float(fees.spot_maker),
        float(fees.spot_taker),
        float(fees.perp_maker),
        float(fees.perp_taker),
    )
    args = (
        (data.ts, data.dec, ref_c, spot_c, spot_o, perp_c, perp_o, atr, sig),
        (gap_k, bar_k, cum_k),
        rule_numbers(params),
        nav0,
        model,
        tuple(np.empty(n) for _ in range(6)),  # NAV, spot/long/short weight, delta, funding
    )
    return args, n_funding


def warm() -> bool:
    """Compile the backtest's loop on a few synthetic bars, just in time (numba's disk cache)
    and ahead of time (``loop.build``) unless already done: what the set-up and an image build
    run once, so that no backtest compiles and the CLI need not import numba. Returns whether
    the ahead-of-time loop is there; without a C compiler it is not, and the JIT loop serves."""
    n = 50
    ts = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 300_000
    px = 30_000.0 + np.arange(n, dtype=np.float64)
    data = BacktestData(Candles("warm-up", ts, px, px + 5.0, px - 5.0, px + 1.0))
    simulate(data)  # the JIT loop, or the ahead-of-time one when built
    cfg = AppConfig()
    try:
        path = loop.build(loop_args(data, cfg, cfg.core_params(), float(cfg.backtest.nav0))[0])
    except Exception as exc:  # any failure of the optional build: say it, go on
        print(f"the ahead-of-time backtest loop was not built ({type(exc).__name__}: {exc});"
              " backtests use the JIT loop", file=sys.stderr)  # fmt: skip
        return False
    print(f"backtest loop ahead of time: {path}", file=sys.stderr)
    return True


if __name__ == "__main__":
    warm()
