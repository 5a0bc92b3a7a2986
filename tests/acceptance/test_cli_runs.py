"""The command line end to end: paper, live (refusal), safe-mode, digest, audit, health, gate-sim.

Most commands run in process through ``adaptive_agent.cli.main`` with the working directory in
``tmp_path`` (paper writes ``reports/`` and ``state/`` relative to it); exit codes and "no
traceback" are checked once more through a real ``python -m adaptive_agent`` subprocess.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from adaptive_agent.cli import main
from adaptive_agent.core.time_rules import BAR_MS
from adaptive_agent.data import FUNDING_8H, SPOT_5M
from adaptive_agent.io.loaders import load_candles
from adaptive_agent.lifecycle import UNFINISHED
from adaptive_agent.reports.writer import REPORT_FILES
from adaptive_agent.runner import paper as paper_module
from adaptive_agent.state.store import StateStore
from tests.support.market_data import ROOT as REPO_ROOT

ROOT = REPO_ROOT
DAY = "2022-08-01"  # the bundled data starts at 2022-08-01 00:00 UTC


@pytest.fixture()
def markets(monkeypatch):
    """The simulators that paper runs build (to read their order history afterwards)."""
    made = []
    real = paper_module.make_market

    def spy(*args, **kwargs):
        m = real(*args, **kwargs)
        made.append(m)
        return m

    monkeypatch.setattr(paper_module, "make_market", spy)
    return made


def raising(market) -> list[str]:
    """Exposure-raising orders the venue saw: spot buys and opening futures orders."""
    spot = market.order_history("spot") + market.open_orders("spot")
    fut = market.order_history("futures") + market.open_orders("futures")
    return [o.text for o in spot if o.side == "buy"] + [o.text for o in fut if not o.reduce_only]


def read_meta(db: Path, key: str) -> str | None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        row = c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def env_without_gate() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATE_", "ADAPTIVE_AGENT"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.fixture(scope="module")
def bundled_ts():
    return load_candles(SPOT_5M).ts


# --- paper ----------------------------------------------------------------------------------


@pytest.fixture()
def paper_db(tmp_path, monkeypatch, capsys):
    """A 300-bar paper run (25 hours: it crosses 2022-08-02 00:00 UTC) in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    assert main(["paper", "--bars", "300", "--state", "state/p.sqlite"]) == 0
    out = capsys.readouterr().out
    return tmp_path / "state" / "p.sqlite", out


def test_paper_prints_a_summary_and_writes_the_state(paper_db, tmp_path, bundled_ts):
    db, out = paper_db
    m = re.search(r"paper: (\d+) closes, (\d+) rebalances, (\d+) orders, (\d+) blocked", out)
    assert m, out
    closes, rebalances, orders = (int(x) for x in m.groups()[:3])
    assert closes == 300 and rebalances > 0 and orders > 0
    assert "state in state/p.sqlite" in out
    store = StateStore(db)
    try:
        assert 0 < store.rebalance_count() <= rebalances
        assert len(store.bars(0, 2**62)) == 300
        assert store.unfinished_rebalances() == []
        assert store.orders(statuses=UNFINISHED) == []
        assert sum(o.filled for o in store.orders()) > 0
    finally:
        store.close()
    assert read_meta(db, "last_bar_ms") == str(int(bundled_ts[299]) + BAR_MS)
    # the report folder holds the backtest's files and the replay's digests and audits
    (run,) = (tmp_path / "reports").iterdir()
    assert f"reports : reports/{run.name}" in out
    assert {p.name for p in run.iterdir()} >= {*REPORT_FILES, "daily", "run.json", "config.toml"}
    assert (run / "daily" / f"digest-{DAY}.md").is_file()
    # the funding estimate (rate read before each settlement x the book at it) is what the
    # simulated venue paid (it took the rate read at the settlement's close, the next one's)
    digest = json.loads((run / "daily" / f"digest-{DAY}.json").read_text())
    assert digest["funding_settlements"] > 0
    assert digest["funding_usdt"] == pytest.approx(digest["funding_paid_usdt"], rel=1e-9)
    assert not (tmp_path / "reports" / "daily").exists()  # the live agent's folder untouched
    # the run record names the inputs the replay really read (the bundled files here)
    inputs = json.loads((run / "run.json").read_text())["inputs"]
    assert sorted(inputs) == ["candles", "funding"]
    assert Path(inputs["candles"]["path"]) == SPOT_5M.resolve()
    assert Path(inputs["funding"]["path"]) == FUNDING_8H.resolve()


