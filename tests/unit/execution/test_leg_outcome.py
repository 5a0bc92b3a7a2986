"""leg_outcome: the rebalance status of its legs, and the book after the fills."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adaptive_agent.core.model import Book, OrderType, Params
from adaptive_agent.execution.leg_outcome import (
    LegResult,
    book_after,
    delta_frac,
    rebalance_status,
)
from adaptive_agent.lifecycle import RebalanceStatus

P = Params()


def test_done_only_when_every_leg_filled():
    assert rebalance_status([LegResult.FILLED] * 3) is RebalanceStatus.DONE
    assert rebalance_status([]) is RebalanceStatus.DONE
    for bad in (LegResult.SHORT, LegResult.REJECTED, LegResult.UNKNOWN):
        assert rebalance_status([LegResult.FILLED, bad]) is RebalanceStatus.INCOMPLETE


def test_the_issue_book_a_short_filled_and_the_spot_buy_refused_is_half_short():
    # 100 000 USDT, short 50 % filled (at 20 000: 2.5 BTC = 25 000 contracts), spot refused
    book = book_after(Book(cash=100_000.0), [(OrderType.OPEN_SHORT, 25_000.0)], P)
    assert book.short_contracts == 25_000 and book.spot_lots == 0
    assert abs(delta_frac(book, 20_000.0, 100_000.0, P) + 0.5) < 1e-12


def test_spot_fills_count_in_lots():
    book = book_after(
        Book(cash=0.0, spot_lots=5), [(OrderType.BUY, 0.25), (OrderType.SELL, 0.05)], P
    )
    assert book.spot_lots == 5 + round(0.20 / P.venue.spot_lot)


def test_no_nav_no_fraction():
    assert delta_frac(Book(cash=0.0, spot_lots=10), 20_000.0, 0.0, P) == 0.0


@given(
    st.lists(
        st.tuples(st.sampled_from(list(OrderType)), st.integers(1, 10_000)),
        max_size=6,
    )
)
def test_undoing_the_fills_gives_the_book_back(fills):
    undo = {
        OrderType.BUY: OrderType.SELL,
        OrderType.SELL: OrderType.BUY,
        OrderType.OPEN_LONG: OrderType.CLOSE_LONG,
        OrderType.CLOSE_LONG: OrderType.OPEN_LONG,
        OrderType.OPEN_SHORT: OrderType.CLOSE_SHORT,
        OrderType.CLOSE_SHORT: OrderType.OPEN_SHORT,
    }

    def amount(t, n):
        return n * P.venue.spot_lot if t in (OrderType.BUY, OrderType.SELL) else float(n)

    start = Book(cash=1.0, spot_lots=50_000, long_contracts=20_000, short_contracts=30_000)
    there = book_after(start, [(t, amount(t, n)) for t, n in fills], P)
    back = book_after(there, [(undo[t], amount(t, n)) for t, n in fills], P)
    assert back == start
