"""Leverage, margin mode, liquidation reads and pre-flight reads through the unmodified ccxt
client (the adapter's margin mixin) and the official gate-api SDK, against gate-sim."""

from __future__ import annotations

import asyncio
import time

import gate_api
import pytest
from gate_api.exceptions import GateApiException

from adaptive_agent.config import load_config
from adaptive_agent.core.model import VenueRules
from adaptive_agent.exchange.exchange_gate import ExchangeError
from adaptive_agent.exchange.gate_ccxt import GateCcxtExchange
from adaptive_agent.runner.margin_setup import check_rules
from adaptive_agent.sim.runner import running_sim

KEY, SECRET = "margin-key", "margin-secret"


@pytest.fixture(scope="module")
def path(spot):
    return spot.slice(2000, 2100)


def with_gate(path, body, **market):
    async def main():
        market.setdefault("dual_mode", True)
        async with running_sim(path, KEY, SECRET, **market) as sim:
            gate = GateCcxtExchange(KEY, SECRET, rest_url=sim.url, rate_limit=False)
            try:
                await gate.start()
                return await body(sim, gate)
            finally:
                await gate.close()

    return asyncio.run(main())


def test_cross_and_isolated_are_set_on_both_sides(path):
    async def body(sim, gate):
        sides = await gate.set_margin(3, "cross")
        assert {(s.side, s.leverage, s.cross_leverage_limit) for s in sides} == {
            ("long", 0.0, 3.0),
            ("short", 0.0, 3.0),
        }
        assert all(s.margin_mode == "CROSS" and s.effective_leverage == 3 for s in sides)
        sides = await gate.set_margin(5, "isolated")
        assert {(s.leverage, s.margin_mode) for s in sides} == {(5.0, "ISOLATED")}
        assert sim.market.leverage == 5

    with_gate(path, body, leverage=2)


def test_a_refusal_arrives_with_gates_label(path):
    async def body(sim, gate):
        sim.market.place("futures", None, -10, None)  # a short: no mode switch now
        with pytest.raises(ExchangeError) as err:
            await gate.set_margin(3, "cross")
        assert err.value.label == "POSITION_HOLDING"
        with pytest.raises(ExchangeError) as err:
            await gate.set_margin(0.5, "isolated")
        assert err.value.label == "LEVERAGE_TOO_LOW"

    with_gate(path, body)


def test_liquidation_price_and_maintenance_of_a_held_side(path):
    async def body(sim, gate):
        await gate.set_margin(3, "cross")
        sim.market.place("futures", None, -1_000, None)
        short = next(s for s in await gate.get_margin_sides() if s.side == "short")
        view = sim.market.positions()["dual_short"]
        assert short.contracts == 1_000 and short.liq_price == pytest.approx(view["liq_price"])
        assert short.liq_price > short.mark_price > 0
        assert short.maintenance_rate == 0.003 and short.margin > 0
        assert short.maintenance_margin == pytest.approx(0.003 * view["value"])

    with_gate(path, body)


def test_market_rules_clock_dual_mode_and_key_scopes(path):
    async def body(sim, gate):
        assert await gate.market_rules() == VenueRules()
        assert abs(await gate.server_time_ms() - time.time() * 1000) < 5_000
        assert await gate.in_dual_mode() is True
        assert await gate.probe_scopes() == {"spot": "", "futures": "", "wallet": ""}
        cfg = load_config(None, env={"ADAPTIVE_AGENT__VENUE__PERP_CONTRACT_BTC": "0.001"})
        assert await check_rules(gate, cfg) == [
            "venue.perp_contract_btc = 0.001, but Gate's BTC_USDT quanto_multiplier says 0.0001"
        ]

    with_gate(path, body)


def test_the_official_sdk_sets_leverage_and_margin_mode(path):
    async def main():
        async with running_sim(path, KEY, SECRET, dual_mode=True) as sim:
            cfg = gate_api.Configuration(host=sim.gate_rest, key=KEY, secret=SECRET)

            def work():
                with gate_api.ApiClient(cfg) as client:
                    fut = gate_api.FuturesApi(client)
                    rows = fut.update_dual_mode_position_leverage("usdt", "BTC_USDT", "7")
                    assert [r.leverage for r in rows] == ["7", "7"]
                    body = gate_api.UpdateDualCompPositionCrossModeRequest(
                        mode="CROSS", contract="BTC_USDT"
                    )
                    rows = fut.update_dual_comp_position_cross_mode("usdt", body)
                    assert {r.leverage for r in rows} == {"0"}
                    assert {r.cross_leverage_limit for r in rows} == {"10"}
                    with pytest.raises(GateApiException) as err:
                        fut.update_dual_mode_position_leverage("usdt", "BTC_USDT", "500")
                    assert err.value.label == "LEVERAGE_TOO_HIGH"

            await asyncio.to_thread(work)

    asyncio.run(main())


def test_dual_comp_endpoints_need_dual_mode_and_their_parameters(path):
    async def main():
        async with running_sim(path, KEY, SECRET, dual_mode=False) as sim:
            gate = GateCcxtExchange(KEY, SECRET, rest_url=sim.url, rate_limit=False)
            try:
                with pytest.raises(ExchangeError) as err:
                    await gate.set_margin(3, "isolated")
                assert err.value.label == "POSITION_NOT_FOUND"
                assert await gate.in_dual_mode() is False
                assert await gate.market_rules() is None  # markets not loaded yet
                sim.market.set_dual_mode(True)
                with pytest.raises(ExchangeError) as err:
                    await gate._call(
                        gate.ex.privateFuturesPostSettleDualCompPositionsContractLeverage,
                        {"settle": "usdt", "contract": "BTC_USDT"},
                    )
                assert err.value.label == "MISSING_REQUIRED_PARAM"
                bad = GateCcxtExchange(KEY, "wrong", rest_url=sim.url, rate_limit=False)
                try:
                    assert set((await bad.probe_scopes()).values()) == {"INVALID_SIGNATURE"}
                finally:
                    await bad.close()
            finally:
                await gate.close()

    asyncio.run(main())
