"""What the simulated Gate refuses before an order exists: minimums, precision, sides, prices."""

from __future__ import annotations

from tests.support.sim_market import error_of, label_of, make


def test_minimums_precision_sides_and_prices(path):
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
