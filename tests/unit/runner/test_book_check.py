"""The start-up book check: the venue's book against the last read one plus the fills since."""

from __future__ import annotations

import pytest

from adaptive_agent.core.model import Book
from adaptive_agent.lifecycle import OrderStatus
from adaptive_agent.runner.book_check import (
    KnownBook,
    decode,
    encode,
    mismatch,
    venue_problem,
)
from adaptive_agent.state.store import StoredOrder

LOT = 1e-6
KNOWN = KnownBook(1_000, spot_lots=2_500_000, long_contracts=0, short_contracts=25_000)


def order(order_type: str, filled: float) -> StoredOrder:
    market = "spot" if order_type in ("BUY", "SELL") else "futures"
    return StoredOrder(
        "t-x", "r", "leg", order_type, market, "post_only", filled, None, None,
        OrderStatus.CLOSED, filled, 20_000.0, 0.0, None, "",
    )  # fmt: skip


def book(spot: int, long_: int = 0, short: int = 25_000) -> Book:
    return Book(0.0, spot, long_, short)


def test_encode_decode_round_trip_and_garbage_is_no_book():
    b = book(2_500_000)
    assert decode(encode(1_000, b)) == KNOWN
    for bad in (None, "", "{", "[1, 2]", '["a", 1, 2, 3]', "null"):
        assert decode(bad) is None


def test_the_fills_since_the_last_read_are_expected():
    since = [order("BUY", 0.1), order("OPEN_SHORT", 1_000), order("CLOSE_SHORT", 10)]
    venue = book(2_600_000, short=25_990)
    assert mismatch(KNOWN, since, venue, LOT) is None
    assert mismatch(KNOWN, [], venue, LOT) == (
        "spot 2600000 lots (expected 2500000); short 25990 contracts (expected 25000)"
    )


@pytest.mark.parametrize(
    ("venue_spot", "ok"),
    [(2_600_000, True), (2_599_500, True), (2_599_400, False), (2_600_503, False)],
)
def test_spot_has_room_for_fees_charged_in_btc_and_lot_rounding(venue_spot, ok):
    # a 0.1 BTC buy whose fee (0.2 % at most, in BTC) is not in the stored fill
    since = [order("BUY", 0.1)]
    assert (mismatch(KNOWN, since, book(venue_spot), LOT) is None) is ok


def test_contracts_must_match_exactly():
    assert "long 1 contracts (expected 0)" in mismatch(KNOWN, [], book(2_500_000, 1), LOT)


def test_venue_problem_cases():
    empty, holding = book(0, 0, 0), book(2_500_000)
    assert venue_problem(False, None, [], empty, LOT) is None  # a first start, nothing held
    lost = venue_problem(False, None, [], holding, LOT)
    assert lost.kind == "venue_state_unknown" and "knows no history" in lost.text
    assert venue_problem(True, None, [], holding, LOT) is None  # history before the book key
    assert venue_problem(True, KNOWN, [], holding, LOT) is None
    differs = venue_problem(True, KNOWN, [], book(2_500_000, short=1), LOT)
    assert differs.kind == "venue_state_mismatch" and "short 1 contracts" in differs.text
