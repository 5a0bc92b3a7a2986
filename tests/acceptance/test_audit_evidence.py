"""The audit proposes with evidence (issue 11, item 4): a day whose KPI deviates gets a
proposal with current-vs-proposed figures from a small sweep on the trailing window, and
those figures are a backtest of the proposed settings on that window."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from adaptive_agent.backtest.rebalance_backtester import run_backtest
from adaptive_agent.cli import main
from adaptive_agent.config import AppConfig
from adaptive_agent.core.signals import CODE_OF_NAME, SignalSeries
from adaptive_agent.core.time_rules import BAR_MS, DAY_MS
from adaptive_agent.data import SPOT_5M
from adaptive_agent.io.loaders import FundingSeries, load_candles
from adaptive_agent.reports.audit import run_audit
from adaptive_agent.reports.digest import day_bounds
from adaptive_agent.research.grid import configure
from adaptive_agent.state.store import StateStore

DAY = date(2022, 8, 10)


@pytest.fixture(scope="module")
def paper_state(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evidence")
    state = tmp / "p.sqlite"
    import logging
    import os

    from adaptive_agent.policy.redaction import secret_filter_installed, uninstall_secret_filter

    # a module fixture runs outside conftest's restore_logging: undo what paper installs here
    root = logging.getLogger()
    handlers, level, had_filter = list(root.handlers), root.level, secret_filter_installed()
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        assert main(["paper", "--bars", "3000", "--state", str(state), "--out", "r"]) == 0
    finally:
        os.chdir(cwd)
        for h in list(root.handlers):
            if h not in handlers:
                root.removeHandler(h)
                h.close()
        root.setLevel(level)
        if not had_filter:
            uninstall_secret_filter()
    return state


def test_the_proposal_shows_current_and_proposed_figures(paper_state, tmp_path, capsys):
    assert (
        main(["audit", "--date", str(DAY), "--state", str(paper_state), "--out", str(tmp_path)])
        == 0
    )
    out = capsys.readouterr().out
    assert "evidence (10 d, 45 settings)" in out  # the replay started 10 days before
    text = (tmp_path / f"proposal-{DAY}.md").read_text()
    assert "## Evidence" in text and "| current |" in text and "| proposed |" in text
    (row,) = [r for r in (tmp_path / "Log.xlsx",) if r.exists()]  # the log row has them too
    from openpyxl import load_workbook

    wb = load_workbook(row)
    last = list(wb["audit"].iter_rows(values_only=True))[-1]
    wb.close()
    assert "evidence (10 d" in str(last[-1]) and "vs current" in str(last[-1])


def test_the_proposed_figures_are_a_backtest_of_them_on_the_window(paper_state, tmp_path):
    cfg = AppConfig()
    store = StateStore(paper_state, create=False)
    try:
        result = run_audit(store, cfg, DAY, tmp_path)
        ev = result.evidence
        assert ev is not None and ev.improves and ev.configurations == 45
        end = day_bounds(DAY)[1]
        bars = store.bars(end - cfg.audit.window_days * DAY_MS, end)
    finally:
        store.close()
    # the window's candles straight from the bundled file, not from the state database
    spot = load_candles(SPOT_5M)
    lo = int(np.searchsorted(spot.ts, bars[0].time_ms - BAR_MS))
    candles = spot.slice(lo, lo + len(bars))
    assert [int(t) + BAR_MS for t in candles.ts] == [b.time_ms for b in bars]
    closes = np.array([b.time_ms for b in bars], dtype=np.int64)
    signals = SignalSeries(closes, np.array([CODE_OF_NAME[b.signal] for b in bars], np.int8))
    funding = FundingSeries(
        "bars", closes, np.array([b.funding_rate for b in bars], dtype=np.float64)
    )
    proposed = configure(cfg, ev.point)
    s = run_backtest(candles, signals, funding, config=proposed, nav0=bars[0].nav).summary
    for k in ("sharpe", "max_dd", "fees_nav_per_day", "roi"):
        assert ev.proposed[k] == pytest.approx(s[k], rel=1e-12, abs=1e-15), k
    here = run_backtest(candles, signals, funding, config=cfg, nav0=bars[0].nav).summary
    assert ev.current["sharpe"] == pytest.approx(here["sharpe"], rel=1e-12)
    assert ev.proposed["sharpe"] > ev.current["sharpe"]
