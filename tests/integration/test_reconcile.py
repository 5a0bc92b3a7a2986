"""Agent.reconcile, refresh_pending and the circuit breaker against the in-process venue.

Every test runs the real ``Agent`` (``paper_agent``) over a ``PaperExchange`` on a "realistic"
``SimMarket`` in dual mode (a book with a spread: resting orders fill only when a later bar
trades through them), with a real SQLite state store. Orders "left behind by a crash" are
created the way the executor would have: recorded in the store first, then placed at the venue
under the same client id.
"""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from adaptive_agent.config import AppConfig
from adaptive_agent.core.model import Candle, EngineState, Leg, OrderType, SafeCode
from adaptive_agent.core.time_rules import DAY_MS, completed_day
from adaptive_agent.exchange.exchange_gate import ExchangeError, Market, OrderRequest, OrderStatus
from adaptive_agent.exchange.paper_exchange import PaperExchange
from adaptive_agent.execution.executor import client_id, rebalance_id_for
from adaptive_agent.lifecycle import UNFINISHED
from adaptive_agent.runner.agent import Agent
from adaptive_agent.runner.paper import make_market, paper_agent
from adaptive_agent.sim.matching import SimError
from adaptive_agent.state.store import StateStore

CFG = AppConfig()
RAISING = {"BUY", "OPEN_LONG", "OPEN_SHORT"}
BAR_MS = 300_000


class Recorder:
    """A monitor that keeps what the agent reports."""

    def __init__(self) -> None:
        self.bars: list = []
        self.rebalances: list = []
        self.alerts: list[tuple[str, str, int]] = []

    def on_bar(self, bar) -> None:
        self.bars.append(bar)

    def on_rebalance(self, rebalance, trades) -> None:
        self.rebalances.append((rebalance, trades))

    def on_alert(self, kind: str, text: str, time_ms: int) -> None:
        self.alerts.append((kind, text, time_ms))

    def close(self) -> None:
        pass


@pytest.fixture()
def venue(spot):
    market = make_market(CFG, spot.slice(1000, 1600), None, "realistic", prefund_futures=True)
    assert market.dual_mode and market.fill_model == "realistic"
    market.advance(5)
    return market


@pytest.fixture()
def store(tmp_path):
    s = StateStore(tmp_path / "state.sqlite", durable=False)
    yield s
    s.close()


def candle(market) -> Candle:
    """The bar that closes at the simulator's present."""
    c, i = market.candles, market.bar
    return Candle(
        int(c.ts[i]), float(c.open[i]), float(c.high[i]), float(c.low[i]), float(c.close[i])
    )


def history_texts(market) -> list[str]:
    return [o.text for m in ("spot", "futures") for o in market.order_history(m)] + [
        o.text for m in ("spot", "futures") for o in market.open_orders(m)
    ]


def raising_at_venue(market) -> list[tuple[str, str, str]]:
    """Exposure-raising orders the venue has ever seen (spot buys, opening futures orders)."""
    out = []
    for o in market.order_history("spot") + market.open_orders("spot"):
        if o.side == "buy":
            out.append(("spot", o.side, o.text))
    for o in market.order_history("futures") + market.open_orders("futures"):
        if not o.reduce_only:
            out.append(("futures", o.side, o.text))
    return out


def record_orders(store: StateStore, rid: str, decision_ms: int, orders: list[dict]) -> None:
    """What execute() commits before sending: the rebalance and each order as an intent."""
    store.begin_rebalance(rid, decision_ms, {"orders": len(orders)}, orders, decision_ms)


def order_row(cid: str, order_type: OrderType, amount: float, price: float) -> dict:
    leg = {"BUY": "BTC_SPOT", "SELL": "BTC_SPOT", "OPEN_SHORT": "BTC_PERP_SHORT"}[order_type]
    market = "spot" if order_type in (OrderType.BUY, OrderType.SELL) else "futures"
    return {
        "client_id": cid,
        "leg": leg,
        "order_type": str(order_type),
        "market": market,
        "phase": "post_only",
        "amount": amount,
        "price": price,
    }


