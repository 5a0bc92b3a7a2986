"""The agent loop on its own: a tiny in-memory venue at the port, no simulator, no network.

One close = read the book through the port, decide with the core, persist, execute, report.
These tests pin the loop's own rules: what a failed read does, the error-streak alarm, the
heartbeat, the day hook, sinks that fail, and the bounded history.
"""

from __future__ import annotations

import asyncio

import pytest

from adaptive_agent.clock import VirtualClock
from adaptive_agent.config import AppConfig
from adaptive_agent.core.model import Candle, EngineState, SafeCode, Signal
from adaptive_agent.core.time_rules import BAR_MS, DAY_MS
from adaptive_agent.exchange.exchange_gate import (
    Balances,
    BookTop,
    DualPositions,
    ExchangeError,
    ExchangeGate,
    Market,
    OrderRequest,
    OrderState,
    OrderStatus,
)
from adaptive_agent.runner.agent import Agent, SignalSource
from adaptive_agent.state.store import StateStore

T0 = 1_667_952_000_000  # 2022-11-09 00:00 UTC
PRICE = 20_000.0


class Venue(ExchangeGate):
    """Fills every order at once at PRICE; ``fail`` makes the next balance reads fail."""

    def __init__(self, usdt: float = 100_000.0) -> None:
        self.usdt, self.btc, self.short = usdt, 0.0, 0
        self.fail = 0
        self.sent: list[OrderRequest] = []
        self.cancels: list[str] = []
        self.resting: list[OrderState] = []

    async def get_price(self, market: Market = Market.SPOT) -> float:
        return PRICE

    async def get_book_top(self, market: Market) -> BookTop:
        return BookTop(PRICE - 0.1, PRICE + 0.1)

    async def get_balances(self) -> Balances:
        if self.fail:
            self.fail -= 1
            raise ExchangeError("HTTP 502", "SERVER_ERROR")
        return Balances(self.usdt, self.btc, 0.0, 0.0)

    async def get_positions(self) -> DualPositions:
        return DualPositions(0, 0.0, self.short, PRICE if self.short else 0.0, PRICE)

    async def get_funding_rate(self) -> float:
        return 0.0001

    async def create_orders(self, requests: list[OrderRequest]) -> list[OrderState]:
        self.sent.extend(requests)
        out = []
        for r in requests:
            if r.market is Market.SPOT:
                self.btc += r.amount if r.side == "buy" else -r.amount
                self.usdt -= (1 if r.side == "buy" else -1) * r.amount * PRICE
            else:
                self.short += int(r.amount) if r.side == "sell" else -int(r.amount)
            out.append(OrderState(r.client_id, OrderStatus.CLOSED, r.amount, PRICE))
        return out

    async def cancel_order(self, market: Market, client_id: str) -> OrderState | None:
        self.cancels.append(client_id)
        return None

    async def fetch_order(self, market: Market, client_id: str) -> OrderState | None:
        return None

    async def fetch_open_orders(self, market: Market) -> list[OrderState]:
        return [s for s in self.resting if (market is Market.SPOT) == s.client_id.endswith("s")]


class Fixed(SignalSource):
    def at(self, time_ms: int) -> Signal:
        return Signal.NONE


class Sink:
    def __init__(self, broken: bool = False) -> None:
        self.bars, self.alerts, self.broken = [], [], broken

    def on_bar(self, bar) -> None:
        if self.broken:
            raise RuntimeError("sink down")
        self.bars.append(bar)

    def on_rebalance(self, rebalance, trades) -> None:
        pass

    def on_alert(self, kind, text, time_ms) -> None:
        self.alerts.append(kind)

    def close(self) -> None:
        pass


def candle(i: int) -> Candle:
    return Candle(T0 + i * BAR_MS, PRICE, PRICE, PRICE, PRICE)


@pytest.fixture
def agent(tmp_path):
    venue = Venue()
    store = StateStore(tmp_path / "a.sqlite", durable=False)
    now = {"ms": T0}
    a = Agent(AppConfig(), venue, store, Fixed(), clock=VirtualClock(lambda: now["ms"]))
    a.sink = Sink()
    a.monitors = [a.sink]
    yield a
    store.close()


def close(agent: Agent, i: int):
    return asyncio.run(agent.on_candle_close(candle(i), received_ms=T0 + (i + 1) * BAR_MS))


