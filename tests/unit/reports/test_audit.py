"""Daily audit: KPIs vs targets, proposals, and a Log.xlsx that never loses rows.

Bars are stamped with their close: UTC day D owns the closes in (D 00:00, D+1 00:00].
"""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from openpyxl import Workbook, load_workbook

from adaptive_agent.config import AppConfig
from adaptive_agent.monitoring.events import BarSnapshot, TradeRecord
from adaptive_agent.reports import audit as audit_mod
from adaptive_agent.reports.audit import LOG_COLUMNS, daily_returns, run_audit
from adaptive_agent.state.store import StateStore

DAY = date(2025, 6, 30)
DAY_MS = 86_400_000
START = int(datetime(2025, 6, 30, tzinfo=UTC).timestamp() * 1000)
HOUR = 3_600_000


def snap(t: int, nav: float, **kw) -> BarSnapshot:
    b = BarSnapshot(t, nav, 60_000.0, 0.0, 0.5, 0.0, 0.5, 0.0, 0.0, 0.17, False)
    return replace(b, **kw)


@pytest.fixture
def store(tmp_path):
    s = StateStore(tmp_path / "state.db")
    yield s
    s.close()


def history(store: StateStore, daily_returns: list[float], intraday=None, fee: float = 5.0):
    """Days ending with DAY: 4 bars a day (closes 06:00, 12:00, 18:00 and 24:00, the day's
    last), closes following the returns."""
    n = len(daily_returns)
    nav = 10_000.0
    closes = []
    for k in range(n + 1):
        day_start = START - (n - k) * DAY_MS
        target = nav if k == 0 else nav * (1 + daily_returns[k - 1])
        path = [nav, (nav + target) / 2, (nav + target) / 2, target]
        if k == n and intraday is not None:
            path = [target * f for f in intraday]
            target = path[-1]
        for j, v in enumerate(path):
            store.add_bar(snap(day_start + ((j + 1) * 6) * HOUR, v))
        nav = target
        closes.append(target)
    store.add_trades(
        [TradeRecord(START + HOUR, "r1", "c1", "BTC_SPOT", "spot", "buy", 0.01, 6e4, 6e4, fee, "m")]
    )
    return closes


def good_returns(n: int = 35) -> list[float]:
    return [0.001 + 0.0005 * (-1) ** i for i in range(n)]


def np_sharpe(closes: list[float]) -> float:
    c = np.asarray(closes[-31:])
    r = c[1:] / c[:-1] - 1
    return float(r.mean() / r.std(ddof=1) * math.sqrt(365))


def day_navs(store) -> list[float]:
    """DAY's bar NAVs: closes in (DAY 00:00, DAY+1 00:00]."""
    navs = [b.nav for b in store.bars(START + 1, START + DAY_MS + 1)]
    assert len(navs) == 4
    return navs


def test_within_targets_writes_nothing(store, tmp_path) -> None:
    closes = history(store, good_returns(), fee=5.0)  # 5 USDT on ~10k: 0.05% < 0.28%
    out = tmp_path / "audit"
    r = run_audit(store, AppConfig(), DAY, out)
    assert r.flagged == () and r.ok
    assert r.kpis["sharpe"] == pytest.approx(np_sharpe(closes), rel=1e-9)
    assert r.n_returns == 30  # the 30 returns ending with DAY, not all 35
    navs = day_navs(store)
    assert r.kpis["fees_nav"] == pytest.approx(5.0 / np.mean(navs), rel=1e-12)
    assert r.proposal_path is None and r.log_path is None
    assert not out.exists() or list(out.iterdir()) == []


def test_fees_over_target_proposes_and_logs(store, tmp_path) -> None:
    history(store, good_returns(), fee=50.0)  # ~0.5% of NAV > 0.28% * 1.05
    cfg = AppConfig()
    r = run_audit(store, cfg, DAY, tmp_path)
    fees_nav = 50.0 / np.mean(day_navs(store))
    assert r.flagged == ("fees_nav",)
    assert r.deviations["fees_nav"] == pytest.approx(fees_nav / 0.0028 - 1, rel=1e-9)
    params = [(p.parameter, p.direction) for p in r.proposals]
    assert ("strategy.threshold_floor", "increase") in params
    proposal = (tmp_path / "proposal-2025-06-30.md").read_text()
    assert r.proposal_path == tmp_path / "proposal-2025-06-30.md"
    assert "strategy.threshold_floor" in proposal and "increase" in proposal and "Why:" in proposal
    assert "Nothing has been changed" in proposal
    assert r.log_path == tmp_path / "Log.xlsx" and r.log_error is None
    wb = load_workbook(tmp_path / "Log.xlsx")
    rows = list(wb["audit"].iter_rows(values_only=True))
    assert rows[0] == LOG_COLUMNS and len(rows) == 2
    row = dict(zip(LOG_COLUMNS, rows[1], strict=True))
    assert row["date"] == "2025-06-30" and row["flagged"] == "fees_nav"
    assert row["fees_nav"] == pytest.approx(fees_nav) and row["target_fees_nav"] == 0.0028
    assert "threshold_floor" in row["proposal"]
    wb.close()


