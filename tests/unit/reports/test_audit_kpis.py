"""The daily audit's KPIs: day-end returns, the day's drawdown, fees/NAV, deviations.

Bars are stamped with their close: UTC day D owns the closes in (D 00:00, D+1 00:00].
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest

from adaptive_agent.config import AppConfig
from adaptive_agent.core.time_rules import DAY_MS, HOUR_MS
from adaptive_agent.records import TradeRecord
from adaptive_agent.reports.audit import daily_returns, run_audit
from adaptive_agent.reports.audit_kpis import day_kpis, deviation, proposal_context
from adaptive_agent.reports.digest import build_digest
from tests.support.audit_history import DAY, START, day_navs, good_returns, history, snap


def test_just_within_five_percent_is_not_flagged(store, tmp_path) -> None:
    history(store, good_returns(), fee=0.0)
    mean_nav = float(np.mean(day_navs(store)))
    fee = 0.0028 * 1.049 * mean_nav  # 4.9% over the target
    store.add_trades(
        [TradeRecord(START + 2 * HOUR_MS, "r2", "c2", "BTC_SPOT", "spot", "buy", 0.01, 6e4, 6e4,
                     fee, "taker")]
    )  # fmt: skip
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert r.deviations["fees_nav"] == pytest.approx(0.049, rel=1e-6)
    assert r.flagged == () and not (tmp_path / "Log.xlsx").exists()


def test_day_max_drawdown_includes_the_midnight_close_that_ends_it(store, tmp_path) -> None:
    store.add_bar(snap(START, 12_000.0))  # 06-30 00:00: the last close of 06-29, not DAY's
    for j, v in enumerate([10_000.0, 10_200.0, 10_100.0]):  # closes 06:00, 12:00, 18:00
        store.add_bar(snap(START + (j + 1) * 6 * HOUR_MS, v))
    store.add_bar(snap(START + DAY_MS, 8_160.0))  # 07-01 00:00: DAY's last close
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    navs = np.array([10_000.0, 10_200.0, 10_100.0, 8_160.0])
    expected = float(np.max(1 - navs / np.maximum.accumulate(navs)))
    assert expected == pytest.approx(0.20)
    assert r.kpis["max_dd"] == pytest.approx(expected, rel=1e-12)  # not 1 - 10_000 / 12_000
    assert "max_dd" in r.flagged
    # DAY's close is the 00:00 one: one daily return, 06-29's close to DAY's
    assert daily_returns(store, DAY) == [pytest.approx(8_160.0 / 12_000.0 - 1.0, rel=1e-12)]
    assert r.n_returns == 1 and r.kpis["sharpe"] is None
    # and the next day owns none of these closes
    nxt = run_audit(store, AppConfig(), DAY + timedelta(days=1), tmp_path / "next")
    assert nxt.kpis["max_dd"] is None and "no bars recorded for this day" in nxt.notes


def test_sharpe_undefined_with_fewer_than_two_returns(store, tmp_path) -> None:
    history(store, [0.001], fee=1.0)
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert r.kpis["sharpe"] is None and r.deviations["sharpe"] is None and r.n_returns == 1
    assert "sharpe" not in r.flagged


def test_daily_returns_join_the_days_that_have_bars(store) -> None:
    # 06-27 and 06-29 end with a close; 06-28 has none (a gap day)
    for day_end, nav in [(START - 2 * DAY_MS, 10_000.0), (START, 10_200.0)]:
        store.add_bar(snap(day_end - 6 * HOUR_MS, 9_000.0))
        store.add_bar(snap(day_end, nav))
    store.add_bar(snap(START + DAY_MS, 9_996.0))
    assert daily_returns(store, DAY) == pytest.approx([0.02, -0.02], rel=1e-12)
    k = day_kpis(store, DAY, build_digest(store, DAY))
    assert k.returns == daily_returns(store, DAY) and k.bars == 1
    assert k.values["sharpe"] == pytest.approx(0.0, abs=1e-12)  # +2% then -2%: mean 0
    assert k.values["max_dd"] == 0.0  # a single close on DAY


def test_day_kpis_match_the_audit(store, tmp_path) -> None:
    history(store, good_returns(), fee=5.0)
    k = day_kpis(store, DAY, build_digest(store, DAY))
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert k.values == r.kpis and len(k.returns) == r.n_returns == 30 and k.bars == 4


def test_deviation_is_positive_when_worse() -> None:
    assert deviation("sharpe", 1.0, 2.0) == pytest.approx(0.5)
    assert deviation("sharpe", 3.0, -2.0) == pytest.approx(-2.5)
    assert deviation("sharpe", -0.1, 0.0) == math.inf
    assert deviation("sharpe", 0.0, 0.0) == 0.0
    assert deviation("max_dd", 0.2, 0.1) == pytest.approx(1.0)
    assert deviation("fees_nav", 0.001, 0.0) == math.inf
    assert deviation("fees_nav", 0.0, 0.0) == 0.0
    assert deviation("max_dd", None, 0.1) is None


def test_proposal_context_over_the_sharpe_window(store) -> None:
    history(store, good_returns(), fee=5.0)
    store.add_bar(snap(START + 8 * HOUR_MS, 10_000.0, funding_rate=-0.0002, delta_frac=-0.03))
    store.add_bar(snap(START + 16 * HOUR_MS, 10_000.0, funding_rate=0.0001, margin_frac=0.4))
    digest = build_digest(store, DAY)
    ctx = proposal_context(store, DAY, digest, 30)
    window = store.bars(START + 1 - 29 * DAY_MS, START + DAY_MS + 1)  # DAY and the 29 before
    assert ctx["fees_nav_30d"] == pytest.approx(5.0 / np.mean([b.nav for b in window]) / 30)
    assert ctx["mean_funding_30d"] == pytest.approx(-0.00005)
    assert ctx["max_abs_delta_frac"] == pytest.approx(0.03)
    assert ctx["max_margin_frac"] == pytest.approx(0.4)
    assert ctx["rebalances"] == digest.rebalances == 1 and ctx["n_returns"] == 30


def test_proposal_context_of_an_empty_store(store) -> None:
    ctx = proposal_context(store, DAY, build_digest(store, DAY), 0)
    assert ctx["fees_nav_30d"] is None and ctx["mean_funding_30d"] is None
    assert ctx["turnover"] == 0.0 and ctx["max_margin_frac"] == 0.0


def test_a_days_audit_decodes_only_that_days_snapshots(store, tmp_path, monkeypatch) -> None:
    """Issue 9: the audit decoded 30 days of whole snapshots every day (a replay slowed
    quadratically); the 30-day figures now read two columns, whole snapshots only the day's
    (the evidence backtests, off the trading path, read their window once: not tested here)."""
    history(store, [0.001 * (-1) ** i for i in range(40)], fee=500.0)  # flagged: fees
    spans: list[int] = []
    real = store.bars

    def counting(start_ms, end_ms):
        spans.append(end_ms - start_ms)
        return real(start_ms, end_ms)

    monkeypatch.setattr(store, "bars", counting)
    digest = build_digest(store, DAY)
    result = run_audit(store, AppConfig(), DAY, tmp_path, digest, with_evidence=False)
    assert result.flagged and result.proposal_path is not None  # the proposal path ran too
    assert spans and max(spans) <= DAY_MS


def test_the_audit_reads_its_30_day_window_a_day_at_a_time(store, tmp_path, monkeypatch) -> None:
    """A long-running agent audits every day: holding 30 days of bar, fill and trade records
    at once made its memory grow until the window was full (issue 9). The bars' figures are
    read as columns (``bar_values``), the records a day at a time (the evidence backtests,
    off the trading path, read their window's candles once: not tested here)."""
    history(store, good_returns(), fee=500.0)  # fees far over target: the proposals run too
    spans: list[int] = []
    for name in ("bars", "trades", "fills", "funding_payments"):
        full = getattr(store, name)

        def spy(lo, hi, full=full):
            spans.append(hi - lo)
            return full(lo, hi)

        monkeypatch.setattr(store, name, spy)
    r = run_audit(store, AppConfig(), DAY, tmp_path / "audit", with_evidence=False)
    assert r.flagged and r.proposals and r.n_returns == 30
    assert spans and max(spans) <= DAY_MS


def test_the_evidence_neighbourhood_is_configured() -> None:
    from adaptive_agent.reports.audit_evidence import neighbourhood

    cfg = AppConfig()
    assert len(neighbourhood(cfg)) == 45  # the defaults: 5 x 3 x 3
    a = cfg.audit.model_copy(
        update={
            "evidence_floor_factors": (1.0, 2.0),
            "evidence_atr_steps": (0.0,),
            "evidence_interval_factors": (1.0,),
        }
    )
    points = [p for p, _ in neighbourhood(cfg.model_copy(update={"audit": a}))]
    floor = cfg.strategy.threshold_floor
    assert [p["strategy.threshold_floor"] for p in points] == [floor, round(2 * floor, 10)]
