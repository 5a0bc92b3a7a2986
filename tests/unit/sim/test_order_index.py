"""Finding orders: Gate's windows for lookups by client text; the text rules."""

from __future__ import annotations

from tests.support.sim_market import label_of, make


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


def test_client_text_rules(path):
    m = make(path)
    bid = m.top("spot")[0]
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
