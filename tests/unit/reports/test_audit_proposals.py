"""The audit's proposals: which parameter moves, which way, by how much, for each missed KPI."""

from __future__ import annotations

import pytest

from adaptive_agent.config import AppConfig
from adaptive_agent.reports.audit_proposals import Proposal, format_value, propose

CFG = AppConfig()  # threshold_floor 0.005, atr_multiplier 0.2, leverage 3, interval 60 min


def ctx(**kw) -> dict:
    base = {
        "rebalances": 1,
        "turnover": 0.5,
        "max_abs_delta_frac": 0.0,
        "max_margin_frac": 0.0,
        "fees_nav_30d": None,
        "mean_funding_30d": None,
        "n_returns": 30,
    }
    return base | kw


def by_parameter(proposals: list[Proposal]) -> dict[str, Proposal]:
    return {p.parameter: p for p in proposals}


def test_fees_over_target_widen_the_band_and_space_rebalances() -> None:
    kpis = {"sharpe": 2.0, "max_dd": 0.01, "fees_nav": 0.0056}  # twice the target
    out = propose(CFG, kpis, {"fees_nav": 1.0}, ("fees_nav",), ctx(rebalances=3))
    p = by_parameter(out)
    band = p["strategy.threshold_floor"]
    assert (band.direction, band.current, band.suggested) == ("increase", 0.005, 0.00625)
    assert "3 rebalance(s)" in band.reason and band.kpi == "fees_nav"
    assert p["strategy.min_rebalance_interval_minutes"].suggested == 120.0
    assert band.summary() == "increase strategy.threshold_floor 0.005 -> 0.00625"
    one = propose(CFG, kpis, {"fees_nav": 1.0}, ("fees_nav",), ctx(rebalances=1))
    assert [q.parameter for q in one] == ["strategy.threshold_floor"]


def test_drawdown_with_delta_drift_tightens_the_band() -> None:
    kpis = {"sharpe": 2.0, "max_dd": 0.2, "fees_nav": 0.001}
    c = ctx(max_abs_delta_frac=0.01, max_margin_frac=0.6)  # 0.6 > 0.8 x 0.7
    p = by_parameter(propose(CFG, kpis, {"max_dd": 0.46}, ("max_dd",), c))
    assert p["strategy.threshold_floor"].direction == "decrease"
    assert p["strategy.threshold_floor"].suggested == 0.004  # step capped at 25%
    assert p["strategy.atr_multiplier"].suggested == 0.16
    assert p["strategy.leverage"].suggested == 2.4
    assert "strategy.targets" not in p


def test_drawdown_without_drift_scales_the_targets_down() -> None:
    kpis = {"sharpe": 2.0, "max_dd": 0.15, "fees_nav": 0.001}  # 9.5% over: the 10% minimum step
    (p,) = propose(CFG, kpis, {"max_dd": 0.095}, ("max_dd",), ctx(max_abs_delta_frac=0.001))
    assert p.parameter == "strategy.targets" and p.direction == "decrease"
    assert p.current == {"BTC_SPOT": 0.5, "BTC_PERP_LONG": 0.0, "BTC_PERP_SHORT": 0.5}
    assert p.suggested == {"BTC_SPOT": 0.4545, "BTC_PERP_LONG": 0.0, "BTC_PERP_SHORT": 0.4545}
    assert "BTC_SPOT=0.4545" in p.summary()


def test_low_sharpe_blames_fees_then_funding_else_asks_for_review() -> None:
    kpis = {"sharpe": 0.5, "max_dd": 0.01, "fees_nav": 0.001}
    devs = {"sharpe": 0.63}
    (fees,) = propose(CFG, kpis, devs, ("sharpe",), ctx(fees_nav_30d=0.004))
    assert fees.parameter == "strategy.threshold_floor" and fees.suggested == 0.0055
    (funding,) = propose(CFG, kpis, devs, ("sharpe",), ctx(mean_funding_30d=-0.0001))
    assert funding.parameter == "strategy.targets"
    assert funding.suggested == {"BTC_SPOT": 0.45, "BTC_PERP_SHORT": 0.45}
    assert "-1.00 bps" in funding.reason
    (review,) = propose(CFG, kpis, devs, ("sharpe",), ctx(fees_nav_30d=0.001))
    assert review.direction == "review" and review.summary() == "review strategy.targets"
    assert "30 daily returns" in review.reason


def test_sharpe_and_fees_together_propose_the_band_once() -> None:
    kpis = {"sharpe": 0.5, "max_dd": 0.01, "fees_nav": 0.0056}
    devs = {"sharpe": 0.63, "fees_nav": 1.0}
    out = propose(CFG, kpis, devs, ("fees_nav", "sharpe"), ctx(fees_nav_30d=0.004))
    assert [p.parameter for p in out].count("strategy.threshold_floor") == 1


def test_format_value() -> None:
    assert format_value(0.123456789) == "0.123457"
    assert format_value({"a": 0.5, "b": 2}) == "a=0.5, b=2"
    assert format_value(None) == "None"


@pytest.mark.parametrize("flagged", [(), ("max_dd",)])
def test_nothing_flagged_or_drawdown_alone_never_touches_fees(flagged) -> None:
    kpis = {"sharpe": 2.0, "max_dd": 0.2, "fees_nav": 0.1}
    out = propose(CFG, kpis, {}, flagged, ctx())
    assert all(p.kpi in flagged for p in out)
