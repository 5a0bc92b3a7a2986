"""Acceptance: a paper run writes its series to a real InfluxDB that goes away for a while.

The paper agent (``paper_agent`` + ``replay``, the live ``Agent`` over the in-process
simulator) replays a little over two days of the bundled bars, across two UTC midnights, with
the daily digest and audit wired in as in ``run_paper``. Its monitors are the real
``InfluxSink`` and a hook that stops ``influxd`` after some bars and starts it again later.
Afterwards every point is in InfluxDB exactly once, trading made the same decisions as a run
without InfluxDB, and every query of the Grafana dashboard returns rows on that data.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from adaptive_agent.config import AppConfig, AuditConfig, ReportsConfig
from adaptive_agent.monitoring.influx import InfluxSink
from adaptive_agent.runner.paper import (
    PaperOptions,
    load_paper_inputs,
    make_market,
    paper_agent,
    replay,
)
from adaptive_agent.runner.services import daily_tasks
from adaptive_agent.state.store import StateStore
from tests.support.influxd_fixture import InfluxdServer, influxd
from tests.support.market_data import ROOT

__all__ = ["influxd"]

DASHBOARD = ROOT / "deploy/grafana/dashboards/adaptive_agent.json"
DB = "adaptive_agent"
BARS = 600  # 2022-08-01 00:05 .. 2022-08-03 02:00 UTC: two midnights, three UTC days
STOP_AT, RESTART_AT = 150, 300  # bars (on_bar calls) at which influxd is stopped / started
FAST = {"flush_interval_s": 0.01, "retry_initial_s": 0.02, "retry_max_s": 0.1, "timeout_s": 2.0}


def config(tmp: Path) -> AppConfig:
    # A fees target nobody meets: the daily audit flags the day and raises an "audit" alert,
    # so the alert series gets points from the real daily tasks.
    return AppConfig(
        reports=ReportsConfig(daily_dir=str(tmp / "daily"), audit_dir=str(tmp / "audit")),
        audit=AuditConfig(target_fees_nav_per_day=1e-7),
    )


class Recorder:
    """Everything the agent handed its monitors, in order."""

    def __init__(self) -> None:
        self.bars: list[Any] = []
        self.rebalances: list[Any] = []
        self.alerts: list[tuple[str, str, int]] = []

    def on_bar(self, bar) -> None:
        self.bars.append(bar)

    def on_rebalance(self, rebalance, trades) -> None:
        self.rebalances.append(rebalance)

    def on_alert(self, kind: str, text: str, time_ms: int) -> None:
        self.alerts.append((kind, text, time_ms))

    def close(self) -> None:
        pass


class TimedSink(InfluxSink):
    """The real sink; each Monitor call the trading loop makes is timed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.call_s: list[float] = []
        super().__init__(*args, **kwargs)

    def _timed(self, fn, *args: Any) -> None:
        t0 = time.perf_counter()
        fn(*args)
        self.call_s.append(time.perf_counter() - t0)

    def on_bar(self, bar) -> None:
        self._timed(super().on_bar, bar)

    def on_rebalance(self, rebalance, trades) -> None:
        self._timed(super().on_rebalance, rebalance, trades)

    def on_alert(self, kind: str, text: str, time_ms: int) -> None:
        self._timed(super().on_alert, kind, text, time_ms)


class Outage:
    """Stops influxd at the ``stop_at``-th bar and starts it again at the ``restart_at``-th."""

    def __init__(self, server: InfluxdServer, sink: InfluxSink, stop_at: int, restart_at: int):
        self.server, self.sink = server, sink
        self.stop_at, self.restart_at = stop_at, restart_at
        self.n = 0
        self.failures_seen = 0

    def on_bar(self, bar) -> None:
        self.n += 1
        if self.n == self.stop_at:
            self.server.stop()
        elif self.n == self.restart_at:
            # the sink must have met the dead server (it spools then); give it the time it needs
            deadline = time.monotonic() + 10.0
            while self.sink.stats().write_failures == 0 and time.monotonic() < deadline:
                time.sleep(0.005)
            self.failures_seen = self.sink.stats().write_failures
            self.server.start()

    def on_rebalance(self, rebalance, trades) -> None:
        pass

    def on_alert(self, kind: str, text: str, time_ms: int) -> None:
        pass

    def close(self) -> None:
        pass


def plan_key(plan) -> tuple:
    return (
        plan.time_ms,
        plan.triggered,
        plan.safe_mode,
        plan.target_lots,
        tuple((o.leg, o.order_type, o.lots) for o in plan.orders),
        tuple((h.order.leg, h.order.order_type, h.order.lots, h.gate) for h in plan.blocked),
        plan.nav,
    )


def paper_run(cfg: AppConfig, state: Path, monitors: list[Any]):
    candles, signals, funding = load_paper_inputs(cfg, PaperOptions(bars=BARS))
    market = make_market(cfg, candles, funding, "backtest")
    store = StateStore(state, durable=False)
    agent = paper_agent(cfg, market, store, signals)
    agent.monitors = monitors
    agent.on_new_day = daily = daily_tasks(cfg, agent, [])

    async def run() -> None:
        try:
            await replay(agent, market, candles)
        finally:
            await daily.drain()  # the audits run off the trading path

    try:
        asyncio.run(run())
    finally:
        store.close()
    return agent


def stored(server: InfluxdServer, measurement: str, field: str) -> list[dict[str, Any]]:
    return server.query(f'SELECT "{field}" FROM "{measurement}"', DB)


