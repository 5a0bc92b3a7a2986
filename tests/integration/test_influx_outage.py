"""InfluxDB goes away and comes back: every point arrives exactly once, in order.

The server of this module is stopped and restarted by the tests; each test leaves it running.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adaptive_agent.monitoring.influx import InfluxSink, iter_spooled_lines
from adaptive_agent.monitoring.influx_delivery import InfluxDelivery
from tests.support.influxd_fixture import (
    BAR_MS,
    T0_MS,
    InfluxdServer,
    influxd,
    make_bar,
    make_rebalance,
)

__all__ = ["influxd"]

FAST = {"flush_interval_s": 0.01, "retry_initial_s": 0.02, "retry_max_s": 0.1, "timeout_s": 2.0}

Key = tuple[str, int]  # (measurement, time in ms): the identity of a point in these tests


class RecordingDelivery(InfluxDelivery):
    """Records, in order, every line InfluxDB acknowledged (re-sends included)."""

    def __init__(self, *args: Any, after_ack: Callable[[int], None] | None, **kwargs: Any) -> None:
        self.acked: list[str] = []
        self.acks = 0
        self._after_ack = after_ack
        super().__init__(*args, **kwargs)

    def _post(self, lines: list[str]):  # type: ignore[no-untyped-def]
        outcome, reason = super()._post(lines)
        if outcome == "ok":
            self.acked.extend(lines)
            self.acks += 1
            if self._after_ack is not None:
                self._after_ack(self.acks)  # runs on the writer thread, between two requests
        return outcome, reason


class RecordingSink(InfluxSink):
    """The real sink over a ``RecordingDelivery``."""

    def __init__(
        self, *args: object, after_ack: Callable[[int], None] | None = None, **kwargs: object
    ) -> None:
        self._after_ack = after_ack
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def _make_delivery(self, url: str, database: str, **kwargs: Any) -> InfluxDelivery:
        self.recorder = RecordingDelivery(url, database, after_ack=self._after_ack, **kwargs)
        return self.recorder

    @property
    def acked(self) -> list[str]:
        return self.recorder.acked

    @property
    def acks(self) -> int:
        return self.recorder.acks


def _key(line: str) -> Key:
    measurement = line.split(",", 1)[0].split(" ", 1)[0]
    return measurement, int(line.rsplit(" ", 1)[1])


def _first_occurrences(keys: list[Key]) -> list[Key]:
    seen: set[Key] = set()
    out = []
    for k in keys:
        if k not in seen:
            seen.add(k)
            out.append(k)
    return out


def _wait(cond: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


@pytest.fixture
def server(influxd: InfluxdServer) -> Iterator[InfluxdServer]:
    try:
        yield influxd
    finally:
        influxd.start()  # a failed outage test must not leave the next one without a server


def _emit(sink: InfluxSink, i: int, expected: list[Key]) -> None:
    sink.on_bar(make_bar(i))
    expected.append(("bar", T0_MS + i * BAR_MS))
    if i % 10 == 7:
        sink.on_rebalance(make_rebalance(i), [])
        expected.append(("rebalance", T0_MS + i * BAR_MS))
    if i % 25 == 3:
        sink.on_alert("funding", f"funding alert {i}", T0_MS + i * BAR_MS + 1)
        expected.append(("alert", T0_MS + i * BAR_MS + 1))


def _stored(server: InfluxdServer, db: str) -> list[Key]:
    keys: list[Key] = []
    for measurement, field in (("bar", "nav"), ("rebalance", "fees_usdt"), ("alert", "text")):
        rows = server.query(f'SELECT "{field}" FROM "{measurement}"', db)
        keys += [(measurement, r["time"]) for r in rows]
    return keys


def test_outage_every_point_once_and_in_order(server: InfluxdServer, tmp_path: Path) -> None:
    db = "outage"
    spool = tmp_path / "spool"
    expected: list[Key] = []

    def stop_after_fourth_batch(acks: int) -> None:
        if acks == 4:
            server.stop()  # mid-stream: the writer still holds most of the first 300 bars

    sink = RecordingSink(
        server.url, db, spool_dir=spool, batch_size=25, after_ack=stop_after_fourth_batch, **FAST
    )
    try:
        for i in range(300):
            _emit(sink, i, expected)
        _wait(lambda: sink.stats().write_failures > 0)
        assert sink.acks == 4 and 0 < sink.stats().points_written <= 4 * 25
        for i in range(300, 600):
            _emit(sink, i, expected)
        _wait(lambda: sink.stats().points_spooled > 0 and sink.stats().write_failures > 0)
        assert not sink.flush(5.0, retry=False)  # down: everything queued goes to the spool
        down = sink.stats()
        assert down.queued == 0 and down.spool_pending > 0 and not down.connected
        assert len(list(iter_spooled_lines(spool))) == down.spool_pending
        server.start()
        for i in range(600, 900):
            _emit(sink, i, expected)
        assert sink.flush(10.0)
        stats = sink.stats()
    finally:
        sink.close()

    # in the database: each point exactly once, nothing missing, nothing extra
    stored = _stored(server, db)
    assert len(stored) == len(set(stored)) == len(expected)
    assert sorted(stored) == sorted(expected)
    counts = {m: sum(1 for k in expected if k[0] == m) for m in ("bar", "rebalance", "alert")}
    assert counts == {"bar": 900, "rebalance": 90, "alert": 36}
    for m, n in counts.items():
        assert server.query(f'SELECT count(*) FROM "{m}"', db)[0]["count_" + _field(m)] == n
    navs = server.query("SELECT nav FROM bar", db)
    assert [r["nav"] for r in navs] == [make_bar(i).nav for i in range(900)]

    # on the wire: acknowledged in exactly the order recorded (a re-sent batch may repeat)
    acked = [_key(line) for line in sink.acked]
    assert _first_occurrences(acked) == expected
    assert stats.points_spooled >= down.spool_pending > 0
    assert stats.spool_pending == 0 and stats.points_rejected == 0 and stats.dropped == 0
    assert not list(spool.glob("seg-*.lp"))


def _field(measurement: str) -> str:
    return {"bar": "nav", "rebalance": "fees_usdt", "alert": "text"}[measurement]


def test_spool_survives_a_sink_restart(server: InfluxdServer, tmp_path: Path) -> None:
    db = "restart"
    spool = tmp_path / "spool"
    expected: list[Key] = []
    server.stop()
    first = RecordingSink(server.url, db, spool_dir=spool, batch_size=40, **FAST)
    try:
        for i in range(200):
            _emit(first, i, expected)
    finally:
        first.close(1.0)  # InfluxDB is down: close gives up and leaves everything spooled
    s1 = first.stats()
    assert s1.points_written == 0 and s1.points_spooled == len(expected) == s1.spool_pending
    assert [_key(line) for line in iter_spooled_lines(spool)] == expected

    server.start()
    second = RecordingSink(server.url, db, spool_dir=spool, batch_size=40, **FAST)
    try:
        for i in range(200, 260):
            _emit(second, i, expected)
        assert second.flush(10.0)
        s2 = second.stats()
    finally:
        second.close()
    stored = _stored(server, db)
    assert len(stored) == len(set(stored)) == len(expected)
    assert sorted(stored) == sorted(expected)
    assert _first_occurrences([_key(line) for line in second.acked]) == expected  # old ones first
    assert s2.spool_pending == 0 and not list(spool.glob("seg-*.lp"))
    assert {"name": db} in server.query("SHOW DATABASES")
