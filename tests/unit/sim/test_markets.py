"""The served Gate market objects agree with the trading rules in ``gate_constants``."""

from __future__ import annotations

from adaptive_agent.sim.markets import FUTURES_CONTRACT, SPOT_PAIR, fixture_disagreements


def test_the_bundled_market_objects_agree_with_the_constants():
    assert fixture_disagreements(SPOT_PAIR, FUTURES_CONTRACT) == []


def test_a_changed_rule_is_reported():
    spot = dict(SPOT_PAIR, precision="2")
    contract = dict(FUTURES_CONTRACT, quanto_multiplier="0.001")
    wrong = fixture_disagreements(spot, contract)
    assert len(wrong) == 2
    assert wrong[0].startswith("spot precision") and wrong[1].startswith("quanto_multiplier")
