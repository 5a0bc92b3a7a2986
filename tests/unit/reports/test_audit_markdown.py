"""The audit's proposal file: the KPI table and each proposal with its reason."""

from __future__ import annotations

import re
from datetime import date

from adaptive_agent.config import AppConfig
from adaptive_agent.reports.audit import AuditResult
from adaptive_agent.reports.audit_markdown import proposal_markdown
from adaptive_agent.reports.audit_proposals import Proposal


def test_proposal_markdown() -> None:
    r = AuditResult(
        day=date(2025, 6, 30),
        kpis={"sharpe": None, "max_dd": 0.2, "fees_nav": 0.0031},
        targets={"sharpe": 1.34, "max_dd": 0.137, "fees_nav": 0.0028},
        deviations={"sharpe": None, "max_dd": 0.46, "fees_nav": 0.107},
        flagged=("max_dd", "fees_nav"),
        proposals=(
            Proposal("max_dd", "strategy.targets", "decrease", {"A": 0.5}, {"A": 0.4}, "why 1"),
            Proposal("sharpe", "strategy.targets", "review", None, None, "why 2"),
        ),
        n_returns=1,
    )
    md = proposal_markdown(r, AppConfig())
    assert md.startswith("# Audit proposal 2025-06-30\n")
    assert re.search(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC by the daily audit", md)
    assert "| Sharpe (30 d) | n/a | 1.340 | n/a |  |" in md
    assert "| Max DD (day) | 20.000% | 13.700% | +46.0% | yes |" in md
    assert "| Fees/NAV (day) | 0.310% | 0.280% | +10.7% | yes |" in md
    assert "Allowed deviation: 5%. Sharpe uses 1 daily return(s)." in md
    assert "1. **strategy.targets**: decrease from A=0.5 to A=0.4 (max_dd)\n   Why: why 1" in md
    assert "2. **strategy.targets**: review (sharpe)\n   Why: why 2" in md
