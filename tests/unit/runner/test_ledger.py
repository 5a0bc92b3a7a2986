"""The ledger over the paper exchange: fills and funding recorded once each, as the simulator
charged them, across re-reads, restarts and failed reads."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adaptive_agent.core.model import Leg
from adaptive_agent.core.time_rules import BAR_MS
from adaptive_agent.exchange.exchange_gate import ExchangeError, ExchangeGate, Market
from adaptive_agent.exchange.paper_exchange import PaperExchange
from adaptive_agent.execution.executor import ExecutionReport, LegFill
from adaptive_agent.records import FillRecord
from adaptive_agent.runner.ledger import START_KEY, Ledger
from adaptive_agent.sim.fee_ledger import fee_ledger, funding_ledger
from adaptive_agent.state.store import StateStore
from tests.support.sim_market import make

BOTH = (Market.SPOT, Market.FUTURES)


@pytest.fixture()
def market(spot):
    return make(spot.slice(0, 400))  # from 2022-08-01 00:00: funding at 08:00 is bar 96


def trade(m) -> None:
    """A spot buy (fee in BTC), a spot sell (fee in USDT) and two perpetual legs."""
    m.place("spot", "buy", 500.0, None, text="t-buy")  # a market buy is sized in USDT
    m.place("spot", "buy", 0.02, m.top("spot")[1], text="t-buy2")
    m.place("spot", "sell", 0.01, m.top("spot")[0], text="t-sell")
    m.place("futures", None, 30, None, text="t-long")
    m.place("futures", None, -50, None, text="t-short")


class Sink:
    def __init__(self) -> None:
        self.fills, self.funding = [], []

    def on_fill(self, r) -> None:
        self.fills.append(r)

    def on_funding(self, r) -> None:
        self.funding.append(r)


def test_fills_are_recorded_once_with_the_fee_the_simulator_charged(market, tmp_path):
    store = StateStore(tmp_path / "s.sqlite", durable=False)
    sink, mute, broken = Sink(), object(), Sink()  # a sink without on_fill is skipped
    broken.on_fill = None.__class__  # raises TypeError when called: logged, not raised
    ledger = Ledger(PaperExchange(market), store, lambda: [mute, broken, sink])
    now = market.now_ms
    trade(market)
    new = asyncio.run(ledger.sync_fills(BOTH, now))
    charged = {(x.market, x.trade_id): x for x in fee_ledger(market)}
    assert {(r.market, r.trade_id) for r in new} == set(charged) and len(new) == 5
    for r in new:
        x = charged[(r.market, r.trade_id)]
        assert (r.fee, r.fee_currency, r.client_id) == (x.fee, x.currency, x.text)
        assert r.fee_usdt == pytest.approx(x.fee_usdt, abs=1e-12)
    assert {r.fee_currency for r in new if r.market == "spot" and r.side == "buy"} == {"BTC"}
    assert sink.fills == new
    assert asyncio.run(ledger.sync_fills(BOTH, now)) == []  # read again: nothing new
    # a restarted agent's ledger (same store) neither doubles nor loses a fill
    market.advance(3)
    market.place("futures", None, -10, None, text="t-more")
    again = Ledger(PaperExchange(market), store)
    assert [r.client_id for r in asyncio.run(again.sync_fills(BOTH, market.now_ms))] == ["t-more"]
    assert len(store.fills(0, 2**62)) == 6
    assert store.get_meta(START_KEY) == str(now - BAR_MS)  # set once
    store.close()


def test_funding_is_read_after_each_instant_and_equals_the_account_book(market, tmp_path):
    store = StateStore(tmp_path / "s.sqlite", durable=False)
    sink = Sink()
    ledger = Ledger(PaperExchange(market), store, lambda: [sink])
    asyncio.run(ledger.on_close(market.now_ms))  # the first close reads (nothing yet)
    market.place("futures", None, 30, None, text="t-long")
    market.place("futures", None, -50, None, text="t-short")
    for _ in range(250):  # past 08:00 and 16:00
        market.advance()
        asyncio.run(ledger.on_close(market.now_ms))
    book = funding_ledger(market)
    paid = store.funding_payments(0, 2**62)
    assert len(book) == 4  # both legs at 08:00 and 16:00
    assert [(p.key, p.time_ms, p.change_usdt, p.balance_usdt) for p in paid] == [
        (e.id, e.time_ms, e.change, e.balance) for e in book
    ]
    assert {p.change_usdt > 0 for p in paid} == {True, False}  # the long pays, the short gets
    assert sink.funding == paid
    assert len(store.fills(0, 2**62)) == 2  # fills are read with the funding book too
    store.close()


class Flaky(PaperExchange):
    """Fails the first read of each kind, as a venue outage would."""

    def __init__(self, m) -> None:
        super().__init__(m)
        self.failed: set[str] = set()

    def _once(self, kind: str) -> None:
        if kind not in self.failed:
            self.failed.add(kind)
            raise ExchangeError("503 service unavailable")

    async def fetch_fills(self, market, since_ms, until_ms):
        self._once(f"fills-{market}")
        return await super().fetch_fills(market, since_ms, until_ms)

    async def fetch_funding_payments(self, since_ms, until_ms):
        self._once("funding")
        return await super().fetch_funding_payments(since_ms, until_ms)


def test_a_failed_read_is_logged_and_caught_up_later(market, tmp_path, caplog):
    store = StateStore(tmp_path / "s.sqlite", durable=False)
    ledger = Ledger(Flaky(market), store)
    ledger.start_ms(market.now_ms)  # the agent's first close
    market.place("futures", None, 30, None, text="t-long")
    market.advance(100)  # 08:00 settles
    with caplog.at_level(logging.WARNING, "adaptive_agent.ledger"):
        asyncio.run(ledger.on_close(market.now_ms))
    assert store.funding_payments(0, 2**62) == [] and store.fills(0, 2**62) == []
    assert "read again later" in caplog.text
    asyncio.run(ledger.on_close(market.now_ms + BAR_MS))  # not read yet: due again
    assert len(store.funding_payments(0, 2**62)) == 1
    assert len(store.fills(0, 2**62)) == 1
    store.close()


class GtGate(ExchangeGate):
    """A venue whose one fill was paid in GT, with no GT price to be had."""

    get_price = get_book_top = get_balances = get_positions = get_funding_rate = None
    create_orders = cancel_order = fetch_order = fetch_open_orders = None

    async def fetch_fills(self, market, since_ms, until_ms):
        if market is not Market.SPOT:
            return []
        return [
            FillRecord("spot", "7", since_ms + 1, "1", "t-a", "buy", 0.1, 2e4, "taker", 0, "GT", 3)
        ]


GtGate.__abstractmethods__ = frozenset()


def test_an_unpriced_fee_is_recorded_as_unknown_and_warned_about(tmp_path, caplog):
    store = StateStore(tmp_path / "s.sqlite", durable=False)
    ledger = Ledger(GtGate(), store)
    with caplog.at_level(logging.WARNING, "adaptive_agent.ledger"):
        (rec,) = asyncio.run(ledger.sync_fills(BOTH, 10 * BAR_MS))
    assert rec.fee_usdt is None and rec.gt_fee == 3
    assert "cannot be priced" in caplog.text
    report = ExecutionReport(
        "r1", [LegFill(Leg.BTC_SPOT, "BUY", "buy", 0.1, taker_client_id="t-a")]
    )
    assert asyncio.run(ledger.after_execute(report, 10 * BAR_MS)) == {}  # keeps its own fee
    store.close()


def test_after_execute_returns_each_orders_fee_as_charged(market, tmp_path):
    store = StateStore(tmp_path / "s.sqlite", durable=False)
    ledger = Ledger(PaperExchange(market), store)
    market.place("futures", None, -50, None, text="t-short")
    legs = [LegFill(Leg.BTC_PERP_SHORT, "OPEN_SHORT", "sell", 50, taker_client_id="t-short")]
    fees = asyncio.run(ledger.after_execute(ExecutionReport("r1", legs), market.now_ms))
    (charged,) = fee_ledger(market)
    assert fees == {"t-short": pytest.approx(charged.fee_usdt)} and charged.fee_usdt > 0
    store.close()
