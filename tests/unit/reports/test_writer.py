"""Report files (docs/rules.md, Reports): columns, consistency with the run, the offline
equity page."""

from __future__ import annotations

import base64
import csv
import json
import re
import zlib

import numpy as np
import pytest

from adaptive_agent.backtest.rebalance_backtester import SUMMARY_COLUMNS, run_backtest
from adaptive_agent.core.time_rules import BAR_MS, iso_text
from adaptive_agent.reports import writer
from adaptive_agent.reports.equity_html import _fmt, headline, render_page, write_equity_html
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
    assert s["start"] == iso_text(int(result.ts_ms[0]))
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


def decode(page: str) -> tuple[dict, dict[str, np.ndarray]]:
    """The page's embedded curves, read back the way its script reads them."""
    index = json.loads(
        re.search(r'<script id="index" type="application/json">(.*?)</script>', page).group(1)
    )
    blob = re.search(r'<script id="blob" type="text/plain">(.*?)</script>', page).group(1)
    ints = np.frombuffer(zlib.decompress(base64.b64decode(blob)), dtype="<i4").astype(np.int64)
    n = index["n"]
    out = {"close_ms": (index["t0"] + np.cumsum(ints[:n])) * 60_000}
    for j, c in enumerate(index["cols"], 1):
        out[c["key"]] = (c["base"] + np.cumsum(ints[j * n : (j + 1) * n])) / 10.0 ** c["digits"]
    off = n * (len(index["cols"]) + 1)
    for key in ("reb", "blk"):
        m, first = index[key]
        out[key] = first + np.cumsum(ints[off : off + m])
        off += m
    assert off == len(ints)
    return index, out


def test_equity_page_is_offline_and_carries_every_bar_and_marker(result, tmp_path):
    writer.write_reports(result, tmp_path, title="<x>")
    page = (tmp_path / "equity.html").read_text()
    assert not re.search(r"""(src|href)\s*=""", page)  # nothing loaded: uPlot is inlined
    assert "uPlot" in page and "<title>&lt;x&gt;</title>" in page
    index, data = decode(page)
    assert index["n"] == len(result.nav)  # full resolution: the page picks its level of detail
    assert np.array_equal(data["close_ms"], result.ts_ms + BAR_MS)
    assert np.array_equal(data["nav"], np.round(result.nav, 2))
    assert np.array_equal(data["price"], np.round(result.price, 2))
    assert np.allclose(data["ws"], result.w_spot * 100, rtol=0, atol=0.5e-4)
    assert np.allclose(data["delta"], result.delta_frac * 100, rtol=0, atol=0.5e-5)
    assert data["dd"].max() <= 0.0
    assert data["fees"][-1] == pytest.approx(result.summary["fees_usdt"], abs=0.005)
    assert data["funding"][-1] == pytest.approx(result.summary["funding_pnl"], abs=0.005)
    blocked = [r for r in result.rebalances if r.plan.blocked]
    assert len(data["blk"]) == len(blocked) > 0
    assert len(data["reb"]) + len(data["blk"]) >= len(result.rebalances)
    # each marker is the bar its decision closed
    closes = (result.ts_ms + BAR_MS).tolist()
    assert [closes[i] for i in data["blk"]] == [r.plan.time_ms for r in blocked]


def test_cumulative_fees_step_at_the_bar_each_fill_is_in(result, tmp_path):
    page = render_page(result, "t")
    _, data = decode(page)
    f = result.fills[0]
    i = int(np.searchsorted(result.ts_ms, f.time_ms))
    first = sum(g.fee for g in result.fills if g.time_ms == f.time_ms)
    assert data["fees"][i - 1] == 0.0 and data["fees"][i] == pytest.approx(first, abs=0.005)


def test_a_paper_result_without_price_or_funding_still_charts():
    res = run_backtest(random_walk(3, 3_000))
    res.price = res.funding_cum = None
    _, data = decode(render_page(res, "paper"))
    assert "price" not in data and "funding" not in data and len(data["nav"]) == 3_000


