"""The official gate-api SDK (synchronous, strict models) against the simulator.

The SDK blocks, so it runs in a worker thread while the server runs on the test's loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import gate_api
import pytest
from gate_api.exceptions import GateApiException

from adaptive_agent.io.loaders import Candles
from adaptive_agent.sim.runner import RunningSim, running_sim

KEY, SECRET = "sdk-key", "sdk-secret"


@pytest.fixture(scope="module")
def path(spot) -> Candles:
    return spot.slice(2000, 2200)


def with_sdk(path: Candles, calls: Any, secret: str = SECRET) -> Any:
    async def main() -> Any:
        async with running_sim(path, KEY, SECRET) as sim:
            cfg = gate_api.Configuration(host=sim.gate_rest, key=KEY, secret=secret)

            def work() -> Any:
                with gate_api.ApiClient(cfg) as client:
                    return calls(sim, gate_api.SpotApi(client), gate_api.FuturesApi(client))

            return await asyncio.to_thread(work)

    return asyncio.run(main())


def test_accounts_dual_mode_orders_positions_and_history(path):
    def calls(sim: RunningSim, spot: Any, fut: Any) -> None:
        accounts = {a.currency: a for a in spot.list_spot_accounts()}
        assert accounts["USDT"].available == "100000" and accounts["BTC"].locked == "0"
        assert fut.list_futures_accounts("usdt").total == "100000"
        assert fut.set_dual_mode("usdt", True).in_dual_mode is True  # sent as dual_mode=True
        bid, _ = sim.market.top("futures")
        mkt = fut.create_futures_order(
            "usdt",
            gate_api.FuturesOrder(
                contract="BTC_USDT", size="2", price="0", tif="ioc", text="t-sdk-m"
            ),
        )
        assert mkt.status == "finished" and mkt.finish_as == "filled" and mkt.left == "0"
        rest = fut.create_futures_order(
            "usdt",
            gate_api.FuturesOrder(
                contract="BTC_USDT",
                size="-1",
                price=str(bid + 20),
                tif="poc",
                reduce_only=True,
                text="t-sdk-r",
            ),
        )
        assert rest.status == "open" and rest.is_reduce_only and rest.finish_as is None
        assert fut.get_futures_order("usdt", "t-sdk-r").id == rest.id  # by client text
        legs = {p.mode: p for p in fut.list_positions("usdt")}
        assert legs["dual_long"].size == "2" and legs["dual_short"].size == "0"
        assert [o.id for o in fut.list_futures_orders("usdt", "open")] == [rest.id]
        assert fut.cancel_futures_order("usdt", str(rest.id)).finish_as == "cancelled"
        assert [o.text for o in fut.list_futures_orders("usdt", "finished")] == [
            "t-sdk-r",
            "t-sdk-m",
        ]
        sbid, _ = sim.market.top("spot")
        so = spot.create_order(
            gate_api.Order(
                currency_pair="BTC_USDT",
                side="buy",
                amount="0.001",
                price=str(sbid),
                time_in_force="poc",
                text="t-sdk-s",
            )
        )
        assert so.status == "open" and so.left == "0.001"
        assert [o.id for o in spot.list_orders("BTC_USDT", "open")] == [so.id]
        assert spot.get_order("t-sdk-s", "BTC_USDT").id == so.id
        assert spot.cancel_order(so.id, "BTC_USDT").status == "cancelled"
        assert [o.id for o in spot.list_orders("BTC_USDT", "finished")] == [so.id]
        assert spot.list_all_open_orders() == []

    with_sdk(path, calls)


def test_errors_arrive_as_gate_api_exceptions_with_labels(path):
    def calls(sim: RunningSim, spot: Any, fut: Any) -> list[tuple[str, int]]:
        _, ask = sim.market.top("spot")
        seen = []
        attempts = [
            lambda: spot.create_order(
                gate_api.Order(
                    currency_pair="BTC_USDT",
                    side="buy",
                    amount="0.001",
                    price=str(ask),
                    time_in_force="poc",
                )
            ),
            lambda: spot.create_batch_orders(
                [
                    gate_api.Order(
                        currency_pair="BTC_USDT",
                        side="buy",
                        amount="0.001",
                        price="1000",
                        text=f"t-b{i}",
                    )
                    for i in range(11)
                ]
            ),
            lambda: fut.get_futures_order("usdt", "999"),
        ]
        for attempt in attempts:
            with pytest.raises(GateApiException) as err:
                attempt()
            seen.append((err.value.label, err.value.status))
        return seen

    assert with_sdk(path, calls) == [
        ("POC_FILL_IMMEDIATELY", 400),
        ("INVALID_PARAM_VALUE", 400),
        ("ORDER_NOT_FOUND", 404),
    ]


def test_a_wrong_secret_is_invalid_signature(path):
    def calls(sim: RunningSim, spot: Any, fut: Any) -> tuple[str, int]:
        with pytest.raises(GateApiException) as err:
            spot.list_spot_accounts()
        return err.value.label, err.value.status

    assert with_sdk(path, calls, secret="wrong") == ("INVALID_SIGNATURE", 401)
