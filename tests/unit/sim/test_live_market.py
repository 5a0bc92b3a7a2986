"""``LiveSimMarket``: the simulator's account at live prices (the dry-run fill model)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adaptive_agent.exchange.gate_constants import POC_LABEL
from adaptive_agent.sim.fill_models import DryRun
from adaptive_agent.sim.live_market import LivePrices, LiveSimMarket
from adaptive_agent.sim.orders import SimError, SimFees

T0 = 1_667_952_000_000  # 2022-11-09 00:00 UTC, a funding instant
FEES = SimFees(spot_maker=0.001, spot_taker=0.002, perp_maker=0.0002, perp_taker=0.0005)
LOOK = LivePrices(
    time_ms=T0 + 60_000,
    spot_last=20_000.0,
    spot_bid=19_999.9,
    spot_ask=20_000.1,
    perp_last=20_010.0,
    perp_bid=20_009.9,
    perp_ask=20_010.1,
    mark=20_008.0,
    funding_rate=0.0003,
)


def market(**kw) -> LiveSimMarket:
    kw.setdefault("spot_usdt", 50_000.0)
    kw.setdefault("futures_usdt", 50_000.0)
    return LiveSimMarket(LOOK, fees=FEES, slippage=0.001, leverage=3, **kw)


def later(m: LiveSimMarket, dt_ms: int = 1_000, **prices) -> LivePrices:
    return replace(m.live, time_ms=m.now_ms + dt_ms, **prices)


def test_the_present_is_the_last_look_at_gate():
    m = market()
    assert m.fill_model == "dry-run"
    assert m.now_ms == LOOK.time_ms and not m.done
    assert m.top("spot") == (19_999.9, 20_000.1) and m.top("futures") == (20_009.9, 20_010.1)
    assert m.last("spot") == 20_000.0 and m.last("futures") == 20_010.0
    assert m.mark() == 20_008.0 and m.funding_rate() == 0.0003
    m.observe(replace(LOOK, time_ms=LOOK.time_ms - 5_000))  # a look stamped earlier
    assert m.now_ms == LOOK.time_ms  # the clock never runs backwards
    with pytest.raises(NotImplementedError):
        m.advance()
    with pytest.raises(NotImplementedError):  # the dry-run fill model knows no bars
        DryRun().on_bar(m, 0)


def test_a_taker_fills_at_the_live_touch_moved_by_slippage_never_better():
    m = market()
    buy = m.place("spot", "buy", 500.0, None, tif="ioc", text="t-buy")  # cost in USDT
    assert buy.status == "finished" and buy.finish_as == "filled"
    (fill,) = m.my_trades("spot")
    assert fill.price == pytest.approx(20_000.1 * 1.001) and fill.role == "taker"
    assert fill.price > m.top("spot")[1]
    short = m.place("futures", "sell", -3, None, tif="ioc", text="t-short")
    (pfill,) = m.my_trades("futures")
    assert pfill.price == pytest.approx(20_009.9 * 0.999) and short.finish_as == "filled"
    assert pfill.fee == pytest.approx(3 * 0.0001 * pfill.price * 0.0005)
    assert m.positions()["dual_short"]["size"] == -3


def test_a_crossing_post_only_order_is_refused_as_gate_refuses_it():
    m = market()
    with pytest.raises(SimError) as exc:
        m.place("spot", "buy", 0.01, 20_000.1, tif="poc", text="t-cross")
    assert exc.value.label == POC_LABEL["spot"]
    with pytest.raises(SimError) as exc:
        m.place("futures", "sell", -2, 20_009.9, tif="poc", text="t-cross2")
    assert exc.value.label == POC_LABEL["futures"]


def test_a_resting_order_fills_only_when_a_new_trade_goes_through_its_limit():
    m = market()
    buy = m.place("spot", "buy", 0.01, 19_999.9, tif="poc", text="t-rest")
    sell = m.place("futures", "sell", -2, 20_010.1, tif="poc", text="t-rest2")
    m.observe(later(m))  # the same last price: no trade seen since the orders
    m.observe(later(m, spot_last=19_999.9, perp_last=20_010.1))  # at the limits: queue unknown
    assert buy.is_open and sell.is_open and m.my_trades("spot") == []
    m.observe(later(m, spot_last=19_999.8, perp_last=20_010.2))  # through both
    assert not buy.is_open and buy.finish_as == "filled" and buy.filled == pytest.approx(0.01)
    (fill,) = m.my_trades("spot")
    assert (fill.price, fill.role, fill.fee_currency) == (19_999.9, "maker", "BTC")
    assert fill.fee == pytest.approx(0.01 * 0.001)  # Gate charges a spot buy in BTC
    (pfill,) = m.my_trades("futures")
    assert (pfill.price, pfill.role) == (20_010.1, "maker") and not sell.is_open


def test_a_price_seen_before_the_order_was_placed_does_not_fill_it():
    m = market()
    m.observe(later(m, spot_last=19_990.0))  # a trade well below, then the order arrives
    buy = m.place("spot", "buy", 0.01, 19_999.9, tif="poc", text="t-late")
    m.observe(later(m))  # still that old trade
    assert buy.is_open
    m.observe(later(m, spot_last=19_990.5))  # a new trade below the limit
    assert not buy.is_open


def test_funding_settles_at_the_instants_passed_at_the_rate_seen_before():
    m = market()
    m.place("futures", "buy", 10, None, tif="ioc", text="t-long")
    before = m.futures_account()["total"]
    m.observe(later(m, dt_ms=8 * 3_600_000, funding_rate=-0.05))  # past 08:00 UTC
    (line,) = m.account_book("fund")
    assert line.change == pytest.approx(-0.0003 * 10 * 0.0001 * 20_008.0)  # the long pays
    assert m.futures_account()["total"] == pytest.approx(before + line.change)


def test_a_side_is_liquidated_when_the_mark_reaches_its_liquidation_price():
    m = market(futures_usdt=2_000.0)
    m.place("futures", "buy", 500, None, tif="ioc", text="t-big")  # 1 BTC at 3x on 2,000 USDT
    m.observe(later(m, mark=12_000.0, perp_last=12_000.0, perp_bid=11_999.9, perp_ask=12_000.1))
    assert m.positions()["dual_long"]["size"] == 0
    assert any(o.finish_as == "liquidated" for o in m.order_history("futures"))