def test_first_close_rebalances_from_cash_and_records_everything(agent):
    plan = close(agent, 0)
    assert plan.triggered and plan.time_ms == T0 + BAR_MS
    assert {r.order_type for r in agent.gate.sent} == {"BUY", "OPEN_SHORT"}
    assert agent.store.get_meta("last_bar_ms") == str(T0 + BAR_MS)  # the heartbeat
    assert agent.store.load_engine_state() == plan.state
    assert len(agent.sink.bars) == 1 and agent.store.trades(0, T0 + DAY_MS)
    # the next close: weights on target, nothing to do
    assert not close(agent, 1).triggered


def test_a_failed_read_decides_nothing_and_counts_toward_the_streak(agent):
    agent.gate.fail = 1
    assert close(agent, 0) is None and agent.error_streak == 1
    assert agent.gate.sent == [] and agent.store.load_engine_state() is None
    assert agent.store.get_meta("last_bar_ms") == str(T0 + BAR_MS)  # still alive
    plan = close(agent, 1)
    assert plan is not None and agent.error_streak == 0  # a good read ends the streak


def test_the_streak_alarm_goes_out_once_while_the_venue_is_down(agent):
    limit = agent.params.max_error_streak
    agent.gate.fail = limit + 2
    agent.gate.resting = [OrderState("t-x1s", OrderStatus.OPEN)]
    for i in range(limit + 2):
        assert close(agent, i) is None
    assert agent.sink.alerts == ["circuit_breaker"]
    assert agent.gate.cancels == ["t-x1s"]  # open orders cancelled at the alarm
    plan = close(agent, limit + 2)  # back: safe mode on, no second alarm
    assert SafeCode.ERROR_STREAK in plan.safe_mode_codes
    assert agent.sink.alerts == ["circuit_breaker"]


def test_a_failing_sink_never_stops_trading(agent):
    agent.monitors = [Sink(broken=True), agent.sink]
    assert close(agent, 0).triggered and agent.gate.sent
    assert len(agent.sink.bars) == 1


