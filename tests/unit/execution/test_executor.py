"""execute() against the simulator's real matching core (in process, "realistic" fills)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from adaptive_agent.clock import VirtualClock
from adaptive_agent.config import AppConfig
from adaptive_agent.core.model import Book, EngineState, OrderType, Params, Prices, Signal
from adaptive_agent.core.rebalance_engine import build_orders
from adaptive_agent.exchange.exchange_gate import BookTop, Market
from adaptive_agent.exchange.paper_exchange import PaperExchange
from adaptive_agent.execution.executor import ExecParams, client_id, execute, rebalance_id_for
from adaptive_agent.runner.paper import make_market
from adaptive_agent.state.store import StateStore

P = Params()
FAST = ExecParams(post_only_timeout_s=0.0, lookup_attempts=1, lookup_delay_s=0.0)


async def _no_sleep(_s: float) -> None:
    return None


@pytest.fixture()
def venue(spot):
    market = make_market(
        AppConfig(), spot.slice(1000, 1400), None, "realistic", prefund_futures=True
    )
    market.advance(5)
    return market


def _plan(market, book: Book, signal=Signal.NONE, params: Params = P):
    px = market.last("spot")
    return build_orders(
        book,
        Prices(px, px, market.mark()),
        signal,
        market.now_ms,
        0.0,
        EngineState(peak_nav=book.cash),
        params,
    )


def _run(plan, gate, store, params=FAST):
    return asyncio.run(execute(plan, gate, store, params, VirtualClock(lambda: 0)))


def test_first_rebalance_goes_post_only_then_ioc(venue, tmp_path):
    store = StateStore(tmp_path / "s.sqlite")
    plan = _plan(venue, Book(cash=60_000.0))
    report = _run(plan, PaperExchange(venue), store)
    rid = rebalance_id_for(plan.time_ms)
    ids = [o.client_id for o in store.orders(rid)]
    # Post-only at the touch rests (nothing crosses in "realistic"), is cancelled, IOC fills.
    assert sorted(ids) == sorted([client_id(rid, o.leg, ph) for o in plan.orders for ph in "pm"])
    assert all(o.status == "canceled" for o in store.orders(rid) if o.phase == "post_only")
    assert all(o.status == "closed" for o in store.orders(rid) if o.phase == "market")
    for leg in report.legs:
        assert leg.taker_filled == pytest.approx(leg.requested)
    pos = asyncio.run(PaperExchange(venue).get_positions())
    assert pos.short_contracts == plan.target_lots[2]
    assert store.unfinished_rebalances() == []
    store.close()


def test_post_only_rejection_is_not_an_error(venue, tmp_path):
    class StaleBook(PaperExchange):
        """The touch moved between the quote and the order: our bid is through the ask."""

        async def get_book_top(self, market: Market) -> BookTop:
            _bid, ask = self.m.top(str(market))
            return BookTop(ask + 50.0, ask + 50.1)

    store = StateStore(tmp_path / "s.sqlite")
    plan = _plan(venue, Book(cash=60_000.0))
    report = _run(plan, StaleBook(venue), store)
    spot = next(leg for leg in report.legs if leg.order_type == "BUY")
    assert any("post-only rejected" in n for n in spot.notes)
    assert spot.maker_filled == 0 and spot.taker_filled == pytest.approx(spot.requested)
    rid = rebalance_id_for(plan.time_ms)
    assert store.order(client_id(rid, spot.leg, "p")).status == "rejected"
    assert "POC" in store.order(client_id(rid, spot.leg, "p")).error
    assert report.errors == []  # an expected outcome, not an error
    store.close()


def test_one_rejected_element_does_not_stop_the_others(venue, tmp_path):
    # Our book says we hold a long the venue does not have: CLOSE_LONG is refused
    # (reduce-only beyond the position); the other legs still trade.
    store = StateStore(tmp_path / "s.sqlite")
    params = Params(targets=(0.3, 0.0, 0.3))
    book = Book(cash=60_000.0, long_contracts=500, long_entry=venue.mark())
    plan = _plan(venue, book, params=params)
    assert {o.order_type for o in plan.orders} == {
        OrderType.BUY,
        OrderType.CLOSE_LONG,
        OrderType.OPEN_SHORT,
    }
    report = _run(plan, PaperExchange(venue), store)
    by_type = {leg.order_type: leg for leg in report.legs}
    assert by_type["CLOSE_LONG"].filled == 0
    assert any("rejected" in n for n in by_type["CLOSE_LONG"].notes)
    assert by_type["BUY"].filled == pytest.approx(by_type["BUY"].requested)
    assert by_type["OPEN_SHORT"].filled == pytest.approx(by_type["OPEN_SHORT"].requested)
    store.close()


def test_executing_a_decision_twice_sends_nothing_new(venue, tmp_path):
    store = StateStore(tmp_path / "s.sqlite")
    gate = PaperExchange(venue)
    plan = _plan(venue, Book(cash=60_000.0))
    first = _run(plan, gate, store)
    before = Counter(o.text for m in ("spot", "futures") for o in venue.order_history(m))
    again = _run(plan, gate, store)
    after = Counter(o.text for m in ("spot", "futures") for o in venue.order_history(m))
    assert not first.already_done and again.already_done
    assert before == after and max(after.values()) == 1  # one order per client id, ever
    store.close()


def test_unknown_fate_is_never_resent(venue, tmp_path):
    """An ambiguous reply whose order cannot be found: no retry under that id, no IOC."""
    from adaptive_agent.exchange.exchange_gate import AmbiguousOrderError

    class LostReply(PaperExchange):
        async def create_orders(self, requests):
            if requests[0].post_only:
                raise AmbiguousOrderError("timed out")
            return await super().create_orders(requests)

    store = StateStore(tmp_path / "s.sqlite")
    plan = _plan(venue, Book(cash=60_000.0))
    report = _run(plan, LostReply(venue), store)
    rid = rebalance_id_for(plan.time_ms)
    assert {o.status for o in store.orders(rid)} == {"unknown"}
    assert all(leg.filled == 0 for leg in report.legs)
    assert venue.order_history("spot") == [] and venue.order_history("futures") == []
    assert any("ambiguous" in e for e in report.errors)
    store.close()


def test_an_order_the_venue_never_saw_is_not_found(venue):
    gate = PaperExchange(venue)
    assert asyncio.run(gate.fetch_order(Market.SPOT, "t-none")) is None
    assert asyncio.run(gate.fetch_order(Market.FUTURES, "t-none")) is None


def test_error_streak_breaker_fires_while_the_venue_is_down(venue, tmp_path):
    """Five failed reads in a row: the circuit breaker alarms at once, not on recovery."""
    from adaptive_agent.core.model import Candle
    from adaptive_agent.exchange.exchange_gate import ExchangeError
    from adaptive_agent.runner.agent import Agent
    from adaptive_agent.runner.paper import FixedSignals

    class Down(PaperExchange):
        async def get_balances(self):
            raise ExchangeError("connection refused")

    alerts = []

    class Recorder:
        def on_bar(self, bar): ...
        def on_rebalance(self, rebalance, trades): ...
        def on_alert(self, kind, text, time_ms):
            alerts.append(kind)

        def close(self): ...

    store = StateStore(tmp_path / "s.sqlite")
    agent = Agent(
        AppConfig(), Down(venue), store, FixedSignals(None), now_ms=lambda: 0, monitors=[Recorder()]
    )
    for i in range(6):
        c = Candle(int(venue.candles.ts[i]), 1.0, 1.0, 1.0, 1.0)
        assert asyncio.run(agent.on_candle_close(c)) is None
        assert alerts == (["circuit_breaker"] if i >= 4 else [])
    store.close()


def test_ioc_is_priced_from_the_touch_as_it_is_after_the_wait(venue, tmp_path):
    """The first quote is far from the market (it moved); an IOC capped around that stale
    touch would not fill. The executor re-reads the touch before the IOC step."""

    class MovedAway(PaperExchange):
        calls = 0

        async def get_book_top(self, market: Market) -> BookTop:
            self.calls += 1
            bid, ask = self.m.top(str(market))
            if self.calls == 1:  # the quote for the post-only order: 10% below the market
                return BookTop(round(bid * 0.9, 1), round(ask * 0.9, 1))
            return BookTop(bid, ask)

    store = StateStore(tmp_path / "s.sqlite")
    plan = _plan(venue, Book(cash=60_000.0), params=Params(targets=(0.5, 0.0, 0.0)))
    report = _run(plan, MovedAway(venue), store)
    (spot,) = report.legs
    assert spot.maker_filled == 0  # the post-only bid 10% under the market never filled
    assert spot.taker_filled == pytest.approx(spot.requested)
    assert spot.taker_price == pytest.approx(venue.top("spot")[1] * (1 + 0.0002), rel=1e-3)
    store.close()


def test_a_long_running_agent_keeps_bounded_history(venue, tmp_path):
    from adaptive_agent.core.model import Candle
    from adaptive_agent.runner.agent import Agent
    from adaptive_agent.runner.paper import FixedSignals

    store = StateStore(tmp_path / "s.sqlite")
    agent = Agent(
        AppConfig(),
        PaperExchange(venue),
        store,
        FixedSignals(None),
        now_ms=lambda: 0,
        keep_history=3,
    )
    for _ in range(6):
        i = venue.bar
        c = venue.candles
        asyncio.run(
            agent.on_candle_close(
                Candle(
                    int(c.ts[i]),
                    float(c.open[i]),
                    float(c.high[i]),
                    float(c.low[i]),
                    float(c.close[i]),
                )
            )
        )
        venue.advance()
    assert len(agent.plans) == 3 and len(agent.reports) <= 3
    assert agent.plans[-1].time_ms == int(venue.candles.ts[venue.bar - 1]) + 300_000
    assert agent.rebalance_count >= 1  # the first close rebalances at once
    store.close()