@pytest.fixture(scope="module")
def outage_run(influxd: InfluxdServer, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("paper_influx")
    cfg = config(tmp)
    rec = Recorder()
    sink = TimedSink(influxd.url, DB, spool_dir=tmp / "spool", batch_size=50, **FAST)
    hook = Outage(influxd, sink, STOP_AT, RESTART_AT)
    try:
        agent = paper_run(cfg, tmp / "with_influx.sqlite", [sink, rec, hook])
        assert sink.flush(20.0), sink.stats()
        stats = sink.stats()
    finally:
        sink.close()
        influxd.start()  # whatever happened, the server is left running
    baseline = paper_run(config(tmp / "baseline"), tmp / "without_influx.sqlite", [])
    return {
        "agent": agent,
        "baseline": baseline,
        "rec": rec,
        "sink": sink,
        "stats": stats,
        "hook": hook,
        "tmp": tmp,
    }


def test_the_run_spans_midnights_and_the_outage_really_happened(outage_run) -> None:
    agent, rec, hook, stats = (outage_run[k] for k in ("agent", "rec", "hook", "stats"))
    assert len(agent.plans) == len(rec.bars) == BARS
    days = {(p.time_ms - 1) // 86_400_000 for p in agent.plans}
    assert len(days) == 3
    assert hook.n == BARS and hook.failures_seen > 0
    assert stats.write_failures > 0 and stats.points_spooled > 0  # the spool was used
    assert stats.spool_pending == 0 and stats.queued == 0
    assert stats.dropped == stats.spool_dropped == stats.points_rejected == 0
    assert stats.invalid_values == 0
    assert len(rec.rebalances) > 10
    assert [k for k, _, _ in rec.alerts] == ["audit", "audit"]  # one per completed day
    assert not list((outage_run["tmp"] / "spool").glob("seg-*.lp"))


def test_every_point_arrives_exactly_once(outage_run, influxd: InfluxdServer) -> None:
    rec = outage_run["rec"]
    bars = stored(influxd, "bar", "nav")
    assert len(bars) == BARS
    assert [r["time"] for r in bars] == [b.time_ms for b in rec.bars]  # unique, complete, ordered
    assert [r["nav"] for r in bars] == [b.nav for b in rec.bars]
    assert influxd.query('SELECT count("nav") FROM "bar"', DB)[0]["count"] == BARS

    rebalances = stored(influxd, "rebalance", "rebalance_id")
    assert [(r["time"], r["rebalance_id"]) for r in rebalances] == [
        (r.time_ms, r.rebalance_id) for r in rec.rebalances
    ]
    fees = stored(influxd, "rebalance", "fees_usdt")
    assert [r["fees_usdt"] for r in fees] == [r.fees_usdt for r in rec.rebalances]

    alerts = influxd.query('SELECT "text", "kind" FROM "alert"', DB)
    assert [(r["kind"], r["text"]) for r in alerts] == [(k, text) for k, text, _ in rec.alerts]
    # alerts of one kind raised in the same millisecond (two audits handed back at one close)
    # are moved apart by a millisecond each, so that neither overwrites the other
    assert len({r["time"] for r in alerts}) == len(alerts)
    assert all(
        0 <= r["time"] - t < len(alerts) for r, (_, _, t) in zip(alerts, rec.alerts, strict=True)
    )
    # and the state store (digest, audit) holds the same bars as the dashboard's database
    store = StateStore(outage_run["tmp"] / "with_influx.sqlite")
    try:
        kept = store.bars(0, 2**62)
    finally:
        store.close()
    assert [(b.time_ms, b.nav) for b in kept] == [(r["time"], r["nav"]) for r in bars]


def test_trading_never_waited_on_influxdb(outage_run) -> None:
    agent, baseline, sink = outage_run["agent"], outage_run["baseline"], outage_run["sink"]
    assert [plan_key(p) for p in agent.plans] == [plan_key(p) for p in baseline.plans]
    assert sum(len(p.orders) for p in agent.plans) > 10
    # every call the trading loop made into the sink returned at once, also during the outage
    assert len(sink.call_s) == BARS + len(outage_run["rec"].rebalances) + 2
    # (a deque append; a call that waited for a request would take a connect attempt or the
    # sink's 2 s timeout; the bound leaves room for a garbage-collection pause on a busy CI)
    assert max(sink.call_s) < 0.25, sorted(sink.call_s)[-5:]
    assert sorted(sink.call_s)[len(sink.call_s) // 2] < 0.001


def test_bars_carry_the_funding_rate(outage_run, influxd: InfluxdServer) -> None:
    rec = outage_run["rec"]
    assert all(b.funding_rate is not None for b in rec.bars)
    rows = stored(influxd, "bar", "funding_rate")
    assert len(rows) == BARS and len({r["funding_rate"] for r in rows}) > 1


def _queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    found = []
    for panel in dashboard["panels"]:
        for p in [panel, *panel.get("panels", [])]:
            for target in p.get("targets", []):
                found.append((p["title"], target["query"]))
    for ann in dashboard["annotations"]["list"]:
        if "query" in ann:
            found.append((f"annotation {ann['name']}", ann["query"]))
    return found


def test_every_dashboard_query_returns_rows_on_the_paper_run(
    outage_run, influxd: InfluxdServer
) -> None:
    rec = outage_run["rec"]
    start, end = rec.bars[0].time_ms - 3_600_000, rec.bars[-1].time_ms + 3_600_000
    time_filter = f"time >= {start}ms and time <= {end}ms"
    queries = _queries()
    assert len(queries) >= 18
    for title, q in queries:
        sql = q.replace("$timeFilter", time_filter).replace("$__interval", "10m")
        assert "$" not in sql, title
        rows = influxd.query(sql, DB)
        assert rows, f"{title}: no rows from {sql}"
        values = [v for r in rows for k, v in r.items() if k != "time"]
        assert any(v is not None for v in values), f"{title}: only nulls"
        if re.search(r"GROUP BY time\(", q):
            assert len(rows) <= (end - start) // 600_000 + 1, title