def test_sections_follow_the_charts_and_titles_are_escaped(result):
    page = render_page(
        result, "t", [("Monthly <returns>", "<table><tr><td>1.00</td></tr></table>")]
    )
    assert page.index('id="charts"') < page.index("<h2>Monthly &lt;returns&gt;</h2>")
    assert "<table><tr><td>1.00</td></tr></table>" in page


def test_headline_has_thousands_separators_and_no_negative_zero(result):
    line = headline(result)
    assert re.search(r"NAV 100,000\.00 → \d{2,3},\d{3}\.\d\d USDT", line), line
    assert "rebalances " in line and "with a fill)" in line
    assert _fmt(-0.0004, 3) == "0.000" and _fmt(-1234.5, 1) == "-1,234.5"
    assert _fmt(float("nan"), 2) == "n/a"


def test_a_curve_that_is_not_finite_is_refused():
    res = run_backtest(random_walk(4, 500))
    res.nav = res.nav.copy()
    res.nav[7] = np.nan
    with pytest.raises(ValueError, match="nav"):
        render_page(res, "t")


def test_a_nav_jump_too_big_to_encode_is_refused():
    res = run_backtest(random_walk(4, 500))
    res.nav = res.nav.copy()
    res.nav[9:] += 30e6  # 3e9 cents in one bar: beyond Int32
    with pytest.raises(ValueError, match="nav moves too far"):
        render_page(res, "t")


def test_a_run_without_rebalances_has_no_markers():
    res = run_backtest(random_walk(4, 500))
    res.rebalances = []
    _, data = decode(render_page(res, "t"))
    assert len(data["reb"]) == len(data["blk"]) == 0


def test_four_years_page_stays_under_20_mb(tmp_path):
    res = run_backtest(random_walk(2, 4 * 365 * 288, vol=0.002))
    path = tmp_path / "equity.html"
    write_equity_html(res, path)
    assert path.stat().st_size < 20 * 1024 * 1024


def test_no_partial_report_when_writing_fails(result, tmp_path, monkeypatch):
    import adaptive_agent.reports.equity_html as eq

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(eq, "write_equity_html", boom)
    with pytest.raises(OSError):
        writer.write_reports(result, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("failing", ["write_equity_csv", "write_monthly_returns"])
def test_no_partial_report_when_a_file_beside_equity_csv_fails(
    result, tmp_path, monkeypatch, failing
):
    """equity.csv is written in a thread beside the other files: a failure of either side
    leaves no file behind, and the other side is finished before the folder is cleaned."""
    real = writer.write_equity_csv
    finished = []

    def slow_equity(res, path):
        real(res, path)
        finished.append(path.exists())

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(writer, "write_equity_csv", slow_equity)
    monkeypatch.setattr(writer, failing, boom)
    with pytest.raises(OSError, match="disk full"):
        writer.write_reports(result, tmp_path / "out", html=False)
    assert list((tmp_path / "out").iterdir()) == []
    # the equity writer, when it ran, had finished its file before the folder was cleaned
    assert finished == ([] if failing == "write_equity_csv" else [True])


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


def test_the_equity_page_shows_the_monthly_table_and_the_attribution(tmp_path):
    """Issue 10: the monthly table and the attribution below the charts, from the same
    figures as monthly_returns.csv and summary.csv."""
    from adaptive_agent.reports.writer import monthly_table, report_sections, write_reports
    from tests.support.market_data import random_walk

    result = run_backtest(random_walk(3, 20_000))  # about 70 days: three months
    (monthly_title, monthly), (attr_title, attribution) = report_sections(result)
    assert monthly_title == "Monthly returns" and attr_title == "Where the money came from"
    for _, row, _total in monthly_table(result):
        for r in row:
            if r is not None:
                assert f"{r * 100:,.2f} %" in monthly or f"{0.0:,.2f} %" in monthly
    assert f"{result.summary['pnl_total']:,.2f} USDT" in attribution
    assert "-0.00" not in attribution and "BTC bought at the start and held" in attribution
    write_reports(result, tmp_path)
    page = (tmp_path / "equity.html").read_text()
    assert "Monthly returns" in page and "Where the money came from" in page