def test_just_within_five_percent_is_not_flagged(store, tmp_path) -> None:
    history(store, good_returns(), fee=0.0)
    mean_nav = float(np.mean(day_navs(store)))
    fee = 0.0028 * 1.049 * mean_nav  # 4.9% over the target
    store.add_trades(
        [TradeRecord(START + 2 * HOUR, "r2", "c2", "BTC_SPOT", "spot", "buy", 0.01, 6e4, 6e4,
                     fee, "taker")]
    )  # fmt: skip
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert r.deviations["fees_nav"] == pytest.approx(0.049, rel=1e-6)
    assert r.flagged == () and not (tmp_path / "Log.xlsx").exists()


def test_sharpe_below_and_drawdown_above_target(store, tmp_path) -> None:
    rets = [-0.002 + 0.001 * (-1) ** i for i in range(35)]
    closes = history(store, rets, intraday=[1.0, 0.80, 0.85, 0.9], fee=1.0)
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert r.kpis["sharpe"] == pytest.approx(np_sharpe(closes), rel=1e-9)
    navs = day_navs(store)
    peak = np.maximum.accumulate(navs)
    assert r.kpis["max_dd"] == pytest.approx(float(np.max(1 - navs / peak)), rel=1e-12)
    assert r.kpis["max_dd"] == pytest.approx(0.20)
    assert set(r.flagged) == {"sharpe", "max_dd"}
    assert r.deviations["max_dd"] == pytest.approx(0.20 / 0.137 - 1)
    assert r.deviations["sharpe"] == pytest.approx((1.34 - r.kpis["sharpe"]) / 1.34)
    kpis = {p.kpi for p in r.proposals}
    assert kpis == {"sharpe", "max_dd"}
    assert any(p.parameter == "strategy.targets" and p.kpi == "max_dd" for p in r.proposals)


def test_day_max_drawdown_includes_the_midnight_close_that_ends_it(store, tmp_path) -> None:
    store.add_bar(snap(START, 12_000.0))  # 06-30 00:00: the last close of 06-29, not DAY's
    for j, v in enumerate([10_000.0, 10_200.0, 10_100.0]):  # closes 06:00, 12:00, 18:00
        store.add_bar(snap(START + (j + 1) * 6 * HOUR, v))
    store.add_bar(snap(START + DAY_MS, 8_160.0))  # 07-01 00:00: DAY's last close
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    navs = np.array([10_000.0, 10_200.0, 10_100.0, 8_160.0])
    expected = float(np.max(1 - navs / np.maximum.accumulate(navs)))
    assert expected == pytest.approx(0.20)
    assert r.kpis["max_dd"] == pytest.approx(expected, rel=1e-12)  # not 1 - 10_000 / 12_000
    assert "max_dd" in r.flagged
    # DAY's close is the 00:00 one: one daily return, 06-29's close to DAY's
    assert daily_returns(store, DAY) == [pytest.approx(8_160.0 / 12_000.0 - 1.0, rel=1e-12)]
    assert r.n_returns == 1 and r.kpis["sharpe"] is None
    # and the next day owns none of these closes
    nxt = run_audit(store, AppConfig(), DAY + timedelta(days=1), tmp_path / "next")
    assert nxt.kpis["max_dd"] is None and "no bars recorded for this day" in nxt.notes


def test_sharpe_undefined_with_fewer_than_two_returns(store, tmp_path) -> None:
    history(store, [0.001], fee=1.0)
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert r.kpis["sharpe"] is None and r.deviations["sharpe"] is None and r.n_returns == 1
    assert "sharpe" not in r.flagged


def test_empty_day(store, tmp_path) -> None:
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert r.kpis == {"sharpe": None, "max_dd": None, "fees_nav": None} and r.flagged == ()
    assert "no bars recorded for this day" in r.notes