def rebalance_status(store: StateStore) -> dict[str, str]:
    with sqlite3.connect(store.path) as db:
        return dict(db.execute("SELECT id, status FROM rebalances").fetchall())


def run(coro):
    return asyncio.run(coro)


def fill_resting(market, market_name: str, cid: str, max_bars: int = 400) -> None:
    """Advance the simulator until the resting order ``cid`` has filled completely."""
    for _ in range(max_bars):
        o = market._texts[market_name][cid]
        if not o.is_open:
            assert o.finish_as == "filled", o.finish_as
            return
        market.advance()
    raise AssertionError(f"{cid} never filled")


# --- (a) an intent that never reached the venue ----------------------------------------------


def test_intent_never_sent_becomes_rejected_and_is_never_sent(venue, store):
    agent = paper_agent(CFG, venue, store, None)
    decision = venue.now_ms
    rid = rebalance_id_for(decision)
    cid = client_id(rid, Leg.BTC_SPOT, "p")
    bid, _ = venue.top("spot")
    # the process died after committing the intent and before the request left
    record_orders(store, rid, decision, [order_row(cid, OrderType.BUY, 0.5, bid)])

    res = run(agent.reconcile())
    assert (res.checked, res.updated, res.cancelled, res.unexplained) == (1, 1, [], [])
    assert res.interrupted == [rid]
    o = store.order(cid)
    assert o.status == "rejected" and o.error == "not at venue" and o.filled == 0
    assert rebalance_status(store) == {rid: "interrupted"}
    assert store.orders(statuses=UNFINISHED) == []

    # The agent decides again at the same close (the book is all cash: a rebalance is due),
    # and again over the following bars: that id never reaches the venue.
    plans = []
    for _ in range(30):
        plans.append(run(agent.on_candle_close(candle(venue))))
        venue.advance()
    assert plans[0].triggered and plans[0].orders  # it wanted to trade at that close
    assert cid not in history_texts(venue)
    assert not any(t.startswith(f"t-{rid}") for t in history_texts(venue))
    assert store.order(cid).status == "rejected"
    # the later rebalances did trade, under their own ids
    assert any(t.startswith("t-") for t in history_texts(venue))
    # a second reconcile has nothing left to look at
    again = run(agent.reconcile())
    assert again.checked == 0 and again.interrupted == []


# --- (b) an order still open at the venue ----------------------------------------------------


def test_order_still_open_is_cancelled_and_its_final_state_recorded(venue, store):
    agent = paper_agent(CFG, venue, store, None)
    gate: PaperExchange = agent.gate
    rid = rebalance_id_for(venue.now_ms)
    ask = venue.top("futures")[1]
    spot_cid, fut_cid = f"t-{rid}sp", f"t-{rid}hp"
    record_orders(
        store,
        rid,
        venue.now_ms,
        [
            order_row(spot_cid, OrderType.BUY, 0.25, venue.top("spot")[0]),
            order_row(fut_cid, OrderType.OPEN_SHORT, 40, ask),
        ],
    )
    states = run(
        gate.create_orders(
            [
                OrderRequest(spot_cid, OrderType.BUY, 0.25, venue.top("spot")[0], post_only=True),
                OrderRequest(fut_cid, OrderType.OPEN_SHORT, 40, ask, post_only=True),
            ]
        )
    )
    assert [s.status for s in states] == [OrderStatus.OPEN, OrderStatus.OPEN]
    for s in states:
        store.update_order(s.client_id, venue.now_ms, status="open", exchange_id=s.exchange_id)

    res = run(agent.reconcile())
    assert sorted(res.cancelled) == sorted([spot_cid, fut_cid])
    assert res.unexplained == [] and res.interrupted == [rid]
    assert venue.open_orders("spot") == [] and venue.open_orders("futures") == []
    for cid, state in zip((spot_cid, fut_cid), states, strict=True):
        o = store.order(cid)
        assert o.status == "canceled" and o.filled == 0
        assert o.exchange_id == state.exchange_id
        assert venue.get_order(o.market, o.exchange_id).finish_as == "cancelled"
    assert not agent.unexplained


