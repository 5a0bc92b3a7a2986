"""The wallet manager (runner/wallets.py) over a real SimMarket (PaperExchange) and a real
state store: transfers recorded before they are sent, settled by the account book after a
lost answer or a crash, never doubled; the pre-flight and the top-up hook."""

from __future__ import annotations

import asyncio

import pytest

from adaptive_agent.config import AppConfig
from adaptive_agent.core.model import Book, Leg, Order, OrderType, Plan, Prices, Signal
from adaptive_agent.core.wallet_plan import TransferStatus, Wallet, WalletParams
from adaptive_agent.exchange.exchange_gate import (
    AccountMode,
    AmbiguousOrderError,
    ExchangeError,
)
from adaptive_agent.exchange.paper_exchange import PaperExchange
from adaptive_agent.runner.wallets import (
    WalletManager,
    balance_lines,
    balance_problems,
    manager_for,
)
from adaptive_agent.sim.matching import SimMarket
from adaptive_agent.state.store import StateStore

P = WalletParams()


class LosingAnswers(PaperExchange):
    """The venue moves the money, then the answer is lost (``lose``) or never leaves."""

    def __init__(self, market, lose: str = "") -> None:
        super().__init__(market)
        self.lose = lose

    async def transfer(self, to, amount_usdt, client_id):
        if self.lose == "before":
            raise AmbiguousOrderError("connection reset before the request left")
        tx = await super().transfer(to, amount_usdt, client_id)
        if self.lose == "after":
            raise AmbiguousOrderError("timeout after the venue accepted")
        return tx


@pytest.fixture
def market(spot) -> SimMarket:
    return SimMarket(spot.slice(0, 30), spot_usdt=100_000.0, futures_usdt=0.0, dual_mode=True)


@pytest.fixture
def store(tmp_path):
    s = StateStore(tmp_path / "s.sqlite", durable=False)
    yield s
    s.close()


def manager(gate, store, alerts=None, mode=AccountMode.CLASSIC) -> WalletManager:
    got = alerts if alerts is not None else []
    return WalletManager(gate, store, P, lambda: 1_000_000, lambda k, t: got.append(k), mode)


def short_plan(px: float, contracts: int, t: int = 1_000_000) -> Plan:
    o = Order(Leg.BTC_PERP_SHORT, OrderType.OPEN_SHORT, contracts, contracts * 1e-4, px, 0.0)
    return Plan(t, 1e5, 0.0, 0.0, True, "", Signal.NONE, False, (), (0, 0, 0), orders=(o,))


def test_before_funds_futures_and_after_returns_the_surplus(market, store):
    gate = PaperExchange(market)
    mgr = manager(gate, store)
    px = market.mark()
    r = asyncio.run(mgr.before(short_plan(px, 20_000), Book(100_000.0), Prices(px, px, px)))
    [t] = store.transfers()
    assert r.done == [t.client_id] == ["tr-1000000-pre-0"] and t.status is TransferStatus.DONE
    assert market.futures_account()["total"] == pytest.approx(t.amount)
    assert [rec.amount for rec in market.wallets.records] == [t.amount]
    # nothing was opened: after the rebalance everything above the band goes back to spot
    r2 = asyncio.run(mgr.after(1_000_000))
    assert r2.done == ["tr-1000000-post-0"]
    assert market.futures_account()["total"] == 0.0
    # the same decision again (a restart): recorded ids are never sent twice
    asyncio.run(mgr.before(short_plan(px, 20_000), Book(100_000.0), Prices(px, px, px)))
    assert len(market.wallets.records) == 2


@pytest.mark.parametrize("lose", ["before", "after"])
def test_a_lost_answer_is_settled_by_the_account_book_never_resent(market, store, lose):
    gate = LosingAnswers(market, lose)
    mgr = manager(gate, store)
    px = market.mark()
    asyncio.run(mgr.before(short_plan(px, 20_000), Book(100_000.0), Prices(px, px, px)))
    [t] = store.transfers()
    moved = len(market.wallets.records)
    assert moved == (1 if lose == "after" else 0)
    if lose == "after":
        assert t.status is TransferStatus.DONE and t.book_id
    else:  # not booked yet: it stays unknown, the next settle (or restart) decides
        assert t.status is TransferStatus.UNKNOWN
        assert asyncio.run(mgr.reconcile()) == [t.client_id]
        assert store.transfer(t.client_id).status is TransferStatus.FAILED
    assert len(market.wallets.records) == moved  # never re-sent


def test_a_crash_between_record_and_send_or_after_send_reconciles(market, store):
    gate = PaperExchange(market)
    # killed after recording, before sending: the venue never saw it
    store.add_transfer("tr-1-pre-0", 999_000, "futures", 500.0, "fund_futures")
    # killed after sending: the venue moved it, the store still says intent
    store.add_transfer("tr-2-pre-0", 999_500, "futures", 700.0, "fund_futures")
    asyncio.run(gate.transfer(Wallet.FUTURES, 700.0, "tr-2-pre-0"))
    settled = asyncio.run(manager(gate, store).reconcile())
    assert settled == ["tr-1-pre-0", "tr-2-pre-0"]
    assert store.transfer("tr-1-pre-0").status is TransferStatus.FAILED
    assert store.transfer("tr-2-pre-0").status is TransferStatus.DONE
    assert len(market.wallets.records) == 1
    assert asyncio.run(manager(gate, store).reconcile()) == []  # idempotent