def make_existing_log(path) -> list[tuple]:
    wb = Workbook()
    ws = wb.active
    ws.title = "audit"
    ws.append(list(LOG_COLUMNS))
    old = []
    for i in range(3):
        row = [f"2025-06-0{i + 1}", "2025-06-01T00:00:00Z", 1.0 + i, 0.01, 0.004, 1.34, 0.137,
               0.0028, 0.1, 0.0, 0.4, "fees_nav", f"old proposal {i}"]  # fmt: skip
        ws.append(row)
        old.append(tuple(row))
    notes = wb.create_sheet("notes")
    notes["A1"] = "hand-written note"
    notes["B2"] = "=1+1"
    wb.save(path)
    wb.close()
    return old


def test_append_keeps_every_existing_row(store, tmp_path) -> None:
    old = make_existing_log(tmp_path / "Log.xlsx")
    history(store, good_returns(), fee=50.0)
    r1 = run_audit(store, AppConfig(), DAY, tmp_path)
    r2 = run_audit(store, AppConfig(), DAY, tmp_path)  # a second run appends again
    assert r1.log_error is None and r2.log_error is None
    wb = load_workbook(tmp_path / "Log.xlsx")
    rows = list(wb["audit"].iter_rows(values_only=True))
    assert rows[0] == LOG_COLUMNS
    assert rows[1:4] == old
    assert len(rows) == 6 and rows[4][0] == rows[5][0] == "2025-06-30"
    assert wb["notes"]["A1"].value == "hand-written note" and wb["notes"]["B2"].value == "=1+1"
    wb.close()
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("state.db"))
    assert names == ["Log.xlsx", "proposal-2025-06-30.md"]  # no temp files left behind


def _csv_rows(path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


def test_corrupt_workbook_is_left_alone_and_row_goes_to_csv(store, tmp_path) -> None:
    garbage = b"PK\x03\x04 this is not really a workbook \x00\xff" * 10
    (tmp_path / "Log.xlsx").write_bytes(garbage)
    history(store, good_returns(), fee=50.0)
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert (tmp_path / "Log.xlsx").read_bytes() == garbage
    assert r.log_path == tmp_path / "Log.csv"
    assert "not a readable workbook" in r.log_error
    run_audit(store, AppConfig(), DAY, tmp_path)
    rows = _csv_rows(tmp_path / "Log.csv")
    assert rows[0] == list(LOG_COLUMNS) and len(rows) == 3  # header once, two rows appended
    assert rows[1][0] == "2025-06-30" and rows[1][LOG_COLUMNS.index("flagged")] == "fees_nav"
    assert (tmp_path / "Log.xlsx").read_bytes() == garbage


def test_locked_workbook_goes_to_csv(store, tmp_path, caplog) -> None:
    make_existing_log(tmp_path / "Log.xlsx")
    before = (tmp_path / "Log.xlsx").read_bytes()
    (tmp_path / "~$Log.xlsx").write_bytes(b"owner")
    history(store, good_returns(), fee=50.0)
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert "locked" in r.log_error and "~$Log.xlsx" in r.log_error
    assert "locked" in caplog.text
    assert (tmp_path / "Log.xlsx").read_bytes() == before
    assert len(_csv_rows(tmp_path / "Log.csv")) == 2


def test_permission_error_counts_as_locked(store, tmp_path, monkeypatch) -> None:
    make_existing_log(tmp_path / "Log.xlsx")
    before = (tmp_path / "Log.xlsx").read_bytes()

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied", str(tmp_path / "Log.xlsx"))

    monkeypatch.setattr(audit_mod, "load_workbook", denied)
    history(store, good_returns(), fee=50.0)
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert "locked" in r.log_error and r.log_path == tmp_path / "Log.csv"
    assert (tmp_path / "Log.xlsx").read_bytes() == before


def test_failed_save_never_replaces_the_workbook(store, tmp_path, monkeypatch) -> None:
    make_existing_log(tmp_path / "Log.xlsx")
    before = (tmp_path / "Log.xlsx").read_bytes()

    def disk_full(self, filename):
        with open(filename, "wb") as fh:
            fh.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Workbook, "save", disk_full)
    history(store, good_returns(), fee=50.0)
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert (tmp_path / "Log.xlsx").read_bytes() == before
    assert r.log_path == tmp_path / "Log.csv" and "No space left" in r.log_error
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []
