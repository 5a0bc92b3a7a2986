"""InfluxSink against a real influxd: exact round trip, bad values, rejected points, the spool."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest

from adaptive_agent.monitoring.influx import InfluxSink, iter_spooled_lines
from adaptive_agent.records import TradeRecord
from tests.support.influxd_fixture import (
    BAR_MS,
    T0_MS,
    InfluxdServer,
    influxd,
    make_bar,
    make_rebalance,
)

__all__ = ["influxd"]

FAST = {"flush_interval_s": 0.02, "retry_initial_s": 0.02, "retry_max_s": 0.1, "timeout_s": 5.0}


def _sink(influxd: InfluxdServer, db: str, spool: Path, **kw: object) -> InfluxSink:
    return InfluxSink(influxd.url, db, spool_dir=spool, **{**FAST, **kw})  # type: ignore[arg-type]


def _trade(rid: str) -> TradeRecord:
    return TradeRecord(
        time_ms=T0_MS,
        rebalance_id=rid,
        client_id="c1",
        leg="spot",
        order_type="limit",
        side="buy",
        size_btc=0.01,
        price=36_001.0,
        ref_price=36_000.0,
        fee_usdt=0.36,
        liquidity="maker",
    )


def _expected_bar_fields(i: int) -> dict[str, object]:
    b = make_bar(i)
    out: dict[str, object] = {
        "nav": b.nav,
        "price_ref": b.price_ref,
        "basis": b.basis,
        "w_spot": b.w_spot,
        "w_long": b.w_long,
        "w_short": b.w_short,
        "delta_usdt": b.delta_usdt,
        "delta_frac": b.delta_frac,
        "margin_frac": b.margin_frac,
        "safe_mode": int(b.safe_mode),
        "signal": b.signal,
        "funding_rate": b.funding_rate,
        "sharpe_30d": b.sharpe_30d,
        "safe_mode_reasons": ",".join(b.safe_mode_reasons) or None,
    }
    return out


def test_points_come_back_exactly(influxd: InfluxdServer, tmp_path: Path) -> None:
    db = "roundtrip"
    bars = [40, 41, 1, 0, 2, 96]  # safe mode on/off, unknown sharpe/funding, out of order
    sink = _sink(influxd, db, tmp_path / "spool", tags={"agent": "paper"})
    try:
        for i in bars:
            sink.on_bar(make_bar(i))
        sink.on_rebalance(make_rebalance(3), [_trade("rb-000003"), _trade("rb-000003")])
        sink.on_rebalance(make_rebalance(5), [])  # unknown latencies
        sink.on_alert("safe_mode", "entered: stale_ws", T0_MS + 40 * BAR_MS)
        sink.on_alert("margin", 'used margin 71% > 70%, "quoted", a\\b\nsecond line', T0_MS)
        sink.on_alert("margin", "another margin alert in the same ms", T0_MS)
        assert sink.flush(10.0)
        stats = sink.stats()
    finally:
        sink.close()

    assert {"name": db} in influxd.query("SHOW DATABASES")  # created on first contact
    assert stats.points_written == len(bars) + 2 + 3
    assert (stats.points_spooled, stats.points_rejected, stats.dropped) == (0, 0, 0)

    rows = influxd.query("SELECT * FROM bar", db)
    assert [r["time"] for r in rows] == sorted(T0_MS + i * BAR_MS for i in bars)
    for row in rows:
        i = (row["time"] - T0_MS) // BAR_MS
        assert row["agent"] == "paper"
        got = {k: v for k, v in row.items() if k not in ("time", "agent")}
        assert got == _expected_bar_fields(i), i
        assert all(
            type(v) is not str or k in {"signal", "safe_mode_reasons"} for k, v in got.items()
        )

    keys = {r["fieldKey"]: r["fieldType"] for r in influxd.query("SHOW FIELD KEYS FROM bar", db)}
    assert keys["nav"] == "float" and keys["safe_mode"] == "integer" and keys["signal"] == "string"
    assert influxd.query("SHOW TAG KEYS FROM bar", db) == [{"tagKey": "agent"}]
    assert {r["tagKey"] for r in influxd.query("SHOW TAG KEYS FROM rebalance", db)} == {"agent"}

    rb = influxd.query("SELECT * FROM rebalance", db)
    assert [r["time"] for r in rb] == [T0_MS + 3 * BAR_MS, T0_MS + 5 * BAR_MS]
    r3 = make_rebalance(3)
    assert rb[0] == {
        "time": r3.time_ms,
        "agent": "paper",
        "rebalance_id": "rb-000003",
        "orders": 3,
        "blocked": 1,
        "skipped": 1,
        "trades": 2,
        "fees_usdt": r3.fees_usdt,
        "slippage_usdt": r3.slippage_usdt,
        "cost_usdt": r3.fees_usdt + r3.slippage_usdt,
        "notional_usdt": r3.notional_usdt,
        "signal_to_first_ack_ms": r3.signal_to_first_ack_ms,
        "complete_ms": r3.complete_ms,
    }
    assert rb[1]["signal_to_first_ack_ms"] is None and rb[1]["complete_ms"] is None
    assert rb[1]["trades"] == 0

    alerts = influxd.query("SELECT * FROM alert", db)
    assert [(a["time"], a["kind"], a["text"]) for a in alerts] == [
        # the library escapes a newline in a string field as the two characters backslash-n
        (T0_MS, "margin", 'used margin 71% > 70%, "quoted", a\\b\\nsecond line'),
        (T0_MS + 1, "margin", "another margin alert in the same ms"),  # kept apart by 1 ms
        (T0_MS + 40 * BAR_MS, "safe_mode", "entered: stale_ws"),
    ]


def test_resending_the_same_record_overwrites_it(influxd: InfluxdServer, tmp_path: Path) -> None:
    db = "idempotent"
    sink = _sink(influxd, db, tmp_path / "spool")
    try:
        for _ in range(3):
            sink.on_bar(make_bar(7))
            sink.on_rebalance(make_rebalance(7), [])
            sink.on_alert("funding", "funding 6 bps > 5 bps", T0_MS)
            assert sink.flush(10.0)
        sink.on_bar(make_bar(7, nav=123.5))  # a corrected bar replaces the old one
        assert sink.flush(10.0)
    finally:
        sink.close()
    assert influxd.query("SELECT nav FROM bar", db) == [{"time": T0_MS + 7 * BAR_MS, "nav": 123.5}]
    assert len(influxd.query("SELECT * FROM rebalance", db)) == 1
    assert len(influxd.query("SELECT * FROM alert", db)) == 1


def test_measurement_prefix(influxd: InfluxdServer, tmp_path: Path) -> None:
    db = "prefixed"
    sink = _sink(influxd, db, tmp_path / "spool", measurement_prefix="aa_")
    try:
        sink.on_bar(make_bar(0))
        sink.on_rebalance(make_rebalance(0), [])
        sink.on_alert("circuit_breaker", "tripped", T0_MS)
        assert sink.flush(10.0)
    finally:
        sink.close()
    names = {r["name"] for r in influxd.query("SHOW MEASUREMENTS", db)}
    assert names == {"aa_bar", "aa_rebalance", "aa_alert"}


def test_non_finite_values_do_not_poison_the_queue(influxd: InfluxdServer, tmp_path: Path) -> None:
    db = "nonfinite"
    sink = _sink(influxd, db, tmp_path / "spool", batch_size=4)
    try:
        sink.on_bar(make_bar(0))
        sink.on_bar(make_bar(1, nav=math.nan, basis=math.inf, sharpe_30d=-math.inf))
        sink.on_bar(make_bar(2))
        sink.on_rebalance(make_rebalance(2, fees_usdt=math.nan, complete_ms=math.inf), [])
        sink.on_alert("margin", "after the NaN", T0_MS + 3 * BAR_MS)
        sink.on_bar(make_bar(3))
        assert sink.flush(10.0)
        stats = sink.stats()
    finally:
        sink.close()
    assert stats.invalid_values == 6  # 3 bar fields, fees, cost (fees + slippage), complete_ms
    assert stats.points_rejected == 0
    navs = influxd.query("SELECT nav, basis, sharpe_30d, w_spot FROM bar", db)
    assert [r["time"] for r in navs] == [T0_MS + i * BAR_MS for i in range(4)]
    bad = navs[1]
    assert bad["nav"] is None and bad["basis"] is None and bad["sharpe_30d"] is None
    assert bad["w_spot"] == make_bar(1).w_spot  # the finite fields of that bar are kept
    rb = influxd.query("SELECT * FROM rebalance", db)[0]
    # no rebalance ever had these fields in this database: the columns do not even exist
    assert "fees_usdt" not in rb and "complete_ms" not in rb
    assert "cost_usdt" not in rb  # NaN + slippage is NaN: left out as well
    assert rb["notional_usdt"] == make_rebalance(2).notional_usdt
    assert len(influxd.query("SELECT * FROM alert", db)) == 1


def test_garbage_records_never_raise_and_are_skipped(
    influxd: InfluxdServer, tmp_path: Path
) -> None:
    db = "garbage"
    sink = _sink(influxd, db, tmp_path / "spool")
    try:
        sink.on_bar(None)  # type: ignore[arg-type]
        sink.on_bar(make_bar(0, nav="not a number"))
        sink.on_bar(make_bar(0, time_ms=1.5))
        sink.on_rebalance(object(), None)  # type: ignore[arg-type]
        sink.on_alert(None, None, "later")  # type: ignore[arg-type]
        sink.on_bar(make_bar(1))
        assert sink.flush(10.0)
        stats = sink.stats()
    finally:
        sink.close()
    assert stats.invalid_values == 5
    assert [r["time"] for r in influxd.query("SELECT nav FROM bar", db)] == [T0_MS + BAR_MS]


def test_points_influxdb_rejects_are_moved_aside(influxd: InfluxdServer, tmp_path: Path) -> None:
    db = "rejects"
    influxd.raw_query(f'CREATE DATABASE "{db}"', method="POST")
    # "orders" already exists as a string in this shard: the sink's integer is a type conflict,
    # which InfluxDB answers with HTTP 400 (partial write)
    influxd.write_lines(db, f'rebalance orders="n/a" {T0_MS - 1}\n')
    spool = tmp_path / "spool"
    sink = _sink(influxd, db, spool, batch_size=64)
    try:
        for i in range(40):
            sink.on_bar(make_bar(i))
            if i % 10 == 5:
                sink.on_rebalance(make_rebalance(i), [])
        assert sink.flush(10.0)
        for i in range(40, 50):  # the queue keeps moving afterwards
            sink.on_bar(make_bar(i))
        assert sink.flush(10.0)
        stats = sink.stats()
    finally:
        sink.close()
    assert stats.points_rejected == 4
    assert stats.points_written == 50
    assert stats.spool_pending == 0
    bars = influxd.query("SELECT nav FROM bar", db)
    assert [r["time"] for r in bars] == [T0_MS + i * BAR_MS for i in range(50)]
    assert len(influxd.query("SELECT * FROM rebalance", db)) == 1  # only the planted point
    rejected = list((spool / "rejected").glob("rejected-*.lp"))
    assert len(rejected) == 1
    text = rejected[0].read_text()
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert len(lines) == 4 and all(ln.startswith("rebalance ") for ln in lines)
    assert "field type conflict" in text
    assert not list(spool.glob("seg-*.lp"))


def test_spool_left_by_a_crash_is_sent_first(influxd: InfluxdServer, tmp_path: Path) -> None:
    """A segment whose last line was cut short by a crash: the complete lines are sent."""
    db = "crashed"
    spool = tmp_path / "spool"
    spool.mkdir()
    older = [f"bar nav={i}.5 {T0_MS + i * BAR_MS}" for i in range(3)]
    (spool / "seg-000000000007.lp").write_text("\n".join(older) + "\nbar nav=99.5 17000")
    sink = _sink(influxd, db, spool)
    try:
        assert sink.stats().points_written == 0
        sink.on_bar(make_bar(3))
        assert sink.flush(10.0)
        stats = sink.stats()
    finally:
        sink.close()
    assert stats.points_written == 4
    rows = influxd.query("SELECT nav FROM bar", db)
    assert [(r["time"], r["nav"]) for r in rows] == [
        (T0_MS, 0.5),
        (T0_MS + BAR_MS, 1.5),
        (T0_MS + 2 * BAR_MS, 2.5),
        (T0_MS + 3 * BAR_MS, make_bar(3).nav),
    ]
    assert list(iter_spooled_lines(spool)) == []
    assert not list(spool.glob("seg-*.lp"))


def test_credentials_never_logged(
    influxd: InfluxdServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "hunter2-influx-secret"
    url = influxd.url.replace("http://", f"http://agent:{secret}@")
    sink = InfluxSink(url, "creds", spool_dir=tmp_path / "spool", **FAST)  # type: ignore[arg-type]
    try:
        sink.on_bar(make_bar(0))
        assert sink.flush(10.0)  # auth is off on the test server: credentials are ignored
        assert secret not in repr(sink)
    finally:
        sink.close()
    # and against a server that is down (error messages go to the log)
    from tests.support.influxd_fixture import free_port

    dead = InfluxSink(
        f"http://agent:{secret}@127.0.0.1:{free_port()}",
        "creds",
        password=secret,
        spool_dir=tmp_path / "spool2",
        **FAST,  # type: ignore[arg-type]
    )
    try:
        dead.on_bar(make_bar(0))
        assert not dead.flush(2.0, retry=False)
    finally:
        dead.close(0.5)
    assert "unreachable" in caplog.text
    assert secret not in caplog.text
    assert len(list(iter_spooled_lines(tmp_path / "spool2"))) == 1


def test_constructor_rejects_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        InfluxSink("influxdb:8086", "db", spool_dir=tmp_path)
    with pytest.raises(ValueError):
        InfluxSink("http://127.0.0.1:8086", "db", spool_dir=tmp_path, batch_size=0)


def test_awkward_strings_are_stored(influxd: InfluxdServer, tmp_path: Path) -> None:
    db = "strings"
    texts = [
        "",
        "plain",
        'quotes " and \\" inside',
        "trailing backslash \\",
        "carriage\rreturn",
        "tab\tand unicode: Δ → ✓ 日本",
        "x" * 20_000,
        "comma, space = equals",
    ]
    kinds = {
        "kind with space": "kind_with_space",
        "k,=": "k",
        "back\\": "back",  # a tag value ending in a backslash would be refused by InfluxDB
        "uni Δ": "uni",
        "  ": "unknown",
        "safe_mode": "safe_mode",
    }
    spool = tmp_path / "spool"
    sink = _sink(influxd, db, spool, batch_size=7)
    n = 0
    try:
        for i, text in enumerate(texts):
            for j, kind in enumerate(kinds):
                sink.on_alert(kind, text, T0_MS + (i * len(kinds) + j) * 1000)
                n += 1
        sink.on_bar(make_bar(0))
        assert sink.flush(10.0)
        stats = sink.stats()
    finally:
        sink.close()
    stored = influxd.query("SELECT * FROM alert", db)
    assert stats.points_rejected == 0 and stats.invalid_values == 0
    assert stats.points_written == n + 1 == len(stored) + 1
    assert len(influxd.query("SELECT nav FROM bar", db)) == 1
    by_time = {r["time"]: (r["kind"], r["text"]) for r in stored}
    for i, text in enumerate(texts):
        for j, (kind, tag) in enumerate(kinds.items()):
            assert by_time[T0_MS + (i * len(kinds) + j) * 1000] == (tag, text), (kind, text)
    assert not (spool / "rejected").exists()


def test_built_from_the_monitoring_config(influxd: InfluxdServer, tmp_path: Path) -> None:
    from adaptive_agent.config import MonitoringConfig
    from adaptive_agent.monitoring.influx import influx_sink_from_config

    cfg = MonitoringConfig(
        influx_url=influxd.url, influx_db="fromconfig", influx_user="agent", influx_password="pw"
    )
    sink = influx_sink_from_config(cfg, tmp_path / "spool", **FAST)
    try:
        sink.on_bar(make_bar(0))
        assert sink.flush(10.0)
        assert sink._delivery._password == "pw" and sink._delivery._username == "agent"
    finally:
        sink.close()
    assert len(influxd.query("SELECT nav FROM bar", "fromconfig")) == 1
