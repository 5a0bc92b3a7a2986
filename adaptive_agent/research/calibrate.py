"""``adaptive-agent calibrate --state F``: how the fills of a live or paper run compare with the
backtest's fill model (docs/rules.md, Calibration).

From the state database alone: each trade record (a fill as the agent recorded it, its fee as
the venue charged it) against the decision price of its leg (the venue's price in the
deciding close's snapshot; P_ref where the snapshot has no book), and each order's time from
its intent to its last update.

- maker share: maker notional / all fill notional (the backtest: ``maker_fill_ratio`` of
  every order fills as maker, so its maker share is that ratio);
- slippage: per taker fill ``s x (price - D) / D`` (``s`` +1 buying, -1 selling), notional
  weighted (the backtest: the taker part fills at the next open moved by ``slippage``);
- maker slippage: the same for maker fills (the backtest: 0, they fill at the decision price);
- time to fill: p50 and p90 of the filled orders' time from intent to their last update, by
  phase (post-only: the backtest assumes ``execution.post_only_timeout_s`` at most).

The snippet it writes sets ``backtest.maker_fill_ratio`` and ``backtest.slippage`` to the
observed values, for a backtest that fills as the venue did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..attribution import decision_price
from ..config import AppConfig

_ALL = 2**62


@dataclass(frozen=True, slots=True)
class Calibration:
    fills: int
    maker_share: float
    taker_slippage: float
    maker_slippage: float
    post_only_fill_s: tuple[float, float]  # p50, p90 (nan: none)
    ioc_fill_s: tuple[float, float]
    model_maker_share: float
    model_slippage: float
    model_post_only_timeout_s: float

    def drift(self) -> dict[str, float]:
        """Observed minus assumed, for the audit's model-drift check."""
        return {
            "maker_share": self.maker_share - self.model_maker_share,
            "slippage": self.taker_slippage - self.model_slippage,
        }


def _weighted(values: list[float], weights: list[float]) -> float:
    total = math.fsum(weights)
    return (
        math.fsum(v * w for v, w in zip(values, weights, strict=True)) / total
        if total
        else math.nan
    )


def _pct(xs: list[float]) -> tuple[float, float]:
    if not xs:
        return (math.nan, math.nan)
    a = np.asarray(xs, dtype=np.float64)
    return (float(np.percentile(a, 50)), float(np.percentile(a, 90)))


def calibrate(store: Any, cfg: AppConfig, start_ms: int = -_ALL, end_ms: int = _ALL) -> Calibration:
    """The fills decided in ``[start_ms, end_ms)`` (default: all of them)."""
    from ..reports.ledger_day import day_spans

    if start_ms <= -_ALL or end_ms >= _ALL:  # the command's "all": offline, read at once
        trades = store.trades(start_ms, end_ms)
    else:  # the daily audit's window: a day at a time, as its other reads
        trades = [t for lo, hi in day_spans(start_ms, end_ms) for t in store.trades(lo, hi)]
    ids = {t.client_id for t in trades}
    # the legs' venue prices at the deciding closes (two numbers a trade, not whole snapshots)
    prices = store.bar_values_at([t.time_ms for t in trades], "p_spot", "p_perp")
    slip: dict[str, tuple[list[float], list[float]]] = {"maker": ([], []), "taker": ([], [])}
    notional = {"maker": 0.0, "taker": 0.0}
    for t in trades:
        ps, pp = prices.get(t.time_ms, (None, None))
        d = t.ref_price
        if ps is not None and pp is not None:
            d = decision_price(t.leg, ps, pp)
        s = 1.0 if t.side == "buy" else -1.0
        n = abs(t.size_btc) * t.price
        kind = "maker" if t.liquidity == "maker" else "taker"
        notional[kind] += n
        slip[kind][0].append(s * (t.price - d) / d)
        slip[kind][1].append(n)
    total = notional["maker"] + notional["taker"]
    times: dict[str, list[float]] = {"post_only": [], "market": []}
    for cid, phase, created, updated in store.order_fill_times(start_ms, end_ms):
        if phase in times and cid in ids:
            times[phase].append(max(0.0, (updated - created) / 1000.0))
    bt = cfg.backtest
    return Calibration(
        fills=len(trades),
        maker_share=notional["maker"] / total if total > 0 else math.nan,
        taker_slippage=_weighted(*slip["taker"]),
        maker_slippage=_weighted(*slip["maker"]),
        post_only_fill_s=_pct(times["post_only"]),
        ioc_fill_s=_pct(times["market"]),
        model_maker_share=bt.maker_fill_ratio,
        model_slippage=bt.slippage,
        model_post_only_timeout_s=cfg.execution.post_only_timeout_s,
    )


def model_drift(c: Calibration, cfg: AppConfig) -> list[str]:
    """The fill-model assumptions the fills contradict beyond ``audit``'s margins (with at
    least ``audit.min_fills_for_drift`` fills), one text each; empty when none."""
    a = cfg.audit
    if c.fills < a.min_fills_for_drift:
        return []
    d = c.drift()
    out = []
    if math.isfinite(d["maker_share"]) and abs(d["maker_share"]) > a.max_maker_share_drift:
        out.append(
            f"maker share {c.maker_share:.2%} vs backtest.maker_fill_ratio"
            f" {c.model_maker_share:.2%}"
        )
    if math.isfinite(d["slippage"]) and abs(d["slippage"]) > a.max_slippage_drift:
        out.append(
            f"taker slippage {c.taker_slippage:.4%} vs backtest.slippage {c.model_slippage:.4%}"
        )
    return out


def calibration_text(c: Calibration) -> str:
    def pct(x: float) -> str:
        return "n/a" if math.isnan(x) else f"{x:.4%}"

    def secs(p: tuple[float, float]) -> str:
        return "n/a" if math.isnan(p[0]) else f"p50 {p[0]:.2f} s, p90 {p[1]:.2f} s"

    return "\n".join(
        [
            f"fills                 {c.fills:,}",
            f"maker share           {pct(c.maker_share)}   (model: {pct(c.model_maker_share)})",
            f"taker slippage        {pct(c.taker_slippage)}   (model: {pct(c.model_slippage)})",
            f"maker slippage        {pct(c.maker_slippage)}   (model: 0)",
            f"post-only to fill     {secs(c.post_only_fill_s)}"
            f"   (model: at most {c.model_post_only_timeout_s:g} s)",
            f"IOC to fill           {secs(c.ioc_fill_s)}",
        ]
    )


def config_snippet(c: Calibration) -> str:
    """TOML setting the backtest's fill model to what was observed (undefined values left out)."""
    lines = ["# observed by adaptive-agent calibrate", "[backtest]"]
    if math.isfinite(c.maker_share):
        lines.append(f"maker_fill_ratio = {min(1.0, max(0.0, c.maker_share)):.6g}")
    if math.isfinite(c.taker_slippage):
        lines.append(f"slippage = {min(0.0999, max(0.0, c.taker_slippage)):.6g}")
    return "\n".join(lines) + "\n"
