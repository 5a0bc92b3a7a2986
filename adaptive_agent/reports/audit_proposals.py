"""The daily audit's proposals (docs/rules.md, "Daily audit"): for each KPI that missed its
target, which parameter to change, in which direction, by how much, and why.

Nothing is changed automatically: a person reviews the proposal, tests it in a backtest and
applies it in the configuration. A parameter moves by the size of the miss, but at least 10%
and at most 25% a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import AppConfig


@dataclass(frozen=True, slots=True)
class Proposal:
    kpi: str
    parameter: str
    direction: str  # increase | decrease | review
    current: Any
    suggested: Any
    reason: str

    def summary(self) -> str:
        if self.direction == "review":
            return f"review {self.parameter}"
        return (
            f"{self.direction} {self.parameter} {format_value(self.current)}"
            f" -> {format_value(self.suggested)}"
        )


def format_value(v: Any) -> str:
    """A parameter value as the proposal shows it."""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={format_value(x)}" for k, x in v.items())
    return str(v)


def _step(ratio: float) -> float:
    """Change a parameter by the size of the miss, but at least 10% and at most 25% a day."""
    return min(max(ratio, 1.10), 1.25)


def _round(v: float) -> float:
    return float(f"{v:.4g}")


def propose(
    cfg: AppConfig,
    kpis: dict[str, float | None],
    devs: dict[str, float | None],
    flagged: tuple[str, ...],
    ctx: dict[str, Any],
) -> list[Proposal]:
    """The proposals for the ``flagged`` KPIs; ``ctx`` is ``audit_kpis.proposal_context``."""
    s, a = cfg.strategy, cfg.audit
    out: list[Proposal] = []
    if "fees_nav" in flagged:
        fees = kpis["fees_nav"] or 0.0
        ratio = fees / a.target_fees_nav_per_day if a.target_fees_nav_per_day > 0 else 2.0
        why = (
            f"fees were {fees:.4%} of NAV against a target of {a.target_fees_nav_per_day:.4%}"
            f" per day ({devs['fees_nav']:+.1%}); the day had {ctx['rebalances']} rebalance(s)"
            f" and turnover {ctx['turnover']:.3f}x NAV. A wider no-trade band means fewer,"
            " larger rebalances and less fee per day."
        )
        out.append(
            Proposal(
                "fees_nav",
                "strategy.threshold_floor",
                "increase",
                s.threshold_floor,
                _round(min(s.threshold_floor * _step(ratio), 0.99)),
                why,
            )
        )
        if ctx["rebalances"] >= 2:
            out.append(
                Proposal(
                    "fees_nav",
                    "strategy.min_rebalance_interval_minutes",
                    "increase",
                    s.min_rebalance_interval_minutes,
                    _round(min(max(s.min_rebalance_interval_minutes * 2, 60.0), 1440.0)),
                    f"{ctx['rebalances']} rebalances in one day; spacing them out cuts the"
                    " number of fee-paying trades.",
                )
            )
    if "max_dd" in flagged:
        dd = kpis["max_dd"] or 0.0
        ratio = dd / a.target_max_dd if a.target_max_dd > 0 else 2.0
        drift = ctx["max_abs_delta_frac"]
        if drift > s.threshold_floor:
            out.append(
                Proposal(
                    "max_dd",
                    "strategy.threshold_floor",
                    "decrease",
                    s.threshold_floor,
                    _round(s.threshold_floor / _step(ratio)),
                    f"max drawdown {dd:.2%} against {a.target_max_dd:.2%}; net delta drifted"
                    f" to {drift:.2%} of NAV, above the {s.threshold_floor:.2%} floor, so BTC"
                    " moves reached NAV. A tighter band keeps the book closer to neutral"
                    " (at the price of more rebalances).",
                )
            )
            if s.atr_multiplier > 0:
                out.append(
                    Proposal(
                        "max_dd",
                        "strategy.atr_multiplier",
                        "decrease",
                        s.atr_multiplier,
                        _round(s.atr_multiplier / _step(ratio)),
                        "the volatility term widens the band on volatile days, exactly when"
                        " delta drift costs most.",
                    )
                )
        else:
            t = s.targets
            k = 1.0 / _step(ratio)
            suggested = {
                "BTC_SPOT": _round(t.BTC_SPOT * k),
                "BTC_PERP_LONG": _round(t.BTC_PERP_LONG * k),
                "BTC_PERP_SHORT": _round(t.BTC_PERP_SHORT * k),
            }
            current = {
                "BTC_SPOT": t.BTC_SPOT,
                "BTC_PERP_LONG": t.BTC_PERP_LONG,
                "BTC_PERP_SHORT": t.BTC_PERP_SHORT,
            }
            out.append(
                Proposal(
                    "max_dd",
                    "strategy.targets",
                    "decrease",
                    current,
                    suggested,
                    f"max drawdown {dd:.2%} against {a.target_max_dd:.2%} while net delta"
                    f" stayed within {drift:.2%} of NAV: the loss came from the legs"
                    " themselves (basis, funding). Scaling every target down by the same factor"
                    " keeps the book neutral and lowers gross exposure.",
                )
            )
        if ctx["max_margin_frac"] > 0.8 * cfg.safe_mode.max_margin_frac:
            out.append(
                Proposal(
                    "max_dd",
                    "strategy.leverage",
                    "decrease",
                    s.leverage,
                    _round(max(s.leverage / _step(ratio), 1.0)),
                    f"used margin reached {ctx['max_margin_frac']:.1%} of NAV; less leverage"
                    " leaves more collateral against a squeeze on the perpetual leg (check that"
                    " BTC_SPOT + (long + short) / leverage stays <= 1).",
                )
            )
    if "sharpe" in flagged:
        sh = kpis["sharpe"]
        fees30 = ctx["fees_nav_30d"]
        funding30 = ctx["mean_funding_30d"]
        why = f"30-day Sharpe {sh:.2f} against a target of {a.target_sharpe:.2f}"
        if fees30 is not None and fees30 > a.target_fees_nav_per_day:
            if not any(p.parameter == "strategy.threshold_floor" for p in out):
                out.append(
                    Proposal(
                        "sharpe",
                        "strategy.threshold_floor",
                        "increase",
                        s.threshold_floor,
                        _round(s.threshold_floor * 1.10),
                        f"{why}; fees averaged {fees30:.4%} of NAV per day over the window,"
                        f" above the {a.target_fees_nav_per_day:.4%} target: costs eat the"
                        " return.",
                    )
                )
        elif funding30 is not None and funding30 < 0:
            t = s.targets
            out.append(
                Proposal(
                    "sharpe",
                    "strategy.targets",
                    "decrease",
                    {"BTC_SPOT": t.BTC_SPOT, "BTC_PERP_SHORT": t.BTC_PERP_SHORT},
                    {
                        "BTC_SPOT": _round(t.BTC_SPOT * 0.9),
                        "BTC_PERP_SHORT": _round(t.BTC_PERP_SHORT * 0.9),
                    },
                    f"{why}; funding averaged {funding30 * 1e4:+.2f} bps per 8 h, so the short"
                    " perpetual leg pays funding. Less spot/short exposure (same ratio, still"
                    " neutral) until funding turns positive.",
                )
            )
        else:
            out.append(
                Proposal(
                    "sharpe",
                    "strategy.targets",
                    "review",
                    None,
                    None,
                    f"{why}; neither fees nor funding explain it. Sharpe over"
                    f" {ctx['n_returns']} daily returns is noisy: review the targets and the"
                    " basis history before changing anything.",
                )
            )
    return out