def test_partly_filled_open_order_keeps_its_fill_when_cancelled(venue, store):
    agent = paper_agent(CFG, venue, store, None)
    rid = rebalance_id_for(venue.now_ms)
    cid = f"t-{rid}sp"
    # A resting buy exactly at a later bar's low fills half (the simulator's touch rule): the
    # price is the first new low, on the 0.1 grid, below the bid; the bars before stay above.
    bid = venue.top("spot")[0]
    lows = venue.candles.low
    lowest, target = float("inf"), None
    for j in range(venue.bar + 1, venue.bar + 300):
        low = float(lows[j])
        if low < lowest and low < bid and abs(low * 10 - round(low * 10)) < 1e-6:
            target = j, round(low, 1)
            break
        lowest = min(lowest, low)
    assert target is not None
    j, price = target
    record_orders(store, rid, venue.now_ms, [order_row(cid, OrderType.BUY, 0.02, price)])
    run(agent.gate.create_orders([OrderRequest(cid, OrderType.BUY, 0.02, price)]))
    store.update_order(cid, venue.now_ms, status="open")
    venue.advance(j - venue.bar)
    sim_order = venue._texts["spot"][cid]
    assert sim_order.is_open and float(sim_order.filled) == pytest.approx(0.01)

    res = run(agent.reconcile())
    assert res.cancelled == [cid]
    o = store.order(cid)
    assert o.status == "canceled" and sim_order.finish_as == "cancelled"
    assert o.filled == pytest.approx(0.01) and o.avg_price == price
    assert o.fee > 0


# --- (c) an order that filled while the agent was down ---------------------------------------


def test_order_filled_while_down_is_recorded_closed_with_its_fill(venue, store):
    agent = paper_agent(CFG, venue, store, None)
    gate: PaperExchange = agent.gate
    rid = rebalance_id_for(venue.now_ms)
    spot_cid, fut_cid = f"t-{rid}sp", f"t-{rid}hp"
    spot_bid = venue.top("spot")[0]
    fut_ask = venue.top("futures")[1]
    record_orders(
        store,
        rid,
        venue.now_ms,
        [
            order_row(spot_cid, OrderType.BUY, 0.3, spot_bid),
            order_row(fut_cid, OrderType.OPEN_SHORT, 25, fut_ask),
        ],
    )
    run(
        gate.create_orders(
            [
                OrderRequest(spot_cid, OrderType.BUY, 0.3, spot_bid, post_only=True),
                OrderRequest(fut_cid, OrderType.OPEN_SHORT, 25, fut_ask, post_only=True),
            ]
        )
    )
    for cid in (spot_cid, fut_cid):
        store.update_order(cid, venue.now_ms, status="open")
    # the agent is down; the market trades through both orders, then time goes on
    fill_resting(venue, "spot", spot_cid)
    fill_resting(venue, "futures", fut_cid)
    venue.advance(30)  # well past Gate's 60 s grace for finished futures texts

    # Gate finds a finished order's text only through the order history:
    for m, cid in (("spot", spot_cid), ("futures", fut_cid)):
        with pytest.raises(SimError):
            venue.get_order(m, cid)
    looked = run(gate.fetch_order(Market.SPOT, spot_cid))
    assert looked is not None and looked.status is OrderStatus.CLOSED
    assert looked.filled == pytest.approx(0.3) and looked.avg_price == spot_bid
    assert run(gate.fetch_order(Market.SPOT, "t-neverplaced")) is None

    res = run(agent.reconcile())
    assert res.cancelled == [] and res.unexplained == [] and res.interrupted == [rid]
    s, f = store.order(spot_cid), store.order(fut_cid)
    assert s.status == "closed" and s.filled == pytest.approx(0.3) and s.avg_price == spot_bid
    assert s.fee > 0 and s.exchange_id == venue._texts["spot"][spot_cid].id
    assert f.status == "closed" and f.filled == pytest.approx(25) and f.avg_price == fut_ask
    assert store.orders(statuses=UNFINISHED) == []
    # and the agent's next read of the book sees the position those fills built
    book, _ = run(agent.read_book())
    assert book.short_contracts == 25  # the spot fee is taken in BTC:
    assert book.spot_lots == round(0.3 * (1 - CFG.fees.spot_maker) / CFG.venue.spot_lot_btc)


