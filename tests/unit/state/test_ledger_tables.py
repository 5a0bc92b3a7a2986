"""The store's ledger tables: one row per venue record, whatever is read twice."""

from __future__ import annotations

from dataclasses import replace

from adaptive_agent.records import FillRecord, FundingRecord
from adaptive_agent.state.store import StateStore


def fill(tid: str, t: int, fee_usdt: float | None = 0.5, cid: str = "t-a", market: str = "spot"):
    return FillRecord(
        market,
        tid,
        t,
        "9",
        cid,
        "buy",
        0.01,
        20_000.0,
        "maker",
        0.0000025,
        "BTC",
        0.0,
        0.0,
        fee_usdt,
    )


def test_fills_are_recorded_once_per_market_and_trade_id(tmp_path):
    s = StateStore(tmp_path / "s.sqlite")
    a, b = fill("1", 1000), fill("2", 2000)
    assert s.add_fills([a, b]) == [a, b]
    assert s.add_fills([a, replace(b, fee_usdt=9.0), fill("3", 3000)]) == [fill("3", 3000)]
    same_id_other_market = fill("1", 1500, market="futures")
    assert s.add_fills([same_id_other_market]) == [same_id_other_market]
    assert s.fills(0, 2500) == [a, same_id_other_market, b]  # the first reading stands
    assert s.newest_fill_ms("spot") == 3000 and s.newest_fill_ms("futures") == 1500
    s.close()
    reopened = StateStore(tmp_path / "s.sqlite")
    assert reopened.add_fills([a]) == [] and len(reopened.fills(0, 10**6)) == 4
    reopened.close()


def test_fill_fees_sum_per_order_and_an_unpriced_fill_makes_the_order_unpriced(tmp_path):
    s = StateStore(tmp_path / "s.sqlite")
    assert s.newest_fill_ms("spot") is None
    s.add_fills([fill("1", 1, 0.25), fill("2", 2, 0.5), fill("3", 3, None, cid="t-b")])
    assert s.fill_fees(["t-a", "t-b", "t-c"]) == {"t-a": 0.75, "t-b": None}
    s.close()


def test_funding_lines_are_recorded_once_per_key_and_reset_with_the_history(tmp_path):
    s = StateStore(tmp_path / "s.sqlite")
    assert s.newest_funding_ms() is None
    p1 = FundingRecord("11", 28_800_000, -1.5, 998.5, "BTC_USDT", "BTC_USDT")
    p2 = FundingRecord("12", 28_800_000, 2.5, 1001.0, "BTC_USDT", "BTC_USDT")
    assert s.add_funding([p1, p2, p1]) == [p1, p2]
    assert s.add_funding([replace(p1, change_usdt=0.0)]) == []
    assert s.funding_payments(0, 10**9) == [p1, p2]
    assert s.newest_funding_ms() == 28_800_000
    s.add_fills([fill("1", 1)])
    s.reset_trading_history()
    assert s.funding_payments(0, 10**9) == [] and s.fills(0, 10**9) == []
    s.close()
