"""The audit's proposal file (docs/rules.md, "Daily audit"): ``proposal-YYYY-MM-DD.md``, the
KPIs against their targets and each proposal with its reason, for a person to review.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..config import AppConfig
from ..core.time_rules import utc_text
from .audit_kpis import KPIS
from .audit_proposals import format_value

if TYPE_CHECKING:
    from .audit import AuditResult

KPI_NAMES = {"sharpe": "Sharpe (30 d)", "max_dd": "Max DD (day)", "fees_nav": "Fees/NAV (day)"}


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3%}"


def proposal_markdown(r: AuditResult, cfg: AppConfig) -> str:
    """The proposal file's text for the audit result ``r``."""
    lines = [
        f"# Audit proposal {r.day.isoformat()}",
        "",
        f"Generated {utc_text(int(time.time() * 1000), seconds=True)} by the daily audit."
        " Nothing has been changed: these are proposals for a person to review, test in a"
        " backtest, and apply in the configuration.",
        "",
        "## KPIs against targets",
        "",
        "| KPI | actual | target | deviation (positive = worse) | flagged |",
        "| --- | --- | --- | --- | --- |",
    ]
    for k in KPIS:
        actual, target, dev = r.kpis[k], r.targets[k], r.deviations[k]
        if k == "sharpe":
            a_txt = "n/a" if actual is None else f"{actual:.3f}"
            t_txt = f"{target:.3f}"
        else:
            a_txt, t_txt = _pct(actual), _pct(target)
        d_txt = "n/a" if dev is None else f"{dev:+.1%}"
        lines.append(
            f"| {KPI_NAMES[k]} | {a_txt} | {t_txt} | {d_txt} | {'yes' if k in r.flagged else ''} |"
        )
    lines += [
        "",
        f"Allowed deviation: {cfg.audit.max_deviation:.0%}. Sharpe uses {r.n_returns} daily"
        " return(s).",
        *(f"Note: {n}." for n in r.notes),
        "",
        "## Proposals",
        "",
    ]
    for i, p in enumerate(r.proposals, 1):
        if p.direction == "review":
            lines.append(f"{i}. **{p.parameter}**: review ({p.kpi})")
        else:
            lines.append(
                f"{i}. **{p.parameter}**: {p.direction} from {format_value(p.current)}"
                f" to {format_value(p.suggested)} ({p.kpi})"
            )
        lines.append(f"   Why: {p.reason}")
    return "\n".join(lines) + "\n"