# --- (d) an open order nobody knows -----------------------------------------------------------


def test_unknown_open_order_puts_the_agent_in_safe_mode(venue, store):
    agent = paper_agent(CFG, venue, store, None)
    bid, _ = venue.top("spot")
    stray = venue.place("spot", "buy", 0.01, round(bid - 300, 1), tif="gtc", text="t-stray1")
    before = raising_at_venue(venue)

    res = run(agent.reconcile())
    assert res.unexplained == ["spot: open order t-stray1"]
    assert agent.unexplained
    (event,) = store.events("reconcile_mismatch")
    assert "t-stray1" in event[2]
    assert stray.is_open  # left for a human to look at

    plan = run(agent.on_candle_close(candle(venue)))
    assert plan.triggered and plan.safe_mode
    assert plan.orders == ()  # the book is all cash: every order would raise exposure
    assert {h.order.order_type for h in plan.blocked} == {OrderType.BUY, OrderType.OPEN_SHORT}
    assert all(h.gate == "safe_mode" for h in plan.blocked)
    assert raising_at_venue(venue) == before
    assert len(store.events("reconcile_mismatch")) == len(store.events("safe_mode_entered")) == 1

    # the stray order is dealt with; the next reconcile is clean and trading resumes
    venue.cancel("spot", "t-stray1")
    assert run(agent.reconcile()).unexplained == [] and not agent.unexplained
    venue.advance(12)  # past the minimum rebalance interval
    plan = run(agent.on_candle_close(candle(venue)))
    assert not plan.safe_mode and plan.orders
    assert len(raising_at_venue(venue)) > len(before)


def test_unknown_futures_order_without_client_id_is_unexplained(venue, store):
    agent = paper_agent(CFG, venue, store, None)
    _, ask = venue.top("futures")
    o = venue.place("futures", "sell", -3, round(ask + 500, 1), tif="gtc")
    res = run(agent.reconcile())
    assert len(res.unexplained) == 1 and res.unexplained[0].startswith("futures: ")
    assert agent.unexplained and o.is_open


# --- (e) interrupted rebalances ---------------------------------------------------------------


def test_interrupted_rebalances_are_closed_and_done_ones_left_alone(venue, store):
    agent = paper_agent(CFG, venue, store, None)
    t = venue.now_ms
    store.begin_rebalance("r-done", t - 2 * BAR_MS, {}, [], t - 2 * BAR_MS)
    store.finish_rebalance("r-done", "done", t - 2 * BAR_MS)
    store.begin_rebalance("r-a", t - BAR_MS, {}, [], t - BAR_MS)
    store.begin_rebalance("r-b", t, {}, [], t)
    res = run(agent.reconcile())
    assert res.interrupted == ["r-a", "r-b"]
    assert rebalance_status(store) == {"r-done": "done", "r-a": "interrupted", "r-b": "interrupted"}
    with sqlite3.connect(store.path) as db:
        finished = dict(db.execute("SELECT id, finished_ms FROM rebalances").fetchall())
    assert finished["r-a"] == finished["r-b"] == t
    assert run(agent.reconcile()).interrupted == []


# --- refresh_pending --------------------------------------------------------------------------


