"""``run_backtest()`` beside vectorbt's ``Portfolio.from_order_func`` on the strategy both can
express, measured in one process (issue 11, item 6); figures printed, nothing asserted.

    bash bench/setup_vectorbt.sh                  # once: bench/.venv-vbt (vectorbt 1.2.0, numba)
    bench/.venv-vbt/bin/python bench/vs_vectorbt.py [--runs 7] [--bars 105120]

The peer strategy: 50 % BTC spot, 50 % perpetual short, no long leg; a fixed 0.5 % band on the
largest weight drift, at least 60 minutes between rebalances; no ATR, no signals, no funding;
targets rounded down to whole lots (1e-6 BTC spot, 1e-4 BTC contracts), the venue minimums
(3 USDT spot notional, 1 contract); and our fill model (docs/rules.md, Backtest fill model): an
order decided at the close of bar r fills in bar r + 1, half as maker at close_r, half as taker
at open_{r+1} moved 0.02 % against us, fees on each part. The perpetual is priced by P_ref (no
perpetual candles given), as in ``run_backtest(candles)``.

The vectorbt side is written here from the rules, not from our code: a numba order function
per column (spot, perp) in one cash-sharing group; the decision for bar i is made once per bar
in ``pre_segment_func_nb`` from the book at the previous close. The two parts of each fill are
one vectorbt order at their average price with their fees as a fixed fee (the same cash).
vectorbt shorts against 100 % free cash (it has no leverage); our perpetual needs 1/3 margin.
So the vectorbt portfolio starts with ``nav0`` of extra cash that the strategy never counts
(``COLLATERAL``): NAV = vectorbt value - COLLATERAL, decisions included.

Not run by CI, not a test; vectorbt lives only in bench/.venv-vbt.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

import numpy as np
import vectorbt as vbt
from numba import njit
from vectorbt.portfolio.enums import Direction, NoOrder, SizeType
from vectorbt.portfolio.nb import order_nb

from adaptive_agent.backtest.rebalance_backtester import run_backtest
from adaptive_agent.config import AppConfig
from adaptive_agent.data import SPOT_5M
from adaptive_agent.io.loaders import load_candles

YEAR_BARS = 105_120
NAV0 = 100_000.0
COLLATERAL = NAV0  # extra vectorbt cash standing in for the perpetual's margin (see above)
W_SPOT, W_SHORT, BAND, INTERVAL_MS = 0.5, 0.5, 0.005, 3_600_000
SPOT_LOT, CONTRACT, MIN_NOTIONAL, MIN_CONTRACTS = 1e-6, 1e-4, 3.0, 1
MAKER_RATIO, SLIP = 0.5, 0.0002
FEES = (0.001, 0.001, 0.0002, 0.0005)  # spot maker, spot taker, perp maker, perp taker
LOT_EPS = 1e-9


def peer_config() -> AppConfig:
    return AppConfig.model_validate(
        {
            "strategy": {
                "targets": {"BTC_SPOT": W_SPOT, "BTC_PERP_LONG": 0.0, "BTC_PERP_SHORT": W_SHORT},
                "threshold_floor": BAND,
                "atr_multiplier": 0.0,
                "min_rebalance_interval_minutes": INTERVAL_MS / 60_000,
            },
            "backtest": {
                "nav0": NAV0,
                "maker_fill_ratio": MAKER_RATIO,
                "slippage": SLIP,
                "funding_rate_default": 0.0,
            },
        }
    )


@njit(cache=True)
def _fill(q, maker_px, open_px, buy, fm, ft):
    """(average price, fees) of an order of q BTC filled by the fill model."""
    taker_px = open_px * (1.0 + SLIP) if buy else open_px * (1.0 - SLIP)
    mq, tq = q * MAKER_RATIO, q * (1.0 - MAKER_RATIO)
    cost = mq * maker_px + tq * taker_px
    return cost / q, mq * maker_px * fm + tq * taker_px * ft


@njit(cache=True)
def pre_segment_nb(c, dec, close, open_, plan, last):
    """The decision at the close of bar i - 1: orders for bar i into ``plan``."""
    plan[:] = 0.0
    i = c.i
    if i == 0:
        return ()
    r = i - 1
    p = close[r]
    spot_lots = round(c.last_position[0] / SPOT_LOT)
    short_ct = round(-c.last_position[1] / CONTRACT)
    spot_btc, short_btc = spot_lots * SPOT_LOT, short_ct * CONTRACT
    # vectorbt's cash already holds the proceeds of the short sale: NAV = value at close_r
    nav = c.last_cash[c.group] - COLLATERAL + spot_btc * p - short_btc * p
    w_spot, w_short = spot_btc * p / nav, short_btc * p / nav
    drift = max(abs(w_spot - W_SPOT), abs(w_short - W_SHORT))  # no long leg: its weight is 0
    if not drift > BAND or (last[0] >= 0 and dec[r] - last[0] < INTERVAL_MS):
        return ()
    last[0] = dec[r]
    d_spot = math.floor(W_SPOT * nav / p / SPOT_LOT + LOT_EPS) - spot_lots
    d_short = math.floor(W_SHORT * nav / p / CONTRACT + LOT_EPS) - short_ct
    if d_spot != 0 and abs(d_spot) * SPOT_LOT * p >= MIN_NOTIONAL:
        q = abs(d_spot) * SPOT_LOT
        px, fee = _fill(q, p, open_[i], d_spot > 0, FEES[0], FEES[1])
        plan[0], plan[1], plan[2] = q if d_spot > 0 else -q, px, fee
    if abs(d_short) >= MIN_CONTRACTS:
        q = abs(d_short) * CONTRACT
        px, fee = _fill(q, p, open_[i], d_short < 0, FEES[2], FEES[3])
        plan[3], plan[4], plan[5] = -q if d_short > 0 else q, px, fee
    return ()


@njit(cache=True)
def order_func_nb(c, plan):
    k = 3 * c.col  # column 0: spot, column 1: perpetual (short)
    if plan[k] == 0.0:
        return NoOrder
    return order_nb(
        size=plan[k],
        price=plan[k + 1],
        size_type=SizeType.Amount,
        direction=Direction.Both,
        fixed_fees=plan[k + 2],
        allow_partial=False,
        raise_reject=True,
    )


def vectorbt_peer(ts: np.ndarray, close: np.ndarray, open_: np.ndarray):
    dec = (ts + 300_000).astype(np.float64)
    plan, last = np.zeros(6), np.array([-1.0])
    pf = vbt.Portfolio.from_order_func(
        np.column_stack([close, close]),
        order_func_nb,
        plan,
        pre_segment_func_nb=pre_segment_nb,
        pre_segment_args=(dec, close, open_, plan, last),
        init_cash=NAV0 + COLLATERAL,
        cash_sharing=True,
        group_by=True,
        max_orders=2 * len(ts),
    )
    return pf


def median_ms(fn, runs: int) -> tuple[float, float, list[float]]:
    walls, cpus = [], []
    for _ in range(runs):
        t, p = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - p)
    return statistics.median(walls) * 1e3, statistics.median(cpus) * 1e3, walls


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--bars", type=int, default=YEAR_BARS, help="the last N bundled bars")
    args = ap.parse_args()
    spot = load_candles(SPOT_5M)
    c = spot.slice(max(0, len(spot) - args.bars), len(spot))
    cfg = peer_config()
    assert cfg.backtest.funding_rate_default == 0.0 and cfg.strategy.atr_multiplier == 0.0

    t = time.perf_counter()
    pf = vectorbt_peer(c.ts, c.close, c.open)  # JIT (or its cache)
    jit_s = time.perf_counter() - t
    ours = run_backtest(c, None, None, None, cfg)
    vbt_nav = float(pf.final_value()) - COLLATERAL
    our_nav = float(ours.summary["nav_end"])
    n_vbt = len(pf.orders.values)
    load = os.getloadavg()[0]
    print(f"load average {load:.2f} (2 cores, shared); {len(c):,} bars; {args.runs} runs")
    print(
        f"final NAV: ours {our_nav:,.2f}  vectorbt {vbt_nav:,.2f}  difference"
        f" {our_nav - vbt_nav:+.6f} USDT"
        f" ({'equal' if round(our_nav, 2) == round(vbt_nav, 2) else 'DIFFERENT'} to the cent)"
    )
    print(
        f"orders: ours {int(ours.summary['orders']):,}"
        f" ({int(ours.summary['rebalances']):,} rebalances)"
        f"  vectorbt {n_vbt:,};  vectorbt first call (JIT or cache) {jit_s:.2f} s"
    )
    rows = []
    for _ in range(2):  # interleaved rounds: both see the same machine load
        rows.append(
            (
                median_ms(lambda: vectorbt_peer(c.ts, c.close, c.open), args.runs),
                median_ms(lambda: run_backtest(c, None, None, None, cfg), args.runs),
            )
        )
    (vw, vc, _), (ow, oc, _) = min(rows, key=lambda r: r[0][0] + r[1][0])
    print(f"vectorbt from_order_func: median {vw:.1f} ms wall, {vc:.1f} ms CPU")
    print(f"run_backtest():           median {ow:.1f} ms wall, {oc:.1f} ms CPU")
    print(f"ratio vectorbt / ours:    {vw / ow:.2f}x wall, {vc / oc:.2f}x CPU (target >= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
