"""Daily audit end to end: KPIs vs targets, a proposal and a log row only when one misses.

Bars are stamped with their close: UTC day D owns the closes in (D 00:00, D+1 00:00].
"""

from __future__ import annotations

import numpy as np
import pytest
from openpyxl import load_workbook

from adaptive_agent.config import AppConfig
from adaptive_agent.reports.audit import LOG_COLUMNS, run_audit
from tests.support.audit_history import DAY, day_navs, good_returns, history, np_sharpe


def test_within_targets_writes_nothing(store, tmp_path) -> None:
    closes = history(store, good_returns(), fee=5.0)  # 5 USDT on ~10k: 0.05% < 0.28%
    out = tmp_path / "audit"
    r = run_audit(store, AppConfig(), DAY, out)
    assert r.flagged == () and r.ok
    assert r.kpis["sharpe"] == pytest.approx(np_sharpe(closes), rel=1e-9)
    assert r.n_returns == 30  # the 30 returns ending with DAY, not all 35
    navs = day_navs(store)
    assert r.kpis["fees_nav"] == pytest.approx(5.0 / np.mean(navs), rel=1e-12)
    assert r.proposal_path is None and r.log_path is None
    assert not out.exists() or list(out.iterdir()) == []


def test_fees_over_target_proposes_and_logs(store, tmp_path) -> None:
    history(store, good_returns(), fee=50.0)  # ~0.5% of NAV > 0.28% * 1.05
    cfg = AppConfig()
    r = run_audit(store, cfg, DAY, tmp_path)
    fees_nav = 50.0 / np.mean(day_navs(store))
    assert r.flagged == ("fees_nav",)
    assert r.deviations["fees_nav"] == pytest.approx(fees_nav / 0.0028 - 1, rel=1e-9)
    params = [(p.parameter, p.direction) for p in r.proposals]
    assert ("strategy.threshold_floor", "increase") in params
    proposal = (tmp_path / "proposal-2025-06-30.md").read_text()
    assert r.proposal_path == tmp_path / "proposal-2025-06-30.md"
    assert "strategy.threshold_floor" in proposal and "increase" in proposal and "Why:" in proposal
    assert "Nothing has been changed" in proposal
    assert r.log_path == tmp_path / "Log.xlsx" and r.log_error is None
    wb = load_workbook(tmp_path / "Log.xlsx")
    rows = list(wb["audit"].iter_rows(values_only=True))
    assert rows[0] == LOG_COLUMNS and len(rows) == 2
    row = dict(zip(LOG_COLUMNS, rows[1], strict=True))
    assert row["date"] == "2025-06-30" and row["flagged"] == "fees_nav"
    assert row["fees_nav"] == pytest.approx(fees_nav) and row["target_fees_nav"] == 0.0028
    assert "threshold_floor" in row["proposal"]
    wb.close()


def test_sharpe_below_and_drawdown_above_target(store, tmp_path) -> None:
    rets = [-0.002 + 0.001 * (-1) ** i for i in range(35)]
    closes = history(store, rets, intraday=[1.0, 0.80, 0.85, 0.9], fee=1.0)
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert r.kpis["sharpe"] == pytest.approx(np_sharpe(closes), rel=1e-9)
    navs = day_navs(store)
    peak = np.maximum.accumulate(navs)
    assert r.kpis["max_dd"] == pytest.approx(float(np.max(1 - navs / peak)), rel=1e-12)
    assert r.kpis["max_dd"] == pytest.approx(0.20)
    assert set(r.flagged) == {"sharpe", "max_dd"}
    assert r.deviations["max_dd"] == pytest.approx(0.20 / 0.137 - 1)
    assert r.deviations["sharpe"] == pytest.approx((1.34 - r.kpis["sharpe"]) / 1.34)
    kpis = {p.kpi for p in r.proposals}
    assert kpis == {"sharpe", "max_dd"}
    assert any(p.parameter == "strategy.targets" and p.kpi == "max_dd" for p in r.proposals)


def test_empty_day(store, tmp_path) -> None:
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert r.kpis == {"sharpe": None, "max_dd": None, "fees_nav": None} and r.flagged == ()
    assert "no bars recorded for this day" in r.notes