def test_refresh_pending_brings_a_late_fill_up_to_date(venue, store):
    agent = paper_agent(CFG, venue, store, None)
    rid = rebalance_id_for(venue.now_ms)
    late, resting = f"t-{rid}sp", f"t-{rid}hp"
    bid = venue.top("spot")[0]
    far = round(venue.top("futures")[1] * 1.03, 1)  # not reached in the bars that follow
    record_orders(
        store,
        rid,
        venue.now_ms,
        [
            order_row(late, OrderType.BUY, 0.2, bid),
            order_row(resting, OrderType.OPEN_SHORT, 5, far),
        ],
    )
    states = run(
        agent.gate.create_orders(
            [
                OrderRequest(late, OrderType.BUY, 0.2, bid, post_only=True),
                OrderRequest(resting, OrderType.OPEN_SHORT, 5, far, post_only=True),
            ]
        )
    )
    assert [s.status for s in states] == [OrderStatus.OPEN, OrderStatus.OPEN]
    for cid in (late, resting):
        store.update_order(cid, venue.now_ms, status="open")
    store.finish_rebalance(rid, "done", venue.now_ms)  # the rebalance ended with them open

    run(agent.refresh_pending())
    assert store.order(late).status == "open" and store.order(late).filled == 0
    fill_resting(venue, "spot", late)
    venue.advance(3)
    run(agent.refresh_pending())
    o = store.order(late)
    assert o.status == "closed" and o.filled == pytest.approx(0.2) and o.avg_price == bid
    assert o.fee > 0
    assert store.order(resting).status == "open"  # still resting: untouched

    # on_candle_close runs it too: the other order is cancelled by hand, the agent notices
    venue.cancel("futures", resting)
    run(agent.on_candle_close(candle(venue)))
    assert store.order(resting).status == "canceled"


# --- the circuit breaker ----------------------------------------------------------------------


def test_drawdown_trips_the_circuit_breaker(venue, store):
    nav0 = CFG.backtest.nav0
    store.save_engine_state(EngineState(peak_nav=nav0 * 2))  # NAV is half the peak: -50%
    rec = Recorder()
    agent = paper_agent(CFG, venue, store, None)
    agent.monitors = [rec]
    assert agent.state.peak_nav == nav0 * 2
    bid = venue.top("spot")[0]
    fask = venue.top("futures")[1]
    ours = venue.place("spot", "buy", 0.01, round(bid - 400, 1), tif="gtc", text="t-brk1")
    fut = venue.place("futures", "sell", -2, round(fask + 400, 1), tif="gtc", text="t-brk2")
    manual = venue.place("spot", "buy", 0.01, round(bid - 500, 1), tif="gtc")  # from the web UI
    assert manual.text == "apiv4"  # no client id of ours: can only be cancelled by its id

    plan = run(agent.on_candle_close(candle(venue)))
    assert plan.safe_mode and any("drawdown 50.0%" in r for r in plan.safe_mode_reasons)
    assert plan.orders == () and {h.gate for h in plan.blocked} == {"safe_mode"}
    assert venue.open_orders("spot") == [] and venue.open_orders("futures") == []
    for o in (ours, fut, manual):
        assert o.finish_as == "cancelled", o.text
    kinds = [k for _, k, _ in store.events()]
    assert kinds == ["safe_mode_entered", "circuit_breaker"]
    (alert,) = rec.alerts
    assert alert[0] == "circuit_breaker" and "drawdown" in alert[1]
    assert "cancelled 3 orders" in alert[1]
    assert alert[2] == venue.now_ms
    assert store.events("circuit_breaker")[0][2] == alert[1]
    assert rec.bars[-1].safe_mode and agent.state.safe_mode
    assert store.load_engine_state().safe_mode

    # still in drawdown at the next close: no second alarm
    venue.advance()
    run(agent.on_candle_close(candle(venue)))
    assert len(rec.alerts) == 1


