"""The simulator's wallets: transfers as Gate takes them, a unified account's shared USDT."""

from __future__ import annotations

import pytest

from adaptive_agent.sim.matching import SimMarket
from adaptive_agent.sim.orders import SimError
from adaptive_agent.sim.unified import unified_account


@pytest.fixture
def m(spot) -> SimMarket:
    return SimMarket(spot.slice(0, 20), spot_usdt=1_000.0, futures_usdt=0.0, dual_mode=True)


def test_classic_usdt_moves_only_by_a_transfer_and_is_booked_dnw(m):
    m.advance(5)
    assert m.futures_account()["total"] == 0.0  # never by itself
    rec = m.wallets.transfer("USDT", "spot", "futures", 400.0, "usdt", m.now_ms, "c-1")
    assert m.spot_balances()["USDT"].available == 600.0
    assert m.futures_account()["total"] == 400.0
    book = m.account_book("dnw")
    assert book[-1].change == 400.0 and book[-1].time_ms == m.now_ms
    assert m.wallets.find(tx_id=rec.tx_id) is rec and m.wallets.find(client_order_id="c-1") is rec
    m.wallets.transfer("USDT", "futures", "spot", 100.0, "USDT", m.now_ms)
    assert m.futures_account()["total"] == 300.0 and m.account_book("dnw")[-1].change == -100.0


@pytest.mark.parametrize(
    ("args", "label"),
    [
        (("BTC", "spot", "futures", 1.0, "usdt"), "INVALID_PARAM_VALUE"),
        (("USDT", "spot", "margin", 1.0, "usdt"), "INVALID_PARAM_VALUE"),
        (("USDT", "spot", "spot", 1.0, "usdt"), "INVALID_PARAM_VALUE"),
        (("USDT", "spot", "futures", 1.0, None), "MISSING_REQUIRED_PARAM"),
        (("USDT", "spot", "futures", 1.0, "btc"), "INVALID_PARAM_VALUE"),
        (("USDT", "spot", "futures", 0.0, "usdt"), "INVALID_PARAM_VALUE"),
        (("USDT", "spot", "futures", 1e-9, "usdt"), "INVALID_PARAM_VALUE"),
        (("USDT", "spot", "futures", 1_000.01, "usdt"), "BALANCE_NOT_ENOUGH"),
        (("USDT", "futures", "spot", 0.01, "usdt"), "BALANCE_NOT_ENOUGH"),
    ],
)
def test_refusals(m, args, label):
    with pytest.raises(SimError) as err:
        m.wallets.transfer(*args, now_ms=m.now_ms)
    assert err.value.label == label
    assert list(m.wallets.records) == []


def test_a_client_order_id_is_taken_once(m):
    m.wallets.transfer("USDT", "spot", "futures", 1.0, "usdt", m.now_ms, "x")
    with pytest.raises(SimError):
        m.wallets.transfer("USDT", "spot", "futures", 1.0, "usdt", m.now_ms, "x")


def test_margin_in_use_cannot_leave_the_futures_wallet(m):
    m.wallets.transfer("USDT", "spot", "futures", 900.0, "usdt", m.now_ms)
    m.place("futures", "sell", -1000)  # ~2 300 USDT notional at 3x: ~776 margin
    m.advance()
    avail = m.futures_account()["available"]
    assert 0 < avail < 200
    with pytest.raises(SimError):
        m.wallets.transfer("USDT", "futures", "spot", round(avail + 1, 2), "usdt", m.now_ms)


def test_unified_one_balance_for_both_and_no_transfers(spot):
    u = SimMarket(spot.slice(0, 20), spot_usdt=800.0, futures_usdt=200.0, unified=True)
    assert u.spot_balances()["USDT"].available == 1_000.0
    assert u.futures_account()["total"] == 1_000.0
    with pytest.raises(SimError):
        u.wallets.transfer("USDT", "spot", "futures", 1.0, "usdt", u.now_ms)
    u.place("futures", "sell", -1000)  # opens a short: margin from the shared balance
    u.advance()
    held = u.futures_account()["total"] - u.futures_account()["available"]
    assert held > 700
    with pytest.raises(SimError) as err:  # a spot buy sees only what the margin leaves
        u.place("spot", "buy", 500.0)
    assert err.value.label == "BALANCE_NOT_ENOUGH"
    fee = u.my_trades("futures")[0].fee
    acct = unified_account(u)
    usdt = acct["balances"]["USDT"]
    assert float(usdt["available"]) + float(usdt["freeze"]) == pytest.approx(1_000.0 - fee)
    assert float(acct["total_maintenance_margin"]) > 0
    assert acct["mode"] == "single_currency"
