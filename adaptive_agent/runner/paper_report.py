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
from ..backtest.rebalance_backtester import BacktestResult, Rebalance, summarize
from ..core.model import Leg, Plan
from ..core.time_rules import BAR_MS
from ..execution.order_pricing import rebalance_id_for
from ..state.store import StateStore

_CURVES = ("time_ms", "nav", "delta_frac", "w_spot", "w_long", "w_short")
_END = 2**62


def paper_result(store: StateStore, plans: list[Plan], nav0: float) -> BacktestResult | None:
    """The run as a ``BacktestResult``; ``None`` when no bar was recorded."""
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
    funding = math.fsum(p.change_usdt for p in store.funding_payments(-_END, _END))
    ts = dec - BAR_MS  # bar opens, as the backtest's curves
    summary = summarize(ts, dec, nav, delta, nav0, fills, rebalances, funding)
    w = (c["w_spot"], c["w_long"], c["w_short"])
    return BacktestResult(summary, ts, nav, delta, *w, fills, rebalances)


def write_paper_report(
    store: StateStore, plans: list[Plan], nav0: float, out: Path, title: str = ""
) -> BacktestResult | None:
    """Write the report files into ``out``; the result, ``None`` when nothing was replayed."""
    from ..reports.writer import write_reports

    result = paper_result(store, plans, nav0)
    if result is not None:
        write_reports(result, out, title=title)
    return result
