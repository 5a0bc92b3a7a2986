"""A long-running simulator keeps only the newest ``history_max`` finished records per kind."""

from __future__ import annotations

import pytest

from adaptive_agent.sim.retention import HISTORY_MAX, check_history_max
from tests.support.sim_market import label_of, make

KEEP = 20


def trade_many(m, rounds: int) -> None:
    """Each round: a filled spot buy and sell, a filled futures open and close (fee and pnl
    book lines), a futures order rested and cancelled (zero fill), and a wallet transfer."""
    for i in range(rounds):
        m.place("spot", "buy", 50.0, None, text=f"t-sb{i}")
        m.place("spot", "sell", 0.0005, None, text=f"t-ss{i}")
        m.place("futures", "buy", 2, None, text=f"t-fo{i}")
        m.place("futures", "sell", -2, None, reduce_only=True, text=f"t-fc{i}")
        rest = m.place("futures", "buy", 1, m.top("futures")[0] - 500, text=f"t-fr{i}")
        m.cancel("futures", rest.id)
        m.wallets.transfer("USDT", "spot", "futures", 1.0, "usdt", m.now_ms)
        if i % 10 == 0:
            m.advance()


def test_finished_records_stay_bounded_over_many_rounds(path):
    m = make(path, history_max=KEEP, usdt=1_000_000.0)
    resting = m.place("futures", "buy", 1, m.top("futures")[0] - 900, text="t-keep")
    trade_many(m, 200)  # 200 spot and 600 futures orders finish: far more than KEEP
    for market in ("spot", "futures"):
        assert len(m.order_history(market)) == KEEP
        assert len(m.my_trades(market)) == KEEP
        idx = m._index
        assert len(idx.orders[market]) == KEEP + len(idx.open[market])  # ids of evicted: gone
        assert len(idx.texts[market]) <= KEEP + len(idx.open[market])
    assert len(m.account_book()) == KEEP
    assert len(m.wallets.records) == KEEP
    # the newest are the ones kept, newest first in the order history, oldest first in fills
    assert m.order_history("futures")[0].text == "t-fr199"
    assert m.my_trades("spot")[-1].text == "t-ss199"
    # an evicted order is gone as one past Gate's window is; an open order is never evicted
    first = m.my_trades("spot")[0].order_id
    assert m.get_order("spot", first).text.startswith("t-s")
    assert label_of(lambda: m.get_order("futures", "1000001")) == "ORDER_NOT_FOUND"
    assert m.get_order("futures", "t-keep") is resting
    # sums over the whole run are kept, not recomputed from the book
    assert m.futures_account()["history"]["dnw"] == pytest.approx(1_000_000.0 + 200.0)


def test_the_default_bound_and_its_checks(path):
    assert make(path)._index.history_max == HISTORY_MAX
    for bad in (0, -1, 1.5, True, "10"):
        with pytest.raises(ValueError, match="history_max"):
            check_history_max(bad)
    with pytest.raises(ValueError, match="history_max"):
        make(path, history_max=0)