def test_the_day_hook_runs_at_the_midnight_close_and_its_failure_is_contained(agent):
    days = []

    async def on_new_day(day: int) -> None:
        days.append(day)
        raise RuntimeError("digest broke")

    agent.on_new_day = on_new_day
    last = DAY_MS // BAR_MS - 1  # the bar that closes at 00:00 of the next day
    close(agent, last - 1)
    assert days == []
    close(agent, last)
    assert days == [T0 // DAY_MS]


def test_history_is_bounded_when_asked(agent):
    agent.keep_history = 3
    for i in range(6):
        close(agent, i)
    assert len(agent.plans) == 3 and agent.rebalance_count == 1


def test_the_engine_state_survives_a_restart(agent, tmp_path):
    plan = close(agent, 0)
    again = Agent(AppConfig(), agent.gate, agent.store, Fixed(), clock=agent.clock)
    assert again.state == plan.state != EngineState()
    assert again._last_decision_ms == T0 + BAR_MS


def test_the_executor_runs_on_the_clock_the_loop_was_moved_to(agent):
    """A rehearsal moves the agent to the feed's clock; the executor's times must follow it
    (latency figures and order timestamps), not stay on the clock the agent was built with."""
    agent.use_clock(VirtualClock(lambda: T0 + 777))
    close(agent, 0)
    report = agent.reports[-1]
    assert report.first_sent_ms == report.first_ack_ms == report.finished_ms == T0 + 777
    assert agent.now_ms() == T0 + 777


class Flaky(Venue):
    """Listing open orders fails ``fail_lists`` times."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_lists = 0

    async def fetch_open_orders(self, market: Market) -> list[OrderState]:
        if self.fail_lists:
            self.fail_lists -= 1
            raise ExchangeError("HTTP 503", "SERVER_ERROR")
        return await super().fetch_open_orders(market)


def test_a_reconcile_the_venue_keeps_failing_holds_exposure_and_retries(tmp_path):
    store = StateStore(tmp_path / "r.sqlite", durable=False)
    venue = Flaky()
    a = Agent(AppConfig(), venue, store, Fixed(), clock=VirtualClock(lambda: T0))
    a.monitors = [sink := Sink()]
    venue.fail_lists = 2
    assert not asyncio.run(a.reconcile()).failed  # retried with backoff, then it worked
    assert not a.unexplained
    venue.fail_lists = 99
    res = asyncio.run(a.reconcile())  # the agent keeps running: no exception
    assert res.failed and a.unexplained and sink.alerts == ["reconcile_failed"]
    plan = close(a, 0)  # tried again at the close (fails): exposure stays held
    assert SafeCode.MANUAL in plan.safe_mode_codes and not [
        r for r in venue.sent if r.order_type in ("BUY", "OPEN_SHORT")
    ]
    venue.fail_lists = 0
    plan = close(a, 1)  # the venue answers again: settled, safe mode clears after its time
    assert not a.unexplained and not a.reconcile_pending
    store.close()


def test_an_order_never_found_is_parked_after_bounded_lookups(agent):
    from adaptive_agent.lifecycle import MAX_LOOKUPS, OrderStatus

    agent.store.begin_rebalance(
        "r1",
        T0,
        {},
        [
            {
                "client_id": "t-r1sp",
                "leg": "BTC_SPOT",
                "order_type": "BUY",
                "market": "spot",
                "phase": "post_only",
                "amount": 0.1,
                "price": PRICE,
            }
        ],
        T0,
    )
    agent.store.update_order("t-r1sp", T0, status=OrderStatus.UNKNOWN)
    for i in range(1, MAX_LOOKUPS):
        assert asyncio.run(agent.reconcile()).parked == []
        assert agent.store.order("t-r1sp").status is OrderStatus.UNKNOWN, i
    assert asyncio.run(agent.reconcile()).parked == ["t-r1sp"]
    assert agent.store.order("t-r1sp").status is OrderStatus.PARKED
    assert agent.sink.alerts == ["orders_parked"]
    assert asyncio.run(agent.reconcile()).checked == 0  # no longer looked up, reported once
    assert agent.sink.alerts == ["orders_parked"]


@pytest.mark.parametrize("adopt", [False, True])
def test_a_lost_state_with_positions_at_the_venue_starts_in_safe_mode(agent, adopt):
    """State truncated or its WAL lost: the venue holds a book the store has no history of."""
    agent.gate.btc, agent.gate.short, agent.gate.usdt = 2.5, 25_000, 50_000.0
    assert asyncio.run(agent.check_venue_state(adopt=adopt)) is adopt
    plan = close(agent, 0)
    raising = [r for r in agent.gate.sent if r.order_type in ("BUY", "OPEN_SHORT", "OPEN_LONG")]
    if adopt:
        assert not plan.safe_mode and agent.store.events("venue_state_adopted")
    else:
        assert SafeCode.MANUAL in plan.safe_mode_codes and raising == []
        assert agent.sink.alerts == ["venue_state_unknown"]


def test_a_known_history_or_an_empty_venue_is_not_a_lost_state(agent):
    assert asyncio.run(agent.check_venue_state()) is True  # nothing held anywhere
    close(agent, 0)  # trades: the store now has history
    assert asyncio.run(agent.check_venue_state()) is True and agent.sink.alerts == []


def test_a_venue_book_other_than_the_stored_one_starts_in_safe_mode(agent):
    """The store knows a history (its WAL lost the newest part, or someone traded by hand):
    the venue's book is not the last read book plus the fills since."""
    close(agent, 0)  # the first rebalance: about 2.5 BTC spot and 25,000 short contracts
    close(agent, 1)
    assert asyncio.run(agent.check_venue_state()) is True  # consistent: nothing to say
    assert agent.sink.alerts == []
    agent.gate.short += 3_000  # a rebalance the store no longer knows of
    agent.gate.btc -= 0.3
    assert asyncio.run(agent.check_venue_state()) is False
    assert agent.sink.alerts == ["venue_state_mismatch"]
    (_, _, text), *_ = agent.store.events("venue_state_mismatch")
    assert "short 28000 contracts (expected 25000)" in text and "spot " in text, text
    sent = len(agent.gate.sent)
    agent.gate.btc += 1.0  # far off target: a reducing SELL would be due
    plan = close(agent, 20)  # past the minimum interval
    assert SafeCode.MANUAL in plan.safe_mode_codes and plan.orders
    assert agent.gate.sent[sent:] == []  # nothing at all goes out until the book is reviewed


def test_the_operator_can_adopt_a_mismatched_book(agent):
    close(agent, 0)
    agent.gate.short += 10
    agent.unexplained = agent.venue_unknown = False
    assert asyncio.run(agent.check_venue_state(adopt=True)) is True
    assert agent.sink.alerts == [] and agent.store.events("venue_state_adopted")
