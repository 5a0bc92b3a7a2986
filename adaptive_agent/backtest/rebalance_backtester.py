"""Backtest driver: replays candles through the decision core with the fill model of
``fill_model.py`` (docs/rules.md, Backtest fill model).

Positions are constant between rebalances, so NAV, weights, drift and the safe-mode conditions
for a run of bars are one numpy expression (written in ``core`` and shared with live). The loop
jumps from trigger bar to trigger bar and calls the pure ``build_orders()`` only there: one core,
about a million bars a second. Conventions (timestamps, funding timing, fills, metrics) follow
docs/rules.md to the letter so that any two correct implementations agree figure by figure.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable

import numpy as np

from .. import metrics
from ..config import AppConfig
from ..core.model import EngineState, Leg, Params, Prices, Side
from ..core.portfolio_manager import leg_values_usdt, margin_used_usdt, nav_usdt
from ..core.rebalance_engine import (
    build_orders,
    drift,
    market_breach,
    rebalance_due,
    remember,
    threshold,
)
from ..core.signals import SIGNAL_OF, SignalSeries
from ..io.loaders import Candles, FundingSeries, InputError
from .dataset import PERP_END_SLACK_MS, BacktestData
from .fill_model import Fill, Ledger, fill_orders
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

_SPOT, _BUY = Leg.BTC_SPOT, Side.BUY  # module constants: enum attribute lookups are slow
FIRST_WINDOW = 64
MAX_WINDOW = 8192


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
    bt, fees = cfg.backtest, cfg.fees
    nav0 = float(bt.nav0 if nav0 is None else nav0)
    if not math.isfinite(nav0) or nav0 <= 0.0:
        raise InputError(f"nav0: a finite amount of USDT above 0 is needed, got {nav0!r}")
    n = len(data)
    ts, dec = data.ts, data.dec
    ref_c, ref_o = data.ref_c, data.ref_o
    perp_c, perp_o = data.perp_c, data.perp_o
    spot_c, spot_o = ref_c, ref_o  # Gate spot is priced by the reference in backtest
    basis_all = data.basis
    atr = data.atr(params.atr_period)
    thr_all = threshold(atr, params)
    sig = data.signal_codes(params.signal_ttl_ms)
    gap_k, bar_k, n_funding, cum_k = data.funding_schedule(
        bt.funding_rate_default, bt.funding_hours_utc
    )

    nav = np.empty(n)  # NAV at every bar close
    breach_at = np.zeros(n, dtype=bool)  # a price/book safe-mode condition held at this close
    basis_count = np.r_[0, np.cumsum(np.abs(basis_all) > params.max_abs_basis)]
    lookback = np.searchsorted(dec, dec - params.safe_clear_ms, side="right")
    seg_start: list[int] = []  # constant-position stretches, for the per-bar report curves
    seg_sizes: list[tuple[float, float, float]] = []
    seg_funding: list[tuple[float, float]] = []  # (funding so far, funding factor) at each start
    ratio, slip = bt.maker_fill_ratio, bt.slippage
    ledger = Ledger(nav0, params)
    state = EngineState(peak_nav=nav0)
    peak_idx = 0  # state.peak_nav covers nav[:peak_idx]
    breach_hint = -1  # every breach flag set so far lies before this bar
    fills: list[Fill] = []
    rebalances: list[Rebalance] = []
    funding_pnl = 0.0
    s = 0  # first bar of the current constant-position stretch; ledger.cash is as of its close

    while s < n:
        f = ledger.funding_factor()
        sb, lb, shb = ledger.sizes()
        seg_start.append(s)
        seg_sizes.append((sb, lb, shb))
        seg_funding.append((funding_pnl, f))
        traded = False
        a, width = s, FIRST_WINDOW
        while a < n and not traded:
            b = min(n, a + width)
            cash_w = ledger.cash if f == 0.0 else ledger.cash + f * (cum_k[a:b] - cum_k[s])
            pc, ps = perp_c[a:b], spot_c[a:b]
            nav_w = nav_usdt(cash_w, sb, lb, shb, ledger.le, ledger.se, ps, pc)
            nav[a:b] = nav_w
            peak_before = state.peak_nav
            if a > peak_idx:
                peak_before = max(peak_before, float(nav[peak_idx:a].max()))
            breach_at[a:b] = flags = _window_breaches(
                nav_w,
                peak_before,
                lb + shb,
                pc,
                basis_all[a:b],
                basis_count[b] > basis_count[a],
                params,
            )
            if flags is not False:
                breach_hint = b  # a breach may sit in this window: look at the flags
            vs, vl, vsh = leg_values_usdt(sb, lb, shb, ps, pc)
            drift_w = drift(vs / nav_w, vl / nav_w, vsh / nav_w, params.targets)
            last = b - 1 if b == n else b  # no decision at the close of the last bar
            # Bars where drift exceeds the threshold (the core's rule with no interval yet);
            # each trigger is the first of them at which the interval has elapsed.
            cand = (
                a + np.flatnonzero(rebalance_due(drift_w, thr_all[a:b], 0, None, params))
            ).tolist()
            cand_dec = dec[cand].tolist()
            pos = 0
            while True:
                if state.last_rebalance_ms is not None:
                    earliest = state.last_rebalance_ms + params.min_interval_ms
                    pos = bisect_left(cand_dec, earliest, pos)
                if pos >= len(cand) or cand[pos] >= last:
                    break
                r = cand[pos]
                accrued = 0.0 if f == 0.0 else f * (cum_k[r] - cum_k[s])
                # The closes since the last decision, folded into the core's memory by the
                # core (it judges bar r itself); older breaches are past the clear period.
                lo = int(lookback[r])
                hits = dec[lo:r][breach_at[lo:r]] if lo < r and breach_hint >= lo else dec[:0]
                state = remember(state, nav[peak_idx:r] if r > peak_idx else nav[:0], hits)
                peak_idx = max(peak_idx, r)
                plan = build_orders(
                    ledger.book(ledger.cash + accrued),
                    Prices(float(ref_c[r]), float(spot_c[r]), float(perp_c[r])),
                    SIGNAL_OF[int(sig[r])],
                    int(dec[r]),
                    float(atr[r]),
                    state,
                    params,
                )
                state = plan.state
                if not plan.triggered:  # the core has the last word on a scanned candidate
                    pos += 1
                    continue
                rid = len(rebalances) + 1
                rebalances.append(Rebalance(rid, plan))
                if not plan.orders:
                    pos += 1  # nothing traded: positions and this window stay valid
                    continue
                # Orders decided at the close of bar r fill during bar j; funding in a gap
                # before bar j settles on the old positions, funding at j's close on the new.
                j = r + 1
                funding_pnl += accrued + f * gap_k[j]
                ledger.cash += accrued + f * gap_k[j]
                fill_orders(
                    plan.orders,
                    rid,
                    r,
                    j,
                    ledger,
                    fills,
                    ts,
                    spot_c,
                    spot_o,
                    perp_c,
                    perp_o,
                    ratio,
                    slip,
                    fees,
                )
                f_new = ledger.funding_factor()
                ledger.cash += f_new * bar_k[j]
                funding_pnl += f_new * bar_k[j]
                s, traded = j, True
                if progress is not None:
                    progress(s / n)
                break
            a, width = b, min(width * 2, MAX_WINDOW)
        if not traded:
            funding_pnl += f * (cum_k[n - 1] - cum_k[s])
            break

    # Per-bar curves for the reports, from the constant-position stretches in one pass.
    bounds = np.r_[seg_start, n]
    sizes = np.repeat(np.array(seg_sizes).reshape(-1, 3), np.diff(bounds), axis=0)
    sb_all, lb_all, shb_all = sizes[:, 0], sizes[:, 1], sizes[:, 2]
    vs, vl, vsh = leg_values_usdt(sb_all, lb_all, shb_all, spot_c, perp_c)
    delta = (sb_all + lb_all - shb_all) * ref_c / nav
    seg_of = np.repeat(np.arange(len(seg_start)), np.diff(bounds))
    f0, fk = (np.array(x, dtype=np.float64) for x in zip(*seg_funding, strict=True))
    funding_cum = f0[seg_of] + fk[seg_of] * (cum_k - cum_k[np.asarray(seg_start)][seg_of])
    attribution = attribute_fills(fills, dec, spot_c, perp_c, (sb, lb, shb), funding_pnl, nav0, nav)
    btc = Benchmark(float(ref_o[0]), ref_c)
    summary = summarize(ts, dec, nav, delta, nav0, fills, rebalances, funding_pnl, attribution, btc)
    if progress is not None:
        progress(1.0)
    return BacktestResult(
        summary,
        ts,
        nav,
        delta,
        vs / nav,
        vl / nav,
        vsh / nav,
        fills,
        rebalances,
        n_funding,
        funding_cum,
        ref_c,
    )


def _window_breaches(
    nav_w: np.ndarray,
    peak_before: float,
    gross_perp_btc: float,
    perp_w: np.ndarray,
    basis_w: np.ndarray,
    basis_hit: bool,
    params: Params,
) -> np.ndarray | bool:
    """Safe-mode conditions from prices and the book at each close of a constant-position window.

    A cheap bound settles almost every window: with no basis breach, the highest perp price over
    the lowest NAV keeping margin in bounds, and the lowest NAV within the drawdown limit of the
    highest peak, no close can have breached. Otherwise every close is computed exactly.
    """
    nav_min, nav_max = float(nav_w.min()), float(nav_w.max())
    if not basis_hit and nav_min > 0:
        worst_margin = margin_used_usdt(gross_perp_btc, 0.0, float(perp_w.max()), params.leverage)
        if (
            worst_margin / nav_min <= params.max_margin_frac
            and metrics.drawdown(nav_min, max(peak_before, nav_max)) <= params.max_drawdown
        ):
            return False
    peaks = np.maximum(peak_before, np.maximum.accumulate(nav_w))
    mfrac = margin_used_usdt(gross_perp_btc, 0.0, perp_w, params.leverage) / nav_w
    return market_breach(basis_w, mfrac, metrics.drawdown(nav_w, peaks), params)
