"""SimMarket rules on the bundled real BTC/USDT 5-minute path (first days of August 2022)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from adaptive_agent.io.loaders import BAR_MS, Candles, FundingSeries
from adaptive_agent.sim.markets import CONTRACT_BTC
from adaptive_agent.sim.matching import SimMarket
from adaptive_agent.sim.orders import BarEvent, FundingEvent, OrderEvent, SimError, SimFees

FEES = SimFees(spot_maker=0.001, spot_taker=0.002, perp_maker=0.0002, perp_taker=0.0005)
SLIP = 0.0002


@pytest.fixture(scope="module")
def path(spot) -> Candles:
    return spot.slice(0, 600)


def make(path: Candles, **kw) -> SimMarket:
    kw.setdefault("fees", FEES)
    kw.setdefault("slippage", SLIP)
    kw.setdefault("dual_mode", True)
    return SimMarket(path, **kw)


def on_tick(x: float) -> bool:
    return abs(x * 10 - round(x * 10)) < 1e-6


def error_of(call) -> SimError:
    with pytest.raises(SimError) as err:
        call()
    return err.value


def label_of(call) -> str:
    return error_of(call).label


# ---- clock and book ---------------------------------------------------------------------


def test_clock_starts_at_the_close_of_bar_zero_and_advances_bar_by_bar(path):
    m = make(path)
    assert m.bar == 0 and m.now_ms == int(path.ts[0]) + BAR_MS and not m.done
    events = m.advance(3)
    assert m.bar == 3 and m.now_ms == int(path.ts[3]) + BAR_MS
    assert [e.bar for e in events if isinstance(e, BarEvent)] == [1, 2, 3]
    m.advance(10_000)
    assert m.done and m.bar == len(path) - 1
    assert m.advance() == []


def test_realistic_book_is_a_tick_either_side_of_the_close(path):
    m = make(path)
    for _ in range(50):
        close = m.last("spot")
        bid, ask = m.top("spot")
        assert bid < close < ask and on_tick(bid) and on_tick(ask)
        assert ask - bid == pytest.approx(0.2 if on_tick(close) else 0.1)
        assert m.top("futures") == (bid, ask)
        m.advance()
    assert make(path, fill_model="backtest").top("spot") == (path.close[0], path.close[0])


# ---- post-only, resting fills, partial fills ------------------------------------------------


def test_post_only_that_would_take_is_rejected_with_gates_labels(path):
    m = make(path)
    bid, ask = m.top("futures")
    assert label_of(lambda: m.place("futures", "buy", 3, ask, tif="poc")) == "ORDER_POC_IMMEDIATE"
    assert label_of(lambda: m.place("futures", "sell", -3, bid, tif="poc")) == (
        "ORDER_POC_IMMEDIATE"
    )
    assert label_of(lambda: m.place("spot", "buy", 0.001, ask, tif="poc")) == (
        "POC_FILL_IMMEDIATELY"
    )
    assert m.open_orders("futures") == [] and m.open_orders("spot") == []
    assert m.spot_balances()["USDT"] == (100_000.0, 0.0)
    resting = m.place("futures", "buy", 3, bid, tif="poc", text="t-rest")
    assert resting.status == "open" and resting.filled == 0


def test_resting_buy_fills_in_full_when_a_later_bar_trades_through(path):
    m = make(path)
    j = next(k for k in range(1, 300) if path.low[k] < path.close[k - 1] - 5)
    m.advance(j - 1)
    price = math.floor(path.close[j - 1] * 10) / 10 - 1.0  # below the bid, above the next low
    assert path.low[j] < price
    o = m.place("spot", "buy", 0.01, price, tif="poc", text="t-through")
    assert m.spot_balances()["USDT"].locked == pytest.approx(0.01 * price)
    m.advance()
    assert o.status == "finished" and o.finish_as == "filled"
    assert o.avg_price == price and o.filled == pytest.approx(0.01)
    trade = m.my_trades("spot")[-1]
    assert trade.role == "maker" and trade.fee_currency == "BTC"
    assert trade.fee == pytest.approx(0.01 * FEES.spot_maker)  # Gate: fee in the coin received
    bal = m.spot_balances()
    assert bal["BTC"] == (pytest.approx(0.01 * (1 - FEES.spot_maker)), 0.0)
    assert bal["USDT"].available == pytest.approx(100_000 - 0.01 * price)
    assert bal["USDT"].locked == pytest.approx(0.0, abs=1e-9)


def test_a_bar_that_only_touches_the_price_fills_half_rounded_down(path):
    k = next(i for i in range(1, 600) if on_tick(path.low[i]) and path.low[i] <= path.close[i - 1])
    m = make(path)
    m.advance(k - 1)
    p = float(path.low[k])
    o = m.place("futures", "buy", 5, p, tif="poc")
    s = m.place("spot", "buy", 0.000201, p, tif="gtc")
    m.advance()
    assert (o.filled, o.left, o.status) == (2.0, 3.0, "open")  # floor(5 / 2)
    assert s.filled == pytest.approx(0.0001) and s.status == "open"  # 201 lots -> 100
    assert m.positions()["dual_long"]["size"] == 2.0
    assert m.positions()["dual_long"]["entry_price"] == p
    one = make(path)
    one.advance(k - 1)
    single = one.place("futures", "buy", 1, p, tif="poc")
    one.advance()
    assert single.filled == 1.0 and single.finish_as == "filled"  # at least one contract


def test_resting_sell_fills_when_high_trades_through(path):
    m = make(path)
    m.place("futures", "sell", -4, None)  # open a short to have something on both sides
    j = next(k for k in range(1, 300) if path.high[k] > path.close[k - 1] + 5)
    m.advance(j - 1)
    price = math.ceil(path.close[j - 1] * 10) / 10 + 1.0
    o = m.place("futures", "buy", 4, None, reduce_only=True)  # close the short at market
    assert o.finish_as == "filled"
    s = m.place("futures", "sell", -2, price, tif="poc")
    m.advance()
    assert s.finish_as == "filled" and s.avg_price == price
    assert m.positions()["dual_short"]["size"] == -2.0


# ---- taker fills ----------------------------------------------------------------------------


def test_market_orders_fill_at_the_touch_with_slippage_and_taker_fees(path):
    m = make(path)
    bid, ask = m.top("futures")
    o = m.place("futures", None, 7, None, text="t-mkt")
    assert o.finish_as == "filled" and o.avg_price == pytest.approx(ask * (1 + SLIP))
    assert o.fee == pytest.approx(7 * CONTRACT_BTC * ask * (1 + SLIP) * FEES.perp_taker)
    assert m.futures_account()["total"] == pytest.approx(100_000 - o.fee)
    buy = m.place("spot", "buy", 250.0, None)  # a spot market buy spends USDT
    px = ask * (1 + SLIP)
    btc = math.floor(250.0 / px / 1e-6) * 1e-6
    assert buy.filled == pytest.approx(btc) and buy.avg_price == pytest.approx(px)
    assert buy.fee == pytest.approx(btc * FEES.spot_taker) and buy.fee_currency == "BTC"
    assert m.spot_balances()["USDT"].available == pytest.approx(100_000 - btc * px)
    sell = m.place("spot", "sell", 0.005, None)
    proceeds = 0.005 * bid * (1 - SLIP)
    assert sell.fee == pytest.approx(proceeds * FEES.spot_taker) and sell.fee_currency == "USDT"
    assert m.spot_balances()["USDT"].available == pytest.approx(
        100_000 - btc * px + proceeds * (1 - FEES.spot_taker)
    )


def test_ioc_limit_that_does_not_cross_finishes_unfilled(path):
    m = make(path)
    bid, _ = m.top("futures")
    o = m.place("futures", "buy", 2, bid, tif="ioc")
    assert (o.status, o.finish_as, o.filled) == ("finished", "ioc", 0.0)
    lim = m.place("futures", "buy", 2, bid + 5, tif="gtc")  # crosses: taker, capped by limit
    assert lim.finish_as == "filled" and lim.avg_price <= bid + 5


# ---- dual mode, reduce-only, margin, balances -----------------------------------------------


def test_the_four_dual_mode_intents_and_reduce_only_limits(path):
    m = make(path)
    m.place("futures", "buy", 5, None)  # OPEN_LONG
    m.place("futures", "sell", -3, None)  # OPEN_SHORT
    pos = m.positions()
    assert (pos["dual_long"]["size"], pos["dual_short"]["size"]) == (5.0, -3.0)
    bid, ask = m.top("futures")
    assert label_of(lambda: m.place("futures", "sell", -6, ask, reduce_only=True)) == (
        "REDUCE_EXCEEDED"
    )
    close_long = m.place("futures", "sell", -4, ask, tif="poc", reduce_only=True)
    assert close_long.status == "open"
    # pending reduce-only orders count against the leg: only 1 contract is left to close
    assert label_of(lambda: m.place("futures", "sell", -2, ask, reduce_only=True)) == (
        "REDUCE_EXCEEDED"
    )
    m.place("futures", "buy", 3, None, reduce_only=True)  # CLOSE_SHORT
    assert m.positions()["dual_short"]["size"] == 0.0
    err = error_of(lambda: m.place("futures", "buy", 1, bid, reduce_only=True))
    assert err.label == "REDUCE_EXCEEDED" and "empty position" in err.message
    m.cancel("futures", close_long.id)
    m.place("futures", "sell", -5, None, reduce_only=True)  # CLOSE_LONG
    assert m.positions()["dual_long"]["size"] == 0.0
    assert label_of(lambda: m.place("futures", "sell", -1, None, reduce_only=True)) == (
        "REDUCE_EXCEEDED"
    )


def test_margin_and_spot_balance_checks(path):
    m = make(path, usdt=1_000.0, leverage=3)
    mark = m.mark()
    too_many = math.ceil(3 * 1_000 / (CONTRACT_BTC * mark)) + 10
    assert label_of(lambda: m.place("futures", "buy", too_many, None)) == "INSUFFICIENT_AVAILABLE"
    bid, ask = m.top("spot")
    assert label_of(lambda: m.place("spot", "buy", 0.05, bid)) == "BALANCE_NOT_ENOUGH"
    assert label_of(lambda: m.place("spot", "sell", 0.001, ask)) == "BALANCE_NOT_ENOUGH"
    o = m.place("spot", "buy", 0.02, bid)
    assert m.spot_balances()["USDT"] == (
        pytest.approx(1_000 - 0.02 * bid),
        pytest.approx(0.02 * bid),
    )
    assert label_of(lambda: m.place("spot", "buy", 0.03, bid)) == "BALANCE_NOT_ENOUGH"
    m.cancel("spot", o.id)
    assert m.spot_balances()["USDT"] == (1_000.0, 0.0)
    f = m.place("futures", "buy", 100, m.top("futures")[0])
    assert m.futures_account()["order_margin"] == pytest.approx(100 * CONTRACT_BTC * f.price / 3)


def test_minimums_precision_and_client_text_rules(path):
    m = make(path)
    bid = m.top("spot")[0]
    err = error_of(lambda: m.place("spot", "buy", 0.0001, bid))  # ~2.3 USDT < 3 USDT
    assert err.label == "INVALID_PARAM_VALUE" and "Your order size" in err.message
    assert label_of(lambda: m.place("spot", "buy", 0.0012345, bid)) == "INVALID_PRECISION"
    assert label_of(lambda: m.place("spot", "buy", 0.001, bid + 0.05)) == "INVALID_PRECISION"
    assert label_of(lambda: m.place("spot", "buy", 2.0, None)) == "INVALID_PARAM_VALUE"
    assert label_of(lambda: m.place("futures", "buy", 1.5, None)) == "INVALID_PARAM_VALUE"
    assert label_of(lambda: m.place("futures", "buy", 0, None)) == "SIZE_TOO_SMALL"
    assert label_of(lambda: m.place("futures", "sell", 2, None)) == "INVALID_PARAM_VALUE"
    assert (
        label_of(lambda: m.place("futures", "buy", 1, round(bid * 0.9, 1))) == "PRICE_TOO_DEVIATED"
    )
    assert label_of(lambda: m.place("futures", "buy", 1, bid, tif="fok")) == "INVALID_PARAM_VALUE"
    assert label_of(lambda: m.place("spot", "buy", 0.001, bid, text="abc")) == (
        "INVALID_PARAM_VALUE"
    )
    assert label_of(lambda: m.place("spot", "buy", 0.001, bid, text="t-" + "x" * 29)) == (
        "INVALID_PARAM_VALUE"
    )
    m.place("spot", "buy", 0.001, bid, text="t-" + "x" * 28)  # 30 characters: fine
    assert label_of(lambda: m.place("spot", "buy", 0.001, bid, text="t-" + "x" * 28)) == (
        "REPEATED_CREATION"
    )
    m.place("futures", "buy", 1, None, text="t-" + "x" * 28)  # texts are per market


def test_dual_mode_switch_is_refused_with_positions_or_orders(path):
    m = make(path, dual_mode=False)
    o = m.place("futures", "buy", 2, m.top("futures")[0])
    assert label_of(lambda: m.set_dual_mode(True)) == "ORDER_PENDING"
    m.cancel("futures", o.id)
    m.place("futures", "buy", 2, None)
    assert list(m.positions()) == ["single"] and m.positions()["single"]["size"] == 2.0
    assert label_of(lambda: m.set_dual_mode(True)) == "POSITION_HOLDING"
    m.place("futures", "sell", -5, None)  # single mode nets: closes 2, opens a short of 3
    assert m.positions()["single"]["size"] == -3.0
    m.place("futures", "buy", 3, None, reduce_only=True)
    m.set_dual_mode(True)
    assert set(m.positions()) == {"dual_long", "dual_short"}


def test_lookup_by_text_follows_gates_documented_windows(path):
    m = make(path)
    spot = m.place("spot", "buy", 50.0, None, text="t-spot")  # filled at once
    fut = m.place("futures", "buy", 1, None, text="t-fut")
    rest = m.place("futures", "buy", 1, m.top("futures")[0] - 50, text="t-rest")
    assert m.get_order("spot", spot.id) is spot
    assert label_of(lambda: m.get_order("spot", "t-spot")) == "ORDER_NOT_FOUND"
    assert m.get_order("futures", "t-fut") is fut  # finished less than 60 s ago
    m.advance()
    assert label_of(lambda: m.get_order("futures", "t-fut")) == "ORDER_NOT_FOUND"
    assert m.get_order("futures", "t-rest") is rest  # open orders are always found
    assert [o.text for o in m.order_history("futures")] == ["t-fut"]
    lenient = make(path, text_lookup="always")
    lenient.place("spot", "buy", 50.0, None, text="t-spot")
    assert lenient.get_order("spot", "t-spot").finish_as == "filled"


def test_auto_size_closes_a_whole_dual_leg(path):
    m = make(path)
    m.place("futures", "sell", -6, None)
    o = m.place("futures", None, 0, None, auto_size="close_short")
    assert o.amount == 6.0 and o.reduce_only and o.finish_as == "filled"
    assert m.positions()["dual_short"]["size"] == 0.0
    assert label_of(lambda: m.place("futures", None, 0, None, auto_size="close_long")) == (
        "REDUCE_EXCEEDED"
    )


def test_order_events_are_put_update_finish(path):
    m = make(path)
    seen = []
    m.subscribe(seen.append)
    m.place("futures", "buy", 2, None)
    phases = [e.phase for e in seen if isinstance(e, OrderEvent)]
    assert phases == ["put", "update", "finish"]
    assert seen[0].order.status == "open"  # events carry snapshots, not the live order


# ---- funding ------------------------------------------------------------------------------


def test_funding_longs_pay_shorts_receive_at_0800(path):
    m = make(path, funding_rate_default=0.0003)
    m.place("futures", "buy", 10, None)
    m.place("futures", "sell", -4, None)
    before = m.futures_account()["total"]
    eight = int(path.ts[0]) + 8 * 3_600_000
    k = int(np.searchsorted(path.ts, eight)) - 1  # the bar that closes at 08:00
    events = m.advance(k)
    funding = [e for e in events if isinstance(e, FundingEvent)]
    assert [e.time_ms for e in funding] == [eight]
    close = float(path.close[k])
    expected = 0.0003 * (4 - 10) * CONTRACT_BTC * close
    assert funding[0].change == pytest.approx(expected) and funding[0].mark == close
    assert m.futures_account()["total"] == pytest.approx(before + expected)
    book = m.account_book("fund")
    assert [e.change for e in book] == pytest.approx(
        [-0.0003 * 10 * CONTRACT_BTC * close, 0.0003 * 4 * CONTRACT_BTC * close]
    )
    pos = m.positions()
    assert pos["dual_long"]["pnl_fund"] < 0 < pos["dual_short"]["pnl_fund"]


def test_funding_rates_come_from_the_series(path, funding):
    m = make(path, funding=funding)
    m.place("futures", "sell", -10, None)
    eight = int(path.ts[0]) + 8 * 3_600_000
    rate = float(funding.rate[np.searchsorted(funding.ts, eight)])
    assert m.funding_rate() == rate
    m.advance(120)
    fund = m.account_book("fund")[0]
    assert fund.time_ms == eight
    assert fund.change == pytest.approx(rate * 10 * CONTRACT_BTC * path.close[95])


def test_funding_inside_a_data_gap_settles_at_the_close_before_it(path):
    eight = int(path.ts[0]) + 8 * 3_600_000
    cut = int(np.searchsorted(path.ts, eight))  # bar opening at 08:00
    gappy = Candles(
        "gap",
        *(
            np.r_[a[: cut - 3], a[cut + 5 : cut + 50]]
            for a in (path.ts, path.open, path.high, path.low, path.close)
        ),
    )
    m = make(gappy, funding=FundingSeries("f", np.array([eight]), np.array([0.001])))
    m.place("futures", "sell", -10, None)
    m.advance(cut - 4)  # at the last close before the gap
    before_gap_close = m.mark()
    events = m.advance()
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("FundingEvent") < kinds.index("BarEvent")
    fund = next(e for e in events if isinstance(e, FundingEvent))
    assert fund.mark == before_gap_close
    assert fund.change == pytest.approx(0.001 * 10 * CONTRACT_BTC * before_gap_close)


# ---- the backtest fill model ----------------------------------------------------------------


def test_backtest_model_maker_part_at_close_taker_part_at_next_open(path):
    ratio, t = 0.4, 10
    m = make(path, fill_model="backtest", maker_fill_ratio=ratio)
    m.advance(t)
    close_t, open_next = float(path.close[t]), float(path.open[t + 1])
    px = math.floor(close_t * 10) / 10  # on the tick, at or under the touch (= close)
    po = m.place("futures", "buy", 5, px, tif="poc")
    assert po.filled == pytest.approx(5 * ratio) and po.status == "open"  # 2 contracts, exact
    assert po.avg_price == px
    assert po.fee == pytest.approx(5 * ratio * CONTRACT_BTC * px * FEES.perp_maker)
    m.cancel("futures", po.id)
    mk = m.place("futures", "buy", 3, None)
    assert mk.status == "open" and mk.filled == 0  # waits for the next bar's open
    sbuy = m.place("spot", "buy", 0.002, px, tif="poc")
    assert sbuy.filled == 0.002 * ratio  # exact, not rounded to lots
    assert sbuy.fee_currency == "USDT"  # booked in USDT, as the backtester does
    assert sbuy.fee == pytest.approx(0.002 * ratio * px * FEES.spot_maker)
    cost = m.place("spot", "buy", 500.0, None)
    m.advance()
    taker = open_next * (1 + SLIP)
    assert mk.finish_as == "filled" and mk.avg_price == pytest.approx(taker)
    assert mk.fee == pytest.approx(3 * CONTRACT_BTC * taker * FEES.perp_taker)
    assert cost.finish_as == "filled" and cost.filled == pytest.approx(500.0 / taker)
    assert cost.fee == pytest.approx(500.0 * FEES.spot_taker)
    assert sbuy.status == "open" and sbuy.filled == 0.002 * ratio  # the rest is never matched
    long = m.positions()["dual_long"]
    assert long["size"] == pytest.approx(5 * ratio + 3)
    assert long["entry_price"] == pytest.approx((2 * px + 3 * taker) / 5)
    # reservations cover notionals; USDT fees come out of the free balance at the fill
    usdt = m.spot_balances()["USDT"]
    assert usdt.locked == pytest.approx(0.002 * (1 - ratio) * px)
    assert usdt.available == pytest.approx(
        100_000 - 0.002 * px - 0.002 * ratio * px * FEES.spot_maker - 500 * (1 + FEES.spot_taker)
    )
    m.cancel("spot", sbuy.id)
    assert m.spot_balances()["USDT"].locked == 0.0
    assert m.spot_balances()["BTC"].available == pytest.approx(0.002 * ratio + 500 / taker)
    sell = m.place("futures", "sell", -2, None, reduce_only=True)
    m.advance()
    assert sell.avg_price == pytest.approx(float(path.open[t + 2]) * (1 - SLIP))


def test_backtest_model_refuses_crossing_gtc_and_accepts_touch_post_only(path):
    m = make(path, fill_model="backtest")
    close = m.last()
    assert label_of(lambda: m.place("futures", "buy", 1, round(close, 1) + 1, tif="poc")) == (
        "ORDER_POC_IMMEDIATE"
    )
    assert label_of(lambda: m.place("futures", "buy", 1, round(close, 1) + 1)) == (
        "INVALID_PARAM_VALUE"
    )
