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
from dataclasses import dataclass, field

import numpy as np

from .. import metrics
from ..config import AppConfig
from ..core.indicators import atr_frac_at
from ..core.model import EngineState, Leg, Params, Plan, Prices, Side
from ..core.portfolio_manager import basis, leg_values_usdt, margin_used_usdt, nav_usdt
from ..core.rebalance_engine import (
    build_orders,
    drift,
    market_breach,
    rebalance_due,
    remember,
    threshold,
)
from ..core.signals import SIGNAL_OF, SignalSeries
from ..core.time_rules import BAR_MS, DAY_MS
from ..io.loaders import Candles, FundingSeries, InputError
from .fill_model import Fill, Ledger, fill_orders, funding_schedule

_SPOT, _BUY = Leg.BTC_SPOT, Side.BUY  # module constants: enum attribute lookups are slow
PERP_END_SLACK_MS = 3_600_000  # perp candles may stop up to an hour before the spot ones
FIRST_WINDOW = 64
MAX_WINDOW = 8192

SUMMARY_COLUMNS = (
    "start",
    "end",
    "days",
    "bars",
    "missing_bars",
    "nav_start",
    "nav_end",
    "roi",
    "sharpe",
    "max_dd",
    "fees_usdt",
    "fees_nav_per_day",
    "turnover",
    "funding_pnl",
    "rebalances",
    "orders",
    "blocked_orders",
    "maker_share",
    "delta_frac_mean",
    "delta_frac_max",
)


@dataclass(frozen=True, slots=True)
class Rebalance:
    rebalance_id: int
    plan: Plan


@dataclass
class BacktestResult:
    summary: dict[str, object]
    ts_ms: np.ndarray  # bar open times
    nav: np.ndarray  # NAV at each bar close
    delta_frac: np.ndarray
    w_spot: np.ndarray
    w_long: np.ndarray
    w_short: np.ndarray
    fills: list[Fill] = field(default_factory=list)
    rebalances: list[Rebalance] = field(default_factory=list)
    funding_events: int = 0
    price: np.ndarray | None = None  # P_ref close of each bar (the report's BTC price)
    funding_cum: np.ndarray | None = None  # funding PnL accrued up to each bar close


def _align_perp(perp: Candles, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Perpetual close/open at each spot bar: same open time, else the last perp close before it."""
    idx = np.searchsorted(perp.ts, ts, side="right") - 1
    if idx[0] < 0:
        raise InputError(
            f"{perp.path}: perpetual candles start after the first spot candle; use --start to"
            " begin the backtest inside their span"
        )
    if int(perp.ts[-1]) < int(ts[-1]) - PERP_END_SLACK_MS:
        # As-of joining past their end would price the perpetual legs at a stale close for
        # the rest of the run: a result that looks fine and is wrong.
        raise InputError(
            f"{perp.path}: perpetual candles end at {int(perp.ts[-1])}, before the last spot"
            f" candle ({int(ts[-1])}); use --end to stop the backtest inside their span"
        )
    same = perp.ts[idx] == ts
    return perp.close[idx], np.where(same, perp.open[idx], perp.close[idx])


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
    cfg = config or AppConfig()
    params = cfg.core_params()
    bt, fees = cfg.backtest, cfg.fees
    nav0 = float(bt.nav0 if nav0 is None else nav0)
    if not math.isfinite(nav0) or nav0 <= 0.0:
        raise InputError(f"nav0: a finite amount of USDT above 0 is needed, got {nav0!r}")
    n = len(candles)
    if n < 2:
        raise InputError(f"{candles.path}: at least 2 candles are needed, found {n}")

    ts = candles.ts
    dec = ts + BAR_MS  # decision time = close of the bar
    ref_c, ref_o = candles.close, candles.open
    perp_c, perp_o = (ref_c, ref_o) if perp is None else _align_perp(perp, ts)
    spot_c, spot_o = ref_c, ref_o  # Gate spot is priced by the reference in backtest
    basis_all = basis(perp_c, ref_c)
    atr = atr_frac_at(dec, ts, candles.high, candles.low, ref_c, params.atr_period)
    thr_all = threshold(atr, params)
    sig = (
        signals.codes_at(dec, params.signal_ttl_ms)
        if signals is not None
        else np.zeros(n, dtype=np.int8)
    )
    gap_k, bar_k, n_funding = funding_schedule(
        ts, dec, perp_c, funding, bt.funding_rate_default, bt.funding_hours_utc
    )
    cum_k = np.cumsum(gap_k + bar_k)

    nav = np.empty(n)  # NAV at every bar close
    breach_at = np.zeros(n, dtype=bool)  # a price/book safe-mode condition held at this close
    basis_count = np.r_[0, np.cumsum(np.abs(basis_all) > params.max_abs_basis)]
    lookback = np.searchsorted(dec, dec - params.safe_clear_ms, side="right")
    seg_start: list[int] = []  # constant-position stretches, for the per-bar report curves
    seg_sizes: list[tuple[float, float, float]] = []
    seg_funding: list[tuple[float, float]] = []  # funding PnL at each stretch's start, factor
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
    # Funding at each close: the stretch's opening total plus its factor times the accrual since.
    seg_base, seg_f = np.array(seg_funding).reshape(-1, 2).T
    reps = np.diff(bounds)
    funding_cum = np.repeat(seg_base, reps) + np.repeat(seg_f, reps) * (
        cum_k - np.repeat(cum_k[bounds[:-1]], reps)
    )
    summary = summarize(ts, dec, nav, delta, nav0, fills, rebalances, funding_pnl)
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
        ref_c,
        funding_cum,
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


def summarize(
    ts: np.ndarray,
    dec: np.ndarray,
    nav: np.ndarray,
    delta: np.ndarray,
    nav0: float,
    fills: list[Fill],
    rebalances: list[Rebalance],
    funding_pnl: float,
) -> dict[str, object]:
    """The ``SUMMARY_COLUMNS`` of a run from its bar curves (``ts`` bar opens, ``dec`` their
    closes) and fills: the backtest's, and the paper replay's end-of-run report's."""
    n = len(ts)
    start, end = int(ts[0]), int(dec[-1])
    days = (end - start) / DAY_MS
    _, day_nav = metrics.day_end_navs(dec, nav)  # dec: the bar closes
    fees_usdt = math.fsum(f.fee for f in fills)
    notionals = [f.notional for f in fills]
    abs_delta = np.abs(delta)
    return {
        "start": start,
        "end": end,
        "days": days,
        "bars": n,
        "missing_bars": round((end - start) / BAR_MS) - n,
        "nav_start": nav0,
        "nav_end": float(nav[-1]),
        "roi": metrics.roi(nav0, float(nav[-1])),
        "sharpe": metrics.sharpe(metrics.daily_returns(day_nav, nav0)),
        "max_dd": metrics.max_drawdown(nav, nav0),
        "fees_usdt": fees_usdt,
        "fees_nav_per_day": metrics.fees_nav_per_day([f.fee for f in fills], nav, days),
        "turnover": metrics.turnover(notionals, nav),
        "funding_pnl": float(funding_pnl),
        "rebalances": len(rebalances),
        "orders": sum(len(r.plan.orders) for r in rebalances),
        "blocked_orders": sum(1 for r in rebalances for h in r.plan.blocked if h.gate == "signal"),
        "maker_share": metrics.maker_share(notionals, [f.liquidity == "maker" for f in fills]),
        "delta_frac_mean": float(np.mean(abs_delta)),
        "delta_frac_max": float(np.max(abs_delta)),
    }
