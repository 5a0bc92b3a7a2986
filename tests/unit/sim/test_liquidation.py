"""Leverage, margin mode, maintenance margin and liquidation of the simulated perpetual."""

from __future__ import annotations

import numpy as np
import pytest

from adaptive_agent.exchange.gate_constants import MAINTENANCE_RATE, Label, MarginMode
from adaptive_agent.io.loaders import Candles
from adaptive_agent.sim import liquidation
from adaptive_agent.sim.margin_modes import control
from tests.support.sim_market import FEES, label_of, make

K = MAINTENANCE_RATE + FEES.perp_taker


def rally(closes: list[float]) -> Candles:
    """Bars whose high is 0.5 % above the larger of open and close, low 0.5 % below."""
    c = np.asarray(closes, dtype=float)
    o = np.r_[c[0], c[:-1]]
    ts = 1_700_006_400_000 + 300_000 * np.arange(len(c), dtype=np.int64)
    return Candles("rally", ts, o, np.maximum(o, c) * 1.005, np.minimum(o, c) * 0.995, c)


def short_market(closes, futures_usdt=1_000.0, leverage=10.0, contracts=1_000):
    m = make(rally(closes), usdt=0.0, futures_usdt=futures_usdt, leverage=leverage)
    m.place("futures", None, -contracts, None)  # market sell: opens the short at once
    return m


def test_liq_price_follows_gates_formula_for_an_isolated_short():
    m = short_market([30_000.0] * 3)
    pos = m.positions()["dual_short"]
    entry, margin = pos["entry_price"], pos["margin"]
    want = (entry + margin / (1_000 * 1e-4)) / (1 + K)
    assert pos["liq_price"] == pytest.approx(want, rel=1e-12)
    assert pos["leverage"] == 10.0 and pos["cross_leverage_limit"] == 0.0
    assert m.positions()["dual_long"]["liq_price"] == 0.0  # no position, no price


def test_a_rally_liquidates_the_short_at_its_liquidation_price_and_no_earlier():
    m = short_market([30_000.0, 31_000.0, 32_000.0, 34_000.0, 34_000.0])
    liq = m.positions()["dual_short"]["liq_price"]
    cash0, margin = m.futures_account()["total"], m.positions()["dual_short"]["margin"]
    m.advance(2)  # highs 31155, 32160: below ~32880
    assert m.positions()["dual_short"]["size"] == -1_000
    m.advance(1)  # high 34170 reaches it
    assert m.positions()["dual_short"]["size"] == 0
    liq_orders = [o for o in m.order_history("futures") if o.text == "liquidation"]
    assert len(liq_orders) == 1
    o = liq_orders[0]
    assert o.finish_as == "liquidated" and o.side == "buy" and o.avg_price == pytest.approx(liq)
    # an isolated side loses exactly its margin: the rest goes to the insurance fund
    assert m.futures_account()["total"] == pytest.approx(cash0 - margin, abs=1e-9)
    assert any(e.type == "pnl" and e.change < 0 for e in m.account_book())


def test_open_orders_finish_as_liquidated():
    m = short_market([30_000.0, 34_000.0])
    m.place("futures", None, 10, 29_000.0, tif="gtc", reduce_only=True)  # resting buy
    m.advance(1)
    assert next(o.finish_as for o in m.order_history("futures") if o.text != "liquidation") == (
        "liquidated"
    )


def test_cross_mode_uses_the_whole_wallet():
    m = make(rally([30_000.0, 33_500.0, 40_000.0]), usdt=0.0, futures_usdt=1_000.0, leverage=10)
    control(m).set_leverage(0, 10)  # leverage 0: cross, with its limit
    assert m._futures.margin_settings.mode is MarginMode.CROSS
    m.place("futures", None, -1_000, None)
    pos = m.positions()["dual_short"]
    want = (pos["entry_price"] * 0.1 + 1_000.0 - FEES.perp_taker * pos["entry_price"] * 0.1) / (
        0.1 * (1 + K)
    )
    assert pos["leverage"] == 0.0 and pos["cross_leverage_limit"] == 10.0
    assert pos["liq_price"] == pytest.approx(want, rel=1e-3)
    assert pos["liq_price"] > 33_000  # far above the isolated one (~32.9k)
    m.advance(1)
    assert m.positions()["dual_short"]["size"] == -1_000  # 33.5k x 1.005 < liq
    m.advance(1)
    assert m.positions()["dual_short"]["size"] == 0
    assert m.futures_account()["total"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("leverage", "label"),
    [(0.5, Label.LEVERAGE_TOO_LOW), (201, Label.LEVERAGE_TOO_HIGH)],
)
def test_leverage_outside_the_contract_limits_is_refused(leverage, label):
    m = make(rally([30_000.0] * 2), leverage=3)
    assert label_of(lambda: control(m).set_leverage(leverage)) == label
    assert m.leverage == 3  # unchanged


def test_lowering_leverage_without_the_margin_for_it_is_refused():
    m = short_market([30_000.0] * 2, futures_usdt=400.0, leverage=10)  # margin 300 of 400
    assert label_of(lambda: control(m).set_leverage(1)) == Label.INSUFFICIENT_AVAILABLE
    assert m.positions()["dual_short"]["leverage"] == 10.0


def test_raising_leverage_into_liquidation_is_refused():
    m = short_market([30_000.0, 32_500.0, 32_500.0], futures_usdt=1_000.0, leverage=10)
    m.advance(1)  # the short is ~250 USDT under water, margin 300
    assert label_of(lambda: control(m).set_leverage(200)) == Label.LIQUIDATE_IMMEDIATELY
    assert m.leverage == 10


def test_margin_mode_switch_refused_with_a_position_or_an_order():
    m = short_market([30_000.0] * 2)
    assert label_of(lambda: control(m).set_mode("CROSS")) == Label.POSITION_HOLDING
    m2 = make(rally([30_000.0] * 2), leverage=3)
    m2.place("futures", None, 1, 29_000.0, tif="gtc")
    assert label_of(lambda: control(m2).set_mode("CROSS")) == Label.ORDER_PENDING
    assert label_of(lambda: control(m2).set_mode("BOTH")) == Label.INVALID_PARAM_VALUE
    m3 = make(rally([30_000.0] * 2), leverage=3)
    control(m3).set_mode("cross")
    assert m3.leverage == 10.0  # cross_leverage_default
    control(m3).set_mode("CROSS")  # no change: no refusal


def test_maintenance_margin_is_the_contract_rate_of_the_notional():
    m = short_market([30_000.0] * 2)
    pos = m.positions()["dual_short"]
    assert pos["maintenance_margin"] == pytest.approx(0.1 * 30_000.0 * MAINTENANCE_RATE)
    assert liquidation.shortfall(m._futures, 30_000.0)["short"] > 0
