"""Market rules against the config, and leverage / margin mode against the venue's sides."""

from __future__ import annotations

from dataclasses import replace

from adaptive_agent.core.model import VenueRules
from adaptive_agent.exchange.exchange_gate import MarginSide
from adaptive_agent.runner.margin_setup import margin_mismatches, rule_mismatches


def side(name: str, leverage: float, cross_limit: float = 0.0) -> MarginSide:
    return MarginSide(name, 0, 0.0, 20_000.0, leverage, cross_limit, 0.0, 0.0, 0.003)


def test_equal_rules_have_no_mismatch():
    assert rule_mismatches(VenueRules(), VenueRules()) == []


def test_each_rule_mismatch_names_the_setting_and_gates_field():
    venue = replace(VenueRules(), perp_contract=0.001, spot_tick=0.01)
    lines = rule_mismatches(venue, VenueRules())
    assert lines == [
        "venue.perp_contract_btc = 0.0001, but Gate's BTC_USDT quanto_multiplier says 0.001",
        "venue.spot_price_tick = 0.1, but Gate's BTC_USDT precision says 0.01",
    ]


def test_margin_mismatches_name_the_setting():
    cross = (side("long", 0, 3), side("short", 0, 3))
    assert margin_mismatches(cross, 3.0, "cross") == []
    assert margin_mismatches(cross, 5.0, "cross") == [
        "strategy.leverage = 5, but Gate's long side has cross_leverage_limit 3",
        "strategy.leverage = 5, but Gate's short side has cross_leverage_limit 3",
    ]
    iso = (side("long", 3),)
    assert margin_mismatches(iso, 3.0, "isolated") == []
    assert margin_mismatches(iso, 3.0, "cross") == [
        "exchange.margin_mode = cross, but Gate's long side is ISOLATED"
    ]
    assert margin_mismatches(iso, 2.0, "isolated") == [
        "strategy.leverage = 2, but Gate's long side has leverage 3"
    ]