def test_a_refused_transfer_is_a_warning_and_an_alert(market, store, caplog):
    alerts: list[str] = []
    gate = PaperExchange(market)
    mgr = manager(gate, store, alerts)
    market.wallets.unified = True  # the venue now refuses every transfer
    px = market.mark()
    r = asyncio.run(mgr.before(short_plan(px, 20_000), Book(100_000.0), Prices(px, px, px)))
    assert r.failed and store.transfers()[0].status is TransferStatus.FAILED
    assert "transfer_failed" in alerts
    assert any(rec.levelname == "WARNING" for rec in caplog.records)


def test_a_wallet_left_short_is_alerted(spot, store):
    m = SimMarket(spot.slice(0, 30), spot_usdt=50.0, futures_usdt=0.0, dual_mode=True)
    alerts: list[str] = []
    px = m.mark()
    r = asyncio.run(
        manager(PaperExchange(m), store, alerts).before(
            short_plan(px, 20_000), Book(50.0), Prices(px, px, px)
        )
    )
    assert r.shortfalls and "wallet_shortfall" in alerts


def test_top_up_moves_what_spot_has_and_unified_moves_nothing(market, store):
    gate = PaperExchange(market)
    assert asyncio.run(manager(gate, store).top_up(250.555)) == 250.55
    assert market.futures_account()["total"] == pytest.approx(250.55)
    assert asyncio.run(manager(gate, store).top_up(0.0)) == 0.0
    uni = manager(gate, store, mode=AccountMode.UNIFIED)
    assert asyncio.run(uni.top_up(100.0)) == 0.0
    px = market.mark()
    r = asyncio.run(uni.before(short_plan(px, 10), Book(1e5), Prices(px, px, px)))
    assert (r.done, r.failed) == ([], []) and asyncio.run(uni.after(1)).done == []


def test_a_venue_failure_in_a_phase_is_alerted_not_raised(market, store):
    class Down(PaperExchange):
        async def get_balances(self):
            raise ExchangeError("503", "SERVER_ERROR")

    alerts: list[str] = []
    r = asyncio.run(manager(Down(market), store, alerts).after(1))
    assert r.done == [] and alerts == ["transfer_failed"]


def test_preflight_names_each_wallet_short_of_the_targets(spot, tmp_path):
    cfg = AppConfig()
    m = SimMarket(spot.slice(0, 30), spot_usdt=100_000.0, futures_usdt=0.0, dual_mode=True)
    px = m.mark()
    book, prices = Book(100_000.0), Prices(px, px, px)
    gate = PaperExchange(m)
    wp = cfg.wallet_params()
    ok = asyncio.run(balance_problems(gate, book, prices, cfg.core_params(), wp, "classic"))
    assert ok == []  # spot can fund the futures margin itself
    # all USDT in futures, and most of it held by an open order: spot cannot be funded
    held = SimMarket(spot.slice(0, 30), spot_usdt=0.0, futures_usdt=100_000.0, dual_mode=True)
    low = round(px * 0.97, 1)
    held.place("futures", "buy", round(90_000 * 3 / (1e-4 * low)), low)
    problems = asyncio.run(
        balance_problems(
            PaperExchange(held), Book(100_000.0), prices, cfg.core_params(), wp, "classic"
        )
    )
    [p] = problems
    assert p.wallet is Wallet.SPOT and p.missing == pytest.approx(50_500 - 10_000, rel=0.01)
    uni = SimMarket(
        spot.slice(0, 30), spot_usdt=10.0, futures_usdt=0.0, unified=True, dual_mode=True
    )
    short = asyncio.run(
        balance_problems(
            PaperExchange(uni), Book(1e5), prices, cfg.core_params(), wp, AccountMode.UNIFIED
        )
    )
    assert short and short[0].wallet is Wallet.SPOT


def test_balance_lines_are_one_line_per_wallet_short(spot, tmp_path):
    from adaptive_agent.runner.agent import Agent
    from adaptive_agent.runner.paper import FixedSignals

    m = SimMarket(spot.slice(0, 30), spot_usdt=10.0, futures_usdt=0.0, dual_mode=True)
    store = StateStore(tmp_path / "a.sqlite", durable=False)
    try:
        agent = Agent(AppConfig(), PaperExchange(m), store, FixedSignals(None))
        agent.wallets = manager_for(agent, AccountMode.CLASSIC, 0.004)
        assert agent.wallets.params.maintenance_rate == 0.004
        assert asyncio.run(balance_lines(agent, AccountMode.CLASSIC)) == []  # empty: no targets
        m.wallets.transfer("USDT", "spot", "futures", 10.0, "usdt", m.now_ms)
        m.place("futures", "sell", -10)  # a short that must be kept, little USDT anywhere
        m._spot.free["BTC"] = 1.0  # and BTC to make NAV ask for more legs
        lines = asyncio.run(balance_lines(agent, AccountMode.CLASSIC))
        assert lines and all("pre-flight" not in line for line in lines), lines
    finally:
        store.close()