def test_paper_with_the_realistic_fill_model(tmp_path, monkeypatch, capsys, markets):
    monkeypatch.chdir(tmp_path)
    assert main(["paper", "--fill-model", "realistic", "--bars", "100", "--state", "r.sqlite"]) == 0
    assert "paper: 100 closes," in capsys.readouterr().out
    (market,) = markets
    assert market.fill_model == "realistic" and market.bar == 100
    store = StateStore(tmp_path / "r.sqlite")
    try:
        orders = store.orders()
        assert orders and store.orders(statuses=UNFINISHED) == []
        # a book with a spread: the post-only orders rest and are cancelled, IOCs fill
        post = [o for o in orders if o.phase == "post_only"]
        ioc = [o for o in orders if o.phase == "market"]
        assert post and all(o.status == "canceled" and o.filled == 0 for o in post)
        assert ioc and all(o.status == "closed" and o.filled > 0 for o in ioc)
    finally:
        store.close()
    assert market.open_orders("spot") == [] and market.open_orders("futures") == []


def test_log_json_makes_every_log_line_json(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["--log-json", "paper", "--log-level", "info", "--bars", "300", "--state", "j.sqlite"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) > 3
    records = [json.loads(ln) for ln in lines]  # every line is one JSON object
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    assert any(
        r["logger"] == "adaptive_agent.agent" and "rebalance at" in r["msg"] for r in records
    )
    assert any(r["logger"] == "adaptive_agent.audit" for r in records)  # the midnight's audit


def test_paper_report_equals_the_backtest_of_the_same_bars(tmp_path, monkeypatch, capsys):
    """The end-of-run report is the backtest's, figure for figure: the same decisions, fills,
    fees (maker and taker), funding and curves (issue 9: IOC fills that the backtest's fill
    model makes at the next open were missing from the trade records)."""
    monkeypatch.chdir(tmp_path)
    assert main(["paper", "--bars", "3000", "--state", "p.sqlite", "--out", "paper"]) == 0
    out = capsys.readouterr().out
    assert "NAV start -> end" in out and "reports : paper" in out  # the summary table
    assert main(["backtest", "--end", "2022-08-11T10:00", "--out", "bt", "--quiet"]) == 0
    paper, bt = (_summary_csv(tmp_path / d / "summary.csv") for d in ("paper", "bt"))
    assert paper.keys() == bt.keys()
    for k, v in bt.items():
        if k in ("start", "end"):
            assert paper[k] == v
        elif k == "pnl_unexplained":  # float error of each run's sums
            assert abs(float(paper[k])) < 1e-6 and abs(float(v)) < 1e-6
        else:
            assert float(paper[k]) == pytest.approx(float(v), rel=1e-9, abs=1e-9), k
    assert float(bt["maker_share"]) < 0.9  # taker fills are in both
    rows = [(tmp_path / d / "trades.csv").read_text().splitlines() for d in ("paper", "bt")]
    assert len(rows[0]) == len(rows[1]) > 100
    assert sorted(r.split(",")[8] for r in rows[0]) == sorted(r.split(",")[8] for r in rows[1])


def _summary_csv(path: Path) -> dict[str, str]:
    header, row = path.read_text().splitlines()
    return dict(zip(header.split(","), row.split(","), strict=True))


def test_ctrl_c_stops_paper_with_its_report(tmp_path):
    """SIGINT (Ctrl-C): the close in flight finishes, the summary is printed and the report
    written, exit 0. Sent to the whole process group, as a terminal does: the audit's worker
    process and its forkserver ignore it (no traceback from them, the audits drained)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "adaptive_agent", "paper", "--state", "p.sqlite", "--out", "r"],
        cwd=tmp_path,
        env=env_without_gate(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    db = tmp_path / "p.sqlite"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # a few hundred closes in
        time.sleep(0.5)
        if db.exists() and int(read_meta(db, "last_bar_ms") or 0) > 1_659_400_000_000:
            break
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    m = re.search(r"paper \(stopped\): (\d+) closes", out)
    assert m and 300 < int(m.group(1)) < 306_704, out
    assert "Traceback" not in err and "NAV start -> end" in out
    summary = _summary_csv(tmp_path / "r" / "summary.csv")
    assert int(summary["bars"]) == int(m.group(1))
    assert "daily audit failed" not in err  # the worker finished the audits handed to it


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    """``adaptive-agent ... | head``: the pipe closed before the summary is written gives
    exit 141 (as SIGPIPE would) and no traceback; the report is written all the same."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "adaptive_agent", "backtest", "--out", "r"],
        cwd=tmp_path,
        env=env_without_gate(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before anything was printed
    _, err_bytes = proc.communicate(timeout=120)
    err = err_bytes.decode()
    assert proc.returncode == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err and err == ""
    assert (tmp_path / "r" / "summary.csv").is_file()


@pytest.mark.parametrize(
    ("flag", "bad"),
    [("--bars", "-1"), ("--speed", "0"), ("--speed", "-2"), ("--speed", "nan"), ("--speed", "x")],
)
def test_bad_paper_option_exits_2_naming_it(flag, bad, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["paper", flag, bad, "--state", "p.sqlite"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {flag}: "), captured.err
    assert captured.out == "" and list(tmp_path.iterdir()) == []


def test_paper_window_without_candles_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["paper", "--start", "2030-01-01", "--state", "p.sqlite"]) == 2
    assert "fewer than 2 candles" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# --- live refuses to start without its secrets ------------------------------------------------


def test_live_without_gate_api_key_exits_2_naming_it():
    proc = subprocess.run(
        [sys.executable, "-m", "adaptive_agent", "live", "--state", "unused.sqlite"],
        env=env_without_gate(),
        cwd=ROOT / "tests",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "GATE_API_KEY" in lines[0] and lines[0].startswith("error:")
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (ROOT / "tests" / "unused.sqlite").exists()


def test_live_without_gate_api_secret_names_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GATE_API_KEY", "some-key")
    monkeypatch.delenv("GATE_API_SECRET", raising=False)
    assert main(["live", "--state", "l.sqlite"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "GATE_API_SECRET" in err
    assert "GATE_API_KEY" not in err and "some-key" not in err
    assert not (tmp_path / "l.sqlite").exists()  # refused before touching anything


# --- the kill switch --------------------------------------------------------------------------


def test_safe_mode_command_flips_the_flag_the_agent_reads(tmp_path, capsys):
    db = tmp_path / "live.sqlite"
    assert main(["safe-mode", "status", "--state", str(db)]) == 2  # no agent ever ran here
    assert "no such state database" in capsys.readouterr().err
    StateStore(db).close()  # what the agent's first start creates
    assert main(["safe-mode", "status", "--state", str(db)]) == 0
    assert capsys.readouterr().out.strip() == "safe mode (manual kill switch): off"
    assert main(["safe-mode", "on", "--state", str(db)]) == 0
    assert capsys.readouterr().out.strip() == "safe mode (manual kill switch): on"
    store = StateStore(db)
    try:
        assert store.manual_safe_mode
        assert main(["safe-mode", "status", "--state", str(db)]) == 0
        assert capsys.readouterr().out.strip().endswith(": on")
        # an agent's open store sees the change another process commits
        assert main(["safe-mode", "off", "--state", str(db)]) == 0
        assert not store.manual_safe_mode
        assert [e[2] for e in store.events("manual_safe_mode")] == ["on", "off"]
    finally:
        store.close()


def test_paper_agent_started_with_the_kill_switch_on_raises_no_exposure(
    tmp_path, monkeypatch, capsys, markets
):
    monkeypatch.chdir(tmp_path)
    StateStore(tmp_path / "held.sqlite").close()  # the state of an agent that ran before
    assert main(["safe-mode", "on", "--state", "held.sqlite"]) == 0
    assert main(["paper", "--bars", "300", "--state", "held.sqlite"]) == 0
    assert main(["paper", "--bars", "300", "--state", "free.sqlite"]) == 0  # the control run
    capsys.readouterr()
    held, free = markets
    assert raising(held) == []
    assert held.order_history("spot") == [] and held.order_history("futures") == []
    assert len(raising(free)) > 2  # the same run without the kill switch does trade
    store = StateStore(tmp_path / "held.sqlite")
    try:
        bars = store.bars(0, 2**62)
        assert len(bars) == 300
        assert all(b.safe_mode and "manual kill switch" in b.safe_mode_reasons for b in bars)
        assert store.rebalance_count() == 0 and store.orders() == []
    finally:
        store.close()


def test_kill_switch_set_while_the_agent_runs(tmp_path, spot, capsys):
    """``safe-mode on`` from another connection mid-run holds every later raising order."""
    import asyncio

    from adaptive_agent.config import AppConfig
    from adaptive_agent.runner.paper import make_market, paper_agent, replay
    from adaptive_agent.strategies.baseline_signals import ema_crossover_signals

    cfg, db = AppConfig(), tmp_path / "run.sqlite"
    candles = spot.slice(0, 500)
    market = make_market(cfg, candles, None, "backtest")
    store = StateStore(db, durable=False)
    agent = paper_agent(cfg, market, store, ema_crossover_signals(candles, 3, 12))
    switch_at, seen = 200, {}

    class Operator:
        n = 0

        def on_bar(self, bar):
            self.n += 1
            if self.n == switch_at:
                seen["raising"] = len(raising(market))
                assert main(["safe-mode", "on", "--state", str(db)]) == 0

        def on_rebalance(self, rebalance, trades):
            pass

        def on_alert(self, kind, text, time_ms):
            pass

        def close(self):
            pass

    agent.monitors = [Operator()]
    try:
        asyncio.run(replay(agent, market, candles))
    finally:
        store.close()
    capsys.readouterr()
    before, after = agent.plans[:switch_at], agent.plans[switch_at:]
    assert seen["raising"] > 0 and not any(p.safe_mode for p in before)
    assert after and all(p.safe_mode for p in after)
    assert len(raising(market)) == seen["raising"]  # nothing raising was sent afterwards
    assert any(h.gate == "safe_mode" for p in after for h in p.blocked)


# --- digest and audit of a day the paper run completed ----------------------------------------


def test_digest_and_audit_of_a_completed_day(paper_db, tmp_path, capsys):
    db, _ = paper_db
    out = tmp_path / "digests"
    assert main(["digest", "--date", DAY, "--state", str(db), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"Daily digest {DAY} (UTC)\nROI: ")
    assert f"written: {out / f'digest-{DAY}.md'}" in printed
    data = json.loads((out / f"digest-{DAY}.json").read_text())
    assert data["has_data"] and data["bars"] >= 287 and data["rebalances"] > 0
    assert (out / f"digest-{DAY}.md").read_text().startswith(f"# Daily digest {DAY}")

    cfg = tmp_path / "strict.toml"  # a fees target no day meets: the audit must write
    cfg.write_text("[audit]\ntarget_fees_nav_per_day = 0.0000001\n")
    audit = tmp_path / "audit"
    rc = main(
        ["audit", "--date", DAY, "--state", str(db), "--out", str(audit), "--config", str(cfg)]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert re.search(r"^fees_nav .*<-- deviates$", printed, re.M), printed
    assert (audit / f"proposal-{DAY}.md").is_file() and (audit / "Log.xlsx").is_file()
    assert f"logged to: {audit / 'Log.xlsx'}" in printed


def test_digest_of_a_missing_state_database_exits_2(tmp_path, capsys):
    missing = tmp_path / "nope.sqlite"
    assert main(["digest", "--date", DAY, "--state", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and err.count("\n") == 1
    assert not missing.exists()  # not created by looking
    assert main(["audit", "--date", DAY, "--state", str(missing), "--out", str(tmp_path)]) == 2
    assert str(missing) in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["2022-13-01", "yesterday", "01.08.2022"])
def test_bad_date_exits_2(paper_db, capsys, bad):
    db, _ = paper_db
    for cmd in ("digest", "audit"):
        assert main([cmd, "--date", bad, "--state", str(db)]) == 2
        err = capsys.readouterr().err
        assert "--date" in err and bad in err


# --- health -----------------------------------------------------------------------------------


def test_health_after_a_paper_run(paper_db, tmp_path, capsys):
    db, _ = paper_db
    assert main(["health", "--state", str(db), "--max-age", "1e10"]) == 0
    assert capsys.readouterr().out.startswith("healthy: last processed bar 2022-08-02 01:00")
    assert main(["health", "--state", str(db), "--max-age", "1"]) == 1
    assert capsys.readouterr().out.startswith("unhealthy: last processed bar")
    assert main(["health", "--state", str(tmp_path / "missing.sqlite"), "--max-age", "1e10"]) == 1
    assert "does not exist" in capsys.readouterr().out


# --- gate-sim in a subprocess -----------------------------------------------------------------


def test_gate_sim_starts_prints_its_url_and_stops_on_sigterm():
    env = dict(env_without_gate(), GATE_API_KEY="cli-key", GATE_API_SECRET="cli-secret-value")
    proc = subprocess.Popen(
        [sys.executable, "-m", "adaptive_agent", "gate-sim", "--port", "0"],
        env=env,
        cwd=ROOT / "tests",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "no URL line within 30 s"
        line = proc.stdout.readline().strip()
        m = re.match(r"gate-sim listening on (http://127\.0\.0\.1:(\d+)) ", line)
        assert m, line
        assert int(m.group(2)) > 0
        with urllib.request.urlopen(f"{m.group(1)}/sim/state", timeout=5) as r:
            assert json.load(r)["bar"] == 0
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "cli-secret-value" not in line + out + err


def test_the_digest_attributes_each_paper_day_to_the_cent(tmp_path, monkeypatch, capsys):
    """Issue 10, item 5: the daily digest's PnL attribution (the run's rule, for the day)."""
    monkeypatch.chdir(tmp_path)
    assert main(["paper", "--bars", "600", "--state", "p.sqlite", "--out", "r"]) == 0
    days = sorted((tmp_path / "r" / "daily").glob("digest-*.json"))
    assert [p.name for p in days] == ["digest-2022-08-01.json", "digest-2022-08-02.json"]
    for p in days:
        d = json.loads(p.read_text())
        a = d["attribution"]
        assert a is not None, p.name
        assert a["pnl_total"] == pytest.approx(d["nav_end"] - d["nav_start"], abs=1e-6)
        assert abs(a["pnl_unexplained"]) < 0.01, (p.name, a)
        assert a["pnl_fees"] < 0 and a["pnl_funding"] != 0  # fills and funding that day
    md = (tmp_path / "r" / "daily" / "digest-2022-08-02.md").read_text()
    assert "PnL " in md and "price+basis spot" in md and "unexplained" in md
