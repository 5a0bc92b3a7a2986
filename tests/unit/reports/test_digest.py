"""Daily digest: numbers checked against values computed here from a synthetic day.

Bars are stamped with their close: UTC day D owns the closes in (D 00:00, D+1 00:00], so its
288 bars close at 00:05 ... 24:00 and the close at exactly D 00:00 is the previous day's last.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from adaptive_agent.core.time_rules import BAR_MS, DAY_MS, HOUR_MS
from adaptive_agent.records import BarSnapshot, TradeRecord
from adaptive_agent.reports.digest import (
    build_digest,
    day_bounds,
    format_digest,
    funding_settlements,
    previous_utc_day,
    utc_day,
    write_digest,
)
from adaptive_agent.state.store import StateStore

DAY = date(2025, 6, 2)
START = int(datetime(2025, 6, 2, tzinfo=UTC).timestamp() * 1000)
END = START + DAY_MS  # 2025-06-03 00:00: the close of the bar opened 2025-06-02 23:55


def snap(t: int, nav: float, **kw) -> BarSnapshot:
    b = BarSnapshot(
        time_ms=t,
        nav=nav,
        price_ref=60_000.0,
        basis=0.0005,
        w_spot=0.5,
        w_long=0.0,
        w_short=0.5,
        delta_usdt=0.0,
        delta_frac=0.0,
        margin_frac=0.17,
        safe_mode=False,
    )
    return replace(b, **kw)


def fill(t: int, cid: str, rid: str, side: str, size: float, price: float, ref: float, fee: float):
    return TradeRecord(t, rid, cid, "BTC_SPOT", "spot", side, size, price, ref, fee, "taker")


def synthetic_day(store: StateStore) -> dict:
    rng = np.random.default_rng(7)
    prev = [10_000.0, 10_010.0, 10_020.0]
    # closes 23:50, 23:55 and 24:00 (= START) of the previous day: the last one is its close and
    # its hour-0 funding settlement (rate 0.0003), neither of which is this day's
    for i, nav in enumerate(prev):
        store.add_bar(snap(START - (2 - i) * BAR_MS, nav, funding_rate=0.0003))
    navs = 10_020.0 * np.exp(np.cumsum(rng.normal(0, 0.0004, 288)))
    # the rates read at 07:55, 15:55 and 23:55 are settled at 08:00, 16:00 and 24:00; the rate
    # read at a settlement's own close (0.00005 here) is already the next period's
    rates = {94: -0.0001, 190: 0.0004, 286: 0.0002}
    for i, nav in enumerate(navs):  # closes 00:05 ... 24:00
        store.add_bar(
            snap(
                START + (i + 1) * BAR_MS,
                float(nav),
                funding_rate=rates.get(i, 0.00005),
                w_long=0.1 if i == 191 else 0.0,
                safe_mode=i in (50, 51),
            )
        )
    trades = [
        fill(START + 10 * BAR_MS, "c1", "r1", "buy", 0.010, 60_030.0, 60_000.0, 0.60),
        fill(START + 10 * BAR_MS, "c2", "r1", "sell", 0.020, 59_950.0, 60_000.0, 0.30),
        fill(START + 100 * BAR_MS, "c3", "r2", "buy", 0.005, 60_010.0, 60_020.0, 0.90),
        fill(START + 100 * BAR_MS, "c4", "r2", "sell", 0.050, 60_100.0, 60_000.0, 0.05),
        fill(START + 200 * BAR_MS, "c5", "r2", "buy", 0.001, 60_500.0, 60_000.0, 0.01),
    ]
    store.add_trades(trades)
    # outside the day: must not count (exactly 00:00 is the previous day's, 24:05 the next's)
    store.add_trades([fill(START, "old", "r0", "buy", 1.0, 60_000.0, 59_000.0, 99.0)])
    store.add_trades([fill(END + BAR_MS, "new", "r9", "buy", 1.0, 6e4, 5.9e4, 99.0)])
    store.begin_rebalance("r0", START, {"orders": 1}, [], START)
    store.begin_rebalance("r9", END + BAR_MS, {"orders": 1}, [], END + BAR_MS)
    # a rebalance decided this day whose orders were all blocked (no fills): still a rebalance
    store.begin_rebalance("r3", START + 150 * BAR_MS, {"orders": 0}, [], START + 150 * BAR_MS)
    store.begin_rebalance("r1", START + 10 * BAR_MS, {"orders": 2}, [], START + 10 * BAR_MS)
    return {"navs": navs, "prev_close": prev[-1], "trades": trades, "rates": rates}


def test_digest_numbers_match_an_independent_computation(store) -> None:
    data = synthetic_day(store)
    d = build_digest(store, DAY)
    navs = data["navs"]

    assert d.has_data and d.bars == 288 and d.trades == 5
    assert d.roi_basis == "prev_day_close"
    assert d.roi == pytest.approx(navs[-1] / 10_020.0 - 1.0, rel=1e-12)
    notional = 0.010 * 60_030 + 0.020 * 59_950 + 0.005 * 60_010 + 0.050 * 60_100 + 0.001 * 60_500
    assert d.notional_usdt == pytest.approx(notional)
    assert d.turnover == pytest.approx(notional / navs.mean(), rel=1e-12)
    assert d.fees_usdt == pytest.approx(0.60 + 0.30 + 0.90 + 0.05 + 0.01)
    assert d.fees_nav == pytest.approx(1.86 / navs.mean(), rel=1e-12)
    # cost = fee + slippage against P_ref (buy above / sell below it costs)
    costs = {
        "c1": 0.60 + 0.010 * 30,  # 0.90
        "c2": 0.30 + 0.020 * 50,  # 1.30
        "c3": 0.90 - 0.005 * 10,  # 0.85
        "c4": 0.05 - 0.050 * 100,  # -4.95 (sold above P_ref: a gain)
        "c5": 0.01 + 0.001 * 500,  # 0.51
    }
    assert [t.client_id for t in d.top_trades] == ["c2", "c1", "c3"]
    for t in d.top_trades:
        assert t.cost_usdt == pytest.approx(costs[t.client_id])
    assert d.slippage_usdt == pytest.approx(sum(costs.values()) - 1.86)
    # funding paid to the book at 08, 16 and 24 UTC: rate x (w_short - w_long) x NAV, the
    # book at the settlement's close, the rate read before it
    expected_funding = (
        -0.0001 * 0.5 * navs[95] + 0.0004 * (0.5 - 0.1) * navs[191] + 0.0002 * 0.5 * navs[287]
    )
    assert d.funding_settlements == 3
    assert d.funding_usdt == pytest.approx(expected_funding, rel=1e-12)
    assert d.rebalances == 3  # r1, r2 (fills) and r3 (decided, all blocked)
    assert d.safe_mode_bars == 2

    text = format_digest(d)
    assert text.startswith("Daily digest 2025-06-02 (UTC)")
    assert f"ROI: {d.roi:+.3%}" in text
    assert "Turnover:" in text and "Costliest trades" in text
    lines = text.splitlines()
    top_lines = [ln for ln in lines if ln[:2] in ("1.", "2.", "3.")]
    assert len(top_lines) == 3 and "1.3000 USDT" in top_lines[0]
    assert len(text) < 4096


def test_write_digest_files_are_complete_and_atomic(store, tmp_path) -> None:
    synthetic_day(store)
    d = build_digest(store, DAY)
    out = tmp_path / "reports" / "daily"
    md, js = write_digest(d, out)
    assert md.name == "digest-2025-06-02.md" and js.name == "digest-2025-06-02.json"
    obj = json.loads(js.read_text())
    assert obj["day"] == "2025-06-02"
    assert obj["roi"] == pytest.approx(d.roi)
    assert obj["turnover"] == pytest.approx(d.turnover)
    assert [t["client_id"] for t in obj["top_trades"]] == ["c2", "c1", "c3"]
    assert md.read_text().startswith("# Daily digest 2025-06-02")
    assert sorted(p.name for p in out.iterdir()) == sorted([md.name, js.name])  # no temp files left
    write_digest(d, out)  # overwrite in place
    assert sorted(p.name for p in out.iterdir()) == sorted([md.name, js.name])


def test_day_without_data(store, tmp_path) -> None:
    d = build_digest(store, DAY)
    assert not d.has_data and d.roi is None and d.top_trades == ()
    assert "No data for this day" in format_digest(d)
    md, js = write_digest(d, tmp_path)
    assert json.loads(js.read_text())["has_data"] is False
    assert "No data" in md.read_text()


def test_roi_basis_without_a_previous_day(store) -> None:
    for i, nav in enumerate([1_000.0, 1_010.0, 1_030.0]):  # closes 00:05, 00:10, 00:15
        store.add_bar(snap(START + (i + 1) * BAR_MS, nav))
    d = build_digest(store, DAY)
    assert d.roi_basis == "first_bar" and d.roi == pytest.approx(0.03)
    d0 = build_digest(store, DAY, nav0=1_025.0)
    assert d0.roi_basis == "nav0" and d0.roi == pytest.approx(1_030 / 1_025 - 1)
    assert d.turnover == 0.0 and d.fees_usdt == 0.0 and d.funding_usdt is None
    assert "No trades." in format_digest(d)


def test_trades_without_bars(store) -> None:
    store.add_trades([fill(START + BAR_MS, "c1", "r1", "buy", 0.01, 60_010.0, 60_000.0, 0.5)])
    d = build_digest(store, DAY)
    assert d.has_data and d.roi is None and d.turnover is None
    assert d.fees_usdt == pytest.approx(0.5)
    text = format_digest(d)
    assert "ROI: n/a" in text and "Turnover: n/a" in text


def test_scheduler_helpers() -> None:
    assert previous_utc_day(START + 5) == date(2025, 6, 1)
    assert previous_utc_day(END) == DAY
    # the close at exactly midnight completes the day before it; a moment earlier it is not done
    assert previous_utc_day(START) == date(2025, 6, 1)
    assert previous_utc_day(START - 1) == date(2025, 5, 31)
    assert utc_day(END) == DAY  # the day that midnight ends


def test_day_owns_the_closes_after_its_midnight_up_to_the_next() -> None:
    assert day_bounds(DAY) == (START + 1, END + 1)  # [lo, hi) = (00:00, 24:00]
    assert utc_day(START) == date(2025, 6, 1)
    assert utc_day(START + 1) == utc_day(START + BAR_MS) == DAY
    assert utc_day(END) == DAY and utc_day(END + 1) == date(2025, 6, 3)
    assert funding_settlements(DAY, (0, 8, 16)) == [START + 8 * HOUR_MS, START + 16 * HOUR_MS, END]
    assert funding_settlements(DAY, (0, 12)) == [START + 12 * HOUR_MS, END]


def test_a_close_at_midnight_is_the_last_bar_of_the_day_it_ends(store) -> None:
    store.add_bar(snap(START, 1_000.0))  # 06-02 00:00: the last close of 06-01
    for i in range(287):  # 00:05 ... 23:55 (the rate read at 23:55 is settled at 24:00)
        rate = 0.0001 if i == 286 else None
        store.add_bar(snap(START + (i + 1) * BAR_MS, 1_000.0 + (i % 3), funding_rate=rate))
    # 06-03 00:00: 06-02's last close; its rate is the next settlement's
    store.add_bar(snap(END, 1_050.0, funding_rate=0.0009))
    store.add_bar(snap(END + BAR_MS, 1_060.0))  # 06-03 00:05
    store.add_trades([fill(END, "m1", "rm", "buy", 0.01, 60_010.0, 60_000.0, 0.5)])
    store.begin_rebalance("rm", END, {"orders": 1}, [], END)

    d = build_digest(store, DAY)
    day_navs = [1_000.0 + (i % 3) for i in range(287)] + [1_050.0]
    assert d.bars == 288 and d.nav_end == 1_050.0  # the 00:00 close is the day's end NAV
    assert d.roi_basis == "prev_day_close" and d.nav_start == 1_000.0
    assert d.roi == pytest.approx(1_050.0 / 1_000.0 - 1.0, rel=1e-12)
    assert d.mean_nav == pytest.approx(float(np.mean(day_navs)), rel=1e-12)
    assert d.trades == 1 and d.fees_usdt == pytest.approx(0.5) and d.rebalances == 1
    assert d.turnover == pytest.approx(0.01 * 60_010.0 / np.mean(day_navs), rel=1e-12)
    assert d.funding_settlements == 1  # the hour-0 settlement at 24:00 is this day's
    assert d.funding_usdt == pytest.approx(0.0001 * 0.5 * 1_050.0, rel=1e-12)

    nxt = build_digest(store, DAY + timedelta(days=1))
    assert nxt.bars == 1 and nxt.trades == 0 and nxt.rebalances == 0
    assert nxt.roi_basis == "prev_day_close" and nxt.nav_start == 1_050.0
    assert nxt.nav_end == 1_060.0 and nxt.roi == pytest.approx(1_060.0 / 1_050.0 - 1.0)
    assert nxt.funding_usdt is None and nxt.funding_settlements == 0

    before = build_digest(store, DAY - timedelta(days=1))  # owns only the close at START
    assert before.bars == 1 and before.nav_end == 1_000.0 and before.roi_basis == "first_bar"


def test_the_digest_reads_only_its_days_rebalances(store, monkeypatch) -> None:
    """A long-running agent builds a digest every day: reading every rebalance ever stored
    (with its plan) each time made its memory grow with its age (issue 9)."""
    synthetic_day(store)
    for k in range(200):  # earlier days: none of them is this day's
        t = START - (k + 1) * HOUR_MS
        store.begin_rebalance(f"old{k}", t, {"orders": 1}, [], t)
    read: list[int] = []
    full = store.rebalance_ids

    def spy(*args):
        rows = full(*args)
        read.append(len(rows))
        return rows

    monkeypatch.setattr(store, "rebalance_ids", spy)
    assert build_digest(store, DAY).rebalances == 3
    assert read == [2]  # r3 and r1, decided this day; r2 counts through its fills
