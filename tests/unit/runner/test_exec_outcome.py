"""What the agent says about an incomplete rebalance: the legs, the delta, the next step."""

from __future__ import annotations

import logging

from adaptive_agent.core.model import Book, Leg, Params
from adaptive_agent.execution.executor import ExecutionReport, LegFill
from adaptive_agent.execution.leg_outcome import LegResult
from adaptive_agent.lifecycle import RebalanceStatus
from adaptive_agent.runner.exec_outcome import report_outcome
from tests.unit.execution.test_pricing import plan_of


class Recorder:
    params = Params()

    def __init__(self):
        self.alerts = []

    def alert(self, kind, text):
        self.alerts.append((kind, text))


def issue_report():
    buy = LegFill(Leg.BTC_SPOT, "BUY", "buy", 1.5, result=LegResult.REJECTED)
    buy.rejection = "BALANCE_NOT_ENOUGH"
    short = LegFill(Leg.BTC_PERP_SHORT, "OPEN_SHORT", "sell", 25_000, maker_filled=25_000)
    return ExecutionReport("abc", [buy, short], status=RebalanceStatus.INCOMPLETE)


def test_an_incomplete_rebalance_is_a_warning_and_an_alert_with_the_delta(caplog):
    agent = Recorder()
    plan = plan_of(time_ms=1_700_000_000_000)  # NAV 60 000
    with caplog.at_level(logging.WARNING, "adaptive_agent.agent"):
        assert report_outcome(agent, plan, issue_report(), Book(cash=60_000.0), 20_000.0)
    ((kind, text),) = agent.alerts
    assert kind == "rebalance_incomplete"
    # 2.5 BTC short at 20 000 on a NAV of 60 000: 83.33 % from neutral
    assert "BTC_SPOT BUY rejected (BALANCE_NOT_ENOUGH)" in text
    assert "83.33% of NAV from neutral (delta -83.33%)" in text
    assert "2023-11-14 23:13 UTC" in text  # decision + 60 min: the next chance to retry
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("BALANCE_NOT_ENOUGH" in r.getMessage() for r in warnings)
    assert any("incomplete" in r.getMessage() for r in warnings)


def test_a_done_rebalance_says_nothing():
    agent = Recorder()
    leg = LegFill(Leg.BTC_PERP_LONG, "OPEN_LONG", "buy", 10, maker_filled=10)
    report = ExecutionReport("abd", [leg])
    assert not report_outcome(agent, plan_of(), report, Book(cash=1.0), 20_000.0)
    assert agent.alerts == []
