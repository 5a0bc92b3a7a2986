"""The paper replay's end-of-run report: the backtest's files (``reports/writer.py``) from what
the agent recorded, written at the end of a run and when it is stopped (Ctrl-C, SIGTERM).

The curves are the state store's bar snapshots (NAV, delta, leg weights at every close), the
fills its trade records (prices and fees as the simulated venue charged them), the funding the
venue's funding lines as paid, and the rebalances the triggered plans the replay kept. The
summary is the backtest's (``rebalance_backtester.summarize``): one definition of every figure.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..backtest.fill_model import Fill
from ..backtest.run_summary import (
    BacktestResult,
    Benchmark,
    Rebalance,
    attribute_fills,
    summarize,
)
from ..core.model import Leg, Plan
from ..core.time_rules import BAR_MS
from ..execution.order_pricing import rebalance_id_for
from ..state.store import StateStore

_CURVES = ("time_ms", "nav", "delta_frac", "w_spot", "w_long", "w_short", "price_ref", "basis")
_END = 2**62


def paper_result(
    store: StateStore, plans: list[Plan], nav0: float, price_start: float = math.nan
) -> BacktestResult | None:
    """The run as a ``BacktestResult``; ``None`` when no bar was recorded. ``price_start``:
    P_ref at the first bar's open (the BTC-held benchmark buys there)."""
    c = store.bar_arrays(*_CURVES)
    if len(c["time_ms"]) == 0:
        return None
    dec = c["time_ms"].astype(np.int64)  # exact: epoch milliseconds are far below 2**53
    nav, delta = c["nav"], c["delta_frac"]
    fills = [
        Fill(
            t.time_ms,
            t.rebalance_id,  # type: ignore[arg-type]  # the venue run's id (hex of the decision)
            Leg(t.leg),
            t.order_type,
            t.side,
            t.size_btc,
            t.price,
            t.liquidity,
            t.fee_usdt,
        )
        for t in store.trades(-_END, _END)
    ]
    rebalances = [Rebalance(rebalance_id_for(p.time_ms), p) for p in plans]  # type: ignore[arg-type]
    payments = store.funding_payments(-_END, _END)
    funding = math.fsum(p.change_usdt for p in payments)
    ts = dec - BAR_MS  # bar opens, as the backtest's curves
    spot, perp = c["price_ref"], c["price_ref"] * (1.0 + c["basis"])  # the venue's, per close
    held = {leg: 0.0 for leg in Leg}  # the replay starts flat: positions are the fills' sum
    for f in fills:
        held[f.leg] += f.size_btc if f.side == "buy" else -f.size_btc
    sizes = (held[Leg.BTC_SPOT], held[Leg.BTC_PERP_LONG], -held[Leg.BTC_PERP_SHORT])
    attribution = attribute_fills(fills, dec, spot, perp, sizes, funding, nav0, nav)
    summary = summarize(
        ts, dec, nav, delta, nav0, fills, rebalances, funding, attribution,
        Benchmark(price_start, spot),
    )  # fmt: skip
    at = np.searchsorted(dec, [p.time_ms for p in payments], side="left")  # in the close after
    paid = np.zeros(len(dec))
    np.add.at(paid, np.clip(at, 0, len(dec) - 1), [p.change_usdt for p in payments])
    w = (c["w_spot"], c["w_long"], c["w_short"])
    return BacktestResult(
        summary, ts, nav, delta, *w, fills, rebalances, len(payments), np.cumsum(paid), spot
    )


def write_paper_report(
    store: StateStore,
    plans: list[Plan],
    nav0: float,
    out: Path,
    title: str = "",
    price_start: float = math.nan,
) -> BacktestResult | None:
    """Write the report files into ``out``; the result, ``None`` when nothing was replayed."""
    from ..reports.writer import write_reports

    result = paper_result(store, plans, nav0, price_start)
    if result is not None:
        write_reports(result, out, title=title)
    return result
