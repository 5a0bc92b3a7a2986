"""Wallets on the simulator through unmodified clients: ccxt's ``transfer()`` and implicit
methods, the gate-api SDK's WalletApi/UnifiedApi/AccountApi, and our adapter's mixin."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt.async_support as ccxt
import gate_api
import pytest
from gate_api.exceptions import GateApiException

from adaptive_agent.exchange.exchange_gate import (
    AccountMode,
    AmbiguousOrderError,
    ExchangeError,
    Wallet,
)
from adaptive_agent.exchange.gate_ccxt import GateCcxtExchange
from adaptive_agent.io.loaders import Candles
from adaptive_agent.sim.faults import Faults
from adaptive_agent.sim.runner import running_sim
from tests.support.sim_clients import GATE_OPTIONS, redirect_gate

KEY, SECRET = "wallet-key", "wallet-secret"


@pytest.fixture(scope="module")
def path(spot) -> Candles:
    return spot.slice(0, 50)


def test_ccxt_transfer_moves_usdt_and_books_a_dnw_line(path):
    async def main() -> None:
        async with running_sim(path, KEY, SECRET, spot_usdt=1000.0, futures_usdt=0.0) as sim:
            ex = ccxt.gate(
                {"apiKey": KEY, "secret": SECRET, "enableRateLimit": False,
                 "options": dict(GATE_OPTIONS)}
            )  # fmt: skip
            redirect_gate(ex, sim.url)
            try:
                await ex.load_markets()
                res = await ex.transfer("USDT", 250.5, "spot", "swap")
                assert res["id"] == sim.market.wallets.records[0].tx_id
                spot = await ex.fetch_balance()
                fut = await ex.fetch_balance({"type": "swap"})
                assert spot["USDT"]["total"] == pytest.approx(749.5)
                assert fut["USDT"]["total"] == pytest.approx(250.5)
                book = await ex.privateFuturesGetSettleAccountBook(
                    {"settle": "usdt", "type": "dnw"}
                )
                assert [float(r["change"]) for r in book] == [250.5, 0.0]
                with pytest.raises(ccxt.InsufficientFunds):
                    await ex.transfer("USDT", 251, "swap", "spot")
                st = await ex.privateWalletGetOrderStatus({"tx_id": res["id"]})
                assert st["status"] == "success"
            finally:
                await ex.close()

    asyncio.run(main())


def test_sdk_wallet_unified_and_account_detail(path):
    async def main() -> Any:
        async with running_sim(path, KEY, SECRET, spot_usdt=500.0, futures_usdt=100.0) as sim:
            cfg = gate_api.Configuration(host=sim.gate_rest, key=KEY, secret=SECRET)

            def work() -> Any:
                with gate_api.ApiClient(cfg) as client:
                    wallet, acct = gate_api.WalletApi(client), gate_api.AccountApi(client)
                    uni = gate_api.UnifiedApi(client)
                    tx = wallet.transfer(
                        gate_api.Transfer(
                            currency="USDT", _from="futures", to="spot", amount="40", settle="usdt"
                        )
                    )
                    with pytest.raises(GateApiException) as err:
                        uni.list_unified_accounts()
                    return (
                        tx.tx_id,
                        acct.get_account_detail().key.mode,
                        uni.get_unified_mode().mode,
                        err.value.label,
                    )

            out = await asyncio.to_thread(work)
            return out, sim.market.spot_balances()["USDT"].available

    (tx_id, key_mode, mode, label), spot_usdt = asyncio.run(main())
    assert tx_id and key_mode == 1 and mode == "classic" and label == "INVALID_PARAM_VALUE"
    assert spot_usdt == pytest.approx(540.0)


def test_adapter_reads_the_mode_transfers_and_finds_moves(path):
    async def main() -> None:
        async with running_sim(path, KEY, SECRET, spot_usdt=1000.0, futures_usdt=0.0) as sim:
            gate = GateCcxtExchange(KEY, SECRET, rest_url=sim.url, rate_limit=False)
            try:
                assert await gate.get_account_mode() is AccountMode.CLASSIC
                tx = await gate.transfer(Wallet.FUTURES, 123.45, "tr-1")
                assert tx == sim.market.wallets.records[0].tx_id
                moves = await gate.transfer_moves(sim.market.now_ms - 60_000)
                assert [m.change for m in moves if m.change] == [123.45]
                bal = await gate.get_balances()
                assert bal.futures_usdt == pytest.approx(123.45)
                with pytest.raises(ExchangeError) as err:
                    await gate.transfer(Wallet.SPOT, 1e6, "tr-2")
                assert err.value.label == "BALANCE_NOT_ENOUGH"
                sim.faults.update({"timeout_after_accept": 1, "timeout_mode": "drop"})
                with pytest.raises(AmbiguousOrderError):
                    await gate.transfer(Wallet.SPOT, 23.0, "tr-3")
                assert len(sim.market.wallets.records) == 2  # it happened all the same
            finally:
                await gate.close()

    asyncio.run(main())


def test_adapter_in_a_unified_account(path):
    async def main() -> None:
        async with running_sim(
            path, KEY, SECRET, spot_usdt=800.0, futures_usdt=200.0, unified=True, dual_mode=True
        ) as sim:
            gate = GateCcxtExchange(KEY, SECRET, rest_url=sim.url, rate_limit=False)
            try:
                await gate.ex.load_markets()
                assert await gate.get_account_mode() is AccountMode.UNIFIED
                bal = await gate.get_balances()
                assert (bal.spot_usdt, bal.futures_usdt) == (1000.0, 0.0)
                with pytest.raises(ExchangeError):
                    await gate.transfer(Wallet.FUTURES, 10.0, "tr-1")
                await gate.ex.create_order("BTC/USDT:USDT", "market", "sell", 10)
                acct = await gate.get_unified_account()
                assert acct.initial_margin > 0 and acct.maintenance_margin > 0
                assert acct.available == pytest.approx(1000.0 - acct.initial_margin, abs=1.0)
                spot = await gate.ex.create_order("BTC/USDT", "market", "buy", None, None,
                                                  {"cost": 50.0})  # fmt: skip
                assert spot["id"]
            finally:
                await gate.close()

    asyncio.run(main())


def test_transfer_faults_error_rate_answers_server_error(path):
    async def main() -> None:
        faults = Faults(error_rate=1.0)
        async with running_sim(path, KEY, SECRET, faults=faults, spot_usdt=100.0) as sim:
            gate = GateCcxtExchange(KEY, SECRET, rest_url=sim.url, rate_limit=False)
            try:
                with pytest.raises(ExchangeError):
                    await gate.transfer(Wallet.FUTURES, 10.0, "tr-1")
                assert list(sim.market.wallets.records) == []
            finally:
                await gate.close()

    asyncio.run(main())
