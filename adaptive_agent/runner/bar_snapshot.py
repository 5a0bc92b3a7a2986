"""The record of one close (``records.BarSnapshot``): the book read there, before its
rebalance, with the decision's figures. Pure: the plan, the book and the prices in."""

from __future__ import annotations

from ..core.model import Book, Candle, Params, Plan, Prices
from ..core.portfolio_manager import (
    basis,
    leg_sizes_btc,
    margin_used_usdt,
    net_delta_btc,
    weights,
)
from ..records import BarSnapshot


def bar_snapshot(
    plan: Plan,
    book: Book,
    prices: Prices,
    params: Params,
    funding_rate: float | None = None,
    sharpe_30d: float | None = None,
    candle: Candle | None = None,
) -> BarSnapshot:
    sb, lb, shb = leg_sizes_btc(book, params)
    nav = plan.nav
    w = weights(book, prices, params, nav) if nav > 0 else (0.0, 0.0, 0.0)
    delta_usdt = net_delta_btc(book, params) * prices.ref
    margin = margin_used_usdt(lb, shb, prices.perp, params.leverage)
    return BarSnapshot(
        time_ms=plan.time_ms,
        nav=nav,
        price_ref=prices.ref,
        basis=basis(prices.perp, prices.ref),
        w_spot=w[0],
        w_long=w[1],
        w_short=w[2],
        delta_usdt=delta_usdt,
        delta_frac=delta_usdt / nav if nav > 0 else 0.0,
        margin_frac=margin / nav if nav > 0 else 0.0,
        safe_mode=plan.safe_mode,
        safe_mode_reasons=plan.safe_mode_reasons,
        safe_mode_codes=tuple(str(c) for c in plan.safe_mode_codes),
        signal=str(plan.signal),
        funding_rate=funding_rate,
        sharpe_30d=sharpe_30d,
        spot_btc=sb,
        long_btc=lb,
        short_btc=shb,
        p_spot=prices.spot,
        p_perp=prices.perp,
        ref_open=None if candle is None else candle.open,
        ref_high=None if candle is None else candle.high,
        ref_low=None if candle is None else candle.low,
    )
