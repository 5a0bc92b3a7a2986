"""Fill models on the bundled real BTC/USDT path: the realistic book with its maker and taker
fills, and the backtester's model."""

from __future__ import annotations

import math

import pytest

from adaptive_agent.sim.markets import CONTRACT_BTC
from tests.support.sim_market import FEES, SLIP, label_of, make, on_tick


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
