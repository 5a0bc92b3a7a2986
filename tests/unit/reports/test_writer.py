"""Report files (docs/rules.md, Reports): columns, consistency with the run, the offline
equity page."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

from adaptive_agent.backtest.rebalance_backtester import SUMMARY_COLUMNS, run_backtest
from adaptive_agent.reports import writer
from adaptive_agent.reports.equity_html import build_payload
from adaptive_agent.strategies.baseline_signals import ema_crossover_signals
from tests.support.market_data import random_walk


@pytest.fixture(scope="module")
def result(spot, funding):
    c = spot.slice(60_000, 90_000)
    return run_backtest(c, ema_crossover_signals(c), funding)


def read(path):
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_report_files_match_the_run(result, tmp_path):
    writer.write_reports(result, tmp_path, title="t")
    for name in writer.REPORT_FILES:
        assert (tmp_path / name).is_file(), name
    rows = read(tmp_path / "summary.csv")
    assert len(rows) == 1
    assert tuple(rows[0]) == SUMMARY_COLUMNS
    s = rows[0]
    assert s["start"] == writer.iso(int(result.ts_ms[0]))
    assert float(s["roi"]) == pytest.approx(result.summary["roi"], rel=1e-15)
    assert abs(float(s["roi"])) < 1 and 0 <= float(s["max_dd"]) < 1  # fractions, not percent
    assert int(s["rebalances"]) == len(result.rebalances)
    trades = read(tmp_path / "trades.csv")
    assert len(trades) == 2 * int(s["orders"])
    assert {t["liquidity"] for t in trades} == {"maker", "taker"}
    assert sum(float(t["fee"]) for t in trades) == pytest.approx(float(s["fees_usdt"]))
    blocked = read(tmp_path / "blocked_trades_log.csv")
    assert sum(1 for b in blocked if b["gate"] == "signal") == int(s["blocked_orders"]) > 0
    for b in blocked:
        assert b["signal"] in ("BUY", "SELL") and b["reason"].startswith("signal " + b["signal"])
    skipped = read(tmp_path / "skipped_orders.csv")
    assert all(b["gate"] == "minimum" and float(b["notional"]) < 3 for b in skipped)
    assert (tmp_path / "summary.csv").read_text().count("\n") == 2


def test_equity_page_is_offline_and_carries_every_marker(result, tmp_path):
    writer.write_reports(result, tmp_path, title="<x>")
    page = (tmp_path / "equity.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched
    assert "&lt;x>" in page
    data = json.loads(
        re.search(r'<script id="payload" type="application/json">(.*?)</script>', page, re.S).group(
            1
        )
    )
    assert len(data["reb"]) + len(data["blk"]) >= len(result.rebalances)
    blocked_rebalances = sum(1 for r in result.rebalances if r.plan.blocked)
    assert len(data["blk"]) == blocked_rebalances
    assert len(data["x"]) <= 3_002 and len(data["x"]) == len(data["nav"]) == len(data["dd"])
    assert max(data["dd"]) <= 0.0


def test_downsampling_keeps_extremes():
    c = random_walk(8, 120_000)
    res = run_backtest(c)
    data = build_payload(res, "t")
    assert max(data["nav"]) == pytest.approx(float(np.max(res.nav)), abs=0.01)
    assert min(data["nav"]) == pytest.approx(float(np.min(res.nav)), abs=0.01)
    assert data["x"] == sorted(data["x"])


def test_four_years_page_stays_light(tmp_path):
    res = run_backtest(random_walk(2, 4 * 365 * 288, vol=0.002))
    path = tmp_path / "equity.html"
    from adaptive_agent.reports.equity_html import write_equity_html

    write_equity_html(res, path)
    assert path.stat().st_size <= 5 * 1024 * 1024


def test_no_partial_report_when_writing_fails(result, tmp_path, monkeypatch):
    import adaptive_agent.reports.equity_html as eq

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(eq, "write_equity_html", boom)
    with pytest.raises(OSError):
        writer.write_reports(result, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_no_html_removes_a_stale_page(result, tmp_path):
    writer.write_reports(result, tmp_path)
    writer.write_reports(result, tmp_path, html=False)
    assert not (tmp_path / "equity.html").exists()


def test_summary_table_lists_every_figure(result):
    text = writer.format_summary(result)
    for label in (
        "ROI",
        "Sharpe",
        "max drawdown",
        "fees / NAV / day",
        "turnover",
        "funding PnL",
        "rebalances",
        "maker share",
    ):
        assert label in text