def test_the_breaker_acts_on_codes_not_on_words(venue, store, monkeypatch):
    """Rewording the people's text of a safe-mode reason must not disable the breaker."""
    from adaptive_agent.core import rebalance_engine

    def reworded(code, *args):
        return f"Bedingung {[c for _, c in rebalance_engine.SAFE_BITS].index(code)}"

    monkeypatch.setattr(rebalance_engine, "_condition_text", reworded)
    store.save_engine_state(EngineState(peak_nav=CFG.backtest.nav0 * 2))  # -50%
    rec = Recorder()
    agent = paper_agent(CFG, venue, store, None)
    agent.monitors = [rec]
    bid = venue.top("spot")[0]
    ours = venue.place("spot", "buy", 0.01, round(bid - 400, 1), tif="gtc", text="t-brk9")
    plan = run(agent.on_candle_close(candle(venue)))
    assert plan.safe_mode_codes == (SafeCode.DRAWDOWN,)
    assert plan.safe_mode_reasons == ("Bedingung 2",)
    assert [a[0] for a in rec.alerts] == ["circuit_breaker"]
    assert ours.finish_as == "cancelled"


def test_no_breaker_without_drawdown(venue, store):
    store.save_engine_state(EngineState(peak_nav=CFG.backtest.nav0 * 1.1))  # -9%: fine
    rec = Recorder()
    agent = paper_agent(CFG, venue, store, None)
    agent.monitors = [rec]
    plan = run(agent.on_candle_close(candle(venue)))
    assert not plan.safe_mode and plan.orders and rec.alerts == []
    assert store.events("circuit_breaker") == []


def test_breaker_alarm_while_safe_mode_is_already_on(venue, store):
    """The kill switch is on when a drawdown starts: the alarm must still go off."""
    store.set_manual_safe_mode(True, 0)
    rec = Recorder()
    agent = paper_agent(CFG, venue, store, None)
    agent.monitors = [rec]
    plan = run(agent.on_candle_close(candle(venue)))
    assert plan.safe_mode and plan.safe_mode_reasons == ("manual kill switch",)
    assert rec.alerts == []
    bid, _ = venue.top("spot")
    venue.place("spot", "buy", 0.01, round(bid - 400, 1), tif="gtc", text="t-brk3")
    # NAV falls 40% below its peak (as a crash would do) while safe mode is on
    agent.state = agent.state._replace(peak_nav=plan.nav / 0.6)
    venue.advance()
    plan = run(agent.on_candle_close(candle(venue)))
    assert plan.safe_mode and any("drawdown" in r for r in plan.safe_mode_reasons)
    assert [a[0] for a in rec.alerts] == ["circuit_breaker"]
    assert venue.open_orders("spot") == []


class FlakyExchange(PaperExchange):
    """The venue answers the next ``fail`` balance requests with a server error."""

    def __init__(self, market) -> None:
        super().__init__(market)
        self.fail = 0

    async def get_balances(self):
        if self.fail > 0:
            self.fail -= 1
            raise ExchangeError("HTTP 502 Bad Gateway", "SERVER_ERROR")
        return await super().get_balances()


@pytest.mark.parametrize("failures", [4, 5, 7])
def test_an_error_streak_trips_the_breaker(venue, store, failures):
    limit = CFG.safe_mode.max_error_streak
    rec = Recorder()
    agent = paper_agent(CFG, venue, store, None)
    agent.gate = FlakyExchange(venue)
    agent.monitors = [rec]
    agent.gate.fail = failures
    for _ in range(failures):
        assert run(agent.on_candle_close(candle(venue))) is None  # no book: no decision
        venue.advance()
    bid, _ = venue.top("spot")
    venue.place("spot", "buy", 0.01, round(bid - 400, 1), tif="gtc", text="t-left1")
    plan = run(agent.on_candle_close(candle(venue)))
    assert plan is not None
    if failures < limit:
        assert not plan.safe_mode and plan.orders and rec.alerts == []
        return
    assert plan.safe_mode
    assert f"{failures} consecutive exchange errors" in plan.safe_mode_reasons
    assert plan.orders == ()  # nothing that raises exposure right after the outage
    # One alarm per outage: raised while the venue was down, not again on recovery.
    assert [a[0] for a in rec.alerts] == ["circuit_breaker"]
    assert "consecutive exchange errors" in rec.alerts[0][1]
    assert venue._texts["spot"]["t-left1"].finish_as == "cancelled"
    # the streak is over: the next close counts from zero (safe mode clears after its time)
    venue.advance()
    assert "consecutive" not in "".join(run(agent.on_candle_close(candle(venue))).safe_mode_reasons)


# --- completed_day ----------------------------------------------------------------------------


D = 19_205 * DAY_MS  # a UTC midnight


@pytest.mark.parametrize(
    ("prev", "decision", "day"),
    [
        (None, D, D // DAY_MS - 1),  # a 00:00 close ends the previous day, even as the first
        (D - BAR_MS, D, D // DAY_MS - 1),
        (D, D + BAR_MS, None),  # the day was completed at 00:00 already
        (D - BAR_MS, D + BAR_MS, D // DAY_MS - 1),  # the 00:00 bar is missing
        (D - 7 * BAR_MS, D + 3 * 3_600_000, D // DAY_MS - 1),  # a gap over midnight
        (D - 3 * DAY_MS + 5 * BAR_MS, D + BAR_MS, D // DAY_MS - 3),  # days without any bar
        (D + BAR_MS, D + 2 * BAR_MS, None),
        (None, D + BAR_MS, None),  # first close after a start: nothing known to be complete
        (D + DAY_MS - BAR_MS, D + DAY_MS, D // DAY_MS),
    ],
)
def test_completed_day(prev, decision, day):
    assert completed_day(prev, decision) == day


def test_each_day_is_completed_once_over_a_replay_with_a_gap(spot, tmp_path):
    """on_new_day fires once per UTC day with bars, also when the data skips a midnight."""
    c = spot.slice(0, 900)
    keep = [i for i in range(len(c)) if not (280 <= i < 300)]  # 00:00 +- 50 min is missing
    import numpy as np

    from adaptive_agent.io.loaders import Candles

    idx = np.array(keep)
    gapped = Candles("gapped", c.ts[idx], c.open[idx], c.high[idx], c.low[idx], c.close[idx])
    market = make_market(CFG, gapped, None, "backtest")
    store = StateStore(tmp_path / "s.sqlite", durable=False)
    agent: Agent = paper_agent(CFG, market, store, None)
    days: list[int] = []

    async def on_new_day(day: int) -> None:
        days.append(day)

    agent.on_new_day = on_new_day
    from adaptive_agent.runner.paper import replay

    run(replay(agent, market, gapped))
    store.close()
    first = int(c.ts[0]) // DAY_MS
    last_decision = int(gapped.ts[-2]) + BAR_MS
    expected = list(range(first, (last_decision - 1) // DAY_MS))
    assert days == expected and first + 1 in days  # the day whose midnight fell in the gap


def test_a_restart_after_midnight_still_completes_the_day_before(spot, tmp_path):
    """The agent is down over midnight: at its first close after the restart, the day it
    last traded in is complete, and its digest/audit must run."""
    c = spot.slice(0, 400)
    market = make_market(CFG, c, None, "backtest")
    path = tmp_path / "s.sqlite"
    store = StateStore(path, durable=False)
    agent = paper_agent(CFG, market, store, None)
    while market.now_ms < int(c.ts[0]) + DAY_MS - 4 * BAR_MS:  # up to 23:40 UTC
        run(agent.on_candle_close(candle(market)))
        market.advance()
    store.close()  # the process dies at 23:40; the venue's clock goes on to 00:25
    market.advance(9)
    assert market.now_ms == int(c.ts[0]) + DAY_MS + 5 * BAR_MS

    store = StateStore(path, durable=False)
    agent = paper_agent(CFG, market, store, None)
    days: list[int] = []

    async def on_new_day(day: int) -> None:
        days.append(day)

    agent.on_new_day = on_new_day
    run(agent.reconcile())
    run(agent.on_candle_close(candle(market)))
    market.advance()
    run(agent.on_candle_close(candle(market)))
    store.close()
    assert days == [int(c.ts[0]) // DAY_MS]
