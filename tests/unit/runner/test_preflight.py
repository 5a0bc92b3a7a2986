"""Pre-flight checks over the in-process simulator: each failure is one line naming the fix."""

from __future__ import annotations

import asyncio

import pytest

from adaptive_agent.config import load_config
from adaptive_agent.exchange.exchange_gate import ExchangeError
from adaptive_agent.exchange.paper_exchange import PaperExchange
from adaptive_agent.runner.preflight import (
    PREFLIGHT_CHECKS,
    PreflightContext,
    check_clock,
    run_preflight,
)
from adaptive_agent.state.store import StateStore
from tests.support.market_data import random_walk
from tests.support.sim_market import make

NOW = 1_700_000_000_000


class Venue(PaperExchange):
    """The paper exchange with a clock, key scopes and an optional failing read."""

    def __init__(self, market, clock_ms=NOW, scopes=None, fail=False) -> None:
        super().__init__(market)
        self.clock_ms, self.scopes, self.fail = clock_ms, scopes or {}, fail

    async def server_time_ms(self):
        return self.clock_ms

    async def probe_scopes(self):
        return {"spot": "", "futures": "", "wallet": "", **self.scopes}

    async def in_dual_mode(self):
        if self.fail:
            raise ExchangeError("HTTP 502", "SERVER_ERROR")
        return await super().in_dual_mode()


@pytest.fixture()
def store(tmp_path):
    s = StateStore(tmp_path / "p.sqlite", durable=False)
    yield s
    s.close()


def run(venue, store, env=None, local_ms=NOW, checks=None):
    cfg = load_config(None, env=env or {})
    waits = []

    async def sleep(s):
        waits.append(s)

    ctx = PreflightContext(cfg, venue, store, local_now_ms=lambda: local_ms, sleep=sleep)
    return asyncio.run(run_preflight(ctx, checks))


def market(**kw):
    return make(random_walk(1, 20), **kw)


def test_a_fresh_account_passes_and_gets_the_configured_margin_settings(store):
    m = market(leverage=5)
    assert run(Venue(m), store) == []
    sides = asyncio.run(Venue(m).get_margin_sides())
    assert {(s.leverage, s.cross_leverage_limit, s.margin_mode) for s in sides} == {
        (0.0, 3.0, "CROSS")
    }


def test_dual_mode_off(store):
    lines = run(Venue(market(dual_mode=False)), store)
    assert lines[0] == (
        "pre-flight: dual (hedge) position mode is off on the USDT futures account:"
        " enable it on Gate or start with --set-dual-mode"
    )


def test_a_foreign_open_order_is_named(store):
    m = market()
    below = round(m.mark() * 0.98, 1)
    m.place("futures", None, 1, below, tif="gtc", text="t-byhand")
    m.place("spot", "buy", 0.001, below, tif="gtc")  # no text at all
    lines = [line for line in run(Venue(m), store) if "foreign" in line]
    assert len(lines) == 2, lines
    assert "foreign open spot order" in lines[0]
    assert "foreign open futures order" in lines[1] and "t-byhand" in lines[1]


def test_clock_offset_over_the_tolerance(store):
    lines = run(Venue(market()), store, local_ms=NOW + 7_500)
    assert lines == [
        "pre-flight: the local clock is +7.5 s off Gate's (limit"
        " exchange.max_clock_offset_ms = 5000): synchronise it (NTP)"
    ]
    assert run(Venue(market()), store, local_ms=NOW - 4_000) == []


def test_a_venue_without_a_clock_is_not_checked(store):
    m = market()
    ctx = PreflightContext(load_config(None, env={}), PaperExchange(m), store)
    assert asyncio.run(check_clock(ctx)) == []


def test_a_missing_key_scope(store):
    lines = run(Venue(market(), scopes={"wallet": "FORBIDDEN"}), store)
    assert lines == [
        "pre-flight: the API key cannot use wallet (FORBIDDEN): give it the wallet permission"
    ]


def test_a_mode_gate_refuses_names_the_setting(store):
    m = market(leverage=3)
    m.place("futures", None, -5, None)  # a short held in isolated mode: no switch allowed
    lines = run(Venue(m), store)
    assert lines == [
        "pre-flight: exchange.margin_mode = cross, but Gate's long side is ISOLATED"
        " (Gate refused the change: POSITION_HOLDING)",
        "pre-flight: exchange.margin_mode = cross, but Gate's short side is ISOLATED"
        " (Gate refused the change: POSITION_HOLDING)",
    ]


def test_with_set_margin_off_the_settings_are_only_checked(store):
    m = market(leverage=5)
    env = {
        "ADAPTIVE_AGENT__EXCHANGE__SET_MARGIN": "false",
        "ADAPTIVE_AGENT__EXCHANGE__MARGIN_MODE": "isolated",
    }
    lines = run(Venue(m), store, env=env)
    assert lines[0] == "pre-flight: strategy.leverage = 3, but Gate's long side has leverage 5"
    assert m.leverage == 5  # untouched


def test_a_failing_venue_is_a_line_too(store):
    venue = Venue(market(), fail=True)
    lines = run(venue, store)
    assert lines[0] == "pre-flight: dual_mode: the venue failed: HTTP 502"


def test_a_passing_server_error_is_asked_again_not_a_failure(store):
    venue = Venue(market())
    failures = iter([True, True])  # two 502s, then the venue answers

    async def flaky():
        if next(failures, False):
            raise ExchangeError("HTTP 502", "SERVER_ERROR")
        return True

    venue.in_dual_mode = flaky
    assert run(venue, store) == []


def test_checks_are_a_list_one_line_adds_one(store):
    async def check_always(ctx):
        return ["balances short"]

    assert run(Venue(market()), store, checks=[*PREFLIGHT_CHECKS, check_always]) == [
        "pre-flight: balances short"
    ]


def test_an_order_the_store_knows_is_not_foreign(store):
    m = market()
    below = round(m.mark() * 0.98, 1)
    m.place("futures", None, 1, below, tif="gtc", text="t-ours1hp")
    order = {
        "client_id": "t-ours1hp",
        "leg": "BTC_PERP_LONG",
        "order_type": "OPEN_LONG",
        "market": "futures",
        "phase": "p",
        "amount": 1.0,
        "price": below,
    }
    store.begin_rebalance("ours1", NOW, {}, [order], NOW)
    assert not [line for line in run(Venue(m), store) if "foreign" in line]
